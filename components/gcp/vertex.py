"""Vertex AI endpoint serving a Hugging Face model (``scalepath:index:VertexEndpoint``).

The model is deployed with ``gcp.vertex.AiEndpointWithModelGardenDeployment``
(``hugging_face_model_id``): Vertex creates the endpoint, uploads the model and deploys it on
dedicated nodes, with Model Garden's vLLM/TGI container or a custom serving container.
Around it: the HF token in Secret Manager (optionally CMEK-encrypted), Private Service Connect
in private mode, and alert policies on p95 latency and errors.

What pulumi-gcp 10.x cannot express (so this component cannot either; see
docs/stages/vertex.md): labels, ``encryption_spec`` and VPC-peering
``network`` on the Model Garden deployment; a separate model upload / deployed-model
resource for ``gcp.vertex.AiEndpoint``; in-place updates (the resource has no import and
replaces on change).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components import catalog
from components.files import load_data
from components.secret_store import store_name
from components.tagging import gcp_labels

FAMILY = "vertex"

#: Catalogue GPU names -> Vertex ``machineSpec.acceleratorType``.
ACCELERATOR_TYPES: dict[str, str] = {
    "T4": "NVIDIA_TESLA_T4",
    "V100": "NVIDIA_TESLA_V100",
    "L4": "NVIDIA_L4",
    "A100": "NVIDIA_TESLA_A100",
    "A100-80GB": "NVIDIA_A100_80GB",
    "H100": "NVIDIA_H100_80GB",
}

_REGIONS_FILE = Path(__file__).parents[1] / "data" / "vertex_regions.yaml"

#: Domain of Vertex PSC endpoint names; the endpoints' certificate is for ``*.`` + this.
VERTEX_PSC_DOMAIN = "prediction.p.vertexai.goog"

#: Vertex metric types the alert policies watch (resource type ``aiplatform.googleapis.com/Endpoint``).
LATENCY_METRIC = "aiplatform.googleapis.com/prediction/online/prediction_latencies"
ERROR_METRIC = "aiplatform.googleapis.com/prediction/online/error_count"


def catalog_key(machine_type: str, accelerator_type: str | None = None, count: int = 0) -> str:
    """The ``vertex`` catalogue key: the machine type, or ``<machine>+<count>x<gpu>`` for
    machines with attached accelerators (N1 + T4/V100)."""
    if accelerator_type is None:
        return machine_type
    gpu = next((k for k, v in ACCELERATOR_TYPES.items() if v == accelerator_type), accelerator_type)
    return f"{machine_type}+{count}x{gpu}"


def machine_spec(instance_type: str) -> tuple[str, str | None, int]:
    """``(machineType, acceleratorType or None, acceleratorCount)`` of a catalogue row.

    Raises :class:`components.catalog.UnknownInstanceType` for rows the catalogue lacks.
    """
    row = catalog.load(FAMILY).get(instance_type)
    machine_type = instance_type.split("+", 1)[0]
    if row.gpu_count == 0 or row.gpu is None:
        return machine_type, None, 0
    return machine_type, ACCELERATOR_TYPES[row.gpu], row.gpu_count


@cache
def prediction_regions() -> dict[str, list[str]]:
    """Regions offering each accelerator type (``CPU`` for CPU-only nodes) for online prediction."""
    return load_data(_REGIONS_FILE)["accelerators"]


def unsupported_region(instance_type: str, region: str) -> str | None:
    """Why ``instance_type`` cannot serve in ``region``, or ``None`` when it can."""
    _, accelerator, _ = machine_spec(instance_type)
    kind = accelerator or "CPU"
    regions = prediction_regions().get(kind, [])
    if region in regions:
        return None
    return (f"{kind} nodes ({instance_type}) are not offered for Vertex AI prediction in "
            f"{region!r}; regions offering them: {', '.join(regions)}")


@dataclass(frozen=True, kw_only=True)
class VertexContainerArgs:
    """A serving container replacing Model Garden's default (vLLM/TGI) image."""

    image_uri: str
    """Artifact Registry / Container Registry image (Vertex pulls from nowhere else)."""
    args: Sequence[str] = ()
    """Container arguments (e.g. vLLM ``--max-model-len``); ``$(VAR)`` expands env vars."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Plain environment (never secrets: Vertex has no secret reference for env)."""
    port: int = 8080
    """Port the server listens on."""
    predict_route: str | None = None
    """HTTP path Vertex forwards predictions to (``None``: the container default)."""
    health_route: str = "/health"
    """HTTP path of the readiness check; also the startup probe's path."""
    shared_memory_size_mb: int | None = None
    """``/dev/shm`` size; tensor-parallel vLLM/NCCL needs several GiB."""
    startup_timeout_s: int = 3600
    """How long weights may take to load before the deployment fails (Vertex caps at 2 h)."""


