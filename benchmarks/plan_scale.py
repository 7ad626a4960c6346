"""How `scalepath plan` scales with the number of deployments, and where the time goes.

    python benchmarks/plan_scale.py [COUNT ...] [--stack staging]

For each COUNT (default 10 100 1000), in a fresh interpreter: the stack's deployments (staging:
its ``chat`` SageMaker endpoint, 14 resources) cloned and renamed until there are COUNT, then
planned as ``scalepath plan`` plans: the policy worker and pack start first and check each
resource as the program registers it (docs/policies.md), then the cost estimate. A
one-deployment plan runs first so imports are reported apart (``warmup_s``). Prints per COUNT:
resources, seconds and share of each phase (``program``, including the checks that ran
alongside; ``policy``, the wait for the pack after the program; ``cost``), resources per second
end to end, CPU seconds of this process and of the worker + pack, and peak RSS of this process
and of the largest child. Targets: 1,000 deployments (~14,000 resources) under 90 s and 1.5 GiB,
time linear in resources.

Measured here (2 cores, load ~2) at 31201d4: 10 -> 142 resources 0.9 s (156/s); 100 -> 1,402
resources 3.0 s (466/s; program 96 %, policy 3 %, cost 1 %; 194 MiB); 1,000 -> 14,002 resources
31.5 s (444/s; program 92 %, policy 7 %, cost 1 %; CPU 26.0 s + worker and pack 19.9 s; 997 MiB,
largest child 204 MiB). Before this issue's changes (9a93a11, load ~1): 100 -> 10.4 s (135/s),
1,000 -> 158 s (88/s; program 60 %, policy 29 %, cost 11 %; 1,465 MiB + pack 1,307 MiB); and
before components/dynamic.py 1,000 failed with RecursionError (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scalepath.plan  # noqa: E402
from scalepath.policy_runner import checked, plan_check  # noqa: E402
from scalepath.stackconfig import StackConfig, load_stack_config  # noqa: E402


def scaled_config(stack: str, count: int) -> StackConfig:
    """The stack's config with ``count`` deployments cloned from its own."""
    base = load_stack_config(stack, ROOT)
    templates = json.loads(base.values["scalepath:deployments"])
    if not templates:
        raise SystemExit(f"stack {stack!r} has no deployments to use as templates")
    deployments = []
    for index in range(count):
        template = dict(templates[index % len(templates)])
        template["name"] = f"{template['name'][:24]}-{index}"
        deployments.append(template)
    values = {**base.values, "scalepath:deployments": json.dumps(deployments)}
    return StackConfig(project=base.project, stack=base.stack, values=values, secret_keys=set(base.secret_keys))


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(stack: str, count: int) -> dict[str, float]:
    """Plan ``count`` deployments in this process as the CLI does; seconds per phase, peak RSS."""
    started = time.perf_counter()
    scalepath.plan.run_plan(scaled_config(stack, 1))
    warmup = time.perf_counter() - started
    estimate, cost_s = scalepath.plan.estimate, [0.0]

    def timed_estimate(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 (a pass-through)
        began = time.perf_counter()
        try:
            return estimate(*args, **kwargs)
        finally:
            cost_s[0] += time.perf_counter() - began

    scalepath.plan.estimate = timed_estimate
    config = scaled_config(stack, count)
    cpu = _cpu_s(resource.RUSAGE_SELF)
    started = time.perf_counter()
    # As `scalepath plan`: the pack starts first and checks resources while the program registers them.
    with plan_check(config, ROOT) as check:
        plan = scalepath.plan.run_plan(config, on_record=check.submit)
        planned = time.perf_counter()
        checked(plan, check.report())
        done = time.perf_counter()
    return {"deployments": count, "resources": len(plan.resources), "warmup_s": warmup,
            "program_s": planned - started - cost_s[0], "cost_s": cost_s[0], "policy_s": done - planned,
            "cpu_s": _cpu_s(resource.RUSAGE_SELF) - cpu, "pack_cpu_s": _cpu_s(resource.RUSAGE_CHILDREN),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "pack_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def report(m: dict[str, float]) -> str:
    """One line of figures for a measurement."""
    total = m["program_s"] + m["cost_s"] + m["policy_s"]
    shares = " ".join(f"{phase}={m[f'{phase}_s']:.1f}s({m[f'{phase}_s'] / total:.0%})"
                      for phase in ("program", "policy", "cost"))
    return (f"deployments={m['deployments']} resources={m['resources']:.0f} total={total:.1f}s "
            f"resources_per_s={m['resources'] / total:.0f} {shares} cpu={m['cpu_s']:.1f}s "
            f"pack_cpu={m['pack_cpu_s']:.1f}s peak_rss_mib={m['peak_rss_mib']:.0f} "
            f"pack_peak_rss_mib={m['pack_peak_rss_mib']:.0f} warmup_s={m['warmup_s']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", type=int, nargs="*", default=[10, 100, 1000], help="numbers of deployments")
    parser.add_argument("--stack", default="staging", help="environment whose deployments are the templates")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child: one count, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.stack, args.counts[0])))
        return
    for count in args.counts:  # a fresh interpreter each: peak RSS and caches are per count
        done = subprocess.run([sys.executable, __file__, str(count), "--stack", args.stack, "--one"],
                              capture_output=True, text=True, check=True)
        print(report(json.loads(done.stdout.splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
