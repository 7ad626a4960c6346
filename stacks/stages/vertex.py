"""Stage ``vertex``: a Hugging Face model on a Vertex AI endpoint (Model Garden deployment).

Config (``scalepath:deployments[i]`` with ``stage: vertex``) is validated here, including the
machine/accelerator combination against the ``vertex`` catalogue; the region (``gcp:region``)
and the KMS key's location depend on stack-level keys, so ``check_in_stack`` checks them when
``parse_spec`` runs, before any resource of the stack exists.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, PositiveInt, StringConstraints, ValidationInfo, field_validator

from components import catalog
from components.catalog import hourly_price
from components.gcp.vertex import (
    FAMILY,
    VertexAlertArgs,
    VertexContainerArgs,
    VertexEndpoint,
    VertexEndpointArgs,
    VertexPrivateArgs,
    catalog_key,
    machine_spec,
    unsupported_region,
)
from components.names import dns_label
from components.tagging import gcp_labels
from stacks import gcp as gcp_stack
from stacks.config import Cloud, DeploymentBase, Scaling, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import Access, AccessKind, Auth, Fix, Grant, GrantKind, Protocol, Reach, Scope, StageContract
from stacks.errors import ConfigIssue
from stacks.model import ConfigModel
from stacks.needs import HubToken, Needs, WeightsFrom, flag_value
from stacks.secret_env import secret_env_names
from stacks.stages.base import StageDef

#: Accelerators that attach to N1 machines; other GPUs come built into their machine family.
AttachableAccelerator = Literal["NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100"]

KmsKeyId = Annotated[str, StringConstraints(
    pattern=r"^projects/[^/]+/locations/[a-z0-9-]+/keyRings/[^/]+/cryptoKeys/[^/]+$")]

ImageUri = Annotated[str, StringConstraints(
    pattern=r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)/[^\s]+$")]
"""Vertex pulls serving images only from Artifact Registry or Container Registry."""

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

class VertexAccelerator(ConfigModel):
    """GPUs attached to an N1 machine (``machineSpec.acceleratorType/Count``)."""

    type: AttachableAccelerator
    count: Literal[1, 2, 4, 8] = 1


class VertexScaling(Scaling):
    """Replica bounds plus the autoscaling target Vertex scales on."""

    target_utilization_pct: Annotated[int, Field(ge=1, le=100)] = 60
    """Accelerator duty cycle (CPU utilisation on CPU-only nodes) Vertex keeps replicas at."""

    @field_validator("min")
    @classmethod
    def _no_scale_to_zero(cls, value: int) -> int:
        if value < 1:
            raise ValueError("Vertex AI dedicated endpoints cannot scale to zero; set min >= 1 "
                             "(stages hf-serverless and hf-endpoint can)")
        return value


class VertexContainer(ConfigModel):
    """A custom serving container instead of Model Garden's default vLLM/TGI image."""

    image_uri: ImageUri
    args: list[str] = []
    env: dict[EnvName, str] = {}
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    predict_route: Annotated[str, StringConstraints(pattern=r"^/")] | None = None
    health_route: Annotated[str, StringConstraints(pattern=r"^/")] = "/health"
    shared_memory_size_mb: PositiveInt | None = None
    startup_timeout_seconds: Annotated[int, Field(ge=60, le=7200)] = 3600
    """Weights may take this long to load before the deployment fails (Vertex max 2 h)."""

    @field_validator("env")
    @classmethod
    def _no_secrets_in_env(cls, env: dict[str, str]) -> dict[str, str]:
        bad = secret_env_names(env)
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: Vertex container env is stored in plain text; set the HF "
                "token with `pulumi config set --secret scalepath:hfToken` (stored in Secret "
                "Manager) and keep other credentials out of env")
        return env


class VertexAlerts(ConfigModel):
    """Alert thresholds for the endpoint's Cloud Monitoring policies."""

    latency_p95_ms: PositiveInt = 10_000
    """p95 online prediction latency above this (ms) for a whole window alerts."""
    errors: PositiveInt = 5
    """More prediction errors than this within one window alerts."""
    window_minutes: Annotated[int, Field(ge=1, le=60)] = 5


