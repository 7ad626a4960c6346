"""Every policy of the pack, driven through the real pack process over the Analyzer protocol.

One pack process serves the whole module: Configure may be sent again before each check, as
the protocol allows, so each test sets its environment's config and analyses its resources.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

import pytest

from scalepath.policy_runner import (
    PolicyConfigError,
    PolicyPackError,
    PolicyPackSession,
    check_plan,
    check_resources,
    load_policy_config,
    policy_check,
    reconcile_config,
    start_pack,
)
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT
from tests.support.policy import CONFIGS, PACK, TAGS, hf_endpoint, of, resource, run

HF_TOKEN = "hf_" + "a1B2c3D4e5" * 4  # shaped like a real token; never a real one


def aws_budget(amount: str = "100.00", notifications: list | None = None, name: str = "budget"):
    default = [{"comparisonOperator": "GREATER_THAN", "notificationType": "ACTUAL", "threshold": 80,
                "thresholdType": "PERCENTAGE", "subscriberEmailAddresses": ["a@example.com"]}]
    return resource("aws:budgets/budget:Budget", {
        "budgetType": "COST", "limitAmount": amount, "limitUnit": "USD", "timeUnit": "MONTHLY",
        "notifications": default if notifications is None else notifications, "tags": dict(TAGS)}, name=name)


def sagemaker_model(**inputs):
    base = {"executionRoleArn": "arn:aws:iam::123456789012:role/sm", "tags": dict(TAGS),
            "primaryContainer": {"image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tgi:3.0",
                                 "environment": {"HF_MODEL_ID": "org/model", "SM_NUM_GPUS": "1"}}}
    return resource("aws:sagemaker/model:Model", {**base, **inputs}, name="model")


def endpoint_config(instance_type: str = "ml.g5.xlarge", **inputs):
    base = {"productionVariants": [{"variantName": "main", "modelName": "m", "instanceType": instance_type,
                                    "initialInstanceCount": 1}], "tags": dict(TAGS)}
    return resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {**base, **inputs}, name="epc")


def deployment(**container):
    base = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3",
            "resources": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": 1},
                          "limits": {"memory": "16Gi", "nvidia.com/gpu": 1}},
            "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}},
            "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}},
            "startupProbe": {"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 120}}
    return resource("kubernetes:apps/v1:Deployment", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "vllm", "namespace": "llm", "labels": dict(TAGS)},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{**base, **container}]}}}}, name="vllm")


def service(spec_type: str = "ClusterIP", annotations: dict | None = None):
    return resource("kubernetes:core/v1:Service", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "vllm", "namespace": "llm", "labels": dict(TAGS), "annotations": annotations or {}},
        "spec": {"type": spec_type, "ports": [{"port": 80}]}}, name="svc")


# --- required-tags ------------------------------------------------------------------------------

def test_required_tags_accepts_tagged_resources_of_every_platform(pack):
    report = run(pack, [
        sagemaker_model(),
        resource("gcp:container/nodePool:NodePool", {"nodeConfig": {"machineType": "g2-standard-8",
                                                                    "resourceLabels": dict(TAGS)}}),
        resource("gcp:monitoring/notificationChannel:NotificationChannel",
                 {"type": "email", "labels": {"email_address": "a@example.com"}, "userLabels": dict(TAGS)}),
        deployment(), hf_endpoint(),
        # Types that take no tags are not checked.
        resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": "arn"}),
        resource("azure-native:consumption:Budget", {"amount": 100}),
    ])
    assert of(report, "required-tags") == []


def test_required_tags_names_the_missing_keys(pack):
    tags = {k: v for k, v in TAGS.items() if k != "cost-center"} | {"team": " "}
    report = run(pack, [sagemaker_model(tags=tags),
                        resource("gcp:container/nodePool:NodePool", {"nodeConfig": {"labels": dict(TAGS)}}),
                        hf_endpoint(tags={})])
    found = of(report, "required-tags")
    assert [(v["level"], v["urn"].rsplit("::", 1)[1]) for v in found] == [
        ("mandatory", "model"), ("mandatory", "r"), ("mandatory", "hf")]
    assert found[0]["message"] == "`tags` lacks the cost tags team, cost-center (each needs a non-empty value)."
    # GKE node labels are Kubernetes labels; the VM labels live in nodeConfig.resourceLabels.
    assert found[1]["message"].startswith("`nodeConfig.resourceLabels` lacks the cost tags team, cost-center,")


def test_required_tags_remediate_fills_configured_defaults(pack):
    tags = {k: v for k, v in TAGS.items() if k != "cost-center"}
    model = sagemaker_model(tags=tags)
    report = run(pack, [model], overrides={"required-tags": {
        "enforcementLevel": "remediate", "properties": {"defaults": {"cost-center": "cc-9"}}}})
    assert of(report, "required-tags") == []
    assert report.remediated[model.urn]["tags"] == {**tags, "cost-center": "cc-9"}
    # Secrets stay redacted through the round trip.
    assert report.remediated[model.urn]["executionRoleArn"] == model.inputs["executionRoleArn"]


def test_required_tags_remediate_writes_only_valid_gcp_label_values(pack):
    # GCP label values are lower case: `CC 9` would fail at `up`, so only `cc-9` is written (issue 29).
    endpoint = resource("gcp:vertex/aiEndpoint:AiEndpoint", {"labels": {"team": "ml"}, "location": "us-central1"})
    report = run(pack, [endpoint], overrides={"required-tags": {"enforcementLevel": "remediate", "properties": {
        "defaults": {"cost-center": "cc-9", "environment": "Dev Env"}}}})
    assert report.remediated[endpoint.urn]["labels"] == {"team": "ml", "cost-center": "cc-9"}



class _CountingStub:
    """The session's stub, counting the calls made through it by method name."""

    def __init__(self, stub: object):
        self._stub, self.calls = stub, []

    def __getattr__(self, name: str) -> object:
        self.calls.append(name)
        return getattr(self._stub, name)


