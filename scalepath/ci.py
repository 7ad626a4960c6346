"""The CI matrix: every shipped stack (``environments/Pulumi.<stack>.yaml``) with what its
preview, deploy and drift jobs need — the clouds to log in to, the GKE auth plugin, and a
runner that can reach the cluster's API.

A stack whose EKS/GKE control plane is private (``network.mode: private`` with an ``eks-vllm`` or
``gke-vllm`` deployment) cannot be previewed or deployed from a GitHub-hosted runner: its jobs run
on a self-hosted runner inside the VPC, labelled ``--private-runner-label``. Without a label such
a stack is an error (deploy: a skipped prod would look green), or with ``--skip-unreachable``
(preview) left out of the matrix with a warning in the job summary, so the other stacks still get
their preview.

``python -m scalepath.ci --private-runner-label LABEL`` prints ``key=<json>`` lines for
``$GITHUB_OUTPUT``: ``all`` (every stack) and one list per environment (``dev``, ``staging``,
``prod``), the deploy order, and ``skipped`` (the stacks ``--skip-unreachable`` left out).
``python -m scalepath.ci --stack NAME`` prints one stack's ``environment`` and ``clouds`` (the
promote workflow's GitHub environment and logins).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from stacks.config import Cloud
from stacks.stages.entries import ENTRIES, cluster_cloud

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod")
"""Deploy order."""
_PROVIDER_KEYS = {"aws": "aws:region", "gcp": "gcp:project", "azure": "azure-native:location"}
GITHUB_HOSTED = ["ubuntu-latest"]


_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class CiConfigError(ValueError):
    """The shipped stacks cannot be put in a CI matrix as they are; the message says why."""


class NoRunnerError(CiConfigError):
    """A stack no runner can reach: its cluster API is private and no VPC runner label is set."""

    def __init__(self, stack: str, message: str) -> None:
        super().__init__(message)
        self.stack = stack


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


def _config(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {}


def _environment(path: Path, config: dict) -> str:
    """The stack's GitHub environment: its ``scalepath:environment`` (the one mapping CI uses)."""
    environment = config.get("scalepath:environment")
    if environment not in ENVIRONMENTS:
        raise CiConfigError(f"{path.name}: scalepath:environment is {environment!r}; "
                            f"one of {', '.join(ENVIRONMENTS)} is needed to order the deploy")
    return environment


def _clouds(config: dict) -> list[str]:
    budget = config.get("scalepath:budget") or {}
    return sorted({cloud for cloud, key in _PROVIDER_KEYS.items() if key in config}
                  | {cloud for cloud in _PROVIDER_KEYS if budget.get(cloud) is not None})


def stack_job(path: Path, private_runner_label: str | None) -> StackJob:
    """The job settings of one ``Pulumi.<stack>.yaml``."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config = _config(path)
    environment = _environment(path, config)
    clouds = _clouds(config)
    stages = {d.get("stage") for d in config.get("scalepath:deployments") or [] if isinstance(d, dict)}
    # The cloud of each Kubernetes cluster the stack creates, by the stage that creates it.
    clusters = {s.value: cloud for s in ENTRIES if s.value in stages and (cloud := cluster_cloud(s))}
    private = (config.get("scalepath:network") or {}).get("mode") == "private" and bool(clusters)
    if private and not private_runner_label:
        raise NoRunnerError(stack,
            f"{stack}: its Kubernetes API endpoint is private (network.mode private with "
            f"{' and '.join(sorted(clusters))}), so GitHub-hosted runners cannot reach it; "
            "run a self-hosted runner inside the VPC and set the repository variable "
            "SCALEPATH_PRIVATE_RUNNER_LABEL (or the workflow input private-runner-label) to its label")
    return StackJob(stack=stack, environment=environment, clouds=clouds, gke=Cloud.GCP in clusters.values(),
                    private_cluster=private,
                    runner=["self-hosted", private_runner_label] if private and private_runner_label
                    else GITHUB_HOSTED)


def _stack_files(root: Path) -> list[Path]:
    return sorted((root / "environments").glob("Pulumi.*.yaml"))


def _deploy_order(jobs: list[StackJob]) -> list[StackJob]:
    return sorted(jobs, key=lambda job: (ENVIRONMENTS.index(job.environment), job.stack))


def stack_jobs(root: Path = ROOT, private_runner_label: str | None = None) -> list[StackJob]:
    """Every shipped stack, dev first, then staging, then prod (by name within each)."""
    return _deploy_order([stack_job(path, private_runner_label) for path in _stack_files(root)])


def reachable_jobs(root: Path = ROOT, private_runner_label: str | None = None
                   ) -> tuple[list[StackJob], list[NoRunnerError]]:
    """The stacks a runner can reach, in deploy order, and why each other stack is left out."""
    jobs: list[StackJob] = []
    skipped: list[NoRunnerError] = []
    for path in _stack_files(root):
        try:
            jobs.append(stack_job(path, private_runner_label))
        except NoRunnerError as error:
            skipped.append(error)
    return _deploy_order(jobs), skipped


def stack_target(root: Path, stack: str) -> dict[str, str]:
    """One stack's GitHub environment and clouds, as ``$GITHUB_OUTPUT`` values (promote.yml)."""
    path = root / "environments" / f"Pulumi.{stack}.yaml"
    if not _STACK_NAME.fullmatch(stack) or not path.is_file():
        raise CiConfigError(f"--stack {stack!r}: no environments/Pulumi.<stack>.yaml of that name")
    config = _config(path)
    return {"environment": _environment(path, config),
            "clouds": json.dumps(_clouds(config), separators=(",", ":"))}


def github_outputs(jobs: Sequence[StackJob], skipped: Sequence[NoRunnerError] = ()) -> dict[str, str]:
    """``all``, one list per environment and ``skipped``, as compact JSON for ``fromJSON``."""
    out: dict[str, list] = {"all": [asdict(job) for job in jobs]}
    for environment in ENVIRONMENTS:
        out[environment] = [asdict(job) for job in jobs if job.environment == environment]
    out["skipped"] = [error.stack for error in skipped]
    return {key: json.dumps(value, separators=(",", ":")) for key, value in out.items()}


def _warn_skipped(skipped: Sequence[NoRunnerError]) -> None:
    """A workflow warning per skipped stack, and the list in the job summary where there is one."""
    for error in skipped:
        print(f"::warning title=no preview for {error.stack}::{error}", file=sys.stderr)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if skipped and summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write("### :warning: Stacks left out (no runner can reach them)\n\n")
            out.writelines(f"- **{error.stack}**: {error}\n" for error in skipped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalepath.ci", description=__doc__.split("\n\n")[0])
    parser.add_argument("--private-runner-label", default="",
                        help="label of the self-hosted runner inside the VPC (private control planes)")
    parser.add_argument("--skip-unreachable", action="store_true",
                        help="leave out stacks no runner can reach, with a warning, instead of failing")
    parser.add_argument("--stack", help="print this stack's environment and clouds only")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    label = args.private_runner_label.strip() or None
    try:
        if args.stack is not None:
            outputs = stack_target(args.root, args.stack)
        elif args.skip_unreachable:
            jobs, skipped = reachable_jobs(args.root, label)
            _warn_skipped(skipped)
            outputs = github_outputs(jobs, skipped)
        else:
            outputs = github_outputs(stack_jobs(args.root, label))
    except CiConfigError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 2
    for key, value in outputs.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