class VertexDeployment(DeploymentBase):
    """``stage: vertex`` settings."""

    stage_value: ClassVar[Stage] = Stage.VERTEX

    stage: Literal[Stage.VERTEX]
    machine_type: str
    """Vertex machine type, e.g. ``g2-standard-12`` (L4), ``a2-highgpu-1g`` (A100),
    ``n1-standard-8`` (add ``accelerator`` for T4/V100)."""
    accelerator: VertexAccelerator | None = Field(default=None, validate_default=True)
    """Attached GPUs, for N1 machines only."""
    scaling: VertexScaling = VertexScaling()
    spot: bool = False
    """Serve on Spot capacity: cheaper, but nodes can be preempted."""
    accept_eula: bool = False
    """Accept the model's licence in Model Garden (needed for licensed/gated models)."""
    hf_cache: bool = False
    """Deploy from Vertex's cached copy of the model instead of downloading from the Hub."""
    container: VertexContainer | None = None
    kms_key: KmsKeyId | None = None
    """Cloud KMS key in ``gcp:region`` for the HF token secret (the endpoint itself cannot
    take CMEK through pulumi-gcp; see docs/stages/vertex.md)."""
    alerts: VertexAlerts = VertexAlerts()

    @field_validator("machine_type")
    @classmethod
    def _known_machine(cls, value: str) -> str:
        keys = catalog.load(FAMILY).instances
        if not any(k.split("+", 1)[0] == value for k in keys):
            machines = sorted({k.split("+", 1)[0] for k in keys})
            raise ValueError(f"unknown Vertex machine type {value!r}; known: {', '.join(machines)}")
        return value

    @field_validator("accelerator")
    @classmethod
    def _valid_combination(cls, value: VertexAccelerator | None, info: ValidationInfo) -> Any:
        machine = info.data.get("machine_type")
        if machine is None:  # machineType itself was invalid; reported there
            return value
        key = catalog_key(machine, value.type if value else None, value.count if value else 0)
        rows = catalog.load(FAMILY).instances
        if key in rows:
            return value
        options = [k for k in rows if k.split("+", 1)[0] == machine]
        described = []
        for option in options:
            _, acc, count = machine_spec(option)
            if "+" in option:
                described.append(f"{{type: {acc}, count: {count}}}")
            else:
                described.append(f"none ({count}x {acc} built in)" if acc else "none (CPU only)")
        raise ValueError(f"{machine} does not take accelerator "
                         f"{'none' if value is None else f'{value.count}x {value.type}'}; "
                         f"valid for {machine}: {', '.join(described)}")

    @property
    def instance_type(self) -> str:
        """The ``vertex`` catalogue key this deployment runs on (what the cost model prices)."""
        acc = self.accelerator
        return catalog_key(self.machine_type, acc.type if acc else None, acc.count if acc else 0)

    def clouds(self) -> set[Cloud]:
        return {Cloud.GCP}

    def needs(self) -> tuple[Needs, ...]:
        spec = catalog.load(FAMILY).get(self.instance_type)
        args = self.container.args if self.container else []
        # Model Garden's serving container shards over every GPU of the machine; a custom one as its args say.
        shards = flag_value(args, "--tensor-parallel-size") or (1 if self.container else spec.gpu_count)
        key = "accelerator" if self.accelerator else "machineType"
        return (Needs(
            model=self.model, params_b=None, gpus=spec.gpu_count, gpu_memory_gib=spec.gpu_memory_gib,
            hardware=self.instance_type, hardware_key=key, quantized=any("quantiz" in a for a in args),
            tensor_parallel=max(shards, 1),
            tensor_parallel_key="container.args" if self.container else key,
            tensor_parallel_fix=("Set --tensor-parallel-size in container.args to one of them." if self.container
                                 else "Model Garden shards over every GPU of the machine: choose a machine with "
                                      "one of those GPU counts."),
            weights=WeightsFrom.CLOUD_COPY if self.hf_cache else WeightsFrom.HUB,
            hub_token=HubToken.STACK_SECRET, weights_key=None,
            context=flag_value(args, "--max-model-len") or flag_value(args, "--max-total-tokens"),
            context_key="container.args"),)

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """The machine/accelerator must be offered in ``gcp:region``, and the KMS key must be
        in that region (the secret replica lives there)."""
        region = stack.targets.gcp_region or ""
        issues = []
        problem = unsupported_region(self.instance_type, region)
        if problem:
            issues.append(ConfigIssue("gcp:region", f"deployments[{index}] ({self.name}): {problem}; "
                                      "choose another machineType or region"))
        if self.kms_key and self.kms_key.split("/")[3] != region:
            issues.append(ConfigIssue(
                f"scalepath:deployments[{index}].kmsKey",
                f"key is in {self.kms_key.split('/')[3]!r} but the secret replica lives in "
                f"gcp:region {region!r}; use a key ring in {region}"))
        return issues


def _psc_policy(ctx: StackContext) -> gcp.networkconnectivity.ServiceConnectionPolicy:
    """One ``gcp-vertexai`` service connection policy per stack: lets Vertex create PSC
    endpoints in our subnet (PSC automation)."""
    network = gcp_stack.network(ctx)

    def create() -> gcp.networkconnectivity.ServiceConnectionPolicy:
        return gcp.networkconnectivity.ServiceConnectionPolicy(
            "network-gcp-vertexai-psc",
            project=gcp_stack.project(ctx),
            location=gcp_stack.region(ctx),
            name=dns_label(f"{ctx.spec.stack_tag}-vertexai", 63),
            service_class="gcp-vertexai",
            network=network.network_id,
            psc_config=gcp.networkconnectivity.ServiceConnectionPolicyPscConfigArgs(
                subnetworks=[network.subnet_id]),
            labels=gcp_labels(ctx.tags()),
            description="scalepath: Vertex AI PSC endpoints for private serving",
            opts=pulumi.ResourceOptions(depends_on=gcp_stack.services(
                ctx, ["networkconnectivity.googleapis.com"])),
        )

    return ctx.shared("gcp-psc-policy-vertexai", create)


