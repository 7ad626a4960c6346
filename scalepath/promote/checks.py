"""Checking answers in bounded time: a suite's regular expressions and JSON Schemas run in a
worker process that is killed when one check takes longer than its deadline.

A pattern such as ``(a|aa)+$`` or a schema of nested ``anyOf`` takes exponential time on some
answers, and Python cannot interrupt ``re`` or ``jsonschema`` from outside; a process can be
killed. ``contains`` and ``equals`` take linear time and run in this process. The worker is
started only for a suite that needs it, ignores Ctrl-C (this process stops it), and dies with
this process even on SIGKILL (Linux PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType

from scalepath import children
from scalepath.promote.suite import Expect

CHECK_SECONDS = 5.0
"""Time one answer's checks may take: the suites we ship take milliseconds."""


class Checker:
    """``Expect.failures`` with a deadline per answer; a context manager that stops its worker."""

    def __init__(self, deadline_s: float = CHECK_SECONDS):
        self.deadline_s = deadline_s
        self._worker: tuple[BaseProcess, Connection] | None = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop()

    def failures(self, expect: Expect, answer: str) -> tuple[str, ...]:
        """Why ``answer`` fails ``expect``; a check past the deadline is a failure saying so."""
        if expect.regex is None and expect.json_schema is None:
            return tuple(expect.failures(answer))
        process, connection = self._worker or self._start()
        connection.send((expect, answer))
        if connection.poll(self.deadline_s):
            return tuple(connection.recv())
        self._stop()
        return (f"the regex or jsonSchema check took longer than {self.deadline_s:g}s on this answer and was "
                "stopped; simplify it (no nested repetition such as (a|aa)+, no deeply nested anyOf)",)

    def _start(self) -> tuple[BaseProcess, Connection]:
        # spawn, not fork: this process has had threads (the engine's log, asyncio's resolver).
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, os.getpid()), daemon=True,
                                  name="scalepath-promote-checks")
        process.start()
        theirs.close()
        self._worker = (process, ours)
        return self._worker

    def _stop(self) -> None:
        if self._worker is None:
            return
        process, connection = self._worker
        self._worker = None
        process.kill()
        process.join()
        connection.close()


def _serve(connection: Connection, parent: int) -> None:
    """The worker: answer ``(expect, answer)`` requests with the list of failures until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if not children.die_with_parent(parent, signal.SIGKILL):
        return  # the parent died before the death signal was armed
    while True:
        try:
            expect, answer = connection.recv()
        except EOFError:
            return
        connection.send(expect.failures(answer))
