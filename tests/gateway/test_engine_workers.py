"""Several engine workers, one count: the deployed command (``litellm --num_workers N``) puts the
engine's Prometheus exporter in prometheus_client's multiprocess mode by itself (docs/gateway.md,
"Workers and /metrics/"). Checked on the installed engine, with the shipped gateway's settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from components.gateway.args import ENGINE_SETTINGS
from scalepath.gateway.engine import engine_python
from scalepath.gateway.render import render_gateway
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT

# What the proxy's CLI runs before starting N workers (litellm/proxy/proxy_cli.py, run_server).
PROBE = """
import json, os, sys
from litellm.proxy.proxy_cli import ProxyInitializationHelpers
ProxyInitializationHelpers._maybe_setup_prometheus_multiproc_dir(
    num_workers=int(sys.argv[1]), litellm_settings=json.loads(sys.argv[2]))
print(json.dumps(os.environ.get("PROMETHEUS_MULTIPROC_DIR")))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_two_workers_share_one_metrics_directory(tmp_path: Path, workers: int) -> None:
    rendered = render_gateway(load_stack_config("gateway-dev", ROOT), [])
    settings = yaml.safe_load(rendered.text)["litellm_settings"]
    out = subprocess.run([str(engine_python()), "-c", PROBE, str(workers), json.dumps(settings)],
                         capture_output=True, text=True, timeout=240, check=True,
                         env={**ENGINE_SETTINGS, "TMPDIR": str(tmp_path)})
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if workers == 1:  # one process: its own registry is the whole count
        assert found is None
    else:  # under the temp folder (the container's /tmp, writable on every runtime)
        assert found == str(tmp_path / "litellm_prometheus_multiproc")
        assert Path(found).is_dir()
