"""The gateway as the meter, offline: limits validate and render per engine entry, metrics are on,
and per-token deployments carry the plan's own price (the engine prices responses with it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components.token_prices import price_list, request_price
from scalepath.cost import tables
from scalepath.plan import Plan, run_plan
from scalepath.policy_runner import check_plan
from scalepath.stackconfig import load_stack_config
from stacks.errors import ConfigError
from stacks.gateway.backends import backends_for, deployment_prices
from stacks.gateway.engine_config import engine_config
from stacks.parse import parse_spec
from stacks.stages import STAGES
from tests.support import ROOT, of_type, one
from tests.support.gateway import gateway_config, with_gateway
from tests.support.k8s import validate

ENDPOINT, SERVERLESS = "chat-endpoint", "chat-serverless"


def _config(routes: list[dict[str, Any]], provider: str | None = None) -> dict[str, Any]:
    values, secrets = gateway_config(routes=routes)
    if provider is not None:
        deployments = json.loads(values["scalepath:deployments"])  # config values are JSON text
        values["scalepath:deployments"] = json.dumps([{**d, "provider": provider} if d["name"] == SERVERLESS else d
                                                      for d in deployments])
    spec = parse_spec(values, project="scalepath", stack="dev", secret_keys=secrets)
    assert spec.gateway is not None
    contracts = STAGES.contracts(spec.facts())
    return engine_config(spec.gateway, backends_for(spec.gateway.engine_deployments(), contracts, spec.targets,
                                                    prices=deployment_prices(spec.deployments, contracts)))


def _entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["model_info"]["id"]: m["litellm_params"] for m in document["model_list"]}


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
@pytest.mark.parametrize("where", ["route", "target"])
def test_limits_are_positive_integers_named_by_key_path(bad: Any, where: str) -> None:
    target: dict[str, Any] = {"deployment": ENDPOINT, "weight": 100}
    route: dict[str, Any] = {"name": "chat", "targets": [target]}
    if where == "route":
        route["limits"] = {"requestsPerMinute": bad}
        path = "scalepath:gateway.routes[0].limits.requestsPerMinute"
    else:
        target["limits"] = {"tokensPerMinute": bad}
        path = "scalepath:gateway.routes[0].targets[0].limits.tokensPerMinute"
    values, secrets = gateway_config(routes=[route])
    with pytest.raises(ConfigError) as caught:
        parse_spec(values, project="scalepath", stack="dev", secret_keys=secrets)
    assert path in {i.path for i in caught.value.issues}


def test_route_limits_are_shared_by_weight_capped_by_the_target_and_whole_on_fallbacks() -> None:
    document = _config([
        {"name": "chat", "limits": {"requestsPerMinute": 10, "tokensPerMinute": 1000},
         "targets": [{"deployment": ENDPOINT, "weight": 90, "limits": {"requestsPerMinute": 5}},
                     {"deployment": SERVERLESS, "weight": 10}]},
        {"name": "safe", "limits": {"requestsPerMinute": 7}, "targets": [{"deployment": ENDPOINT, "weight": 100}],
         "fallbacks": [SERVERLESS]},
        {"name": "open", "targets": [{"deployment": SERVERLESS, "weight": 100}]}])
    entries = _entries(document)
    # 90% of 10 is 9, capped at the target's own 5; 90% of 1000 tokens is 900.
    assert (entries["chat/chat-endpoint"]["rpm"], entries["chat/chat-endpoint"]["tpm"]) == (5, 900)
    assert (entries["chat/chat-serverless"]["rpm"], entries["chat/chat-serverless"]["tpm"]) == (1, 100)
    assert entries["safe/chat-endpoint"]["rpm"] == 7  # one target: exactly the route's limit
    assert entries["safe@chat-serverless"]["rpm"] == 7
    assert "rpm" not in entries["open/chat-serverless"] and "tpm" not in entries["open/chat-serverless"]
    assert document["router_settings"]["optional_pre_call_checks"] == ["enforce_model_rate_limits"]


def test_no_limits_no_rate_limit_check_and_metrics_always_on() -> None:
    document = _config([{"name": "chat", "targets": [{"deployment": ENDPOINT, "weight": 100}]}])
    assert "optional_pre_call_checks" not in document["router_settings"]
    # Prometheus always; the gateway's hooks for the endpoint's per-second cost (hf-endpoint is
    # billed per instance-hour), not for a limit.
    assert document["litellm_settings"]["callbacks"] == ["prometheus", "scalepath_hooks.hooks"]
    # Nothing per request for a database the stack does not have; no message content to callbacks.
    assert document["general_settings"]["disable_spend_logs"] is True
    assert document["litellm_settings"]["turn_off_message_logging"] is True


def test_per_token_deployment_carries_the_price_list_price() -> None:
    routes = [{"name": "chat", "targets": [{"deployment": ENDPOINT, "weight": 50},
                                           {"deployment": SERVERLESS, "weight": 50}]}]
    document = _config(routes)
    infos = {m["model_info"]["id"]: m["model_info"] for m in document["model_list"]}
    # token_prices.yaml lists Llama-3.1-8B-Instruct at together 0.18/0.18, groq 0.05/0.08, bedrock
    # 0.22/0.22 USD per million; `auto` takes the cost model's pick, the cheapest at 2 input : 1 output:
    # groq (0.18 against 0.54 and 0.66).
    assert infos["chat/chat-serverless"]["input_cost_per_token"] == 0.05e-6
    assert infos["chat/chat-serverless"]["output_cost_per_token"] == 0.08e-6
    # Never in litellm_params: from there the engine registers the price again on every request and
    # empties its price-map caches each time (the router registers model_info's once, at start).
    assert not any("input_cost_per_token" in e or "output_cost_per_token" in e for e in _entries(document).values())
    # A dedicated endpoint bills per instance-hour: no per-token price is invented for it.
    assert "input_cost_per_token" not in infos["chat/chat-endpoint"]
    pinned = _config(routes, provider="together")
    assert {m["model_info"]["id"]: m["model_info"] for m in pinned["model_list"]}[
        "chat/chat-serverless"]["input_cost_per_token"] == 0.18e-6


def test_the_gateway_and_the_cost_model_read_one_price_list() -> None:
    assert tables.token_prices() is price_list()


def test_unlisted_model_takes_its_size_tier_or_no_price() -> None:
    # Not listed; "13B" in its id puts it in the 16B tier (fireworks, 0.20 per million).
    price = request_price("acme/Unlisted-13B-chat")
    assert price is not None and price.input_usd_per_token == 0.2e-6 and "16B" in price.note
    assert request_price("acme/no-size-in-name") is None


@pytest.fixture(scope="module")
def gateway_dev() -> Plan:
    config = load_stack_config("gateway-dev", ROOT)
    return check_plan(run_plan(config), config, ROOT)


def test_ecs_task_runs_a_collector_that_scrapes_with_the_key_from_the_secret_store(gateway_dev: Plan) -> None:
    task = one(gateway_dev, "aws:ecs/taskDefinition:TaskDefinition")
    engine, collector = json.loads(task.inputs["containerDefinitions"])
    assert engine["essential"] and not collector["essential"]  # metrics never take the gateway down
    assert collector["secrets"] == [s for s in engine["secrets"] if s["name"] == "SCALEPATH_GATEWAY_KEY"]
    config = yaml.safe_load(collector["environment"][0]["value"])
    scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    assert scrape["static_configs"] == [{"targets": ["localhost:4000"]}]
    assert scrape["authorization"] == {"credentials": "${env:SCALEPATH_GATEWAY_KEY}"}
    # The engine's HTTP-path `route` label moves aside before `route` becomes the gateway route.
    relabels = scrape["metric_relabel_configs"]
    moved = relabels.index({"source_labels": ["route"], "target_label": "http_route"})
    routed = next(i for i, r in enumerate(relabels) if r.get("source_labels") == ["requested_model"])
    assert moved < relabels.index({"regex": "route", "action": "labeldrop"}) < routed
    assert config["exporters"]["awsemf"]["namespace"] == "scalepath/scalepath-gateway-dev/gateway"
    # Every series per route, and per target of a route (the engine's model_id: `<route>/<deployment>`).
    assert config["exporters"]["awsemf"]["metric_declarations"] == [{
        "dimensions": [["route"], ["route", "model_id"]],
        "metric_name_selectors": [
            "litellm_proxy_total_requests_metric_total", "litellm_proxy_failed_requests_metric_total",
            "litellm_deployment_successful_fallbacks_total", "litellm_request_total_latency_metric",
            "litellm_llm_api_time_to_first_token_metric", "litellm_input_tokens_metric_total",
            "litellm_output_tokens_metric_total", "litellm_spend_metric_total"]}]
    # The scrape keeps the same series, histograms with their buckets (time to first token included).
    keep = next(r for r in relabels if r.get("action") == "keep")
    for series in ("_bucket", "_count", "_sum"):  # Prometheus anchors relabel regexes
        assert re.fullmatch(keep["regex"], f"litellm_llm_api_time_to_first_token_metric{series}")
    assert not re.fullmatch(keep["regex"], "litellm_llm_api_latency_metric_bucket")


def test_ecs_alarms_per_route_and_spend_against_the_budget(gateway_dev: Plan) -> None:
    alarms = {r.name: r.inputs for r in of_type(gateway_dev, "aws:cloudwatch/metricAlarm:MetricAlarm")
              if r.name.startswith("gateway-")}
    routes = ("chat", "chat-stable")
    assert set(alarms) == {f"gateway-{kind}-{route}" for kind in ("errors", "fallbacks", "spend")
                           for route in routes} | {"gateway-p95-latency"}
    # Pulumi.gateway-dev.yaml: budget 300 USD/month -> 10 USD/day; gate.maxErrorRate default 0.01;
    # timeouts 60 s and 30 s -> the strictest p95 bound is 0.8 x 30 = 24 s.
    assert all(alarms[f"gateway-spend-{r}"]["threshold"] == 10.0 for r in routes)
    assert all(alarms[f"gateway-errors-{r}"]["threshold"] == 0.01 for r in routes)
    assert all(alarms[f"gateway-fallbacks-{r}"]["threshold"] == 0.05 for r in routes)
    assert alarms["gateway-p95-latency"]["threshold"] == 24.0
    assert alarms["gateway-p95-latency"]["extendedStatistic"] == "p95"
    subscriptions = of_type(gateway_dev, "aws:sns/topicSubscription:TopicSubscription")
    assert [s.inputs["endpoint"] for s in subscriptions] == ["ml-platform@example.com"]  # the budget's notify
    dashboard = json.loads(one(gateway_dev, "aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    spend = next(w for w in dashboard["widgets"] if w["properties"]["title"].startswith("Spend"))
    assert [m[3] for m in spend["properties"]["metrics"]] == list(routes)
    widgets = {w["properties"]["title"]: w["properties"] for w in dashboard["widgets"]}
    first_token = widgets["Mean time to first token per route (s, streams)"]
    assert first_token["stat"] == "Average" and [m[1] for m in first_token["metrics"]] == [
        "litellm_llm_api_time_to_first_token_metric"] * 2
    # Per target: a search over the namespace's (route, model_id) series, every name quoted.
    assert widgets["Mean latency per target (s)"]["metrics"] == [[{"id": "targets", "expression": (
        "SEARCH('{\"scalepath/scalepath-gateway-dev/gateway\",\"route\",\"model_id\"} "
        "MetricName=\"litellm_request_total_latency_metric\"', 'Average', 300)")}]]
    assert [v for v in gateway_dev.violations if v["level"] == "mandatory"] == []


def test_ecs_alarm_topic_uses_a_rotating_key_cloudwatch_may_use(gateway_dev: Plan) -> None:
    """CloudWatch cannot publish to a topic under the AWS managed key alias/aws/sns (its policy cannot
    grant cloudwatch.amazonaws.com): the topic takes its own key, whose policy grants the account
    and CloudWatch the two actions SNS encryption needs (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    topic = one(gateway_dev, "aws:sns/topic:Topic", "gateway-alerts")
    key = one(gateway_dev, "aws:kms/key:Key", "gateway-alerts-key")
    assert topic.property_dependencies["kmsMasterKeyId"] == [key.urn]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["AccountAdministers"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    alias = one(gateway_dev, "aws:kms/alias:Alias", "gateway-alerts-key-alias")
    # Unique per project and stack: the gateway's physical name (project scalepath, stack gateway-dev).
    assert alias.inputs["name"] == "alias/scalepath/scalepath-gateway-dev-gateway-alerts"
    assert alias.property_dependencies["targetKeyId"] == [key.urn]


def test_eks_gateway_is_scraped_with_the_key_and_alerts_per_route() -> None:
    config = with_gateway("prod", {"routes": [{"name": "chat.v2", "targets": [
        {"deployment": "chat", "weight": 90}, {"deployment": "chat-eks", "weight": 10}]}]})
    plan = check_plan(run_plan(config), config, ROOT)
    custom = {r.name: r.inputs for r in of_type(plan, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
              + of_type(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule") if r.name.startswith("gateway-")}
    monitor, rule = custom["gateway-service-monitor"], custom["gateway-rules"]
    for manifest in (monitor, rule):
        validate(manifest)  # the published CRD shapes (tests/data/vllm_crd_schemas.json)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"]["credentials"] == {"name": "gateway-secrets", "key": "client-key"}
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    # '.' in the route name is escaped for the regex; fallback groups (chat.v2@...) count for the route.
    assert 'requested_model=~"chat\\\\.v2(@.*)?"' in rules["GatewayRouteP95LatencyHigh"]["expr"]
    assert rules["GatewayRouteP95LatencyHigh"]["expr"].endswith("> 48")  # 0.8 x the default 60 s timeout
    assert rules["GatewayRouteErrorRateHigh"]["expr"].endswith("> 0.01")
    budget = json.loads(config.values["scalepath:budget"])
    assert rules["GatewayRouteSpendOnPace"]["expr"].endswith(f"> {budget['monthlyUsd'] / 30:.6g}")
    assert rules["GatewayRouteSpendOnPace"]["annotations"]["notify"] == ", ".join(budget["notify"])
    assert [v for v in plan.violations if v["level"] == "mandatory"] == []
