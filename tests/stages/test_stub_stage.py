"""docs/adding-a-stage.md is the whole checklist: a stage added the way it says (a Stage value,
a module with DEFINITION, a registry entry) plans and is advised on, with nothing else touched.

The stub's module is built here and put in ``sys.modules``; ``Stage`` is closed at runtime, so its
value is added through the enum's member tables. Both are undone when the test ends.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws
import pytest

import stacks.stages
from scalepath.cost.advisor import Workload, advise
from scalepath.cost.throughput import resolve_model
from stacks.config import Cloud, DeploymentBase, Stage
from stacks.context import StackContext
from stacks.stages import STAGES
from stacks.stages.base import StageDef, StageEntry
from tests.support import plan

STUB = "stub-endpoint"
MODULE = "tests_stub_stage_module"


def _stub_module(stage: Stage) -> types.ModuleType:
    class StubDeployment(DeploymentBase):
        """A deployment of the stub stage: one log group, in AWS."""

        stage_value: ClassVar[Stage] = stage

        def clouds(self) -> set[Cloud]:
            return {Cloud.AWS}

    def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, pulumi.Input[Any]]:
        logs = aws.cloudwatch.LogGroup(f"{deployment.name}-logs", retention_in_days=7, tags=ctx.tags(deployment))
        return {"logGroup": logs.name}

    module = types.ModuleType(MODULE)
    module.DEFINITION = StageDef(settings=StubDeployment, build=build)
    return module


@pytest.fixture
def stub_stage(monkeypatch) -> Iterator[Stage]:
    member = str.__new__(Stage, STUB)
    member._name_, member._value_ = "STUB_ENDPOINT", STUB
    monkeypatch.setitem(Stage._member_map_, "STUB_ENDPOINT", member)
    monkeypatch.setitem(Stage._value2member_map_, STUB, member)
    monkeypatch.setattr(Stage, "_member_names_", [*Stage._member_names_, "STUB_ENDPOINT"])
    monkeypatch.setitem(sys.modules, MODULE, _stub_module(member))
    monkeypatch.setitem(stacks.stages.ENTRIES, member, StageEntry(
        MODULE, catalog_family="ec2", private=True, usage_priced=False, fixed_cost_types=(), scales_to_zero=False))
    yield member


def test_a_stage_added_by_the_checklist_plans_and_is_advised_on(stub_stage, monkeypatch):
    result = plan({
        "aws:region": "us-east-1",
        "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"]},
        "scalepath:deployments": [{"name": "stubby", "model": "org/model-8B", "stage": STUB}],
    })
    logs = [r for r in result.resources if r.type == "aws:cloudwatch/logGroup:LogGroup"]
    assert [r.inputs["tags"]["stage"] for r in logs] == [STUB]
    assert any(line["type"] == "aws:cloudwatch/logGroup:LogGroup" for line in result.cost["lines"])

    advice = advise(Workload(resolve_model("meta-llama/Llama-3.1-8B-Instruct"), 1_000_000, 500, 250))
    stub = next(report for report in advice.stages if report.stage == STUB)
    assert stub.available and stub.estimates

    monkeypatch.undo()  # removing it leaves the registry as it was
    assert STUB not in {s.value for s in Stage} and STUB not in {s.value for s in STAGES}
    assert MODULE not in sys.modules
