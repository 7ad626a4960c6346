"""Stage ``hf-endpoint``: a dedicated HF Inference Endpoint (dynamic provider on ``huggingface_hub``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import (
    Field,
    HttpUrl,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.catalog import hourly_price
from components.huggingface import tgi_lora
from components.huggingface.endpoint import HfInferenceEndpoint, HfInferenceEndpointArgs, ImageArgs, PrivateLinkArgs
from components.huggingface.endpoint_provider import HardwareError, validate_hardware
from components.names import fit_name
from components.secret_store import CloudSecret, CloudSecretArgs
from stacks.config import Cloud, DeploymentBase, DnsName, Environment, Scaling, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import (
    Access,
    AccessKind,
    Auth,
    Fix,
    Protocol,
    Reach,
    Scope,
    StageContract,
    UniqueName,
)
from stacks.errors import ConfigIssue, format_loc
from stacks.model import ConfigModel
from stacks.needs import HubToken, Needs, WeightsFrom, flag_value
from stacks.secret_env import secret_env_names
from stacks.secret_store import SecretStoreConfig
from stacks.stages.base import StageDef
from stacks.stages.hf_serverless import HfNamespace, token_secret_name
from stacks.stages.shared import tgi

#: HF limits endpoint names to 32 characters.
_NAME_MAX = 32
#: Tasks whose endpoints answer with embedding vectors (TEI), not text.
_EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-embeddings", "sentence-similarity"})

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class HfScaling(Scaling):
    """``scaling`` of an endpoint: replicas, scale-to-zero and the autoscaling metric."""

    scale_to_zero_timeout: PositiveInt | None = None
    """Idle minutes before scaling to zero; required when ``min`` is 0."""
    metric: Literal["pendingRequests", "hardwareUsage"] | None = None
    """What triggers a scale-up; HF's default when unset. LLM servers: ``pendingRequests``."""
    threshold: PositiveFloat | None = None
    """Value of ``metric`` that triggers a scale-up (needs ``metric``)."""

    @model_validator(mode="after")
    def _scale_to_zero(self) -> HfScaling:
        if self.min == 0 and self.scale_to_zero_timeout is None:
            raise ValueError("min 0 needs scaleToZeroTimeout (idle minutes before scaling to zero)")
        if self.min > 0 and self.scale_to_zero_timeout is not None:
            raise ValueError("scaleToZeroTimeout needs min 0")
        if self.threshold is not None and self.metric is None:
            raise ValueError("threshold needs metric (pendingRequests or hardwareUsage)")
        return self


class ImageConfig(ConfigModel):
    """``image``: the serving container, instead of HF's default image."""

    engine: Literal["vllm", "tgi", "tei", "custom"]
    url: Annotated[str, StringConstraints(min_length=3)]
    """Container image reference, e.g. ``vllm/vllm-openai:v0.11.0``."""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    health_route: Annotated[str, StringConstraints(pattern=r"^/")] | None = None


class PrivateLinkConfig(ConfigModel):
    """``privateLink``: AWS PrivateLink access for ``access: private``."""

    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    region: Literal["us-east-1", "eu-west-1"]


