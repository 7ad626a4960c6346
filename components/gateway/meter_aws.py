"""The meter on AWS: the SNS topic the budget's addresses subscribe to (ECS and EKS), and on ECS
the collector that turns the engine's series into CloudWatch metrics, the alarms and the dashboard.

The alarms are :func:`components.gateway.meter.route_alerts` in CloudWatch's form: the same
alerts and thresholds, with metric math instead of PromQL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.aws.alarm_topic import AlarmTopic, alarm_topic, publish_statements
from components.gateway.args import KEY_ENV, PORT, GatewayArgs, MeterArgs
from components.gateway.meter import (
    EXPORTED,
    FAILURES,
    FALLBACKS,
    FIRST_TOKEN,
    FOR_SECONDS,
    LATENCY,
    OUTPUT_TOKENS,
    REQUESTS,
    SPEND,
    TARGET_LABEL,
    Alert,
    route_alerts,
    scrape_config,
)

#: ADOT collector (AWS's OpenTelemetry Collector build: Prometheus receiver, CloudWatch EMF exporter).
COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
WINDOW_SECONDS, DAY_SECONDS = 300, 86400


def alert_topic(name: str, args: GatewayArgs, tags: dict[str, str], opts: pulumi.ResourceOptions) -> AlarmTopic:
    """The alarm topic with the budget's ``notify`` addresses subscribed by e-mail."""
    assert args.meter is not None
    return alarm_topic(f"{name}-alerts", f"{args.physical_name}-alerts", args.meter.notify, tags, opts)


def collector_config(meter: MeterArgs, region: str, log_group: str, gateway: str) -> str:
    """The collector's config: scrape the engine in the same task, export CloudWatch EMF by route.

    ``$$`` is a literal ``$`` (the collector expands ``${env:...}``, which carries the client key)."""
    scrape = scrape_config("gateway", f"localhost:{PORT}", {"credentials": f"${{env:{KEY_ENV}}}"}, gateway, "$$")
    config = {
        "receivers": {"prometheus": {"config": {"scrape_configs": [scrape]}}},
        "exporters": {"awsemf": {
            "namespace": meter.namespace, "region": region, "log_group_name": log_group,
            "dimension_rollup_option": "NoDimensionRollup",
            # Per route, and per target of a route (the entry's id: `<route>/<deployment>`).
            "metric_declarations": [{"dimensions": [["route"], ["route", TARGET_LABEL]],
                                     "metric_name_selectors": list(EXPORTED)}],
        }},
        "service": {"pipelines": {"metrics": {"receivers": ["prometheus"], "exporters": ["awsemf"]}}},
    }
    return yaml.safe_dump(config, sort_keys=False)


