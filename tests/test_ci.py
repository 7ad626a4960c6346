"""The preview, deploy and drift workflows cover every shipped stack, with the auth each stack's
clouds need and a runner that can reach its Kubernetes API (issue 14, items 9 and 24); a stack no
runner can reach fails the deploy but only leaves itself out of the preview (issue 24, item 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from scalepath import ci
from tests.support import ROOT, SHIPPED, profiles

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


def outputs(text: str) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in (line.split("=", 1) for line in text.splitlines())}


def test_a_private_stack_without_a_runner_label_fails_the_deploy_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert ci.main(["--root", str(ROOT)]) == 2
    assert "SCALEPATH_PRIVATE_RUNNER_LABEL" in capsys.readouterr().err
    assert ci.main(["--root", str(ROOT), "--private-runner-label", LABEL]) == 0
    lines = outputs(capsys.readouterr().out)
    assert set(lines) == {"all", "skipped", *ci.ENVIRONMENTS} and lines["skipped"] == []


def test_the_preview_matrix_leaves_out_unreachable_stacks_with_a_warning(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a VPC runner only prod (private EKS API) is left out; dev and staging keep their preview."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert ci.main(["--root", str(ROOT), "--skip-unreachable"]) == 0
    captured = capsys.readouterr()
    lines = outputs(captured.out)
    assert lines["skipped"] == ["prod"]
    assert sorted(e["stack"] for e in lines["all"]) == sorted(set(SHIPPED) - {"prod"})
    assert [e["stack"] for e in lines["prod"]] == ["azure-prod", "gcp-prod"]
    assert "::warning title=no preview for prod::" in captured.err
    text = summary.read_text()
    assert "**prod**" in text and "SCALEPATH_PRIVATE_RUNNER_LABEL" in text
    # With the label nothing is left out, and the summary gets no warning.
    summary.unlink()
    assert ci.main(["--root", str(ROOT), "--skip-unreachable", "--private-runner-label", LABEL]) == 0
    assert outputs(capsys.readouterr().out)["skipped"] == [] and not summary.exists()


def test_one_stacks_environment_and_clouds_for_promotion(capsys: pytest.CaptureFixture[str]) -> None:
    """azure-prod's file says ``scalepath:environment: prod``: promotion waits for prod's reviewers."""
    assert ci.main(["--root", str(ROOT), "--stack", "azure-prod"]) == 0
    assert capsys.readouterr().out.splitlines() == ["environment=prod", 'clouds=["azure"]']
    for bad in ("nope", "../environments/Pulumi.dev", ""):
        assert ci.main(["--root", str(ROOT), "--stack", bad]) == 2
        assert "no environments/Pulumi.<stack>.yaml" in capsys.readouterr().err


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
    stacks_step = workflow(name)["jobs"]["stacks"]["steps"][-1]
    assert 'python -m scalepath.ci ' in stacks_step["run"]
    assert '--private-runner-label "$PRIVATE_RUNNER_LABEL"' in stacks_step["run"]
    assert "vars.SCALEPATH_PRIVATE_RUNNER_LABEL" in stacks_step["env"]["PRIVATE_RUNNER_LABEL"]
    # A preview leaves unreachable stacks out (and skips an empty matrix); a deploy fails on them.
    assert ("--skip-unreachable" in stacks_step["run"]) == (name == "preview.yml")
    if name == "preview.yml":
        assert jobs["preview"]["if"] == "needs.stacks.outputs.all != '[]'"


def test_the_setup_action_installs_the_gke_auth_plugin_on_request() -> None:
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    assert "gke-auth-plugin" in action["inputs"]
    step = next(s for s in action["runs"]["steps"] if "setup-gcloud" in str(s.get("uses")))
    assert step["with"]["install_components"] == "gke-gcloud-auth-plugin"
    assert step["if"] == "inputs.gke-auth-plugin == 'true'"


def test_policy_configs_exist_for_every_environment() -> None:
    for environment in {job.environment for job in ci.stack_jobs(ROOT, LABEL)}:
        assert (ROOT / "policies" / "config" / f"{environment}.json").is_file()


def test_ci_draws_the_same_property_examples_every_run() -> None:
    # ci.yml runs .ci/run, which the project's own CI runs too: it selects the profile before pytest.
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script.index("export HYPOTHESIS_PROFILE=ci") < script.index("python -m pytest")
    assert any("bash .ci/run" in step.get("run", "") for step in workflow("ci.yml")["jobs"]["test"]["steps"])
    assert profiles.chosen({"CI": "true"}) == profiles.CI  # GitHub Actions sets CI on every runner
    assert profiles.chosen({}) == profiles.DEV
    assert profiles.chosen({"CI": "true", "HYPOTHESIS_PROFILE": profiles.DEV}) == profiles.DEV
    ci_profile, dev = settings.get_profile(profiles.CI), settings.get_profile(profiles.DEV)
    assert ci_profile.derandomize and ci_profile.database is None and ci_profile.deadline is None
    assert not dev.derandomize and dev.deadline is None
