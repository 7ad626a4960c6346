"""Arguments of the ``Gateway`` component: the engine's config and where and how it runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.gateway.capacity import workers
from components.names import cloud_name
from components.secret_store import SecretStoreArgs


def physical_name(stack_tag: str) -> str:
    """The gateway's physical name (task family, topic, scrape label; Cloud Run's service name in
    its lowercase form, ``dns_label``): unique per project and stack. ``.`` (only a Pulumi project
    name can hold one) becomes ``-``: ECS task families and SNS topics take letters, digits, ``_``
    and ``-`` only. 49 characters: Cloud Run's service name limit."""
    return cloud_name(f"{stack_tag}-gateway", 49, "A-Za-z0-9_-")

#: Port the engine listens on inside its container.
PORT = 4000
LIVENESS_PATH = "/health/liveliness"
READINESS_PATH = "/health/readiness"
#: The client key as the engine reads it (``os.environ/...`` in its config).
KEY_ENV = "SCALEPATH_GATEWAY_KEY"
#: Engine settings: read the model price map from the package (no fetch at start), no .env loading,
#: and no Hugging Face Hub at run time: the engine counts tokens of streams without usage with the
#: model's tokenizer from the Hub (``Xenova/llama-3-tokenizer`` for Llama 3), ~23 s of retries
#: without internet; offline, huggingface_hub fails at once and LiteLLM counts with its bundled
#: tiktoken encoding instead (docs/architecture.md, "Gateway").
ENGINE_SETTINGS = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION", "HF_HUB_OFFLINE": "1"}
#: The engine's metric labels that name a caller, not a route: the engine leaves them out (and the
#: ECS collector drops them again before anything leaves the task).
CALLER_LABELS = ("end_user", "hashed_api_key", "api_key_alias", "client_ip", "user_agent", "user", "user_email",
                 "team", "team_alias", "org_id", "org_alias")
#: The rendered config reaches the container in this variable; the entrypoint writes it to a file
#: (ECS, Cloud Run and Container Apps mount no files), then starts the proxy.
CONFIG_ENV = "SCALEPATH_GATEWAY_CONFIG"
#: The gateway's hooks in the engine (``engine_hooks.py``): their source reaches the container in
#: ``HOOK_ENV`` and is written next to the config as ``<HOOKS_MODULE>.py``, where the engine loads
#: the callbacks its config names. In an entry's ``model_info``, ``TOKEN_CAP_KEY`` is its answer cap,
#: ``COST_PER_SECOND_KEY`` its price per second of backend time (USD) and ``DEADLINE_KEY`` the
#: seconds one attempt may take as a whole (the route's ``timeoutSeconds``).
HOOK_ENV, HOOKS_MODULE = "SCALEPATH_GATEWAY_HOOK", "scalepath_hooks"
TOKEN_CAP_KEY, COST_PER_SECOND_KEY = "scalepath_max_tokens", "scalepath_usd_per_second"
DEADLINE_KEY = "scalepath_timeout_seconds"
HOOKS_CALLBACK = f"{HOOKS_MODULE}.hooks"


def engine_command(workers: int) -> list[str]:
    """The container's command: write the config and the hook, then run the proxy with ``workers``
    processes."""
    return ["/bin/sh", "-c",
            f'printf "%s" "${CONFIG_ENV}" > /tmp/config.yaml && '
            f'printf "%s" "${HOOK_ENV}" > /tmp/{HOOKS_MODULE}.py && '
            f"exec litellm --config /tmp/config.yaml --host 0.0.0.0 --port {PORT} --num_workers {workers}"]


def hooks_source() -> str:
    """The hooks' source, run by the engine only (it imports the engine's package)."""
    return (Path(__file__).parent / "engine_hooks.py").read_text()


@dataclass(frozen=True, kw_only=True)
class BackendGrants:
    """What the gateway's identity may call: exactly the routed platform endpoints."""

    sagemaker_invoke_policy_arns: Sequence[pulumi.Input[str]] = ()
    """Each routed SageMaker endpoint's own invoke policy (that endpoint only; through the VPC
    endpoint in private mode), attached to the task/pod role."""
    vertex_endpoints: Sequence[pulumi.Input[str]] = ()
    """Vertex endpoint ids: ``roles/aiplatform.user`` on each (service account)."""
    vertex_location: str | None = None
    azureml_endpoint_ids: Sequence[pulumi.Input[str]] = ()
    """ARM ids of Azure ML online endpoints: AzureML Data Scientist on each (managed identity)."""


@dataclass(frozen=True, kw_only=True)
class BackendSecret:
    """A credential the engine calls a backend with (an HF token): stored in the runtime's secret
    store, read into the environment variable it is keyed by."""

    value: pulumi.Input[str]
    """The value, a Pulumi secret."""
    secret_name: str
    """Its name in the store."""
    description: str


