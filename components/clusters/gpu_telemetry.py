"""``scalepath:index:GpuTelemetry``: DCGM GPU metrics on a cluster, alert rules and a dashboard.

EKS runs NVIDIA's DCGM exporter (a pinned Helm chart) on the GPU nodes, scraped by the cluster's
kube-prometheus-stack through the chart's ``ServiceMonitor``; GKE exports DCGM metrics itself
when the cluster's ``monitoringConfig`` enables the ``DCGM`` component (the cluster sets it),
scraped by Managed Prometheus. Either way the alert rules and the dashboard read only the DCGM
metrics that cluster's exporter produces (``components/data/gpu_telemetry.yaml``).

On GKE the same rules also become Cloud Monitoring alert policies (PromQL conditions on this
cluster's series) sent to the stack's notification channels: GMP's ``ClusterRules`` evaluate them
in the cluster, but nothing there routes a firing alert to anyone. The dashboard's panels are
written once (:func:`panels`): a Grafana JSON ConfigMap on both clusters, and on GKE also a Cloud
Monitoring dashboard of the same panels on this cluster's series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import grafana
from components.clusters.addons import HelmChart, helm_release
from components.clusters.gpu_nodes import GPU_POOL, GPU_TAINT_EFFECT, GPU_TAINT_KEY, NODE_POOL_LABEL
from components.files import load_data
from components.gcp import monitoring

DATA_FILE = Path(__file__).parent.parent / "data" / "gpu_telemetry.yaml"
_DATA = load_data(DATA_FILE)
_EXPORTER = _DATA["dcgmExporter"]

DCGM_EXPORTER = HelmChart(_EXPORTER["chart"], _EXPORTER["repo"], _EXPORTER["version"], _EXPORTER["namespace"])
"""NVIDIA's DCGM exporter chart (EKS; GKE runs its own when ``DCGM`` is enabled)."""
NAMESPACE = "gpu-telemetry"
"""Holds the dashboard ConfigMap (and, on EKS, the PrometheusRule)."""
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"
RULE_GROUP_INTERVAL = "1m"


class TelemetryPlatform(str, Enum):
    """Whose Prometheus reads the DCGM metrics, which decides the rule and exporter objects."""

    EKS = "eks"
    """kube-prometheus-stack in the cluster: the exporter chart, ``PrometheusRule``."""
    GKE = "gke"
    """Managed Prometheus: GKE's managed DCGM exporter, GMP ``ClusterRules``."""


def exported_metrics(platform: TelemetryPlatform) -> frozenset[str]:
    """The DCGM metrics the platform's exporter produces (the data file's list)."""
    return frozenset(_DATA["metrics"][platform.value])


@dataclass(frozen=True, kw_only=True)
class GpuAlerts:
    """Thresholds of the GPU alert rules (the dashboard shows the same series)."""

    idle_utilisation_pct: float = 10
    """Alert when a GPU's mean utilisation over 30 minutes stays below this: paid for, idle."""
    memory_used_pct: float = 97
    """Alert when a GPU's framebuffer is fuller than this (vLLM reserves
    ``gpu_memory_utilization`` of it at start, so this must be above that share)."""
    for_duration: str = "15m"
    severity: str = "warning"


@dataclass(frozen=True, kw_only=True)
class GpuTelemetryArgs:
    """Telemetry of one cluster."""

    platform: TelemetryPlatform
    cluster_name: str
    """Named in alert labels and the dashboard title."""
    labels: dict[str, str]
    """Kubernetes cost labels of the objects created here."""
    alerts: GpuAlerts
    gcp_project: str | None = None
    """GKE: the project whose Cloud Monitoring holds the cluster's Managed Prometheus series."""
    notification_channels: Sequence[pulumi.Input[str]] = ()
    """GKE: the stack's notification channels (``budget.notify``); the alert policies notify them."""
    policy_labels: dict[str, str] = field(default_factory=dict)
    """GKE: the cost labels of the alert policies and the dashboard (``gcp_labels``)."""


def exporter_values() -> dict[str, Any]:
    """DCGM exporter chart values: GPU nodes only, their taint tolerated, scraped by a ServiceMonitor."""
    requests = _EXPORTER["requests"]
    return {
        "image": {"repository": _EXPORTER["image"], "tag": _EXPORTER["imageTag"]},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": NODE_POOL_LABEL, "operator": "In", "values": [GPU_POOL]}]}]}}},
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": GPU_TAINT_EFFECT}],
        # Counted in node_allocatable.yaml, so the vLLM replica's requests leave room for it.
        "resources": {"requests": dict(requests), "limits": {"memory": _EXPORTER["memoryLimit"]}},
        "serviceMonitor": {"enabled": True, "interval": "30s"},
    }


