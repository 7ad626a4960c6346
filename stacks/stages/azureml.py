"""Stage ``azureml``: an Azure ML managed online endpoint serving a Hugging Face model through a
TGI or vLLM container, with blue/green variants, autoscale, alerts and private networking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import Field, PositiveInt, field_validator, model_validator

from components import catalog, server_env
from components.azure.azureml import (
    MODEL_MOUNT_PATH,
    AzureMlAlerts,
    AzureMlAutoscale,
    AzureMlContainer,
    AzureMlEndpoint,
    AzureMlEndpointArgs,
    AzureMlPrivateNetwork,
    AzureMlProbes,
    AzureMlVariant,
    AzurePrivateNetwork,
    AzurePrivateNetworkArgs,
    CustomerManagedKey,
    hf_hub_hosts,
    image_registry,
    known_registries,
    registry_egress,
)
from components.catalog import hourly_price
from components.huggingface import tgi_lora
from stacks.azure_network import AzureNetwork
from stacks.config import Cloud, DeploymentBase, Environment, HfRepoId, Scaling, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import (
    Access,
    AccessKind,
    Auth,
    Fix,
    Grant,
    GrantKind,
    Limits,
    Protocol,
    Reach,
    Scope,
    StageContract,
)
from stacks.errors import ConfigIssue
from stacks.model import ConfigModel
from stacks.needs import HubToken, Launch, Needs, WeightsFrom
from stacks.secret_env import secret_env_names
from stacks.stages.base import StageDef
from stacks.stages.shared import tgi

Percent = Annotated[int, Field(ge=1, le=100)]
ImageRef = Annotated[str, Field(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?/[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$")]
"""``registry.host/repository:tag`` or ``...@sha256:<digest>``; the registry host is explicit
(``docker.io/vllm/vllm-openai:v0.6.3``) because private mode allows egress to it by name."""
VariantName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]
"""Online deployment names: 3..32 lowercase letters, digits and ``-``, starting with a letter."""


def _check_instance_type(value: str) -> str:
    catalog.load("azureml").get(value)  # UnknownInstanceType (a ValueError) lists the known SKUs
    return value


def _pinned(image: str) -> str:
    if image.endswith(":latest"):
        raise ValueError("pin a version tag or digest instead of :latest (rollouts must be reproducible)")
    return image


class AzureMlScaling(Scaling):
    """Instance bounds and autoscale targets of each online deployment."""

    gpu_utilization_pct: Percent | None = 70
    """Scale out above this average GPU utilisation (in below half of it); null to disable."""
    cpu_utilization_pct: Percent | None = None
    """Scale on CPU utilisation; LLM servers are GPU-bound, so off by default."""
    latency_p95_ms: PositiveInt | None = None
    """Scale out when the deployment's p95 request latency exceeds this."""
    scale_out_cooldown_minutes: Annotated[int, Field(ge=1, le=60)] = 10
    """Wait after a scale-out: covers a new instance pulling the image and loading weights."""
    scale_in_cooldown_minutes: Annotated[int, Field(ge=1, le=120)] = 20

    @field_validator("min")
    @classmethod
    def _no_scale_to_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("scale to zero is not supported by Azure ML managed online endpoints "
                             "(each deployment keeps at least one instance); set min to 1 or more, "
                             "or use stage hf-endpoint for scale-to-zero")
        return value

    @model_validator(mode="after")
    def _a_metric_when_elastic(self) -> AzureMlScaling:
        targets = (self.gpu_utilization_pct, self.cpu_utilization_pct, self.latency_p95_ms)
        if self.max > self.min and all(t is None for t in targets):
            raise ValueError("max > min needs a scaling metric: set gpuUtilizationPct, "
                             "cpuUtilizationPct or latencyP95Ms")
        return self