@dataclass(frozen=True, kw_only=True)
class VertexPrivateArgs:
    """Private Service Connect: no public endpoint; a PSC endpoint in our VPC."""

    network_id: pulumi.Input[str]
    """VPC for the automated PSC endpoint, ``projects/<p>/global/networks/<n>``."""
    allowed_projects: Sequence[str]
    """Projects allowed to connect (the endpoint's own project is always added)."""
    project_number: pulumi.Input[str]
    """Number of the endpoint's project: part of the endpoint's PSC host name."""
    dns_zone: pulumi.Input[str]
    """Name of the private Cloud DNS zone for :data:`VERTEX_PSC_DOMAIN` on ``network_id``."""


@dataclass(frozen=True, kw_only=True)
class VertexAlertArgs:
    """Alert thresholds and who hears about them."""

    latency_p95_ms: float
    """Alert when p95 online prediction latency exceeds this many milliseconds."""
    errors: int
    """Alert when more than this many prediction errors occur within ``window_s``."""
    window_s: int
    """Alignment window and, for latency, how long the breach must last."""
    channels: Sequence[pulumi.Input[str]]
    """Monitoring notification channel names (``projects/<p>/notificationChannels/<id>``)."""


@dataclass(frozen=True, kw_only=True)
class VertexEndpointArgs:
    """Everything a Vertex AI Hugging Face deployment needs."""

    project: str
    """Project (``gcp:project``)."""
    region: str
    """Vertex location (``gcp:region``); validated against :func:`prediction_regions`."""
    model: str
    """Hugging Face model id, ``org/name``."""
    instance_type: str
    """``vertex`` catalogue key (:func:`catalog_key`): machine type plus attached accelerators."""
    min_replicas: int
    """Nodes always running (Vertex dedicated resources cannot scale to zero: >= 1)."""
    max_replicas: int
    """Most nodes; GPU quota is charged for this many up front."""
    target_utilization_pct: int = 60
    """Autoscaling target for accelerator duty cycle (CPU utilisation on CPU-only nodes)."""
    spot: bool = False
    """Serve on Spot capacity (cheaper, preemptible)."""
    accept_eula: bool = False
    """Accept the model's licence in Model Garden (required by gated/licensed models)."""
    hf_token: pulumi.Input[str] | None = None
    """HF read token (a Pulumi secret) for gated models; stored in Secret Manager."""
    hf_cache: bool = False
    """Deploy from Vertex's cached copy instead of downloading from the Hub (VPC-SC projects)."""
    container: VertexContainerArgs | None = None
    """Custom serving container; ``None`` uses Model Garden's default for the model."""
    private: VertexPrivateArgs | None = None
    """Private Service Connect settings; ``None`` serves on the public regional endpoint."""
    kms_key: str | None = None
    """Cloud KMS key (same region) for what accepts CMEK: the HF token secret."""
    alerts: VertexAlertArgs
    """Latency and error alerting."""
    tags: Mapping[str, str]
    """Logical cost tags (:func:`components.tagging.cost_tags`), normalised to GCP labels."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources to wait for (enabled APIs, the PSC service connection policy)."""