class HfEndpointDeployment(DeploymentBase):
    """A dedicated Inference Endpoint: hardware by the hour, scale to zero, HF-managed."""

    stage_value: ClassVar[Stage] = Stage.HF_ENDPOINT
    stage: Literal[Stage.HF_ENDPOINT]
    namespace: HfNamespace
    """HF user or organisation that owns and pays for the endpoint."""
    endpoint_name: DnsName | None = None
    """Endpoint name (unique in the namespace); ``<deployment>-<stack>`` when unset."""
    revision: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")] | None = None
    """Model commit to pin (recommended beyond dev); the default branch when unset."""
    task: str = "text-generation"
    framework: str = "pytorch"
    vendor: Literal["aws", "azure", "gcp"] = "aws"
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")] = "us-east-1"
    accelerator: Literal["cpu", "gpu", "neuron"] = "gpu"
    instance_type: str
    """HF instance type, e.g. ``nvidia-a10g`` (see ``components/data/instances/hf.yaml``)."""
    instance_size: str
    """HF instance size, e.g. ``x1``."""
    scaling: HfScaling = HfScaling()
    image: ImageConfig | None = None
    args: list[str] = []
    """Arguments appended to the container entrypoint (e.g. vLLM's ``--max-model-len 8192``)."""
    env: dict[EnvName, str] = {}
    """Plain environment variables (the parser rejects values that look like credentials)."""
    secret_env: dict[EnvName, Literal["hfToken"]] = {}
    """Secret environment variables: env name -> top-level secret key (e.g. ``HF_TOKEN: hfToken``)."""
    access: Literal["public", "authenticated", "private"] = "authenticated"
    """Who may call it: anyone, HF-token holders, or PrivateLink only."""
    private_link: PrivateLinkConfig | None = None
    paused: bool = False
    """Pause the endpoint (no charge) while true."""
    wait_timeout_minutes: Annotated[int, Field(ge=1, le=240)] = 30
    """How long create/update wait for the endpoint to serve."""
    api_url: HttpUrl | None = None
    """Inference Endpoints API URL (private installs); ``$SCALEPATH_HF_ENDPOINTS_API`` or HF's default."""
    secret_store: SecretStoreConfig | None = None
    """Optionally store the HF token where the calling application reads it."""

    @field_validator("env")
    @classmethod
    def _no_secret_names(cls, env: dict[str, str]) -> dict[str, str]:
        bad = secret_env_names(env)
        if bad:
            raise ValueError(f"{', '.join(bad)} look like secrets; a plain env value is stored in clear "
                             "at HF: use secretEnv (env name -> top-level secret key, e.g. HF_TOKEN: hfToken)")
        return env

    @field_validator("instance_size")
    @classmethod
    def _known_hardware(cls, size: str, info: ValidationInfo) -> str:
        # Fields validate in order: vendor, accelerator and instance type are in info.data when valid.
        if {"vendor", "accelerator", "instance_type"} <= info.data.keys():
            try:
                validate_hardware(info.data["vendor"], info.data["accelerator"], info.data["instance_type"],
                                        size)
            except HardwareError as error:
                raise ValueError(str(error)) from None
        return size

    @model_validator(mode="after")
    def _valid_access(self) -> HfEndpointDeployment:
        if (self.access == "private") != (self.private_link is not None):
            raise ValueError("access private needs privateLink (accountId, region), and privateLink needs "
                             "access private")
        if self.private_link is not None and self.vendor != "aws":
            raise ValueError("privateLink is AWS PrivateLink: it needs vendor aws")
        return self

    def clouds(self) -> set[Cloud]:
        return {self.secret_store.cloud} if self.secret_store else set()

    def required_secrets(self) -> set[str]:
        return {"hfToken", *self.secret_env.values()}

    def adapter_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Adapters load on a pinned TGI image only (``LORA_ADAPTERS``), from Hub repos its launcher
        downloads at start (docs/stages/hf-endpoint.md, *LoRA adapters*)."""
        since = tgi_lora.data()["since"]
        pinned = f"image: {{engine: tgi, url: ghcr.io/huggingface/text-generation-inference:{since}}}"
        if self.image is None:
            return [(("image",), "HF's default image is HF's choice, not pinned by the stack, so whether it reads "
                     f"LORA_ADAPTERS cannot be checked; set {pinned} (or a newer tag) to serve adapters")]
        if self.image.engine != "tgi":
            return [(("image", "engine"), f"{self.image.engine}: the stage passes adapters to TGI's launcher "
                     f"(LORA_ADAPTERS) only; set {pinned} (or a newer tag), or serve the adapters on "
                     "eks-vllm/gke-vllm")]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        image = tgi.image_problem(self.image.url)
        if image:
            problems.append((("image", "url"), image))
        if tgi_lora.data()["variable"] in self.env:
            problems.append((("env", tgi_lora.data()["variable"]), "set by the stage from adapters; remove it here"))
        problems += tgi.source_problems(self, (
            "an Inference Endpoint reads neither s3:// nor gs://, and TGI downloads Hub "
            "adapters only; publish the adapter as a Hub repo (a private one needs secretEnv: "
            "{HF_TOKEN: hfToken}) or serve it on eks-vllm/gke-vllm"))
        return problems

    def needs(self) -> tuple[Needs, ...]:
        row = validate_hardware(self.vendor, self.accelerator, self.instance_type, self.instance_size)
        # HF's default image (TGI) shards over every GPU; a custom one as its args say.
        shards = (flag_value(self.args, "--tensor-parallel-size") or flag_value(self.args, "--num-shard")
                  or (1 if self.image else row.gpu_count))
        return (Needs(
            model=self.model, params_b=None, gpus=row.gpu_count, gpu_memory_gib=row.gpu_memory_gib,
            hardware=f"{self.instance_type}/{self.instance_size}", hardware_key="instanceSize",
            # Quantized weights (a custom image's --quantize/--quantization) are smaller.
            quantized=any("quantiz" in arg for arg in self.args), tensor_parallel=max(shards, 1),
            tensor_parallel_key="args" if self.image else "instanceSize",
            tensor_parallel_fix=("Set --tensor-parallel-size (vLLM) or --num-shard (TGI) in args to one of them."
                                 if self.image else "The default image shards over every GPU: choose an "
                                 "instanceSize with one of those GPU counts."),
            # HF runs the endpoint with the owning namespace's access to the repository.
            weights=WeightsFrom.HF_MANAGED, hub_token=HubToken.OWN, weights_key=None,
            context=flag_value(self.args, "--max-model-len") or flag_value(self.args, "--max-total-tokens"),
            context_key="args",
            # TGI loads every adapter on the GPU at start (adapter_problems refuses them elsewhere).
            extra_gib=tgi_lora.adapters_gib(self.model, self.lora_adapters(), max(shards, 1)) or 0.0),)

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """Private stacks reach the endpoint only through PrivateLink; prod keeps a replica warm."""
        issues = []
        if stack.network.mode == "private" and self.access != "private":
            issues.append(ConfigIssue(format_loc(("deployments", index, "access")),
                                      f"access {self.access} is reachable from the internet, and network.mode is "
                                      "private; use access: private with privateLink"))
        if stack.environment is Environment.PROD and self.scaling.min == 0:
            issues.append(ConfigIssue(format_loc(("deployments", index, "scaling", "min")),
                                      "0 (scale to zero) is not allowed in prod: the first request after idle waits "
                                      "for a cold start; set it to 1 or more"))
        return issues

    def resolved_name(self, stack: str) -> str:
        """The endpoint name: configured, or ``<deployment>-<stack>`` (hashed down to HF's 32 characters)."""
        if self.endpoint_name:
            return self.endpoint_name
        return fit_name(f"{self.name}-{stack}".lower(), _NAME_MAX)


def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, pulumi.Input[Any]]:
    """The endpoint component (and the token secret when asked); exports URL and OpenAI base URL."""
    assert isinstance(deployment, HfEndpointDeployment)
    config = pulumi.Config("scalepath")
    token = config.require_secret("hfToken")
    scaling = deployment.scaling
    image = deployment.image
    endpoint = HfInferenceEndpoint(deployment.name, HfInferenceEndpointArgs(
        endpoint_name=deployment.resolved_name(ctx.spec.stack),
        namespace=deployment.namespace,
        repository=deployment.model,
        revision=deployment.revision,
        task=deployment.task,
        framework=deployment.framework,
        vendor=deployment.vendor,
        region=deployment.region,
        accelerator=deployment.accelerator,
        instance_type=deployment.instance_type,
        instance_size=deployment.instance_size,
        min_replica=scaling.min,
        max_replica=scaling.max,
        scale_to_zero_timeout=scaling.scale_to_zero_timeout,
        scaling_metric=scaling.metric,
        scaling_threshold=scaling.threshold,
        image=None if image is None else ImageArgs(engine=image.engine, url=image.url, port=image.port,
                                                   health_route=image.health_route),
        args=deployment.args,
        env={**deployment.env, **tgi_lora.env(deployment.lora_adapters())},
        secrets={env: config.require_secret(key) for env, key in deployment.secret_env.items()},
        access_type=deployment.access,
        private_link=None if deployment.private_link is None else PrivateLinkArgs(
            account_id=deployment.private_link.account_id, region=deployment.private_link.region),
        paused=deployment.paused,
        timeout_seconds=deployment.wait_timeout_minutes * 60,
        api_url=str(deployment.api_url) if deployment.api_url else None,
        token=token,
        tags=ctx.tags(deployment),
    ))
    outputs: dict[str, pulumi.Input[Any]] = {
        "endpointName": endpoint.endpoint_name,
        "url": endpoint.url,
        "openaiBaseUrl": endpoint.openai_base_url,
        "status": endpoint.status,
    }
    if deployment.secret_store is not None:
        store = deployment.secret_store
        secret = CloudSecret(f"{deployment.name}-token", CloudSecretArgs(
            store=store.args(ctx.spec.targets),
            secret_name=store.name_for(ctx.spec.stack_tag, deployment.name, "hfToken"),
            value=token,
            description=("Hugging Face token for endpoint "
                         f"{deployment.namespace}/{deployment.resolved_name(ctx.spec.stack)}"),
            tags=ctx.tags(deployment)))
        outputs["tokenSecretId"] = secret.secret_id
    return outputs