def build(deployment: DeploymentBase, ctx: StackContext) -> dict[str, Any]:
    """Create the deployment's :class:`VertexEndpoint`; return its endpoint ids and URLs."""
    assert isinstance(deployment, VertexDeployment)
    private = ctx.spec.network.mode == "private"
    has_token = "hfToken" in ctx.spec.secrets
    apis = ["aiplatform.googleapis.com", "monitoring.googleapis.com"]
    if has_token:
        apis.append("secretmanager.googleapis.com")
    if deployment.kms_key:
        apis.append("cloudkms.googleapis.com")
    depends: list[pulumi.Resource] = list(gcp_stack.services(ctx, apis))
    private_args = None
    if private:
        network_config = ctx.spec.network.gcp
        depends.append(_psc_policy(ctx))
        private_args = VertexPrivateArgs(
            network_id=gcp_stack.network(ctx).network_id,
            allowed_projects=network_config.psc_allowed_projects if network_config else [],
            project_number=gcp_stack.project_number(ctx),
            dns_zone=gcp_stack.psc_dns_zone(ctx).name,
        )
    container = deployment.container
    endpoint = VertexEndpoint(deployment.name, VertexEndpointArgs(
        project=gcp_stack.project(ctx),
        region=gcp_stack.region(ctx),
        model=deployment.model,
        instance_type=deployment.instance_type,
        min_replicas=deployment.scaling.min,
        max_replicas=deployment.scaling.max,
        target_utilization_pct=deployment.scaling.target_utilization_pct,
        spot=deployment.spot,
        accept_eula=deployment.accept_eula,
        hf_token=pulumi.Config("scalepath").require_secret("hfToken") if has_token else None,
        hf_cache=deployment.hf_cache,
        container=VertexContainerArgs(
            image_uri=container.image_uri,
            args=tuple(container.args),
            env=dict(container.env),
            port=container.port,
            predict_route=container.predict_route,
            health_route=container.health_route,
            shared_memory_size_mb=container.shared_memory_size_mb,
            startup_timeout_s=container.startup_timeout_seconds,
        ) if container else None,
        private=private_args,
        kms_key=deployment.kms_key,
        alerts=VertexAlertArgs(
            latency_p95_ms=deployment.alerts.latency_p95_ms,
            errors=deployment.alerts.errors,
            window_s=deployment.alerts.window_minutes * 60,
            channels=gcp_stack.alert_channels(ctx),
        ),
        tags=ctx.tags(deployment),
        depends_on=tuple(depends),
    ))
    return {
        "stage": Stage.VERTEX.value,
        "endpointId": endpoint.endpoint_id,
        "endpointName": endpoint.endpoint_name,
        "predictionUrl": endpoint.prediction_url,
        "openaiBaseUrl": endpoint.openai_base_url,
        "pscIpAddress": endpoint.psc_ip_address,
        "pscHostname": endpoint.psc_hostname,
        "private": private,
    }


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """Model Garden's OpenAI-compatible route with the caller's Google credentials. Private mode:
    Private Service Connect, reached only at the endpoint's PSC address inside the VPC."""
    assert isinstance(deployment, VertexDeployment)
    reach = Reach(scope=Scope.PUBLIC)
    if stack.network.mode == "private":
        reach = Reach(
            scope=Scope.PRIVATE_ADDRESS, cloud=Cloud.GCP,
            caller_needs="the stack's VPC, sending to the endpoint's Private Service Connect address "
                         "(exports pscIpAddress, pscHostname) instead of aiplatform.googleapis.com",
            fix=Fix(key="/network.mode", text=(
                f"Vertex endpoint {deployment.name!r} is behind Private Service Connect, which takes private "
                "traffic to its PSC address only, and the gateway calls the public aiplatform.googleapis.com "
                "URL; leave it out of gateway routes (call it from the VPC), use network.mode: public, or "
                "serve the model with gke-vllm")))
    return StageContract(
        deployment=deployment.name, protocols=frozenset({Protocol.CHAT}),
        access=Access(kind=AccessKind.VERTEX_OPENAI, address="endpointId", served_model=deployment.model),
        auth=Auth(grant=Grant(kind=GrantKind.GCP_ENDPOINT_USER, export="endpointId")), reach=reach,
        replica_price=hourly_price(FAMILY, deployment.instance_type, stack.targets.gcp_region, spot=deployment.spot))


DEFINITION = StageDef(settings=VertexDeployment, build=build, contract=contract)
