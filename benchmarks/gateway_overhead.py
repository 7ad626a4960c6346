"""What the gateway costs per request: open-loop load at fixed rates, direct vs through the gateway.

    python benchmarks/gateway_overhead.py [--rates 25 50 73 100 150 200] [--seconds 8] [--dedicated]
                                          [--anchor 73] [--engine-cpu 1]

One run measures three targets at the same fixed request rates (open loop: request i is sent at
t0 + i / rate whatever the answers do, and its latency counts from that scheduled time, so a
slow target cannot slow the sender down and hide its own queueing):

- ``direct``: a loopback stand-in OpenAI server that answers at once (its own process);
- ``scalepath``: ``scalepath gateway serve`` with a one-route stack config in front of it, as the
  stack deploys the engine (rendered config, engine settings, uvicorn flags);
- ``stock``: the same engine version started the stock way (``litellm --config`` with a minimal
  config: one model, a master key), the peer a user would otherwise run.

Both engines are pinned to one CPU (``--engine-cpu``; children inherit affinity), so a rate is a rate per vCPU;
the load generator and the stand-in run on the other CPUs. A rate is *sustained* when fewer than
1 % of its requests fail (non-200 or no answer within 10 s), its p99 stays within 500 ms (past
capacity the open-loop queue grows for the whole step) and the generator kept its schedule.
Every request goes to 127.0.0.1 only; each step is bounded in count (rate x seconds) and time.
Each engine row also shows the engine process's CPU time per request (``/proc``): on a shared
machine the pinned CPU is not all the engine's, and CPU per request is the figure that survives.

The last line is the summary the docs quote:
``gateway: <R1> req/s per vCPU sustained (stock engine <R0>) -> <R1/R0>x; added p50 <A> ms, p99 <B> ms
at <N> req/s per vCPU`` (added = scalepath minus direct, at the anchor rate N).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scalepath.gateway.engine import ENGINE_VERSION, LIVENESS_PATH, engine_python  # noqa: E402
from tests.support.gateway_serve import HF_ENDPOINT, KEY, stack_file, start_serve  # noqa: E402

#: A request that gets no answer within this is an error.
REQUEST_TIMEOUT_S = 10.0
#: A step whose sends lag their schedule by more than this (p99) measured the generator, not the target.
SCHEDULE_SLACK_S = 0.050
#: Largest error share a sustained rate may have.
MAX_ERROR_SHARE = 0.01
#: Largest p99 a sustained rate may have: past capacity an open-loop queue grows for the whole step,
#: which shows as latency long before requests reach the timeout.
MAX_P99_MS = 500.0

# The stand-in: a minimal asyncio HTTP/1.1 server (keep-alive) that answers every request with
# one fixed chat completion. Run as its own process so its CPU never counts against a target.
_STANDIN = textwrap.dedent('''
    import asyncio, json, socket, sys
    BODY = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
    HEAD = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
            + str(len(BODY)).encode() + b"\\r\\n\\r\\n")
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(HEAD + BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
    async def main():
        sock = socket.create_server(("127.0.0.1", 0))
        server = await asyncio.start_server(handle, sock=sock, backlog=1024)
        print(sock.getsockname()[1], flush=True)
        await server.serve_forever()
    asyncio.run(main())
''')


@dataclass
class Step:
    """One target at one offered rate."""

    rate: float
    latencies_ms: list[float]
    errors: int
    sent: int
    lag_p99_s: float
    cpu_s: float | None = None
    """CPU time the target's engine process used during the step (None: not measured, the stand-in)."""

    @property
    def error_share(self) -> float:
        return self.errors / self.sent if self.sent else 1.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the answered requests' latency (ms); errors count as the timeout."""
        values = sorted(self.latencies_ms + [REQUEST_TIMEOUT_S * 1000] * self.errors)
        return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]

    @property
    def sustained(self) -> bool:
        return (self.error_share < MAX_ERROR_SHARE and self.percentile(0.99) <= MAX_P99_MS
                and self.lag_p99_s <= SCHEDULE_SLACK_S)


