"""Stage ``sagemaker``: a SageMaker endpoint on the Hugging Face / vLLM Deep Learning Containers.

The deployment model validates everything it can on its own (instance type against the
catalogue, kind/instance/server combinations, scaling bounds, GPU memory); ``check_in_stack``
adds the checks that need the rest of the stack (network mode and egress, region), which
``parse_spec`` runs before any resource of the stack exists, with the deployment's key path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import Field, PositiveFloat, ValidationInfo, field_validator, model_validator

from components import catalog
from components.aws.api_model import api_constraint, constraints
from components.catalog import UnknownInstanceType, hourly_price
from components.huggingface import tgi_lora
from components.model_facts import model_size_b
from components.names import cloud_name, replacement_suffix
from components.sagemaker import image as sagemaker_image
from components.sagemaker import limits
from components.sagemaker.endpoint import (
    Autoscaling,
    ModelSource,
    PrivateNetwork,
    SageMakerEndpoint,
    SageMakerEndpointArgs,
    has_local_storage,
    server_environment,
)
from components.sagemaker.image import ImageNotAvailable, Server
from components.sagemaker.limits import at_least
from components.sagemaker.settings import (
    AlarmSettings,
    AsyncSettings,
    DataCaptureSettings,
    EndpointKind,
    RolloutSettings,
    S3Uri,
    ScalingMetric,
    ServerlessSettings,
    TextGenerationSettings,
)
from components.vllm.args import Quantization as VllmQuantization
from stacks import aws as aws_stack
from stacks.aws_network import AwsNetworkConfig
from stacks.config import Cloud, DeploymentBase, Environment, Scaling, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import (
    Access,
    AccessKind,
    Auth,
    Grant,
    GrantKind,
    Limits,
    Protocol,
    Reach,
    Scope,
    StageContract,
)
from stacks.errors import ConfigIssue, format_loc
from stacks.model import ConfigModel
from stacks.names import KMS_KEY_ARN
from stacks.needs import HubToken, Launch, Needs, WeightsFrom
from stacks.secret_env import secret_env_names
from stacks.stages.base import StageDef
from stacks.stages.shared import tgi

#: Default autoscaling target per metric (per instance; invocations are per minute).
DEFAULT_TARGETS: dict[str, float] = {
    "invocations-per-instance": 20.0,
    "concurrent-requests": 8.0,
    "gpu-utilization": 70.0,
    "backlog-per-instance": 5.0,
}

#: The interface endpoint callers of a private endpoint must come through.
RUNTIME_ENDPOINT_SERVICE = "sagemaker.runtime"

#: TGI's launcher exits when both are set (launcher/src/main.rs, "Both `max_input_tokens` ... are set").
_INPUT_LENGTH_NAMES = frozenset({"MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH"})

#: The entrypoint of each server's container (``components/data/server_env.yaml``).
_ENTRYPOINTS = {Server.TGI: "sagemaker-tgi", Server.TEI: "sagemaker-tei", Server.VLLM: "sagemaker-vllm"}

#: Shortest answer a real-time text-generation endpoint must be able to give in time.
_MIN_ANSWER_TOKENS = 32



class ContainerSettings(ConfigModel):
    """``container``: which model server, pinned to a version the SageMaker SDK knows."""

    server: Server = Server.TGI
    version: str
    """Container version, e.g. ``3.3.6`` (TGI), ``1.8.2`` (TEI), ``0.30.0`` (vLLM)."""
    env: dict[str, str] = {}
    """Extra container environment (never secrets: use ``scalepath:hfToken``)."""

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: str, info: ValidationInfo) -> str:
        server = info.data.get("server")
        if server is None:  # the server itself was invalid and is reported on its own
            return version
        known = sagemaker_image.versions(server)
        if version not in known:
            raise ValueError(f"{server.value} version {version!r} is not in the installed "
                             f"SageMaker SDK's tables; supported: {', '.join(known)}")
        return version

    @field_validator("env")
    @classmethod
    def _no_token_keys(cls, env: dict[str, str]) -> dict[str, str]:
        bad = secret_env_names(env)
        if bad:
            raise ValueError(f"{', '.join(bad)} look like secrets; set the Hub token with "
                             "`pulumi config set --secret scalepath:hfToken` instead")
        return env


class SageMakerScaling(Scaling):
    """``scaling`` of a SageMaker endpoint: instance bounds and the tracked metric."""

    metric: ScalingMetric = "invocations-per-instance"
    target_value: PositiveFloat | None = None
    """Target per instance; defaults per metric (20 invocations/min, 8 concurrent, 70 % GPU, 5 queued).
    GPU utilisation is per GPU (0-100); the stage scales it by the instance's GPU count."""
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 600
    """Slow to scale in: a new LLM instance takes minutes to load."""
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 300


