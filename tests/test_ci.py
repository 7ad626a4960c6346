"""The preview, deploy and drift workflows cover every shipped stack, with the auth each stack's
clouds need and a runner that can reach its Kubernetes API (issue 14, items 9 and 24)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalepath import ci
from tests.support import ROOT, SHIPPED

WORKFLOWS = ROOT / ".github" / "workflows"
LABEL = "vpc-runner"


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def jobs_by_stack() -> dict[str, ci.StackJob]:
    return {job.stack: job for job in ci.stack_jobs(ROOT, LABEL)}


def test_every_shipped_stack_is_in_the_matrix_once() -> None:
    assert sorted(job.stack for job in ci.stack_jobs(ROOT, LABEL)) == SHIPPED
    outputs = {k: json.loads(v) for k, v in ci.github_outputs(ci.stack_jobs(ROOT, LABEL)).items()}
    assert sorted(e["stack"] for e in outputs["all"]) == SHIPPED
    assert sorted(e["stack"] for env in ci.ENVIRONMENTS for e in outputs[env]) == SHIPPED


def test_stacks_carry_the_clouds_and_plugins_they_need() -> None:
    jobs = jobs_by_stack()
    assert jobs["azure-prod"].clouds == ["azure"] and jobs["gcp-prod"].clouds == ["gcp"]
    assert jobs["gke-staging"].gke and not jobs["prod"].gke
    assert "aws" in jobs["prod"].clouds


def test_private_control_planes_run_in_the_vpc_and_public_ones_on_github() -> None:
    jobs = jobs_by_stack()
    assert jobs["prod"].private_cluster and jobs["prod"].runner == ["self-hosted", LABEL]
    # Private Azure ML / Vertex keep public management APIs: GitHub-hosted runners reach them.
    for stack in ("dev", "staging", "gke-staging", "azure-prod", "gcp-prod"):
        assert jobs[stack].runner == ci.GITHUB_HOSTED, stack


def test_a_private_stack_without_a_runner_label_is_an_error_not_a_skip(capsys: pytest.CaptureFixture[str]) -> None:
    assert ci.main(["--root", str(ROOT)]) == 2
    assert "SCALEPATH_PRIVATE_RUNNER_LABEL" in capsys.readouterr().err
    assert ci.main(["--root", str(ROOT), "--private-runner-label", LABEL]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert set(lines) == {"all", *ci.ENVIRONMENTS}


def test_deploy_order_follows_the_environments(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    for stack, environment in (("z-dev", "dev"), ("a-prod", "prod"), ("m-staging", "staging")):
        (tmp_path / "environments" / f"Pulumi.{stack}.yaml").write_text(
            yaml.safe_dump({"config": {"aws:region": "us-east-1", "scalepath:environment": environment}}))
    assert [job.stack for job in ci.stack_jobs(tmp_path)] == ["z-dev", "m-staging", "a-prod"]
    (tmp_path / "environments" / "Pulumi.odd.yaml").write_text(yaml.safe_dump({"config": {}}))
    with pytest.raises(ci.CiConfigError, match="scalepath:environment"):
        ci.stack_jobs(tmp_path)


def cloud_jobs(name: str) -> dict[str, dict[str, Any]]:
    """Jobs of a workflow that talk to the clouds (they use the setup action)."""
    return {key: job for key, job in workflow(name)["jobs"].items()
            if any(step.get("uses") == "./.github/actions/setup" for step in job.get("steps", []))}


@pytest.mark.parametrize(("name", "expected"), [
    ("preview.yml", {"preview": "all"}),
    ("deploy.yml", {"dev": "dev", "staging": "staging", "prod": "prod", "drift": "all"}),
])
def test_workflow_matrices_come_from_the_stack_list(name: str, expected: dict[str, str]) -> None:
    jobs = cloud_jobs(name)
    assert set(jobs) == set(expected)
    for key, output in expected.items():
        job = jobs[key]
        assert job["strategy"]["matrix"] == {"include": f"${{{{ fromJSON(needs.stacks.outputs.{output}) }}}}"}
        assert job["runs-on"] == "${{ matrix.runner }}"
        assert "stacks" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"])
        setup = next(s for s in job["steps"] if s.get("uses") == "./.github/actions/setup")["with"]
        assert setup["gke-auth-plugin"] == "${{ matrix.gke }}"
        for cloud, key_name in (("aws", "aws-role-arn"), ("azure", "azure-client-id"),
                                ("gcp", "gcp-workload-identity-provider")):
            assert f"contains(matrix.clouds, '{cloud}')" in setup[key_name]
        pulumi_steps = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions")]
        assert pulumi_steps and all(s["with"]["stack-name"] == "${{ matrix.stack }}" for s in pulumi_steps)
        assert all("${{ matrix.environment }}" in s["with"]["policyPackConfigs"] for s in pulumi_steps)
    stacks_step = workflow(name)["jobs"]["stacks"]["steps"][-1]["run"]
    assert "python -m scalepath.ci --private-runner-label" in stacks_step
    assert "SCALEPATH_PRIVATE_RUNNER_LABEL" in stacks_step


def test_the_setup_action_installs_the_gke_auth_plugin_on_request() -> None:
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    assert "gke-auth-plugin" in action["inputs"]
    step = next(s for s in action["runs"]["steps"] if "setup-gcloud" in str(s.get("uses")))
    assert step["with"]["install_components"] == "gke-gcloud-auth-plugin"
    assert step["if"] == "inputs.gke-auth-plugin == 'true'"


def test_policy_configs_exist_for_every_environment() -> None:
    for environment in {job.environment for job in ci.stack_jobs(ROOT, LABEL)}:
        assert (ROOT / "policies" / "config" / f"{environment}.json").is_file()
