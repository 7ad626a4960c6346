"""A SageMaker inference endpoint serving a Hugging Face model on the AWS Deep Learning Containers.

One component per deployment: KMS key (or a given one), least-privilege execution role, model
(image from the SDK tables, weights from the Hub or an S3 prefix, VPC config in private mode),
endpoint configuration (real-time, serverless or async; data capture), the endpoint with
blue/green rollout and alarm-driven auto-rollback, autoscaling, alarms and a dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs as _CanarySize,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs as _LinearStepSize,
)

from components import catalog
from components.huggingface import tgi_lora
from components.model_facts import model_size_b
from components.outputs import json_document
from components.sagemaker import image as sagemaker_image
from components.sagemaker import limits
from components.sagemaker.iam import RoleScope, assume_role_policy, execution_policy
from components.sagemaker.image import Server
from components.sagemaker.limits import at_least
from components.sagemaker.monitoring import MonitoringArgs, create_alarms, create_dashboard
from components.sagemaker.rollout_guard import EndpointPreflight, EndpointVerification
from components.sagemaker.rollout_guard import resource_id as scalable_resource_id
from components.sagemaker.settings import (
    AlarmSettings,
    AsyncSettings,
    DataCaptureSettings,
    EndpointKind,
    RolloutSettings,
    RolloutStrategy,
    ScalingMetric,
    ServerlessSettings,
    TextGenerationSettings,
)
from components.tagging import aws_tags
from components.vllm.lora import LoraAdapter

VARIANT = "AllTraffic"
"""The one production variant (the SageMaker SDK's default name)."""

#: Instance families whose GPUs come with local NVMe storage: SageMaker rejects an
#: endpoint-config KMS key and VolumeSizeInGB for them (the NVMe is hardware-encrypted).
LOCAL_STORAGE_FAMILIES = frozenset({"g4dn", "g5", "g6", "g6e", "p4d", "p5", "m5d", "c5d", "r5d"})

#: (largest parameter count in billions, startup and download timeout in seconds).
_TIMEOUTS_BY_SIZE = ((3, 600), (15, 900), (40, 1800))
_TIMEOUT_MAX = 3600
_TIMEOUT_UNKNOWN_SIZE = 1800


def has_local_storage(instance_type: str) -> bool:
    """``ml.g5.2xlarge`` -> True: the family has instance-store NVMe."""
    return instance_type.split(".")[1] in LOCAL_STORAGE_FAMILIES


def default_timeout(params_b: float | None) -> int:
    """Startup health check and weight download timeout for a model of this size (seconds)."""
    if params_b is None:
        return _TIMEOUT_UNKNOWN_SIZE
    return next((seconds for limit, seconds in _TIMEOUTS_BY_SIZE if params_b <= limit), _TIMEOUT_MAX)


@dataclass(frozen=True, kw_only=True)
class ModelSource:
    """Where the weights come from."""

    model_id: str
    """Hub repository id; also the model the server reports."""
    revision: str | None = None
    """Hub revision (commit sha or tag) pinned with ``HF_MODEL_REVISION``."""
    weights_s3_uri: str | None = None
    """``s3://bucket/prefix/`` of uncompressed weights; SageMaker copies them to ``/opt/ml/model``."""
    params_b: float | None = None
    """Parameter count in billions (timeouts and GPU-memory checks); read from the id when unset."""
    weights_kms_key_arn: str | None = None
    """Customer-managed KMS key the weights objects are encrypted with (SSE-KMS): the role may
    decrypt with it, through S3 only."""
    adapters: tuple[LoraAdapter, ...] = ()
    """LoRA adapters of the model, Hub sources the TGI launcher downloads at start (``LORA_ADAPTERS``)."""


@dataclass(frozen=True, kw_only=True)
class PrivateNetwork:
    """Private placement: the model runs in these subnets. That constrains the container's network,
    not who may invoke: callers are limited by the exported invoke policy (``aws:SourceVpce``)."""

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    invoke_vpc_endpoint_id: pulumi.Input[str]
    """The ``sagemaker.runtime`` interface endpoint: the only way callers may invoke
    (``aws:SourceVpce``); a VPC config constrains the container, not who calls."""


@dataclass(frozen=True, kw_only=True)
class Autoscaling:
    """Application Auto Scaling of the variant's instance count."""

    min_capacity: int
    """0 only for async endpoints (scale to zero on an empty queue)."""
    max_capacity: int
    metric: ScalingMetric
    target_value: float
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int


@dataclass(frozen=True, kw_only=True)
class SageMakerEndpointArgs:
    """Everything one SageMaker endpoint needs; validated by the stack's config model."""

    region: str
    endpoint_name: str
    """Physical endpoint name (stable invoke URL); config and model names are generated so an
    update creates new ones and the endpoint switches over blue/green."""
    tags: Mapping[str, str]
    """Logical cost tags (normalised with :func:`components.tagging.aws_tags`)."""
    source: ModelSource
    server: Server
    server_version: str
    """Pinned container version, resolved through the SDK tables."""
    kind: EndpointKind = EndpointKind.REALTIME
    instance_type: str | None = None
    """Catalogue instance type; ``None`` only for serverless."""
    generation: TextGenerationSettings = field(default_factory=TextGenerationSettings)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """More container environment (non-secret)."""
    startup_timeout_seconds: int | None = None
    """Container startup health check timeout; by model size when unset."""
    model_download_timeout_seconds: int | None = None
    """Weight download timeout; by model size when unset."""
    volume_size_gb: int | None = None
    """EBS volume per instance (only for instance types without local NVMe)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Use this key; a rotating key is created when unset."""
    network: PrivateNetwork | None = None
    network_isolation: bool = False
    """No network for the container at all (needs S3 weights)."""
    serverless: ServerlessSettings | None = None
    async_inference: AsyncSettings | None = None
    data_capture: DataCaptureSettings | None = None
    autoscaling: Autoscaling | None = None
    initial_instance_count: int = 1
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)