class VertexEndpoint(pulumi.ComponentResource):
    """A Hugging Face model on a Vertex AI endpoint, with token secret, PSC and alerts."""

    endpoint_id: pulumi.Output[str]
    """Numeric endpoint id."""
    endpoint_name: pulumi.Output[str]
    """``projects/<p>/locations/<r>/endpoints/<id>``."""
    deployed_model_id: pulumi.Output[str]
    prediction_url: pulumi.Output[str]
    """``:predict`` URL, ``:rawPredict`` with a custom container (whose routes are its own); on
    the public regional host, or on the endpoint's PSC host name when private."""
    openai_base_url: pulumi.Output[str] | None
    """Base URL for OpenAI clients (``.../chat/completions``); ``None`` with a custom container."""
    psc_ip_address: pulumi.Output[str] | None
    """Internal IP of the PSC endpoint in our VPC (private mode)."""
    psc_hostname: pulumi.Output[str] | None
    """``<endpoint>-<region>-<project number>.prediction.p.vertexai.goog``, resolving to the PSC IP
    inside the VPC and matching the endpoint certificate (private mode)."""

    def __init__(self, name: str, args: VertexEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:VertexEndpoint", name, None, opts)
        labels = gcp_labels(args.tags)
        machine_type, accelerator, accelerator_count = machine_spec(args.instance_type)
        wait = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))

        if args.kms_key:
            # Said at every preview/up so nobody mistakes the key for endpoint encryption.
            pulumi.log.warn(
                "kmsKey encrypts the HF token secret only: AiEndpointWithModelGardenDeployment "
                "(pulumi-gcp) has no encryption_spec, so the endpoint and its model copy use "
                "Google-managed keys", resource=self)
        token = self._token_secret(name, args, labels, wait) if args.hf_token is not None else None
        deployment = gcp.vertex.AiEndpointWithModelGardenDeployment(
            f"{name}-deploy",
            project=args.project,
            location=args.region,
            hugging_face_model_id=args.model,
            model_config=gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigArgs(
                accept_eula=args.accept_eula,
                hugging_face_access_token=token,
                hugging_face_cache_enabled=args.hf_cache,
                model_display_name=name,
                container_spec=_container_spec(args.container) if args.container else None,
            ),
            endpoint_config=gcp.vertex.AiEndpointWithModelGardenDeploymentEndpointConfigArgs(
                endpoint_display_name=name,
                # A dedicated public DNS name is not exported by the resource, and enabling it
                # disables the shared regional host our URLs use; PSC is the private option.
                dedicated_endpoint_enabled=False,
                private_service_connect_config=_psc_config(args) if args.private else None,
            ),
            deploy_config=gcp.vertex.AiEndpointWithModelGardenDeploymentDeployConfigArgs(
                dedicated_resources=gcp.vertex.AiEndpointWithModelGardenDeploymentDeployConfigDedicatedResourcesArgs(
                    machine_spec=gcp.vertex.AiEndpointWithModelGardenDeploymentDeployConfigDedicatedResourcesMachineSpecArgs(
                        machine_type=machine_type,
                        accelerator_type=accelerator,
                        accelerator_count=accelerator_count or None,
                    ),
                    min_replica_count=args.min_replicas,
                    max_replica_count=args.max_replicas,
                    autoscaling_metric_specs=[
                        gcp.vertex.AiEndpointWithModelGardenDeploymentDeployConfigDedicatedResourcesAutoscalingMetricSpecArgs(
                            metric_name=(
                                "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
                                if accelerator else
                                "aiplatform.googleapis.com/prediction/online/cpu/utilization"
                            ),
                            target=args.target_utilization_pct,
                        )
                    ],
                    spot=args.spot,
                ),
            ),
            opts=wait,
        )

        self.endpoint_id = deployment.endpoint
        self.deployed_model_id = deployment.deployed_model_id
        path = self.endpoint_id.apply(
            lambda eid: f"projects/{args.project}/locations/{args.region}/endpoints/{eid}")
        self.endpoint_name = path
        if args.private:
            self.psc_ip_address = deployment.endpoint_config.apply(_psc_ip)
            record = self._psc_record(name, args, args.private)
            # The certificate names *.prediction.p.vertexai.goog, not the IP: HTTPS to the IP
            # fails verification, so every URL uses the record's name.
            self.psc_hostname = record.name.apply(lambda fqdn: fqdn.rstrip("."))
            host = self.psc_hostname
        else:
            self.psc_ip_address = self.psc_hostname = None
            host = pulumi.Output.from_input(f"{args.region}-aiplatform.googleapis.com")
        # A custom container's predictRoute is reached through :rawPredict, which forwards the
        # body unchanged; :predict would wrap it in {"instances": [...]}.
        verb = ":rawPredict" if args.container else ":predict"
        self.prediction_url = pulumi.Output.concat("https://", host, "/v1/", path, verb)
        # Model Garden's vLLM/TGI containers serve the Chat Completions API on v1beta1;
        # a custom container's routes are its own, so no OpenAI URL is claimed for it.
        self.openai_base_url = (
            None if args.container else pulumi.Output.concat("https://", host, "/v1beta1/", path)
        )

        self._alerts(name, args, labels)
        self.register_outputs({
            "endpoint_id": self.endpoint_id,
            "endpoint_name": self.endpoint_name,
            "deployed_model_id": self.deployed_model_id,
            "prediction_url": self.prediction_url,
            "openai_base_url": self.openai_base_url,
            "psc_ip_address": self.psc_ip_address,
            "psc_hostname": self.psc_hostname,
        })

    def _psc_record(self, name: str, args: VertexEndpointArgs, private: VertexPrivateArgs) -> gcp.dns.RecordSet:
        """``<endpoint>-<region>-<project number>.prediction.p.vertexai.goog`` -> the PSC IP."""
        fqdn = pulumi.Output.concat(self.endpoint_id, f"-{args.region}-", private.project_number,
                                    f".{VERTEX_PSC_DOMAIN}.")
        assert self.psc_ip_address is not None
        return gcp.dns.RecordSet(
            f"{name}-psc-dns",
            project=args.project,
            managed_zone=private.dns_zone,
            name=fqdn,
            type="A",
            ttl=300,
            rrdatas=[self.psc_ip_address],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _token_secret(self, name: str, args: VertexEndpointArgs, labels: dict[str, str],
                      wait: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """Store the HF token in Secret Manager; return the stored value, still a secret."""
        encryption = None
        secret_opts = wait
        if args.kms_key:
            # Secret Manager encrypts with its service agent; it needs the key before the secret.
            agent = gcp.projects.ServiceIdentity(
                f"{name}-secretmanager-agent", project=args.project,
                service="secretmanager.googleapis.com", opts=wait)
            grant = gcp.kms.CryptoKeyIAMMember(
                f"{name}-hf-token-kms", crypto_key_id=args.kms_key,
                role="roles/cloudkms.cryptoKeyEncrypterDecrypter", member=agent.member,
                opts=pulumi.ResourceOptions(parent=self))
            secret_opts = pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, grant])
            encryption = gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(
                kms_key_name=args.kms_key)
        secret = gcp.secretmanager.Secret(
            f"{name}-hf-token",
            project=args.project,
            # Secret ids are unique per GCP project: the stack's cost key keeps two stacks apart.
            secret_id=store_name("gcp", f"{args.tags['stack']}-{name}-hf-token"),
            labels=labels,
            # Pinned to the serving region: data residency, and CMEK keys are regional.
            replication=gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(replicas=[
                    gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                        location=args.region, customer_managed_encryption=encryption)
                ])
            ),
            opts=secret_opts,
        )
        version = gcp.secretmanager.SecretVersion(
            f"{name}-hf-token-v",
            secret=secret.id,
            secret_data=pulumi.Output.secret(args.hf_token),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The deploy API takes the token by value; it is read back from the stored version so
        # Secret Manager stays the one source, and it stays a Pulumi secret in state.
        return pulumi.Output.secret(version.secret_data)

    def _alerts(self, name: str, args: VertexEndpointArgs, labels: dict[str, str]) -> None:
        """p95 latency and error-count alert policies scoped to this endpoint."""
        alerts = args.alerts
        window = f"{alerts.window_s}s"

        def metric_filter(metric: str) -> pulumi.Output[str]:
            return self.endpoint_id.apply(
                lambda eid: f'resource.type = "aiplatform.googleapis.com/Endpoint" AND '
                f'resource.labels.endpoint_id = "{eid}" AND metric.type = "{metric}"')

        def policy(role: str, display_name: str, severity: str, documentation: str, condition: str,
                   metric: str, aligner: str, reducer: str, threshold: float, duration: str) -> None:
            gcp.monitoring.AlertPolicy(
                f"{name}-{role}",
                project=args.project,
                display_name=display_name,
                severity=severity,
                combiner="OR",
                notification_channels=list(alerts.channels),
                user_labels=labels,
                alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close="1800s"),
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                    mime_type="text/markdown", content=documentation),
                conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=condition,
                    condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                        filter=metric_filter(metric),
                        aggregations=[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                            alignment_period=window, per_series_aligner=aligner,
                            cross_series_reducer=reducer, group_by_fields=["resource.label.endpoint_id"],
                        )],
                        comparison="COMPARISON_GT",
                        threshold_value=threshold,
                        duration=duration,
                    ),
                )],
                opts=pulumi.ResourceOptions(parent=self),
            )

        # Latency is a distribution: sum the buckets per window, then take p95 across the
        # endpoint's deployed models.
        policy("latency-p95", f"{name}: Vertex prediction latency p95 > {alerts.latency_p95_ms:g} ms", "WARNING",
               f"p95 online prediction latency of `{args.model}` on endpoint `{name}` stayed above "
               f"{alerts.latency_p95_ms:g} ms for {window}. Check replica count against `max`, "
               "accelerator duty cycle and request sizes.",
               "p95 prediction latency", LATENCY_METRIC, "ALIGN_DELTA", "REDUCE_PERCENTILE_95",
               float(alerts.latency_p95_ms), window)
        policy("errors", f"{name}: Vertex prediction errors > {alerts.errors} per {window}", "ERROR",
               f"More than {alerts.errors} online prediction errors on endpoint `{name}` (`{args.model}`) "
               f"within {window}. Check the endpoint's logs in Cloud Logging (resource "
               "`aiplatform.googleapis.com/Endpoint`).",
               "prediction error count", ERROR_METRIC, "ALIGN_SUM", "REDUCE_SUM", float(alerts.errors), "0s")


