"""The meter's Kubernetes objects: the scrape (prometheus-operator ``ServiceMonitor`` on EKS, GKE
Managed Prometheus ``PodMonitoring`` and the RBAC its collector needs to read the client key), the
EKS rules and their Alertmanager route, and the dashboard as Grafana JSON (camelCase dicts)."""

from __future__ import annotations

from typing import Any

from components import grafana
from components.clusters.addons import ALERTMANAGER_CONFIG_LABEL, KUBE_PROMETHEUS_STACK
from components.gateway.args import MeterArgs
from components.gateway.meter import (
    RULE_GROUP,
    SCOPE_LABEL,
    SCRAPE_SECONDS,
    TARGET_LABEL,
    camel_case,
    panels,
    prometheus_alert_rules,
    relabel_rules,
)

#: Where GKE's managed collectors run (GKE Standard), and their service account.
GMP_NAMESPACE, GMP_COLLECTOR = "gmp-system", "collector"
#: The EKS cluster's Alertmanager (kube-prometheus-stack, ``components/clusters/addons.py``).
ALERTMANAGER_NAMESPACE = KUBE_PROMETHEUS_STACK.namespace
NAME = "gateway"


def service_monitor(namespace: str, labels: dict[str, str], selector: dict[str, str], port: str,
                    secret: str, key: str, gateway: str) -> dict[str, Any]:
    """prometheus-operator ``ServiceMonitor``: the engine's ``/metrics/`` with the client key."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {"selector": {"matchLabels": selector}, "namespaceSelector": {"matchNames": [namespace]},
                     "endpoints": [{"port": port, "path": "/metrics/", "interval": f"{SCRAPE_SECONDS}s",
                                    "authorization": {"type": "Bearer",
                                                      "credentials": {"name": secret, "key": key}},
                                    "metricRelabelings": camel_case(relabel_rules(gateway))}]}}


def pod_monitoring(namespace: str, labels: dict[str, str], selector: dict[str, str], port: str,
                   secret: str, key: str, gateway: str) -> dict[str, Any]:
    """GKE Managed Prometheus ``PodMonitoring``: the same scrape; the collector reads the key from
    the Secret (``authorization.credentials.secret``, prometheus-engine's ``SecretSelector``)."""
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {"selector": {"matchLabels": selector},
                     "endpoints": [{"port": port, "path": "/metrics/", "interval": f"{SCRAPE_SECONDS}s",
                                    "authorization": {"type": "Bearer",
                                                      "credentials": {"secret": {"name": secret, "key": key}}},
                                    "metricRelabeling": camel_case(relabel_rules(gateway))}]}}


def secret_reader(namespace: str, labels: dict[str, str], secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Role that may read exactly ``secret`` and its binding to GKE's managed collector (GMP reads
    a scrape's credentials with the collector's own identity)."""
    name = "gmp-collector-reads-gateway-key"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret],
                       "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [{"kind": "ServiceAccount", "name": GMP_COLLECTOR, "namespace": GMP_NAMESPACE}]}
    return role, binding


def prometheus_rule(meter: MeterArgs, namespace: str, labels: dict[str, str], gateway: str) -> dict[str, Any]:
    """prometheus-operator ``PrometheusRule`` holding :func:`prometheus_alert_rules`."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {"groups": [{"name": RULE_GROUP, "interval": "1m",
                                 "rules": prometheus_alert_rules(meter, gateway)}]}}


def alertmanager_config(labels: dict[str, str], gateway: str, topic_arn: str, region: str) -> dict[str, Any]:
    """``AlertmanagerConfig`` (prometheus-operator v1alpha1) routing this gateway's alerts to the SNS
    topic the budget's addresses subscribe to; Alertmanager signs with its Pod Identity role."""
    return {"apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
            "metadata": {"name": f"{NAME}-alerts", "namespace": ALERTMANAGER_NAMESPACE,
                         "labels": {**labels, **ALERTMANAGER_CONFIG_LABEL}},
            "spec": {
                "route": {"receiver": "budget-notify", "groupBy": ["alertname", "route"],
                          "matchers": [{"name": SCOPE_LABEL, "value": gateway, "matchType": "="}]},
                "receivers": [{"name": "budget-notify", "snsConfigs": [{
                    "topicARN": topic_arn, "sigv4": {"region": region}, "sendResolved": True,
                    "subject": ("scalepath gateway: {{ .CommonLabels.alertname }} on route "
                                "{{ .CommonLabels.route }}")}]}],
            }}


def dashboard_config_map(meter: MeterArgs, namespace: str, labels: dict[str, str], gateway: str) -> dict[str, Any]:
    """:func:`components.gateway.meter.panels` as Grafana JSON in a ConfigMap a Grafana sidecar picks up."""
    # A panel's series carry either the route or the target label: the legend names whichever it has.
    board = grafana.dashboard(f"Gateway: {gateway}", f"gw-{gateway}", panels(meter, gateway),
                              legend="{{route}}{{" + TARGET_LABEL + "}}")
    return grafana.config_map(f"{NAME}-dashboard", namespace, labels, "gateway.json", board)
