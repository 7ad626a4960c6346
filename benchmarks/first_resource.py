"""Seconds from process start to the first resource of a `scalepath plan`.

    python benchmarks/first_resource.py [--stack gke-staging] [--runs 5]

Starts `scalepath plan --stack NAME` in a fresh interpreter (the CLI's own entry point) with two
hooks and prints, from just before the process was spawned (interpreter start-up, imports,
config parsing and pre-flight checks included):

- ``declared``: the program constructs its first resource (the SDK's ``register_resource``);
  everything before it is start-up cost. Only the clouds and stages a stack uses are imported
  (stage registry by module path; provider SDK submodules load when a resource type is first
  used), so a one-cloud stack pays for one provider SDK. Target: 1 s.
- ``registered``: the engine (here the recording mock monitor) receives it. The Python SDK
  sends registrations from its event loop, which runs once the program body has returned, so
  this includes building the whole program and importing every provider submodule it uses.

Median of the runs, wall-clock and the child's CPU time (``*_cpu``); the load average is printed
because a loaded machine stretches wall-clock times.

Measured here (load ~1) at 94812a4: gke-staging declared 0.71 s wall / 0.70 s CPU, registered
1.83 s; dev declared 0.74 s / 0.73 s CPU, registered 0.79 s. Before this issue (load 6-8):
gke-staging declared 2.0 s wall / 1.0 s CPU, registered 7-10 s; dev declared 2.0 s / 1.2 s CPU;
before the lazy registry 9.7 s (gke-staging) and 5.5 s (dev) to the first registration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in the child: record the first registration, then run the CLI as `scalepath` does.
_CHILD = """
import sys, time
import pulumi.resource
from scalepath.plan import RecordingMonitor
declare, register = pulumi.resource.register_resource, RecordingMonitor.RegisterResource
seen = set()
def mark(what, type_):
    if type_ != "pulumi:pulumi:Stack" and what not in seen:
        seen.add(what)
        sys.stderr.write(f"first-{what}-at {time.time()!r} {time.process_time()!r}\\n")
def declared(res, type_, *args, **kwargs):
    mark("declared", type_)
    return declare(res, type_, *args, **kwargs)
def registered(self, request):
    mark("registered", request.type)
    return register(self, request)
pulumi.resource.register_resource = declared
RecordingMonitor.RegisterResource = registered
from scalepath.cli import app
sys.argv = ["scalepath", "plan", "--stack", sys.argv[1], "--json"]
app()
"""


def first_resource_s(stack: str) -> dict[str, float]:
    """One run: wall seconds from spawning the CLI to its first resource, declared and registered,
    and the process's CPU seconds at each (``*_cpu``: less stretched by other load)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.time()
    done = subprocess.run([sys.executable, "-c", _CHILD, stack], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scalepath plan --stack {stack} exited {done.returncode}:\n{done.stderr}")
    marks: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("first-"):
            what, wall, cpu = line.split()
            what = what.removeprefix("first-").removesuffix("-at")
            marks[what], marks[f"{what}_cpu"] = float(wall) - started, float(cpu)
    if "declared" not in marks or "registered" not in marks:
        raise SystemExit(f"stack {stack} registered no resource")
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="gke-staging", help="shipped stack to plan (default: gke-staging)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = [first_resource_s(args.stack) for _ in range(args.runs)]
    figures = " ".join(f"{what}_s={statistics.median(r[what] for r in runs):.2f}"
                       f"(min {min(r[what] for r in runs):.2f})"
                       for what in ("declared", "declared_cpu", "registered", "registered_cpu"))
    print(f"stack={args.stack} first resource {figures} runs={args.runs} loadavg_1m={os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