class ContainerConfig(ConfigModel):
    """The inference server image and its model settings."""

    server: Literal["tgi", "vllm"] = "tgi"
    """``tgi``: Hugging Face TGI (reads ``MODEL_ID``). ``vllm``: an image whose entrypoint starts the
    vLLM OpenAI server from ``MODEL_NAME`` and ``VLLM_ARGS`` (Azure ML's vLLM sample convention)."""
    image: ImageRef
    """Registry host, repository and a pinned tag or digest."""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """Server port; 80 for TGI, 8000 for vLLM when unset."""
    max_input_tokens: PositiveInt | None = None
    max_total_tokens: PositiveInt | None = None
    """Prompt + completion tokens per request (sizes the KV cache)."""
    env: dict[str, str] = {}
    """Extra non-secret environment variables."""

    @field_validator("image")
    @classmethod
    def _not_latest(cls, value: str) -> str:
        return _pinned(value)

    @field_validator("env")
    @classmethod
    def _no_token_in_env(cls, env: dict[str, str]) -> dict[str, str]:
        bad = secret_env_names(env)
        if bad:
            raise ValueError(f"{', '.join(bad)} must not be set here (plain environment); set the HF token "
                             "with `pulumi config set --secret scalepath:hfToken` (stored in Key Vault)")
        return env

    @model_validator(mode="after")
    def _total_above_input(self) -> ContainerConfig:
        if (self.max_input_tokens is not None and self.max_total_tokens is not None
                and self.max_total_tokens <= self.max_input_tokens):
            raise ValueError("maxTotalTokens must be greater than maxInputTokens")
        return self


class VariantConfig(ConfigModel):
    """One online deployment (``blue``, ``green``...) behind the endpoint."""

    name: VariantName
    traffic: Annotated[int, Field(ge=0, le=100)]
    """Percent of live traffic; all variants sum to 100 (or all 0: nothing routed yet). Applied
    after every variant's deployment exists (ARM rejects traffic for one that does not)."""
    mirror_traffic: Annotated[int, Field(ge=0, le=50)] = 0
    """Percent of live traffic copied to this variant (shadow testing), at most 50 in total."""
    model: HfRepoId | None = None
    """Serve another model than the deployment's (e.g. the candidate of a rollout)."""
    registered_model: Annotated[str, Field(pattern=r"^azureml:")] | None = None
    """Azure ML model asset (``azureml:name:version`` or ``azureml://registries/...``) mounted into
    the container instead of downloading from the HF Hub."""
    image: ImageRef | None = None
    """Another image for this variant (e.g. a server upgrade rolled out as green)."""
    instance_type: str | None = None
    """Another VM SKU for this variant."""
    scaling: AzureMlScaling | None = None
    """Other instance bounds for this variant (a canary rarely needs the primary's minimum)."""

    @field_validator("instance_type")
    @classmethod
    def _known_instance_type(cls, value: str | None) -> str | None:
        return value if value is None else _check_instance_type(value)

    @field_validator("image")
    @classmethod
    def _not_latest(cls, value: str | None) -> str | None:
        return value if value is None else _pinned(value)

    @model_validator(mode="after")
    def _live_or_mirror(self) -> VariantConfig:
        if self.traffic and self.mirror_traffic:
            raise ValueError("a variant gets live traffic or mirrored traffic, not both")
        return self


class ProbeConfig(ConfigModel):
    """Liveness/readiness probes. Defaults allow ~15 minutes for weights to download and load."""

    initial_delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 600
    period_seconds: Annotated[int, Field(ge=1, le=600)] = 10
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 10
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 30


class AlertConfig(ConfigModel):
    """Metric alert thresholds; alerts go to ``scalepath:budget.notify``."""

    latency_p95_ms: PositiveInt = 10_000
    """Alert when the endpoint's p95 latency stays above this for 5 minutes."""
    errors_5xx_per_minute: Annotated[float, Field(gt=0, alias="errors5xxPerMinute")] = 5
    """Alert when the endpoint returns more 5xx responses per minute than this (5-minute average)."""


class CustomerManagedKeyConfig(ConfigModel):
    """Encrypt workspace data with a key you manage."""

    key_vault_id: Annotated[str, Field(pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                                                r"Microsoft\.KeyVault/vaults/[^/]+$")]
    key_uri: Annotated[str, Field(pattern=r"^https://[a-z0-9-]+\.vault\.azure\.net/keys/[^/]+/[0-9a-f]{32}$")]
    """Versioned key identifier."""


