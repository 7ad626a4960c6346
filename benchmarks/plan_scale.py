"""How `scalepath plan` scales with the number of deployments, and where the time goes.

    python benchmarks/plan_scale.py [COUNT ...] [--stack staging]

For each COUNT (default 10 100 1000), in a fresh interpreter: the stack's deployments (staging:
its ``chat`` SageMaker endpoint, 11 resources) cloned and renamed until there are COUNT, then
planned as ``scalepath plan`` plans: the program under mocks (config parsing and pre-flight
checks included), the cost estimate, and the policy pack over the Analyzer protocol (pack start
included). A one-deployment plan runs first so imports are reported apart (``warmup_s``).
Prints per COUNT: resources, seconds and share of each phase, resources per second end to end,
and peak RSS of this process and of the pack process. Targets: 1,000 deployments (~11,000
resources) under 90 s and 1.5 GiB, time linear in resources.

Measured here at 7ce000f (2 cores shared, load ~4): 10 -> 142 resources 1.8 s (78/s; program
22%, policy 78%, cost 0%); 100 -> 1,402 resources 9.2 s (152/s; program 55%, policy 40%, cost
4%; 356 MiB + pack 309 MiB); 300 -> 4,202 resources 80.7 s (52/s, under other load; 597 MiB
+ pack 535 MiB). Before the GC change 100 took 62 s (23/s). At 071f640 (load ~4-6): 1000 ->
14,002 resources 228 s (61/s; program 59%, policy 31%, cost 10%; 1,469 MiB + pack 1,313 MiB);
before components/dynamic.py it failed with RecursionError (see docs/architecture.md).
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
