"""Helm-installed cluster add-ons shared by the EKS and GKE clusters, with pinned versions.

``helm.v3.Release`` is a custom resource of the Kubernetes provider, so every release shows up
in ``scalepath plan`` and in the policy pack (``helm.v4.Chart`` is a remote component whose
children never register under mocks). Versions are pinned here, in one place: bump a chart by
editing its entry and reviewing its changelog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.clusters.gpu_nodes import (
    GPU_POOL,
    GPU_TAINT_EFFECT,
    GPU_TAINT_KEY,
    NODE_POOL_LABEL,
    system_node_selector,
)


@dataclass(frozen=True)
class HelmChart:
    """A chart at a pinned version in a Helm repository."""

    chart: str
    repo: str
    version: str
    namespace: str


KEDA = HelmChart("keda", "https://kedacore.github.io/charts", "2.17.2", "keda")
"""Event-driven autoscaling: the workload's ScaledObject scales vLLM on queue length."""
NVIDIA_DEVICE_PLUGIN = HelmChart(
    "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.17.1", "nvidia-device-plugin")
"""Advertises ``nvidia.com/gpu`` on EKS GPU nodes (the NVIDIA AMI ships driver and toolkit only)."""
def cluster_autoscaler(chart_version: str) -> HelmChart:
    """Scales the EKS managed node groups. Cluster Autoscaler supports only its own Kubernetes
    minor, so the chart version comes with the cluster's version (``eks_versions.yaml``)."""
    return HelmChart("cluster-autoscaler", "https://kubernetes.github.io/autoscaler", chart_version,
                     "kube-system")
METRICS_SERVER = HelmChart(
    "metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "3.12.2", "kube-system")
"""The resource metrics API on EKS (GKE runs its own): what an HPA on CPU, such as the gateway's, reads."""
KUBE_PROMETHEUS_STACK = HelmChart(
    "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "72.0.0", "monitoring")
"""Prometheus + operator on EKS: scrapes vLLM (ServiceMonitor), evaluates its alert rules
(PrometheusRule), and answers KEDA's queries."""

ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
"""The EKS Alertmanager's service account (its Pod Identity role may publish the gateway's alerts)."""
ALERTMANAGER_CONFIG_LABEL = {"scalepath.dev/alertmanager-config": "true"}
"""The label of the ``AlertmanagerConfig`` objects the EKS Alertmanager takes."""
POD_IDENTITY_ANNOTATION = "scalepath.dev/pod-identity-association"
"""Alertmanager pod annotation naming its Pod Identity association: a new association restarts the
pod, and only a pod started after its association gets the credentials (EKS user guide,
pod-id-how-it-works)."""

PROMETHEUS_FULLNAME = "kps"
"""``fullnameOverride`` of kube-prometheus-stack, so the Prometheus service name is stable."""
PROMETHEUS_URL = (f"http://{PROMETHEUS_FULLNAME}-prometheus.{KUBE_PROMETHEUS_STACK.namespace}"
                  ".svc.cluster.local:9090")
"""Where in-cluster clients (KEDA's prometheus trigger) query the EKS cluster's Prometheus."""


def helm_release(name: str, chart: HelmChart, values: Mapping[str, Any],
                 opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    """One pinned chart as a Helm release in its own namespace."""
    return k8s.helm.v3.Release(
        name,
        name=chart.chart,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=chart.namespace,
        create_namespace=True,
        # A failed install is rolled back instead of leaving a half-configured add-on.
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        values=dict(values),
        opts=opts,
    )


def keda_values(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """KEDA on the system nodes; ``extra`` adds cloud settings (pod identity)."""
    return {"nodeSelector": system_node_selector(), **(extra or {})}


def device_plugin_values() -> dict[str, Any]:
    """The device plugin on GPU nodes only, tolerating their taint.

    The chart's default affinity needs node-feature-discovery labels we don't install, so it
    is replaced by our node-pool label.
    """
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": NODE_POOL_LABEL, "operator": "In", "values": [GPU_POOL]}]}]}}},
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": GPU_TAINT_EFFECT}],
    }


def prometheus_values(alertmanager_identity: pulumi.Input[str]) -> dict[str, Any]:
    """Prometheus and its operator on the system nodes, selecting monitors from every namespace;
    ``alertmanager_identity`` is the id of Alertmanager's Pod Identity association."""
    system = system_node_selector()
    return {
        "fullnameOverride": PROMETHEUS_FULLNAME,
        "grafana": {"enabled": False},
        "prometheusOperator": {"nodeSelector": system},
        # Alertmanager takes the AlertmanagerConfig objects stacks label for it (the gateway's route
        # to its SNS topic), from its own namespace, without adding a namespace matcher to their
        # routes; its service account has a fixed name for its Pod Identity association, whose id
        # on the pod restarts it when the association is new (podMetadata reaches the pods).
        "alertmanager": {
            "serviceAccount": {"name": ALERTMANAGER_SERVICE_ACCOUNT},
            "alertmanagerSpec": {
                "podMetadata": {"annotations": {POD_IDENTITY_ANNOTATION: alertmanager_identity}},
                "nodeSelector": system,
                "alertmanagerConfigSelector": {"matchLabels": dict(ALERTMANAGER_CONFIG_LABEL)},
                "alertmanagerConfigMatcherStrategy": {"type": "None"},
            }},
        "prometheus": {"prometheusSpec": {
            "nodeSelector": system,
            "retention": "7d",
            # Pick up the workload's ServiceMonitor/PrometheusRule whatever their labels.
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
        }},
        "kube-state-metrics": {"nodeSelector": system},
    }