class WorkspaceConfig(ConfigModel):
    """Create a workspace (default) or use an existing one."""

    id: Annotated[str, Field(pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                                     r"Microsoft\.MachineLearningServices/workspaces/[^/]+$")] | None = None
    """Existing workspace ARM id; scalepath then creates only the endpoint side (and a Key Vault
    for the HF token)."""
    resource_group: str | None = None
    """Existing resource group for the created resources; a new one when unset."""
    customer_managed_key: CustomerManagedKeyConfig | None = None

    @model_validator(mode="after")
    def _existing_is_existing(self) -> WorkspaceConfig:
        if self.id is not None and (self.resource_group is not None or self.customer_managed_key is not None):
            raise ValueError("with an existing workspace id, resourceGroup and customerManagedKey "
                             "belong to that workspace; remove them")
        return self


_DEFAULT_VARIANTS = [VariantConfig(name="blue", traffic=100)]


class AzureMlDeployment(DeploymentBase):
    """A deployment on stage ``azureml``."""

    stage_value: ClassVar[Stage] = Stage.AZUREML
    stage: Literal[Stage.AZUREML]
    instance_type: str
    """VM SKU of every variant that does not set its own (``components/data/instances/azureml.yaml``)."""
    auth_mode: Literal["key", "aadToken"] = "key"
    """``key``: endpoint keys. ``aadToken``: Microsoft Entra tokens with RBAC (recommended for prod)."""
    container: ContainerConfig
    variants: Annotated[list[VariantConfig], Field(min_length=1, max_length=20)] = _DEFAULT_VARIANTS
    scaling: AzureMlScaling = AzureMlScaling()
    request_timeout_ms: Annotated[int, Field(ge=1, le=180_000)] = 90_000
    """Per-request timeout; Azure ML allows at most 180000 ms."""
    max_concurrent_requests_per_instance: Annotated[int, Field(ge=1, le=1000)] = 16
    """Requests in flight per instance; TGI and vLLM batch them, so well above 1."""
    probes: ProbeConfig = ProbeConfig()
    alerts: AlertConfig = AlertConfig()
    workspace: WorkspaceConfig = WorkspaceConfig()

    @field_validator("instance_type")
    @classmethod
    def _known_instance_type(cls, value: str) -> str:
        return _check_instance_type(value)

    @field_validator("variants")
    @classmethod
    def _traffic_split(cls, variants: list[VariantConfig]) -> list[VariantConfig]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {names}")
        live = sum(v.traffic for v in variants)
        if live not in (0, 100):
            raise ValueError(f"traffic must sum to 100 across variants, or 0 before any is live (got {live}: "
                             + ", ".join(f"{v.name}={v.traffic}" for v in variants) + ")")
        mirrored = sum(v.mirror_traffic for v in variants)
        if mirrored > 50:
            raise ValueError(f"mirrorTraffic must sum to at most 50 (got {mirrored})")
        shadows = [v.name for v in variants if v.mirror_traffic]
        if len(shadows) > 1:
            # Azure ML safe rollout: "You can mirror traffic to only one deployment in an endpoint."
            raise ValueError(f"mirrorTraffic is set on {', '.join(shadows)}; an Azure ML endpoint mirrors "
                             "traffic to one deployment only: keep it on one variant")
        return variants

    @model_validator(mode="after")
    def _gpu_metric_needs_gpu(self) -> AzureMlDeployment:
        for variant, instance_type, scaling in zip(self.variants, self.instance_types(), self.scalings(), strict=True):
            if scaling.gpu_utilization_pct is None or scaling.max == scaling.min:
                continue
            if catalog.load("azureml").get(instance_type).gpu_count == 0:
                raise ValueError(f"variant {variant.name!r}: gpuUtilizationPct needs a GPU instance, but "
                                 f"{instance_type} has none; set scaling.gpuUtilizationPct: null and use "
                                 "cpuUtilizationPct or latencyP95Ms")
        return self

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """In private mode the managed network approves outbound hosts one by one: an image whose
        registry's hosts scalepath does not know could never be pulled."""
        if stack.network.mode != "private":
            return []
        images = [("container.image", self.container.image)] + [
            (f"variants[{i}].image", v.image) for i, v in enumerate(self.variants) if v.image]
        return [ConfigIssue(f"scalepath:deployments[{index}].{key}", (
            f"private mode allows outbound traffic only to approved hosts, and the hosts of registry "
            f"{image_registry(image)!r} are unknown (components/data/azureml_egress.yaml knows "
            f"{', '.join(known_registries())}); import the image into an Azure Container Registry "
            "(*.azurecr.io, reached through a private endpoint) or use one of those registries"))
            for key, image in images if registry_egress(image) is None]

    def adapter_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Adapters load on a pinned TGI image only (``LORA_ADAPTERS``), from Hub repos its launcher
        downloads at start, on every variant (docs/stages/azureml.md, *LoRA adapters*)."""
        if self.container.server != "tgi":
            return [(("container", "server"), (
                "the stage passes adapters to TGI's launcher (LORA_ADAPTERS) only; a vLLM image built the "
                "Azure ML sample's way runs a vLLM release scalepath does not see, so which --lora-modules "
                "forms it parses is unknown; use server: tgi with a TGI image of "
                f"{tgi_lora.data()['since']} or newer"))]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        images = [(("container", "image"), self.container.image)] + [
            (("variants", i, "image"), v.image) for i, v in enumerate(self.variants) if v.image]
        problems += [(key, problem) for key, image in images if (problem := tgi.image_problem(image))]
        problems += [(("variants", i, "model"), (
            "adapters are LoRAs of the deployment's model and every variant loads them; a variant serving "
            "another model would load them onto the wrong base; remove model here or the adapters"))
            for i, v in enumerate(self.variants) if v.model and v.model != self.model]
        if tgi_lora.data()["variable"] in self.container.env:
            problems.append((("container", "env", tgi_lora.data()["variable"]),
                             "set by the stage from adapters; remove it here"))
        problems += tgi.source_problems(self, (
            "Azure ML's TGI container downloads Hub adapters only (nothing copies a bucket or blob prefix "
            "into it); publish the adapter as a Hub repo (the stack's hfToken reaches the container for a "
            "private one) or serve it on eks-vllm/gke-vllm"))
        return problems

    def needs(self) -> tuple[Needs, ...]:
        """One per variant: its SKU and model; TGI and vLLM shard over every GPU of the SKU."""
        table = catalog.load("azureml")
        found = []
        for i, (variant, instance_type) in enumerate(zip(self.variants, self.instance_types(), strict=True)):
            spec = table.get(instance_type)
            key = f"variants[{i}].instanceType" if variant.instance_type else "instanceType"
            image_key = f"variants[{i}].image" if variant.image else "container.image"
            found.append(Needs(
                model=variant.model or self.model, params_b=None, gpus=spec.gpu_count,
                gpu_memory_gib=spec.gpu_memory_gib, hardware=instance_type, hardware_key=key,
                quantized=_quantized(self.container.env), tensor_parallel=max(spec.gpu_count, 1),
                tensor_parallel_key=key,
                tensor_parallel_fix=("The server shards over every GPU of the SKU (NUM_SHARD, "
                                     "--tensor-parallel-size): choose a SKU with one of those GPU counts."),
                weights=WeightsFrom.CLOUD_COPY if variant.registered_model else WeightsFrom.HUB,
                hub_token=HubToken.STACK_SECRET, weights_key=f"variants[{i}].registeredModel",
                context=self.container.max_total_tokens, context_key="container.maxTotalTokens",
                # TGI loads every adapter on the GPU at start (adapter_problems refuses them elsewhere).
                extra_gib=tgi_lora.adapters_gib(self.model, self.lora_adapters(), max(spec.gpu_count, 1)) or 0.0,
                launch=self._launch(variant, spec.gpu_count, image_key)))
        return tuple(found)

    def _launch(self, variant: VariantConfig, gpus: int, image_key: str) -> Launch:
        """A known image's own entrypoint; else the one ``container.server`` promises (TGI's
        launcher, or Azure ML's vLLM sample convention)."""
        image = variant.image or self.container.image
        user = self.container.env
        generated = [name for name in _server_env(self, variant, gpus) if name not in user]
        return Launch(
            entrypoint=server_env.table().of_image(image) or _ENTRYPOINTS[self.container.server],
            env=(*((name, image_key) for name in generated), *((name, f"container.env.{name}") for name in user)),
            fix=("Managed online deployments pass a container no arguments: for server: vllm build an image FROM "
                 "vllm/vllm-openai whose entrypoint runs `python3 -m vllm.entrypoints.openai.api_server --model "
                 "$MODEL_NAME $VLLM_ARGS` (Azure ML's vLLM sample) and set the image to it; for server: tgi use a "
                 "TGI image (it reads MODEL_ID)."))

    def instance_types(self) -> list[str]:
        """The SKU of each variant, in order."""
        return [v.instance_type or self.instance_type for v in self.variants]

    def scalings(self) -> list[AzureMlScaling]:
        """The scaling of each variant, in order."""
        return [v.scaling or self.scaling for v in self.variants]

    def clouds(self) -> set[Cloud]:
        return {Cloud.AZURE}


