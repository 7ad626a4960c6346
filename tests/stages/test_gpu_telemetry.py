"""GPU telemetry on the EKS and GKE clusters (issue 26, item 1): the DCGM exporter, the rules over
what it exports, the dashboard, the config keys, and that every object is schema-valid and priced."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.clusters import gpu_telemetry
from components.clusters.gpu_telemetry import TelemetryPlatform
from components.files import load_data
from scalepath.plan import Plan
from tests.support import issues, of_type, one, plan
from tests.support.clusters import eks_config, gke_config
from tests.support.k8s import validate

D = "scalepath:deployments[0]"
HELM = "kubernetes:helm.sh/v3:Release"
DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
PIN = load_data(gpu_telemetry.DATA_FILE)
METRIC = re.compile(r"\bDCGM_[A-Z_]+\b")


def rules_of(p: Plan) -> list[dict[str, Any]]:
    (manifest,) = [r.inputs for r in p.resources if r.name.endswith("-gpu-telemetry-alert-rules")]
    validate(manifest)
    return [rule for group in manifest["spec"]["groups"] for rule in group["rules"]]


def dashboard_of(p: Plan) -> dict[str, Any]:
    (board,) = [r for r in of_type(p, "kubernetes:core/v1:ConfigMap") if r.name.endswith("-gpu-telemetry-dashboard")]
    validate(board.inputs)
    assert board.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
    return json.loads(board.inputs["data"]["gpu-dcgm.json"])


def test_eks_runs_the_pinned_dcgm_exporter_on_gpu_nodes_scraped_by_a_service_monitor() -> None:
    p = plan(eks_config())
    (release,) = [r.inputs for r in of_type(p, HELM) if r.inputs["chart"] == "dcgm-exporter"]
    pin = PIN["dcgmExporter"]
    assert (release["version"], release["repositoryOpts"]["repo"]) == (pin["version"], pin["repo"])
    values = release["values"]
    assert values["image"] == {"repository": "nvcr.io/nvidia/k8s/dcgm-exporter", "tag": pin["imageTag"]}
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    term = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["gpu"]
    # kube-prometheus-stack picks up ServiceMonitors whatever their labels (prometheus_values()).
    assert values["serviceMonitor"]["enabled"] is True
    rules = rules_of(p)
    assert {r["alert"] for r in rules} == {"GpuUtilisationLow", "GpuMemoryUsageHigh", "GpuXidError"}
    xid = next(r for r in rules if r["alert"] == "GpuXidError")
    assert "DCGM_FI_DEV_XID_ERRORS" in xid["expr"] and xid["labels"]["severity"] == "critical"
    assert one(p, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "llm-eks-gpu-telemetry-alert-rules"
               ).inputs["metadata"]["namespace"] == \
        gpu_telemetry.NAMESPACE


def test_gke_enables_managed_dcgm_and_evaluates_cluster_wide_rules() -> None:
    p = plan(gke_config())
    cluster = one(p, "gcp:container/cluster:Cluster").inputs
    assert "DCGM" in cluster["monitoringConfig"]["enableComponents"]
    assert cluster["monitoringConfig"]["managedPrometheus"]["enabled"] is True
    assert not [r for r in of_type(p, HELM) if r.inputs["chart"] == "dcgm-exporter"]
    assert one(p, "kubernetes:monitoring.googleapis.com/v1:ClusterRules")
    # GKE's managed package does not export XID errors: no rule may read them there.
    assert {r["alert"] for r in rules_of(p)} == {"GpuUtilisationLow", "GpuMemoryUsageHigh"}


def test_gke_rules_notify_the_stacks_channels_as_cloud_monitoring_promql_policies() -> None:
    # GMP's ClusterRules evaluate in the cluster but route nowhere: the same rules become alert
    # policies on this cluster's series, sent to the stack's alert channels (one per budget.notify).
    p = plan(gke_config())
    policies = {r.inputs["conditions"][0]["displayName"]: r.inputs
                for r in of_type(p, "gcp:monitoring/alertPolicy:AlertPolicy")}
    assert set(policies) == {r["alert"] for r in rules_of(p)} == {"GpuUtilisationLow", "GpuMemoryUsageHigh"}
    channels = [r for r in of_type(p, "gcp:monitoring/notificationChannel:NotificationChannel")
                if r.name.startswith("alerts-gcp-")]
    assert [c.inputs["labels"]["email_address"] for c in channels] == ["a@example.com"]
    cluster = one(p, "gcp:container/cluster:Cluster").inputs["name"]
    for policy in policies.values():
        (condition,) = policy["conditions"]
        query = condition["conditionPrometheusQueryLanguage"]["query"]
        assert len(policy["notificationChannels"]) == len(channels) == 1
        assert query.count("DCGM_FI_") == query.count(f'{{cluster="{cluster}"}}') >= 1
        assert policy["project"] == "ml-proj-123"
    util = policies["GpuUtilisationLow"]["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert util["query"] == f'avg_over_time(DCGM_FI_DEV_GPU_UTIL{{cluster="{cluster}"}}[30m]) < 10'
    assert util["duration"] == "900s"  # the rules' default for: 15m
    assert policies["GpuUtilisationLow"]["severity"] == "WARNING"
    # EKS alerts through its own Prometheus stack: no Cloud Monitoring policy there.
    assert not of_type(plan(eks_config()), "gcp:monitoring/alertPolicy:AlertPolicy")


@pytest.mark.parametrize("cfg, platform", [(eks_config(), TelemetryPlatform.EKS),
                                           (gke_config(), TelemetryPlatform.GKE)], ids=["eks", "gke"])
def test_rules_and_dashboard_read_only_metrics_the_cluster_exports(cfg, platform) -> None:
    p = plan(cfg)
    read = {m for r in rules_of(p) for m in METRIC.findall(r["expr"])}
    read |= {m for panel in dashboard_of(p)["panels"] for t in panel["targets"] for m in METRIC.findall(t["expr"])}
    assert read and read <= set(PIN["metrics"][platform.value])


def test_thresholds_come_from_config() -> None:
    p = plan(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"], "gpuTelemetry": {
        "idleUtilisationPct": 12.5, "memoryUsedPct": 99, "for": "30m", "severity": "critical"}}))
    rules = {r["alert"]: r for r in rules_of(p)}
    assert rules["GpuUtilisationLow"]["expr"].endswith("< 12.5")
    assert rules["GpuMemoryUsageHigh"]["expr"].endswith("> 99")
    assert rules["GpuMemoryUsageHigh"]["for"] == "30m"
    assert rules["GpuUtilisationLow"]["labels"]["severity"] == "critical"


@pytest.mark.parametrize("cfg, key", [(eks_config, "publicAccessCidrs"), (gke_config, "masterAuthorizedCidrs")],
                         ids=["eks", "gke"])
def test_telemetry_can_be_turned_off(cfg, key) -> None:
    p = plan(cfg(cluster={key: ["203.0.113.0/24"], "gpuTelemetry": {"enabled": False}}))
    assert not of_type(p, "scalepath:index:GpuTelemetry")
    assert not of_type(p, DASHBOARD)
    assert not [r for r in of_type(p, HELM) if r.inputs["chart"] == "dcgm-exporter"]
    for cluster in of_type(p, "gcp:container/cluster:Cluster"):
        assert "DCGM" not in cluster.inputs["monitoringConfig"]["enableComponents"]


def test_memory_alert_must_be_above_what_vllm_reserves() -> None:
    cluster = {"publicAccessCidrs": ["203.0.113.0/24"]}
    # vllm.gpuMemoryUtilization 0.9 (the default) takes 90% of GPU memory at start.
    found = issues(eks_config(cluster={**cluster, "gpuTelemetry": {"memoryUsedPct": 90}}))
    assert "vllm.gpuMemoryUtilization" in found[f"{D}.cluster.gpuTelemetry.memoryUsedPct"]
    assert plan(eks_config(cluster={**cluster, "gpuTelemetry": {"memoryUsedPct": 90.5}}))


def test_every_telemetry_object_is_priced_or_classified() -> None:
    for cfg in (eks_config(), gke_config()):
        p = plan(cfg)
        basis = {line["name"]: line["basis"] for line in p.cost["lines"]}
        telemetry = [r for r in p.resources if "gpu-telemetry" in r.name and r.custom]
        assert len(telemetry) >= 3
        assert all(basis.get(r.name, "no-charge") != "unknown" for r in telemetry)
    assert basis["llm-gke-gpu-telemetry-alert-rules"] == "metered"


@pytest.mark.parametrize("cfg", [eks_config(), gke_config()], ids=["eks", "gke"])
def test_every_telemetry_manifest_passes_the_schema_checks(cfg) -> None:
    objects = [r.inputs for r in plan(cfg).resources
               if "gpu-telemetry" in r.name and r.type.startswith("kubernetes:") and r.type != HELM]
    assert {o["kind"] for o in objects} >= {"Namespace", "ConfigMap"}
    for manifest in objects:
        validate(manifest)


#: The Grafana dashboard's panels (title, PromQL), written out by hand: GKE's managed exporter has no
#: XID field (the data file), and on GKE each series is narrowed to the cluster (Managed Prometheus
#: answers for the whole project); EKS's in-cluster Prometheus sees only its cluster.
_GKE = 'cluster="scalepath-gke-staging-chat-gke"'
GRAFANA_PANELS = {
    "eks": [("GPU utilisation (%)", "avg_over_time(DCGM_FI_DEV_GPU_UTIL[5m])"),
            ("GPU memory used (%)", "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)"),
            ("Last XID error (0 = none)", "DCGM_FI_DEV_XID_ERRORS")],
    "gke": [("GPU utilisation (%)", f"avg_over_time(DCGM_FI_DEV_GPU_UTIL{{{_GKE}}}[5m])"),
            ("GPU memory used (%)", f"100 * DCGM_FI_DEV_FB_USED{{{_GKE}}} / "
                                    f"(DCGM_FI_DEV_FB_USED{{{_GKE}}} + DCGM_FI_DEV_FB_FREE{{{_GKE}}})")],
}
#: Cluster names of the shipped stacks, ``<project>-<stack>-<deployment>`` (environments/Pulumi.*.yaml).
SHIPPED_CLUSTERS = {"eks": ("prod", "scalepath-prod-chat-eks"),
                    "gke": ("gke-staging", "scalepath-gke-staging-chat-gke")}


@pytest.mark.parametrize("platform", ["eks", "gke"])
def test_grafana_dashboard_panels(shipped_plan, platform: str) -> None:
    stack, cluster = SHIPPED_CLUSTERS[platform]
    board = dashboard_of(shipped_plan(stack))
    assert board["title"] == f"GPUs: {cluster}"
    assert [(p["title"], p["targets"][0]["expr"]) for p in board["panels"]] == GRAFANA_PANELS[platform]


def test_gke_plans_a_cloud_monitoring_dashboard_of_the_panels_on_this_clusters_series(shipped_plan) -> None:
    p = shipped_plan("gke-staging")
    (resource,) = of_type(p, DASHBOARD)
    assert resource.parent.endswith("::chat-gke-gke-gpu-telemetry")
    assert resource.inputs["project"] == "ml-platform-staging"
    board = json.loads(resource.inputs["dashboardJson"])
    cluster = SHIPPED_CLUSTERS["gke"][1]
    assert one(p, "gcp:container/cluster:Cluster").inputs["name"] == cluster
    # The API names the dashboard itself; the display name tells the project's dashboards apart.
    assert board["displayName"] == f"GPUs: {cluster}"
    # Labelled like the alert policies (the Dashboard resource has no labels argument: in the JSON).
    policies = of_type(p, "gcp:monitoring/alertPolicy:AlertPolicy")
    assert policies and all(board["labels"] == a.inputs["userLabels"] for a in policies)
    assert board["labels"]["stack"] == "scalepath-gke-staging" and board["labels"]["cost-center"] == "cc-1234"
    layout = board["mosaicLayout"]
    tiles = layout["tiles"]
    queries = [t["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["prometheusQuery"] for t in tiles]
    selector = f'{{cluster="{cluster}"}}'
    assert [t["widget"]["title"] for t in tiles] == [title for title, _ in GRAFANA_PANELS["gke"]]
    assert queries == [f"avg_over_time(DCGM_FI_DEV_GPU_UTIL{selector}[5m])",
                       f"100 * DCGM_FI_DEV_FB_USED{selector} / "
                       f"(DCGM_FI_DEV_FB_USED{selector} + DCGM_FI_DEV_FB_FREE{selector})"]
    for query in queries:  # every series on this cluster's, of a metric GKE's exporter produces
        metrics = METRIC.findall(query)
        assert metrics and set(metrics) <= set(PIN["metrics"]["gke"])
        assert len(metrics) == query.count(selector)
    # Two charts side by side in the 48-column grid the API allows at most.
    assert layout["columns"] == 48
    assert [(t["xPos"], t["yPos"], t["width"]) for t in tiles] == [(0, 0, 24), (24, 0, 24)]


def test_eks_plans_no_cloud_monitoring_dashboard(shipped_plan) -> None:
    assert of_type(shipped_plan("prod"), "scalepath:index:GpuTelemetry")
    assert not of_type(shipped_plan("prod"), DASHBOARD)
    assert not of_type(plan(eks_config()), DASHBOARD)
