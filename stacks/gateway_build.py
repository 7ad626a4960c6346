"""Compose the stack's ``Gateway`` from ``scalepath:gateway`` and the deployments' outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.gateway.args import (
    BackendGrants,
    CloudRunRuntime,
    ContainerAppsRuntime,
    EcsRuntime,
    GatewayArgs,
    KubernetesRuntime,
)
from components.gateway.component import Gateway
from stacks import aws as aws_stack
from stacks.config import Cloud, Stage
from stacks.context import StackContext
from stacks.gateway import RUNTIME_CLOUD, GatewayConfig, GatewayRuntime
from stacks.gateway_engine import HF_TOKEN_ENV, backend_env, backends_for, render, secret_env_names
from stacks.names import fit_name
from stacks.secret_store import SecretStoreConfig

_CLUSTER_CLOUD = {Stage.EKS_VLLM: Cloud.AWS, Stage.GKE_VLLM: Cloud.GCP}


def build_gateway(ctx: StackContext, exports: Mapping[str, Mapping[str, Any]]) -> dict[str, pulumi.Input[Any]]:
    """The gateway component; returns the stack's ``gateway`` export."""
    spec = ctx.spec
    gateway = spec.gateway
    assert gateway is not None  # compose calls this only for stacks with a gateway
    runtime = gateway.resolved_runtime(spec.deployments)
    assert runtime is not None  # parse_spec guarantees a runtime
    backends = backends_for(gateway, spec.deployments, spec.targets)
    cluster = next((d for d in spec.deployments if d.stage in _CLUSTER_CLOUD), None)
    on_cluster = runtime is GatewayRuntime.KUBERNETES and cluster is not None
    cloud = _CLUSTER_CLOUD[cluster.stage] if on_cluster and cluster else RUNTIME_CLOUD[runtime]
    store = gateway.secret_store or SecretStoreConfig(cloud=cloud)
    needs_hf = HF_TOKEN_ENV in secret_env_names(backends)
    routed = [d for d in spec.deployments if d.name in backends]
    grants = BackendGrants(
        sagemaker_invoke_policy_arns=[exports[d.name]["invokePolicyArn"] for d in routed if d.stage is Stage.SAGEMAKER],
        vertex_endpoints=[exports[d.name]["endpointId"] for d in routed if d.stage is Stage.VERTEX],
        vertex_location=spec.targets.gcp_region,
        azureml_endpoint_ids=[exports[d.name]["endpointId"] for d in routed if d.stage is Stage.AZUREML])
    args = GatewayArgs(
        config_text=render(gateway, backends), env=backend_env(backends, exports), image=gateway.image,
        cpu=gateway.cpu, memory_gib=gateway.memory_gib, min_replicas=gateway.scaling.min,
        max_replicas=gateway.scaling.max, target_cpu_percent=gateway.scaling.target_cpu_percent,
        private=spec.network.mode == "private", store=store.args(spec.targets),
        key_secret_name=f"{spec.stack_tag}-gateway-key", physical_name=fit_name(f"{spec.stack_tag}-gateway", 49),
        hf_token=pulumi.Config("scalepath").require_secret("hfToken") if needs_hf else None,
        hf_token_secret_name=f"{spec.stack_tag}-gateway-hf-token" if needs_hf else None,
        tags=ctx.tags(), grants=grants, **_runtime(ctx, gateway, runtime, cluster.name if cluster else None))
    component = Gateway("gateway", args)
    return {"runtime": runtime.value, "openaiBaseUrl": component.openai_base_url, "keySecret": component.key_secret,
            "clientKey": component.client_key}


def _runtime(ctx: StackContext, gateway: GatewayConfig, runtime: GatewayRuntime,
             cluster: str | None) -> dict[str, Any]:
    """The one runtime argument of :class:`GatewayArgs`."""
    targets = ctx.spec.targets
    if runtime is GatewayRuntime.KUBERNETES:
        component = ctx.shared(f"cluster/{cluster}", _missing)
        stage = next(d.stage for d in ctx.spec.deployments if d.name == cluster)
        return {"kubernetes": KubernetesRuntime(
            provider=component.provider, cloud=_CLUSTER_CLOUD[stage].value, cluster_name=component.cluster_name,
            ready=component.ready, gcp_project=targets.gcp_project)}
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
