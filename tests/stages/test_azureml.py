"""Stage azureml: public and private plans, traffic split, autoscale, tags, the HF token path,
component outputs and config errors with key paths."""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import json
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from components import clock
from components.azure.azureml import (
    ENDPOINT_API_VERSION,
    AzureMlAlerts,
    AzureMlAutoscale,
    AzureMlContainer,
    AzureMlEndpoint,
    AzureMlEndpointArgs,
    AzureMlProbes,
    AzureMlVariant,
    hf_hub_hosts,
)
from components.catalog import UnknownInstanceType
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER
from scalepath.wire import SECRET, PlannedResource
from stacks.errors import ConfigError
from stacks.stages.azureml import AzureMlDeployment
from tests.support import stack_config

ML = "azure-native:machinelearningservices"
TGI = "ghcr.io/huggingface/text-generation-inference:3.3.4"
A100 = "Standard_NC24ads_A100_v4"


def named(variant: str, instance_type: str = A100) -> str:
    """The deployment name expected for a variant: its name and the first 6 hex of the SHA-256 of
    the JSON list of its instance type (mfe.json 2025-12-01: instanceType is create-only)."""
    return f"{variant}-{hashlib.sha256(json.dumps([instance_type], separators=(',', ':')).encode()).hexdigest()[:6]}"


@pytest.fixture
def azure_config() -> dict[str, Any]:
    """A public Azure stack with one Mistral deployment on an A100."""
    return {
        "azure-native:location": "westeurope",
        "azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000",
        "scalepath:environment": "staging",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 5000, "notify": ["ml@example.com"],
                             "azure": {}},
        "scalepath:deployments": [{
            "name": "chat",
            "stage": "azureml",
            "model": "Qwen/Qwen2.5-7B-Instruct",
            "instanceType": "Standard_NC24ads_A100_v4",
            "container": {"image": TGI, "maxInputTokens": 4096, "maxTotalTokens": 8192},
            "scaling": {"min": 1, "max": 3},
        }],
    }


def plan_of(cfg: dict[str, Any], secrets: dict[str, str] | None = None) -> Plan:
    values = dict(cfg)
    for key, value in (secrets or {}).items():
        values[key] = value
    return run_plan(stack_config(values, secret_keys=set(secrets or {})))


def of_type(plan: Plan, suffix: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type.endswith(suffix)]