def test_remediate_is_called_only_when_some_policy_remediates(pack, monkeypatch):
    # pulumi_policy's Remediate runs only remediate-level policies: without one, every answer is empty.
    stub = _CountingStub(pack.stub)
    monkeypatch.setattr(pack, "stub", stub)
    model = sagemaker_model(tags={k: v for k, v in TAGS.items() if k != "cost-center"})
    report = run(pack, [model])
    assert "Remediate" not in stub.calls and of(report, "required-tags")  # analysed all the same
    report = run(pack, [model], overrides={"required-tags": {
        "enforcementLevel": "remediate", "properties": {"defaults": {"cost-center": "cc-9"}}}})
    assert "Remediate" in stub.calls and model.urn in report.remediated

# --- budget-per-stack ---------------------------------------------------------------------------

def test_budget_per_stack_accepts_a_budget_per_cloud(pack):
    report = run(pack, [aws_budget(), sagemaker_model(), deployment(), hf_endpoint()])
    assert of(report, "budget-per-stack") == []


def test_budget_per_stack_requires_a_budget_in_each_cloud_used(pack):
    report = run(pack, [aws_budget(), resource("gcp:vertex/aiEndpoint:AiEndpoint", {"labels": dict(TAGS)})])
    assert of(report, "budget-per-stack") == [{
        "policy": "budget-per-stack", "level": "mandatory", "urn": None,
        "message": "The stack creates gcp resources but has no `gcp:billing/budget:Budget`."}]


def test_budget_per_stack_checks_amount_cap_and_notifications(pack):
    budget = aws_budget(amount="1500.00", notifications=[])
    report = run(pack, [budget])
    assert [(v["urn"], v["message"]) for v in of(report, "budget-per-stack")] == [
        (budget.urn, "The budget amount $1,500.00 exceeds this environment's cap of $1,000.00."),
        (budget.urn, "The budget has 0 alert notification(s) with a recipient; at least 1 required."),
    ]