def _protocols(deployment: HfEndpointDeployment) -> frozenset[Protocol]:
    """TEI and embedding tasks answer with vectors; text generation (TGI, vLLM) with chat and completions."""
    if (deployment.image is not None and deployment.image.engine == "tei") or deployment.task in _EMBEDDING_TASKS:
        return frozenset({Protocol.EMBEDDINGS})
    if deployment.task == "text-generation":
        return frozenset({Protocol.CHAT, Protocol.COMPLETIONS})
    return frozenset()


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """The endpoint's OpenAI route with the HF token; ``access: private`` only through PrivateLink."""
    assert isinstance(deployment, HfEndpointDeployment)
    reach = Reach(scope=Scope.PUBLIC)
    link = deployment.private_link
    if link is not None:
        reach = Reach(
            scope=Scope.PRIVATE_ADDRESS, cloud=Cloud.AWS,
            caller_needs=(f"a VPC interface endpoint for the endpoint's PrivateLink service, in AWS account "
                          f"{link.account_id} ({link.region}), and its private URL"),
            fix=Fix(key="access", text=(
                "a private endpoint takes requests only through an AWS PrivateLink interface endpoint, which "
                "scalepath does not create, and the gateway would call its public URL; call it from your VPC "
                "directly (not through the gateway), or route to a deployment in the stack's own network")))
    names = [UniqueName(what="hf-endpoint", scope=deployment.namespace, name=deployment.resolved_name(stack.stack),
                        key="endpointName")]
    if deployment.secret_store is not None:
        names.insert(0, token_secret_name(deployment.secret_store, stack.stack_tag, deployment.name))
    return StageContract(
        deployment=deployment.name, protocols=_protocols(deployment),
        access=Access(kind=AccessKind.OPENAI, address="openaiBaseUrl", served_model=deployment.model,
                      # TGI picks an adapter by the request's `model`: its repo id (tgi_lora.served_id).
                      adapters=tgi.served_adapters(deployment)),
        auth=Auth(secret="hfToken"), reach=reach, names=tuple(names),
        replica_price=hourly_price("hf", f"{deployment.vendor}/{deployment.instance_type}/{deployment.instance_size}"))


DEFINITION = StageDef(settings=HfEndpointDeployment, build=build, contract=contract)
