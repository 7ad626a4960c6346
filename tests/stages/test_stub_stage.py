"""docs/adding-a-stage.md is the whole checklist: a stage added the way it says (a Stage value, a
module with a settings model, ``build``, ``contract`` and DEFINITION, a registry entry) plans, is
advised on and is routed by the gateway, with a secret of its own, with nothing else touched.

The stub's module is built here and put in ``sys.modules``; ``Stage`` is closed at runtime, so its
value is added through the enum's member tables. Both are undone when the test ends.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from typer.testing import CliRunner

import stacks.stages
from scalepath.cli import app
from scalepath.cost.advisor import Workload, advise
from scalepath.cost.throughput import resolve_model
from scalepath.plan import run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER
from stacks.config import Cloud, DeploymentBase, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import Access, AccessKind, Auth, CostBasis, CostKind, Protocol, Reach, Scope, StageContract
from stacks.needs import Needs
from stacks.stages import STAGES
from stacks.stages.base import StageDef
from stacks.stages.entries import StageEntry
from tests.support import one, stack_config

STUB = "stub-endpoint"
MODULE = "tests_stub_stage_module"
#: The stub's own top-level secret: its API key.
SECRET = "stubApiKey"


def _stub_module(stage: Stage) -> types.ModuleType:
    class StubDeployment(DeploymentBase):
        """A deployment of the stub stage: one log group in AWS, an OpenAI-compatible API with a key."""

        stage_value: ClassVar[Stage] = stage

        def clouds(self) -> set[Cloud]:
            return {Cloud.AWS}

        def required_secrets(self) -> set[str]:
            return {SECRET}
        def needs(self) -> tuple[Needs, ...]:
            return ()  # runs no model

    def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, pulumi.Input[Any]]:
        logs = aws.cloudwatch.LogGroup(f"{deployment.name}-logs", retention_in_days=7, tags=ctx.tags(deployment))
        return {"logGroup": logs.name, "baseUrl": logs.name.apply(lambda n: f"https://{n}.stub.example/v1")}

    def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
        return StageContract(
            deployment=deployment.name, protocols=frozenset({Protocol.CHAT}),
            access=Access(kind=AccessKind.OPENAI, address="baseUrl", served_model=deployment.model),
            auth=Auth(secret=SECRET), reach=Reach(scope=Scope.PUBLIC))

    module = types.ModuleType(MODULE)
    module.DEFINITION = StageDef(settings=StubDeployment, build=build, contract=contract)
    return module


@pytest.fixture
def stub_stage(monkeypatch) -> Iterator[Stage]:
    member = str.__new__(Stage, STUB)
    member._name_, member._value_ = "STUB_ENDPOINT", STUB
    monkeypatch.setitem(Stage._member_map_, "STUB_ENDPOINT", member)
    monkeypatch.setitem(Stage._value2member_map_, STUB, member)
    monkeypatch.setattr(Stage, "_member_names_", [*Stage._member_names_, "STUB_ENDPOINT"])
    monkeypatch.setitem(sys.modules, MODULE, _stub_module(member))
    # Billed per token, and no price list of its own: its usage is priced as unknown, never with
    # another stage's providers.
    monkeypatch.setitem(stacks.stages.ENTRIES, member, StageEntry(
        MODULE, catalog_family=None, private=False, cost=CostBasis(kind=CostKind.PER_TOKEN, token_prices=None),
        fixed_cost_types=(), secrets=(SECRET,), cluster=None, scales_to_zero=False,
        serves_adapters=False, adapters_with=""))
    yield member


def _config() -> dict[str, Any]:
    return {
        "aws:region": "us-east-1",
        "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"]},
        f"scalepath:{SECRET}": SECRET_PLACEHOLDER,
        "scalepath:deployments": [{"name": "stubby", "model": "org/model-8B", "stage": STUB,
                                   "expectedUsage": {"requestsPerMonth": 1000}}],
        "scalepath:gateway": {"runtime": "ecs", "routes": [
            {"name": "chat", "targets": [{"deployment": "stubby", "weight": 100}]}]},
    }


def test_a_stage_added_by_the_checklist_plans_routes_and_is_advised_on(stub_stage, monkeypatch, tmp_path):
    result = run_plan(stack_config(_config(), secret_keys={f"scalepath:{SECRET}"}))
    logs = [r for r in result.resources if r.type == "aws:cloudwatch/logGroup:LogGroup"
            and r.name == "stubby-logs"]
    assert [r.inputs["tags"]["stage"] for r in logs] == [STUB]
    assert any(line["type"] == "aws:cloudwatch/logGroup:LogGroup" for line in result.cost["lines"])
    (usage,) = [line for line in result.cost["lines"] if line["type"] == f"usage:{STUB}"]
    assert usage["basis"] == "unknown" and usage["monthly_usd"] is None
    assert "names no price list" in usage["detail"]

    # The gateway calls it with its own key, kept in the gateway's secret store.
    task = one(result, "aws:ecs/taskDefinition:TaskDefinition")
    container = json.loads(task.inputs["containerDefinitions"])[0]  # then the metrics sidecar
    assert {s["name"] for s in container["secrets"]} == {"SCALEPATH_GATEWAY_KEY", "STUB_API_KEY"}
    config = yaml.safe_load(next(e["value"] for e in container["environment"]
                                 if e["name"] == "SCALEPATH_GATEWAY_CONFIG"))
    (entry,) = config["model_list"]
    assert entry["litellm_params"]["model"] == "openai/org/model-8B"
    assert entry["litellm_params"]["api_key"] == "os.environ/STUB_API_KEY"
    secret = one(result, "aws:secretsmanager/secret:Secret", "gateway-stub-api-key-secret")
    assert secret.inputs["name"] == "scalepath-test-gateway-stub-api-key"
    assert SECRET_PLACEHOLDER not in json.dumps(result.to_json())

    # `scalepath gateway config` renders the same route.
    path = tmp_path / "Pulumi.stub.yaml"
    path.write_text(yaml.safe_dump({"config": {**_config(), f"scalepath:{SECRET}": {"secure": "v1:x"}}}))
    rendered = CliRunner().invoke(app, ["gateway", "config", "--stack", "stub", "--config", str(path)])
    assert rendered.exit_code == 0, rendered.output
    assert yaml.safe_load(rendered.output)["model_list"][0]["litellm_params"]["api_key"] == "os.environ/STUB_API_KEY"

    advice = advise(Workload(resolve_model("meta-llama/Llama-3.1-8B-Instruct"), 1_000_000, 500, 250))
    stub = next(report for report in advice.stages if report.stage == STUB)
    assert not stub.available and "names no price list" in stub.reason

    monkeypatch.undo()  # removing it leaves the registry as it was
    assert STUB not in {s.value for s in Stage} and STUB not in {s.value for s in STAGES}
    assert MODULE not in sys.modules


def test_its_secret_must_be_a_secret(stub_stage):
    # The parser learns the stage's secret keys from its entry: a plain value is refused by name.
    from stacks.errors import ConfigError
    from stacks.parse import parse_spec

    with pytest.raises(ConfigError) as caught:
        parse_spec(stack_config(_config()).values, project="scalepath", stack="test")
    assert {i.path for i in caught.value.issues} == {f"scalepath:{SECRET}"}
    assert "pulumi config set --secret scalepath:stubApiKey" in caught.value.issues[0].message


def test_a_per_token_stage_is_priced_from_the_list_its_entry_names(stub_stage, monkeypatch):
    """Naming a price list in the entry is all a per-token stage needs: org/model-8B is not listed
    by model, so the size tier up to 16B applies ($0.20 per M tokens in and out, fireworks in
    components/data/token_prices.yaml): 1,000 requests x (500 + 250) tokens = 750,000 tokens = $0.15."""
    monkeypatch.setitem(stacks.stages.ENTRIES, stub_stage, StageEntry(
        MODULE, catalog_family=None, private=False,
        cost=CostBasis(kind=CostKind.PER_TOKEN, token_prices="token_prices.yaml"),
        fixed_cost_types=(), secrets=(SECRET,), cluster=None, scales_to_zero=False,
        serves_adapters=False, adapters_with=""))
    result = run_plan(stack_config(_config(), secret_keys={f"scalepath:{SECRET}"}))
    (usage,) = [line for line in result.cost["lines"] if line["type"] == f"usage:{STUB}"]
    assert (usage["basis"], usage["monthly_usd"]) == ("usage", 0.15)
