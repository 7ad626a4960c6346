"""Run ``scalepath gateway serve`` as a subprocess against stand-in servers, for the engine tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scalepath.children import DIE_WITH_PARENT
from tests.support import ROOT
from tests.support.openai_standin import StandIn

#: Bound on the engine's start on a loaded 2-core machine (it imports a large package).
STARTUP_SECONDS = 240
#: Bound on shutting down after SIGTERM/SIGINT (the engine's graceful period is 5 s, then SIGKILL).
SHUTDOWN_SECONDS = 60
KEY = "sk-scalepath-test-key-0123456789"


def stack_file(path: Path, deployments: list[str], gateway: dict[str, Any]) -> Path:
    """A stack config: the shipped ``dev`` basics, one ``hf-serverless`` deployment per name, this gateway."""
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["scalepath:deployments"] = [
        {"name": n, "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "hf-serverless",
         "secretStore": {"cloud": "aws"}}
        for n in deployments]
    config["scalepath:gateway"] = gateway
    path.write_text(yaml.safe_dump(document))
    return path


@dataclass
class Served:
    """A running ``scalepath gateway serve``."""

    process: subprocess.Popen[str]
    base_url: str
    engine_pid: int

    def signal_and_wait(self, sig: signal.Signals) -> int:
        """Send ``sig`` to the CLI process and return its exit code (bounded wait)."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=SHUTDOWN_SECONDS)

    def kill(self) -> None:
        """Last resort for a test that failed midway: nothing may outlive the test."""
        for pid in (self.process.pid, self.engine_pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait(timeout=SHUTDOWN_SECONDS)


def start_serve(config: Path, backends: dict[str, str], key: str | None = KEY, port: int = 0,
                tmpdir: Path | None = None) -> Served:
    """Start ``scalepath gateway serve --port PORT`` (0: any free one) and wait (bounded) for its
    "gateway: URL" line; ``tmpdir`` becomes its ``$TMPDIR``."""
    env = {k: v for k, v in os.environ.items() if k != "SCALEPATH_GATEWAY_KEY"}
    if key is not None:
        env["SCALEPATH_GATEWAY_KEY"] = key
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    # The CLI dies with this test process (and the engine with the CLI), even if pytest is killed.
    boot = DIE_WITH_PARENT + "sys.argv = sys.argv[1:]\nfrom scalepath.cli import app\napp()\n"
    args = [sys.executable, "-c", boot, str(os.getpid()), "gateway", "serve", "--stack", "dev",
            "--config", str(config), "--port", str(port)]
    for name, url in backends.items():
        args += ["--backend", f"{name}={url}"]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_SECONDS)
    except queue.Empty:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"gateway serve printed nothing within {STARTUP_SECONDS}s") from None
    match = re.match(r"gateway: (\S+) \(engine pid (\d+)\)", line)
    if not match:
        process.wait(timeout=SHUTDOWN_SECONDS)
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"gateway serve did not start (exit {process.returncode}): {line}{stderr}")
    return Served(process=process, base_url=match.group(1), engine_pid=int(match.group(2)))


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@contextmanager
def running(servers: dict[str, StandIn]) -> Iterator[dict[str, StandIn]]:
    """Stand-in servers up for the block (a module fixture's worth of them)."""
    for server in servers.values():
        server.__enter__()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.__exit__()


@contextmanager
def serving(config: Path, standins: dict[str, StandIn], extra: dict[str, str] | None = None) -> Iterator[Served]:
    """``scalepath gateway serve`` with each stand-in as the deployment of its name (and ``extra``
    deployment -> URL backends); on the way out, SIGTERM must stop the CLI and the engine it started
    (nothing outlives the block either way)."""
    served = start_serve(config, {**{name: s.url for name, s in standins.items()}, **(extra or {})})
    try:
        yield served
        assert served.signal_and_wait(signal.SIGTERM) == 0
        assert not alive(served.engine_pid), "the engine outlived `scalepath gateway serve`"
    finally:
        if served.process.poll() is None or alive(served.engine_pid):
            served.kill()
