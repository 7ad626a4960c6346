"""The CI matrix: every shipped stack (``environments/Pulumi.<stack>.yaml``) with what its
preview, deploy and drift jobs need — the clouds to log in to, the GKE auth plugin, and a
runner that can reach the cluster's API.

A stack whose EKS/GKE control plane is private (``network.mode: private`` with an ``eks-vllm`` or
``gke-vllm`` deployment) cannot be previewed or deployed from a GitHub-hosted runner: its jobs run
on a self-hosted runner inside the VPC, labelled ``--private-runner-label``. Without a label such
a stack is an error, not a silent skip.

``python -m scalepath.ci --private-runner-label LABEL`` prints ``key=<json>`` lines for
``$GITHUB_OUTPUT``: ``all`` (every stack) and one list per environment (``dev``, ``staging``,
``prod``), the deploy order.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod")
"""Deploy order."""
CLUSTER_STAGES = {"eks-vllm", "gke-vllm"}
_PROVIDER_KEYS = {"aws": "aws:region", "gcp": "gcp:project", "azure": "azure-native:location"}
GITHUB_HOSTED = ["ubuntu-latest"]


class CiConfigError(ValueError):
    """The shipped stacks cannot be put in a CI matrix as they are; the message says why."""


@dataclass(frozen=True)
class StackJob:
    """One stack's CI job settings (a matrix entry)."""

    stack: str
    environment: str
    """GitHub environment (``dev``/``staging``/``prod``): approvals and per-environment secrets."""
    clouds: list[str]
    """Clouds to log in to: the stack's provider targets and budget clouds."""
    gke: bool
    """Needs ``gke-gcloud-auth-plugin`` (the Kubernetes provider's kubeconfig execs it)."""
    private_cluster: bool
    runner: list[str]
    """``runs-on`` labels: GitHub-hosted, or self-hosted in the VPC for a private control plane."""


def stack_job(path: Path, private_runner_label: str | None) -> StackJob:
    """The job settings of one ``Pulumi.<stack>.yaml``."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    environment = config.get("scalepath:environment")
    if environment not in ENVIRONMENTS:
        raise CiConfigError(f"{path.name}: scalepath:environment is {environment!r}; "
                            f"one of {', '.join(ENVIRONMENTS)} is needed to order the deploy")
    budget = config.get("scalepath:budget") or {}
    clouds = sorted({cloud for cloud, key in _PROVIDER_KEYS.items() if key in config}
                    | {cloud for cloud in _PROVIDER_KEYS if budget.get(cloud) is not None})
    stages = {d.get("stage") for d in config.get("scalepath:deployments") or [] if isinstance(d, dict)}
    private = (config.get("scalepath:network") or {}).get("mode") == "private" and bool(stages & CLUSTER_STAGES)
    if private and not private_runner_label:
        raise CiConfigError(
            f"{stack}: its Kubernetes API endpoint is private (network.mode private with "
            f"{' and '.join(sorted(stages & CLUSTER_STAGES))}), so GitHub-hosted runners cannot reach it; "
            "run a self-hosted runner inside the VPC and set the repository variable "
            "SCALEPATH_PRIVATE_RUNNER_LABEL (or the workflow input private-runner-label) to its label")
    return StackJob(stack=stack, environment=environment, clouds=clouds, gke="gke-vllm" in stages,
                    private_cluster=private,
                    runner=["self-hosted", private_runner_label] if private and private_runner_label
                    else GITHUB_HOSTED)


def stack_jobs(root: Path = ROOT, private_runner_label: str | None = None) -> list[StackJob]:
    """Every shipped stack, dev first, then staging, then prod (by name within each)."""
    jobs = [stack_job(path, private_runner_label)
            for path in sorted((root / "environments").glob("Pulumi.*.yaml"))]
    return sorted(jobs, key=lambda job: (ENVIRONMENTS.index(job.environment), job.stack))


def github_outputs(jobs: Sequence[StackJob]) -> dict[str, str]:
    """``all`` and one list per environment, as compact JSON for ``fromJSON`` in a matrix."""
    out = {"all": [asdict(job) for job in jobs]}
    for environment in ENVIRONMENTS:
        out[environment] = [asdict(job) for job in jobs if job.environment == environment]
    return {key: json.dumps(value, separators=(",", ":")) for key, value in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalepath.ci", description=__doc__.split("\n\n")[0])
    parser.add_argument("--private-runner-label", default="",
                        help="label of the self-hosted runner inside the VPC (private control planes)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        jobs = stack_jobs(args.root, args.private_runner_label.strip() or None)
    except CiConfigError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 2
    for key, value in github_outputs(jobs).items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
