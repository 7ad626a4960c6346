"""`scalepath plan` against AWS CDK synth + cdk-nag for the same N SageMaker endpoints, alternating.

    python benchmarks/plan_vs_cdk.py --peer-python /tmp/sp/cdk-venv/bin/python \\
        --peer-script ../shared/peers/cdk_sagemaker_hf.py [--deployments 50] [--rounds 3]

The peer (``cdk_sagemaker_hf.py N``: CDK synth plus cdk-nag's AwsSolutions checks, in process)
needs its own virtualenv and Node.js:

    python3 -m venv /tmp/sp/cdk-venv
    /tmp/sp/cdk-venv/bin/pip install aws-cdk-lib constructs "cdk-nag<3"

Each round runs both as whole processes, as a user runs them, in alternating order (a loaded
machine drifts; a ratio taken within one run holds, an absolute time does not): scalepath is
`scalepath plan --stack staging --config FILE` with staging's ``chat`` deployment cloned N
times (program + policy pack + cost). Prints each run, the medians and the ratio
peer / scalepath (goal: at least 1.5).

Measured here (2 cores shared), 50 clones: at a109ef5, 5 rounds, load ~2: scalepath 3.07 s vs
peer 5.53 s (ratio 1.80; per round 3.02, 1.78, 1.84, 1.83, 1.64). Before issue 15's changes, at
9a93a11 (load ~1): 18.0 s vs 7.2 s (0.40); at 7ce000f (load 4-8): 12.3 s vs 10.6 s (0.86). The
scalepath runs are warm: the first plan after installing the SDKs fills the disk memo
(components/disk_memo.py) and imports them once. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def scaled_stack_file(count: int, folder: Path) -> Path:
    """staging's config with its deployments cloned (renamed) ``count`` times, as a stack file."""
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.staging.yaml").read_text())
    templates = document["config"]["scalepath:deployments"]
    document["config"]["scalepath:deployments"] = [
        {**templates[i % len(templates)], "name": f"{templates[i % len(templates)]['name'][:24]}-{i}"}
        for i in range(count)]
    path = folder / f"Pulumi.staging-x{count}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one whole process; it must succeed (scalepath: exit 0 or 1, a complete plan)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of the virtualenv with aws-cdk-lib and cdk-nag")
    parser.add_argument("--peer-script", required=True, type=Path, help="path to cdk_sagemaker_hf.py")
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scalepath_bin = Path(sys.executable).with_name("scalepath")
    env = dict(os.environ, PYTHONPATH=str(ROOT), JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1")
    with tempfile.TemporaryDirectory(prefix="scalepath-bench-") as tmp:
        stack_file = scaled_stack_file(args.deployments, Path(tmp))
        commands = {
            "scalepath": [str(scalepath_bin), "plan", "--stack", "staging", "--config", str(stack_file)],
            "peer": [args.peer_python, str(args.peer_script.resolve()), str(args.deployments)],
        }
        runs: dict[str, list[float]] = {"scalepath": [], "peer": []}
        for round_ in range(args.rounds):
            order = ("scalepath", "peer") if round_ % 2 == 0 else ("peer", "scalepath")
            for name in order:
                runs[name].append(timed(commands[name], env))
                print(f"round={round_ + 1} {name}={runs[name][-1]:.2f}s", flush=True)
    medians = {name: statistics.median(times) for name, times in runs.items()}
    per_round = [peer / ours for peer, ours in zip(runs["peer"], runs["scalepath"], strict=True)]
    print(json.dumps({"deployments": args.deployments, "rounds": args.rounds,
                      "scalepath_median_s": round(medians["scalepath"], 2), "peer_median_s": round(medians["peer"], 2),
                      "ratio_peer_over_scalepath": round(medians["peer"] / medians["scalepath"], 2),
                      "ratio_per_round": [round(r, 2) for r in per_round],
                      "loadavg_1m": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
