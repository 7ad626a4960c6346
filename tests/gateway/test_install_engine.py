"""`scalepath gateway install-engine` says what it does before each step and lets pip's per-package
lines through as they come (it was silent for the ~44 s of a fresh install).

The engine's virtualenv is a folder with a stand-in ``bin/python`` that behaves like pip's output
(a line per package, nothing with ``--quiet``) and records its arguments, so no package is
downloaded; the command runs as a real process, so its lines and pip's share one stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scalepath.gateway.engine import ENGINE_REQUIREMENTS
from tests.support import ROOT

FAKE_PIP = """#!/bin/sh
echo "$@" > "$(dirname "$0")/../args.txt"
case " $* " in *" --quiet "*) exit 0;; esac
echo "Collecting litellm[proxy]==x"
echo "Successfully installed litellm-x"
"""


def test_install_engine_shows_each_step_and_pips_lines(tmp_path: Path) -> None:
    venv = tmp_path / "engine"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(FAKE_PIP)
    python.chmod(0o755)
    env = {**os.environ, "SCALEPATH_GATEWAY_ENGINE": str(venv), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "scalepath", "gateway", "install-engine"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        f"[1/2] engine virtualenv: {venv} (exists)",
        f"[2/2] pip install {' '.join(ENGINE_REQUIREMENTS)} and their dependencies (about a minute on a fresh "
        "virtualenv; pip lists each package):",
        "Collecting litellm[proxy]==x",
        "Successfully installed litellm-x",
        f"engine ready: {python}",
    ]
    assert (venv / "args.txt").read_text().split()[-len(ENGINE_REQUIREMENTS):] == list(ENGINE_REQUIREMENTS)
