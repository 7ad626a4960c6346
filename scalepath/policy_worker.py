"""The process that drives the policy pack for one plan (``python -m scalepath.policy_worker``).

A plan's own process is busy running the program; the gRPC client work of checking each
resource (about 0.4 ms of CPU per call, more once it competes with the program for the GIL)
would slow the program by as much. So :class:`scalepath.policy_runner.PolicyCheck` starts this
process, which starts the pack, configures it and checks the resources it is sent while the
program goes on, on another core, as the engine checks registrations during a preview.

Protocol, pickled on stdin and stdout (both ends are ours; nothing else reads the pipes): stdin
carries a :class:`~scalepath.policy_runner.Setup`, then :class:`~scalepath.wire.PlannedResource` after resource, then
``None`` once all are sent; stdout answers ``("report", PolicyReport)`` or ``("error",
exception)`` once. Stdin closing before the ``None`` (the plan failed or was interrupted) and
SIGTERM both stop the pack and end this process; on Linux the pack also dies with it. SIGTERM
and SIGINT unwind as in the plan (:func:`scalepath.interrupts.interruptible`): one that Python
dropped where it arrived (in a callback run from C, such as logging's fork hook while the pack
starts) ends the check at its next step, quietly, instead of being lost with a traceback.
"""

from __future__ import annotations

import pickle
import queue
import sys
import threading
from typing import IO, Any

from scalepath import interrupts
from scalepath.policy_runner import (
    Analysis,
    PolicyConfigError,
    PolicyPackError,
    PolicyReport,
    Setup,
    reconcile_config,
    start_pack,
)
from scalepath.wire import PlannedResource


class _Abandoned(Exception):
    """The plan closed the pipe before sending every resource: stop without a report."""


_END, _EOF = None, object()


def _read(stream: IO[bytes], incoming: queue.SimpleQueue[Any]) -> None:
    """Move what the plan sends into ``incoming`` as it arrives, so its writes never wait on us."""
    while True:
        try:
            item = pickle.load(stream)
        except (EOFError, OSError, pickle.UnpicklingError):
            incoming.put(_EOF)
            return
        incoming.put(item)
        if item is _END:
            return


def _take(incoming: queue.SimpleQueue[Any]) -> list[PlannedResource] | None:
    """The resources that arrived since the last call (waiting for one); None after the last."""
    batch: list[PlannedResource] = []
    item = incoming.get()
    while True:
        if item is _EOF:
            raise _Abandoned
        if item is _END:
            if batch:  # check these first; the end comes on the next call
                incoming.put(_END)
                return batch
            return None
        batch.append(item)
        if incoming.empty():
            return batch
        item = incoming.get()


def check(setup: Setup, incoming: queue.SimpleQueue[Any]) -> PolicyReport:
    """Start and configure the pack, check everything ``incoming`` brings until the end, report."""
    with start_pack(setup.pack_dir, setup.project, setup.stack, setup.stack_config) as session:
        interrupts.check()  # a signal dropped while the pack started: stop it now
        session.configure(reconcile_config(session.info, setup.policy_config, setup.config_source))
        session.configure_stack(setup.project, setup.stack, setup.stack_config, setup.secret_keys,
                                {"pulumi:project": setup.project, "pulumi:runtime": "python"})
        analysis = Analysis(session)
        while (batch := _take(incoming)) is not None:
            interrupts.check()
            analysis.add(batch)
        return analysis.finish()


def _outcome(setup: Setup, incoming: queue.SimpleQueue[Any]) -> tuple[str, Any]:
    try:
        return "report", check(setup, incoming)
    except (PolicyPackError, PolicyConfigError) as error:
        return "error", error
    except _Abandoned:
        raise
    except Exception as error:  # noqa: BLE001 (reported to the plan, which fails with it)
        return "error", PolicyPackError(f"checking failed: {type(error).__name__}: {error}")


def main() -> None:
    """Serve one plan: read the setup and resources from stdin, answer on stdout; interrupted
    (the plan stops it with SIGTERM), stop the pack and exit 143 (130 for SIGINT) with no report."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        with interrupts.interruptible():  # unwinds through start_pack, which stops the pack
            setup: Setup = pickle.load(stdin)
            incoming: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(target=_read, args=(stdin, incoming), daemon=True).start()
            outcome = _outcome(setup, incoming)
            interrupts.check()  # an error the interrupt caused is not the check's outcome
    except _Abandoned:
        return
    except interrupts.Interrupted as interrupt:
        raise SystemExit(interrupt.exit_code) from None
    pickle.dump(outcome, stdout, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.flush()


if __name__ == "__main__":
    main()
