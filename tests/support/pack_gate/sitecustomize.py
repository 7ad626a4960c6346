"""Holds the policy pack at one point of its life, so a test can interrupt a plan there.

Python imports ``sitecustomize`` from the path at start-up. ``tests/test_signals.py`` puts this
folder on the PYTHONPATH of the plan it starts; the plan hands its PYTHONPATH to its policy
worker and the worker to the pack. Only the pack acts (its environment alone has
``PULUMI_DRY_RUN``), and only when ``SCALEPATH_TEST_PACK_GATE`` names a point: there it writes
its pid to the file ``SCALEPATH_TEST_PACK_MARKER`` names and waits for good. The plan cannot pass
a point the pack holds (its report needs the pack's answers), so a test that waits for the
marker signals the plan at that point, however loaded the machine, with no race to retry.

Points: ``started`` (the process runs, its death signal armed, pulumi.policy not yet serving),
``listening`` (serving; its first answer, GetAnalyzerInfo, held), ``analyzing`` (configured;
its first Remediate or Analyze held).
"""

from __future__ import annotations

import os
import runpy
import threading
from typing import Any

_HELD_METHODS = {"started": (), "listening": ("GetAnalyzerInfo",), "analyzing": ("Remediate", "Analyze")}


def _hold() -> None:
    """Say where this process is (written whole: rename), then wait until it is stopped.

    The pack serves on a thread pool, so two held calls (a Remediate and an Analyze) may get here
    at once: each writes its own temporary file. With one shared name, the second ``open(.., "w")``
    could empty the file the first had just renamed into place, and the test read an empty pid."""
    marker = os.environ["SCALEPATH_TEST_PACK_MARKER"]
    partial = f"{marker}.{threading.get_ident()}.tmp"
    with open(partial, "w") as file:
        file.write(str(os.getpid()))
    os.replace(partial, marker)
    threading.Event().wait()  # SIGTERM's default action ends the process (the pack sets no handler)


def _held(*_args: Any) -> None:
    _hold()


def _install(point: str) -> None:
    run_module = runpy.run_module

    def run_pack(module: str, *args: Any, **kwargs: Any) -> Any:
        # Called by the child prologue (scalepath.children) after it armed the death signal.
        if point == "started":
            _hold()
        from pulumi_policy import policy  # noqa: PLC0415 (the pack's own import, patched before it serves)

        for name in _HELD_METHODS[point]:
            setattr(policy._PolicyAnalyzerServicer, name, _held)  # noqa: SLF001
        return run_module(module, *args, **kwargs)

    runpy.run_module = run_pack


if "PULUMI_DRY_RUN" in os.environ and os.environ.get("SCALEPATH_TEST_PACK_GATE") in _HELD_METHODS:
    _install(os.environ["SCALEPATH_TEST_PACK_GATE"])
