"""`scalepath plan` under SIGINT/SIGTERM/SIGKILL: the policy worker and pack never outlive the plan.

Each case runs the real CLI in a child process, waits (bounded, by polling /proc, never by a
clock) until the plan reaches a given point, freezes it there with SIGSTOP, queues the signal and
lets it continue, then checks: the plan
exits with the interrupted status, prints no traceback and no plan JSON, and the pack process
is gone. Linux only: the observations read /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="observes processes through /proc")

BOUND_S = 240.0
"""Upper bound of every wait (a failure bound on a loaded machine, not a timing assertion)."""


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; ``started`` (clock ticks since boot) tells a reused pid apart."""

    pid: int
    started: int


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name, which may hold spaces


def _children(pid: int) -> list[Proc]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) and int(fields[1]) == pid:
            found.append(Proc(int(entry), int(fields[19])))
    return found


def _alive(proc: Proc) -> bool:
    fields = _stat(proc.pid)
    # A zombie has exited (init reaps an orphaned one); a different start time is a reused pid.
    return fields is not None and fields[0] != "Z" and int(fields[19]) == proc.started


def _sockets(proc: Proc, state: str) -> bool:
    """Whether ``proc`` holds a TCP socket in ``state`` (/proc/net/tcp hex code: 0A listen, 01 established)."""
    try:
        fds = {os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")}
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                rows = [line.split() for line in file.readlines()[1:]]
        except OSError:
            continue
        if any(row[3] == state and f"socket:[{row[9]}]" in fds for row in rows):
            return True
    return False


class PlanFinished(Exception):
    """The plan ended before the point a case waits for (the case runs again)."""


def _wait_until(condition: Callable[[], bool], what: str, plan: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if plan.poll() is not None:
            raise PlanFinished(f"the plan exited ({plan.returncode}) before {what}")
        assert time.monotonic() < deadline, f"no {what} within {BOUND_S:.0f}s"
        time.sleep(0.005)


def _start_plan() -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "scalepath", "plan", "--stack", "dev", "--json"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _the_worker_and_pack(plan: subprocess.Popen[bytes]) -> list[Proc]:
    """The policy worker the plan started and the pack the worker started (once both exist)."""
    found: list[Proc] = []

    def started() -> bool:
        workers = _children(plan.pid)
        packs = _children(workers[0].pid) if len(workers) == 1 else []
        found[:] = workers + packs
        return bool(packs)

    _wait_until(started, "policy pack process", plan)
    return found


def _assert_gone(procs: list[Proc]) -> None:
    deadline = time.monotonic() + BOUND_S
    for proc in procs:
        while _alive(proc):
            assert time.monotonic() < deadline, f"process {proc.pid} (policy worker or pack) outlived the plan"
            time.sleep(0.01)


def _freeze_at(point: str, plan: subprocess.Popen[bytes]) -> list[Proc]:
    """Run ``plan`` to ``point`` and stop it there (SIGSTOP); the worker and the pack keep running.
    Returns both."""
    procs = _the_worker_and_pack(plan)
    worker, pack = procs
    if point == "talking to the pack":
        _wait_until(lambda: _sockets(worker, "01"), "connection to the pack", plan)
        plan.send_signal(signal.SIGSTOP)
        return procs
    plan.send_signal(signal.SIGSTOP)  # a stopped plan holds still while the pack starts on its own
    if point == "pack listening":
        _wait_until(lambda: _sockets(pack, "0A"), "listening pack", plan)
    return procs


def _interrupt_at(point: str, signum: int) -> tuple[subprocess.Popen[bytes], list[Proc], bytes, bytes]:
    """Signal a plan at ``point``; a plan that finished first (only possible while talking) runs again."""
    for _ in range(5):
        plan = _start_plan()
        try:
            procs = _freeze_at(point, plan)
            plan.send_signal(signum)  # pending until the plan continues
            plan.send_signal(signal.SIGCONT)
            out, err = plan.communicate(timeout=BOUND_S)
            return plan, procs, out, err
        except PlanFinished:
            continue
        finally:
            if plan.poll() is None:
                plan.kill()
                plan.communicate()
    pytest.fail(f"5 plans finished before reaching {point!r}")


@pytest.mark.parametrize(("point", "signum"), [
    ("pack started", signal.SIGTERM),
    ("pack listening", signal.SIGINT),
    ("talking to the pack", signal.SIGTERM),
    ("talking to the pack", signal.SIGINT),
])
def test_a_signal_stops_the_pack_and_exits_interrupted(point: str, signum: int) -> None:
    plan, procs, out, err = _interrupt_at(point, signum)
    _assert_gone(procs)
    stderr = err.decode()
    assert plan.returncode == 128 + signum, stderr
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr, stderr
    assert out == b"", "a plan was printed although it was interrupted"


def test_a_killed_plan_takes_the_pack_with_it() -> None:
    # SIGKILL runs no handler: the kernel's parent-death signal stops the worker, and its own the pack.
    plan, procs, _, _ = _interrupt_at("pack listening", signal.SIGKILL)
    assert plan.returncode == -signal.SIGKILL
    _assert_gone(procs)


def test_ctrl_c_while_the_cli_imports_exits_130_without_a_traceback(monkeypatch, capsys) -> None:
    import builtins

    import scalepath.__main__ as entry

    real_import = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if name == "scalepath.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    with pytest.raises(SystemExit) as caught:
        entry.main()
    assert caught.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted by SIGINT" in err and "Traceback" not in err


def test_an_interrupt_a_library_wrapped_is_still_an_interrupt() -> None:
    from scalepath import interrupts

    with pytest.raises(interrupts.Interrupted) as caught:
        with interrupts.interruptible():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises here
            except BaseException as error:  # as pydantic-core does while building a model
                raise ValueError("SchemaError: Error building validator") from error
    assert caught.value.exit_code == 143


class _DroppedInterrupt:
    """An object whose finaliser receives SIGTERM: Python cannot raise out of ``__del__``, so the
    handler's Interrupted is dropped there, as in a library callback (seen: inside a regex a
    pydantic validator ran while the plan's JSON was being built)."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGTERM)


def test_an_interrupt_dropped_where_it_was_raised_stops_the_plan_before_it_prints(monkeypatch, capsys) -> None:
    from typer.testing import CliRunner

    from scalepath import cli

    real = cli.run_plan

    def run_plan_and_drop_an_interrupt(*args, **kwargs):
        result = real(*args, **kwargs)
        _DroppedInterrupt()  # freed at once: the signal arrives inside __del__
        return result

    monkeypatch.setattr(cli, "run_plan", run_plan_and_drop_an_interrupt)
    result = CliRunner().invoke(cli.app, ["plan", "--stack", "dev", "--json"])
    assert result.exit_code == 143, result.output
    assert '"resources"' not in result.stdout and "Traceback" not in result.output
    assert "interrupted by SIGTERM; no plan was produced" in result.stderr
    assert "Exception ignored" not in result.output + capsys.readouterr().err


def test_ctrl_c_in_advise_exits_130_not_clicks_aborted_1(monkeypatch) -> None:
    from typer.testing import CliRunner

    from scalepath import cli

    def interrupted_advisor(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        time.sleep(5)  # the handler raises here

    monkeypatch.setattr(cli, "run_advisor", interrupted_advisor)
    result = CliRunner().invoke(cli.app, ["advise", "--requests-per-month", "1000", "--input-tokens", "10",
                                          "--output-tokens", "10", "--model", "8B"])
    assert result.exit_code == 130, result.output
    assert "interrupted by SIGINT; no advice was produced" in result.output and "Aborted" not in result.output


def test_ctrl_c_in_gateway_config_exits_130_not_clicks_aborted_1(monkeypatch) -> None:
    from typer.testing import CliRunner

    from scalepath import cli
    from scalepath.gateway import render

    def interrupted_render(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        time.sleep(5)  # the handler raises here

    monkeypatch.setattr(render, "render_gateway", interrupted_render)
    result = CliRunner().invoke(cli.app, ["gateway", "config", "--stack", "gateway-dev"])
    assert result.exit_code == 130, result.output
    assert "interrupted by SIGINT; no config was printed" in result.output and "Aborted" not in result.output