def _series(metric: str, selector: str) -> str:
    """``metric`` narrowed by ``selector`` (PromQL label matchers), or all of it without one."""
    return f"{metric}{{{selector}}}" if selector else metric


def _memory_used_pct(selector: str) -> str:
    """Share of each GPU's framebuffer in use, in percent (DCGM reports used and free MiB)."""
    used, free = _series(FB_USED, selector), _series(FB_FREE, selector)
    return f"100 * {used} / ({used} + {free})"


def cluster_selector(args: GpuTelemetryArgs) -> str:
    """PromQL matchers for this cluster's series in a project's Cloud Monitoring (GKE: Managed
    Prometheus labels each series with ``cluster``, and a project may hold several clusters)."""
    return f'cluster="{args.cluster_name}"'


def _dashboard_selector(args: GpuTelemetryArgs) -> str:
    """What a dashboard narrows its series by: this cluster on GKE, whose Managed Prometheus answers
    for the whole project; nothing on EKS, whose in-cluster Prometheus sees only this cluster (and
    adds no ``cluster`` label: a matcher would hide everything)."""
    return cluster_selector(args) if args.platform is TelemetryPlatform.GKE else ""


def alert_rules(args: GpuTelemetryArgs, selector: str = "") -> list[dict[str, Any]]:
    """GPU rules over the metrics the platform exports: idle GPUs, full framebuffer, XID errors.
    ``selector`` (PromQL label matchers) narrows each series, e.g. to one cluster of a project."""
    available, t = exported_metrics(args.platform), args.alerts

    def rule(alert: str, expr: str, summary: str, *, for_: str = t.for_duration,
             severity: str = t.severity) -> dict[str, Any]:
        return {"alert": alert, "expr": expr, "for": for_,
                "labels": {"severity": severity, "cluster": args.cluster_name},
                "annotations": {"summary": summary,
                                "description": f"GPU cluster {args.cluster_name}: {summary}."}}

    rules = [
        rule("GpuUtilisationLow", f"avg_over_time({_series(GPU_UTIL, selector)}[30m]) < {t.idle_utilisation_pct:g}",
             f"a GPU averaged under {t.idle_utilisation_pct:g}% utilisation for 30 minutes (paid for, idle)"),
        rule("GpuMemoryUsageHigh", f"{_memory_used_pct(selector)} > {t.memory_used_pct:g}",
             f"a GPU's memory is more than {t.memory_used_pct:g}% used"),
    ]
    if XID_ERRORS in available:
        # The gauge holds the last XID seen; any non-zero value is a driver-reported GPU fault.
        rules.append(rule("GpuXidError", f"max_over_time({_series(XID_ERRORS, selector)}[5m]) > 0",
                          "the driver reported an XID error (GPU fault): drain and check the node",
                          for_="0m", severity="critical"))
    return rules


def rules_manifest(args: GpuTelemetryArgs) -> dict[str, Any]:
    """``PrometheusRule`` (EKS, namespaced) or GMP ``ClusterRules`` (GKE: DCGM series live in a
    GKE-managed namespace, which namespaced GMP ``Rules`` would not see)."""
    groups = [{"name": "gpu.dcgm", "interval": RULE_GROUP_INTERVAL, "rules": alert_rules(args)}]
    name = "gpu-dcgm"
    if args.platform is TelemetryPlatform.EKS:
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(args.labels)},
                "spec": {"groups": groups}}
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterRules",
            "metadata": {"name": name, "labels": dict(args.labels)}, "spec": {"groups": groups}}


#: Cloud Monitoring alert policy severities of the rules' ``severity`` label (``info`` has none).
_POLICY_SEVERITY = {"critical": "CRITICAL", "warning": "WARNING"}


def _seconds(duration: str) -> str:
    """A rule's ``for`` (``15m``, ``0m``) as Cloud Monitoring writes durations (``900s``)."""
    number, unit = int(duration[:-1]), duration[-1]
    return f"{number * {'s': 1, 'm': 60, 'h': 3600}[unit]}s"