class SageMakerDeployment(DeploymentBase):
    """A ``stage: sagemaker`` deployment."""

    stage_value: ClassVar[Stage] = Stage.SAGEMAKER
    stage: Literal[Stage.SAGEMAKER]

    kind: EndpointKind = EndpointKind.REALTIME
    container: ContainerSettings
    instance_type: str | None = None
    """SageMaker instance type from the catalogue (required unless ``kind: serverless``)."""
    model_revision: str | None = None
    """Hub revision to pin (commit sha or tag)."""
    weights_s3_uri: S3Uri | None = None
    """Uncompressed weights under this S3 prefix (ending in ``/``) instead of a Hub download."""
    weights_kms_key_arn: Annotated[str, Field(pattern=r"^arn:aws[-a-z]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"),
                                   api_constraint("sagemaker", "CreateEndpointConfigInput", "KmsKeyId")] | None = None
    """Key ARN of the weights bucket's SSE-KMS encryption (same region); the role may decrypt with it."""
    model_params_b: PositiveFloat | None = None
    """Parameter count in billions; read from the model id (``...-8B``) when unset."""
    generation: TextGenerationSettings = TextGenerationSettings()
    startup_timeout_seconds: Annotated[int, api_constraint(
        "sagemaker", "ProductionVariant", "ContainerStartupHealthCheckTimeoutInSeconds")] | None = None
    model_download_timeout_seconds: Annotated[int, api_constraint(
        "sagemaker", "ProductionVariant", "ModelDataDownloadTimeoutInSeconds")] | None = None
    volume_size_gb: Annotated[int, api_constraint("sagemaker", "ProductionVariant", "VolumeSizeInGB")] | None = None
    kms_key_arn: Annotated[str, Field(pattern=KMS_KEY_ARN),
                           api_constraint("sagemaker", "CreateEndpointConfigInput", "KmsKeyId")] | None = None
    network_isolation: bool | None = None
    """Default: on when weights come from S3 (the container then needs no network), except
    serverless, which does not support network isolation."""
    scaling: SageMakerScaling = SageMakerScaling()
    serverless: ServerlessSettings | None = None
    async_inference: AsyncSettings | None = Field(None, alias="async")
    data_capture: DataCaptureSettings | None = None
    rollout: RolloutSettings = RolloutSettings()
    alerts: AlarmSettings = AlarmSettings()

    def clouds(self) -> set[Cloud]:
        return {Cloud.AWS}

    @field_validator("weights_s3_uri")
    @classmethod
    def _prefix(cls, uri: str | None) -> str | None:
        if uri is not None and not uri.endswith("/"):
            raise ValueError(f"must be an S3 prefix ending in '/' (uncompressed weights), got {uri!r}")
        return uri

    @field_validator("instance_type")
    @classmethod
    def _in_catalogue(cls, instance_type: str | None) -> str | None:
        if instance_type is not None:
            try:
                catalog.load("sagemaker").get(instance_type)
            except UnknownInstanceType as error:
                raise ValueError(str(error)) from None
            problem = constraints("sagemaker", "ProductionVariant", "InstanceType").problem(instance_type)
            if problem:  # in our catalogue but not (or no longer) a hosting instance type of the API
                raise ValueError(problem)
        return instance_type

    @property
    def isolated(self) -> bool:
        """Network isolation as deployed: the explicit setting, else on with S3 weights (not serverless)."""
        if self.network_isolation is not None:
            return self.network_isolation
        return self.weights_s3_uri is not None and self.kind is not EndpointKind.SERVERLESS

    @property
    def gpu_count(self) -> int:
        """GPUs of one instance (0 for CPU types and serverless)."""
        return catalog.load("sagemaker").get(self.instance_type).gpu_count if self.instance_type else 0

    @model_validator(mode="after")
    def _consistent(self) -> SageMakerDeployment:
        problems: list[str] = []
        if self.kind is EndpointKind.SERVERLESS:
            problems += self._serverless_problems()
        else:
            problems += self._instance_problems()
        if self.serverless is not None and self.kind is not EndpointKind.SERVERLESS:
            problems.append("serverless settings need kind: serverless")
        if self.async_inference is not None and self.kind is not EndpointKind.ASYNC:
            problems.append("async settings need kind: async")
        if self.weights_kms_key_arn and not self.weights_s3_uri:
            problems.append("weightsKmsKeyArn needs weightsS3Uri (it decrypts the S3 weights)")
        if self.network_isolation and not self.weights_s3_uri:
            problems.append("networkIsolation needs weightsS3Uri: an isolated container cannot download from the Hub")
        if self.container.server is Server.TEI and "generation" in self.model_fields_set:
            problems.append("generation settings apply to tgi and vllm, not tei")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _serverless_problems(self) -> list[str]:
        problems = []
        if self.instance_type is not None:
            problems.append("kind: serverless takes no instanceType (SageMaker picks CPU capacity from "
                            "serverless.memorySizeMb); remove it or use kind: realtime")
        if not sagemaker_image.supports_cpu(self.container.server):
            problems.append(f"kind: serverless runs on CPU only and {self.container.server.value} has no CPU "
                            "container; use server: tei or kind: realtime with a GPU instanceType")
        unsupported = limits.load().serverless.unsupported
        if self.data_capture is not None:
            problems.append(f"serverless endpoints do not support {unsupported['dataCapture']}; remove dataCapture")
        if self.network_isolation:
            problems.append(f"serverless endpoints do not support {unsupported['networkIsolation']}; remove "
                            "networkIsolation (with weightsS3Uri the container reads /opt/ml/model either way)")
        if "scaling" in self.model_fields_set:
            problems.append("serverless endpoints scale by serverless.maxConcurrency; remove scaling")
        if "rollout" in self.model_fields_set:
            problems.append("serverless endpoints have no blue/green rollout; remove rollout")
        for key in ("startup_timeout_seconds", "model_download_timeout_seconds", "volume_size_gb", "kms_key_arn"):
            if getattr(self, key) is not None:
                problems.append(f"{type(self).model_fields[key].alias} does not apply to serverless endpoints")
        return problems

    def _instance_problems(self) -> list[str]:
        if self.instance_type is None:
            return [f"instanceType is required for kind: {self.kind.value}; choose one of "
                    f"{', '.join(catalog.load('sagemaker').gpu_types())}"]
        problems = []
        spec = catalog.load("sagemaker").get(self.instance_type)
        if spec.gpu_count == 0 and not sagemaker_image.supports_cpu(self.container.server):
            problems.append(f"{self.instance_type} has no GPU and {self.container.server.value} needs one; "
                            f"choose one of {', '.join(catalog.load('sagemaker').gpu_types())}")
        if self.volume_size_gb is not None and has_local_storage(self.instance_type):
            problems.append(f"{self.instance_type} has local NVMe storage and SageMaker rejects volumeSizeGb "
                            "for it; remove volumeSizeGb")
        if self.kms_key_arn is not None and has_local_storage(self.instance_type) \
                and self.data_capture is None and self.async_inference is None:
            problems.append(f"kmsKeyArn would encrypt nothing: {self.instance_type} has hardware-encrypted "
                            "local storage (no volume key) and there is no dataCapture or async output")
        if self.scaling.min == 0 and self.kind is not EndpointKind.ASYNC:
            problems.append("scaling.min 0 (scale to zero) needs kind: async; real-time endpoints keep at "
                            "least one instance (inference components are not supported by this stage)")
        if self.scaling.metric == "backlog-per-instance" and self.kind is not EndpointKind.ASYNC:
            problems.append("scaling.metric backlog-per-instance needs kind: async")
        if self.scaling.metric == "gpu-utilization" and spec.gpu_count == 0:
            problems.append(f"scaling.metric gpu-utilization needs a GPU instance, {self.instance_type} has none")
        return problems

    def adapter_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Adapters load on the TGI container only (``LORA_ADAPTERS``), from public Hub repos its
        launcher downloads at start (docs/stages/sagemaker.md, *LoRA adapters*)."""
        server, version = self.container.server, self.container.version
        if server is not Server.TGI:
            why = {Server.TEI: "TEI serves embeddings and loads no LoRA adapters",
                   Server.VLLM: ("the AWS vLLM container's entrypoint turns each SM_VLLM_<NAME> into one "
                                 "`--<name> <value>` pair, so vLLM would get one --lora-modules item at most, "
                                 "--enable-lora only from an empty value, and no Hub revision for the adapter "
                                 "(vLLM downloads a repo id itself); not implemented")}[server]
            return [(("container", "server"), f"{why}; use server: tgi to serve adapters on SageMaker")]
        if not tgi_lora.supports(version):
            return [(("container", "version"), f"TGI {version} predates what scalepath verified for LORA_ADAPTERS; "
                     f"use {tgi_lora.data()['since']} or newer")]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.isolated:
            problems.append((("networkIsolation",), "TGI downloads each adapter from the Hub at start and a "
                             "network-isolated container cannot (it is on by default with weightsS3Uri); set "
                             "networkIsolation: false to serve adapters"))
        problems += tgi.source_problems(self, (
            "the TGI container downloads Hub adapters only (its SageMaker entrypoint "
            "copies nothing from S3 but the weights); publish the adapter as a Hub repo (public: SageMaker "
            "hands the container no Hub token) or serve it on eks-vllm"))
        return problems

    def needs(self) -> tuple[Needs, ...]:
        spec = catalog.load("sagemaker").get(self.instance_type) if self.instance_type else None
        gpus = spec.gpu_count if spec else 0
        # TGI and vLLM shard over every GPU of the instance (SM_NUM_GPUS, SM_VLLM_TENSOR_PARALLEL_SIZE).
        shards = gpus if self.container.server in (Server.TGI, Server.VLLM) else 1
        return (Needs(
            model=self.model, params_b=self.model_params_b, gpus=gpus,
            gpu_memory_gib=spec.gpu_memory_gib if spec else 0, hardware=self.instance_type or "serverless",
            hardware_key="instanceType", quantized=self.generation.quantize is not None,
            tensor_parallel=max(shards, 1), tensor_parallel_key="instanceType",
            tensor_parallel_fix=("The container shards over every GPU of the instance (SM_NUM_GPUS, "
                                 "SM_VLLM_TENSOR_PARALLEL_SIZE): choose an instanceType with one of those GPU counts."),
            weights=WeightsFrom.BUCKET if self.weights_s3_uri else WeightsFrom.HUB,
            # SageMaker returns a model's environment in clear to anyone who may describe it.
            hub_token=HubToken.NONE, weights_key="weightsS3Uri",
            context=self.generation.max_total_tokens, context_key="generation.maxTotalTokens",
            # TGI loads every adapter on the GPU at start (adapter_problems refuses them elsewhere).
            extra_gib=tgi_lora.adapters_gib(self.model, self.lora_adapters(), max(shards, 1)) or 0.0,
            launch=Launch(entrypoint=_ENTRYPOINTS[self.container.server],
                          env=tuple((name, f"container.env.{name}") for name in sorted(self.container.env)),
                          fix="Set the server's own variable (the vLLM container maps SM_VLLM_<FLAG> to --<flag>)."
                          )),)

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """Checks that need the rest of the stack: network mode and egress, the region's images."""

        def at(*path: Any) -> str:
            return format_loc(("deployments", index, *path))

        issues = []
        region = stack.targets.aws_region or ""
        private = stack.network.mode == "private"
        if stack.environment is Environment.PROD and self.scaling.min == 0:
            issues.append(ConfigIssue(at("scaling", "min"), "0 (scale to zero) is not allowed in prod: requests queue "
                                      "behind a cold start; set it to 1 or more"))
        if private and self.kind is EndpointKind.SERVERLESS:
            issues.append(ConfigIssue(at("kind"), "serverless endpoints cannot run in a VPC; network.mode is "
                                      "private, so use kind: realtime or async"))
        if private and not self.weights_s3_uri and not aws_stack.nat_egress(stack):
            issues.append(ConfigIssue(at("weightsS3Uri"), "network.mode is private and the VPC has no internet "
                                      "egress, so the container cannot download from the Hub; stage the weights "
                                      "in S3 and set weightsS3Uri, or set scalepath:network.aws.natGateway: true"))
        if self.weights_kms_key_arn and self.weights_kms_key_arn.split(":")[3] != region:
            issues.append(ConfigIssue(at("weightsKmsKeyArn"), f"the key is in {self.weights_kms_key_arn.split(':')[3]} "
                                      f"but the endpoint in {region}: SageMaker reads model data from a bucket in its "
                                      "own region, and SSE-KMS keys are regional"))
        if private and self.adapters and self.weights_s3_uri and not aws_stack.nat_egress(stack):
            issues.append(ConfigIssue(at("adapters"), "TGI downloads adapters from the Hub at start, and network.mode "
                                      "is private with no internet egress; set scalepath:network.aws.natGateway: true "
                                      "or remove adapters"))
        if private and not self._runtime_endpoint_known(stack):
            issues.append(ConfigIssue(format_loc(("network", "aws", "runtimeEndpointId")),
                                      "private SageMaker endpoints admit callers only through the sagemaker.runtime "
                                      "VPC endpoint (aws:SourceVpce); keep sagemaker.runtime in "
                                      "network.aws.interfaceEndpoints with createEndpoints: true, or give the existing "
                                      "endpoint's id here"))
        issues += self._server_issues(at)
        issues += self._scaling_issues(at)
        issues += self._latency_issues(at)
        gpu = bool(self.gpu_count)
        try:
            sagemaker_image.retrieve(self.container.server, self.container.version, region,
                                     self.instance_type, gpu)
        except ImageNotAvailable as error:
            issues.append(ConfigIssue(at("container", "version"), f"no container for region {region}: {error}"))
        return issues


    def _server_issues(self, at: Callable[..., str]) -> list[ConfigIssue]:
        """What the container's entrypoint would refuse or silently ignore (sources in
        ``components/data/sagemaker_limits.yaml``)."""
        server, version = self.container.server, self.container.version
        containers = limits.load().containers
        issues = []
        quantize = self.generation.quantize
        allowed = {Server.TGI: containers.tgi.quantize,
                   Server.VLLM: tuple(q.value for q in VllmQuantization)}.get(server, ())
        if quantize is not None and quantize not in allowed:
            issues.append(ConfigIssue(at("generation", "quantize"), f"{quantize!r} is not a {server.value} "
                                      f"quantization method; allowed: {', '.join(allowed)}"))
        if server is Server.TGI and quantize in containers.tgi.unshardable_quantize and self.gpu_count > 1:
            issues.append(ConfigIssue(at("generation", "quantize"), f"TGI cannot shard {quantize} weights and "
                                      f"{self.instance_type} has {self.gpu_count} GPUs (SM_NUM_GPUS); use a "
                                      "single-GPU instance type or another quantization"))
        source = ModelSource(model_id=self.model, revision=self.model_revision, weights_s3_uri=self.weights_s3_uri,
                             adapters=self.lora_adapters())
        generated = server_environment(server, version, source, self.generation, self.gpu_count)
        for key in sorted(self.container.env):
            problem = None
            if key in generated:
                problem = (f"{key} is set by the stage from the deployment's settings (generation, instanceType, "
                           "model); set it there instead of in container.env")
            elif server is Server.TGI and key == containers.tgi.messages_api_flag.env \
                    and at_least(version, containers.tgi.messages_api_flag.until):
                problem = (f"{key} no longer exists in TGI {version} (removed in "
                           f"{containers.tgi.messages_api_flag.until}; chat bodies are always accepted)")
            elif server is Server.TGI and key in _INPUT_LENGTH_NAMES \
                    and set(self.container.env) | set(generated) >= _INPUT_LENGTH_NAMES:
                problem = ("TGI exits when both MAX_INPUT_TOKENS and MAX_INPUT_LENGTH are set; set "
                           "generation.maxInputTokens only")
            if problem:
                issues.append(ConfigIssue(at("container", "env", key), problem))
        return issues

    @staticmethod
    def _runtime_endpoint_known(stack: StackFacts) -> bool:
        config = stack.network.aws or AwsNetworkConfig()
        if config.runtime_endpoint_id is not None:
            return True
        return config.create_endpoints and RUNTIME_ENDPOINT_SERVICE in config.interface_endpoints

    def _decode_rate(self) -> Fraction | None:
        """Estimated tokens/s of one answer (None: not a text-generation real-time endpoint, or
        the GPU or model size is unknown)."""
        if self.kind is not EndpointKind.REALTIME or self.container.server not in (Server.TGI, Server.VLLM) \
                or not self.instance_type:
            return None
        spec = catalog.load("sagemaker").get(self.instance_type)
        return limits.decode_tokens_per_second(spec.gpu, spec.gpu_count, model_size_b(self.model, self.model_params_b),
                                               self.generation.quantize)

    def _answer_budget_seconds(self) -> Fraction:
        """How long the longest answer may take: within SageMaker's real-time response limit and
        under the p95 latency alarm, each with headroom (a normal long answer must trip neither).
        Exact, as the decode rate is: the answer length is their product, floored."""
        data = limits.load()
        return min(Fraction(data.invocation.realtime_response_seconds), Fraction(self.alerts.latency_p95_ms, 1000)) \
            / limits.decimal(data.decode.alarm_headroom)

    def effective_generation(self) -> TextGenerationSettings:
        """``generation`` with ``maxNewTokens`` derived from the decode speed when unset."""
        rate = self._decode_rate()
        if self.generation.max_new_tokens is not None or rate is None:
            return self.generation
        tokens = math.floor(rate * self._answer_budget_seconds())
        if self.generation.max_total_tokens:
            tokens = min(tokens, self.generation.max_total_tokens - 1)
        return self.generation.model_copy(update={"max_new_tokens": max(tokens, 1)})

    def _latency_issues(self, at: Callable[..., str]) -> list[ConfigIssue]:
        """SageMaker cuts real-time answers at 60 s, and the p95 latency alarm rolls updates back:
        the longest expected answer must fit both (``components/data/sagemaker_limits.yaml``)."""
        rate = self._decode_rate()
        if rate is None:
            return []
        data = limits.load()
        limit_s = data.invocation.realtime_response_seconds
        issues = []
        if self.alerts.latency_p95_ms >= limit_s * 1000:
            issues.append(ConfigIssue(at("alerts", "latencyP95Ms"), f"{self.alerts.latency_p95_ms} ms can never be "
                                      f"reached: SageMaker ends real-time invocations after {limit_s} s; set it below "
                                      f"{limit_s * 1000}"))
            return issues
        budget = self._answer_budget_seconds()
        fits = math.floor(rate * budget)
        new_tokens = self.generation.max_new_tokens
        where = f"~{float(rate):.0f} tokens/s on {self.instance_type}"
        if new_tokens is not None and new_tokens > fits:
            binding = ("alerts.latencyP95Ms" if self.alerts.latency_p95_ms / 1000 < limit_s
                       else f"SageMaker's {limit_s} s real-time limit")
            message = (f"{new_tokens} tokens take ~{float(new_tokens / rate):.0f} s at {where}; with "
                       f"x{data.decode.alarm_headroom:g} headroom under {binding} at most {fits} fit. Lower "
                       f"maxNewTokens, raise alerts.latencyP95Ms (< {limit_s * 1000}), choose a faster "
                       "instanceType, or use kind: async (1 h)")
            issues.append(ConfigIssue(at("generation", "maxNewTokens"), message))
        elif new_tokens is None and fits < _MIN_ANSWER_TOKENS:
            issues.append(ConfigIssue(at("instanceType"), f"{where}, only {fits} tokens fit an answer under "
                                      f"alerts.latencyP95Ms and the {limit_s} s real-time limit; choose a faster "
                                      "instanceType, set generation.quantize, or use kind: async"))
        return issues

    def _scaling_issues(self, at: Callable[..., str]) -> list[ConfigIssue]:
        if self.scaling.metric == "gpu-utilization" and self.scaling.target_value is not None \
                and self.scaling.target_value > 100:
            return [ConfigIssue(at("scaling", "targetValue"), f"{self.scaling.target_value:g} is above 100: the "
                                "target is per GPU (percent); the stage multiplies it by the instance's GPU count, "
                                "as SageMaker's GPUUtilization sums its GPUs (0-100 x GPUs)")]
        return []

    def scaling_target(self) -> float:
        """The target-tracking value as the metric reports it: GPU utilisation is summed over the
        instance's GPUs, so a per-GPU percentage is scaled by the GPU count."""
        target = (self.scaling.target_value if self.scaling.target_value is not None
                  else DEFAULT_TARGETS[self.scaling.metric])
        if self.scaling.metric == "gpu-utilization":
            return target * max(self.gpu_count, 1)
        return target