#: What ``container.server`` promises of an image scalepath does not know (``components/data/server_env.yaml``).
_ENTRYPOINTS = {"tgi": "tgi", "vllm": "azureml-vllm"}


def _quantized(env: Mapping[str, str]) -> bool:
    """Whether ``container.env`` loads the weights below 16 bits (TGI ``QUANTIZE``, vLLM ``--quantization``)."""
    return "QUANTIZE" in env or "--quantization" in env.get("VLLM_ARGS", "")


@dataclass(frozen=True)
class _Server:
    port: int
    health_path: str
    scoring_path: str


# Both servers expose /health and serve the OpenAI API at /v1/...; scoring "/" forwards the
# endpoint's /score to the server root, and other paths pass through unchanged.
_SERVERS = {"tgi": _Server(80, "/health", "/"), "vllm": _Server(8000, "/health", "/")}


def _port(container: ContainerConfig) -> int:
    return container.port if container.port is not None else _SERVERS[container.server].port


def _server_env(deployment: AzureMlDeployment, variant: VariantConfig, gpus: int) -> dict[str, str]:
    c = deployment.container
    port = _port(c)
    model = MODEL_MOUNT_PATH if variant.registered_model else (variant.model or deployment.model)
    if c.server == "tgi":
        env = {"MODEL_ID": model, "PORT": str(port), "NUM_SHARD": str(max(gpus, 1))}
        if c.max_input_tokens is not None:
            env["MAX_INPUT_TOKENS"] = str(c.max_input_tokens)
        if c.max_total_tokens is not None:
            env["MAX_TOTAL_TOKENS"] = str(c.max_total_tokens)
        env.update(tgi_lora.env(deployment.lora_adapters()))
    else:
        vllm_args = [f"--port {port}", f"--tensor-parallel-size {max(gpus, 1)}"]
        if c.max_total_tokens is not None:
            vllm_args.append(f"--max-model-len {c.max_total_tokens}")
        env = {"MODEL_NAME": model, "VLLM_ARGS": " ".join(vllm_args)}
    return {**env, **c.env}