def alert_policies(name: str, args: GpuTelemetryArgs, opts: pulumi.ResourceOptions) -> list[gcp.monitoring.AlertPolicy]:
    """GKE: one Cloud Monitoring alert policy per rule, its PromQL on this cluster's DCGM series
    (Managed Prometheus labels each with ``cluster``), notifying the stack's channels."""
    policies = []
    for rule in alert_rules(args, selector=cluster_selector(args)):
        severity = _POLICY_SEVERITY.get(rule["labels"]["severity"])
        policies.append(gcp.monitoring.AlertPolicy(
            f"{name}-{rule['alert'].lower()}", project=args.gcp_project,
            display_name=f"{args.cluster_name}: {rule['annotations']['summary']}",
            combiner="OR", notification_channels=list(args.notification_channels),
            user_labels=dict(args.policy_labels),
            **({"severity": severity} if severity else {}),
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                mime_type="text/markdown", content=rule["annotations"]["description"]),
            conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                display_name=rule["alert"],
                condition_prometheus_query_language=gcp.monitoring.AlertPolicyConditionConditionPrometheusQueryLanguageArgs(
                    query=rule["expr"], duration=_seconds(rule["for"]), evaluation_interval="60s",
                    alert_rule=rule["alert"], rule_group="gpu.dcgm"))],
            opts=opts))
    return policies


def panels(platform: TelemetryPlatform, selector: str = "") -> list[tuple[str, str]]:
    """The dashboard, as (title, PromQL) per panel: one per DCGM signal the rules read, over the
    metrics the platform exports; ``selector`` narrows each series as in :func:`alert_rules`."""
    board = [
        ("GPU utilisation (%)", f"avg_over_time({_series(GPU_UTIL, selector)}[5m])"),
        ("GPU memory used (%)", _memory_used_pct(selector)),
    ]
    if XID_ERRORS in exported_metrics(platform):
        board.append(("Last XID error (0 = none)", _series(XID_ERRORS, selector)))
    return board


def dashboard_title(args: GpuTelemetryArgs) -> str:
    """Both dashboards' title: the cluster name is unique per project and stack."""
    return f"GPUs: {args.cluster_name}"


def dashboard(args: GpuTelemetryArgs) -> dict[str, Any]:
    """Grafana dashboard JSON of :func:`panels`."""
    return grafana.dashboard(dashboard_title(args), f"gpu-{args.cluster_name}",
                             panels(args.platform, _dashboard_selector(args)))


def dashboard_config_map(args: GpuTelemetryArgs) -> dict[str, Any]:
    """The dashboard as a ConfigMap a Grafana sidecar picks up."""
    return grafana.config_map("gpu-dcgm-dashboard", NAMESPACE, args.labels, "gpu-dcgm.json", dashboard(args))


class GpuTelemetry(pulumi.ComponentResource):
    """The exporter (EKS), the GPU alert rules and the dashboard ConfigMap on one cluster; on GKE
    also the alert policies and a Cloud Monitoring dashboard.

    Pass the cluster's Kubernetes provider and what the objects wait for (the Prometheus stack
    whose CRDs they use) in ``opts``; children inherit them through ``parent=self``.
    """

    def __init__(self, name: str, args: GpuTelemetryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:GpuTelemetry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": NAMESPACE, "labels": dict(args.labels)}, opts=child)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        if args.platform is TelemetryPlatform.EKS:
            helm_release(f"{name}-dcgm-exporter", DCGM_EXPORTER, exporter_values(), child)
        rules = rules_manifest(args)
        k8s.apiextensions.CustomResource(
            f"{name}-alert-rules", api_version=rules["apiVersion"], kind=rules["kind"],
            metadata=rules["metadata"], spec=rules["spec"], opts=in_namespace)
        if args.platform is TelemetryPlatform.GKE:
            alert_policies(name, args, child)
            # Not "{name}-dashboard": that is the ConfigMap's name, and plan lines are keyed by name.
            monitoring.dashboard(f"{name}-cloud-monitoring", project=args.gcp_project,
                                 display_name=dashboard_title(args),
                                 panels=panels(args.platform, _dashboard_selector(args)),
                                 labels=args.policy_labels, opts=child)
        board = dashboard_config_map(args)
        k8s.core.v1.ConfigMap(f"{name}-dashboard", metadata=board["metadata"], data=board["data"],
                              opts=in_namespace)
        self.register_outputs({})
