"""`scalepath plan` with the policy pack: shipped environments pass, unsafe prod stacks exit 1.

The unsafe stacks are the real program's plan plus synthesized resources shaped like a
stage's (or minus its budget).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import scalepath.cli
from scalepath.cli import app
from scalepath.plan import Plan, run_plan
from scalepath.policy_runner import check_plan
from scalepath.stackconfig import load_stack_config
from tests.support import SHIPPED
from tests.support.policy import ROOT, TAGS, resource

runner = CliRunner()


BUDGET_TYPES = {"aws:budgets/budget:Budget", "gcp:billing/budget:Budget", "azure-native:consumption:Budget"}


@pytest.mark.parametrize("stack", SHIPPED)  # every shipped environment, not a hand-kept list
def test_shipped_environments_have_no_mandatory_violations(shipped_plan, stack):
    config = load_stack_config(stack, ROOT)
    plan = check_plan(shipped_plan(stack), config, ROOT)
    assert {r.type for r in plan.resources} & BUDGET_TYPES
    assert [v for v in plan.violations if v["level"] == "mandatory"] == []


def _plan_with(monkeypatch, add=(), drop_types=()):
    """Make the CLI's plan the real one plus ``add`` and minus resources of ``drop_types``."""
    def patched(config, on_record=None) -> Plan:
        plan = run_plan(config)
        kept = [r for r in plan.resources if r.type not in drop_types]
        plan = replace(plan, resources=kept + [replace(r, urn=r.urn.replace("test", config.stack)) for r in add])
        for recorded in plan.resources:  # what the CLI's pack sees as the program registers
            on_record(recorded)
        return plan
    monkeypatch.setattr(scalepath.cli, "run_plan", patched)


def _invoke(*args: str):
    result = runner.invoke(app, ["plan", *args, "--json"])
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, document


def test_prod_with_a_public_load_balancer_and_a_missing_tag_fails(monkeypatch):
    public = resource("kubernetes:core/v1:Service", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "vllm", "namespace": "llm", "labels": {k: v for k, v in TAGS.items() if k != "team"}},
        "spec": {"type": "LoadBalancer"}}, name="vllm-svc")
    _plan_with(monkeypatch, add=[public])
    result, document = _invoke("--stack", "prod")
    assert result.exit_code == 1
    mandatory = {(v["policy"], v["urn"]) for v in document["violations"] if v["level"] == "mandatory"}
    urn = public.urn.replace("test", "prod")
    assert mandatory == {("private-endpoints-in-prod", urn), ("required-tags", urn)}


def test_prod_without_a_budget_fails(monkeypatch):
    endpoint = resource("aws:sagemaker/model:Model", {"tags": dict(TAGS), "executionRoleArn": "arn",
                                                      "vpcConfig": {"subnets": ["s"], "securityGroupIds": ["g"]}})
    _plan_with(monkeypatch, add=[endpoint], drop_types={"aws:budgets/budget:Budget"})
    result, document = _invoke("--stack", "prod")
    assert result.exit_code == 1
    assert [(v["policy"], v["level"], v["message"]) for v in document["violations"]] == [
        ("budget-per-stack", "mandatory", "The stack creates aws resources but has no `aws:budgets/budget:Budget`.")]


def test_readable_report_lists_violations_and_how_to_fix(monkeypatch):
    _plan_with(monkeypatch, drop_types={"aws:budgets/budget:Budget"},
               add=[resource("aws:sagemaker/model:Model", {"tags": dict(TAGS)})])
    result = runner.invoke(app, ["plan", "--stack", "dev"], terminal_width=200)
    assert result.exit_code == 1
    assert "budget-per-stack" in result.stdout and "Set `scalepath:budget`" in result.stdout


def test_bad_policy_config_exits_2_naming_policy_and_field(tmp_path):
    bad = tmp_path / "policy.json"
    bad.write_text(json.dumps({"budget-per-stack": {"maxMonthlyUsd": "lots"}}))
    result = runner.invoke(app, ["plan", "--stack", "dev", "--policy-config", str(bad)], terminal_width=200)
    assert result.exit_code == 2
    assert "policy `budget-per-stack`: `maxMonthlyUsd`: 'lots' is not of type 'number'" in result.stderr
    assert "Traceback" not in result.stderr


def test_policy_config_option_changes_the_outcome(tmp_path):
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"budget-per-stack": {"maxMonthlyUsd": 100}}))
    result, document = _invoke("--stack", "dev", "--policy-config", str(strict))
    assert result.exit_code == 1
    # Policies the file leaves out run at their pack defaults (not dev's relaxed levels).
    assert [v["message"] for v in document["violations"] if v["policy"] == "budget-per-stack"] == [
        "The budget amount $300.00 exceeds this environment's cap of $100.00."]