def _autoscale(scaling: AzureMlScaling) -> AzureMlAutoscale:
    return AzureMlAutoscale(
        min_instances=scaling.min,
        max_instances=scaling.max,
        gpu_utilization_pct=scaling.gpu_utilization_pct,
        cpu_utilization_pct=scaling.cpu_utilization_pct,
        latency_p95_ms=scaling.latency_p95_ms,
        scale_out_cooldown_minutes=scaling.scale_out_cooldown_minutes,
        scale_in_cooldown_minutes=scaling.scale_in_cooldown_minutes,
    )


def _variant(deployment: AzureMlDeployment, variant: VariantConfig, instance_type: str,
             scaling: AzureMlScaling) -> AzureMlVariant:
    c = deployment.container
    server = _SERVERS[c.server]
    gpus = catalog.load("azureml").get(instance_type).gpu_count
    return AzureMlVariant(
        name=variant.name,
        traffic=variant.traffic,
        mirror_traffic=variant.mirror_traffic,
        instance_type=instance_type,
        registered_model=variant.registered_model,
        autoscale=_autoscale(scaling),
        container=AzureMlContainer(
            image=variant.image or c.image,
            port=_port(c),
            liveness_path=server.health_path,
            readiness_path=server.health_path,
            scoring_path=server.scoring_path,
            env=_server_env(deployment, variant, gpus),
            openai_compatible=True,
        ),
    )


def _private_network(ctx: StackContext) -> AzurePrivateNetwork:
    spec = ctx.spec
    net = spec.network.azure or AzureNetwork()
    return AzurePrivateNetwork("azure-network", AzurePrivateNetworkArgs(
        location=spec.targets.azure_location or "",
        vnet_cidr=str(net.vnet_cidr),
        subnet_cidr=str(net.subnet_cidr),
        resource_group_name=net.resource_group,
        tags=ctx.tags(),
    ))