def test_budget_per_stack_reads_gcp_and_azure_budgets(pack):
    gcp = resource("gcp:billing/budget:Budget", {
        "billingAccount": "000000-000000-000000",
        "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "200"}},
        "thresholdRules": [{"thresholdPercent": 0.5}], "allUpdatesRule": {"disableDefaultIamRecipients": True}},
        name="gcp-budget")
    azure = resource("azure-native:consumption:Budget", {"amount": 200, "notifications": {
        "actual-50pct": {"enabled": True, "contactEmails": ["a@example.com"], "threshold": 50}}}, name="az-budget")
    report = run(pack, [gcp, azure])
    # The GCP budget alerts nobody: default recipients are off and no channel is set.
    assert [(v["urn"], v["message"]) for v in of(report, "budget-per-stack")] == [
        (gcp.urn, "The budget has 0 alert notification(s) with a recipient; at least 1 required.")]


# --- gpu-instance-allowlist ---------------------------------------------------------------------

def test_gpu_allowlist_accepts_dev_class_gpus(pack):
    report = run(pack, [
        endpoint_config("ml.g5.2xlarge"), hf_endpoint(instanceType="nvidia-l4"),
        resource("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["g6.xlarge"], "tags": dict(TAGS)}),
        resource("gcp:container/nodePool:NodePool", {"nodeConfig": {
            "machineType": "g2-standard-8", "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
            "resourceLabels": dict(TAGS)}}),
        resource("gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment", {
            "deployConfig": {"dedicatedResources": {"machineSpec": {"machineType": "g2-standard-12",
                                                                    "acceleratorType": "NVIDIA_L4"}}}}),
        resource("azure-native:machinelearningservices:OnlineDeployment",
                 {"properties": {"instanceType": "Standard_NC4as_T4_v3"}, "tags": dict(TAGS)}),
    ])
    assert of(report, "gpu-instance-allowlist") == []


def test_gpu_allowlist_rejects_a100_in_dev_but_allows_it_in_prod(pack):
    resources = [endpoint_config("ml.p4d.24xlarge"), hf_endpoint(instanceType="nvidia-a100")]
    found = of(run(pack, resources), "gpu-instance-allowlist")
    assert [(v["level"], v["message"].split(", which")[0]) for v in found] == [
        ("mandatory", "`productionVariants[0].instanceType` is `ml.p4d.24xlarge`"),
        ("mandatory", "`instanceType` is `nvidia-a100`")]
    assert of(run(pack, resources, env="prod"), "gpu-instance-allowlist") == []


# --- scaling-caps -------------------------------------------------------------------------------

def test_scaling_caps_accepts_bounded_scaling(pack):
    report = run(pack, [
        hf_endpoint(maxReplica=2),
        resource("aws:appautoscaling/target:Target", {"maxCapacity": 2, "minCapacity": 0,
                                                      "resourceId": "endpoint/e/variant/main"}),
        resource("kubernetes:keda.sh/v1alpha1:ScaledObject", {
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"namespace": "llm", "labels": dict(TAGS)}, "spec": {"maxReplicaCount": 2}}),
    ])
    assert of(report, "scaling-caps") == []


def test_scaling_caps_flags_maxima_above_the_cap(pack):
    scaled = resource("kubernetes:keda.sh/v1alpha1:ScaledObject", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"namespace": "llm", "labels": dict(TAGS)}, "spec": {"scaleTargetRef": {"name": "vllm"}}},
        name="keda")
    nodes = resource("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["g5.xlarge"], "tags": dict(TAGS),
                                                     "scalingConfig": {"minSize": 0, "maxSize": 10,
                                                                       "desiredSize": 0}}, name="ng")
    found = of(run(pack, [scaled, nodes]), "scaling-caps")
    assert [(v["level"], v["urn"], v["message"]) for v in found] == [
        # KEDA's default maxReplicaCount is 100 when the field is left out.
        ("mandatory", scaled.urn, "`spec.maxReplicaCount` allows 100 replicas; this environment's cap is 2."),
        ("mandatory", nodes.urn, "`scalingConfig.maxSize` allows 10 nodes; this environment's cap is 4."),
    ]


# --- private-endpoints-in-prod ------------------------------------------------------------------

