"""Autoscaling and observability manifests of the vLLM workload (camelCase dicts).

Scaling follows the queue (``vllm:num_requests_waiting``), never CPU: CPU spikes while weights
load and says nothing about GPU saturation. Metric names are vLLM's (``/metrics`` of the
OpenAI server); HTTP status counts come from the server's FastAPI instrumentator
(``http_requests_total{status="5xx"}``).
"""

from __future__ import annotations

from typing import Any

from components.vllm.args import AlertThresholds, MonitoringKind, ScalingMode, VllmServiceArgs
from components.vllm.manifests import METRICS_PATH, PORT_NAME, Manifest, metadata, selector_labels

QUEUE_METRIC = "vllm:num_requests_waiting"
KV_CACHE_METRIC = "vllm:kv_cache_usage_perc"
"""KV-cache usage, 0..1 (1 = full), as the pinned vLLM (v0.11.0, V1 engine,
``vllm/v1/metrics/loggers.py``) exports it; ``vllm:gpu_cache_usage_perc`` is its deprecated
older name."""
RULE_GROUP_INTERVAL = "1m"


def metric_selector(name: str, args: VllmServiceArgs) -> str:
    """PromQL label matchers for this deployment's pods, whatever scrapes them.

    ServiceMonitor and PodMonitoring both attach ``namespace`` and ``pod``; Deployment pods are
    ``<name>-<template hash>-<suffix>``.
    """
    return f'namespace="{args.namespace}",pod=~"{name}-[a-z0-9]+-[a-z0-9]+"'


def scaled_object(name: str, args: VllmServiceArgs) -> Manifest | None:
    """KEDA ``ScaledObject``: queue depth per replica, a keep-alive on request rate, fallback."""
    a = args.autoscaling
    if a.mode is not ScalingMode.KEDA:
        return None
    sel = metric_selector(name, args)
    auth = {"authenticationRef": {"name": a.authentication_ref}} if a.authentication_ref else {}

    def trigger(trigger_name: str, query: str, threshold: str, activation: str) -> Manifest:
        return {
            "type": "prometheus",
            "name": trigger_name,
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": a.prometheus_address,
                "query": query,
                "threshold": threshold,
                "activationThreshold": activation,
                "ignoreNullValues": "true",
            },
            **auth,
        }

    triggers = [
        # Waiting requests per replica; absent series (no pods yet) count as 0.
        trigger("queue", f"sum({QUEUE_METRIC}{{{sel}}}) or vector(0)",
                f"{a.queue_threshold:g}", "0"),
        # 1 while requests completed within the window, else 0: asks for exactly one replica,
        # so in-flight traffic prevents scale to zero without driving scale-up.
        trigger("keep-alive",
                f"(sum(rate(vllm:request_success_total{{{sel}}}[{a.keep_alive_window}])) "
                f"> bool {a.keep_alive_requests_per_second:g}) or vector(0)",
                "1", "0"),
    ]
    if a.kv_cache_usage_threshold is not None:
        # Mean KV-cache usage per replica: a full cache preempts requests before the queue grows.
        triggers.append(trigger("kv-cache", f"sum({KV_CACHE_METRIC}{{{sel}}}) or vector(0)",
                                f"{a.kv_cache_usage_threshold:g}", "0"))
    if a.wake_query:
        # Upstream traffic wakes a scaled-to-zero server and keeps one replica while it lasts.
        triggers.append(trigger("wake", f"(({a.wake_query}) > bool 0) or vector(0)", "1", "0"))
    spec: Manifest = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "pollingInterval": a.polling_interval_seconds,
        "cooldownPeriod": a.cooldown_period_seconds,
        "minReplicaCount": a.min_replicas,
        "maxReplicaCount": a.max_replicas,
        "fallback": {"failureThreshold": 3, "replicas": a.fallback_replicas},
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(args)}},
        "triggers": triggers,
    }
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": metadata(name, args), "spec": spec}


def _behavior(args: VllmServiceArgs) -> Manifest:
    # Add one replica at a time (each costs GPUs and minutes of model load); scale down slowly.
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleDown": {"stabilizationWindowSeconds": args.autoscaling.cooldown_period_seconds,
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]},
    }