def collector_container(args: GatewayArgs, logs: str, emf_logs: str, key_arn: str) -> dict[str, Any]:
    """The collector's container definition (a sidecar: the task keeps serving if it stops). Its
    own output goes to ``logs``, the metrics (EMF events) to ``emf_logs``."""
    assert args.meter is not None and args.ecs is not None
    region = args.ecs.region
    return {
        "name": "metrics", "image": COLLECTOR_IMAGE, "essential": False,
        "environment": [{"name": "AOT_CONFIG_CONTENT",
                         "value": collector_config(args.meter, region, emf_logs, args.physical_name)}],
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
    """:func:`route_alerts` as CloudWatch alarms: per route error rate, fallback rate, spend on pace
    to pass the monthly budget; the gateway's p95 latency (the load balancer's: the engine's latency
    histograms reach CloudWatch only as count/sum, so a per-route p95 cannot be computed there, and
    one alarm on the strictest route's bound stands in); and a dashboard."""
    meter = args.meter
    assert meter is not None
    actions = [alert_topic(name, args, tags, opts).topic.arn]
    periods = FOR_SECONDS // WINDOW_SECONDS
    numerators = {"errors": FAILURES, "fallbacks": FALLBACKS}
    alerts = route_alerts(meter, args.physical_name)

    def ratio(alert: Alert) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{name}-{alert.kind}-{alert.route}", comparison_operator="GreaterThanThreshold",
            evaluation_periods=periods, datapoints_to_alarm=periods, threshold=alert.threshold,
            treat_missing_data="notBreaching",
            alarm_description=f"gateway route {alert.route}: {alert.summary} ({WINDOW_SECONDS // 60}-minute windows)",
            metric_queries=[
                _route_metric(meter, numerators[alert.kind], alert.route, "Sum", WINDOW_SECONDS, "part"),
                _route_metric(meter, REQUESTS, alert.route, "Sum", WINDOW_SECONDS, "whole"),
                {"id": "share", "expression": "part / whole", "label": alert.kind, "return_data": True}],
            alarm_actions=actions, ok_actions=actions, tags=tags, opts=opts)

    def spend(alert: Alert) -> None:
        # An alarm cannot look back a whole month: one day's spend against the daily pace.
        aws.cloudwatch.MetricAlarm(
            f"{name}-spend-{alert.route}", comparison_operator="GreaterThanThreshold", evaluation_periods=1,
            threshold=round(alert.threshold, 6), treat_missing_data="notBreaching",
            namespace=meter.namespace, metric_name=SPEND, dimensions={"route": alert.route}, statistic="Sum",
            period=DAY_SECONDS, alarm_description=f"gateway route {alert.route}: {alert.summary}",
            alarm_actions=actions, tags=tags, opts=opts)

    for alert in alerts:
        if alert.kind in numerators:
            ratio(alert)
        elif alert.kind == "spend":
            spend(alert)
    strictest = min(a.threshold for a in alerts if a.kind == "p95-latency")
    aws.cloudwatch.MetricAlarm(
        f"{name}-p95-latency", comparison_operator="GreaterThanThreshold", evaluation_periods=periods,
        datapoints_to_alarm=periods, threshold=strictest, treat_missing_data="notBreaching",
        namespace="AWS/ApplicationELB", metric_name="TargetResponseTime",
        dimensions={"LoadBalancer": load_balancer_suffix}, extended_statistic="p95", period=WINDOW_SECONDS,
        alarm_description=f"gateway p95 latency above {strictest:g}s (the strictest route's bound)",
        alarm_actions=actions, ok_actions=actions, tags=tags, opts=opts)
    # Dashboard names take letters, digits, '-' and '_' (a '.' can come from the Pulumi project name);
    # the namespace is at most 182 characters (a 164-character stack tag), under the 255 they take.
    aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=re.sub(r"[/.]", "-", meter.namespace),
                             dashboard_body=pulumi.Output.from_input(load_balancer_suffix).apply(
                                 lambda suffix: dashboard_body(meter, args.ecs.region if args.ecs else "", suffix)),
                             opts=opts)


def dashboard_body(meter: MeterArgs, region: str, load_balancer_suffix: str) -> str:
    """A CloudWatch dashboard: per route requests, errors, fallbacks, mean latency and time to first
    token, tokens, spend; per target mean latency (a search over the route/target dimension, so a
    target added later shows without a change here); the load balancer's p50/p95/p99."""
    def per_target(metric: str, stat: str) -> str:
        # A metric-schema search: every (route, target) series of the metric, quoted because the
        # names hold non-alphanumerics (CloudWatch, "Search expression syntax").
        schema = ",".join(f'"{n}"' for n in (meter.namespace, "route", TARGET_LABEL))
        return f"SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{stat}', {WINDOW_SECONDS})"

    def per_route(title: str, metric: str, stat: str) -> dict[str, Any]:
        return {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": title, "region": region, "stat": stat, "period": WINDOW_SECONDS, "view": "timeSeries",
            "metrics": [[meter.namespace, metric, "route", r.route] for r in meter.routes]}}

    widgets = [
        per_route("Requests per route", REQUESTS, "Sum"),
        per_route("Failed requests per route", FAILURES, "Sum"),
        per_route("Fallbacks taken per route", FALLBACKS, "Sum"),
        per_route("Mean latency per route (s)", LATENCY, "Average"),
        per_route("Mean time to first token per route (s, streams)", FIRST_TOKEN, "Average"),
        per_route("Output tokens per route", OUTPUT_TOKENS, "Sum"),
        per_route("Spend per route (USD)", SPEND, "Sum"),
        {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": "Mean latency per target (s)", "region": region, "period": WINDOW_SECONDS,
            "view": "timeSeries", "metrics": [[{"id": "targets", "expression": per_target(LATENCY, "Average")}]]}},
        {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": "Gateway latency p50/p95/p99 (s)", "region": region, "period": WINDOW_SECONDS,
            "view": "timeSeries",
            "metrics": [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", load_balancer_suffix,
                         {"stat": stat}] for stat in ("p50", "p95", "p99")]}},
    ]
    return json.dumps({"widgets": widgets})


def collector_log_policy(log_group_arn: str) -> str:
    """What the collector may do: write EMF events to its own log group."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams"],
        "Resource": [log_group_arn, f"{log_group_arn}:*"]}]})


def publish_policy(topic_arn: str, key_arn: str) -> str:
    """What the EKS cluster's Alertmanager may do: publish to the gateway's alert topic."""
    return json.dumps({"Version": "2012-10-17", "Statement": publish_statements(topic_arn, key_arn)})