def test_private_endpoints_accepts_private_surfaces_in_prod(pack):
    report = run(pack, [
        service("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
        sagemaker_model(vpcConfig={"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}),
        resource("azure-native:machinelearningservices:OnlineEndpoint",
                 {"properties": {"authMode": "Key", "publicNetworkAccess": "Disabled"}, "tags": dict(TAGS)}),
        resource("aws:eks/cluster:Cluster", {"vpcConfig": {"endpointPublicAccess": False,
                                                           "endpointPrivateAccess": True}}),
        hf_endpoint(type="private"),
    ], env="prod")
    assert of(report, "private-endpoints-in-prod") == []


def test_private_endpoints_flags_public_surfaces_in_prod_only(pack):
    resources = [service("LoadBalancer"), sagemaker_model(),
                 resource("azure-native:machinelearningservices:OnlineEndpoint",
                          {"properties": {"authMode": "Key"}, "tags": dict(TAGS)}, name="aml"),
                 resource("aws:eks/cluster:Cluster", {"vpcConfig": {"subnetIds": ["s"]}}, name="eks"),
                 hf_endpoint(type="protected")]
    found = of(run(pack, resources, env="prod"), "private-endpoints-in-prod")
    assert {v["level"] for v in found} == {"mandatory"}
    assert [v["message"] for v in found] == [
        "A `LoadBalancer` Service without an internal load-balancer annotation is internet-facing.",
        "The SageMaker model has no `vpcConfig` (subnets and security groups), so it runs outside the VPC.",
        "`properties.publicNetworkAccess` is not `Disabled`.",
        "`vpcConfig.endpointPublicAccess` is not false (the EKS API server is public by default).",
        "The Hugging Face endpoint type is `protected`, not `private` (PrivateLink).",
    ]
    assert of(run(pack, resources, env="dev"), "private-endpoints-in-prod") == []


def test_private_endpoints_covers_the_gateway_runtimes(pack):
    def surfaces(internal: bool) -> list:
        return [
            resource("aws:lb/loadBalancer:LoadBalancer", {"internal": internal, "tags": dict(TAGS)}, name="alb"),
            resource("gcp:cloudrunv2/service:Service", {"labels": dict(TAGS), "ingress": (
                "INGRESS_TRAFFIC_INTERNAL_ONLY" if internal else "INGRESS_TRAFFIC_ALL")}, name="run"),
            resource("azure-native:app:ContainerApp", {"tags": dict(TAGS), "configuration": {
                "ingress": {"external": not internal}}}, name="app"),
        ]
    found = of(run(pack, surfaces(internal=False), env="prod"), "private-endpoints-in-prod")
    assert [v["message"] for v in found] == [
        "The load balancer is internet-facing (`internal` is not true).",
        "The Cloud Run service accepts internet traffic (`ingress` is not internal-only).",
        "The container app's ingress is `external` (reachable from the internet).",
    ]
    assert of(run(pack, surfaces(internal=True), env="prod"), "private-endpoints-in-prod") == []


def test_unknown_values_are_reported_as_preview_advisories(pack):
    # "[unknown]" in a recorded input goes over the wire as the engine's unknown sentinel.
    found = of(run(pack, [hf_endpoint(type="[unknown]")], env="prod"), "private-endpoints-in-prod")
    assert len(found) == 1 and found[0]["level"] == "advisory"
    assert "can't run policy 'private-endpoints-in-prod'" in found[0]["message"]
    assert "value at .type can't be known during preview" in found[0]["message"]


# --- encryption-at-rest -------------------------------------------------------------------------

def test_encryption_at_rest_accepts_cmk_everywhere(pack):
    report = run(pack, [
        endpoint_config(kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/k",
                        dataCaptureConfig={"enableCapture": True, "kmsKeyId": "k", "destinationS3Uri": "s3://b/c"}),
        resource("gcp:container/cluster:Cluster", {"databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
                                                   "resourceLabels": dict(TAGS)}),
        resource("gcp:vertex/aiEndpoint:AiEndpoint", {"encryptionSpec": {"kmsKeyName": "k"}, "labels": dict(TAGS)}),
        resource("aws:eks/cluster:Cluster", {"encryptionConfig": {"resources": ["secrets"],
                                                                  "provider": {"keyArn": "arn:aws:kms:k"}}}),
    ], env="prod")
    assert of(report, "encryption-at-rest") == []


def test_encryption_at_rest_is_mandatory_in_prod_and_advisory_in_dev(pack):
    resources = [endpoint_config("ml.c5.xlarge",  # EBS-backed: kmsKeyArn applies
                                 dataCaptureConfig={"enableCapture": True, "destinationS3Uri": "s3://b/c"}),
                 resource("aws:eks/cluster:Cluster", {"encryptionConfig": {"resources": ["secrets"]}})]
    prod = of(run(pack, resources, env="prod"), "encryption-at-rest")
    assert [(v["level"], v["message"]) for v in prod] == [
        ("mandatory", "`kmsKeyArn` is not set: the ML storage volumes use an AWS-managed key."),
        ("mandatory", "`dataCaptureConfig.kmsKeyId` is not set: captured requests and responses land "
                      "unencrypted by a CMK."),
        ("mandatory", "`encryptionConfig` does not encrypt `secrets` with a KMS key (`provider.keyArn`)."),
    ]
    assert {v["level"] for v in of(run(pack, resources, env="dev"), "encryption-at-rest")} == {"advisory"}


def test_encryption_at_rest_exempts_nvme_instances_from_kms_key_arn(pack):
    # AWS refuses KmsKeyId on instance-store (NVMe) types; their volumes are hardware-encrypted.
    nvme = endpoint_config("ml.g5.2xlarge", dataCaptureConfig={
        "enableCapture": True, "destinationS3Uri": "s3://b/c", "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"})
    mixed = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {"tags": dict(TAGS),
        "productionVariants": [
            {"variantName": "a", "modelName": "m", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 1},
            {"variantName": "b", "modelName": "m", "instanceType": "ml.c5.xlarge", "initialInstanceCount": 1}]},
        name="epc-mixed")
    found = of(run(pack, [nvme, mixed], env="prod"), "encryption-at-rest")
    assert [(v["urn"], v["message"]) for v in found] == [
        (mixed.urn, "`kmsKeyArn` is not set: the ML storage volumes use an AWS-managed key.")]


# --- no-plaintext-secrets -----------------------------------------------------------------------

PLAIN_ENV_MESSAGE = ("puts a secret into plain environment variable `{name}`, which the platform shows in "
                     "clear; pass a reference (`valueFrom.secretKeyRef`, a Key Vault reference) or, on "
                     "SageMaker, stage the weights in S3 (`weightsS3Uri`) so no token is needed.")


def secret_sinks(token: str) -> list:
    """Every resource whose job is to hold the token, holding ``token``."""
    return [
        resource("aws:secretsmanager/secretVersion:SecretVersion",
                 {"secretId": "arn:aws:secretsmanager:us-east-1:1:secret:hf", "secretString": token}, name="sv"),
        resource("kubernetes:core/v1:Secret", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "llm", "labels": dict(TAGS)},
            "stringData": {"HF_TOKEN": token}}, name="k8s-secret"),
        resource("azure-native:keyvault:Secret", {"tags": dict(TAGS), "properties": {"value": token}},
                 name="kv-secret"),
        resource("gcp:secretmanager/secretVersion:SecretVersion",
                 {"secret": "projects/1/secrets/hf", "secretData": token}, name="gsv"),
        resource("gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment",
                 {"modelConfig": {"huggingFaceAccessToken": token}}, name="garden"),
        hf_endpoint(token=token, secrets={"HF_TOKEN": token}),
    ]


