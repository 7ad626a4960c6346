"""How `scalepath plan` scales with the number of deployments.

    python benchmarks/plan_scale.py N [--stack prod]

Takes the deployments of a shipped environment as templates, repeats them (renamed) until
there are N, plans the result in this process under the real mocks, and prints resources
planned per second and the process's peak memory. A one-deployment plan runs first, so module
imports (the provider SDKs, the SageMaker SDK: seconds) are reported apart from the steady
state. Run each N in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scalepath.plan import run_plan  # noqa: E402
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
    return StackConfig(project=base.project, stack=f"{stack}-x{count}", values=values,
                       secret_keys=set(base.secret_keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of deployments")
    parser.add_argument("--stack", default="prod", help="environment whose deployments are the templates")
    args = parser.parse_args()
    started = time.perf_counter()
    run_plan(scaled_config(args.stack, 1))
    warmup = time.perf_counter() - started
    config = scaled_config(args.stack, args.count)
    started = time.perf_counter()
    plan = run_plan(config)
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"deployments={args.count} resources={len(plan.resources)} seconds={elapsed:.2f} "
          f"resources_per_s={len(plan.resources) / elapsed:.1f} peak_rss_mib={peak_mib:.0f} "
          f"first_plan_with_imports_s={warmup:.2f}")


if __name__ == "__main__":
    main()
