"""What the gateway adds: engine start time and per-request latency through it vs direct.

    python benchmarks/gateway_overhead.py [--requests 300] [--concurrency 8]

Starts one loopback stand-in OpenAI server, runs the real engine with `scalepath gateway serve`
in front of it (route `chat`, 100% to the stand-in), and sends the same chat requests directly
and through the gateway. Prints the engine's start time and p50/p95 latency and throughput of
both paths. The stand-in answers at once, so the difference is the gateway's own cost. Figures
depend on the machine's load; run it on an idle machine for comparable numbers.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.gateway_serve import KEY, stack_file, start_serve  # noqa: E402
from tests.support.openai_standin import StandIn  # noqa: E402


def _measure(url: str, model: str, headers: dict[str, str], requests: int,
             concurrency: int) -> tuple[list[float], float]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}

    def one(_: int) -> float:
        start = time.perf_counter()
        response = httpx.post(f"{url}/chat/completions", json=body, headers=headers, timeout=60)
        response.raise_for_status()
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(one, range(requests)))
    return latencies, time.perf_counter() - start


def _report(label: str, latencies: list[float], wall: float) -> None:
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:8s} p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
          f"{len(ordered) / wall:7.1f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    with StandIn("bench") as standin, tempfile.TemporaryDirectory() as folder:
        config = stack_file(Path(folder) / "Pulumi.bench.yaml", ["bench"], {
            "runtime": "ecs", "routes": [{"name": "chat", "targets": [{"deployment": "bench", "weight": 100}]}]})
        started = time.perf_counter()
        served = start_serve(config, {"bench": standin.url})
        print(f"engine start (scalepath gateway serve until it answers): {time.perf_counter() - started:.1f} s")
        try:
            _measure(served.base_url, "chat", {"Authorization": f"Bearer {KEY}"}, 20, 2)  # warm-up
            _report("direct", *_measure(standin.url, "bench", {}, options.requests, options.concurrency))
            _report("gateway", *_measure(served.base_url, "chat", {"Authorization": f"Bearer {KEY}"},
                                         options.requests, options.concurrency))
        finally:
            served.signal_and_wait(signal.SIGTERM)


if __name__ == "__main__":
    main()
