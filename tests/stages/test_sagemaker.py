"""Stage ``sagemaker``: the resources each endpoint kind gets, private vs public, images from the
SDK tables, SM_NUM_GPUS, least-privilege IAM, secrets and config errors with key paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sagemaker.core import image_uris

from components.disk_memo import CACHE_DIR_ENV, DiskMemo
from components.model_facts import model_size_b, params_from_model_id
from components.sagemaker import image as sagemaker_image
from components.sagemaker.endpoint import (
    ModelSource,
    SageMakerEndpoint,
    SageMakerEndpointArgs,
    default_timeout,
)
from components.sagemaker.image import Server
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER, StackConfig, load_stack_config
from scalepath.wire import PlannedResource
from stacks.errors import ConfigError
from tests.support import ROOT, stack_config

MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

#: Custom resource types whose AWS API takes no tags.
UNTAGGABLE = {
    "aws:iam/rolePolicy:RolePolicy", "aws:kms/alias:Alias", POLICY, "aws:cloudwatch/dashboard:Dashboard",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route", "aws:s3/bucketPolicy:BucketPolicy",
}


def _deployment(**overrides: Any) -> dict[str, Any]:
    return {"name": "chat", "model": "Qwen/Qwen3-8B", "stage": "sagemaker",
            "container": {"server": "tgi", "version": "3.3.6"}, "instanceType": "ml.g5.2xlarge", **overrides}


def _plan(base: dict[str, Any], *deployments: dict[str, Any], secrets: set[str] = frozenset(), **top: Any) -> Plan:
    config = {**base, "scalepath:deployments": list(deployments)}
    config.update({f"scalepath:{k}": v for k, v in top.items()})
    return run_plan(stack_config(config, secret_keys=secrets))


def _one(plan: Plan, type_: str) -> PlannedResource:
    found = [r for r in plan.resources if r.type == type_]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _env(plan: Plan) -> dict[str, str]:
    return _one(plan, MODEL).inputs["primaryContainer"]["environment"]


def _variant(plan: Plan) -> dict[str, Any]:
    (variant,) = _one(plan, CONFIG).inputs["productionVariants"]
    return variant


def _issues(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {issue.path: issue.message for issue in error.value.issues}


# -- real-time, public -------------------------------------------------------------------------


def test_realtime_public_endpoint_settings(base_config: dict[str, Any]) -> None:
    base_config["aws:region"] = "eu-west-1"
    plan = _plan(base_config, _deployment(generation={"maxInputTokens": 4096, "maxTotalTokens": 8192}))
    model = _one(plan, MODEL).inputs
    assert model["primaryContainer"]["image"] == image_uris.retrieve(
        "huggingface-llm", "eu-west-1", version="3.3.6", instance_type="ml.g5.2xlarge", image_scope="inference")
    assert "vpcConfig" not in model and model["enableNetworkIsolation"] is False
    env = _env(plan)
    assert env["HF_MODEL_ID"] == "Qwen/Qwen3-8B"
    # TGI >= 2.0 reads MAX_INPUT_TOKENS and exits when MAX_INPUT_LENGTH is also set; >= 2.3 has no
    # MESSAGES_API_ENABLED (chat bodies are always accepted on /invocations).
    assert (env["MAX_INPUT_TOKENS"], env["MAX_TOTAL_TOKENS"]) == ("4096", "8192")
    assert not {"MAX_INPUT_LENGTH", "MESSAGES_API_ENABLED"} & set(env)
    variant = _variant(plan)
    assert variant["instanceType"] == "ml.g5.2xlarge" and variant["initialInstanceCount"] == 1
    # 8B parameters -> the 15B tier of startup/download timeouts.
    assert variant["containerStartupHealthCheckTimeoutInSeconds"] == 900
    assert variant["modelDataDownloadTimeoutInSeconds"] == 900
    # g5 has local NVMe: SageMaker rejects a volume key; nothing else to encrypt -> no key at all.
    assert "kmsKeyArn" not in _one(plan, CONFIG).inputs
    assert not [r for r in plan.resources if r.type == "aws:kms/key:Key"]
    # min == max: nothing to scale.
    assert not [r for r in plan.resources if r.type == TARGET]


def test_blue_green_rolls_back_on_the_latency_and_error_alarms(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(rollout={"strategy": "linear", "linearStepPercent": 25, "waitSeconds": 120}))
    config = _one(plan, ENDPOINT).inputs["deploymentConfig"]
    routing = config["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing == {"type": "LINEAR", "waitIntervalInSeconds": 120,
                       "linearStepSize": {"type": "CAPACITY_PERCENT", "value": 25}}
    alarm_names = {r.inputs["name"] for r in plan.resources if r.type == ALARM}
    rollback = {a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]}
    assert rollback == alarm_names == {"scalepath-test-chat-latency-p95", "scalepath-test-chat-5xx-rate"}
    latency = next(r.inputs for r in plan.resources if r.type == ALARM and r.name.endswith("latency-p95"))
    assert latency["extendedStatistic"] == "p95" and latency["threshold"] == 30_000_000  # µs
    assert [r for r in plan.resources if r.type == "aws:cloudwatch/dashboard:Dashboard"]


def test_autoscaling_target_tracking_between_min_and_max(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(scaling={"min": 2, "max": 5, "metric": "gpu-utilization"}))
    target = _one(plan, TARGET).inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 5)
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["resourceId"] == "endpoint/scalepath-test-chat/variant/AllTraffic"
    tracking = _one(plan, POLICY).inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == 70
    assert tracking["customizedMetricSpecification"]["metricName"] == "GPUUtilization"
    assert _variant(plan)["initialInstanceCount"] == 2


@pytest.mark.parametrize(("instance_type", "model", "gpus"), [
    ("ml.g5.2xlarge", "Qwen/Qwen3-8B", "1"),
    ("ml.g5.12xlarge", "Qwen/Qwen2.5-32B-Instruct", "4"),
    ("ml.g6e.48xlarge", "Qwen/Qwen2.5-72B-Instruct", "8"),
    ("ml.p4d.24xlarge", "Qwen/Qwen2.5-72B-Instruct", "8"),
])
def test_sm_num_gpus_follows_the_instance_type(base_config: dict[str, Any], instance_type: str, model: str,
                                              gpus: str) -> None:
    plan = _plan(base_config, _deployment(model=model, instanceType=instance_type))
    assert _env(plan)["SM_NUM_GPUS"] == gpus


def test_vllm_server_gets_tensor_parallel_size_and_its_image(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(container={"server": "vllm", "version": "0.30.0"},
                                          instanceType="ml.g6.12xlarge", generation={"maxTotalTokens": 16384}))
    env = _env(plan)
    assert env["SM_VLLM_TENSOR_PARALLEL_SIZE"] == "4" and env["SM_VLLM_MAX_MODEL_LEN"] == "16384"
    assert _one(plan, MODEL).inputs["primaryContainer"]["image"] == image_uris.retrieve(
        "vllm", "us-east-1", version="0.30.0", instance_type="ml.g6.12xlarge", image_scope="inference")


def test_each_image_is_resolved_once_per_plan(base_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    # Three endpoints on the same image, each checked before any resource and then built: the SDK
    # (which re-reads botocore's endpoint tables on every call) answers once, the second
    # instance type once more.
    calls: list[tuple[Any, ...]] = []
    real = image_uris.retrieve

    def counting(framework: str, region: str, **kwargs: Any) -> str:
        calls.append((framework, region, kwargs.get("instance_type")))
        return real(framework, region, **kwargs)

    monkeypatch.setattr(image_uris, "retrieve", counting)
    monkeypatch.setattr(sagemaker_image, "_MEMO", DiskMemo("images", ("sagemaker-core",)))
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))  # nothing remembered from other tests
    sagemaker_image.retrieve.cache_clear()
    base_config["aws:region"] = "ap-southeast-2"
    plan = _plan(base_config, _deployment(name="chat-a"), _deployment(name="chat-b"),
                 _deployment(name="chat-c", instanceType="ml.g5.12xlarge"))
    sagemaker_image.retrieve.cache_clear()  # later tests see the real SDK's answers again
    assert sorted(calls) == [("huggingface-llm", "ap-southeast-2", "ml.g5.12xlarge"),
                             ("huggingface-llm", "ap-southeast-2", "ml.g5.2xlarge")]
    images = {r.inputs["primaryContainer"]["image"] for r in plan.resources if r.type == MODEL}
    assert images == {real("huggingface-llm", "ap-southeast-2", version="3.3.6", instance_type="ml.g5.2xlarge",
                           image_scope="inference")}


# -- serverless and async ----------------------------------------------------------------------


def test_serverless_endpoint(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, {"name": "embed", "model": "BAAI/bge-large-en-v1.5", "stage": "sagemaker",
                               "kind": "serverless", "container": {"server": "tei", "version": "1.8.2"},
                               "serverless": {"memorySizeMb": 4096, "maxConcurrency": 20,
                                              "provisionedConcurrency": 2}})
    variant = _variant(plan)
    assert variant["serverlessConfig"] == {"memorySizeInMb": 4096, "maxConcurrency": 20, "provisionedConcurrency": 2}
    assert "instanceType" not in variant and "initialInstanceCount" not in variant
    assert "deploymentConfig" not in _one(plan, ENDPOINT).inputs
    assert _one(plan, MODEL).inputs["primaryContainer"]["image"] == image_uris.retrieve(
        "huggingface-tei-cpu", "us-east-1", version="1.8.2", image_scope="inference")
    assert not [r for r in plan.resources if r.type in (TARGET, "aws:kms/key:Key")]


def test_async_endpoint_scales_to_zero_with_kms_s3_and_sns(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(kind="async", scaling={"min": 0, "max": 3, "metric": "backlog-per-instance"},
                                          alerts={"backlogSize": 50}))
    key_arn = _one(plan, "aws:kms/key:Key").inputs  # created: async output needs a key
    assert key_arn["enableKeyRotation"] is True
    output = _one(plan, CONFIG).inputs["asyncInferenceConfig"]["outputConfig"]
    assert output["s3OutputPath"].endswith("/async/output/") and output["s3FailurePath"].endswith("/async/failures/")
    assert output["kmsKeyId"].startswith("arn:aws:kms:")
    assert output["notificationConfig"]["successTopic"] != output["notificationConfig"]["errorTopic"]
    topics = [r for r in plan.resources if r.type == "aws:sns/topic:Topic"]
    assert len(topics) == 2 and all(t.inputs["kmsMasterKeyId"] == output["kmsKeyId"] for t in topics)
    assert _one(plan, TARGET).inputs["minCapacity"] == 0
    assert _variant(plan)["initialInstanceCount"] == 1
    policies = {r.inputs["policyType"]: r.inputs for r in plan.resources if r.type == POLICY}
    tracking = policies["TargetTrackingScaling"]["targetTrackingScalingPolicyConfiguration"]
    assert tracking["customizedMetricSpecification"]["metricName"] == "ApproximateBacklogSizePerInstance"
    alarms = {r.inputs["metricName"]: r.inputs for r in plan.resources if r.type == ALARM and "metricName" in r.inputs}
    assert alarms["ApproximateBacklogSize"]["threshold"] == 50
    assert "StepScaling" in policies and alarms["HasBacklogWithoutCapacity"]["alarmActions"]
    assert _one(plan, ENDPOINT).inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]


def test_async_with_given_prefixes_scopes_writes_to_them(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(kind="async", scaling={"min": 1, "max": 2},
                                          **{"async": {"outputS3Uri": "s3://results-bucket/out/",
                                                       "failureS3Uri": "s3://results-bucket/failed/",
                                                       "notifications": False}}))
    output = _one(plan, CONFIG).inputs["asyncInferenceConfig"]["outputConfig"]
    assert (output["s3OutputPath"], output["s3FailurePath"]) == ("s3://results-bucket/out/", "s3://results-bucket/failed/")
    assert "notificationConfig" not in output
    assert not [r for r in plan.resources if r.type in ("aws:s3/bucket:Bucket", "aws:sns/topic:Topic")]
    policy = json.loads(_one(plan, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    writes = next(s for s in policy["Statement"] if s.get("Sid") == "WriteOutputObjects")
    assert writes["Resource"] == ["arn:aws:s3:::results-bucket/out/*", "arn:aws:s3:::results-bucket/failed/*"]


def test_created_bucket_is_private_encrypted_and_tls_only(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(dataCapture={"samplingPercent": 5}))
    sse = _one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    block = _one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    deny = json.loads(_one(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# -- private, the shipped prod stack -----------------------------------------------------------


def _prod_sagemaker_only() -> Plan:
    """The shipped prod stack with its SageMaker deployments only: prod also runs vLLM on EKS,
    whose nodes turn on NAT egress in the shared VPC (tested with the clusters)."""
    config = load_stack_config("prod", ROOT)
    deployments = [d for d in json.loads(config.values["scalepath:deployments"]) if d["stage"] == "sagemaker"]
    values = {**config.values, "scalepath:deployments": json.dumps(deployments)}
    return run_plan(StackConfig(config.project, config.stack, values, set(config.secret_keys)))


def test_prod_plan_has_the_whole_private_set() -> None:
    plan = _prod_sagemaker_only()
    types = {r.type for r in plan.resources}
    for expected in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:kms/key:Key", MODEL, CONFIG,
                     ENDPOINT, TARGET, POLICY, ALARM, "aws:cloudwatch/dashboard:Dashboard", "aws:ec2/vpc:Vpc",
                     "aws:ec2/subnet:Subnet", "aws:ec2/vpcEndpoint:VpcEndpoint"):
        assert expected in types, expected
    assert "aws:ec2/internetGateway:InternetGateway" not in types
    subnets = [r.urn for r in plan.resources if r.type == "aws:ec2/subnet:Subnet"]
    model = _one(plan, MODEL)
    assert len(model.inputs["vpcConfig"]["subnets"]) == len(subnets) == 2
    assert model.inputs["enableNetworkIsolation"] is True
    assert model.inputs["primaryContainer"]["environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    source = model.inputs["primaryContainer"]["modelDataSource"]["s3DataSources"][0]
    assert source["s3DataType"] == "S3Prefix" and source["compressionType"] == "None"
    capture = _one(plan, CONFIG).inputs["dataCaptureConfig"]
    assert capture["kmsKeyId"].startswith("arn:aws:kms:") and capture["initialSamplingPercentage"] == 20
    assert _one(plan, ENDPOINT).inputs["deploymentConfig"]["blueGreenUpdatePolicy"][
        "trafficRoutingConfiguration"]["type"] == "CANARY"
    target = _one(plan, TARGET).inputs
    assert target["minCapacity"] == 2 and target["maxCapacity"] > 2
    taggable = [r for r in plan.resources
                if r.custom and r.type not in UNTAGGABLE and r.type.startswith("aws:")]
    assert {MODEL, CONFIG, ENDPOINT} <= {r.type for r in taggable}
    for resource in taggable:
        assert resource.inputs.get("tags", {}).get("cost-center") == "cc-1234", resource.type


def test_private_mode_in_an_existing_vpc(base_config: dict[str, Any]) -> None:
    network = {"mode": "private", "aws": {"vpcId": "vpc-0platform", "subnetIds": ["subnet-a", "subnet-b"],
                                          "vpcCidr": "10.8.0.0/16", "createEndpoints": False,
                                          "runtimeEndpointId": "vpce-0123456789abcdef0"}}
    plan = _plan(base_config, _deployment(weightsS3Uri="s3://weights/llama/"), network=network)
    assert _one(plan, MODEL).inputs["vpcConfig"]["subnets"] == ["subnet-a", "subnet-b"]
    assert not [r for r in plan.resources if r.type in ("aws:ec2/vpc:Vpc", "aws:ec2/vpcEndpoint:VpcEndpoint")]
    policy = json.loads(_one(plan, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    enis = next(s for s in policy["Statement"] if s.get("Sid") == "ManageEnisInOwnVpc")
    assert enis["Condition"]["ArnEquals"]["ec2:Vpc"] == "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0platform"


def test_staging_plan_is_public_realtime(shipped_plan) -> None:
    plan = shipped_plan("staging")
    assert "vpcConfig" not in _one(plan, MODEL).inputs
    assert _variant(plan)["instanceType"].startswith("ml.g")
    assert not [r for r in plan.resources if r.type.startswith("aws:ec2/")]


def _wildcard_grants(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] == "Allow" and "*" in resources and any("*" in a for a in actions):
            found.append(statement)
    return found


def test_wildcard_detector_catches_a_broad_grant() -> None:
    broad = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert _wildcard_grants(broad)


@pytest.mark.parametrize("kind", ["realtime", "async", "private"])
def test_execution_role_is_least_privilege(base_config: dict[str, Any], kind: str) -> None:
    if kind == "private":
        plan = _prod_sagemaker_only()
    else:
        plan = _plan(base_config, _deployment(kind=kind, dataCapture={}))
    role = _one(plan, "aws:iam/role:Role").inputs
    assert "managedPolicyArns" not in role
    assume = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert assume["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert assume["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    policy = json.loads(_one(plan, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert _wildcard_grants(policy) == []
    pull = next(s for s in policy["Statement"] if s.get("Sid") == "PullImage")
    assert pull["Resource"].startswith("arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi")
    logs = next(s for s in policy["Statement"] if s.get("Sid") == "WriteOwnLogs")
    assert all("/aws/sagemaker/Endpoints/scalepath-" in r for r in logs["Resource"])
    if kind == "private":
        read = next(s for s in policy["Statement"] if s.get("Sid") == "ReadModelObjects")
        assert read["Resource"] == ["arn:aws:s3:::ml-platform-model-weights/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/*"]


# -- secrets ------------------------------------------------------------------------------------


def test_the_stack_hub_token_never_enters_the_model_environment(base_config: dict[str, Any]) -> None:
    """SageMaker returns a model's environment in clear (the pack's no-plaintext-secrets refuses
    it there): a stack that sets scalepath:hfToken for other stages gives SageMaker none."""
    base_config["scalepath:hfToken"] = SECRET_PLACEHOLDER
    plan = _plan(base_config, _deployment(), secrets={"scalepath:hfToken"})
    env = _env(plan)
    assert "HF_TOKEN" not in env and "HUGGING_FACE_HUB_TOKEN" not in env
    assert SECRET_PLACEHOLDER not in json.dumps(plan.to_json())


def test_s3_weights_need_no_token(base_config: dict[str, Any]) -> None:
    base_config["scalepath:hfToken"] = SECRET_PLACEHOLDER
    plan = _plan(base_config, _deployment(weightsS3Uri="s3://weights-bucket/llama/"), secrets={"scalepath:hfToken"})
    assert "HF_TOKEN" not in _env(plan)
    assert _one(plan, MODEL).inputs["enableNetworkIsolation"] is True


def test_plain_token_in_container_env_is_rejected(base_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment(container={"server": "tgi", "version": "3.3.6", "env": {"HF_TOKEN": "x"}}))
    assert "scalepath:hfToken" in _issues(error)["scalepath:deployments[0].container.env"]


def test_token_limits_in_container_env_are_not_taken_for_secrets(base_config: dict[str, Any]) -> None:
    # TGI settings named ...TOKENS are limits; only names ending in TOKEN/SECRET/... are secrets.
    plan = _plan(base_config, _deployment(container={"server": "tgi", "version": "3.3.6",
                                                     "env": {"MAX_BATCH_PREFILL_TOKENS": "4096"}}))
    assert _env(plan)["MAX_BATCH_PREFILL_TOKENS"] == "4096"
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment(container={"server": "tgi", "version": "3.3.6",
                                                  "env": {"HUGGINGFACEHUB_API_TOKEN": "x", "API_KEY": "y"}}))
    assert "API_KEY, HUGGINGFACEHUB_API_TOKEN" in _issues(error)["scalepath:deployments[0].container.env"]


# -- config errors with key paths --------------------------------------------------------------


def test_unknown_container_version_lists_supported_ones(base_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment(container={"server": "tgi", "version": "9.9.9"}))
    message = _issues(error)["scalepath:deployments[0].container.version"]
    assert "9.9.9" in message and "3.3.6" in message


def test_region_without_the_container_is_a_config_error(base_config: dict[str, Any]) -> None:
    base_config["aws:region"] = "xx-nowhere-1"
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment())
    message = _issues(error)["scalepath:deployments[0].container.version"]
    assert "xx-nowhere-1" in message and "us-east-1" in message


def test_unknown_instance_type_names_the_known_ones(base_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment(instanceType="ml.g5.3xlarge"))
    assert "ml.g5.2xlarge" in _issues(error)["scalepath:deployments[0].instanceType"]


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"kind": "serverless"}, "takes no instanceType"),
    ({"kind": "serverless", "instanceType": None}, "tgi has no CPU container"),
    ({"scaling": {"min": 0, "max": 2}}, "needs kind: async"),
    ({"instanceType": "ml.m5.xlarge"}, "needs one"),
    ({"model": "Qwen/Qwen2.5-72B-Instruct"}, "does not fit ml.g5.2xlarge"),
    ({"volumeSizeGb": 100}, "local NVMe"),
    ({"networkIsolation": True}, "needs weightsS3Uri"),
    ({"serverless": {"maxConcurrency": 10}}, "need kind: serverless"),
    ({"generation": {"maxInputTokens": 8192, "maxTotalTokens": 4096}}, "must be < maxTotalTokens"),
])
def test_invalid_combinations_are_config_errors(base_config: dict[str, Any], overrides: dict[str, Any],
                                                fragment: str) -> None:
    deployment = {k: v for k, v in _deployment(**overrides).items() if v is not None}
    with pytest.raises(ConfigError) as error:
        _plan(base_config, deployment)
    messages = " | ".join(f"{p}: {m}" for p, m in _issues(error).items())
    assert "scalepath:deployments[0]" in messages and fragment in messages, messages


def test_private_mode_without_egress_needs_s3_weights(base_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        _plan(base_config, _deployment(), network={"mode": "private"})
    assert "natGateway" in _issues(error)["scalepath:deployments[0].weightsS3Uri"]


def test_private_mode_rejects_serverless(base_config: dict[str, Any]) -> None:
    serverless = {"name": "embed", "model": "BAAI/bge-small-en-v1.5", "stage": "sagemaker", "kind": "serverless",
                  "container": {"server": "tei", "version": "1.8.2"}}
    with pytest.raises(ConfigError) as error:
        _plan(base_config, serverless, network={"mode": "private", "aws": {"natGateway": True}})
    assert "VPC" in _issues(error)["scalepath:deployments[0].kind"]


# -- component outputs and helpers -------------------------------------------------------------


@pytest.mark.parametrize(("server", "version", "chat"), [(Server.TGI, "3.3.6", True), (Server.TEI, "1.8.2", False)])
def test_component_outputs(server: Server, version: str, chat: bool) -> None:
    @pulumi.runtime.test
    def run():
        endpoint = SageMakerEndpoint("ep", SageMakerEndpointArgs(
            region="us-west-2", endpoint_name="p-s-ep", tags={"team": "ml", "cost-center": "cc"},
            source=ModelSource(model_id="org/model-7b"), server=server, server_version=version,
            instance_type="ml.g6.xlarge"))

        def check(args: list[Any]) -> None:
            name, url, chat_url, region = args
            assert name == "p-s-ep" and region == "us-west-2"
            assert url == "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/p-s-ep/invocations"
            assert chat_url == (url if chat else None)

        return pulumi.Output.all(endpoint.endpoint_name, endpoint.invoke_url, endpoint.openai_chat_url,
                                 endpoint.region).apply(check)

    run()


@pytest.mark.parametrize(("model_id", "params"), [
    ("meta-llama/Llama-3.1-8B-Instruct", 8), ("Qwen/Qwen2.5-0.5B", 0.5), ("mistralai/Mixtral-8x7B-v0.1", 56),
    ("BAAI/bge-large-en-v1.5", None), ("meta-llama/Llama-3.3-70B-Instruct", 70),
])
def test_params_from_model_id(model_id: str, params: float | None) -> None:
    assert params_from_model_id(model_id) == params


def test_model_size_prefers_the_configured_count_over_the_id() -> None:
    # The stage's GPU-memory check and the component's timeouts read the same rule.
    assert model_size_b("meta-llama/Llama-3.1-70B-Instruct", 8.0) == 8.0
    assert model_size_b("meta-llama/Llama-3.1-70B-Instruct", None) == 70.6  # components/data/models.yaml
    assert model_size_b("acme/Chat-70B-v2", None) == 70  # not in the table: read from the id
    assert model_size_b("org/unsized-model", None) is None


def test_timeouts_grow_with_model_size() -> None:
    assert default_timeout(1) < default_timeout(8) < default_timeout(30) < default_timeout(70) == 3600
    assert default_timeout(None) == 1800


@given(st.floats(0.01, 1000), st.floats(0.01, 1000))
def test_timeouts_never_shrink_as_models_grow(a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert 600 <= default_timeout(small) <= default_timeout(large) <= 3600


def test_timeouts_can_be_overridden(base_config: dict[str, Any]) -> None:
    plan = _plan(base_config, _deployment(startupTimeoutSeconds=1200, modelDownloadTimeoutSeconds=2400))
    variant = _variant(plan)
    assert variant["containerStartupHealthCheckTimeoutInSeconds"] == 1200
    assert variant["modelDataDownloadTimeoutInSeconds"] == 2400
