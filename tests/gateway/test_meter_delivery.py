"""The meter's delivery paths against what their sources require (``components/data/meter_delivery.yaml``
records each source). Expected shapes are written out by hand from those sources; the pins are tied
to the record, so a bump fails here until the path is checked again and its entry updated."""

from __future__ import annotations

import json

import yaml

from components.clusters.addons import ALERTMANAGER_SERVICE_ACCOUNT, KUBE_PROMETHEUS_STACK
from components.files import load_data
from components.gateway.args import MeterArgs, RouteAlerts
from components.gateway.meter_azure import AGENT_IMAGE, DATA_FILE, agent_config, ingestion_url, workbook_data

RECORD = load_data(DATA_FILE)
CLIENT_ID = "00001111-aaaa-2222-bbbb-3333cccc4444"
WORKSPACE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Monitor/accounts/w"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split("."))


def test_the_alertmanager_record_is_for_the_chart_the_cluster_pins() -> None:
    record = RECORD["eksAlertmanager"]
    assert (record["chart"], record["chartVersion"]) == (KUBE_PROMETHEUS_STACK.chart, KUBE_PROMETHEUS_STACK.version)
    # The SNS notifier signs with the default chain of aws-sdk-go v1, which reads the Pod Identity
    # agent's variables from v1.47.11 on.
    assert _version(record["awsSdkGo"]) >= _version(record["podIdentitySince"]) == (1, 47, 11)
    assert ALERTMANAGER_SERVICE_ACCOUNT == "alertmanager"


def test_the_agent_pin_has_managed_identity_remote_write() -> None:
    record = RECORD["azureAgent"]
    assert AGENT_IMAGE == f"quay.io/prometheus/prometheus:v{record['version']}"
    assert _version(record["version"]) >= _version(record["managedIdentitySince"]) == (2, 45, 0)


def test_remote_write_is_the_documented_managed_identity_shape() -> None:
    """prometheus-remote-write.md's sample, with this identity and this rule."""
    url = ingestion_url("https://amw-x.eastus-1.metrics.ingest.monitor.azure.com", "dcr-0123")
    assert url == ("https://amw-x.eastus-1.metrics.ingest.monitor.azure.com/dataCollectionRules/dcr-0123"
                   "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24")
    (write,) = yaml.safe_load(agent_config("gw", url, CLIENT_ID))["remote_write"]
    assert write == {"url": url, "azuread": {"cloud": "AzurePublic", "managed_identity": {"client_id": CLIENT_ID}}}


def test_workbook_charts_are_prometheus_queries_on_the_workspace() -> None:
    meter = MeterArgs(namespace="scalepath/s/gateway", monthly_budget_usd=300, notify=["a@example.com"],
                      routes=[RouteAlerts(route="chat", p95_latency_seconds=2, max_error_rate=0.01,
                                          max_fallback_rate=0.05)])
    items = json.loads(workbook_data(meter, "gw", WORKSPACE))["items"]
    charts = [item["content"] for item in items if item["type"] == 3]
    assert charts
    for chart in charts:
        assert (chart["version"], chart["queryType"], chart["resourceType"], chart["crossComponentResources"],
                chart["visualization"]) == ("KqlItem/1.0", 16, "microsoft.monitor/accounts", [WORKSPACE], "timechart")
        query = json.loads(chart["query"])
        assert set(query) == {"version", "queryText", "type"}
        assert (query["version"], query["type"]) == ("PrometheusQueryProvider/1.0", "query_range")
        assert 'scalepath_gateway="gw"' in query["queryText"]