class SageMakerEndpoint(pulumi.ComponentResource):
    """A production SageMaker endpoint for one model."""

    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    region: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    """SigV4-signed HTTPS URL (``/invocations``, ``/async-invocations`` for async)."""
    openai_chat_url: pulumi.Output[str | None]
    """Same host: accepts OpenAI chat-completions bodies when the server offers them, else None."""
    role_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str | None]
    """The key of capture data, async output and (EBS-backed instances) the volume; None when unused."""
    image_uri: pulumi.Output[str]
    invoke_policy_arn: pulumi.Output[str]
    """Managed policy to attach to callers: invoke this endpoint only (private mode: only through
    the VPC endpoint, denied otherwise). SageMaker endpoints have no resource policy."""

    def __init__(self, name: str, args: SageMakerEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:SageMakerEndpoint", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = aws_tags(args.tags)
        self._instance = catalog.load("sagemaker").get(args.instance_type) if args.instance_type else None
        gpu = bool(self._instance and self._instance.gpu_count)
        image = sagemaker_image.retrieve(args.server, args.server_version, args.region, args.instance_type, gpu)
        partition = "aws-cn" if args.region.startswith("cn-") else "aws"
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        key_arn = self._key_arn()
        bucket = self._bucket(key_arn) if self._needs_bucket() else None
        topics = self._topics(key_arn)
        capture_uri = output_uri = failure_uri = None
        if args.data_capture is not None:
            capture_uri = self._prefix_uri(args.data_capture.destination_s3_uri, bucket, "data-capture/")
        reads: list[pulumi.Input[str]] = [args.source.weights_s3_uri] if args.source.weights_s3_uri else []
        if args.async_inference is not None:
            output_uri = self._prefix_uri(args.async_inference.output_s3_uri, bucket, "async/output/")
            failure_uri = self._prefix_uri(args.async_inference.failure_s3_uri, bucket, "async/failures/")
            if bucket is not None:
                # Callers upload request payloads here; SageMaker reads them with this role.
                reads.append(self._prefix_uri(None, bucket, "async/input/"))
        writes = [uri for uri in (capture_uri, output_uri, failure_uri) if uri is not None]

        role, policy = self._role(RoleScope(
            partition=partition, region=args.region, account_id=account_id, endpoint_name=args.endpoint_name,
            ecr_repository_arn=sagemaker_image.ecr_repository_arn(image), kms_key_arn=key_arn,
            weights_kms_key_arn=args.source.weights_kms_key_arn,
            read_s3_prefixes=[_s3_path(u) for u in reads], write_s3_prefixes=[_s3_path(u) for u in writes],
            sns_topic_arns=[t.arn for t in topics.values()],
            vpc_arn=(pulumi.Output.concat(f"arn:{partition}:ec2:{args.region}:", account_id, ":vpc/",
                                          args.network.vpc_id) if args.network else None),
        ))
        model = self._model(image, role, policy)
        monitoring = MonitoringArgs(endpoint_name=args.endpoint_name, variant_name=VARIANT, region=args.region,
                                    settings=args.alarms, is_async=args.kind is EndpointKind.ASYNC, gpu=gpu,
                                    tags=self._tags)
        alarms = create_alarms(name, monitoring, self._child)
        deployment = self._deployment_config(alarms.rollback)
        initial_count: pulumi.Input[int] = args.initial_instance_count
        if args.autoscaling is not None:
            initial_count = self._preflight(model, args.autoscaling).desiredInstanceCount
        config = self._endpoint_config(model, key_arn, capture_uri, output_uri, failure_uri, topics, initial_count)
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint", name=args.endpoint_name, endpoint_config_name=config.name,
            deployment_config=deployment, tags=self._tags, opts=self._child,
        )
        if deployment is not None:
            # A rolled-back update ends InService on the old config and the provider reports
            # success: fail the `up` instead (components/sagemaker/rollout_guard.py).
            EndpointVerification(f"{name}-verify", {
                "region": args.region, "endpointName": endpoint.name, "endpointConfigName": config.name,
            }, opts=self._child)
        if args.autoscaling is not None:
            self._autoscaling(endpoint, args.autoscaling, alarms.backlog)
        create_dashboard(name, monitoring, self._child)

        runtime = f"https://runtime.sagemaker.{args.region}.amazonaws.com/endpoints"
        route = "async-invocations" if args.kind is EndpointKind.ASYNC else "invocations"
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.region = pulumi.Output.from_input(args.region)
        self.invoke_url = endpoint.name.apply(lambda n: f"{runtime}/{n}/{route}")
        chat = self._offers_openai_chat()
        self.openai_chat_url = self.invoke_url.apply(lambda url: url if chat else None)
        self.role_arn = role.arn
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.image_uri = pulumi.Output.from_input(image)
        self.invoke_policy_arn = self._invoke_policy(endpoint).arn
        self.register_outputs({
            "endpoint_name": self.endpoint_name, "endpoint_arn": self.endpoint_arn, "region": self.region,
            "invoke_url": self.invoke_url, "openai_chat_url": self.openai_chat_url,
            "role_arn": self.role_arn, "kms_key_arn": self.kms_key_arn, "image_uri": self.image_uri,
            "invoke_policy_arn": self.invoke_policy_arn,
        })

    def _invoke_policy(self, endpoint: aws.sagemaker.Endpoint) -> aws.iam.Policy:
        """The callers' grant. In private mode it allows invoking only through the VPC endpoint and
        denies it otherwise, so a principal holding it cannot call from outside the VPC even with
        another allow (an explicit deny wins). Principals without it (admins with ``sagemaker:*``)
        are not constrained by it: SageMaker endpoints take no resource policy, so an account-wide
        guard needs an SCP with the same condition (docs/cloud-limits.md)."""
        actions = ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream",
                   "sagemaker:InvokeEndpointAsync"]
        network = self._args.network
        allow: dict = {"Sid": "InvokeThisEndpoint", "Effect": "Allow", "Action": actions, "Resource": endpoint.arn}
        statements: list = [allow]
        if network is not None:
            allow["Condition"] = {"StringEquals": {"aws:SourceVpce": network.invoke_vpc_endpoint_id}}
            statements.append({"Sid": "OnlyThroughTheVpcEndpoint", "Effect": "Deny", "Action": actions,
                               "Resource": endpoint.arn,
                               "Condition": {"StringNotEquals": {"aws:SourceVpce": network.invoke_vpc_endpoint_id}}})
        return aws.iam.Policy(
            f"{self._name}-invoke", description=f"Invoke SageMaker endpoint {self._args.endpoint_name}",
            policy=json_document({"Version": "2012-10-17", "Statement": statements}),
            tags=self._tags, opts=self._child,
        )

    # -- encryption and storage -------------------------------------------------------------

    def _volume_encrypted(self) -> bool:
        """Instances with local NVMe are hardware-encrypted and SageMaker refuses a volume key for
        them; serverless has no volume. Only EBS-backed instances take the endpoint-config key."""
        return bool(self._args.instance_type and not has_local_storage(self._args.instance_type))

    def _key_arn(self) -> pulumi.Output[str] | None:
        """The given key, or a created one when something would be encrypted with it
        (volume, capture data, async output and topics); no key nobody uses."""
        a = self._args
        if a.kms_key_arn:
            return pulumi.Output.from_input(a.kms_key_arn)
        if self._volume_encrypted() or a.data_capture is not None or a.async_inference is not None:
            return self._kms_key()
        return None

    def _kms_key(self) -> pulumi.Output[str]:
        key = aws.kms.Key(
            f"{self._name}-key", description=f"scalepath SageMaker endpoint {self._args.endpoint_name}",
            enable_key_rotation=True, deletion_window_in_days=30, tags=self._tags, opts=self._child,
        )
        aws.kms.Alias(f"{self._name}-key-alias", name=f"alias/scalepath/{self._args.endpoint_name}",
                      target_key_id=key.key_id, opts=self._child)
        return key.arn

    def _needs_bucket(self) -> bool:
        a = self._args
        return bool((a.data_capture and not a.data_capture.destination_s3_uri)
                    or (a.async_inference
                        and not (a.async_inference.output_s3_uri and a.async_inference.failure_s3_uri)))

    def _bucket(self, key_arn: pulumi.Input[str] | None) -> aws.s3.Bucket:
        """Private, KMS-encrypted bucket for capture data and async inputs/outputs."""
        bucket = aws.s3.Bucket(f"{self._name}-data", force_destroy=False, tags=self._tags, opts=self._child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-data-sse", bucket=bucket.id, rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key_arn),
                    bucket_key_enabled=True)],
            opts=self._child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{self._name}-data-pab", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=self._child,
        )
        aws.s3.BucketPolicy(
            f"{self._name}-data-tls-only", bucket=bucket.id,
            policy=json_document({"Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            opts=self._child,
        )
        return bucket

    @staticmethod
    def _prefix_uri(given: str | None, bucket: aws.s3.Bucket | None, prefix: str) -> pulumi.Input[str]:
        """The configured URI, or ``prefix`` in the created bucket (which exists when one is unset)."""
        if given:
            return given
        assert bucket is not None  # _needs_bucket() is true whenever a URI is left unset
        return bucket.bucket.apply(lambda b: f"s3://{b}/{prefix}")

    def _topics(self, key_arn: pulumi.Input[str] | None) -> dict[str, aws.sns.Topic]:
        a = self._args.async_inference
        if a is None or not a.notifications:
            return {}
        return {
            outcome: aws.sns.Topic(f"{self._name}-async-{outcome}", kms_master_key_id=key_arn,
                                   tags=self._tags, opts=self._child)
            for outcome in ("success", "error")
        }

    # -- identity and model -----------------------------------------------------------------

    def _role(self, scope: RoleScope) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = aws.iam.Role(
            f"{self._name}-role", description=f"SageMaker execution role of {self._args.endpoint_name}",
            assume_role_policy=assume_role_policy(scope.partition, scope.account_id, scope.region),
            max_session_duration=3600, tags=self._tags, opts=self._child,
        )
        policy = aws.iam.RolePolicy(f"{self._name}-role-policy", role=role.id, policy=execution_policy(scope),
                                    opts=self._child)
        return role, policy

    def _environment(self) -> dict[str, pulumi.Input[str]]:
        """Container environment of the chosen server."""
        a = self._args
        env: dict[str, pulumi.Input[str]] = {
            k: str(v) for k, v in server_environment(a.server, a.server_version, a.source, a.generation,
                                                     self._instance.gpu_count if self._instance else 0).items()}
        env.update(a.extra_env)
        # No Hub token: SageMaker returns a model's environment in clear to anyone who may describe
        # it, so gated weights come from S3 (``weights_s3_uri``).
        return env

    def _kept(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        """Options of models and endpoint configs: never deleted by Pulumi, because after an
        auto-rollback the endpoint serves the *old* one, which Pulumi would otherwise delete as
        replaced (they cost nothing; old ones are left for the account's cleanup)."""
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on, retain_on_delete=True)

    def _preflight(self, model: aws.sagemaker.Model, scaling: Autoscaling) -> EndpointPreflight:
        """Live capacity (and deregistration on an instance-type change) before a new config;
        re-read whenever anything that makes a new endpoint configuration changes."""
        a = self._args
        fingerprint = json_document({
            "model": model.name, "instanceType": a.instance_type, "startup": a.startup_timeout_seconds,
            "download": a.model_download_timeout_seconds, "volume": a.volume_size_gb,
            "capture": a.data_capture.model_dump() if a.data_capture else None,
            "async": a.async_inference.model_dump() if a.async_inference else None,
        })
        return EndpointPreflight(f"{self._name}-preflight", {
            "region": a.region, "endpointName": a.endpoint_name, "variantName": VARIANT,
            "instanceType": a.instance_type, "minCapacity": scaling.min_capacity,
            "maxCapacity": scaling.max_capacity, "configFingerprint": fingerprint,
        }, opts=self._child)

    def _model(self, image: str, role: aws.iam.Role, policy: aws.iam.RolePolicy) -> aws.sagemaker.Model:
        a = self._args
        data_source = None
        if a.source.weights_s3_uri:
            data_source = aws.sagemaker.ModelPrimaryContainerModelDataSourceArgs(s3_data_sources=[
                aws.sagemaker.ModelPrimaryContainerModelDataSourceS3DataSourceArgs(
                    s3_uri=a.source.weights_s3_uri, s3_data_type="S3Prefix", compression_type="None")])
        vpc = None
        if a.network is not None:
            vpc = aws.sagemaker.ModelVpcConfigArgs(subnets=a.network.subnet_ids,
                                                   security_group_ids=list(a.network.security_group_ids))
        return aws.sagemaker.Model(
            f"{self._name}-model", execution_role_arn=role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=image, mode="SingleModel", environment=self._environment(), model_data_source=data_source),
            vpc_config=vpc, enable_network_isolation=a.network_isolation, tags=self._tags,
            # The role's inline policy must exist before SageMaker validates image and S3 access.
            opts=self._kept(depends_on=[policy]),
        )

    # -- endpoint -----------------------------------------------------------------------------

    def _variant(self, model: aws.sagemaker.Model,
                 initial_count: pulumi.Input[int]) -> aws.sagemaker.EndpointConfigurationProductionVariantArgs:
        a = self._args
        if a.kind is EndpointKind.SERVERLESS:
            s = a.serverless or ServerlessSettings()
            return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT, model_name=model.name,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=s.memory_size_mb, max_concurrency=s.max_concurrency,
                    provisioned_concurrency=s.provisioned_concurrency))
        params = model_size_b(a.source.model_id, a.source.params_b)
        assert a.instance_type is not None  # the config model requires it for instance-backed kinds
        startup = a.startup_timeout_seconds if a.startup_timeout_seconds is not None else default_timeout(params)
        download = (a.model_download_timeout_seconds if a.model_download_timeout_seconds is not None
                    else default_timeout(params))
        return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
            variant_name=VARIANT, model_name=model.name, instance_type=a.instance_type,
            initial_instance_count=initial_count, initial_variant_weight=1.0,
            container_startup_health_check_timeout_in_seconds=startup,
            model_data_download_timeout_in_seconds=download,
            volume_size_in_gb=a.volume_size_gb)

    def _endpoint_config(self, model: aws.sagemaker.Model, key_arn: pulumi.Input[str] | None,
                         capture_uri: pulumi.Input[str] | None, output_uri: pulumi.Input[str] | None,
                         failure_uri: pulumi.Input[str] | None,
                         topics: Mapping[str, aws.sns.Topic],
                         initial_count: pulumi.Input[int]) -> aws.sagemaker.EndpointConfiguration:
        a = self._args
        capture = None
        if a.data_capture is not None:
            modes = [m for m, on in (("Input", a.data_capture.capture_input),
                                     ("Output", a.data_capture.capture_output)) if on]
            capture = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=True, initial_sampling_percentage=a.data_capture.sampling_percent,
                destination_s3_uri=capture_uri, kms_key_id=key_arn,
                capture_options=[aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                    capture_mode=m) for m in modes],
                capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
                    json_content_types=["application/json"]))
        async_config = None
        if a.async_inference is not None:
            notify = None
            if topics:
                notify = aws.sagemaker.EndpointConfigurationAsyncInferenceConfigOutputConfigNotificationConfigArgs(
                    success_topic=topics["success"].arn, error_topic=topics["error"].arn)
            async_config = aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgs(
                output_config=aws.sagemaker.EndpointConfigurationAsyncInferenceConfigOutputConfigArgs(
                    s3_output_path=output_uri, s3_failure_path=failure_uri, kms_key_id=key_arn,
                    notification_config=notify),
                client_config=aws.sagemaker.EndpointConfigurationAsyncInferenceConfigClientConfigArgs(
                    max_concurrent_invocations_per_instance=a.async_inference.max_concurrent_invocations_per_instance))
        volume_key = key_arn if self._volume_encrypted() else None
        return aws.sagemaker.EndpointConfiguration(
            f"{self._name}-config", production_variants=[self._variant(model, initial_count)],
            kms_key_arn=volume_key, data_capture_config=capture, async_inference_config=async_config,
            tags=self._tags, opts=self._kept(),
        )

    def _deployment_config(
        self, alarms: list[aws.cloudwatch.MetricAlarm],
    ) -> aws.sagemaker.EndpointDeploymentConfigArgs | None:
        """Blue/green traffic shifting, rolled back by the latency and 5xx alarms."""
        a = self._args
        if a.kind is EndpointKind.SERVERLESS:
            return None  # serverless variants are replaced by SageMaker without a blue/green fleet
        r = a.rollout
        routing = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
            type=r.strategy.value.upper().replace("-", "_"), wait_interval_in_seconds=r.wait_seconds,
            canary_size=(_CanarySize(type="CAPACITY_PERCENT", value=r.canary_percent)
                         if r.strategy is RolloutStrategy.CANARY else None),
            linear_step_size=(_LinearStepSize(type="CAPACITY_PERCENT", value=r.linear_step_percent)
                              if r.strategy is RolloutStrategy.LINEAR else None),
        )
        rollback = None
        if r.auto_rollback:
            rollback = aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(alarms=[
                aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=alarm.name)
                for alarm in alarms])
        return aws.sagemaker.EndpointDeploymentConfigArgs(
            blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                traffic_routing_configuration=routing, termination_wait_in_seconds=r.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=r.maximum_execution_timeout_seconds),
            auto_rollback_configuration=rollback)

    def _autoscaling(self, endpoint: aws.sagemaker.Endpoint, scaling: Autoscaling,
                     backlog: aws.cloudwatch.MetricAlarm | None) -> None:
        """Target tracking on the chosen metric; async endpoints at 0 also get a step policy
        that starts the first instance when requests wait (target tracking cannot leave 0)."""
        resource_id = endpoint.name.apply(lambda n: scalable_resource_id(n, VARIANT))
        # The preflight deregistered the target when the instance type changes (AWS refuses the
        # update otherwise): target and policies are then registered again, delete-first.
        again = {"replacement_trigger": self._args.instance_type, "delete_before_replace": True}
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling-target", service_namespace="sagemaker", resource_id=resource_id,
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=scaling.min_capacity, max_capacity=scaling.max_capacity, tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint], **again),
        )
        policy_opts = pulumi.ResourceOptions(parent=self, depends_on=[target], **again)
        aws.appautoscaling.Policy(
            f"{self._name}-scaling-policy", policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace, resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=scaling.target_value, scale_in_cooldown=scaling.scale_in_cooldown_seconds,
                scale_out_cooldown=scaling.scale_out_cooldown_seconds,
                **_tracked_metric(scaling.metric, self._args.endpoint_name)),
            opts=policy_opts,
        )
        if scaling.min_capacity == 0 and backlog is not None:
            self._scale_from_zero(target, scaling, policy_opts)

    def _scale_from_zero(self, target: aws.appautoscaling.Target, scaling: Autoscaling,
                         opts: pulumi.ResourceOptions) -> None:
        step = aws.appautoscaling.Policy(
            f"{self._name}-scale-from-zero", policy_type="StepScaling",
            service_namespace=target.service_namespace, resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ChangeInCapacity", cooldown=scaling.scale_out_cooldown_seconds,
                metric_aggregation_type="Average",
                step_adjustments=[aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                    metric_interval_lower_bound="0", scaling_adjustment=1)]),
            opts=opts,
        )
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-backlog-without-capacity", name=f"{self._args.endpoint_name}-backlog-without-capacity",
            alarm_description="requests wait while the endpoint has no instance: start one",
            namespace="AWS/SageMaker", metric_name="HasBacklogWithoutCapacity",
            dimensions={"EndpointName": self._args.endpoint_name}, statistic="Average", period=60,
            evaluation_periods=2, datapoints_to_alarm=2, comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1, treat_missing_data="missing", alarm_actions=[step.arn], tags=self._tags, opts=self._child,
        )

    def _offers_openai_chat(self) -> bool:
        a = self._args
        return a.kind is EndpointKind.REALTIME and offers_openai_chat(a.server, a.server_version)


