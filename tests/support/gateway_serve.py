"""Run ``scalepath gateway serve`` as a subprocess against stand-in servers, for the engine tests."""

from __future__ import annotations

import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import yaml

from scalepath.children import DIE_WITH_PARENT
from tests.support import ROOT
from tests.support.openai_standin import StandIn

#: Bound on the engine's start on a loaded 2-core machine (it imports a large package).
STARTUP_SECONDS = 240
#: Bound on shutting down after SIGTERM/SIGINT (the engine's graceful period is 5 s, then SIGKILL).
SHUTDOWN_SECONDS = 60
KEY = "sk-scalepath-test-key-0123456789"


#: A dedicated HF endpoint (``hf.yaml``: aws/nvidia-a10g/x1 at $1.0 per replica-hour).
HF_ENDPOINT = {"model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "hf-endpoint", "namespace": "acme-ml",
               "vendor": "aws", "region": "us-east-1", "accelerator": "gpu", "instanceType": "nvidia-a10g",
               "instanceSize": "x1"}


def stack_file(path: Path, deployments: list[str], gateway: dict[str, Any],
               settings: dict[str, dict[str, Any]] | None = None) -> Path:
    """A stack config: the shipped ``dev`` basics, one ``hf-serverless`` deployment per name (or the
    deployment ``settings`` give for that name), this gateway."""
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    serverless = {"model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "hf-serverless",
                  "secretStore": {"cloud": "aws"}}
    config["scalepath:deployments"] = [{"name": n, **(settings or {}).get(n, serverless)} for n in deployments]
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


def seconds_left_in_minute(now: datetime) -> int:
    """Whole seconds until the UTC minute after ``now`` starts, rounded up."""
    return math.ceil(60 - now.second - now.microsecond / 1e6)


def refused_after_limit(served: Served, route: str, limit: int) -> httpx.Response:
    """Send ``limit`` + 1 requests to ``route`` within one UTC minute (the engine counts per clock
    minute, so start early in one); the first ``limit`` are answered, the last refused with 429 and
    ``Retry-After``: the seconds until that minute ends. The engine read its clock between
    ``before`` and ``after``, both in the refused request's minute, so the value lies between what
    each of them says: no bound depends on the machine's speed. Returns the 429."""
    second = datetime.now(timezone.utc).second
    if second > 30:
        time.sleep(61 - second)
    answered = [chat(served, route) for _ in range(limit)]
    before = datetime.now(timezone.utc)
    refused = chat(served, route)
    after = datetime.now(timezone.utc)
    assert [r.status_code for r in answered] == [200] * limit, refused.text
    assert refused.status_code == 429, refused.text
    assert before.minute == after.minute
    assert seconds_left_in_minute(after) <= int(refused.headers["retry-after"]) <= seconds_left_in_minute(before)
    return refused


def chat(served: Served, route: str, stream: bool = False) -> httpx.Response:
    """One chat request to ``route`` with the client key."""
    return httpx.post(f"{served.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                      timeout=120, json={"model": route, "messages": [{"role": "user", "content": "hi"}],
                                         "stream": stream})


def metrics_text(served: Served, key: str | None = KEY) -> httpx.Response:
    """``/metrics/`` of the engine (with the client key unless ``key`` is None)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{served.base_url.removesuffix('/v1')}/metrics/", headers=headers, timeout=60)


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def charged_answer(served: Served, route: str, usd_per_second: float, answer_seconds: float) -> float:
    """One answer from ``route``, whose backend takes ``answer_seconds``, and its cost: charged per
    second of the backend's time (from the request leaving the engine to the answer back), so at
    least ``usd_per_second`` x ``answer_seconds`` and at most that rate x the client's whole round
    trip (the engine's time lies inside it). Both bounds hold however loaded the machine is."""
    started = time.monotonic()
    response = chat(served, route)
    round_trip = time.monotonic() - started
    assert response.status_code == 200, response.text
    cost = float(response.headers["x-litellm-response-cost"])
    assert usd_per_second * answer_seconds <= cost <= usd_per_second * round_trip
    return cost


def metric_reaches(served: Served, name: str, least: float, wait_s: float = 60, **labels: str) -> float:
    """The sum of ``name``'s samples with ``labels`` once it reaches ``least`` (the engine writes
    metrics after an answer is sent), or after a bounded wait, whatever it is then."""
    deadline = time.monotonic() + wait_s
    while (value := sample(metrics_text(served).text, name, **labels)) < least and time.monotonic() < deadline:
        time.sleep(0.5)
    return value
