"""The gateway's metrics where it runs: names of the engine's Prometheus series and, on ECS, the
collector that turns them into CloudWatch metrics, the alarms and the dashboard.

The engine (LiteLLM's proxy) serves its metrics on ``/metrics/`` behind the client key
(docs/gateway.md, "The gateway as the meter"). Its ``requested_model`` label is the route, or
``<route>@<deployment>`` for a fallback; the collector folds both into a ``route`` label and drops
the per-caller labels (key hash, client IP, user agent) before anything leaves the task.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.gateway.args import CALLER_LABELS, KEY_ENV, PORT, GatewayArgs, MeterArgs

#: ADOT collector (AWS's OpenTelemetry Collector build: Prometheus receiver, CloudWatch EMF exporter).
COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
SCRAPE_SECONDS = 60
#: The engine's series (docs/gateway.md lists what each counts).
REQUESTS = "litellm_proxy_total_requests_metric_total"
FAILURES = "litellm_proxy_failed_requests_metric_total"
FALLBACKS = "litellm_deployment_successful_fallbacks_total"
LATENCY = "litellm_request_total_latency_metric"
INPUT_TOKENS, OUTPUT_TOKENS = "litellm_input_tokens_metric_total", "litellm_output_tokens_metric_total"
SPEND = "litellm_spend_metric_total"
EXPORTED = (REQUESTS, FAILURES, FALLBACKS, LATENCY, INPUT_TOKENS, OUTPUT_TOKENS, SPEND)
DAYS_PER_MONTH = 30


def collector_config(meter: MeterArgs, region: str, log_group: str) -> str:
    """The collector's config: scrape the engine in the same task, export CloudWatch EMF by route.

    ``$$`` is a literal ``$`` (the collector expands ``${env:...}``, which carries the client key)."""
    scrape = {
        "job_name": "gateway", "scrape_interval": f"{SCRAPE_SECONDS}s", "metrics_path": "/metrics/",
        "authorization": {"credentials": f"${{env:{KEY_ENV}}}"},
        "static_configs": [{"targets": [f"localhost:{PORT}"]}],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": "|".join(f"{n}(_bucket|_count|_sum)?" for n in EXPORTED),
             "action": "keep"},
            # The engine's own `route` label is the HTTP path: keep it as `http_route`, then make
            # `route` the gateway route (series must stay distinct, or the scrape rejects them).
            {"source_labels": ["route"], "target_label": "http_route"},
            {"regex": "route", "action": "labeldrop"},
            {"source_labels": ["requested_model"], "regex": "([^@]+)(@.*)?", "target_label": "route",
             "replacement": "$$1"},
            {"regex": "|".join(CALLER_LABELS), "action": "labeldrop"},
        ],
    }
    config = {
        "receivers": {"prometheus": {"config": {"scrape_configs": [scrape]}}},
        "exporters": {"awsemf": {
            "namespace": meter.namespace, "region": region, "log_group_name": log_group,
            "dimension_rollup_option": "NoDimensionRollup",
            "metric_declarations": [{"dimensions": [["route"]], "metric_name_selectors": list(EXPORTED)}],
        }},
        "service": {"pipelines": {"metrics": {"receivers": ["prometheus"], "exporters": ["awsemf"]}}},
    }
    return yaml.safe_dump(config, sort_keys=False)


def collector_container(meter: MeterArgs, region: str, logs: str, emf_logs: str, key_arn: str) -> dict[str, Any]:
    """The collector's container definition (a sidecar: the task keeps serving if it stops). Its
    own output goes to ``logs``, the metrics (EMF events) to ``emf_logs``."""
    return {
        "name": "metrics", "image": COLLECTOR_IMAGE, "essential": False,
        "environment": [{"name": "AOT_CONFIG_CONTENT", "value": collector_config(meter, region, emf_logs)}],
        "secrets": [{"name": KEY_ENV, "valueFrom": key_arn}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": logs, "awslogs-region": region, "awslogs-stream-prefix": "collector"}},
    }


def _route_metric(meter: MeterArgs, metric: str, route: str, stat: str, period: int, id_: str) -> dict[str, Any]:
    return {"id": id_, "return_data": False, "metric": {
        "namespace": meter.namespace, "metric_name": metric, "dimensions": {"route": route},
        "stat": stat, "period": period}}


def cloudwatch_alerts(name: str, args: GatewayArgs, load_balancer_suffix: pulumi.Input[str],
                      opts: pulumi.ResourceOptions, tags: dict[str, str]) -> None:
    """Per route: error rate, fallback rate, spend on pace to pass the monthly budget; the gateway's
    p95 latency (the load balancer's: the engine's latency histograms reach CloudWatch only as
    count/sum, so a per-route p95 cannot be computed there); and a dashboard."""
    meter = args.meter
    assert meter is not None
    topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id="alias/aws/sns", tags=tags, opts=opts)
    for index, address in enumerate(meter.notify):
        aws.sns.TopicSubscription(f"{name}-alerts-{index}", topic=topic.arn, protocol="email",
                                  endpoint=address, opts=opts)
    actions = [topic.arn]
    five_minutes, day = 300, 86400

    def ratio(alarm: str, route: str, numerator: str, limit: float, what: str) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{name}-{alarm}-{route}", comparison_operator="GreaterThanThreshold", evaluation_periods=3,
            datapoints_to_alarm=3, threshold=limit, treat_missing_data="notBreaching",
            alarm_description=f"gateway route {route}: {what} above {limit:.1%} (5-minute windows)",
            metric_queries=[
                _route_metric(meter, numerator, route, "Sum", five_minutes, "part"),
                _route_metric(meter, REQUESTS, route, "Sum", five_minutes, "whole"),
                {"id": "share", "expression": "part / whole", "label": what, "return_data": True}],
            alarm_actions=actions, ok_actions=actions, tags=tags, opts=opts)

    for r in meter.routes:
        ratio("errors", r.route, FAILURES, r.max_error_rate, "error rate")
        ratio("fallbacks", r.route, FALLBACKS, r.max_fallback_rate, "fallback rate")
        daily_pace = meter.monthly_budget_usd / DAYS_PER_MONTH
        aws.cloudwatch.MetricAlarm(
            f"{name}-spend-{r.route}", comparison_operator="GreaterThanThreshold", evaluation_periods=1,
            threshold=round(daily_pace, 6), treat_missing_data="notBreaching",
            namespace=meter.namespace, metric_name=SPEND, dimensions={"route": r.route}, statistic="Sum",
            period=day,
            alarm_description=(f"gateway route {r.route}: spend in one day above ${daily_pace:.2f}, the pace of the "
                               f"stack's whole monthly budget (${meter.monthly_budget_usd:g}) on this route alone"),
            alarm_actions=actions, tags=tags, opts=opts)
    strictest = min(r.p95_latency_seconds for r in meter.routes)
    aws.cloudwatch.MetricAlarm(
        f"{name}-p95-latency", comparison_operator="GreaterThanThreshold", evaluation_periods=3,
        datapoints_to_alarm=3, threshold=strictest, treat_missing_data="notBreaching",
        namespace="AWS/ApplicationELB", metric_name="TargetResponseTime",
        dimensions={"LoadBalancer": load_balancer_suffix}, extended_statistic="p95", period=five_minutes,
        alarm_description=f"gateway p95 latency above {strictest:g}s (the strictest route's bound)",
        alarm_actions=actions, ok_actions=actions, tags=tags, opts=opts)
    aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=f"{meter.namespace.replace('/', '-')}",
                             dashboard_body=pulumi.Output.from_input(load_balancer_suffix).apply(
                                 lambda suffix: dashboard_body(meter, args.ecs.region if args.ecs else "", suffix)),
                             opts=opts)


def dashboard_body(meter: MeterArgs, region: str, load_balancer_suffix: str) -> str:
    """A CloudWatch dashboard: per route requests, errors, fallbacks, mean latency, tokens, spend;
    the load balancer's p50/p95/p99."""
    def per_route(title: str, metric: str, stat: str) -> dict[str, Any]:
        return {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": title, "region": region, "stat": stat, "period": 300, "view": "timeSeries",
            "metrics": [[meter.namespace, metric, "route", r.route] for r in meter.routes]}}

    widgets = [
        per_route("Requests per route", REQUESTS, "Sum"),
        per_route("Failed requests per route", FAILURES, "Sum"),
        per_route("Fallbacks taken per route", FALLBACKS, "Sum"),
        per_route("Mean latency per route (s)", LATENCY, "Average"),
        per_route("Output tokens per route", OUTPUT_TOKENS, "Sum"),
        per_route("Spend per route (USD)", SPEND, "Sum"),
        {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": "Gateway latency p50/p95/p99 (s)", "region": region, "period": 300, "view": "timeSeries",
            "metrics": [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", load_balancer_suffix,
                         {"stat": stat}] for stat in ("p50", "p95", "p99")]}},
    ]
    return json.dumps({"widgets": widgets})


