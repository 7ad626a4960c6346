"""Settings of a SageMaker endpoint that are both stack config (camelCase keys under a
``sagemaker`` deployment) and component args: one typed definition, validated once.

They derive from the one config base (:class:`components.config_model.ConfigModel`: camelCase
keys, unknown keys rejected, frozen, numbers never booleans), as every stack config model does.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from components import replacements
from components.aws.api_model import api_constraint
from components.config_model import ConfigModel
from components.replacements import provider_constraint
from components.sagemaker import limits

ENDPOINT_TYPE = "aws:sagemaker/endpoint:Endpoint"
"""The endpoint's resource type: its provider facts (waits, ranges) are in ``replacements.yaml``."""

S3Uri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^*?\s]*)?$")]
"""``s3://bucket[/prefix]``. No ``*`` or ``?``: the prefix becomes an IAM resource, where they are
wildcards (``s3://b/*`` would grant the whole bucket)."""


class EndpointKind(str, Enum):
    """How the endpoint serves requests."""

    REALTIME = "realtime"
    """Instances always on, synchronous ``/invocations`` (the default)."""
    SERVERLESS = "serverless"
    """CPU only, billed per request duration and memory; cold starts."""
    ASYNC = "async"
    """Requests queued, results written to S3; can scale to zero instances."""


ScalingMetric = Literal["invocations-per-instance", "concurrent-requests", "gpu-utilization",
                        "backlog-per-instance"]
"""What autoscaling tracks: SageMaker's predefined invocation/concurrency metrics, GPU
utilisation, or (async) queued requests per instance."""


class TextGenerationSettings(ConfigModel):
    """Token limits and options of the text-generation servers (TGI, vLLM)."""

    max_input_tokens: PositiveInt | None = None
    """Longest prompt (TGI ``MAX_INPUT_TOKENS``; ``MAX_INPUT_LENGTH`` before TGI 2.0). Server
    default when unset."""
    max_total_tokens: PositiveInt | None = None
    """Prompt + completion (TGI ``MAX_TOTAL_TOKENS``, vLLM ``--max-model-len``)."""
    max_batch_total_tokens: PositiveInt | None = None
    """Tokens in flight per batch (TGI ``MAX_BATCH_TOTAL_TOKENS``); bounds KV-cache memory."""
    max_new_tokens: PositiveInt | None = None
    """Longest answer the endpoint is sized for: checked against SageMaker's 60 s response limit
    and the p95 latency alarm; vLLM's default ``max_tokens``. Derived from the instance's decode
    speed when unset."""
    quantize: str | None = None
    """Quantization (TGI ``HF_MODEL_QUANTIZE``, vLLM ``--quantization``); each server has its own
    list (``components/data/sagemaker_limits.yaml``), checked by the deployment. Weights must match."""

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: object) -> object:
        if isinstance(data, dict) and "messagesApi" in data:
            raise ValueError("messagesApi was removed: TGI >= 2.3 takes OpenAI chat bodies on /invocations "
                             "without a flag (MESSAGES_API_ENABLED no longer exists) and the stage sets it for "
                             "older TGI; delete the key")
        return data

    @model_validator(mode="after")
    def _limits_ordered(self) -> TextGenerationSettings:
        if self.max_input_tokens and self.max_total_tokens and self.max_input_tokens >= self.max_total_tokens:
            raise ValueError(f"maxInputTokens ({self.max_input_tokens}) must be < maxTotalTokens "
                             f"({self.max_total_tokens})")
        if self.max_new_tokens and self.max_total_tokens and self.max_new_tokens >= self.max_total_tokens:
            raise ValueError(f"maxNewTokens ({self.max_new_tokens}) must be < maxTotalTokens "
                             f"({self.max_total_tokens}): the prompt takes at least one token")
        if (self.max_total_tokens and self.max_batch_total_tokens
                and self.max_batch_total_tokens < self.max_total_tokens):
            raise ValueError(f"maxBatchTotalTokens ({self.max_batch_total_tokens}) must be >= "
                             f"maxTotalTokens ({self.max_total_tokens})")
        return self


class ServerlessSettings(ConfigModel):
    """``kind: serverless``: memory and concurrency of the serverless variant."""

    memory_size_mb: Annotated[int, Field(multiple_of=1024),
                              api_constraint("sagemaker", "ProductionVariantServerlessConfig", "MemorySizeInMB")] = 6144
    """Memory of each worker in 1 GB steps (vCPUs scale with it); range from the API model."""
    max_concurrency: Annotated[int, api_constraint("sagemaker", "ProductionVariantServerlessConfig",
                                                   "MaxConcurrency")] = 5
    """Concurrent invocations before throttling."""
    provisioned_concurrency: Annotated[int, api_constraint("sagemaker", "ProductionVariantServerlessConfig",
                                                           "ProvisionedConcurrency")] | None = None
    """Warm workers kept ready (no cold start; billed while provisioned)."""

    @model_validator(mode="after")
    def _provisioned_within_max(self) -> ServerlessSettings:
        if self.provisioned_concurrency and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(f"provisionedConcurrency ({self.provisioned_concurrency}) must be <= "
                             f"maxConcurrency ({self.max_concurrency})")
        return self


class AsyncSettings(ConfigModel):
    """``kind: async``: where results go and who hears about them."""

    output_s3_uri: S3Uri | None = None
    """Results prefix; unset: ``s3://<created bucket>/async/output/``."""
    failure_s3_uri: S3Uri | None = None
    """Failure prefix; unset: ``s3://<created bucket>/async/failures/``."""
    notifications: bool = True
    """Create SNS topics for success and error notifications (KMS-encrypted)."""
    max_concurrent_invocations_per_instance: Annotated[int, api_constraint(
        "sagemaker", "AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")] | None = None
    """Requests one instance takes at once; SageMaker picks when unset."""