@pytest.mark.parametrize("token", ["[secret]", HF_TOKEN], ids=["offline", "online-decrypted"])
def test_no_plaintext_secrets_accepts_references_and_secret_sinks(pack, token):
    # Offline a Pulumi secret reads "[secret]"; the engine hands the pack the decrypted value.
    # Both must pass where the token belongs.
    env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
           {"name": "MODEL_ID", "value": "org/model"},
           {"name": "MAX_TOTAL_TOKENS", "value": "8192"}]  # a limit, not a token
    report = run(pack, [
        deployment(env=env),
        resource("azure-native:machinelearningservices:OnlineDeployment", {
            "tags": dict(TAGS), "properties": {"environmentVariables": {
                "HF_TOKEN": "${{keyvault:https://kv.vault.azure.net/secrets/hf-token/0123abcd}}"}}},
            name="azure-deployment"),
        *secret_sinks(token),
    ])
    assert of(report, "no-plaintext-secrets") == []


@pytest.mark.parametrize("token", ["[secret]", HF_TOKEN], ids=["offline", "online-decrypted"])
def test_no_plaintext_secrets_refuses_a_pulumi_secret_in_a_plain_env_map(pack, token):
    # SageMaker returns a model's environment in clear (DescribeModel): same verdict offline and online.
    model = sagemaker_model(primaryContainer={"image": "i", "environment": {"HF_TOKEN": token}})
    found = of(run(pack, [model]), "no-plaintext-secrets")
    messages = [v["message"] for v in found]
    assert f"`primaryContainer.environment.HF_TOKEN` {PLAIN_ENV_MESSAGE.format(name='HF_TOKEN')}" in messages
    assert {v["urn"] for v in found} == {model.urn}
    assert HF_TOKEN not in json.dumps(found)