@dataclass(frozen=True, kw_only=True)
class RouteAlerts:
    """When a route's alerts fire (the route's own ``gate`` criteria)."""

    route: str
    p95_latency_seconds: float
    max_error_rate: float
    """Fraction of the route's requests that fail."""
    max_fallback_rate: float
    """Fraction of the route's requests answered by a fallback."""


@dataclass(frozen=True, kw_only=True)
class MeterArgs:
    """The gateway's metrics export, alerts and dashboard (the engine's Prometheus metrics)."""

    namespace: str
    """Where the metrics go, unique per stack (CloudWatch namespace)."""
    routes: Sequence[RouteAlerts]
    monthly_budget_usd: float
    """The stack's ``budget.monthlyUsd``: a route whose spend is on pace to exceed it alerts."""
    notify: Sequence[str]
    """The budget's ``notify`` addresses: they receive the alerts."""
    channels: Sequence[pulumi.Input[str]] = ()
    """GCP: the stack's Cloud Monitoring notification channels, one per ``notify`` address."""


@dataclass(frozen=True, kw_only=True)
class KubernetesRuntime:
    """Run on a stack's EKS or GKE cluster."""

    provider: k8s.Provider
    cloud: str
    """``aws`` (EKS Pod Identity) or ``gcp`` (Workload Identity)."""
    stage: str
    """The stage of the deployment whose cluster it runs on (its ``stage`` label: what the cloud bills
    the LoadBalancer Service under)."""
    cluster_name: pulumi.Input[str]
    ready: Sequence[pulumi.Resource] = ()
    """What workloads wait for (node groups, add-ons)."""
    gcp_project: str | None = None
    aws_region: str | None = None
    """EKS: where the alert topic is (Alertmanager signs its SNS calls for this region)."""
    alertmanager_role: pulumi.Input[str] | None = None
    """EKS: the IAM role (name) the cluster's Alertmanager holds through Pod Identity; the meter
    lets it publish to the alert topic."""


@dataclass(frozen=True, kw_only=True)
class EcsRuntime:
    """ECS on Fargate behind an ALB, in the stack's VPC."""

    region: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    task_subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets of the tasks (NAT egress for the image and HF)."""
    load_balancer_subnet_ids: pulumi.Input[Sequence[str]]
    """Public subnets (internet-facing ALB) or the private ones (internal ALB)."""
    certificate_arn: str | None = None
    """ACM certificate: HTTPS on 443 (HTTP on 80 redirects); plain HTTP on 80 when unset."""


@dataclass(frozen=True, kw_only=True)
class CloudRunRuntime:
    """GCP Cloud Run."""

    project: str
    region: str


@dataclass(frozen=True, kw_only=True)
class ContainerAppsRuntime:
    """Azure Container Apps."""

    location: str
    subscription_id: str


@dataclass(frozen=True, kw_only=True)
class GatewayArgs:
    """The engine, its config, its secrets and its runtime."""

    config_text: str
    """The engine's rendered ``config.yaml`` (secrets only as ``os.environ/`` references)."""
    env: Mapping[str, pulumi.Input[str]]
    """Non-secret variables the config references (deployment URLs and ids, from their outputs)."""
    image: str
    cpu: float
    """vCPUs per replica."""
    memory_gib: float
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int
    private: bool
    """Internal-only ingress."""
    store: SecretStoreArgs
    """The runtime's cloud secret store: it receives the client key (and the HF token)."""
    key_secret_name: str
    physical_name: str
    """Name of what shares an account- or project-wide namespace per region (ECS log group and task
    family, Cloud Run service): unique per project and stack, so two stacks never collide."""
    secrets: Mapping[str, BackendSecret] = field(default_factory=dict)
    """Backend credentials by environment variable (``HF_TOKEN`` when a route calls an HF stage)."""
    tags: Mapping[str, str]
    grants: BackendGrants = field(default_factory=BackendGrants)
    meter: MeterArgs | None = None
    """Metrics export, alerts and dashboard (every runtime); none: the engine's ``/metrics`` only."""
    kubernetes: KubernetesRuntime | None = None
    ecs: EcsRuntime | None = None
    cloudrun: CloudRunRuntime | None = None
    containerapps: ContainerAppsRuntime | None = None

    def runtime(self) -> str:
        """The one runtime set."""
        chosen = [n for n in ("kubernetes", "ecs", "cloudrun", "containerapps") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError(f"set exactly one runtime (got: {', '.join(chosen) or 'none'})")
        return chosen[0]

    def command(self) -> list[str]:
        """The engine's command, one worker process per vCPU started (``capacity.workers``: the sizing
        check counts the same workers)."""
        return engine_command(workers(self.cpu))

    def plain_env(self) -> dict[str, pulumi.Input[str]]:
        """Every non-secret variable of the engine's container."""
        return {CONFIG_ENV: self.config_text, HOOK_ENV: hooks_source(), **ENGINE_SETTINGS, **self.env}