def one(plan: Plan, suffix: str) -> PlannedResource:
    found = of_type(plan, suffix)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def private(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["scalepath:network"] = {"mode": "private", "azure": {"vnetCidr": "10.70.0.0/16",
                                                             "subnetCidr": "10.70.1.0/24"}}
    return cfg


def traffic_template(plan: Plan) -> dict[str, Any]:
    """The endpoint as the traffic template (ARM deployment) declares it."""
    [endpoint] = one(plan, "resources:Deployment").inputs["properties"]["template"]["resources"]
    return endpoint


def errors(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        run_plan(stack_config(cfg))
    return {issue.path: issue.message for issue in info.value.issues}


# -- public and private modes ----------------------------------------------------------------

def test_public_plan_creates_workspace_endpoint_and_deployment(azure_config):
    plan = plan_of(azure_config)
    component = one(plan, "scalepath:index:AzureMlEndpoint")
    assert component.name == "chat"
    for suffix in (":ResourceGroup", "storage:StorageAccount", "keyvault:Vault", "containerregistry:Registry",
                   "applicationinsights:Component", "operationalinsights:Workspace", f"{ML}:Workspace"):
        assert one(plan, suffix).parent == component.urn
    workspace = one(plan, f"{ML}:Workspace").inputs
    assert workspace["identity"] == {"type": "SystemAssigned"}
    assert workspace["publicNetworkAccess"] == "Enabled" and "managedNetwork" not in workspace
    endpoint = one(plan, f"{ML}:OnlineEndpoint").inputs
    assert endpoint["properties"]["publicNetworkAccess"] == "Enabled"
    assert endpoint["properties"]["authMode"] == "Key"
    deployment = one(plan, f"{ML}:OnlineDeployment").inputs
    props = deployment["properties"]
    assert props["instanceType"] == "Standard_NC24ads_A100_v4"
    assert props["egressPublicNetworkAccess"] == "Enabled"
    assert props["requestSettings"]["requestTimeout"] == "PT90S"
    assert props["livenessProbe"]["initialDelay"] == "PT600S"
    assert props["livenessProbe"]["failureThreshold"] == 30
    assert props["environmentVariables"]["MODEL_ID"] == "Qwen/Qwen2.5-7B-Instruct"
    assert props["environmentVariables"]["NUM_SHARD"] == "1"
    assert props["environmentVariables"]["MAX_TOTAL_TOKENS"] == "8192"
    env_version = one(plan, f"{ML}:EnvironmentVersion").inputs["properties"]
    assert env_version["image"] == TGI
    assert env_version["inferenceConfig"]["scoringRoute"] == {"path": "/", "port": 80}
    assert not of_type(plan, "network:VirtualNetwork") and not of_type(plan, "network:PrivateEndpoint")


def test_private_plan_isolates_workspace_endpoint_and_egress(azure_config):
    plan = plan_of(private(azure_config))
    vnet = one(plan, "network:VirtualNetwork").inputs
    assert vnet["addressSpace"]["addressPrefixes"] == ["10.70.0.0/16"]
    assert one(plan, "network:Subnet").inputs["addressPrefix"] == "10.70.1.0/24"
    zones = {r.inputs["privateZoneName"] for r in of_type(plan, "privatedns:PrivateZone")}
    assert zones == {"privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"}
    assert len(of_type(plan, "privatedns:VirtualNetworkLink")) == 2

    workspace = one(plan, f"{ML}:Workspace")
    pe = one(plan, "network:PrivateEndpoint").inputs
    connection = pe["privateLinkServiceConnections"][0]
    assert connection["groupIds"] == ["amlworkspace"]
    assert connection["privateLinkServiceId"].endswith("/workspaces/chat-ws")
    assert pe["subnet"]["id"].endswith("/subnets/azure-network-endpoints")
    dns_group = one(plan, "network:PrivateDnsZoneGroup").inputs
    assert {c["privateDnsZoneId"].rsplit("/", 1)[1] for c in dns_group["privateDnsZoneConfigs"]} == zones

    ws = workspace.inputs
    assert ws["publicNetworkAccess"] == "Disabled"
    assert ws["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    destinations = {rule["destination"] for rule in ws["managedNetwork"]["outboundRules"].values()}
    assert {"huggingface.co", "ghcr.io", "pkg-containers.githubusercontent.com"} <= destinations
    assert ws["managedNetwork"]["firewallSku"] == "Standard"
    assert one(plan, f"{ML}:OnlineEndpoint").inputs["properties"]["publicNetworkAccess"] == "Disabled"
    deployment = one(plan, f"{ML}:OnlineDeployment").inputs
    assert deployment["properties"]["egressPublicNetworkAccess"] == "Disabled"
    assert one(plan, "keyvault:Vault").inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert one(plan, "storage:StorageAccount").inputs["publicNetworkAccess"] == "Disabled"
    assert one(plan, "containerregistry:Registry").inputs["sku"] == {"name": "Premium"}


def test_private_registered_model_from_workspace_registry_needs_no_outbound_rules(azure_config):
    cfg = private(azure_config)
    cfg["scalepath:deployments"][0]["container"]["image"] = "mlregistry.azurecr.io/tgi:3.3.4"
    cfg["scalepath:deployments"][0]["variants"] = [
        {"name": "blue", "traffic": 100, "registeredModel": "azureml:mistral-7b-instruct:3"}]
    plan = plan_of(cfg)
    network = one(plan, f"{ML}:Workspace").inputs["managedNetwork"]
    assert "outboundRules" not in network and "firewallSku" not in network
    props = one(plan, f"{ML}:OnlineDeployment").inputs["properties"]
    assert props["model"] == "azureml:mistral-7b-instruct:3"
    assert props["environmentVariables"]["MODEL_ID"] == props["modelMountPath"]


def test_two_private_deployments_share_one_network(azure_config):
    cfg = private(azure_config)
    second = copy.deepcopy(cfg["scalepath:deployments"][0])
    second["name"] = "chat-b"
    cfg["scalepath:deployments"].append(second)
    plan = plan_of(cfg)
    assert len(of_type(plan, "network:VirtualNetwork")) == 1
    assert len(of_type(plan, "network:PrivateEndpoint")) == 2
    names = {r.inputs["endpointName"] for r in of_type(plan, f"{ML}:OnlineEndpoint")}
    assert len(names) == 2 and all(len(n) <= 32 for n in names)


EXISTING_WS = ("/subscriptions/0000/resourceGroups/ml-rg"
               "/providers/Microsoft.MachineLearningServices/workspaces/shared-ws")


def test_existing_workspace_creates_only_the_endpoint_side(azure_config):
    azure_config["scalepath:deployments"][0]["workspace"] = {"id": EXISTING_WS}
    plan = plan_of(azure_config)
    assert not of_type(plan, f"{ML}:Workspace") and not of_type(plan, "storage:StorageAccount")
    assert not of_type(plan, ":ResourceGroup") and not of_type(plan, "keyvault:Vault")
    endpoint = one(plan, f"{ML}:OnlineEndpoint").inputs
    assert (endpoint["workspaceName"], endpoint["resourceGroupName"]) == ("shared-ws", "ml-rg")


def test_existing_private_workspace_gets_a_private_route_to_the_token_vault(azure_config):
    cfg = private(azure_config)
    cfg["scalepath:deployments"][0]["workspace"] = {"id": EXISTING_WS}
    plan = plan_of(cfg, {"scalepath:hfToken": SECRET_PLACEHOLDER})
    vault = one(plan, "keyvault:Vault").inputs
    assert vault["resourceGroupName"] == "ml-rg"
    assert vault["properties"]["softDeleteRetentionInDays"] == 7  # not prod
    rule = one(plan, f"{ML}:ManagedNetworkSettingsRule").inputs
    assert rule["workspaceName"] == "shared-ws"
    assert rule["properties"]["type"] == "PrivateEndpoint"
    assert rule["properties"]["destination"] == {
        "serviceResourceId": f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-rg/"
                             f"providers/Microsoft.KeyVault/vaults/{vault['vaultName']}",
        "subresourceTarget": "vault"}


def test_existing_private_workspace_deployments_wait_for_the_outbound_rule(azure_config):
    cfg = private(azure_config)
    cfg["scalepath:deployments"][0]["workspace"] = {"id": EXISTING_WS}
    plan = plan_of(cfg, {"scalepath:hfToken": SECRET_PLACEHOLDER})
    rule = one(plan, f"{ML}:ManagedNetworkSettingsRule")
    assert all(rule.urn in d.dependencies for d in of_type(plan, f"{ML}:OnlineDeployment"))


def test_customer_managed_key_encrypts_the_workspace(azure_config):
    key_vault = "/subscriptions/0000/resourceGroups/keys/providers/Microsoft.KeyVault/vaults/cmk-vault"
    key_uri = "https://cmk-vault.vault.azure.net/keys/aml/" + "0" * 32
    azure_config["scalepath:deployments"][0]["workspace"] = {
        "customerManagedKey": {"keyVaultId": key_vault, "keyUri": key_uri}}
    ws = one(plan_of(azure_config), f"{ML}:Workspace").inputs
    assert ws["encryption"]["status"] == "Enabled"
    assert ws["encryption"]["keyVaultProperties"] == {"keyVaultArmId": key_vault, "keyIdentifier": key_uri}


# -- traffic split -----------------------------------------------------------------------------

def test_blue_green_traffic_split_and_mirror(azure_config):
    azure_config["scalepath:deployments"][0]["variants"] = [
        {"name": "blue", "traffic": 90},
        {"name": "green", "traffic": 10, "image": "ghcr.io/huggingface/text-generation-inference:3.3.5",
         "scaling": {"min": 1, "max": 1}},
        {"name": "shadow", "traffic": 0, "mirrorTraffic": 20},
        {"name": "staged", "traffic": 0},
    ]
    plan = plan_of(azure_config)
    props = traffic_template(plan)["properties"]
    assert props["traffic"] == {named("blue"): 90, named("green"): 10, named("shadow"): 0, named("staged"): 0}
    assert props["mirrorTraffic"] == {named("shadow"): 20}
    deployments = {r.inputs["deploymentName"]: r.inputs for r in of_type(plan, f"{ML}:OnlineDeployment")}
    assert set(deployments) == {named("blue"), named("green"), named("shadow"), named("staged")}
    assert deployments[named("green")]["sku"] == {"name": "Default", "capacity": 1}
    images = {r.inputs["properties"]["image"] for r in of_type(plan, f"{ML}:EnvironmentVersion")}
    assert images == {TGI, "ghcr.io/huggingface/text-generation-inference:3.3.5"}
    # green has fixed capacity (min == max): no autoscale setting for it.
    targets = {r.inputs["targetResourceUri"].rsplit("/", 1)[1] for r in of_type(plan, "monitor:AutoscaleSetting")}
    assert targets == {named("blue"), named("shadow"), named("staged")}


# -- autoscale ---------------------------------------------------------------------------------

def test_autoscale_rules_on_gpu_and_latency(azure_config):
    azure_config["scalepath:deployments"][0]["scaling"] = {
        "min": 2, "max": 5, "gpuUtilizationPct": 60, "latencyP95Ms": 4000, "scaleOutCooldownMinutes": 12}
    plan = plan_of(azure_config)
    setting = one(plan, "monitor:AutoscaleSetting").inputs
    deployment = one(plan, f"{ML}:OnlineDeployment").inputs
    assert setting["targetResourceUri"].endswith(
        f"/onlineEndpoints/{deployment['endpointName']}/deployments/{named('blue')}")
    profile = setting["profiles"][0]
    assert profile["capacity"] == {"minimum": "2", "maximum": "5", "default": "2"}
    assert deployment["sku"]["capacity"] == 2
    rules = {(r["metricTrigger"]["metricName"], r["scaleAction"]["direction"]): r for r in profile["rules"]}
    assert set(rules) == {("GpuUtilizationPercentage", "Increase"), ("GpuUtilizationPercentage", "Decrease"),
                          ("RequestLatency_P95", "Increase"), ("RequestLatency_P95", "Decrease")}
    out = rules["GpuUtilizationPercentage", "Increase"]
    assert (out["metricTrigger"]["operator"], out["metricTrigger"]["threshold"]) == ("GreaterThan", 60)
    assert out["scaleAction"]["cooldown"] == "PT12M"
    assert rules["GpuUtilizationPercentage", "Decrease"]["metricTrigger"]["threshold"] == 30
    latency = rules["RequestLatency_P95", "Increase"]["metricTrigger"]
    assert latency["metricResourceUri"].endswith(f"/onlineEndpoints/{deployment['endpointName']}")
    assert latency["dimensions"] == [{"dimensionName": "deployment", "operator": "Equals", "values": [named("blue")]}]


def test_fixed_capacity_has_no_autoscale(azure_config):
    azure_config["scalepath:deployments"][0]["scaling"] = {"min": 2, "max": 2}
    plan = plan_of(azure_config)
    assert not of_type(plan, "monitor:AutoscaleSetting")
    assert one(plan, f"{ML}:OnlineDeployment").inputs["sku"]["capacity"] == 2


# -- alerts --------------------------------------------------------------------------------------

def test_alerts_on_p95_latency_and_5xx(azure_config):
    azure_config["scalepath:deployments"][0]["alerts"] = {"latencyP95Ms": 12000, "errors5xxPerMinute": 3}
    plan = plan_of(azure_config)
    group = one(plan, "monitor:ActionGroup").inputs
    assert [r["emailAddress"] for r in group["emailReceivers"]] == ["ml@example.com"]
    endpoint_name = one(plan, f"{ML}:OnlineEndpoint").inputs["endpointName"]
    criteria = {}
    for alert in of_type(plan, "monitor:MetricAlert"):
        assert alert.inputs["scopes"][0].endswith(f"/onlineEndpoints/{endpoint_name}")
        criterion = alert.inputs["criteria"]["allOf"][0]
        criteria[criterion["metricName"]] = criterion
    assert criteria["RequestLatency_P95"]["threshold"] == 12000
    errors_5xx = criteria["RequestsPerMinute"]
    assert errors_5xx["threshold"] == 3
    assert errors_5xx["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]


# -- tags ----------------------------------------------------------------------------------------

def _takes_tags(resource_type: str) -> bool:
    _, module, name = resource_type.split(":")
    cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_taggable_azure_resource_is_tagged(azure_config):
    plan = plan_of(private(azure_config), {"scalepath:hfToken": SECRET_PLACEHOLDER})
    taggable = [r for r in plan.resources if r.type.startswith("azure-native:") and _takes_tags(r.type)]
    assert len(taggable) >= 20
    for resource in taggable:
        tags = resource.inputs.get("tags")
        assert tags, f"{resource.type} {resource.name} has no tags"
        assert tags["stack"] == "scalepath-test" and tags["team"] == "ml", resource.name
        if resource.parent and "AzureMlEndpoint" in resource.parent:
            assert (tags["deployment"], tags["stage"]) == ("chat", "azureml"), resource.name
    # The environment version carries its tags inside properties (its ARM shape).
    assert one(plan, f"{ML}:EnvironmentVersion").inputs["properties"]["tags"]["stack"] == "scalepath-test"


# -- HF token ------------------------------------------------------------------------------------

def test_hf_token_goes_through_key_vault_only(azure_config):
    plan = plan_of(azure_config, {"scalepath:hfToken": SECRET_PLACEHOLDER})
    secret = one(plan, "keyvault:Secret")
    assert secret.inputs["properties"]["value"] == SECRET
    vault = one(plan, "keyvault:Vault").inputs
    assert vault["properties"]["enableRbacAuthorization"] is True
    env = one(plan, f"{ML}:OnlineDeployment").inputs["properties"]["environmentVariables"]
    assert env["HF_TOKEN"].startswith(f"${{{{keyvault:https://{vault['vaultName']}.vault.azure.net/secrets/hf-token/")
    assert SECRET_PLACEHOLDER not in repr([r.inputs for r in plan.resources])
    grants = {r.name: r for r in of_type(plan, "authorization:RoleAssignment")}
    reader = grants["chat-kv-endpoint"].inputs
    assert reader["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")  # Key Vault Secrets User
    assert reader["scope"].endswith(f"/vaults/{vault['vaultName']}")
    deployment = one(plan, f"{ML}:OnlineDeployment")
    assert grants["chat-kv-endpoint"].urn in deployment.dependencies


def test_without_hf_token_no_secret_and_no_env(azure_config):
    plan = plan_of(azure_config)
    assert not of_type(plan, "keyvault:Secret")
    assert "HF_TOKEN" not in one(plan, f"{ML}:OnlineDeployment").inputs["properties"]["environmentVariables"]


def test_vllm_server_settings(azure_config):
    azure_config["scalepath:deployments"][0].update(
        instanceType="Standard_NC48ads_A100_v4",
        container={"server": "vllm", "image": "myregistry.azurecr.io/vllm-aml:0.6.3", "maxTotalTokens": 16384})
    plan = plan_of(azure_config)
    env = one(plan, f"{ML}:OnlineDeployment").inputs["properties"]["environmentVariables"]
    assert env["MODEL_NAME"] == "Qwen/Qwen2.5-7B-Instruct"
    assert env["VLLM_ARGS"] == "--port 8000 --tensor-parallel-size 2 --max-model-len 16384"
    routes = one(plan, f"{ML}:EnvironmentVersion").inputs["properties"]["inferenceConfig"]
    assert routes["livenessRoute"] == {"path": "/health", "port": 8000}


# -- component outputs ---------------------------------------------------------------------------

def _args(**overrides: Any) -> AzureMlEndpointArgs:
    variant = AzureMlVariant(
        name="blue", traffic=100, mirror_traffic=0, instance_type="Standard_NC4as_T4_v3",
        container=AzureMlContainer(image=TGI, port=80, liveness_path="/health", readiness_path="/health",
                                   scoring_path="/", env={"MODEL_ID": "org/model"}, openai_compatible=True),
        autoscale=AzureMlAutoscale(min_instances=1, max_instances=2, gpu_utilization_pct=70,
                                   cpu_utilization_pct=None, latency_p95_ms=None,
                                   scale_out_cooldown_minutes=10, scale_in_cooldown_minutes=20))
    values: dict[str, Any] = dict(
        location="eastus", subscription_id="0000", auth_mode="Key", variants=[variant],
        request_timeout_ms=60000, max_concurrent_requests_per_instance=8,
        probes=AzureMlProbes(initial_delay_seconds=300, period_seconds=10, timeout_seconds=5, failure_threshold=20),
        alerts=AzureMlAlerts(latency_p95_ms=5000, errors_5xx_per_minute=1, notify=["a@example.com"]),
        tags={"stack": "p-s", "team": "ml", "cost-center": "c"})
    values.update(overrides)
    return AzureMlEndpointArgs(**values)


@pulumi.runtime.test
def test_component_outputs_scoring_uri_and_openai_base_url():
    endpoint = AzureMlEndpoint("demo", _args())

    def check(values: list[Any]) -> None:
        name, scoring, openai = values
        assert name.startswith("demo-") and len(name) <= 32
        assert scoring == f"https://{name}.eastus.inference.ml.azure.com/score"
        assert openai == f"https://{name}.eastus.inference.ml.azure.com/v1"

    return pulumi.Output.all(endpoint.endpoint_name, endpoint.scoring_uri, endpoint.openai_base_url).apply(check)


@pulumi.runtime.test
def test_component_has_no_openai_url_for_a_custom_scoring_route():
    args = _args()
    variant = args.variants[0]
    custom = AzureMlVariant(**{**variant.__dict__, "container": AzureMlContainer(
        **{**variant.container.__dict__, "scoring_path": "/predict", "openai_compatible": False})})
    endpoint = AzureMlEndpoint("demo2", _args(variants=[custom]))

    def check(url: str | None) -> None:
        assert url is None

    return endpoint.openai_base_url.apply(check)


def test_component_rejects_an_unknown_instance_type():
    args = _args()
    bad = AzureMlVariant(**{**args.variants[0].__dict__, "instance_type": "Standard_Z1"})
    with pytest.raises(UnknownInstanceType, match="Standard_NC24ads_A100_v4"):
        AzureMlEndpoint("bad", _args(variants=[bad]))


# -- config errors -------------------------------------------------------------------------------

D = "scalepath:deployments[0]"


@pytest.mark.parametrize(("change", "path", "fragment"), [
    ({"scaling": {"min": 0, "max": 2}}, f"{D}.scaling.min", "scale to zero is not supported"),
    ({"instanceType": "Standard_Z9"}, f"{D}.instanceType", "known: Standard_DS3_v2"),
    ({"variants": [{"name": "blue", "traffic": 60}, {"name": "green", "traffic": 30}]}, f"{D}.variants",
     "traffic must sum to 100"),
    ({"variants": [{"name": "blue", "traffic": 100}, {"name": "blue", "traffic": 0}]}, f"{D}.variants",
     "unique"),
    ({"variants": [{"name": "blue", "traffic": 100}, {"name": "green", "traffic": 0, "mirrorTraffic": 60}]},
     f"{D}.variants[1].mirrorTraffic", "less than or equal to 50"),
    ({"variants": [{"name": "blue", "traffic": 90, "mirrorTraffic": 10}, {"name": "g", "traffic": 10}]},
     f"{D}.variants[0]", "live traffic or mirrored traffic"),
    ({"variants": [{"name": "blue", "traffic": 100}, {"name": "green", "traffic": 0, "mirrorTraffic": 10},
                   {"name": "h100", "traffic": 0, "mirrorTraffic": 10}]},
     f"{D}.variants", "mirrors traffic to one deployment only"),
    ({"variants": [{"name": "blue", "traffic": 100, "instanceType": "Standard_X"}]},
     f"{D}.variants[0].instanceType", "unknown azureml instance type"),
    ({"container": {"image": "ghcr.io/huggingface/text-generation-inference:latest"}}, f"{D}.container.image",
     "pin a version"),
    ({"container": {"image": TGI, "env": {"HF_TOKEN": "x"}}}, f"{D}.container.env", "scalepath:hfToken"),
    ({"container": {"image": TGI, "env": {"HUGGINGFACEHUB_API_TOKEN": "x"}}}, f"{D}.container.env",
     "scalepath:hfToken"),
    ({"container": {"image": TGI, "server": "triton"}}, f"{D}.container.server", "'tgi' or 'vllm'"),
    ({"scaling": {"min": 1, "max": 3, "gpuUtilizationPct": None}}, f"{D}.scaling", "needs a scaling metric"),
    ({"instanceType": "Standard_F4s_v2"}, D, "gpuUtilizationPct needs a GPU instance"),
    ({"requestTimeoutMs": 300000}, f"{D}.requestTimeoutMs", "less than or equal to 180000"),
    ({"authMode": "amlToken"}, f"{D}.authMode", "'key' or 'aadToken'"),
    ({"workspace": {"id": "/subscriptions/1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
                          "workspaces/ws", "resourceGroup": "other"}}, f"{D}.workspace", "remove them"),
    ({"workspace": {"customerManagedKey": {"keyVaultId": "kv", "keyUri": "https://x"}}},
     f"{D}.workspace.customerManagedKey.keyVaultId", "pattern"),
])
def test_bad_deployment_config_names_the_key(azure_config, change, path, fragment):
    azure_config["scalepath:deployments"][0].update(change)
    found = errors(azure_config)
    assert path in found, found
    assert fragment in found[path]


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5))
def test_traffic_split_accepted_exactly_when_it_sums_to_100_or_0(traffic):
    raw = {"name": "chat", "stage": "azureml", "model": "org/model", "instanceType": "Standard_NC4as_T4_v3",
           "container": {"image": TGI},
           "variants": [{"name": f"v{i}x", "traffic": t} for i, t in enumerate(traffic)]}
    if sum(traffic) in (0, 100):
        parsed = AzureMlDeployment.model_validate(raw)
        assert [v.traffic for v in parsed.variants] == traffic
    else:
        with pytest.raises(ValidationError, match="traffic must sum to 100"):
            AzureMlDeployment.model_validate(raw)


def test_subnet_outside_vnet_is_rejected(azure_config):
    cfg = private(azure_config)
    cfg["scalepath:network"]["azure"]["subnetCidr"] = "10.99.0.0/24"
    found = errors(cfg)
    assert "not inside vnetCidr" in found["scalepath:network.azure"]


def test_unknown_network_azure_key_lists_allowed_keys(azure_config):
    cfg = private(azure_config)
    cfg["scalepath:network"]["azure"]["cidr"] = "10.0.0.0/8"
    found = errors(cfg)
    assert "allowed keys: resourceGroup, subnetCidr, vnetCidr" in found["scalepath:network.azure.cidr"]


def test_azure_stack_needs_budget_start_month_and_targets(azure_config):
    azure_config["scalepath:budget"].pop("azure")
    azure_config.pop("azure-native:location")
    found = errors(azure_config)
    assert "scalepath:budget.azure.startMonth" in found and "azure-native:location" in found


# -- shipped environment -----------------------------------------------------------------------

def test_shipped_azure_prod_plans_private_blue_green(shipped_plan):
    plan = shipped_plan("azure-prod")
    endpoint = one(plan, f"{ML}:OnlineEndpoint").inputs["properties"]
    assert endpoint["publicNetworkAccess"] == "Disabled" and endpoint["authMode"] == "AADToken"
    assert traffic_template(plan)["properties"]["traffic"] == {named("blue"): 90, named("green"): 10}
    deployments = of_type(plan, f"{ML}:OnlineDeployment")
    assert {d.inputs["properties"]["instanceType"] for d in deployments} == {"Standard_NC24ads_A100_v4"}
    assert all(d.inputs["properties"]["egressPublicNetworkAccess"] == "Disabled" for d in deployments)
    assert len(of_type(plan, "monitor:AutoscaleSetting")) == 2
    assert one(plan, "keyvault:Secret").inputs["properties"]["value"] == SECRET
    assert one(plan, "keyvault:Vault").inputs["properties"]["softDeleteRetentionInDays"] == 90
    # Unpinned (the shipped file leaves startMonth out): the month of the first `up`, kept after.
    budget = one(plan, "consumption:Budget")
    assert budget.inputs["timePeriod"]["startDate"] == f"{clock.current_month()}-01T00:00:00Z"
    assert budget.options["ignoreChanges"] == ["timePeriod.startDate"]


# -- what ARM enforces at `up` (issue 14) --------------------------------------------------------

def _variants_configs(azure_config) -> list[dict[str, Any]]:
    """Configs with live, dark and mirrored variants, public and private."""
    splits = [
        [{"name": "blue", "traffic": 100}],
        [{"name": "blue", "traffic": 90}, {"name": "green", "traffic": 10}],
        [{"name": "blue", "traffic": 0}, {"name": "green", "traffic": 0}],
        [{"name": "blue", "traffic": 70}, {"name": "green", "traffic": 30},
         {"name": "shadow", "traffic": 0, "mirrorTraffic": 10}],
    ]
    out = []
    for variants in splits:
        for make in (copy.deepcopy, private):
            cfg = make(azure_config)
            cfg["scalepath:deployments"][0]["variants"] = variants
            out.append(cfg)
    return out


def test_first_up_routes_traffic_only_after_the_deployments_exist(azure_config, shipped_plan):
    plans = [plan_of(cfg) for cfg in _variants_configs(azure_config)] + [shipped_plan("azure-prod")]
    for plan in plans:
        endpoint = one(plan, f"{ML}:OnlineEndpoint")
        # ARM rejects traffic naming deployments that do not exist, and they need the endpoint first.
        assert "traffic" not in endpoint.inputs["properties"]
        assert "mirrorTraffic" not in endpoint.inputs["properties"]
        assert {"properties.traffic", "properties.mirrorTraffic"} <= set(endpoint.options["ignoreChanges"])
        split = one(plan, "resources:Deployment")
        deployments = {d.inputs["deploymentName"]: d for d in of_type(plan, f"{ML}:OnlineDeployment")}
        template = traffic_template(plan)
        routed = {**template["properties"]["traffic"], **template["properties"]["mirrorTraffic"]}
        assert set(routed) <= set(deployments)
        assert all(deployments[name].urn in split.dependencies for name in routed)
        assert split.inputs["properties"]["mode"] == "Incremental"
        # The template re-declares the same endpoint: same name, properties and API version.
        assert template["name"] == f"{endpoint.inputs['workspaceName']}/{endpoint.inputs['endpointName']}"
        assert {k: template["properties"][k] for k in endpoint.inputs["properties"]} == endpoint.inputs["properties"]
        assert template["identity"] == endpoint.inputs["identity"] and template["tags"] == endpoint.inputs["tags"]


def test_traffic_template_uses_the_providers_endpoint_api_version():
    source = inspect.getsource(importlib.import_module("pulumi_azure_native.machinelearningservices.online_endpoint"))
    assert f"Uses Azure REST API version {ENDPOINT_API_VERSION}." in source


def test_private_workspace_provisions_its_managed_network_before_deployments(azure_config):
    plan = plan_of(private(azure_config))
    workspace = one(plan, f"{ML}:Workspace")
    assert workspace.inputs["provisionNetworkNow"] is True
    deployments = of_type(plan, f"{ML}:OnlineDeployment")
    assert deployments and all(workspace.urn in d.dependencies for d in deployments)
    assert "provisionNetworkNow" not in one(plan_of(azure_config), f"{ML}:Workspace").inputs


def test_autoscaled_capacity_is_left_to_the_autoscale_setting(azure_config, shipped_plan):
    azure_config["scalepath:deployments"][0]["variants"] = [
        {"name": "blue", "traffic": 100}, {"name": "fixed", "traffic": 0, "scaling": {"min": 1, "max": 1}}]
    for plan in (plan_of(azure_config), shipped_plan("azure-prod")):
        targets = {r.inputs["targetResourceUri"] for r in of_type(plan, "monitor:AutoscaleSetting")}
        assert targets
        for deployment in of_type(plan, f"{ML}:OnlineDeployment"):
            autoscaled = any(t.endswith(f"/deployments/{deployment.inputs['deploymentName']}") for t in targets)
            assert ("sku.capacity" in deployment.options["ignoreChanges"]) is autoscaled, deployment.name


def test_private_egress_approves_every_hub_host_including_xet(azure_config):
    assert {"cas-server.xethub.hf.co", "transfer.xethub.hf.co", "cas-bridge.xethub.hf.co"} <= set(hf_hub_hosts())
    rules = one(plan_of(private(azure_config)), f"{ML}:Workspace").inputs["managedNetwork"]["outboundRules"]
    destinations = {rule["destination"] for rule in rules.values() if rule["type"] == "FQDN"}
    assert set(hf_hub_hosts()) <= destinations


@pytest.mark.parametrize(("image", "hosts"), [
    ("docker.io/acme/tgi-custom:3.3.4", {"registry-1.docker.io", "auth.docker.io",
                                         "production.cloudflare.docker.com"}),
    ("nvcr.io/nvidia/tritonserver:24.08-py3", {"nvcr.io"}),
])
def test_private_egress_approves_the_image_registry(azure_config, image, hosts):
    cfg = private(azure_config)
    cfg["scalepath:deployments"][0]["container"]["image"] = image
    rules = one(plan_of(cfg), f"{ML}:Workspace").inputs["managedNetwork"]["outboundRules"]
    destinations = {rule["destination"] for rule in rules.values()}
    assert hosts <= destinations


@pytest.mark.parametrize(("where", "path"), [("container", "container.image"), ("variant", "variants[1].image")])
def test_private_image_from_a_registry_with_unknown_hosts_is_refused(azure_config, where, path):
    cfg = private(azure_config)
    deployment = cfg["scalepath:deployments"][0]
    image = "quay.io/acme/tgi:3.3.4"
    if where == "container":
        deployment["container"]["image"] = image
    else:
        deployment["variants"] = [{"name": "blue", "traffic": 100}, {"name": "green", "traffic": 0, "image": image}]
    found = errors(cfg)
    key = f"scalepath:deployments[0].{path}"
    assert list(found) == [key] and "'quay.io'" in found[key] and "azurecr.io" in found[key]
    public = copy.deepcopy(azure_config)
    public["scalepath:deployments"][0]["container"]["image"] = image
    assert plan_of(public).resources  # public egress is open: any registry