def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, pulumi.Input[Any]]:
    """One :class:`AzureMlEndpoint` per deployment; private stacks share one VNet."""
    assert isinstance(deployment, AzureMlDeployment)
    spec = ctx.spec
    private = spec.network.mode == "private"
    variants = [_variant(deployment, v, t, s) for v, t, s in
                zip(deployment.variants, deployment.instance_types(), deployment.scalings(), strict=True)]
    net = ctx.shared("azure-private-network", lambda: _private_network(ctx)) if private else None
    cmk = deployment.workspace.customer_managed_key
    # Parse guarantees the Azure targets for a stack with Azure deployments.
    location, subscription = spec.targets.azure_location, spec.targets.azure_subscription_id
    assert location and subscription
    endpoint = AzureMlEndpoint(deployment.name, AzureMlEndpointArgs(
        location=location,
        subscription_id=subscription,
        auth_mode={"key": "Key", "aadToken": "AADToken"}[deployment.auth_mode],
        variants=variants,
        request_timeout_ms=deployment.request_timeout_ms,
        max_concurrent_requests_per_instance=deployment.max_concurrent_requests_per_instance,
        probes=AzureMlProbes(**deployment.probes.model_dump()),
        alerts=AzureMlAlerts(
            latency_p95_ms=deployment.alerts.latency_p95_ms,
            errors_5xx_per_minute=deployment.alerts.errors_5xx_per_minute,
            notify=spec.budget.notify,
        ),
        tags=ctx.tags(deployment),
        existing_workspace_id=deployment.workspace.id,
        resource_group_name=deployment.workspace.resource_group,
        customer_managed_key=CustomerManagedKey(key_vault_id=cmk.key_vault_id, key_uri=cmk.key_uri) if cmk else None,
        private_network=AzureMlPrivateNetwork(
            resource_group_name=net.resource_group_name, subnet_id=net.subnet_id,
            dns_zone_ids=net.dns_zone_ids) if net else None,
        hf_token=pulumi.Config("scalepath").require_secret("hfToken") if "hfToken" in spec.secrets else None,
        # Prod keeps deleted vaults recoverable for the maximum; elsewhere the name frees up sooner.
        key_vault_retention_days=90 if spec.environment is Environment.PROD else 7,
        # check_in_stack refused private images whose registry hosts are unknown.
        # TGI downloads adapters from the Hub even when every variant's weights are a model asset.
        extra_outbound_fqdns=sorted({h for v in variants for h in registry_egress(v.container.image) or ()}
                                    | set(hf_hub_hosts() if deployment.adapters else ())),
    ))
    return {
        "endpointName": endpoint.endpoint_name,
        "endpointId": endpoint.endpoint_id,
        "scoringUri": endpoint.scoring_uri,
        "openaiBaseUrl": endpoint.openai_base_url,
        "workspaceName": endpoint.workspace_name,
    }


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """The endpoint's OpenAI route with Entra tokens (``aadToken``); endpoint keys are generated by
    Azure and a gateway cannot hold them. Private mode: inside the stack's VNet only."""
    assert isinstance(deployment, AzureMlDeployment)
    auth = Auth(grant=Grant(kind=GrantKind.AZURE_ENDPOINT_ROLE, export="endpointId"))
    if deployment.auth_mode == "key":
        auth = Auth(unusable=Fix(key="authMode", text=(
            f"the gateway calls {deployment.name!r} with its managed identity; set authMode: aadToken")))
    reach = Reach(scope=Scope.PUBLIC)
    if stack.network.mode == "private":
        reach = Reach(scope=Scope.NETWORK, cloud=Cloud.AZURE,
                      caller_needs="the stack's Azure VNet: the workspace takes requests only through its private "
                                   "endpoint, resolved by the VNet's private DNS zones")
    return StageContract(
        deployment=deployment.name, protocols=frozenset({Protocol.CHAT}),
        access=Access(kind=AccessKind.AZURE_ENTRA, address="openaiBaseUrl", served_model=deployment.model,
                      # TGI picks an adapter by the request's `model`: its repo id.
                      adapters=tgi.served_adapters(deployment)),
        auth=auth, reach=reach, limits=Limits(response_seconds=deployment.request_timeout_ms / 1000),
        replica_price=hourly_price("azureml", deployment.instance_type, stack.targets.azure_location))


DEFINITION = StageDef(settings=AzureMlDeployment, build=build, contract=contract)