class RolloutStrategy(str, Enum):
    """Blue/green traffic shifting of an endpoint update."""

    ALL_AT_ONCE = "all-at-once"
    CANARY = "canary"
    LINEAR = "linear"


class RolloutSettings(ConfigModel):
    """Blue/green deployment of endpoint updates, rolled back when an alarm fires."""

    strategy: RolloutStrategy = RolloutStrategy.ALL_AT_ONCE
    canary_percent: Annotated[int, api_constraint("sagemaker", "CapacitySize", "Value")] = 10
    """Share of the new fleet's capacity that takes traffic first (canary; at most 50)."""
    linear_step_percent: Annotated[int, api_constraint("sagemaker", "CapacitySize", "Value")] = 20
    """Capacity added per step (linear; 10..50)."""
    wait_seconds: Annotated[int, api_constraint("sagemaker", "TrafficRoutingConfig", "WaitIntervalInSeconds")] = 600
    """Baking time between traffic shifts, while the alarms are watched."""
    termination_wait_seconds: Annotated[int, api_constraint("sagemaker", "BlueGreenUpdatePolicy",
                                                            "TerminationWaitInSeconds")] = 600
    """Keep the old fleet this long after the shift, for a fast rollback."""
    maximum_execution_timeout_seconds: Annotated[int, api_constraint(
        "sagemaker", "BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds"), provider_constraint(
        ENDPOINT_TYPE, "deploymentConfig.blueGreenUpdatePolicy.maximumExecutionTimeoutInSeconds")] | None = None
    """Abort (and roll back) a rollout that takes longer (the provider accepts a narrower range
    than the API model: the one ``up`` meets)."""
    auto_rollback: bool = True
    """Roll back when the latency or 5xx alarms fire during the rollout."""

    @model_validator(mode="after")
    def _documented_limits(self) -> RolloutSettings:
        # Limits botocore states in prose only (data file, with the quote a test keeps honest).
        rules = limits.load().rollout
        problems = []
        for key, value, rule in (("canaryPercent", self.canary_percent, rules.canary_percent),
                                 ("linearStepPercent", self.linear_step_percent, rules.linear_step_percent)):
            if not rule.min <= value <= rule.max:
                problems.append(f"{key} {value} is outside {rule.min}..{rule.max}, the range the SageMaker API "
                                f"accepts ({rule.botocore_doc.shape}.{rule.botocore_doc.member}: "
                                f"\"{rule.botocore_doc.says}\")")
        if self.maximum_execution_timeout_seconds is not None:
            waits = self.total_wait_seconds()
            if self.maximum_execution_timeout_seconds <= waits:
                problems.append(f"maximumExecutionTimeoutSeconds ({self.maximum_execution_timeout_seconds}) must be "
                                f"larger than the rollout's total waiting time ({waits} s: wait intervals plus "
                                "terminationWaitSeconds), as the SageMaker API requires")
        provider_wait = 60 * (replacements.load().types[ENDPOINT_TYPE].update_wait_minutes or 0)
        if self.total_wait_seconds() >= provider_wait:
            # The provider returns (and `up` fails) after this, the endpoint still updating.
            problems.append(f"the rollout waits {self.total_wait_seconds()} s (wait intervals plus "
                            f"terminationWaitSeconds) before the new fleet's own start-up, but pulumi-aws waits at "
                            f"most {provider_wait} s for the endpoint to be InService: shorten waitSeconds or "
                            "terminationWaitSeconds, or take fewer steps (a larger linearStepPercent)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def total_wait_seconds(self) -> int:
        """Baking waits of one rollout (one per traffic step) plus the termination wait."""
        steps = {RolloutStrategy.ALL_AT_ONCE: 1, RolloutStrategy.CANARY: 2,
                 RolloutStrategy.LINEAR: -(-100 // self.linear_step_percent)}[self.strategy]
        return steps * self.wait_seconds + self.termination_wait_seconds


class AlarmSettings(ConfigModel):
    """CloudWatch alarm thresholds (they also drive blue/green auto-rollback)."""

    latency_p95_ms: PositiveInt = 30_000
    """p95 ``ModelLatency`` above this (ms). LLM generation is slow: size it to your max tokens."""
    error_5xx_rate_pct: PositiveFloat = Field(2.0, alias="error5xxRatePct", le=100)
    """``Invocation5XXErrors`` / ``Invocations`` above this percentage."""
    backlog_size: PositiveInt = 100
    """Async only: ``ApproximateBacklogSize`` above this."""
    evaluation_periods: Annotated[int, Field(ge=1, le=60)] = 3
    """Consecutive 1-minute periods over the threshold before the alarm fires."""
    notify_topic_arn: str | None = None
    """SNS topic that receives alarm state changes (e.g. the on-call integration)."""


class DataCaptureSettings(ConfigModel):
    """Request/response capture to S3 (KMS-encrypted) for monitoring and evaluation."""

    sampling_percent: Annotated[int, Field(ge=1),
                                api_constraint("sagemaker", "DataCaptureConfig", "InitialSamplingPercentage")] = 10
    destination_s3_uri: S3Uri | None = None
    """Capture prefix; unset: ``s3://<created bucket>/data-capture/``."""
    capture_input: bool = True
    capture_output: bool = True

    @model_validator(mode="after")
    def _captures_something(self) -> DataCaptureSettings:
        if not (self.capture_input or self.capture_output):
            raise ValueError("captureInput and captureOutput are both false; remove dataCapture instead")
        return self