def offers_openai_chat(server: Server, version: str) -> bool:
    """Whether ``/invocations`` of this container takes OpenAI chat-completions bodies: vLLM
    always, TGI from the version that added the messages API (flag-gated until 2.3)."""
    if server is Server.VLLM:
        return True
    return server is Server.TGI and at_least(version, limits.load().containers.tgi.messages_api_flag.since)


def server_environment(server: Server, version: str, source: ModelSource, gen: TextGenerationSettings,
                       gpus: int) -> dict[str, str | int]:
    """The environment variables the container's entrypoint actually reads (no secrets).

    TGI: the SageMaker entrypoint (text-generation-inference ``sagemaker-entrypoint.sh``) maps
    ``HF_MODEL_ID``/``HF_MODEL_REVISION``/``SM_NUM_GPUS``/``HF_MODEL_QUANTIZE``; the launcher
    (``launcher/src/main.rs``) reads ``MAX_INPUT_TOKENS`` (``MAX_INPUT_LENGTH`` before 2.0, and it
    exits when both are set), ``MAX_TOTAL_TOKENS``, ``MAX_BATCH_TOTAL_TOKENS``.
    TGI's launcher also reads ``LORA_ADAPTERS`` (``components/huggingface/tgi_lora.py``; the
    entrypoint leaves the container's environment to it).
    vLLM: the AWS DLC's ``sagemaker_entrypoint.sh`` turns only ``SM_VLLM_<NAME>`` into
    ``--<name>`` arguments of the OpenAI server, so the model itself is ``SM_VLLM_MODEL``.
    """
    if source.adapters and server is not Server.TGI:
        raise ValueError(f"LoRA adapters are served by the TGI container only, not {server.value}")
    model_path = "/opt/ml/model" if source.weights_s3_uri else source.model_id
    revision = source.revision if not source.weights_s3_uri else None
    if server is Server.VLLM:
        env: dict[str, str | int | None] = {
            "SM_VLLM_MODEL": model_path, "SM_VLLM_REVISION": revision,
            # Clients name the Hub id as "model", whatever path the weights are served from.
            "SM_VLLM_SERVED_MODEL_NAME": source.model_id,
            "SM_VLLM_TENSOR_PARALLEL_SIZE": gpus, "SM_VLLM_MAX_MODEL_LEN": gen.max_total_tokens,
            "SM_VLLM_QUANTIZATION": gen.quantize, "SM_VLLM_MAX_NUM_BATCHED_TOKENS": gen.max_batch_total_tokens,
            # The default max_tokens of a request that names none (vLLM's own default is the
            # rest of the context, which outlasts SageMaker's 60 s response limit).
            "SM_VLLM_OVERRIDE_GENERATION_CONFIG": (
                json.dumps({"max_new_tokens": gen.max_new_tokens}, separators=(",", ":"))
                if gen.max_new_tokens else None),
        }
    else:
        env = {"HF_MODEL_ID": model_path, "HF_MODEL_REVISION": revision}
        if server is Server.TGI:
            tgi = limits.load().containers.tgi
            flag = tgi.messages_api_flag
            input_key = "MAX_INPUT_TOKENS" if at_least(version, tgi.max_input_tokens_since) else "MAX_INPUT_LENGTH"
            env.update({
                "SM_NUM_GPUS": gpus, input_key: gen.max_input_tokens, "MAX_TOTAL_TOKENS": gen.max_total_tokens,
                "MAX_BATCH_TOTAL_TOKENS": gen.max_batch_total_tokens, "HF_MODEL_QUANTIZE": gen.quantize,
                flag.env: "true" if at_least(version, flag.since) and not at_least(version, flag.until) else None,
            })
            env.update(tgi_lora.env(source.adapters))
    return {k: v for k, v in env.items() if v is not None}