def horizontal_pod_autoscaler(name: str, args: VllmServiceArgs) -> Manifest | None:
    """``autoscaling/v2`` HPA on the per-pod queue metric (custom-metrics adapter required)."""
    a = args.autoscaling
    if a.mode is not ScalingMode.HPA:
        return None
    def adapter_name(metric: str) -> str:
        # How the custom-metrics adapter names a Prometheus metric (GMP spells the type in it).
        return (f"prometheus.googleapis.com|{metric}|gauge"
                if args.monitoring.kind is MonitoringKind.POD_MONITORING else metric)

    def pods_metric(name: str, target: float) -> Manifest:
        return {"type": "Pods", "pods": {"metric": {"name": name},
                                         "target": {"type": "AverageValue", "averageValue": f"{target:g}"}}}

    metrics = [pods_metric(a.hpa_metric_name or adapter_name(QUEUE_METRIC), a.queue_threshold)]
    if a.kv_cache_usage_threshold is not None:
        metrics.append(pods_metric(adapter_name(KV_CACHE_METRIC), a.kv_cache_usage_threshold))
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": metadata(name, args),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": a.min_replicas,
            "maxReplicas": a.max_replicas,
            "metrics": metrics,
            "behavior": _behavior(args),
        },
    }


def scrape_config(name: str, args: VllmServiceArgs) -> Manifest | None:
    """``ServiceMonitor`` (prometheus-operator) or ``PodMonitoring`` (GKE Managed Prometheus)."""
    m = args.monitoring
    endpoint = {"port": PORT_NAME, "path": METRICS_PATH, "interval": m.scrape_interval}
    if m.kind is MonitoringKind.SERVICE_MONITOR:
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": metadata(name, args, extra_labels=m.rule_labels),
                "spec": {"selector": {"matchLabels": selector_labels(name)},
                         "namespaceSelector": {"matchNames": [args.namespace]},
                         "endpoints": [endpoint]}}
    if m.kind is MonitoringKind.POD_MONITORING:
        return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
                "metadata": metadata(name, args),
                "spec": {"selector": {"matchLabels": selector_labels(name)}, "endpoints": [endpoint]}}
    return None


def alert_rules(name: str, args: VllmServiceArgs) -> list[dict[str, Any]]:
    """The alerting rules (p95 TTFT, p95 e2e latency, queue depth, KV-cache usage, 5xx share)."""
    t: AlertThresholds | None = args.monitoring.alerts
    if t is None:
        return []
    sel = metric_selector(name, args)

    def p95(metric: str) -> str:
        return f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{sel}}}[5m])))"

    def rule(alert: str, expr: str, summary: str) -> dict[str, Any]:
        return {
            "alert": alert, "expr": expr, "for": t.for_duration,
            "labels": {"severity": t.severity, "deployment": name, "namespace": args.namespace},
            "annotations": {"summary": f"{name}: {summary}",
                            "description": f"vLLM deployment {args.namespace}/{name}: {summary}."},
        }

    return [
        rule("VllmTimeToFirstTokenP95High",
             f"{p95('vllm:time_to_first_token_seconds')} > {t.ttft_p95_seconds:g}",
             f"p95 time to first token above {t.ttft_p95_seconds:g}s"),
        rule("VllmE2eLatencyP95High",
             f"{p95('vllm:e2e_request_latency_seconds')} > {t.e2e_latency_p95_seconds:g}",
             f"p95 end-to-end latency above {t.e2e_latency_p95_seconds:g}s"),
        rule("VllmQueueDepthHigh", f"sum({QUEUE_METRIC}{{{sel}}}) > {t.queue_depth:g}",
             f"more than {t.queue_depth:g} requests waiting"),
        # Older images (vllm.image.tag) export only the deprecated name.
        rule("VllmKvCacheUsageHigh",
             f"max({KV_CACHE_METRIC}{{{sel}}} or vllm:gpu_cache_usage_perc{{{sel}}}) "
             f"> {t.kv_cache_usage:g}",
             f"KV-cache usage above {t.kv_cache_usage:.0%}"),
        rule("VllmHttp5xxRateHigh",
             f'sum(rate(http_requests_total{{{sel},status=~"5.."}}[5m])) / '
             f"sum(rate(http_requests_total{{{sel}}}[5m])) > {t.error_rate_5xx:g}",
             f"more than {t.error_rate_5xx:.0%} of responses are 5xx"),
    ]


def rules_manifest(name: str, args: VllmServiceArgs) -> Manifest | None:
    """``PrometheusRule`` (prometheus-operator) or GMP ``Rules`` holding :func:`alert_rules`."""
    rules = alert_rules(name, args)
    kind = args.monitoring.kind
    if not rules or kind is MonitoringKind.NONE:
        return None
    groups = [{"name": f"{name}.vllm", "interval": RULE_GROUP_INTERVAL, "rules": rules}]
    if kind is MonitoringKind.SERVICE_MONITOR:
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": metadata(name, args, extra_labels=args.monitoring.rule_labels),
                "spec": {"groups": groups}}
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "Rules",
            "metadata": metadata(name, args), "spec": {"groups": groups}}
