"""The meter on Azure Container Apps: a Prometheus agent sidecar scrapes the engine on the replica's
loopback with the client key and remote-writes to an Azure Monitor workspace (Azure Monitor
managed service for Prometheus) through a data collection rule, signing with the gateway's
user-assigned identity; the alerts are a Prometheus rule group on that workspace with the PromQL
of :func:`components.gateway.meter.route_alerts`, sent to an action group that e-mails the budget's
``notify`` addresses; the dashboard is an Azure workbook of PromQL charts.

Why not the managed environment's own collector: its ``openTelemetryConfiguration`` exports what
apps *push* over OTLP (metrics destinations: Datadog or OTLP endpoints; ``appInsightsConfiguration``
takes traces and logs only, API 2025-02-02-preview), and the engine serves Prometheus metrics to
be pulled.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import yaml

from components.files import load_data
from components.gateway.args import KEY_ENV, PORT, MeterArgs
from components.gateway.meter import FOR_SECONDS, RULE_GROUP, SCRAPE_SECONDS, panels, route_alerts, scrape_config
from components.gateway.sizes import SIDECARS

#: The agent pin, the ingestion settings and the workbook's query schema, with their sources.
DATA_FILE = Path(__file__).parent.parent / "data" / "meter_delivery.yaml"
_DATA = load_data(DATA_FILE)
#: Prometheus in agent mode (scrape and remote-write only); Entra ID managed-identity remote write
#: needs Prometheus 2.45 or later (``azureAgent.managedIdentitySince``).
AGENT_IMAGE: str = _DATA["azureAgent"]["image"]
CONFIG_ENV = "SCALEPATH_COLLECTOR_CONFIG"
#: Built-in role (same id in every tenant): Monitoring Metrics Publisher, on the data collection rule.
MONITORING_METRICS_PUBLISHER: str = _DATA["azureIngestion"]["monitoringMetricsPublisher"]
STREAM: str = _DATA["azureIngestion"]["stream"]
INGESTION_API_VERSION: str = _DATA["azureIngestion"]["apiVersion"]
_WORKBOOK = _DATA["azureWorkbook"]
#: Workbook ids are GUIDs: one per stack's gateway, derived from its physical name.
_WORKBOOK_NAMESPACE = uuid.UUID("5ca1e9a7-0000-4000-8000-000000000025")


def ingestion_url(endpoint: str, rule_immutable_id: str) -> str:
    """Remote-write URL of a data collection rule's Prometheus stream."""
    return (f"{endpoint}/dataCollectionRules/{rule_immutable_id}/streams/{STREAM}/api/v1/write"
            f"?api-version={INGESTION_API_VERSION}")


def agent_config(gateway: str, url: str, client_id: str) -> str:
    """Prometheus agent config: the engine's scrape (key from a file the entrypoint writes) and a
    remote write signed with the user-assigned identity."""
    scrape = scrape_config(gateway, f"localhost:{PORT}", {"credentials_file": "/prometheus/gateway-key"}, gateway)
    return yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s"},
        "scrape_configs": [scrape],
        "remote_write": [{"url": url, "azuread": {"cloud": "AzurePublic",
                                                  "managed_identity": {"client_id": client_id}}}],
    }, sort_keys=False)


def agent_command() -> list[str]:
    """Write the config and the key where the image's user may write, then run the agent."""
    return ["/bin/sh", "-c",
            f'printf "%s" "${CONFIG_ENV}" > /prometheus/prometheus.yml && '
            f'printf "%s" "${KEY_ENV}" > /prometheus/gateway-key && '
            "exec /bin/prometheus --agent --config.file=/prometheus/prometheus.yml "
            "--storage.agent.path=/prometheus/agent"]


