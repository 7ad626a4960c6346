"""The offline plan: JSON contract, tags on every taggable resource, secrets never printed."""

from __future__ import annotations

import gc
import json
import runpy

import jsonschema
import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import resource as pulumi_resource

import scalepath.plan
import stacks.program
from scalepath.plan import RecordingMonitor, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER, load_stack_config
from scalepath.wire import SECRET
from tests.support import ROOT, SHIPPED, stack_config
from tests.support.taggability import tag_property, tags_of

PLAN_SCHEMA = {
    "type": "object",
    "required": ["stack", "project", "resources", "violations", "cost"],
    "properties": {
        "stack": {"type": "string"},
        "project": {"type": "string"},
        "resources": {"type": "array", "items": {
            "type": "object",
            "required": ["urn", "type", "name", "parent", "custom", "inputs"],
            "additionalProperties": False,
            "properties": {
                "urn": {"type": "string", "pattern": "^urn:pulumi:"},
                "type": {"type": "string"},
                "name": {"type": "string"},
                "parent": {"type": ["string", "null"]},
                "custom": {"type": "boolean"},
                "inputs": {"type": "object"},
            }}},
        "violations": {"type": "array", "items": {
            "type": "object", "required": ["policy", "level", "urn", "message"],
            "properties": {"level": {"enum": ["mandatory", "advisory"]}}}},
        "cost": {"type": "object", "required": ["monthly_usd", "lines"],
                 "properties": {"lines": {"type": "array"}}},
    },
}

REQUIRED_KEYS = ("team", "cost-center", "environment", "stack", "managed-by")


@pytest.mark.parametrize("stack", SHIPPED)
def test_plan_json_matches_the_contract(shipped_plan, stack: str) -> None:
    document = json.loads(json.dumps(shipped_plan(stack).to_json()))
    jsonschema.validate(document, PLAN_SCHEMA)
    urns = {r["urn"] for r in document["resources"]}
    assert len(urns) == len(document["resources"]), "URNs are unique"
    for resource in document["resources"]:
        parent = resource["parent"]
        assert parent is None or parent in urns or parent.split("::")[2] == "pulumi:pulumi:Stack"


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_taggable_resource_carries_the_cost_tags(shipped_plan, stack: str) -> None:
    checked = 0
    for resource in shipped_plan(stack).resources:
        if not resource.custom:
            continue
        prop = tag_property(resource.type)
        if prop is None:
            continue
        tags = tags_of(resource.inputs, prop)
        assert tags is not None, f"{resource.urn} has no {prop}"
        for key in REQUIRED_KEYS:
            assert tags.get(key), f"{resource.urn} {prop} lacks {key!r}"
        checked += 1
    assert checked > 0


def test_tag_property_reads_the_sdks() -> None:
    assert tag_property("aws:ec2/vpc:Vpc") == "tags"
    assert tag_property("aws:iam/rolePolicyAttachment:RolePolicyAttachment") is None
    assert tag_property("gcp:monitoring/notificationChannel:NotificationChannel") == "userLabels"
    assert tag_property("azure-native:resources:ResourceGroup") == "tags"
    assert tag_property("kubernetes:apps/v1:Deployment") == "metadata.labels"
    assert tag_property("kubernetes:helm.sh/v3:Release") is None
    with pytest.raises(LookupError):
        tag_property("aws:nope/nope:Nope")


@pytest.mark.parametrize("stack", SHIPPED)
def test_secure_values_never_reach_the_plan(shipped_plan, stack: str) -> None:
    assert SECRET_PLACEHOLDER not in json.dumps(shipped_plan(stack).to_json())


def test_secret_inputs_are_recorded_redacted(recorder) -> None:
    @pulumi.runtime.test
    def register():
        version = aws.secretsmanager.SecretVersion(
            "token", secret_id="arn:aws:secretsmanager:us-east-1:1:secret:x",
            secret_string=pulumi.Output.secret("hf_" + "a" * 30))
        return version.id

    register()
    (recorded,) = [r for r in recorder.recorded if r.name == "token"]
    assert recorded.inputs["secretString"] == SECRET
    assert "hf_" not in json.dumps(recorded.to_json())