def collector_log_policy(log_group_arn: str) -> str:
    """What the collector may do: write EMF events to its own log group."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams"],
        "Resource": [log_group_arn, f"{log_group_arn}:*"]}]})


def _route_matcher(namespace: str, route: str, fallbacks_too: bool = True) -> str:
    """PromQL matchers for one route's series (its fallback groups ``<route>@...`` too)."""
    name = route.replace(".", "\\\\.")  # route names are [A-Za-z0-9._-]: only '.' is special
    return f'namespace="{namespace}",requested_model=~"{name}(@.*)?"' if fallbacks_too else \
        f'namespace="{namespace}",requested_model="{route}"'


def prometheus_alert_rules(meter: MeterArgs, namespace: str) -> list[dict[str, Any]]:
    """Per route: p95 latency (from the engine's histogram), error rate, fallback rate, and spend in
    one day on pace to pass the monthly budget; ``notify`` names the budget's addresses."""
    rules = []

    def rule(alert: str, route: str, expr: str, summary: str) -> None:
        rules.append({"alert": alert, "expr": expr, "for": "10m",
                      "labels": {"severity": "warning", "route": route},
                      "annotations": {"summary": f"gateway route {route}: {summary}",
                                      "notify": ", ".join(meter.notify)}})

    for r in meter.routes:
        every, primary = _route_matcher(namespace, r.route), _route_matcher(namespace, r.route, False)
        total = f"sum(rate({REQUESTS}{{{every}}}[5m]))"
        rule("GatewayRouteP95LatencyHigh", r.route,
             f"histogram_quantile(0.95, sum by (le) (rate({LATENCY}_bucket{{{every}}}[5m]))) > "
             f"{r.p95_latency_seconds:g}", f"p95 latency above {r.p95_latency_seconds:g}s")
        rule("GatewayRouteErrorRateHigh", r.route, f"sum(rate({FAILURES}{{{every}}}[5m])) / {total} > "
             f"{r.max_error_rate:g}", f"error rate above {r.max_error_rate:.1%}")
        rule("GatewayRouteFallbackRateHigh", r.route, f"sum(rate({FALLBACKS}{{{primary}}}[5m])) / {total} > "
             f"{r.max_fallback_rate:g}", f"fallback rate above {r.max_fallback_rate:.1%}")
        daily = meter.monthly_budget_usd / DAYS_PER_MONTH
        rule("GatewayRouteSpendOnPace", r.route, f"sum(increase({SPEND}{{{every}}}[1d])) > {daily:.6g}",
             f"spend in one day above ${daily:.2f}, the pace of the whole monthly budget "
             f"(${meter.monthly_budget_usd:g})")
    return rules


def service_monitor(namespace: str, labels: dict[str, str], selector: dict[str, str], port: str,
                    secret: str, key: str) -> dict[str, Any]:
    """prometheus-operator ``ServiceMonitor``: the engine's ``/metrics/`` with the client key."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "gateway", "namespace": namespace, "labels": labels},
            "spec": {"selector": {"matchLabels": selector}, "namespaceSelector": {"matchNames": [namespace]},
                     "endpoints": [{"port": port, "path": "/metrics/", "interval": f"{SCRAPE_SECONDS}s",
                                    "authorization": {"type": "Bearer",
                                                      "credentials": {"name": secret, "key": key}}}]}}


def prometheus_rule(meter: MeterArgs, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """prometheus-operator ``PrometheusRule`` holding :func:`prometheus_alert_rules`."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "gateway", "namespace": namespace, "labels": labels},
            "spec": {"groups": [{"name": "scalepath-gateway", "interval": "1m",
                                 "rules": prometheus_alert_rules(meter, namespace)}]}}
