"""Child processes (the policy pack, its worker, the gateway engine) that never outlive the
scalepath process that started them.

Each runs in its own session, so a terminal's Ctrl-C reaches scalepath, which stops it in order
(:func:`stop`: SIGTERM to the whole group, SIGKILL to what is left after a grace period). Python
children started from the main thread also ask Linux to signal them when that thread dies
(``PR_SET_PDEATHSIG``, set by a prologue in the child: a ``preexec_fn`` is unsafe once the parent
has threads), so even a scalepath killed with SIGKILL leaves none behind: SIGTERM, or another
signal the child handles by exiting at once (the gateway engine would drain on SIGTERM). The
death signal follows the thread that forked, so a child started from another thread is not
armed: it would die with that thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _guard(death_signal: int) -> str:
    """Python prologue for a child that gets ``death_signal`` when the process whose pid is
    ``sys.argv[1]`` dies, and exits at once if it already has."""
    return ("import ctypes, os, signal, sys\n"
            "if sys.platform.startswith('linux'):\n"
            f"    ctypes.CDLL(None, use_errno=True).prctl(1, {int(death_signal)})\n"  # 1 = PR_SET_PDEATHSIG
            "    if os.getppid() != int(sys.argv[1]):\n"
            "        sys.exit(0)\n")  # the parent died before the line above took effect


#: Python prologue for a child that must not outlive the process whose pid is ``sys.argv[1]``.
DIE_WITH_PARENT = _guard(signal.SIGTERM)
_RUN_MODULE = ("import runpy\nsys.argv = [{module!r}, *sys.argv[2:]]\n"
               "runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n")


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> bool:
    """Arm this running Python child (one started by ``multiprocessing``) to get ``sig`` when the
    thread that started it dies (Linux); False when ``parent`` is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415 (Linux only)

        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # 1 = PR_SET_PDEATHSIG
    return os.getppid() == parent


def python_command(python: str | Path, module: str, args: Sequence[str] = (), prelude: str = "",
                   death_signal: int = signal.SIGTERM) -> list[str]:
    """``python -u -m module args...`` after ``prelude`` (Python run first, in ``__main__``), getting
    ``death_signal`` when this process dies if started from the main thread."""
    guard = _guard(death_signal) if threading.current_thread() is threading.main_thread() else "import sys\n"
    return [str(python), "-u", "-c", guard + prelude + _RUN_MODULE.format(module=module), str(os.getpid()), *args]


def start(command: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` as the leader of a session of its own."""
    return subprocess.Popen(list(command), start_new_session=True, **popen)


def stop(process: subprocess.Popen[Any], grace_seconds: float = 10.0) -> None:
    """SIGTERM the child's process group, SIGKILL it if it lingers past ``grace_seconds`` (or if
    we are interrupted while waiting), and SIGKILL what the leader started and left behind."""
    try:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        pass
    finally:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    # The child leads its own session (start), so its group id is its pid.
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # the group is gone
