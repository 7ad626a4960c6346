"""The meter on GCP (GKE and Cloud Run): the engine's series reach Google Cloud Managed Service for
Prometheus, so the alerts are Cloud Monitoring alert policies with the PromQL of
:func:`components.gateway.meter.route_alerts`, sent to the stack's notification channels (one per
budget ``notify`` address), and the dashboard is a Cloud Monitoring dashboard of PromQL charts.

On Cloud Run the scrape is a sidecar: Google's build of the OpenTelemetry Collector (its Prometheus
receiver and Managed Prometheus exporter). Google's Cloud Run Managed Prometheus sidecar
(``run-gmp-sidecar``) was the first choice, but its ``RunMonitoring`` endpoints have no
authorization field (``confgenerator/config.go``: port, scheme, path, params, proxyUrl, interval,
timeout, metricRelabeling), and the engine's ``/metrics/`` asks for the client key.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import yaml

from components.gateway.args import KEY_ENV, PORT, MeterArgs
from components.gateway.meter import FOR_SECONDS, RULE_GROUP, panels, route_alerts, scrape_config
from components.gateway.sizes import SIDECARS
from components.gcp import monitoring

#: Google-Built OpenTelemetry Collector (receivers: prometheus; exporters: googlemanagedprometheus;
#: config providers: env), the image Google's Cloud Run collector guide deploys.
COLLECTOR_IMAGE = ("us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/"
                   "otelcol-google:0.160.0")
#: The collector reads its config from this variable (``--config=env:...``: no file to mount).
COLLECTOR_CONFIG_ENV = "SCALEPATH_COLLECTOR_CONFIG"
COLLECTOR_HEALTH_PORT = 13133


def alert_policies(name: str, meter: MeterArgs, gateway: str, project: str, labels: dict[str, str],
                   opts: pulumi.ResourceOptions) -> list[gcp.monitoring.AlertPolicy]:
    """One Cloud Monitoring alert policy per alert of :func:`route_alerts`, PromQL condition."""
    policies = []
    for alert in route_alerts(meter, gateway):
        policies.append(gcp.monitoring.AlertPolicy(
            f"{name}-{alert.kind}-{alert.route}", project=project,
            display_name=f"scalepath gateway {gateway}: {alert.summary} (route {alert.route})"[:512],
            severity="WARNING", combiner="OR", notification_channels=list(meter.channels), user_labels=labels,
            alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close="1800s"),
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                mime_type="text/markdown",
                content=f"Gateway `{gateway}`, route `{alert.route}`: {alert.summary}."),
            conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                display_name=alert.name,
                condition_prometheus_query_language=gcp.monitoring.AlertPolicyConditionConditionPrometheusQueryLanguageArgs(
                    query=alert.expr, duration=f"{FOR_SECONDS}s", evaluation_interval="60s",
                    alert_rule=alert.name, rule_group=RULE_GROUP,
                    labels={"route": alert.route, "severity": "warning"}))],
            opts=opts))
    return policies


def dashboard(name: str, meter: MeterArgs, gateway: str, project: str, labels: dict[str, str],
              opts: pulumi.ResourceOptions) -> gcp.monitoring.Dashboard:
    """A Cloud Monitoring dashboard of :func:`panels`, named for the gateway (its physical name is
    unique per project and stack)."""
    return monitoring.dashboard(name, project=project, display_name=f"scalepath gateway {gateway}",
                                panels=panels(meter, gateway), labels=labels, opts=opts)


def collector_config(gateway: str, project: str) -> str:
    """The Cloud Run sidecar's config: scrape the engine on the instance's loopback with the client
    key (``${env:...}``, from Secret Manager), export to Managed Prometheus."""
    scrape = scrape_config(gateway, f"localhost:{PORT}", {"credentials": f"${{env:{KEY_ENV}}}"}, gateway, "$$")
    return yaml.safe_dump({
        "receivers": {"prometheus": {"config": {"scrape_configs": [scrape]}}},
        "processors": {"resourcedetection": {"detectors": ["env", "gcp"]}, "batch": {}},
        "exporters": {"googlemanagedprometheus": {"project": project}},
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{COLLECTOR_HEALTH_PORT}"}},
        "service": {"extensions": ["health_check"], "pipelines": {"metrics": {
            "receivers": ["prometheus"], "processors": ["resourcedetection", "batch"],
            "exporters": ["googlemanagedprometheus"]}}},
    }, sort_keys=False)


def collector_container(gateway: str, project: str, key_secret: pulumi.Input[str]) -> dict[str, Any]:
    """The Cloud Run sidecar (no port: only the engine takes requests). Cloud Run bills every
    container's limits, so the plan's cost counts its share."""
    cpu, gib = SIDECARS["cloudrun"]
    return {
        "name": "metrics", "image": COLLECTOR_IMAGE, "args": [f"--config=env:{COLLECTOR_CONFIG_ENV}"],
        "envs": [{"name": COLLECTOR_CONFIG_ENV, "value": collector_config(gateway, project)},
                 {"name": KEY_ENV, "value_source": {"secret_key_ref": {"secret": key_secret, "version": "latest"}}}],
        "resources": {"limits": {"cpu": f"{cpu:g}", "memory": f"{int(gib * 1024)}Mi"}, "cpu_idle": False},
        "startup_probe": {"http_get": {"path": "/", "port": COLLECTOR_HEALTH_PORT}, "period_seconds": 10,
                          "failure_threshold": 6},
    }


def writer_grant(name: str, project: str, member: pulumi.Input[str],
                 opts: pulumi.ResourceOptions) -> gcp.projects.IAMMember:
    """``roles/monitoring.metricWriter`` for the Cloud Run service account (the exporter writes
    with it)."""
    return gcp.projects.IAMMember(f"{name}-metric-writer", project=project, role="roles/monitoring.metricWriter",
                                  member=member, opts=opts)
