"""CloudWatch alarms and the dashboard of one SageMaker endpoint.

The latency and error alarms watch the endpoint's variant and are also the blue/green
auto-rollback alarms: SageMaker rolls an update back when one fires while traffic shifts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.outputs import json_document
from components.sagemaker.settings import AlarmSettings

PERIOD = 60
"""Alarm period (s): SageMaker endpoint metrics are published per minute."""


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """What the alarms watch and where they report."""

    endpoint_name: str
    variant_name: str
    region: str
    settings: AlarmSettings
    is_async: bool
    """Add the ``ApproximateBacklogSize`` alarm and widget."""
    gpu: bool
    """Add GPU utilisation widgets (``/aws/sagemaker/Endpoints`` namespace)."""
    tags: Mapping[str, str]
    """AWS-normalised tags."""


@dataclass(frozen=True)
class Alarms:
    """The alarms created; ``rollback`` are those bound to blue/green auto-rollback."""

    rollback: list[aws.cloudwatch.MetricAlarm]
    backlog: aws.cloudwatch.MetricAlarm | None


def create_alarms(name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions) -> Alarms:
    """p95 latency and 5xx-rate alarms on the variant, plus backlog for async endpoints."""
    s = args.settings
    dims = {"EndpointName": args.endpoint_name, "VariantName": args.variant_name}
    actions = [s.notify_topic_arn] if s.notify_topic_arn else []
    common = dict(evaluation_periods=s.evaluation_periods, datapoints_to_alarm=s.evaluation_periods,
                  alarm_actions=actions, ok_actions=actions, tags=dict(args.tags), opts=opts)
    latency = aws.cloudwatch.MetricAlarm(
        f"{name}-latency-p95", name=f"{args.endpoint_name}-latency-p95",
        alarm_description=f"p95 ModelLatency of {args.endpoint_name} above {s.latency_p95_ms} ms",
        namespace="AWS/SageMaker", metric_name="ModelLatency", dimensions=dims,
        extended_statistic="p95", period=PERIOD, comparison_operator="GreaterThanThreshold",
        threshold=s.latency_p95_ms * 1000,  # ModelLatency is reported in microseconds
        treat_missing_data="notBreaching", **common,
    )
    errors = aws.cloudwatch.MetricAlarm(
        f"{name}-5xx-rate", name=f"{args.endpoint_name}-5xx-rate",
        alarm_description=f"5xx responses of {args.endpoint_name} above {s.error_5xx_rate_pct}% of invocations",
        comparison_operator="GreaterThanThreshold", threshold=s.error_5xx_rate_pct,
        treat_missing_data="notBreaching",
        metric_queries=[
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="errors", return_data=False, metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/SageMaker", metric_name="Invocation5XXErrors", dimensions=dims,
                    stat="Sum", period=PERIOD)),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="invocations", return_data=False, metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/SageMaker", metric_name="Invocations", dimensions=dims,
                    stat="Sum", period=PERIOD)),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate", label="5xx rate (%)", return_data=True,
                expression="IF(invocations > 0, 100 * errors / invocations, 0)"),
        ],
        **common,
    )
    backlog = None
    if args.is_async:
        backlog = aws.cloudwatch.MetricAlarm(
            f"{name}-backlog", name=f"{args.endpoint_name}-backlog",
            alarm_description=f"async backlog of {args.endpoint_name} above {s.backlog_size} requests",
            namespace="AWS/SageMaker", metric_name="ApproximateBacklogSize",
            dimensions={"EndpointName": args.endpoint_name}, statistic="Average", period=PERIOD,
            comparison_operator="GreaterThanThreshold", threshold=s.backlog_size,
            treat_missing_data="notBreaching", **common,
        )
    return Alarms(rollback=[latency, errors], backlog=backlog)


def dashboard_body(args: MonitoringArgs) -> dict:
    """CloudWatch dashboard JSON: traffic, latency, errors, instances, GPU and backlog."""
    endpoint, variant, region = args.endpoint_name, args.variant_name, args.region
    ev = ["EndpointName", endpoint, "VariantName", variant]

    def widget(title: str, metrics: list, x: int, y: int, stat: str = "Sum") -> dict:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat, "period": PERIOD,
                               "view": "timeSeries", "metrics": metrics}}

    widgets = [
        widget("Invocations", [["AWS/SageMaker", "Invocations", *ev]], 0, 0),
        widget("Model latency (µs)", [["AWS/SageMaker", "ModelLatency", *ev, {"stat": "p50"}],
                                      ["AWS/SageMaker", "ModelLatency", *ev, {"stat": "p95"}]], 12, 0, "p95"),
        widget("Errors", [["AWS/SageMaker", "Invocation4XXErrors", *ev],
                          ["AWS/SageMaker", "Invocation5XXErrors", *ev]], 0, 6),
        widget("CPU utilisation (%)", [["/aws/sagemaker/Endpoints", "CPUUtilization", *ev]], 12, 6, "Average"),
    ]
    if args.gpu:
        widgets.append(widget("GPU utilisation / memory (%)", [
            ["/aws/sagemaker/Endpoints", "GPUUtilization", *ev],
            ["/aws/sagemaker/Endpoints", "GPUMemoryUtilization", *ev]], 0, 12, "Average"))
    if args.is_async:
        widgets.append(widget("Async backlog", [
            ["AWS/SageMaker", "ApproximateBacklogSize", "EndpointName", endpoint],
            ["AWS/SageMaker", "ApproximateBacklogSizePerInstance", "EndpointName", endpoint]], 12, 12, "Average"))
    return {"widgets": widgets}


def create_dashboard(name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions) -> aws.cloudwatch.Dashboard:
    """One dashboard per deployment (dashboards take no tags)."""
    return aws.cloudwatch.Dashboard(
        f"{name}-dashboard", dashboard_name=f"{args.endpoint_name}",
        dashboard_body=json_document(dashboard_body(args)), opts=opts,
    )