def test_no_plaintext_secrets_refuses_a_look_alike_reference(pack):
    fake = resource("azure-native:machinelearningservices:OnlineDeployment", {
        "tags": dict(TAGS), "properties": {"environmentVariables": {"HF_TOKEN": "${{keyvault:}} plain"}}},
        name="azure-deployment")
    found = of(run(pack, [fake]), "no-plaintext-secrets")
    assert [v["urn"] for v in found] == [fake.urn]


def test_no_plaintext_secrets_flags_tokens_and_plain_secret_variables(pack):
    config_map = resource("kubernetes:core/v1:ConfigMap", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "llm", "labels": dict(TAGS)},
        "data": {"settings": f"token={HF_TOKEN}"}}, name="cm")
    plain = deployment(env=[{"name": "OPENAI_API_KEY", "value": "not-a-reference"}])
    found = of(run(pack, [config_map, plain]), "no-plaintext-secrets")
    assert [(v["level"], v["urn"], v["message"]) for v in found] == [
        ("mandatory", config_map.urn, "`data.settings` holds a credential-like literal value; store it in a "
                                      "secret store and pass a reference."),
        ("mandatory", plain.urn, f"`containers[0].env[0]` {PLAIN_ENV_MESSAGE.format(name='OPENAI_API_KEY')}"),
    ]
    assert HF_TOKEN not in json.dumps(found)


# --- k8s-workload-hygiene -----------------------------------------------------------------------

def test_k8s_hygiene_accepts_a_well_formed_gpu_workload(pack):
    assert of(run(pack, [deployment()], env="prod"), "k8s-workload-hygiene") == []


def test_k8s_hygiene_lists_each_problem(pack):
    bad = deployment(image="vllm/vllm-openai:latest", resources={"requests": {"nvidia.com/gpu": 1}},
                     readinessProbe=None, startupProbe=None)
    bad.inputs["metadata"].pop("namespace")
    found = of(run(pack, [bad]), "k8s-workload-hygiene")
    assert {v["level"] for v in found} == {"advisory"}
    assert [v["message"] for v in found] == [
        "It runs in the `default` namespace; give each deployment its own namespace.",
        "Container `vllm` has no requests.cpu, requests.memory, limits.memory, limits.nvidia.com/gpu.",
        "Container `vllm` image `vllm/vllm-openai:latest` has no fixed tag (`latest` or none).",
        "Container `vllm` has no readinessProbe, startupProbe.",
    ]


# --- non-prod-scale-to-zero ---------------------------------------------------------------------

def test_scale_to_zero_accepts_zero_minimum_or_spot(pack):
    report = run(pack, [hf_endpoint(minReplica=0),
                        resource("aws:eks/nodeGroup:NodeGroup", {"capacityType": "SPOT", "tags": dict(TAGS),
                                                                 "scalingConfig": {"minSize": 1, "maxSize": 2}})])
    assert of(report, "non-prod-scale-to-zero") == []


def test_scale_to_zero_advises_always_on_capacity_outside_prod(pack):
    resources = [hf_endpoint(minReplica=1)]
    found = of(run(pack, resources, env="staging"), "non-prod-scale-to-zero")
    assert [(v["level"], v["message"]) for v in found] == [
        ("advisory", "`minReplica`: this non-production deployment keeps paid capacity running when idle; "
                     "let it scale to zero or run on spot capacity.")]
    assert of(run(pack, resources, env="prod"), "non-prod-scale-to-zero") == []