def endpoint_name(stack_tag: str, deployment: str, *, rollback_alarms: bool = True) -> str:
    """``<project>-<stack>-<deployment>`` as ``CreateEndpoint`` accepts it (botocore's
    ``EndpointName``: letters, digits and ``-``, at most 63, alphanumeric at both ends). A longer
    name is shortened with a hash of the whole (``cloud_name``), never cut: a cut let two stacks
    that differ only in the cut part share one endpoint.

    The provider replaces an endpoint whose auto-rollback block appears or disappears (ForceNew,
    ``data/replacements.yaml``): turning ``rollout.autoRollback`` off, or moving to serverless
    (no blue/green), so an endpoint without rollback alarms carries a suffix derived from that.
    The replacement then has a new name and is created before the old endpoint is deleted; the
    gateway follows the exported name. An endpoint with them keeps the plain name."""
    limit = int(constraints("sagemaker", "CreateEndpointInput", "EndpointName").max or 63)
    name = f"{stack_tag}-{deployment}"
    if not rollback_alarms:
        name += f"-{replacement_suffix('deploymentConfig.autoRollbackConfiguration', None)}"
    return cloud_name(name, limit, trim="A-Za-z0-9")


def build(deployment: DeploymentBase, ctx: StackContext) -> dict[str, pulumi.Input[Any]]:
    """Create the endpoint (and the shared VPC in private mode); export its addresses."""
    assert isinstance(deployment, SageMakerDeployment)
    d = deployment
    network = None
    if ctx.spec.network.mode == "private":
        vpc = aws_stack.network(ctx)
        config = ctx.spec.network.aws or AwsNetworkConfig()
        network = PrivateNetwork(vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids,
                                 security_group_ids=[vpc.workload_security_group_id],
                                 invoke_vpc_endpoint_id=(config.runtime_endpoint_id
                                                         or vpc.interface_endpoint_ids[RUNTIME_ENDPOINT_SERVICE]))
    autoscaling = None
    if d.kind is not EndpointKind.SERVERLESS and (d.scaling.max > d.scaling.min or d.scaling.min == 0):
        autoscaling = Autoscaling(
            min_capacity=d.scaling.min, max_capacity=d.scaling.max, metric=d.scaling.metric,
            target_value=d.scaling_target(),
            scale_in_cooldown_seconds=d.scaling.scale_in_cooldown_seconds,
            scale_out_cooldown_seconds=d.scaling.scale_out_cooldown_seconds,
        )
    generation = d.effective_generation()
    endpoint = SageMakerEndpoint(d.name, SageMakerEndpointArgs(
        region=ctx.spec.targets.aws_region or "", endpoint_name=endpoint_name(
            ctx.spec.stack_tag, d.name,
            rollback_alarms=d.kind is not EndpointKind.SERVERLESS and d.rollout.auto_rollback),
        tags=ctx.tags(d),
        source=ModelSource(model_id=d.model, revision=d.model_revision, weights_s3_uri=d.weights_s3_uri,
                           params_b=d.model_params_b, weights_kms_key_arn=d.weights_kms_key_arn,
                           adapters=d.lora_adapters()),
        server=d.container.server, server_version=d.container.version, kind=d.kind,
        instance_type=d.instance_type, generation=generation, extra_env=d.container.env,
        startup_timeout_seconds=d.startup_timeout_seconds,
        model_download_timeout_seconds=d.model_download_timeout_seconds, volume_size_gb=d.volume_size_gb,
        kms_key_arn=d.kms_key_arn, network=network,
        network_isolation=d.isolated,
        serverless=d.serverless or (ServerlessSettings() if d.kind is EndpointKind.SERVERLESS else None),
        async_inference=d.async_inference or (AsyncSettings() if d.kind is EndpointKind.ASYNC else None),
        data_capture=d.data_capture, autoscaling=autoscaling, initial_instance_count=max(d.scaling.min, 1),
        rollout=d.rollout, alarms=d.alerts,
    ))
    return {
        "endpointName": endpoint.endpoint_name, "endpointArn": endpoint.endpoint_arn, "region": endpoint.region,
        "invokeUrl": endpoint.invoke_url, "openaiChatUrl": endpoint.openai_chat_url,
        "roleArn": endpoint.role_arn, "image": endpoint.image_uri, "invokePolicyArn": endpoint.invoke_policy_arn,
        # The longest answer the endpoint is sized for (None: not a real-time LLM endpoint); a
        # gateway in front should cap max_tokens to it.
        "maxNewTokens": generation.max_new_tokens,
    }


