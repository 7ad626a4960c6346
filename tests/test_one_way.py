"""One helper per concern (issue 22, finding 13): child processes are started and stopped by
``scalepath/children.py`` only, and the CLI's commands read a stack through one call of
``parse_spec`` (``StackConfig.spec``)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from scalepath import children
from tests.support import ROOT


def _calls(pattern: str) -> dict[str, int]:
    """File -> how many lines of the tooling's source match ``pattern``."""
    found: dict[str, int] = {}
    for path in sorted((ROOT / "scalepath").rglob("*.py")):
        count = sum(1 for line in path.read_text().splitlines() if re.search(pattern, line))
        if count:
            found[str(path.relative_to(ROOT))] = count
    return found


def test_children_are_started_and_stopped_in_one_place() -> None:
    assert _calls(r"subprocess\.Popen\(|os\.killpg\(|prctl\(") == {"scalepath/children.py": 4}


def test_the_cli_parses_a_stack_in_one_place() -> None:
    assert _calls(r"\bparse_spec\(") == {"scalepath/stackconfig.py": 1}


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    process = children.start([sys.executable, "-c", (
        "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    children.stop(process, grace_seconds=0.2)
    assert process.returncode == -signal.SIGKILL
    process.stdout.close()