def _tracked_metric(metric: ScalingMetric, endpoint_name: str) -> dict:
    """Target-tracking metric spec: predefined SageMaker metrics, or GPU / backlog as custom metrics."""
    predefined = {
        "invocations-per-instance": "SageMakerVariantInvocationsPerInstance",
        "concurrent-requests": "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    }
    if metric in predefined:
        return {"predefined_metric_specification":
                aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type=predefined[metric])}
    dims = [aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
        name="EndpointName", value=endpoint_name)]
    if metric == "gpu-utilization":
        dims.append(aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
            name="VariantName", value=VARIANT))
        name, namespace = "GPUUtilization", "/aws/sagemaker/Endpoints"
    elif metric == "backlog-per-instance":
        name, namespace = "ApproximateBacklogSizePerInstance", "AWS/SageMaker"
    else:
        raise ValueError(f"unknown scaling metric {metric!r}")  # ScalingMetric is closed
    return {"customized_metric_specification":
            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                metric_name=name, namespace=namespace, statistic="Average", dimensions=dims)}


def _s3_path(uri: pulumi.Input[str]) -> pulumi.Output[str]:
    """``s3://bucket/prefix/`` -> ``bucket/prefix/`` (IAM resource form without the scheme)."""
    return pulumi.Output.from_input(uri).apply(lambda u: u.removeprefix("s3://"))