def test_two_plans_in_one_process_do_not_leak(base_config) -> None:
    first = run_plan(stack_config(base_config, stack="one"))
    second = run_plan(stack_config(base_config, stack="two"))
    assert len(first.resources) == len(second.resources)
    assert all(":two::" not in r.urn for r in first.resources)
    assert all(r.urn.startswith("urn:pulumi:two::") for r in second.resources)


def test_budget_alerts_on_actual_at_each_threshold_and_one_forecast(base_config) -> None:
    config = {**base_config, "scalepath:budget": {
        "monthlyUsd": 250, "alertThresholdsPct": [100, 50], "notify": ["a@example.com"], "aws": {}}}
    plan = run_plan(stack_config(config))
    budget = next(r for r in plan.resources if r.type == "aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "250.00"
    assert budget.inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:stack$scalepath-test"]}]
    pairs = sorted((n["threshold"], n["notificationType"]) for n in budget.inputs["notifications"])
    assert pairs == [(50, "ACTUAL"), (100, "ACTUAL"), (100, "FORECASTED")]


def test_azure_budget_filters_on_the_stack_and_gcp_on_the_project(base_config) -> None:
    config = {**base_config,
              "azure-native:location": "westeurope",
              "azure-native:subscriptionId": "11111111-2222-3333-4444-555555555555",
              "gcp:project": "ml-prod", "gcp:region": "europe-west4",
              "scalepath:budget": {"monthlyUsd": 1000, "notify": ["a@example.com", "b@example.com"],
                                   "azure": {"startMonth": "2099-01", "resourceGroup": "ml"},
                                   "gcp": {"billingAccount": "01ABCD-23EF45-6789AB"}}}
    plan = run_plan(stack_config(config))
    azure = next(r.inputs for r in plan.resources if r.type == "azure-native:consumption:Budget")
    assert azure["scope"] == "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/ml"
    assert azure["filter"]["tags"] == {"name": "stack", "operator": "In", "values": ["scalepath-test"]}
    assert azure["timePeriod"]["startDate"] == "2099-01-01T00:00:00Z"
    assert len(azure["notifications"]) == 4  # 50, 80, 100 actual + forecast at 100
    gcp = next(r.inputs for r in plan.resources if r.type == "gcp:billing/budget:Budget")
    assert gcp["budgetFilter"]["projects"] == ["projects/123456789012"]  # the number, as the API stores it
    assert len(gcp["allUpdatesRule"]["monitoringNotificationChannels"]) == 2
    assert {t["spendBasis"] for t in gcp["thresholdRules"]} == {"CURRENT_SPEND", "FORECASTED_SPEND"}
    assert not any(r.type.startswith("aws:") for r in plan.resources), "no AWS budget unless asked"


@pytest.mark.parametrize("stack", SHIPPED)
def test_the_entry_point_composes_the_spec_the_plan_parsed(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The plan parses the config once and composes that spec; `pulumi up` runs stacks/__main__.py,
    # which parses the engine's config itself. Under the plan's runtime both must agree.
    composed: list[object] = []

    def plan_compose(spec: object) -> None:
        composed.append(spec)
        runpy.run_module("stacks", run_name="__main__")

    monkeypatch.setattr(stacks.program, "compose", composed.append)
    monkeypatch.setattr(scalepath.plan, "compose", plan_compose)
    run_plan(load_stack_config(stack, ROOT))
    planned, entry = composed
    assert entry == planned and entry.deployments


def test_a_plan_restores_the_garbage_collector_settings(base_config) -> None:
    before, enabled = gc.get_threshold(), gc.isenabled()
    run_plan(stack_config(base_config))
    assert gc.get_threshold() == before and gc.isenabled() == enabled and gc.get_freeze_count() == 0


def test_registrations_carry_no_stack_trace_and_the_sdk_gets_its_own_back(base_config, monkeypatch) -> None:
    # The hook the plan swaps must exist in the installed SDK (else the swap would do nothing).
    sdk = pulumi_resource._get_stack_trace  # noqa: SLF001
    frames: list[int] = []
    register = RecordingMonitor.RegisterResource

    def spy(self, request):  # noqa: ANN001, ANN202 (the monitor's gRPC method)
        frames.append(len(request.stackTrace.frames))
        return register(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    run_plan(stack_config(base_config))
    assert frames and set(frames) == {0}
    assert pulumi_resource._get_stack_trace is sdk and len(sdk().frames) == 0  # noqa: SLF001 (no __init__ frames here)