def scaling_target(dimension: str, minimum: int = 1):
    return resource("aws:appautoscaling/target:Target", {
        "serviceNamespace": dimension.split(":")[0], "scalableDimension": dimension,
        "resourceId": "x", "minCapacity": minimum, "maxCapacity": 2, "tags": dict(TAGS)})


def test_scale_to_zero_asks_nothing_a_platform_cannot_do(pack):
    # A SageMaker variant keeps one instance; an ECS service behind a load balancer has nothing to wake it.
    report = run(pack, [scaling_target("sagemaker:variant:DesiredInstanceCount"),
                        scaling_target("ecs:service:DesiredCount")], env="dev")
    assert of(report, "non-prod-scale-to-zero") == []
    # Inference components do scale to zero: a minimum of 1 there is still advised on.
    found = of(run(pack, [scaling_target("sagemaker:inference-component:DesiredCopyCount")], env="dev"),
               "non-prod-scale-to-zero")
    assert [v["message"].split(":")[0] for v in found] == ["`minCapacity`"]


def test_the_gateway_draws_no_scale_to_zero_advice(shipped_plan):
    plan = check_plan(shipped_plan("gateway-dev"), load_stack_config("gateway-dev", ROOT), ROOT)
    assert [v["urn"] for v in plan.violations if v["policy"] == "non-prod-scale-to-zero"] == []


# --- configuration ------------------------------------------------------------------------------

def test_policy_config_levels_override_the_pack_default(pack):
    report = run(pack, [endpoint_config("ml.p5.48xlarge")], overrides={"gpu-instance-allowlist": {
        "enforcementLevel": "advisory", "properties": {"allowed": ["ml.g5.*"]}}})
    assert [v["level"] for v in of(report, "gpu-instance-allowlist")] == ["advisory"]


def test_bad_policy_config_is_rejected_with_the_schema_error(pack, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"scaling-caps": {"maxReplicas": "three"},
                                "gpu-instance-allowlist": {"allowed": []},
                                "private-endpoints": "mandatory"}))
    with pytest.raises(PolicyConfigError) as error:
        reconcile_config(pack.info, load_policy_config(path), str(path))
    assert error.value.problems == [
        "`private-endpoints` is not a policy of pack scalepath (known: budget-per-stack, encryption-at-rest, "
        "gpu-instance-allowlist, iam-least-privilege, k8s-workload-hygiene, no-plaintext-secrets, "
        "non-prod-scale-to-zero, private-endpoints-in-prod, required-tags, scaling-caps)",
        "policy `gpu-instance-allowlist`: `allowed`: [] should be non-empty",
        "policy `scaling-caps`: `maxReplicas`: 'three' is not of type 'integer'",
    ]


def test_bad_enforcement_level_is_rejected(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"scaling-caps": "strict"}))
    with pytest.raises(PolicyConfigError, match="policy `scaling-caps`: enforcementLevel 'strict' is not one of"):
        load_policy_config(path)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_policy_configs_match_the_schemas(pack, env):
    config = reconcile_config(pack.info, load_policy_config(CONFIGS / f"{env}.json"), env)
    assert config["private-endpoints-in-prod"].level == ("mandatory" if env == "prod" else "disabled")


def test_every_policy_has_a_schema_and_remediation_steps(pack):
    assert sorted(p.name for p in pack.info.policies) == [
        "budget-per-stack", "encryption-at-rest", "gpu-instance-allowlist", "iam-least-privilege",
        "k8s-workload-hygiene", "no-plaintext-secrets", "non-prod-scale-to-zero", "private-endpoints-in-prod",
        "required-tags", "scaling-caps"]
    for policy in pack.info.policies:
        assert policy.remediation_steps and policy.configSchema.properties, policy.name


# --- process lifecycle --------------------------------------------------------------------------

@pytest.mark.parametrize("interrupt", [RuntimeError("boom"), KeyboardInterrupt()])
def test_pack_process_stops_also_on_errors_and_ctrl_c(interrupt):
    with pytest.raises(type(interrupt)):
        with start_pack(PACK, "scalepath", "test") as session:
            process = session.process
            assert process.poll() is None
            raise interrupt
    assert process.poll() is not None and process.stdout.closed


