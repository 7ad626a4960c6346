"""Stage ``vertex``: planned resources in public and private mode, labels, secrets, bad configs."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
from typing import Any

import pulumi
import pytest

from components import catalog
from components.gcp.vertex import (
    ACCELERATOR_TYPES,
    FAMILY,
    VertexAlertArgs,
    VertexContainerArgs,
    VertexEndpoint,
    VertexEndpointArgs,
    VertexPrivateArgs,
    machine_spec,
    prediction_regions,
)
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER
from scalepath.wire import PlannedResource
from stacks.errors import ConfigError
from tests.support import stack_config

MODEL_GARDEN = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"


@pytest.fixture
def gcp_config() -> dict[str, Any]:
    """A valid public GCP stack with one Vertex deployment."""
    return {
        "gcp:project": "acme-ml-dev",
        "gcp:region": "us-central1",
        "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 500, "notify": ["ml@example.com", "ops@example.com"],
                             "gcp": {"billingAccount": "01A2B3-C4D5E6-F7A8B9"}},
        "scalepath:deployments": [{
            "name": "gemma", "model": "Qwen/Qwen2.5-7B-Instruct", "stage": "vertex",
            "machineType": "g2-standard-12", "scaling": {"min": 1, "max": 3},
        }],
    }


def _private(cfg: dict[str, Any], **gcp: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["scalepath:network"] = {"mode": "private", **({"gcp": gcp} if gcp else {})}
    return cfg


def _with_token(cfg: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    cfg = {**cfg, "scalepath:hfToken": SECRET_PLACEHOLDER}
    return cfg, {"scalepath:hfToken"}


def _plan(cfg: dict[str, Any], secret_keys: set[str] = frozenset()) -> Plan:
    return run_plan(stack_config(cfg, secret_keys=secret_keys))


def _of_type(plan: Plan, suffix: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type.endswith(suffix)]


def _one(plan: Plan, suffix: str) -> PlannedResource:
    found = _of_type(plan, suffix)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _issues(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        _plan(cfg)
    return {i.path: i.message for i in caught.value.issues}


# --- public and private modes ---------------------------------------------------------------


def test_public_deployment_serves_hf_model_on_catalogue_machine(gcp_config: dict[str, Any]) -> None:
    plan = _plan(gcp_config)
    deploy = _one(plan, ":AiEndpointWithModelGardenDeployment")
    assert deploy.inputs["huggingFaceModelId"] == "Qwen/Qwen2.5-7B-Instruct"
    assert deploy.inputs["location"] == "us-central1"
    resources = deploy.inputs["deployConfig"]["dedicatedResources"]
    assert resources["machineSpec"] == {
        "machineType": "g2-standard-12", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1}
    assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (1, 3)
    assert resources["autoscalingMetricSpecs"][0]["metricName"].endswith("accelerator/duty_cycle")
    assert "privateServiceConnectConfig" not in deploy.inputs["endpointConfig"]
    # No token configured: no secret, no token input; no VPC in public mode.
    assert "huggingFaceAccessToken" not in deploy.inputs["modelConfig"]
    assert not _of_type(plan, ":Secret") and not _of_type(plan, ":Network")
    component = _one(plan, "scalepath:index:VertexEndpoint")
    assert deploy.parent == component.urn


def test_required_apis_enabled_once_and_awaited(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    second = {**cfg["scalepath:deployments"][0], "name": "gemma-b"}
    cfg["scalepath:deployments"].append(second)
    plan = _plan(cfg)
    services = {r.inputs["service"]: r for r in _of_type(plan, "projects/service:Service")}
    assert set(services) == {"aiplatform.googleapis.com", "monitoring.googleapis.com"}
    assert all(s.inputs["disableOnDestroy"] is False for s in services.values())
    deploys = _of_type(plan, ":AiEndpointWithModelGardenDeployment")
    assert len(deploys) == 2
    for deploy in deploys:
        assert services["aiplatform.googleapis.com"].urn in deploy.dependencies


def test_private_mode_uses_psc_in_created_vpc(gcp_config: dict[str, Any]) -> None:
    plan = _plan(_private(gcp_config, pscAllowedProjects=["acme-apps-dev"]))
    network = _one(plan, "compute/network:Network")
    assert network.inputs["autoCreateSubnetworks"] is False
    subnet = _one(plan, "compute/subnetwork:Subnetwork")
    assert subnet.inputs["ipCidrRange"] == "10.40.0.0/20"
    assert subnet.inputs["privateIpGoogleAccess"] is True
    psc = _one(plan, ":AiEndpointWithModelGardenDeployment").inputs["endpointConfig"][
        "privateServiceConnectConfig"]
    assert psc["enablePrivateServiceConnect"] is True
    assert psc["projectAllowlists"] == ["acme-ml-dev", "acme-apps-dev"]
    assert psc["pscAutomationConfigs"]["projectId"] == "acme-ml-dev"
    assert psc["pscAutomationConfigs"]["network"].startswith("projects/acme-ml-dev/global/networks/network-gcp-vpc")
    assert network.urn in _one(plan, ":AiEndpointWithModelGardenDeployment").property_dependencies[
        "endpointConfig"]
    policy = _one(plan, ":ServiceConnectionPolicy")
    assert policy.inputs["serviceClass"] == "gcp-vertexai"
    assert policy.inputs["network"] == psc["pscAutomationConfigs"]["network"]
    assert policy.inputs["pscConfig"]["subnetworks"][0].startswith(
        "projects/acme-ml-dev/regions/us-central1/subnetworks/")
    assert policy.urn in _one(plan, ":AiEndpointWithModelGardenDeployment").dependencies


def test_private_mode_reuses_existing_vpc(gcp_config: dict[str, Any]) -> None:
    plan = _plan(_private(gcp_config, network="shared-vpc", subnet="ml-us-central1"))
    assert not _of_type(plan, "compute/network:Network")
    assert not _of_type(plan, "compute/subnetwork:Subnetwork")
    psc = _one(plan, ":AiEndpointWithModelGardenDeployment").inputs["endpointConfig"][
        "privateServiceConnectConfig"]
    assert psc["pscAutomationConfigs"]["network"] == "projects/acme-ml-dev/global/networks/shared-vpc"
    assert _one(plan, ":ServiceConnectionPolicy").inputs["pscConfig"]["subnetworks"] == [
        "projects/acme-ml-dev/regions/us-central1/subnetworks/ml-us-central1"]


# --- labels ------------------------------------------------------------------------------


def _label_property(resource_type: str) -> str | None:
    """The label property the installed SDK offers for a ``gcp:`` type, if any."""
    module, name = resource_type.split(":")[1].split("/")[0], resource_type.split(":")[2]
    args_cls = getattr(importlib.import_module(f"pulumi_gcp.{module}"), f"{name}Args")
    params = inspect.signature(args_cls.__init__).parameters
    for python_name, wire in (("user_labels", "userLabels"), ("labels", "labels")):
        if python_name in params:
            return wire
    return None


def test_every_labelled_resource_carries_cost_labels(gcp_config: dict[str, Any]) -> None:
    cfg, secrets = _with_token(_private(gcp_config))
    cfg["scalepath:deployments"][0]["kmsKey"] = (
        "projects/sec/locations/us-central1/keyRings/ml/cryptoKeys/secrets")
    plan = _plan(cfg, secrets)
    labelled = 0
    for resource in plan.resources:
        if not resource.type.startswith("gcp:"):
            continue
        prop = _label_property(resource.type)
        if prop is None:
            continue
        labels = resource.inputs.get(prop)
        assert labels, f"{resource.type} {resource.name} has no {prop}"
        assert labels["stack"] == "scalepath-test" and labels["managed-by"] == "scalepath"
        assert labels["team"] == "ml" and labels["cost-center"] == "cc-1"
        if resource.parent and "VertexEndpoint" in resource.parent:
            assert labels["deployment"] == "gemma" and labels["stage"] == "vertex"
        labelled += 1
    # Secret, 2 alert policies, 2+2 channels (budget, alerts), PSC policy, PSC DNS zone.
    assert labelled == 9


def test_model_garden_deployment_takes_no_labels() -> None:
    """Documented SDK limit: if pulumi-gcp adds labels, this fails and the component must pass them."""
    assert _label_property(MODEL_GARDEN) is None


# --- secrets and CMEK ---------------------------------------------------------------------


def test_hf_token_flows_through_secret_manager_and_stays_secret(gcp_config: dict[str, Any]) -> None:
    plan = _plan(*_with_token(gcp_config))
    secret = _one(plan, "secretmanager/secret:Secret")
    assert secret.inputs["secretId"] == "scalepath-test-gemma-hf-token"  # unique per project: the stack tag
    assert secret.inputs["replication"]["userManaged"]["replicas"] == [{"location": "us-central1"}]
    version = _one(plan, ":SecretVersion")
    assert version.inputs["secretData"] == "[secret]"
    deploy = _one(plan, ":AiEndpointWithModelGardenDeployment")
    assert deploy.inputs["modelConfig"]["huggingFaceAccessToken"] == "[secret]"
    assert version.urn in deploy.dependencies
    assert SECRET_PLACEHOLDER not in json.dumps(plan.to_json())
    services = {r.inputs["service"] for r in _of_type(plan, "projects/service:Service")}
    assert "secretmanager.googleapis.com" in services


def test_kms_key_encrypts_token_secret_after_grant(gcp_config: dict[str, Any]) -> None:
    cfg, secrets = _with_token(gcp_config)
    key = "projects/sec/locations/us-central1/keyRings/ml/cryptoKeys/secrets"
    cfg["scalepath:deployments"][0]["kmsKey"] = key
    plan = _plan(cfg, secrets)
    grant = _one(plan, ":CryptoKeyIAMMember")
    assert grant.inputs["cryptoKeyId"] == key
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.inputs["member"].endswith("@gcp-sa-secretmanager.iam.gserviceaccount.com")
    secret = _one(plan, "secretmanager/secret:Secret")
    replica = secret.inputs["replication"]["userManaged"]["replicas"][0]
    assert replica["customerManagedEncryption"] == {"kmsKeyName": key}
    assert grant.urn in secret.dependencies


# --- alerts ------------------------------------------------------------------------------


def test_alert_policies_watch_this_endpoint_and_notify_budget_list(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    cfg["scalepath:deployments"][0]["alerts"] = {"latencyP95Ms": 4000, "errors": 3, "windowMinutes": 10}
    plan = _plan(cfg)
    channels = [r for r in _of_type(plan, ":NotificationChannel") if r.name.startswith("alerts-gcp")]
    assert sorted(c.inputs["labels"]["email_address"] for c in channels) == [
        "ml@example.com", "ops@example.com"]
    policies = {r.name: r for r in _of_type(plan, ":AlertPolicy")}
    assert set(policies) == {"gemma-latency-p95", "gemma-errors"}
    latency = policies["gemma-latency-p95"].inputs["conditions"][0]["conditionThreshold"]
    errors = policies["gemma-errors"].inputs["conditions"][0]["conditionThreshold"]
    assert latency["thresholdValue"] == 4000 and latency["duration"] == "600s"
    assert latency["aggregations"][0]["crossSeriesReducer"] == "REDUCE_PERCENTILE_95"
    assert "prediction/online/prediction_latencies" in latency["filter"]
    assert errors["thresholdValue"] == 3
    assert "prediction/online/error_count" in errors["filter"]
    for condition in (latency, errors):
        assert 'resource.labels.endpoint_id = "' in condition["filter"]
        assert "[unknown]" not in condition["filter"]
    for policy in policies.values():
        assert len(policy.inputs["notificationChannels"]) == 2
        assert all(c.startswith("projects/acme-ml-dev/notificationChannels/")
                   for c in policy.inputs["notificationChannels"])


# --- custom container ----------------------------------------------------------------------


def test_token_limits_in_container_env_are_not_taken_for_secrets(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    cfg["scalepath:deployments"][0].update(
        machineType="n1-standard-8", accelerator={"type": "NVIDIA_TESLA_T4", "count": 1},
        model="Qwen/Qwen2.5-3B-Instruct",  # fits one 16 GiB T4 in 16-bit
        container={"imageUri": "us-docker.pkg.dev/acme/serving/tgi:3.3", "env": {"MAX_TOTAL_TOKENS": "8192"}})
    spec = _one(_plan(cfg), ":AiEndpointWithModelGardenDeployment").inputs["modelConfig"]["containerSpec"]
    assert spec["envs"] == [{"name": "MAX_TOTAL_TOKENS", "value": "8192"}]


def test_custom_container_overrides_model_garden_image(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    cfg["scalepath:deployments"][0].update(
        machineType="n1-standard-8", accelerator={"type": "NVIDIA_TESLA_T4", "count": 1},
        model="Qwen/Qwen2.5-3B-Instruct",  # fits one 16 GiB T4 in 16-bit
        container={"imageUri": "us-docker.pkg.dev/acme/serving/vllm:0.6", "args": ["--max-model-len=4096"],
                   "env": {"VLLM_LOGGING_LEVEL": "INFO"}, "startupTimeoutSeconds": 1800,
                   "sharedMemorySizeMb": 8192})
    deploy = _one(_plan(cfg), ":AiEndpointWithModelGardenDeployment")
    spec = deploy.inputs["modelConfig"]["containerSpec"]
    assert spec["imageUri"] == "us-docker.pkg.dev/acme/serving/vllm:0.6"
    assert spec["envs"] == [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}]
    assert spec["deploymentTimeout"] == "1800s" and spec["sharedMemorySizeMb"] == "8192"
    assert spec["startupProbe"]["failureThreshold"] * spec["startupProbe"]["periodSeconds"] >= 1800
    assert deploy.inputs["deployConfig"]["dedicatedResources"]["machineSpec"] == {
        "machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}


# --- component outputs --------------------------------------------------------------------


def _component_args(**overrides: Any) -> VertexEndpointArgs:
    base: dict[str, Any] = dict(
        project="acme-ml-dev", region="us-central1", model="Qwen/Qwen2.5-7B-Instruct",
        instance_type="g2-standard-12", min_replicas=1, max_replicas=2,
        alerts=VertexAlertArgs(latency_p95_ms=5000, errors=5, window_s=300, channels=[]),
        tags={"stack": "scalepath-test", "team": "ml"},
    )
    return VertexEndpointArgs(**{**base, **overrides})


@pulumi.runtime.test
def test_public_outputs_point_at_regional_host() -> Any:
    endpoint = VertexEndpoint("pub", _component_args())

    def check(values: list[Any]) -> None:
        eid, name, url, openai = values
        assert eid.isdigit()
        assert name == f"projects/acme-ml-dev/locations/us-central1/endpoints/{eid}"
        assert url == f"https://us-central1-aiplatform.googleapis.com/v1/{name}:predict"
        assert openai == f"https://us-central1-aiplatform.googleapis.com/v1beta1/{name}"
        assert endpoint.psc_ip_address is None

    return pulumi.Output.all(endpoint.endpoint_id, endpoint.endpoint_name, endpoint.prediction_url,
                             endpoint.openai_base_url).apply(check)


@pulumi.runtime.test
def test_private_urls_use_the_certificates_host_name_and_custom_containers_raw_predict() -> Any:
    endpoint = VertexEndpoint("priv", _component_args(
        private=VertexPrivateArgs(network_id="projects/acme-ml-dev/global/networks/vpc", allowed_projects=[],
                                  project_number="123456789012", dns_zone="vertex-psc"),
        container=VertexContainerArgs(image_uri="us-docker.pkg.dev/acme/serving/tgi:3")))
    assert endpoint.openai_base_url is None

    def check(values: list[Any]) -> None:
        ip, host, url, name, eid = values
        assert ip == "10.40.0.5"
        # The PSC certificate is for *.prediction.p.vertexai.goog (one label): never the IP.
        assert host == f"{eid}-us-central1-123456789012.prediction.p.vertexai.goog"
        assert url == f"https://{host}/v1/{name}:rawPredict"

    return pulumi.Output.all(endpoint.psc_ip_address, endpoint.psc_hostname, endpoint.prediction_url,
                             endpoint.endpoint_name, endpoint.endpoint_id).apply(check)


@pulumi.runtime.test
def test_public_custom_container_exports_raw_predict() -> Any:
    endpoint = VertexEndpoint("pubraw", _component_args(
        container=VertexContainerArgs(image_uri="us-docker.pkg.dev/acme/serving/vllm:0.8",
                                      predict_route="/v1/chat/completions")))

    def check(values: list[Any]) -> None:
        url, name = values
        assert url == f"https://us-central1-aiplatform.googleapis.com/v1/{name}:rawPredict"

    return pulumi.Output.all(endpoint.prediction_url, endpoint.endpoint_name).apply(check)


def test_private_plan_resolves_each_url_host_to_its_psc_ip(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    second = {**cfg["scalepath:deployments"][0], "name": "second"}
    cfg["scalepath:deployments"].append(second)
    plan = _plan(_private(cfg))
    [zone] = _of_type(plan, "dns/managedZone:ManagedZone")
    assert zone.inputs["dnsName"] == "prediction.p.vertexai.goog." and zone.inputs["visibility"] == "private"
    [network] = [n["networkUrl"] for n in zone.inputs["privateVisibilityConfig"]["networks"]]
    assert network.startswith("projects/acme-ml-dev/global/networks/network-gcp-vpc")
    [api] = [r for r in _of_type(plan, "projects/service:Service") if r.inputs["service"] == "dns.googleapis.com"]
    assert api.urn in zone.dependencies
    records = _of_type(plan, "dns/recordSet:RecordSet")
    assert len(records) == 2
    for record in records:
        label, _, domain = record.inputs["name"].partition(".")
        assert domain == "prediction.p.vertexai.goog." and label.endswith("-us-central1-123456789012")
        assert record.inputs["type"] == "A" and record.inputs["managedZone"] == zone.inputs["name"]
        assert record.inputs["rrdatas"] == ["10.40.0.5"]


def test_public_plan_has_no_private_zone(gcp_config: dict[str, Any]) -> None:
    plan = _plan(gcp_config)
    assert not _of_type(plan, "dns/managedZone:ManagedZone") and not _of_type(plan, "dns/recordSet:RecordSet")


def test_budget_filters_on_the_project_number_the_api_stores(gcp_config: dict[str, Any]) -> None:
    [budget] = _of_type(_plan(gcp_config), "billing/budget:Budget")
    # The mock's getProject answers number 123456789012 for gcp:project.
    assert budget.inputs["budgetFilter"]["projects"] == ["projects/123456789012"]


@pytest.mark.parametrize("project", ["123456789012", "Acme-ML", "ml"])
def test_gcp_project_must_be_a_project_id(gcp_config: dict[str, Any], project: str) -> None:
    issues = _issues({**gcp_config, "gcp:project": project})
    assert list(issues) == ["gcp:project"] and "project ID" in issues["gcp:project"]


# --- catalogue ---------------------------------------------------------------------------


def test_catalogue_rows_map_to_vertex_accelerators_and_regions() -> None:
    table = catalog.load(FAMILY)
    assert table.source and table.as_of
    regions = prediction_regions()
    for key, row in table.instances.items():
        machine, accelerator, count = machine_spec(key)
        assert row.usd_per_hour and row.usd_per_hour > 0, key
        if row.gpu_count:
            assert row.gpu in ACCELERATOR_TYPES and row.gpu_memory_gib > 0, key
            assert accelerator in regions and count == row.gpu_count, key
        else:
            assert accelerator is None and "+" not in key, key
        assert machine == key.split("+")[0]
    assert {"g2-standard-12", "a2-highgpu-1g", "a3-highgpu-8g", "n1-standard-8+1xT4"} <= set(table.instances)


# --- bad configs ---------------------------------------------------------------------------


def _deployment(cfg: dict[str, Any], **changes: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["scalepath:deployments"][0].update(changes)
    return cfg


@pytest.mark.parametrize(("changes", "path", "needle"), [
    ({"machineType": "g9-mega-1"}, "scalepath:deployments[0].machineType", "known: a2-highgpu-1g"),
    ({"machineType": "n1-standard-16"}, "scalepath:deployments[0].accelerator",
     "{type: NVIDIA_TESLA_T4, count: 2}"),
    ({"accelerator": {"type": "NVIDIA_TESLA_T4"}}, "scalepath:deployments[0].accelerator",
     "none (1x NVIDIA_L4 built in)"),
    ({"accelerator": {"type": "NVIDIA_L4"}}, "scalepath:deployments[0].accelerator.type",
     "NVIDIA_TESLA_T4"),
    ({"scaling": {"min": 0, "max": 2}}, "scalepath:deployments[0].scaling.min", "cannot scale to zero"),
    ({"kmsKey": "my-key"}, "scalepath:deployments[0].kmsKey", "pattern"),
    ({"container": {"imageUri": "docker.io/vllm/vllm-openai:latest"}},
     "scalepath:deployments[0].container.imageUri", "pattern"),
    ({"container": {"imageUri": "us-docker.pkg.dev/a/b/c:1", "env": {"HF_TOKEN": "x"}}},
     "scalepath:deployments[0].container.env", "scalepath:hfToken"),
    ({"alerts": {"latencyP95Ms": 100, "windowMinutes": 90}},
     "scalepath:deployments[0].alerts.windowMinutes", "60"),
    ({"gpuType": "L4"}, "scalepath:deployments[0].gpuType", "allowed keys: accelerator"),
])
def test_bad_deployment_settings_name_the_key(
    gcp_config: dict[str, Any], changes: dict[str, Any], path: str, needle: str
) -> None:
    issues = _issues(_deployment(gcp_config, **changes))
    assert path in issues, issues
    assert needle in issues[path]


def test_region_without_the_accelerator_is_rejected_before_resources(gcp_config: dict[str, Any]) -> None:
    # A model whose 64 heads and 8 KV heads split over the machine's 8 GPUs.
    cfg = _deployment({**gcp_config, "gcp:region": "europe-west9"}, machineType="a3-highgpu-8g",
                      model="Qwen/Qwen2.5-72B-Instruct")
    issues = _issues(cfg)
    assert "NVIDIA_H100_80GB" in issues["gcp:region"]
    assert "us-central1" in issues["gcp:region"] and "deployments[0] (gemma)" in issues["gcp:region"]


def test_kms_key_outside_region_is_rejected(gcp_config: dict[str, Any]) -> None:
    cfg = _deployment(gcp_config, kmsKey="projects/sec/locations/global/keyRings/k/cryptoKeys/c")
    assert "use a key ring in us-central1" in _issues(cfg)["scalepath:deployments[0].kmsKey"]


@pytest.mark.parametrize(("network", "path", "needle"), [
    ({"subnet": "ml"}, "scalepath:network.gcp", "network must name its VPC"),
    ({"subnetCidr": "8.8.0.0/16"}, "scalepath:network.gcp.subnetCidr", "private IPv4"),
    ({"network": "vpc", "subnet": "ml", "subnetCidr": "10.1.0.0/24"}, "scalepath:network.gcp",
     "subnetCidr applies only"),
    ({"pscAllowedProjects": ["Not_A_Project"]}, "scalepath:network.gcp.pscAllowedProjects[0]", "pattern"),
    ({"vpc": "x"}, "scalepath:network.gcp.vpc", "allowed keys: natGateway, network, pscAllowedProjects"),
])
def test_bad_gcp_network_names_the_key(
    gcp_config: dict[str, Any], network: dict[str, Any], path: str, needle: str
) -> None:
    issues = _issues(_private(gcp_config, **network))
    assert path in issues, issues
    assert needle in issues[path]


def test_gcp_targets_and_billing_account_required(gcp_config: dict[str, Any]) -> None:
    cfg = copy.deepcopy(gcp_config)
    del cfg["gcp:region"]
    cfg["scalepath:budget"] = {"monthlyUsd": 10, "notify": ["a@example.com"]}
    issues = _issues(cfg)
    assert "gcp:region" in issues and "scalepath:budget.gcp.billingAccount" in issues


# --- shipped environment -------------------------------------------------------------------


def test_shipped_gcp_prod_is_private_with_alerts(shipped_plan: Any) -> None:
    plan = shipped_plan("gcp-prod")
    deploys = _of_type(plan, ":AiEndpointWithModelGardenDeployment")
    assert len(deploys) == 2
    for deploy in deploys:
        assert deploy.inputs["endpointConfig"]["privateServiceConnectConfig"][
            "enablePrivateServiceConnect"] is True
    assert len(_of_type(plan, ":AlertPolicy")) == 4
    versions = _of_type(plan, ":SecretVersion")  # gcp-prod sets hfToken with --secret
    assert versions and all(r.inputs["secretData"] == "[secret]" for r in versions)
    assert _of_type(plan, ":Budget")


@pytest.mark.parametrize("key", sorted(catalog.load(FAMILY).instances))
def test_every_catalogue_row_is_configurable(key: str) -> None:
    """machineType (+ accelerator) written as a user would parses back to the same row."""
    from stacks.stages.vertex import VertexDeployment

    machine, accelerator, count = machine_spec(key)
    raw: dict[str, Any] = {"name": "row", "model": "org/model", "stage": "vertex", "machineType": machine}
    if "+" in key:
        raw["accelerator"] = {"type": accelerator, "count": count}
    assert VertexDeployment.model_validate(raw).instance_type == key
