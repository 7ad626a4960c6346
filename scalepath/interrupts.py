"""SIGINT/SIGTERM for the CLI: unwind (stopping the policy pack), then exit 128 + the signal.

Two modes. Around work that owns a child process or a file, :func:`interruptible` turns the
first SIGINT or SIGTERM into :class:`Interrupted` (a ``KeyboardInterrupt``, so asyncio and
``except Exception`` blocks let it through) and lets later ones wait for the unwinding to finish:
a second Ctrl-C must not abort the ``finally`` that stops the pack. Once such work is done,
:func:`exit_on_signal` ends the process at once with the interrupted exit code: nothing is left
to clean up, and raising into click or into interpreter shutdown would print a traceback (or an
``Aborted!`` with exit 1) after a plan already printed as a success.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's exit status for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM arrived inside :func:`interruptible`."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = exit_code(signum)


def end_process(code: int) -> NoReturn:
    """End this process at once with ``code``: stdio flushed, no interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the descriptor was closed when the process started
                stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more to say
            pass
        except BaseException:  # noqa: BLE001, S110 (stdout's guard: the exit code is decided already)
            pass
    os._exit(code)


def _exit_now(signum: int, _frame: FrameType | None) -> None:
    end_process(exit_code(signum))


def exit_on_signal() -> None:
    """From now on SIGINT/SIGTERM end this process at once with exit 130/143 (main thread only)."""
    for signum in SIGNALS:
        signal.signal(signum, _exit_now)


_received: list[int] = []
"""Signals that arrived inside the current :func:`interruptible` block, first one first."""


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived in this block, also one whose exception was
    dropped where it was raised: call before anything is printed or written as a result."""
    if _received:
        raise Interrupted(_received[0])


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block the first SIGINT/SIGTERM raises :class:`Interrupted`; handlers are restored after.

    A signal that arrives while the block unwinds is remembered, not raised, so cleanup runs to
    the end; the caller exits with the first signal's code either way, also when a library
    wrapped the :class:`Interrupted` in an exception of its own.
    """
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        # Windows delivers no SIGTERM to handle; outside the main thread Python runs no handlers
        # (and cannot install them): Ctrl-C stays a KeyboardInterrupt there.
        yield
        return
    received = _received
    received.clear()

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    def unraisable(report: Any) -> None:
        # Raised where Python cannot pass it on (a __del__, a callback from C), Interrupted is
        # dropped with an "Exception ignored" traceback; check() raises it again, quietly.
        if not isinstance(report.exc_value, Interrupted):
            previous_hook(report)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    except BaseException as error:
        # Raised anywhere, Interrupted may come back wrapped: pydantic-core turns it into the
        # SchemaError of the model it was building when a stage module was being imported.
        if received and not isinstance(error, Interrupted):
            raise Interrupted(received[0]) from None
        raise
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        sys.unraisablehook = previous_hook
