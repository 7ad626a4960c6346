"""The meter on every runtime (issue 25, "on every runtime"): each plan with a gateway declares its
scrape/export, its alerts (spend per route against the budget included) routed to the budget's
``notify`` addresses, and a dashboard. Thresholds are worked out by hand from the shipped configs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.gateway.sizes import size_problem
from scalepath.plan import Plan, run_plan
from scalepath.policy_runner import check_plan
from tests.support import ROOT, of_type, one
from tests.support.gateway import with_gateway
from tests.support.k8s import validate

CR = "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig"


def _route(deployment: str) -> list[dict[str, Any]]:
    return [{"name": "chat", "targets": [{"deployment": deployment, "weight": 100}]}]


STACKS = {
    "gke": with_gateway("gke-staging", {"routes": _route("chat-gke")}),
    "cloudrun": with_gateway("gcp-prod", {"runtime": "cloudrun", "routes": _route("llama-8b")},
                             scalepath__network={"mode": "public"}),
    "containerapps": with_gateway("azure-prod", {"runtime": "containerapps", "routes": _route("mistral-chat"),
                                                 "secretStore": {"cloud": "azure", "azure": {
                                                     "vaultName": "kv-ml-platform", "resourceGroup": "rg-ml-shared"}}},
                                  scalepath__network={"mode": "public"}),
    "eks": with_gateway("prod", {"routes": _route("chat-eks")}),
}
#: The gateway's physical name, ``<project>-<stack>-gateway`` (stacks/gateway/build.py): the scope label's value.
GATEWAY = {"gke": "scalepath-gke-staging-gateway", "cloudrun": "scalepath-gcp-prod-gateway",
           "containerapps": "scalepath-azure-prod-gateway", "eks": "scalepath-prod-gateway"}
#: budget.monthlyUsd / 30 (Pulumi.<stack>.yaml: 2000, 20000, 20000, 25000), as PromQL prints it (6 digits).
DAILY = {"gke": "66.6667", "cloudrun": "666.667", "containerapps": "666.667", "eks": "833.333"}
NOTIFY = {"gke": ["ml-platform@example.com"], "cloudrun": ["ml-platform@example.com", "finops@example.com"],
          "containerapps": ["ml-platform@example.com", "finops@example.com"],
          "eks": ["ml-platform@example.com", "finops@example.com"]}


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {name: check_plan(run_plan(config), config, ROOT) for name, config in STACKS.items()}


def _expected(runtime: str) -> dict[str, str]:
    """Route ``chat``'s four alert expressions, written out by hand: default gate (maxErrorRate 0.01),
    default timeout 60 s -> p95 bound 0.8 x 60 = 48 s, fallback rate 5%."""
    every = f'scalepath_gateway="{GATEWAY[runtime]}",requested_model=~"chat(@.*)?"'
    primary = f'scalepath_gateway="{GATEWAY[runtime]}",requested_model="chat"'
    total = f"sum(rate(litellm_proxy_total_requests_metric_total{{{every}}}[5m]))"
    return {
        "GatewayRouteP95LatencyHigh":
            f"histogram_quantile(0.95, sum by (le) (rate(litellm_request_total_latency_metric_bucket{{{every}}}[5m])))"
            " > 48",
        "GatewayRouteErrorRateHigh":
            f"sum(rate(litellm_proxy_failed_requests_metric_total{{{every}}}[5m])) / {total} > 0.01",
        "GatewayRouteFallbackRateHigh":
            f"sum(rate(litellm_deployment_successful_fallbacks_total{{{primary}}}[5m])) / {total} > 0.05",
        "GatewayRouteSpendOnPace": f"sum(increase(litellm_spend_metric_total{{{every}}}[1d])) > {DAILY[runtime]}",
    }


def _gcp_alerts(plan: Plan) -> dict[str, dict[str, Any]]:
    conditions = {}
    for policy in of_type(plan, "gcp:monitoring/alertPolicy:AlertPolicy"):
        if policy.name.startswith("gateway-"):
            (condition,) = policy.inputs["conditions"]
            conditions[condition["displayName"]] = {**condition["conditionPrometheusQueryLanguage"],
                                                    "channels": policy.inputs["notificationChannels"]}
    return conditions


@pytest.mark.parametrize("runtime", ["gke", "cloudrun"])
def test_gcp_alert_policies_are_the_promql_alerts_to_the_stacks_channels(plans: dict[str, Plan], runtime: str) -> None:
    plan = plans[runtime]
    alerts = _gcp_alerts(plan)
    assert {name: a["query"] for name, a in alerts.items()} == _expected(runtime)
    assert all(a["duration"] == "600s" for a in alerts.values())
    channels = {r.name: r.inputs for r in of_type(plan, "gcp:monitoring/notificationChannel:NotificationChannel")
                if r.name.startswith("alerts-gcp-notify-")}
    assert sorted(c["labels"]["email_address"] for c in channels.values()) == sorted(NOTIFY[runtime])
    for alert in alerts.values():  # every policy goes to one channel per notify address
        assert len(alert["channels"]) == len(NOTIFY[runtime])
        assert all(c.startswith("projects/") and "/notificationChannels/" in c for c in alert["channels"])
    board = json.loads(one(plan, "gcp:monitoring/dashboard:Dashboard", "gateway-dashboard").inputs["dashboardJson"])
    queries = {t["widget"]["title"]: t["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["prometheusQuery"]
               for t in board["mosaicLayout"]["tiles"]}
    assert len(queries) == 12 and all(f'scalepath_gateway="{GATEWAY[runtime]}"' in q for q in queries.values())
    assert any("litellm_spend_metric_total" in q for q in queries.values())
    # Time to first token per route and latency per target (the engine's model_id), written out by hand.
    scope = f'scalepath_gateway="{GATEWAY[runtime]}"'
    assert queries["Time to first token p95, per route (s, streams)"] == (
        "histogram_quantile(0.95, sum by (route, le) "
        f"(rate(litellm_llm_api_time_to_first_token_metric_bucket{{{scope}}}[5m])))")
    assert queries["Latency p95, per target (s)"] == (
        "histogram_quantile(0.95, sum by (model_id, le) "
        f"(rate(litellm_request_total_latency_metric_bucket{{{scope}}}[5m])))")
    assert queries["Output tokens per second of answer time, per route"] == (
        f"sum by (route) (rate(litellm_output_tokens_metric_total{{{scope}}}[5m])) / "
        f"sum by (route) (rate(litellm_request_total_latency_metric_sum{{{scope}}}[5m]))")
    # Named for the gateway (unique per project and stack), labelled like its alert policies.
    assert board["displayName"] == f"scalepath gateway {GATEWAY[runtime]}"
    labels = [r.inputs["userLabels"] for r in of_type(plan, "gcp:monitoring/alertPolicy:AlertPolicy")
              if r.name.startswith("gateway-")]
    assert labels and all(board["labels"] == policy for policy in labels)
    assert board["labels"]["managed-by"] == "scalepath"
    mandatory = [v for v in plan.violations if v["level"] == "mandatory"]
    assert [v for v in mandatory if v["policy"] != "private-endpoints-in-prod"] == []  # prod made public above


def test_gke_pod_monitoring_scrapes_with_the_key_the_managed_collector_may_read(plans: dict[str, Plan]) -> None:
    plan = plans["gke"]
    monitoring = one(plan, "kubernetes:monitoring.googleapis.com/v1:PodMonitoring", "gateway-pod-monitoring").inputs
    validate(monitoring)
    (endpoint,) = monitoring["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics/"
    assert endpoint["authorization"]["credentials"] == {"secret": {"name": "gateway-secrets", "key": "client-key"}}
    assert {"targetLabel": "scalepath_gateway", "replacement": GATEWAY["gke"]} in endpoint["metricRelabeling"]
    role = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:Role", "gateway-key-reader").inputs
    binding = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "gateway-key-reader").inputs
    for manifest in (role, binding):
        validate(manifest)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["gateway-secrets"],
                              "verbs": ["get", "list", "watch"]}]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "collector", "namespace": "gmp-system"}]
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"] == monitoring["metadata"]["namespace"]


def test_cloudrun_sidecar_exports_to_managed_prometheus_with_the_key(plans: dict[str, Plan]) -> None:
    plan = plans["cloudrun"]
    service = one(plan, "gcp:cloudrunv2/service:Service").inputs
    engine, sidecar = service["template"]["containers"]
    assert engine["ports"] == {"containerPort": 4000} and "ports" not in sidecar
    envs = {e["name"]: e for e in sidecar["envs"]}
    assert envs["SCALEPATH_GATEWAY_KEY"]["valueSource"] == next(
        e["valueSource"] for e in engine["envs"] if e["name"] == "SCALEPATH_GATEWAY_KEY")
    assert sidecar["args"] == ["--config=env:SCALEPATH_COLLECTOR_CONFIG"]
    config = yaml.safe_load(envs["SCALEPATH_COLLECTOR_CONFIG"]["value"])
    (scrape,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert scrape["static_configs"] == [{"targets": ["localhost:4000"]}]
    assert scrape["authorization"] == {"credentials": "${env:SCALEPATH_GATEWAY_KEY}"}
    assert config["exporters"] == {"googlemanagedprometheus": {"project": STACKS["cloudrun"].values["gcp:project"]}}
    # The plan's cost counts the sidecar: 1 vCPU / 2 GiB (gateway defaults) + 0.5 vCPU / 0.25 GiB.
    line = next(str(c) for c in plan.cost["lines"] if c["type"] == "gcp:cloudrunv2/service:Service")
    assert "(1.5 vCPU x" in line and "2.25 GiB x" in line
    writers = [r.inputs for r in of_type(plan, "gcp:projects/iAMMember:IAMMember")
               if r.inputs["role"] == "roles/monitoring.metricWriter"]
    assert len(writers) == 1 and writers[0]["member"].startswith("serviceAccount:gw-")


def test_containerapps_agent_writes_to_a_workspace_whose_rules_mail_the_budget(plans: dict[str, Plan]) -> None:
    plan = plans["containerapps"]
    rule = one(plan, "azure-native:monitor:DataCollectionRule").inputs
    assert rule["dataSources"]["prometheusForwarder"][0]["streams"] == ["Microsoft-PrometheusMetrics"]
    one(plan, "azure-native:monitor:AzureMonitorWorkspace")
    publisher = next(r.inputs for r in of_type(plan, "azure-native:authorization:RoleAssignment")
                     if r.inputs["roleDefinitionId"].endswith("3913510d-42f4-4e42-8a64-420c390055eb"))
    assert "/dataCollectionRules/" in publisher["scope"]
    app = one(plan, "azure-native:app:ContainerApp").inputs
    engine, agent = app["template"]["containers"]
    assert agent["resources"] == {"cpu": 0.25, "memory": "0.5Gi"}
    # The plan's cost counts the sidecar: 1 vCPU / 2 GiB (gateway defaults) + 0.25 vCPU / 0.5 GiB.
    line = next(str(c) for c in plan.cost["lines"] if c["type"] == "azure-native:app:ContainerApp")
    assert "(1.25 vCPU x" in line and "2.5 GiB x" in line
    env = {e["name"]: e for e in agent["env"]}
    assert env["SCALEPATH_GATEWAY_KEY"] == {"name": "SCALEPATH_GATEWAY_KEY", "secretRef": "scalepath-gateway-key"}
    config = yaml.safe_load(env["SCALEPATH_COLLECTOR_CONFIG"]["value"])
    (write,) = config["remote_write"]
    assert "/dataCollectionRules/dcr-" in write["url"]
    assert write["url"].endswith("/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24")
    identity_client = next(e["value"] for e in engine["env"] if e["name"] == "AZURE_CLIENT_ID")
    assert write["azuread"]["managed_identity"] == {"client_id": identity_client}
    assert config["scrape_configs"][0]["authorization"] == {"credentials_file": "/prometheus/gateway-key"}
    group = one(plan, "azure-native:alertsmanagement:PrometheusRuleGroup").inputs
    (scope,) = group["scopes"]
    assert "/providers/Microsoft.Monitor/accounts/" in scope
    assert {r["alert"]: r["expression"] for r in group["rules"]} == _expected("containerapps")
    assert all(r["for"] == "PT10M" for r in group["rules"])
    actions = one(plan, "azure-native:monitor:ActionGroup", "gateway-alerts").inputs
    assert [r["emailAddress"] for r in actions["emailReceivers"]] == NOTIFY["containerapps"]
    workbook = json.loads(one(plan, "azure-native:applicationinsights:Workbook").inputs["serializedData"])
    charts = [i["content"] for i in workbook["items"] if i["type"] == 3]
    assert len(charts) == 12 and all(c["queryType"] == 16 for c in charts)
    assert all(f'scalepath_gateway=\\"{GATEWAY["containerapps"]}\\"' in c["query"] for c in charts)


def test_eks_alerts_reach_the_budget_addresses_through_alertmanager_and_sns(plans: dict[str, Plan]) -> None:
    plan = plans["eks"]
    rule = one(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "gateway-rules").inputs
    rules = rule["spec"]["groups"][0]["rules"]
    assert {r["alert"]: r["expr"] for r in rules} == _expected("eks")
    assert all(r["labels"]["scalepath_gateway"] == GATEWAY["eks"] for r in rules)
    route = one(plan, CR, "gateway-alert-route").inputs
    validate(route)
    assert route["spec"]["route"]["matchers"] == [{"name": "scalepath_gateway", "value": GATEWAY["eks"],
                                                   "matchType": "="}]
    (receiver,) = route["spec"]["receivers"]
    (sns,) = receiver["snsConfigs"]
    publish = one(plan, "aws:iam/rolePolicy:RolePolicy", "gateway-alertmanager-publish")
    topic_policy = json.loads(publish.inputs["policy"])
    # The topic is under its own key (CloudWatch-compatible): a publisher needs the key's two actions too.
    key_arn = one(plan, "aws:sns/topic:Topic", "gateway-alerts").inputs["kmsMasterKeyId"]
    assert key_arn.startswith("arn:aws:kms:")
    assert topic_policy["Statement"] == [
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": sns["topicARN"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": key_arn}]
    assert sns["sigv4"] == {"region": "us-east-1"}
    subscriptions = {s.name: s.inputs["endpoint"] for s in of_type(plan, "aws:sns/topicSubscription:TopicSubscription")
                     if s.name.startswith("gateway-alerts-")}
    assert subscriptions == {f"gateway-alerts-{i}": address for i, address in enumerate(NOTIFY["eks"])}
    # The cluster's Alertmanager takes this object: its namespace, its label, its service account.
    values = next(r.inputs["values"] for r in of_type(plan, "kubernetes:helm.sh/v3:Release")
                  if r.inputs["chart"] == "kube-prometheus-stack")
    manager = values["alertmanager"]
    assert route["metadata"]["namespace"] == "monitoring"
    selector = manager["alertmanagerSpec"]["alertmanagerConfigSelector"]["matchLabels"]
    assert selector.items() <= route["metadata"]["labels"].items()
    assert manager["alertmanagerSpec"]["alertmanagerConfigMatcherStrategy"] == {"type": "None"}
    assert manager["serviceAccount"]["name"] == "alertmanager"
    board = json.loads(one(plan, "kubernetes:core/v1:ConfigMap", "gateway-dashboard").inputs["data"]["gateway.json"])
    assert len(board["panels"]) == 12
    # Route panels name their series by route, target panels by the engine's model_id.
    assert {p["targets"][0]["legendFormat"] for p in board["panels"]} == {"{{route}}{{model_id}}"}
    assert [v for v in plan.violations if v["level"] == "mandatory"] == []


def test_eks_alertmanager_starts_with_the_pod_identity_the_gateway_grants(plans: dict[str, Plan]) -> None:
    """EKS adds the Pod Identity credential variables only to pods it starts after the association
    (EKS user guide, pod-id-how-it-works: "When Amazon EKS starts a new pod that uses a service
    account with an EKS Pod Identity association, the cluster adds ..."). An Alertmanager started
    before it signs SNS calls with nothing of its role, so the alerts never arrive: the chart that
    starts Alertmanager waits for the association, and the gateway's publish policy is on that
    association's role."""
    plan = plans["eks"]
    (association,) = [r for r in of_type(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
                      if (r.inputs["namespace"], r.inputs["serviceAccount"]) == ("monitoring", "alertmanager")]
    chart = next(r for r in of_type(plan, "kubernetes:helm.sh/v3:Release")
                 if r.inputs["chart"] == "kube-prometheus-stack")
    assert association.urn in chart.dependencies
    # An Alertmanager already running when the association is new (a cluster deployed before this
    # order) restarts: the association's id is an annotation on its pod.
    annotations = chart.inputs["values"]["alertmanager"]["alertmanagerSpec"]["podMetadata"]["annotations"]
    assert list(annotations) == ["scalepath.dev/pod-identity-association"]
    assert association.urn in chart.property_dependencies["values"]
    # Where the gateway made it before: an update moves that association here (EKS refuses a
    # second one for the same service account).
    assert association.options["aliases"] == [{"spec": {
        "name": "gateway-alertmanager-identity",
        "parentUrn": "urn:pulumi:prod::scalepath::scalepath:index:Gateway::gateway"}}]
    (role_urn,) = association.property_dependencies["roleArn"]
    publish = one(plan, "aws:iam/rolePolicy:RolePolicy", "gateway-alertmanager-publish")
    assert publish.property_dependencies["role"] == [role_urn]


@pytest.mark.parametrize(("runtime", "cpu", "gib", "fits"), [
    # Container Apps: 4 vCPU per replica at most; the agent takes 0.25 of them.
    ("containerapps", 3.75, 7.5, True), ("containerapps", 4, 8, False),
    # Cloud Run: 8 vCPU per instance at most; the collector takes 0.5, so 6 is the largest whole size left.
    ("cloudrun", 6, 4, True), ("cloudrun", 8, 4, False),
])
def test_the_metrics_sidecar_counts_against_the_replica_size(runtime: str, cpu: float, gib: float,
                                                              fits: bool) -> None:
    assert (size_problem(runtime, cpu, gib) is None) is fits
