"""Compose the stack's ``Gateway`` from ``scalepath:gateway``, the deployments' contracts and their outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.gateway.args import (
    BackendGrants,
    BackendSecret,
    CloudRunRuntime,
    ContainerAppsRuntime,
    EcsRuntime,
    GatewayArgs,
    KubernetesRuntime,
    MeterArgs,
    RouteAlerts,
    physical_name,
)
from components.gateway.component import Gateway
from stacks import aws as aws_stack
from stacks import gcp as gcp_stack
from stacks.config import Cloud
from stacks.context import StackContext
from stacks.contract import GrantKind, StageContract
from stacks.gateway.backends import Exports, backend_env, backends_for, deployment_prices, secret_env
from stacks.gateway.config import RUNTIME_CLOUD, GatewayConfig, GatewayRuntime, cluster_deployment, split_target
from stacks.gateway.engine_config import render
from stacks.gateway.sizing import sizing_advice
from stacks.secret_store import SecretStoreConfig, secret_name
from stacks.stages import STAGES, entries


def grants(contracts: Mapping[str, StageContract], routed: list[str], exports: Mapping[str, Exports],
           vertex_location: str | None) -> BackendGrants:
    """What the gateway's identity may call: each routed deployment's grant, by kind."""
    by_kind: dict[GrantKind, list[Any]] = {kind: [] for kind in GrantKind}
    for name in dict.fromkeys(split_target(target)[0] for target in routed):  # an adapter shares its grant
        grant = contracts[name].auth.grant
        if grant is not None:
            by_kind[grant.kind].append(exports[name][grant.export])
    return BackendGrants(sagemaker_invoke_policy_arns=by_kind[GrantKind.AWS_POLICY],
                         vertex_endpoints=by_kind[GrantKind.GCP_ENDPOINT_USER], vertex_location=vertex_location,
                         azureml_endpoint_ids=by_kind[GrantKind.AZURE_ENDPOINT_ROLE])


#: A route alerts when more than this share of its requests is answered by a fallback.
MAX_FALLBACK_RATE = 0.05
#: Without ``gate.p95LatencyMs``, a route alerts when its p95 passes this share of its timeout.
P95_SHARE_OF_TIMEOUT = 0.8


def _meter(ctx: StackContext, gateway: GatewayConfig, cloud: Cloud) -> MeterArgs:
    """Alerts per route from its ``gate`` (latency, error rate), spend against the stack's budget,
    to the budget's ``notify`` addresses (on GCP through the stack's notification channels)."""
    spec = ctx.spec
    routes = [RouteAlerts(
        route=r.name, max_error_rate=r.gate.max_error_rate, max_fallback_rate=MAX_FALLBACK_RATE,
        p95_latency_seconds=(r.gate.p95_latency_ms / 1000 if r.gate.p95_latency_ms is not None
                             else P95_SHARE_OF_TIMEOUT * r.timeout_seconds)) for r in gateway.routes]
    return MeterArgs(namespace=f"scalepath/{spec.stack_tag}/gateway", routes=routes,
                     monthly_budget_usd=spec.budget.monthly_usd, notify=list(spec.budget.notify),
                     channels=gcp_stack.alert_channels(ctx) if cloud is Cloud.GCP else ())


def build_gateway(ctx: StackContext, exports: Mapping[str, Exports]) -> dict[str, pulumi.Input[Any]]:
    """The gateway component; returns the stack's ``gateway`` export."""
    spec = ctx.spec
    gateway = spec.gateway
    assert gateway is not None  # compose calls this only for stacks with a gateway
    runtime = gateway.resolved_runtime(spec.deployments)
    assert runtime is not None  # parse_spec guarantees a runtime
    contracts = STAGES.contracts(spec.facts())
    routed = gateway.engine_deployments()
    backends = backends_for(routed, contracts, spec.targets, prices=deployment_prices(spec.deployments, contracts))
    cluster = cluster_deployment(spec.deployments) if runtime is GatewayRuntime.KUBERNETES else None
    cloud = entries.cluster_cloud(cluster.stage) if cluster else RUNTIME_CLOUD[runtime]
    assert cloud is not None
    store = gateway.secret_store or SecretStoreConfig(cloud=cloud)
    config = pulumi.Config("scalepath")
    secrets = {env: BackendSecret(value=config.require_secret(key),
                                  secret_name=secret_name(spec.stack_tag, "gateway", key, store.cloud),
                                  description=f"scalepath:{key}, which the gateway calls its backends with")
               for env, key in secret_env(backends).items()}
    args = GatewayArgs(
        config_text=render(gateway, backends), env=backend_env(backends, exports), image=gateway.image,
        cpu=gateway.cpu, memory_gib=gateway.memory_gib, min_replicas=gateway.scaling.min,
        max_replicas=gateway.scaling.max, target_cpu_percent=gateway.scaling.target_cpu_percent,
        private=spec.network.mode == "private", store=store.args(spec.targets),
        key_secret_name=secret_name(spec.stack_tag, "gateway", "key", store.cloud),
        physical_name=physical_name(spec.stack_tag),
        secrets=secrets, tags=ctx.tags(),
        grants=grants(contracts, routed, exports, spec.targets.gcp_region),
        meter=_meter(ctx, gateway, cloud),
        **_runtime(ctx, gateway, runtime))
    component = Gateway("gateway", args)
    advice = sizing_advice(gateway, spec.environment)
    if advice is not None:  # an undersized gateway deploys: say so, as a warning at preview and up
        pulumi.log.warn(advice, resource=component)
    return {"runtime": runtime.value, "openaiBaseUrl": component.openai_base_url, "keySecret": component.key_secret,
            "clientKey": component.client_key}


def _runtime(ctx: StackContext, gateway: GatewayConfig, runtime: GatewayRuntime) -> dict[str, Any]:
    """The one runtime argument of :class:`GatewayArgs`."""
    targets = ctx.spec.targets
    if runtime is GatewayRuntime.KUBERNETES:
        cluster = cluster_deployment(ctx.spec.deployments)
        assert cluster is not None  # gateway_issues refused kubernetes without a cluster
        cloud = entries.cluster_cloud(cluster.stage)
        assert cloud is not None
        component = ctx.shared(f"cluster/{cluster.name}", _missing)
        return {"kubernetes": KubernetesRuntime(
            provider=component.provider, cloud=cloud.value, stage=cluster.stage.value,
            cluster_name=component.cluster_name, ready=component.ready, gcp_project=targets.gcp_project,
            aws_region=targets.aws_region,
            alertmanager_role=component.alertmanager_role if cloud is Cloud.AWS else None)}
    if runtime is GatewayRuntime.ECS:
        network = aws_stack.network(ctx)
        public = ctx.spec.network.mode == "public"
        return {"ecs": EcsRuntime(
            region=targets.aws_region or "", vpc_id=network.vpc_id, vpc_cidr=network.cidr_block,
            task_subnet_ids=network.private_subnet_ids,
            load_balancer_subnet_ids=network.public_subnet_ids if public else network.private_subnet_ids,
            certificate_arn=gateway.tls_certificate_arn)}
    if runtime is GatewayRuntime.CLOUDRUN:
        return {"cloudrun": CloudRunRuntime(project=targets.gcp_project or "", region=targets.gcp_region or "")}
    return {"containerapps": ContainerAppsRuntime(location=targets.azure_location or "",
                                                  subscription_id=targets.azure_subscription_id or "")}


def _missing() -> Any:
    raise RuntimeError("the cluster deployment registers its cluster before the gateway is built")