async def _open_loop(url: str, model: str, headers: dict[str, str], rate: float, seconds: float) -> Step:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    count = max(1, int(rate * seconds))
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            lags.append(loop.time() - scheduled)
            try:
                response = await client.post(f"{url}/chat/completions", json=body, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((loop.time() - scheduled) * 1000)
            else:
                errors += 1

        await asyncio.gather(*(one(i) for i in range(count)))
    lags.sort()
    return Step(rate, latencies, errors, count, lags[min(len(lags) - 1, int(0.99 * len(lags)))])


def _start_standin(cpus: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(["taskset", "-c", cpus, sys.executable, "-c", _STANDIN],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    port = process.stdout.readline().strip() if process.stdout else ""
    return process, f"http://127.0.0.1:{port}/v1"


def _start_stock(standin_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The engine the stock way: ``litellm --config`` (its own CLI and defaults), a minimal config."""
    config = folder / "stock.yaml"
    config.write_text(yaml.safe_dump({
        "model_list": [{"model_name": "chat", "litellm_params": {
            "model": "openai/bench", "api_base": standin_url, "api_key": "unused"}}],
        "general_settings": {"master_key": KEY}}))
    with socket_port() as port:
        pass
    # The engine's own interpreter runs its CLI script: the script's shebang may name another venv.
    python = engine_python()
    process = subprocess.Popen([str(python), str(python.parent / "litellm"), "--config", str(config),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + LIVENESS_PATH, timeout=5).status_code == 200:
                return process, url + "/v1"
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("the stock engine did not start")


class socket_port:  # noqa: N801 (a context manager read as a phrase)
    """A free loopback port, released on exit (the stock CLI binds by number, not by descriptor)."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.create_server(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(label: str, step: Step) -> str:
    verdict = ("sustained" if step.sustained else "generator lagged" if step.lag_p99_s > SCHEDULE_SLACK_S
               else "errors >= 1%" if step.error_share >= MAX_ERROR_SHARE else "queueing (p99 over bound)")
    cpu = f"  {step.cpu_s * 1000 / step.sent:5.1f} ms CPU/req" if step.cpu_s else ""
    return (f"  {label:9s} {step.rate:6.0f} req/s  p50 {step.percentile(0.50):8.1f} ms  "
            f"p99 {step.percentile(0.99):8.1f} ms  errors {step.error_share * 100:5.1f} %{cpu}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 73, 100, 150, 200, 300])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each step")
    parser.add_argument("--anchor", type=float, default=73.0,
                        help="rate (per vCPU) the added latency is reported at (LiteLLM's published benchmark)")
    parser.add_argument("--engine-cpu", type=int, default=os.cpu_count() - 1 if os.cpu_count() else 0)
    parser.add_argument("--dedicated", action="store_true",
                        help="the routed deployment is a dedicated HF endpoint (priced per second of backend "
                             "time by the gateway's hooks) instead of HF serverless (priced per token by the engine)")
    options = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the engines and the stand-in are stopped in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    others = ",".join(str(c) for c in range(os.cpu_count() or 1) if c != options.engine_cpu) or "0"
    rates = sorted(set(options.rates) | {options.anchor})
    print(f"engine {ENGINE_VERSION} pinned to CPU {options.engine_cpu}; generator and stand-in on CPU {others}; "
          f"load average {os.getloadavg()[0]:.1f}; {options.seconds:.0f} s per step")
    generator_cpus = {int(c) for c in others.split(",")}
    standin, standin_url = _start_standin(others)
    folder = Path(tempfile.mkdtemp(prefix="scalepath-bench-"))
    served = stock = None
    try:
        config = stack_file(folder / "Pulumi.bench.yaml", ["bench"], {
            "runtime": "ecs", "routes": [{"name": "chat", "targets": [{"deployment": "bench", "weight": 100}]}]},
            settings={"bench": HF_ENDPOINT} if options.dedicated else None)
        # Children inherit affinity: start both engines from the engine CPU, then move this process off it.
        os.sched_setaffinity(0, {options.engine_cpu})
        served = start_serve(config, {"bench": standin_url})
        stock, stock_url = _start_stock(standin_url, folder)
        os.sched_setaffinity(0, generator_cpus)
        auth = {"Authorization": f"Bearer {KEY}"}
        targets = {"direct": (standin_url, "bench", {}), "scalepath": (served.base_url, "chat", auth),
                   "stock": (stock_url, "chat", auth)}
        # Whose CPU time a step counts: on a shared machine the pinned CPU is not all the engine's,
        # so CPU per request is the figure that survives the load (wall rates do not).
        engine_pid = {"scalepath": served.engine_pid, "stock": stock.pid}
        for url, model, headers in targets.values():  # warm-up: first requests import lazily
            asyncio.run(_open_loop(url, model, headers, 10, 2))
        results: dict[str, dict[float, Step]] = {name: {} for name in targets}
        for rate in rates:
            for name, (url, model, headers) in targets.items():
                pid = engine_pid.get(name)
                before = _cpu_seconds(pid) if pid else 0.0
                step = asyncio.run(_open_loop(url, model, headers, rate, options.seconds))
                step.cpu_s = _cpu_seconds(pid) - before if pid else None
                results[name][rate] = step
                print(_row(name, step), flush=True)

        def best(name: str) -> float:
            return max((r for r, s in results[name].items() if s.sustained), default=0.0)

        def cpu_ms(name: str) -> float:
            steps = [s for s in results[name].values() if s.sustained and s.cpu_s]
            return 1000 * sum(s.cpu_s or 0 for s in steps) / max(1, sum(s.sent for s in steps))

        c1, c0 = cpu_ms("scalepath"), cpu_ms("stock")
        print(f"CPU per request over the sustained steps: scalepath {c1:.1f} ms, stock engine {c0:.1f} ms "
              f"-> {1000 / c1 if c1 else 0:.0f} and {1000 / c0 if c0 else 0:.0f} req/s per whole vCPU; "
              f"load average {os.getloadavg()[0]:.1f}")
        r1, r0 = best("scalepath"), best("stock")
        at = results["scalepath"][options.anchor], results["direct"][options.anchor]
        added_p50 = at[0].percentile(0.50) - at[1].percentile(0.50)
        added_p99 = at[0].percentile(0.99) - at[1].percentile(0.99)
        ratio = f"{r1 / r0:.2f}x" if r0 else "n/a (the stock engine sustained no rate tried)"
        print(f"gateway: {r1:.0f} req/s per vCPU sustained (stock engine {r0:.0f}) -> {ratio}; "
              f"added p50 {added_p50:.1f} ms, p99 {added_p99:.1f} ms at {options.anchor:.0f} req/s per vCPU")
    finally:
        if served is not None:
            served.signal_and_wait(signal.SIGTERM)
        for process in (stock, standin):
            if process is not None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


if __name__ == "__main__":
    main()