def metrics_pipeline(name: str, gateway: str, group: pulumi.Input[str], location: str,
                     identity: azure_native.managedidentity.UserAssignedIdentity, subscription_id: str,
                     tags: dict[str, str], opts: pulumi.ResourceOptions
                     ) -> tuple[azure_native.monitor.AzureMonitorWorkspace, dict[str, Any], pulumi.Resource]:
    """The workspace, the collection endpoint and rule, the identity's publisher role; returns the
    workspace, the sidecar container and the role assignment (the app waits for it)."""
    workspace = azure_native.monitor.AzureMonitorWorkspace(
        f"{name}-metrics", resource_group_name=group, location=location, tags=tags, opts=opts)
    endpoint = azure_native.monitor.DataCollectionEndpoint(
        f"{name}-dce", resource_group_name=group, location=location, tags=tags,
        network_acls={"public_network_access": "Enabled"}, opts=opts)
    rule = azure_native.monitor.DataCollectionRule(
        f"{name}-dcr", resource_group_name=group, location=location, tags=tags,
        data_collection_endpoint_id=endpoint.id,
        data_sources={"prometheus_forwarder": [{"name": "gateway", "streams": [STREAM]}]},
        destinations={"monitoring_accounts": [{"account_resource_id": workspace.id, "name": "workspace"}]},
        data_flows=[{"streams": [STREAM], "destinations": ["workspace"]}], opts=opts)
    publisher = azure_native.authorization.RoleAssignment(
        f"{name}-publishes-metrics", scope=rule.id, principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/"
                           f"roleDefinitions/{MONITORING_METRICS_PUBLISHER}", opts=opts)
    url = pulumi.Output.all(endpoint.metrics_ingestion, rule.immutable_id).apply(
        lambda v: ingestion_url(v[0]["endpoint"], v[1]))  # output types are dicts too
    config = pulumi.Output.all(url, identity.client_id).apply(lambda v: agent_config(gateway, v[0], v[1]))
    cpu, gib = SIDECARS["containerapps"]
    container = {
        "name": "metrics", "image": AGENT_IMAGE, "command": agent_command()[:2], "args": agent_command()[2:],
        "env": [{"name": CONFIG_ENV, "value": config}],
        "resources": {"cpu": cpu, "memory": f"{gib:g}Gi"},
    }
    return workspace, container, publisher


def alert_rules(name: str, meter: MeterArgs, gateway: str, group: pulumi.Input[str], location: str,
                workspace: azure_native.monitor.AzureMonitorWorkspace, tags: dict[str, str],
                opts: pulumi.ResourceOptions) -> azure_native.alertsmanagement.PrometheusRuleGroup:
    """An action group e-mailing the budget's addresses and the rule group on the workspace."""
    actions = azure_native.monitor.ActionGroup(
        f"{name}-alerts", resource_group_name=group, location="Global", enabled=True,
        group_short_name="scalepathgw", tags=tags,
        email_receivers=[{"name": f"notify-{index}", "email_address": address, "use_common_alert_schema": True}
                         for index, address in enumerate(meter.notify)], opts=opts)
    return azure_native.alertsmanagement.PrometheusRuleGroup(
        f"{name}-rules", resource_group_name=group, location=location, scopes=[workspace.id], enabled=True,
        interval="PT1M", description=f"scalepath gateway {gateway}: {RULE_GROUP}", tags=tags,
        rules=[{"alert": a.name, "expression": a.expr, "for_": f"PT{FOR_SECONDS // 60}M", "severity": 3,
                "enabled": True, "labels": {"route": a.route},
                "annotations": {"summary": f"gateway route {a.route}: {a.summary}"},
                "actions": [{"action_group_id": actions.id}],
                "resolve_configuration": {"auto_resolved": True, "time_to_resolve": "PT30M"}}
               for a in route_alerts(meter, gateway)], opts=opts)


def workbook_data(meter: MeterArgs, gateway: str, workspace_id: str) -> str:
    """A workbook (``Notebook/1.0``) with one Prometheus chart per panel (the Azure Monitor
    workspace data source: ``azureWorkbook`` in the data file)."""
    items = [{"type": 1, "name": "title", "content": {"json": f"## scalepath gateway `{gateway}`"}},
             {"type": 9, "name": "time", "content": {"version": "KqlParameterItem/1.0", "parameters": [{
                 "id": "time", "version": "KqlParameterItem/1.0", "name": "TimeRange", "type": 4,
                 "value": {"durationMs": 21600000}, "typeSettings": {"allowCustom": True}}]}}]
    for index, (title, query) in enumerate(panels(meter, gateway)):
        items.append({"type": 3, "name": f"panel-{index}", "customWidth": "50", "content": {
            "version": "KqlItem/1.0", "title": title, "queryType": _WORKBOOK["queryType"],
            "resourceType": _WORKBOOK["resourceType"], "crossComponentResources": [workspace_id],
            "timeContextFromParameter": "TimeRange", "visualization": "timechart", "size": 0,
            "query": json.dumps({"version": _WORKBOOK["queryProvider"], "queryText": query,
                                 "type": "query_range"})}})
    return json.dumps({"version": "Notebook/1.0", "items": items, "isLocked": False}, sort_keys=True)


def workbook(name: str, meter: MeterArgs, gateway: str, group: pulumi.Input[str], location: str,
             workspace: azure_native.monitor.AzureMonitorWorkspace, tags: dict[str, str],
             opts: pulumi.ResourceOptions) -> azure_native.applicationinsights.Workbook:
    return azure_native.applicationinsights.Workbook(
        f"{name}-dashboard", resource_name_=str(uuid.uuid5(_WORKBOOK_NAMESPACE, gateway)),
        resource_group_name=group, location=location, kind="shared", category="workbook",
        display_name=f"scalepath gateway {gateway}", source_id=workspace.id, tags=tags,
        serialized_data=workspace.id.apply(lambda wid: workbook_data(meter, gateway, wid)), opts=opts)