def _container_spec(
    container: VertexContainerArgs,
) -> gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecArgs:
    period_s = 10
    return gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecArgs(
        image_uri=container.image_uri,
        args=list(container.args) or None,
        envs=[
            gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecEnvArgs(name=k, value=v)
            for k, v in container.env.items()
        ] or None,
        ports=[gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecPortArgs(
            container_port=container.port)],
        predict_route=container.predict_route,
        health_route=container.health_route,
        shared_memory_size_mb=(
            str(container.shared_memory_size_mb) if container.shared_memory_size_mb else None),
        deployment_timeout=f"{container.startup_timeout_s}s",
        # Large models load for many minutes: the probe keeps failing quietly until the
        # startup timeout instead of the default 3 x 10 s.
        startup_probe=gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecStartupProbeArgs(
            http_get=gcp.vertex.AiEndpointWithModelGardenDeploymentModelConfigContainerSpecStartupProbeHttpGetArgs(
                path=container.health_route, port=container.port),
            period_seconds=period_s,
            timeout_seconds=period_s,
            failure_threshold=math.ceil(container.startup_timeout_s / period_s),
        ),
    )


def _psc_config(
    args: VertexEndpointArgs,
) -> gcp.vertex.AiEndpointWithModelGardenDeploymentEndpointConfigPrivateServiceConnectConfigArgs:
    assert args.private is not None
    allowed = [args.project, *(p for p in args.private.allowed_projects if p != args.project)]
    return gcp.vertex.AiEndpointWithModelGardenDeploymentEndpointConfigPrivateServiceConnectConfigArgs(
        enable_private_service_connect=True,
        project_allowlists=allowed,
        # Vertex creates the forwarding rule (PSC endpoint) in our VPC; it needs the
        # gcp-vertexai service connection policy on that network and region.
        psc_automation_configs=gcp.vertex.AiEndpointWithModelGardenDeploymentEndpointConfigPrivateServiceConnectConfigPscAutomationConfigsArgs(
            project_id=args.project, network=args.private.network_id),
    )


def _psc_ip(endpoint_config: object) -> str:
    """The automated PSC endpoint's IP from the deployment's ``endpoint_config`` output."""
    psc = getattr(endpoint_config, "private_service_connect_config", None)
    automation = getattr(psc, "psc_automation_configs", None)
    ip = getattr(automation, "ip_address", None)
    if not ip:
        raise ValueError("Vertex returned no PSC endpoint IP (psc_automation_configs.ip_address); "
                         "check the service connection policy for gcp-vertexai on the network")
    return ip