def test_a_pack_that_dies_before_answering_is_a_pack_error_and_is_reaped(monkeypatch):
    # Killed between printing its port and GetAnalyzerInfo: a PolicyPackError (the CLI's exit 1
    # with a message), not a bare grpc error, and its pipe closed.
    started = []
    original = PolicyPackSession.__init__

    def die_first(self, pack, *args):
        started.append(pack.process)
        pack.process.kill()
        pack.process.wait()
        original(self, pack, *args)

    monkeypatch.setattr(PolicyPackSession, "__init__", die_first)
    with pytest.raises(PolicyPackError, match="failed to start: UNAVAILABLE"):
        with start_pack(PACK, "scalepath", "test"):
            pass
    (process,) = started
    assert process.poll() is not None and process.stdout.closed


def test_a_pack_that_fails_to_start_reports_its_error(tmp_path):
    (tmp_path / "__main__.py").write_text("raise ImportError('no module named rules_v2')\n")
    with pytest.raises(PolicyPackError, match="did not start(.|\n)*no module named rules_v2"):
        with start_pack(tmp_path, "scalepath", "test"):
            pass


def _analyze_in_session(pack_dir) -> None:
    with start_pack(pack_dir, "scalepath", "test") as session:
        session.analyze(resource("aws:s3/bucket:Bucket", {}), {})


def _check_through_the_worker(pack_dir) -> None:
    check_resources(pack_dir, "scalepath", "test", [sagemaker_model()], {})


@pytest.mark.parametrize("analyze", [_analyze_in_session, _check_through_the_worker])
def test_a_policy_that_raises_fails_the_check_with_its_error(tmp_path, analyze):
    (tmp_path / "__main__.py").write_text(
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "def broken(args, report):\n"
        "    raise KeyError('productionVariants')\n"
        "PolicyPack('broken', [ResourceValidationPolicy('broken', 'Always raises.', broken)])\n")
    with pytest.raises(PolicyPackError, match="productionVariants"):
        analyze(tmp_path)


# --- the check of a plan, driven from the policy worker process ----------------------------------

def _packs_of_stack(stack: str) -> list[int]:
    """Pids of running pack processes started for ``stack`` (read from /proc)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                environ = file.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as file:
                state = file.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"PULUMI_STACK={stack}".encode() in environ and state != "Z":
            found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="observes processes through /proc")
def test_an_abandoned_check_stops_its_worker_and_pack():
    stack = f"abandoned-{os.getpid()}"
    with pytest.raises(RuntimeError, match="the program failed"):
        with policy_check(PACK, "scalepath", stack, {}) as check:
            check.submit(sagemaker_model())
            worker = check._process  # noqa: SLF001 (the test observes the process it owns)
            deadline = time.monotonic() + 120
            while not _packs_of_stack(stack):  # the worker starts the pack on its own
                assert time.monotonic() < deadline and worker.poll() is None, "the pack never started"
                time.sleep(0.01)
            raise RuntimeError("the program failed")
    assert worker.poll() is not None
    deadline = time.monotonic() + 120
    while _packs_of_stack(stack):
        assert time.monotonic() < deadline, "the pack outlived its check"
        time.sleep(0.01)


def test_a_check_reports_what_the_pack_said_in_submission_order():
    models = [sagemaker_model(tags={}) for _ in range(3)]
    models = [replace(m, urn=f"{m.urn}-{i}", name=f"model-{i}") for i, m in enumerate(models)]
    with policy_check(PACK, "scalepath", "test", load_policy_config(CONFIGS / "dev.json")) as check:
        for model in models:
            check.submit(model)
        report = check.report()
    assert [v["urn"] for v in report.violations if v["policy"] == "required-tags"] == [m.urn for m in models]


def test_a_policy_config_error_found_in_the_worker_is_the_plans_config_error():
    with pytest.raises(PolicyConfigError) as caught:
        check_resources(PACK, "scalepath", "test", [sagemaker_model()],
                        {"required-tags": {"properties": {"no-such-property": 1}}}, config_source="given.json")
    assert caught.value.source == "given.json" and "no-such-property" in str(caught.value)
