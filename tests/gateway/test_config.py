"""``scalepath:gateway``: routes validate against the stack, and the engine config renders from them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scalepath.cli import app
from scalepath.stackconfig import SECRET_PLACEHOLDER, load_stack_config
from stacks.errors import ConfigError
from stacks.gateway.backends import backends_for
from stacks.gateway.config import GatewayRuntime, Route
from stacks.gateway.engine_config import engine_config, render
from stacks.parse import parse_spec
from stacks.spec import StackSpec
from stacks.stages import STAGES
from tests.support import ROOT, stack_config
from tests.support.gateway import gateway_config

ENDPOINT, SERVERLESS = "chat-endpoint", "chat-serverless"


def _target(deployment: str, weight: Any) -> dict[str, Any]:
    return {"deployment": deployment, "weight": weight}


def _parse(values: dict[str, Any], secrets: set[str]) -> StackSpec:
    return parse_spec(values, project="scalepath", stack="dev", secret_keys=secrets)


def _issues(values: dict[str, Any], secrets: set[str]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        _parse(values, secrets)
    return {i.path: i.message for i in caught.value.issues}


def test_gateway_in_front_of_two_stages_parses() -> None:
    spec = _parse(*gateway_config())
    assert spec.gateway is not None
    assert spec.gateway.resolved_runtime(spec.deployments) is GatewayRuntime.ECS
    assert spec.gateway.deployment_names() == ["chat-endpoint", "chat-serverless"]


@pytest.mark.parametrize("weights, total", [((90, 20), 110), ((50, 49), 99)])
def test_weights_must_sum_to_100(weights: tuple[int, int], total: int) -> None:
    targets = [_target(ENDPOINT, weights[0]), _target(SERVERLESS, weights[1])]
    issues = _issues(*gateway_config(routes=[{"name": "chat", "targets": targets}]))
    assert issues == {"scalepath:gateway.routes[0].targets":
                      f"weights sum to {total}; they must sum to 100 (integers 0..100)"}


@pytest.mark.parametrize("bad", [150, -5, 12.5, "10"])
def test_weight_is_an_integer_0_to_100(bad: Any) -> None:
    values, secrets = gateway_config(routes=[{"name": "chat", "targets": [_target(ENDPOINT, bad)]}])
    assert "scalepath:gateway.routes[0].targets[0].weight" in _issues(values, secrets)


def test_unknown_deployments_are_named_with_the_allowed_ones() -> None:
    values, secrets = gateway_config(routes=[{"name": "chat", "targets": [_target("chat-endpont", 100)],
                                              "fallbacks": [SERVERLESS, "nope"]}])
    issues = _issues(values, secrets)
    assert set(issues) == {"scalepath:gateway.routes[0].targets[0].deployment",
                           "scalepath:gateway.routes[0].fallbacks[1]"}
    assert issues["scalepath:gateway.routes[0].fallbacks[1]"] == (
        "unknown deployment 'nope'; deployments of this stack: chat-endpoint, chat-serverless")


def test_a_canary_falls_back_to_its_stable_target() -> None:
    # Issue 22: `targets: [stable 90, candidate 10], fallbacks: [stable]` is the safe way to shift traffic.
    route = {"name": "chat", "targets": [_target(ENDPOINT, 90), _target(SERVERLESS, 10)], "fallbacks": [ENDPOINT]}
    spec = _parse(*gateway_config(routes=[route]))
    assert spec.gateway is not None
    document = engine_config(spec.gateway, backends_for(spec.gateway.engine_deployments(),
                                                        STAGES.contracts(spec.facts()), spec.targets))
    assert [(m["model_name"], m["litellm_params"].get("weight")) for m in document["model_list"]] == [
        ("chat", 90), ("chat", 10), ("chat@chat-endpoint", None)]
    assert document["router_settings"]["fallbacks"] == [{"chat": ["chat@chat-endpoint"]}]


def test_a_route_cannot_fall_back_to_its_only_weighted_target_and_routes_are_unique() -> None:
    route = {"name": "chat", "targets": [_target(ENDPOINT, 100), _target(SERVERLESS, 0)], "fallbacks": [ENDPOINT]}
    issues = _issues(*gateway_config(routes=[route]))
    assert "every weighted target (chat-endpoint) is also a fallback" in issues["scalepath:gateway.routes[0]"]
    route["fallbacks"] = [SERVERLESS, SERVERLESS]
    issues = _issues(*gateway_config(routes=[route]))
    assert "fallback(s) chat-serverless listed more than once" in issues["scalepath:gateway.routes[0]"]
    route["fallbacks"] = []
    issues = _issues(*gateway_config(routes=[route, route]))
    assert issues == {"scalepath:gateway.routes": "route name(s) chat repeated; each route needs its own name"}


def test_kubernetes_runtime_needs_a_cluster() -> None:
    issues = _issues(*gateway_config(runtime="kubernetes"))
    assert "eks-vllm or gke-vllm" in issues["scalepath:gateway.runtime"]


def test_ecs_needs_nat_egress() -> None:
    values, secrets = gateway_config()
    values["scalepath:network"] = {"mode": "public", "aws": {"natGateway": False}}
    issues = _issues(values, secrets)
    assert "needs outbound internet" in issues["scalepath:network.aws.natGateway"]


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize("environment, mode, certificate, refused", [
    ("staging", "public", None, True), ("prod", "public", None, True),
    ("staging", "public", CERTIFICATE, False), ("staging", "private", None, False),
    ("dev", "public", None, False)])
def test_a_public_ecs_gateway_outside_dev_needs_tls(environment: str, mode: str, certificate: str | None,
                                                    refused: bool) -> None:
    values, secrets = gateway_config(**({"tlsCertificateArn": certificate} if certificate else {}))
    values["scalepath:environment"] = environment
    values["scalepath:network"] = {"mode": mode}
    try:
        _parse(values, secrets)
        issues = {}
    except ConfigError as error:
        issues = {i.path: i.message for i in error.issues}
    assert ("scalepath:gateway.tlsCertificateArn" in issues) is refused, issues
    if refused:
        assert "network.mode: private" in issues["scalepath:gateway.tlsCertificateArn"]


def test_plan_exits_2_naming_the_certificate_key(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.gateway-dev.yaml").read_text())
    document["config"]["scalepath:environment"] = "staging"
    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app, ["plan", "--stack", "gateway-staging", "--config", str(path)])
    assert result.exit_code == 2
    assert "scalepath:gateway.tlsCertificateArn" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("runtime, cpu, memory, ok", [
    ("ecs", 1, 2, True), ("ecs", 1, 16, False), ("ecs", 0.25, 1.5, False), ("ecs", 0.75, 2, False),
    ("ecs", 8, 20, True), ("ecs", 8, 18, False)])
def test_fargate_sizes_are_the_ones_ecs_accepts(runtime: str, cpu: float, memory: float, ok: bool) -> None:
    values, secrets = gateway_config(runtime=runtime, cpu=cpu, memoryGib=memory)
    if ok:
        assert _parse(values, secrets).gateway is not None
    else:
        assert "scalepath:gateway.memoryGib" in _issues(values, secrets)


def test_container_sizes_per_runtime() -> None:
    from components.gateway.sizes import size_problem

    assert size_problem("containerapps", 1.25, 2.5) is None
    assert "2 GiB per vCPU" in (size_problem("containerapps", 1, 4) or "")
    assert size_problem("cloudrun", 2, 8) is None
    assert "cloudrun takes cpu one of" in (size_problem("cloudrun", 3, 4) or "")
    assert size_problem("kubernetes", 3, 7) is None


def test_unknown_key_lists_the_allowed_ones() -> None:
    issues = _issues(*gateway_config(routes=[{"name": "chat", "targets": [_target(ENDPOINT, 100)], "timeout": 5}]))
    assert ("allowed keys: fallbacks, gate, limits, name, peakRequestsPerSecond, retries, targets, timeoutSeconds"
            in issues["scalepath:gateway.routes[0].timeout"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=4))
def test_any_integer_weights_are_accepted_exactly_when_they_sum_to_100(weights: list[int]) -> None:
    targets = [{"deployment": f"d{i}", "weight": w} for i, w in enumerate(weights)]
    if sum(weights) == 100:
        assert [t.weight for t in Route.model_validate({"name": "r", "targets": targets}).targets] == weights
    else:
        with pytest.raises(ValueError, match=f"weights sum to {sum(weights)}"):
            Route.model_validate({"name": "r", "targets": targets})


def test_rendered_config_has_weights_fallbacks_and_only_secret_references() -> None:
    values, secrets = gateway_config(routes=[
        {"name": "chat", "targets": [_target(ENDPOINT, 90), _target(SERVERLESS, 10)],
         "timeoutSeconds": 30, "retries": 2},
        {"name": "chat-safe", "targets": [_target(ENDPOINT, 100)], "fallbacks": [SERVERLESS]}])
    spec = _parse(values, secrets)
    assert spec.gateway is not None
    backends = backends_for(spec.gateway.engine_deployments(), STAGES.contracts(spec.facts()), spec.targets)
    text = render(spec.gateway, backends)
    document = yaml.safe_load(text)
    assert document == engine_config(spec.gateway, backends)
    chat = [m for m in document["model_list"] if m["model_name"] == "chat"]
    assert [(m["model_info"]["id"], m["litellm_params"]["weight"]) for m in chat] == [
        ("chat/chat-endpoint", 90), ("chat/chat-serverless", 10)]
    assert all(m["litellm_params"]["timeout"] == 30 and m["litellm_params"]["num_retries"] == 2 for m in chat)
    assert chat[1]["litellm_params"]["model"] == "openai/meta-llama/Llama-3.1-8B-Instruct"
    assert document["router_settings"]["fallbacks"] == [{"chat-safe": ["chat-safe@chat-serverless"]}]
    assert document["general_settings"]["master_key"] == "os.environ/SCALEPATH_GATEWAY_KEY"
    keys = {m["litellm_params"]["api_key"] for m in document["model_list"]}
    assert keys == {"os.environ/HF_TOKEN"}
    assert SECRET_PLACEHOLDER not in text and "hf_" not in text


@pytest.mark.parametrize("weight", [0, 1])
def test_a_weight_0_target_is_left_out_of_the_engine_entirely(weight: int) -> None:
    # Issue 29: with the weighted entries unavailable the engine picks among every entry of a group,
    # so a weight-0 target must not be an entry, nor need any variable (its URL) to start.
    from scalepath.gateway.render import render_gateway
    from scalepath.gateway.serve import engine_env

    values, secrets = gateway_config(routes=[
        {"name": "chat", "targets": [_target(ENDPOINT, 100 - weight), _target(SERVERLESS, weight)]}])
    rendered = render_gateway(stack_config(values, stack="dev", secret_keys=secrets), {})
    document = yaml.safe_load(rendered.text)
    assert [m["model_info"]["id"] for m in document["model_list"]] == (
        ["chat/chat-endpoint", "chat/chat-serverless"] if weight else ["chat/chat-endpoint"])
    env = {"SCALEPATH_GATEWAY_KEY": "a-long-enough-client-key-0123", "HF_TOKEN": "t",
           "SCALEPATH_CHAT_ENDPOINT_API_BASE": "http://e/v1"}
    if weight:
        with pytest.raises(ConfigError, match="SCALEPATH_CHAT_SERVERLESS_API_BASE"):
            engine_env(rendered.backends, env)
    else:
        assert set(engine_env(rendered.backends, env)) == set(env)


def test_override_makes_a_deployment_an_openai_server_at_url() -> None:
    spec = _parse(*gateway_config())
    assert spec.gateway is not None
    backends = backends_for(spec.gateway.engine_deployments(), STAGES.contracts(spec.facts()), spec.targets,
                            overrides={"chat-endpoint": "http://127.0.0.1:9/v1"})
    assert backends["chat-endpoint"].params == {"model": "openai/meta-llama/Llama-3.1-8B-Instruct",
                                                "api_base": "http://127.0.0.1:9/v1", "api_key": "unused"}
    assert backends["chat-serverless"].params["api_base"] == "os.environ/SCALEPATH_CHAT_SERVERLESS_API_BASE"


def test_cli_config_prints_the_engine_config_and_exit_2_without_a_gateway() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["gateway", "config", "--stack", "gateway-dev"])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert {m["model_name"] for m in document["model_list"]} == {"chat", "chat-stable", "chat-stable@chat-serverless"}
    assert SECRET_PLACEHOLDER not in result.output
    result = runner.invoke(app, ["gateway", "config", "--stack", "dev"])
    assert result.exit_code == 2
    assert "scalepath:gateway: this stack has no gateway" in result.output


def test_serve_names_every_variable_it_is_missing() -> None:
    from scalepath.gateway.render import render_gateway
    from scalepath.gateway.serve import engine_env

    config = load_stack_config("gateway-dev", ROOT)
    rendered = render_gateway(config, ["chat-endpoint=http://127.0.0.1:9/v1"])
    with pytest.raises(ConfigError) as caught:
        engine_env(rendered.backends, {})
    assert {i.path for i in caught.value.issues} == {
        "$SCALEPATH_GATEWAY_KEY", "$SCALEPATH_CHAT_SERVERLESS_API_BASE", "$HF_TOKEN"}
    env = engine_env(rendered.backends, {"SCALEPATH_GATEWAY_KEY": "k" * 32, "SCALEPATH_CHAT_SERVERLESS_API_BASE": "http://x/v1",
                                "HF_TOKEN": "t", "UNRELATED": "not passed"})
    assert set(env) == {"SCALEPATH_GATEWAY_KEY", "SCALEPATH_CHAT_SERVERLESS_API_BASE", "HF_TOKEN"}


def test_hf_serverless_billed_to_an_organisation_sends_its_header() -> None:
    # The route's exports said every request must carry X-HF-Bill-To; the engine sent none, so
    # the token's owner paid instead of the organisation.
    values, secrets = gateway_config()
    raw = values["scalepath:deployments"]
    deployments = json.loads(raw) if isinstance(raw, str) else list(raw)
    next(d for d in deployments if d["name"] == SERVERLESS)["billTo"] = "acme-ml"
    spec = _parse({**values, "scalepath:deployments": json.dumps(deployments)}, secrets)
    assert spec.gateway is not None
    backends = backends_for(spec.gateway.engine_deployments(), STAGES.contracts(spec.facts()), spec.targets)
    assert backends[SERVERLESS].params["extra_headers"] == {"X-HF-Bill-To": "acme-ml"}
    assert "extra_headers" not in backends[ENDPOINT].params
