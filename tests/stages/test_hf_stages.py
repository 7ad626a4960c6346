"""Stages ``hf-serverless`` and ``hf-endpoint``: mocked plans, component outputs, config errors."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.huggingface.endpoint import HfInferenceEndpoint, HfInferenceEndpointArgs, ImageArgs
from components.huggingface.endpoint_provider import KIND, HardwareError
from components.huggingface.serverless import ROUTER_BASE_URL, HfServerlessRoute, HfServerlessRouteArgs
from components.secret_store import SecretStoreArgs
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER
from scalepath.wire import SECRET, PlannedResource
from stacks.errors import ConfigError
from tests.support import stack_config

HF_TOKEN_KEY = "scalepath:hfToken"
DEPLOYMENT_TAGS = {"team", "cost-center", "environment", "stack", "managed-by", "deployment", "stage"}

SERVERLESS = {"name": "chat", "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "hf-serverless",
              "provider": "together", "billTo": "acme-ml", "secretStore": {"cloud": "aws"},
              "expectedUsage": {"requestsPerMonth": 1000}}
ENDPOINT = {"name": "chat-ep", "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "hf-endpoint",
            "namespace": "acme-ml", "instanceType": "nvidia-a10g", "instanceSize": "x1",
            "scaling": {"min": 0, "max": 2, "scaleToZeroTimeout": 15},
            "image": {"engine": "vllm", "url": "vllm/vllm-openai:v0.11.0", "port": 8000},
            "secretEnv": {"HF_TOKEN": "hfToken"}}


def with_deployments(base: dict[str, Any], *deployments: dict[str, Any], token: bool = True) -> dict[str, Any]:
    config = {**base, "scalepath:deployments": list(deployments)}
    if token:
        config[HF_TOKEN_KEY] = SECRET_PLACEHOLDER
    return config


def plan_of(config: dict[str, Any]) -> Plan:
    secret_keys = {HF_TOKEN_KEY} if HF_TOKEN_KEY in config else set()
    return run_plan(stack_config(config, secret_keys=secret_keys))


def of_type(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def config_issues(config: dict[str, Any], secret_keys: set[str] | None = None) -> dict[str, str]:
    keys = secret_keys if secret_keys is not None else ({HF_TOKEN_KEY} if HF_TOKEN_KEY in config else set())
    with pytest.raises(ConfigError) as caught:
        run_plan(stack_config(config, secret_keys=keys))
    return {issue.path: issue.message for issue in caught.value.issues}


# -- plans -------------------------------------------------------------------------------------


def test_shipped_dev_plans_both_hf_stages_without_printing_secrets(shipped_plan) -> None:
    plan = shipped_plan("dev")
    types = [r.type for r in plan.resources]
    assert "scalepath:index:HfServerlessRoute" in types and "scalepath:index:HfInferenceEndpoint" in types
    (endpoint,) = [r for r in of_type(plan, "pulumi-python:dynamic:Resource") if r.inputs.get("kind") == KIND]
    assert endpoint.inputs["minReplica"] == 0 and endpoint.inputs["scaleToZeroTimeout"] > 0
    document = json.dumps(plan.to_json())
    assert SECRET_PLACEHOLDER not in document and "hf_" not in document


def test_serverless_plan_stores_the_token_in_secrets_manager(base_config) -> None:
    plan = plan_of(with_deployments(base_config, SERVERLESS))
    (route,) = of_type(plan, "scalepath:index:HfServerlessRoute")
    (secret,) = of_type(plan, "aws:secretsmanager/secret:Secret")
    (version,) = of_type(plan, "aws:secretsmanager/secretVersion:SecretVersion")
    assert secret.inputs["name"] == "scalepath-test-chat-hf-token"
    assert secret.inputs["recoveryWindowInDays"] == 7
    assert version.inputs["secretString"] == SECRET
    assert version.property_dependencies["secretId"] == [secret.urn]
    assert secret.parent is not None and secret.parent.endswith("chat-token")
    assert route.urn.endswith("HfServerlessRoute::chat")


def test_endpoint_plan_has_the_dynamic_resource_with_secret_token_and_env(base_config) -> None:
    plan = plan_of(with_deployments(base_config, ENDPOINT))
    (endpoint,) = of_type(plan, "pulumi-python:dynamic:Resource")
    inputs = endpoint.inputs
    assert inputs["kind"] == KIND
    assert inputs["endpointName"] == "chat-ep-test"
    # What the provider derives its create marker from: the same at the next `up` (issue 27, item 6).
    assert inputs["owner"] == "scalepath/test/chat-ep"  # project/stack/component (the deployment)
    assert (inputs["vendor"], inputs["region"], inputs["accelerator"], inputs["instanceType"],
            inputs["instanceSize"]) == ("aws", "us-east-1", "gpu", "nvidia-a10g", "x1")
    assert (inputs["minReplica"], inputs["maxReplica"], inputs["scaleToZeroTimeout"]) == (0, 2, 15)
    assert inputs["type"] == "authenticated"
    assert inputs["token"] == SECRET and inputs["secrets"] == SECRET and inputs["__provider"] == SECRET
    assert inputs["timeoutSeconds"] == 1800
    assert "apiUrl" not in inputs
    assert not of_type(plan, "aws:secretsmanager/secret:Secret"), "no token store unless asked"


@pytest.mark.parametrize("store, secret_type, tag_key", [
    ({"cloud": "aws"}, "aws:secretsmanager/secret:Secret", "tags"),
    ({"cloud": "azure", "azure": {"vaultName": "kv-ml-dev", "resourceGroup": "rg-ml"}},
     "azure-native:keyvault:Secret", "tags"),
    ({"cloud": "gcp"}, "gcp:secretmanager/secret:Secret", "labels"),
])
def test_every_taggable_resource_carries_the_deployment_cost_tags(base_config, store, secret_type, tag_key) -> None:
    config = with_deployments(base_config, {**SERVERLESS, "secretStore": store}, {**ENDPOINT, "secretStore": store})
    config.update({"azure-native:location": "westeurope",
                   "azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000",
                   "gcp:project": "ml-dev", "gcp:region": "us-central1"})
    config["scalepath:budget"] = {**config["scalepath:budget"], "azure": {},
                                  "gcp": {"billingAccount": "ABCDEF-123456-ABCDEF"}}
    plan = plan_of(config)
    secrets = of_type(plan, secret_type)
    (endpoint,) = of_type(plan, "pulumi-python:dynamic:Resource")
    assert len(secrets) == 2
    for resource in (*secrets, endpoint):
        tags = resource.inputs[tag_key if resource is not endpoint else "tags"]
        assert DEPLOYMENT_TAGS <= set(tags), resource.urn
        assert tags["stack"] == "scalepath-test"
    assert {s.inputs[tag_key]["stage"] for s in secrets} == {"hf-serverless", "hf-endpoint"}
    if secret_type.startswith("azure"):
        assert all(s.inputs["properties"]["value"] == SECRET and s.inputs["vaultName"] == "kv-ml-dev"
                   for s in secrets)
    if secret_type.startswith("gcp"):
        versions = of_type(plan, "gcp:secretmanager/secretVersion:SecretVersion")
        assert [v.inputs["secretData"] for v in versions] == [SECRET, SECRET]
        assert all(s.inputs["project"] == "ml-dev" and s.inputs["replication"] == {"auto": {}} for s in secrets)


def test_serverless_budget_follows_the_secret_store_cloud(base_config) -> None:
    config = with_deployments(base_config, {**SERVERLESS, "secretStore": {"cloud": "gcp"}})
    config.update({"gcp:project": "ml-dev", "gcp:region": "us-central1"})
    config["scalepath:budget"] = {**config["scalepath:budget"], "gcp": {"billingAccount": "ABCDEF-123456-ABCDEF"}}
    plan = plan_of(config)
    assert of_type(plan, "scalepath:index:GcpBudget") and of_type(plan, "scalepath:index:AwsBudget")


# -- component outputs ---------------------------------------------------------------------------


@pulumi.runtime.test
def test_serverless_route_outputs_the_openai_settings():
    route = HfServerlessRoute("chat", HfServerlessRouteArgs(
        model="Qwen/Qwen2.5-7B-Instruct", provider="groq", bill_to="acme-ml", token=pulumi.Output.secret("t"),
        token_secret_name="chat-hf-token", secret_store=SecretStoreArgs(cloud="aws"), tags={"stack": "s"}))

    def check(values: list[Any]) -> None:
        base_url, model, headers, secret_id = values
        assert base_url == ROUTER_BASE_URL == "https://router.huggingface.co/v1"
        assert model == "Qwen/Qwen2.5-7B-Instruct:groq"
        assert headers == {"X-HF-Bill-To": "acme-ml"}
        assert secret_id.startswith("arn:aws:secretsmanager:") and secret_id.endswith("chat-hf-token")

    return pulumi.Output.all(route.base_url, route.model_name, route.default_headers,
                             route.token_secret_id).apply(check)


@pulumi.runtime.test
def test_serverless_route_with_auto_provider_keeps_the_plain_model_name():
    route = HfServerlessRoute("auto", HfServerlessRouteArgs(
        model="Qwen/Qwen2.5-7B-Instruct", token=pulumi.Output.secret("t"), token_secret_name="auto-hf-token",
        secret_store=SecretStoreArgs(cloud="aws"), tags={"stack": "s"}))
    return pulumi.Output.all(route.model_name, route.default_headers).apply(
        lambda v: assert_equal(v, ["Qwen/Qwen2.5-7B-Instruct", {}]))


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def _endpoint_args(**overrides: Any) -> HfInferenceEndpointArgs:
    values: dict[str, Any] = dict(
        endpoint_name="chat", namespace="acme-ml", repository="org/model", token=pulumi.Output.secret("t"),
        vendor="aws", region="us-east-1", accelerator="gpu", instance_type="nvidia-l4", instance_size="x1",
        tags={"stack": "s"}, image=ImageArgs(engine="tgi", url="ghcr.io/huggingface/text-generation-inference:3"))
    values.update(overrides)
    return HfInferenceEndpointArgs(**values)


@pulumi.runtime.test
def test_endpoint_component_outputs_url_and_openai_base_url():
    endpoint = HfInferenceEndpoint("chat", _endpoint_args())

    def check(values: list[Any]) -> None:
        url, base, status = values
        assert url.startswith("https://") and url.endswith(".us-east-1.aws.endpoints.huggingface.cloud")
        assert base == f"{url}/v1/"
        assert status == "running"

    return pulumi.Output.all(endpoint.url, endpoint.openai_base_url, endpoint.status).apply(check)


@pulumi.runtime.test
def test_embedding_endpoint_has_no_openai_base_url():
    endpoint = HfInferenceEndpoint("embed", _endpoint_args(
        image=ImageArgs(engine="tei", url="ghcr.io/huggingface/text-embeddings-inference:1.8")))
    return endpoint.openai_base_url.apply(lambda base: assert_equal(base, None))


def test_endpoint_component_rejects_unknown_hardware_before_creating_anything() -> None:
    with pytest.raises(HardwareError, match="gcp/nvidia-a10g/x1"):
        HfInferenceEndpoint("bad", _endpoint_args(vendor="gcp", instance_type="nvidia-a10g"))


# -- config errors -------------------------------------------------------------------------------


def test_hf_token_is_required_by_both_stages(base_config) -> None:
    issues = config_issues(with_deployments(base_config, SERVERLESS, ENDPOINT, token=False))
    assert issues == {HF_TOKEN_KEY: "required by deployment(s) chat, chat-ep; run "
                                    "`pulumi config set --secret scalepath:hfToken <value>`"}


def test_plain_hf_token_is_rejected(base_config) -> None:
    issues = config_issues(with_deployments(base_config, SERVERLESS), secret_keys=set())
    assert "must be a secret" in issues[HF_TOKEN_KEY]


@pytest.mark.parametrize("change, path, fragment", [
    ({"instanceSize": "x2"}, "scalepath:deployments[0].instanceSize", "known: aws/inf2/x1"),
    ({"accelerator": "cpu"}, "scalepath:deployments[0].instanceSize", "set accelerator: gpu"),
    ({"instanceType": None}, "scalepath:deployments[0].instanceType", "required key is missing"),
    ({"namespace": None}, "scalepath:deployments[0].namespace", "required key is missing"),
    ({"scaling": {"min": 0, "max": 1}}, "scalepath:deployments[0].scaling", "needs scaleToZeroTimeout"),
    ({"scaling": {"min": 1, "max": 1, "threshold": 3}}, "scalepath:deployments[0].scaling", "threshold needs metric"),
    ({"scaling": {"min": 2, "max": 1}}, "scalepath:deployments[0].scaling", "max (1) must be >= min (2)"),
    ({"access": "private"}, "scalepath:deployments[0]", "access private needs privateLink"),
    ({"access": "protected"}, "scalepath:deployments[0].access", "'public', 'authenticated' or 'private'"),
    ({"image": {"engine": "triton", "url": "x/y:1"}}, "scalepath:deployments[0].image.engine", "'vllm'"),
    ({"secretEnv": {"API_KEY": "apiKey"}}, "scalepath:deployments[0].secretEnv.API_KEY", "'hfToken'"),
    ({"waitTimeoutMinutes": 0}, "scalepath:deployments[0].waitTimeoutMinutes", "greater than or equal to 1"),
    ({"instanceTyp": "x"}, "scalepath:deployments[0].instanceTyp", "allowed keys: accelerator, access"),
])
def test_endpoint_config_errors_name_the_key(base_config, change, path, fragment) -> None:
    deployment = {k: v for k, v in {**ENDPOINT, **change}.items() if v is not None}
    issues = config_issues(with_deployments(base_config, deployment))
    assert path in issues, issues
    assert fragment in issues[path]


@pytest.mark.parametrize("change, path, fragment", [
    ({"provider": "acme-cloud"}, "scalepath:deployments[0].provider", "allowed: baseten"),
    ({"secretStore": None}, "scalepath:deployments[0].secretStore", "required key is missing"),
    ({"secretStore": {"cloud": "azure"}}, "scalepath:deployments[0].secretStore", "azure.vaultName"),
    ({"secretStore": {"cloud": "aws", "aws": {"recoveryWindowDays": 3}}},
     "scalepath:deployments[0].secretStore.aws", "0 or 7..30"),
    ({"billTo": "acme ml"}, "scalepath:deployments[0].billTo", "should match pattern"),
])
def test_serverless_config_errors_name_the_key(base_config, change, path, fragment) -> None:
    deployment = {k: v for k, v in {**SERVERLESS, **change}.items() if v is not None}
    issues = config_issues(with_deployments(base_config, deployment))
    assert path in issues, issues
    assert fragment in issues[path]


def test_azure_secret_store_needs_azure_targets(base_config) -> None:
    store = {"cloud": "azure", "azure": {"vaultName": "kv-ml-dev", "resourceGroup": "rg-ml"}}
    issues = config_issues(with_deployments(base_config, {**SERVERLESS, "secretStore": store}))
    assert set(issues) == {"azure-native:location", "azure-native:subscriptionId",
                           "scalepath:budget.azure.startMonth"}


def test_long_default_endpoint_names_fit_hf_limit(base_config) -> None:
    long_name = {**ENDPOINT, "name": "a-very-long-deployment-name-xyz"}
    plan = run_plan(stack_config(with_deployments(base_config, long_name), stack="staging-eu-west",
                                 secret_keys={HF_TOKEN_KEY}))
    (endpoint,) = of_type(plan, "pulumi-python:dynamic:Resource")
    name = endpoint.inputs["endpointName"]
    assert len(name) <= 32 and name.startswith("a-very-long-deployment") and name[-7] == "-"


def test_secret_named_plain_env_is_rejected(base_config) -> None:
    # Plain env is stored in clear at HF; secrets go through secretEnv.
    endpoint = {**ENDPOINT, "env": {"MAX_TOTAL_TOKENS": "8192", "OPENAI_API_KEY": "not-a-hub-token"}}
    issues = config_issues(with_deployments(base_config, endpoint))
    assert "OPENAI_API_KEY" in issues["scalepath:deployments[0].env"]
    assert "MAX_TOTAL_TOKENS" not in issues["scalepath:deployments[0].env"]
    assert "secretEnv" in issues["scalepath:deployments[0].env"]


def test_two_deployments_may_not_create_the_same_secret_or_endpoint(base_config) -> None:
    """Read from each deployment's contract (its unique names), not from attribute probing."""
    twin = {**SERVERLESS, "name": "chat-2", "secretStore": {"cloud": "aws", "secretName": "shared-token"}}
    issues = config_issues(with_deployments(base_config, {**SERVERLESS, "secretStore": twin["secretStore"]}, twin))
    assert issues == {"scalepath:deployments[1].secretStore.secretName": (
        "secret 'shared-token' is also created by deployments[0]; give each deployment its own name")}
    endpoints = [{**ENDPOINT, "endpointName": "same-ep"}, {**ENDPOINT, "name": "chat-ep-2", "endpointName": "same-ep"}]
    issues = config_issues(with_deployments(base_config, *endpoints))
    assert issues == {"scalepath:deployments[1].endpointName": (
        "hf-endpoint 'same-ep' is also created by deployments[0]; give each deployment its own name")}
