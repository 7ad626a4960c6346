"""The plan-time check of each Hub adapter's base model (issue 26, item 3), against a local
server answering the Hub's file URLs; unchecked whenever there is no token or no Hub source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scalepath import adapter_bases
from scalepath.cli import app
from scalepath.plan import run_plan
from stacks.parse import parse_spec
from tests.support import ROOT, stack_config
from tests.support.clusters import MODEL, eks_config
from tests.support.hf_api import RunningServer, Scripted

TOKEN = "hf_" + "t" * 34
ADAPTERS = [{"name": "sql", "source": "acme/qwen-sql-lora", "revision": "v1"},
            {"name": "support", "source": "s3://acme-adapters/support/v3"}]


def spec(cfg: dict[str, Any]):
    return parse_spec(cfg, project="scalepath", stack="test")


@pytest.fixture
def hub() -> Iterator[RunningServer]:
    with RunningServer() as server:
        yield server


def endpoint(server: RunningServer) -> str:
    return server.base_url.removesuffix("/v2")


def test_without_a_token_every_adapter_is_reported_unchecked(hub) -> None:
    found = adapter_bases.check(spec(eks_config(adapters=ADAPTERS)), None, endpoint(hub))
    assert found.issues == []
    assert found.unchecked == ["llm/sql: base model not checked (no HF_TOKEN at plan time)",
                               "llm/support: base model not checked (s3://acme-adapters/support/v3 is not read "
                               "at plan time)"]
    assert hub.api.requests("GET") == []  # nothing was read


def test_an_adapter_of_the_deployment_model_passes(hub) -> None:
    hub.api.script(Scripted("GET", r"/acme/qwen-sql-lora/resolve/v1/adapter_config\.json", 200,
                            body={"base_model_name_or_path": MODEL, "r": 8, "peft_type": "LORA"}))
    found = adapter_bases.check(spec(eks_config(adapters=ADAPTERS[:1])), TOKEN, endpoint(hub))
    assert (found.issues, found.unchecked) == ([], [])
    (request,) = hub.api.requests("GET")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_an_adapter_of_another_model_is_a_config_error_naming_its_source(hub) -> None:
    hub.api.script(Scripted("GET", r"/acme/qwen-sql-lora/resolve/v1/adapter_config\.json", 200,
                            body={"base_model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct"}))
    found = adapter_bases.check(spec(eks_config(adapters=ADAPTERS[:1])), TOKEN, endpoint(hub))
    (issue,) = found.issues
    assert issue.path == "scalepath:deployments[0].adapters[0].source"
    assert "LoRA of 'meta-llama/Llama-3.1-8B-Instruct'" in issue.message and MODEL in issue.message


@pytest.mark.parametrize("status", [401, 404, 500])
def test_an_unreadable_config_leaves_the_base_unchecked(hub, status) -> None:
    hub.api.script(Scripted("GET", r"/acme/qwen-sql-lora/resolve/v1/adapter_config\.json", status,
                            body={"error": "no"}))
    found = adapter_bases.check(spec(eks_config(adapters=ADAPTERS[:1])), TOKEN, endpoint(hub))
    assert found.issues == []
    assert found.unchecked[0].startswith("llm/sql: base model not checked (adapter_config.json: ")


def test_the_token_never_reaches_the_plan(hub) -> None:
    plan = run_plan(stack_config(eks_config(adapters=ADAPTERS)))
    assert TOKEN not in str(plan.to_json())


def test_plan_says_offline_that_the_base_is_unchecked(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    path = tmp_path / "Pulumi.case.yaml"
    # scaling.max 2: the dev policy cap, so the plan exits 0.
    path.write_text(yaml.safe_dump({"config": eks_config(adapters=ADAPTERS[:1], scaling={"min": 1, "max": 2})}))
    result = CliRunner().invoke(app, ["plan", "--stack", "case", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stack"] == "case"  # stdout is still the plan JSON alone
    assert "note: llm/sql: base model not checked (no HF_TOKEN at plan time)" in result.stderr