def served_model_name(deployment: SageMakerDeployment) -> str:
    """The ``model`` the container answers to: what the vLLM container is told to serve
    (``SM_VLLM_SERVED_MODEL_NAME``); TGI and TEI ignore the field, so the Hub id there."""
    d = deployment
    env = server_environment(d.container.server, d.container.version,
                             ModelSource(model_id=d.model, revision=d.model_revision, weights_s3_uri=d.weights_s3_uri),
                             d.effective_generation(), d.gpu_count)
    return str(env.get("SM_VLLM_SERVED_MODEL_NAME") or d.model)


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """``InvokeEndpoint`` with SigV4 (the endpoint's own invoke policy); through the VPC's
    ``sagemaker.runtime`` endpoint in private mode. Async endpoints take no synchronous request;
    TEI answers with embeddings."""
    assert isinstance(deployment, SageMakerDeployment)
    d = deployment
    data = limits.load().invocation
    reach = Reach(scope=Scope.PUBLIC)
    if stack.network.mode == "private":
        reach = Reach(scope=Scope.NETWORK, cloud=Cloud.AWS,
                      caller_needs="the stack's AWS VPC: the endpoint admits calls only through its sagemaker.runtime "
                                   "interface endpoint (aws:SourceVpce), whose private DNS name is the usual one")
    auth = Auth(grant=Grant(kind=GrantKind.AWS_POLICY, export="invokePolicyArn"))
    if d.kind is EndpointKind.ASYNC:
        return StageContract(deployment=d.name, protocols=frozenset({Protocol.ASYNC_INVOKE}), access=None, auth=auth,
                             reach=reach, limits=Limits(response_seconds=data.async_response_seconds))
    text = d.container.server is not Server.TEI
    return StageContract(
        deployment=d.name, protocols=frozenset({Protocol.CHAT if text else Protocol.EMBEDDINGS}),
        access=Access(kind=AccessKind.SAGEMAKER_INVOKE, address="endpointName", served_model=served_model_name(d),
                      # TGI picks an adapter by the body's `model`: its repo id (tgi_lora.served_id).
                      adapters=tgi.served_adapters(d)),
        auth=auth, reach=reach,
        limits=Limits(response_seconds=data.realtime_response_seconds,
                      max_new_tokens=d.effective_generation().max_new_tokens if text else None),
        # Serverless bills per GB-second of its own, not per instance: no replica price.
        replica_price=hourly_price("sagemaker", d.instance_type, stack.targets.aws_region) if d.instance_type else None)


DEFINITION = StageDef(settings=SageMakerDeployment, build=build, contract=contract)
