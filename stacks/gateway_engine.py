"""Render the gateway engine's config (LiteLLM proxy ``config.yaml``) from a stack's spec.

The rendered text is the same offline and deployed: values known only once the deployments exist
(endpoint URLs, ids) and every credential are ``os.environ/NAME`` references, which the engine
resolves at start. :func:`backend_env` says which deployment export feeds each such variable;
the ``Gateway`` component sets them from the deployments' outputs, ``scalepath gateway serve``
from ``--backend`` overrides. A secret value is never part of the text.

Each route becomes one model group named after it (one entry per target, with its weight); each
fallback becomes a one-entry group ``<route>@<deployment>`` listed in the router's ``fallbacks``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml

from components.gateway.args import HF_TOKEN_ENV, KEY_ENV
from components.huggingface.serverless import routed_model
from stacks.config import CloudTargets, DeploymentBase, Stage
from stacks.gateway import GatewayConfig, Route

#: Entra scope of Azure ML online endpoints in ``aadToken`` mode.
AZUREML_SCOPE = "https://ml.azure.com/.default"
#: Stand-in API key for OpenAI-compatible servers that take none (vLLM in the cluster, ``--backend``).
NO_KEY = "unused"

Exports = Mapping[str, Any]
"""What a stage's ``build`` returned for a deployment (its stack outputs)."""


@dataclass(frozen=True)
class Backend:
    """How the engine calls one deployment."""

    params: dict[str, Any]
    """``litellm_params`` without the route's settings (timeouts, retries, weight)."""
    env: dict[str, Callable[[Exports], Any]] = field(default_factory=dict)
    """Environment variables the params reference, each computed from the deployment's exports."""
    secrets: frozenset[str] = frozenset()
    """Secret environment variables the params reference (``HF_TOKEN``); set from a secret store."""


def env_prefix(deployment: str) -> str:
    """``chat-endpoint`` -> ``SCALEPATH_CHAT_ENDPOINT``: prefix of a deployment's variables."""
    return "SCALEPATH_" + deployment.upper().replace("-", "_")


def _ref(name: str) -> str:
    return f"os.environ/{name}"


def _concat(prefix: str, key: str) -> Callable[[Exports], Any]:
    """An env value ``prefix + exports[key]``: an Output in the program, plain text when the exports
    are read back from a deployed stack (``scalepath promote --outputs``)."""
    def value(exports: Exports) -> Any:
        if isinstance(exports[key], str):
            return prefix + exports[key]
        return pulumi.Output.concat(prefix, exports[key])
    return value


def _export(key: str) -> Callable[[Exports], Any]:
    return lambda exports: exports[key]


def backend(deployment: DeploymentBase, targets: CloudTargets) -> Backend:
    """The engine's view of a deployment, by stage (credentials from the runtime's identity where the
    platform has one: SageMaker, Vertex, Azure ML; the HF token from the secret store otherwise)."""
    p = env_prefix(deployment.name)
    model, base = f"{p}_MODEL", f"{p}_API_BASE"
    stage = deployment.stage
    if stage in (Stage.HF_SERVERLESS, Stage.HF_ENDPOINT):
        name = routed_model(deployment.model, getattr(deployment, "provider", "auto"))
        return Backend({"model": f"openai/{name}", "api_base": _ref(base), "api_key": _ref(HF_TOKEN_ENV)},
                       env={base: _export("openaiBaseUrl")}, secrets=frozenset({HF_TOKEN_ENV}))
    if stage is Stage.SAGEMAKER:
        # The Messages API of the TGI/vLLM containers; SigV4 with the task/pod role's credentials.
        return Backend({"model": _ref(model), "aws_region_name": targets.aws_region},
                       env={model: _concat("sagemaker_chat/", "endpointName")})
    if stage is Stage.AZUREML:
        # Entra token of the runtime's managed identity (the endpoint runs in aadToken mode).
        return Backend({"model": f"azure_ai/{deployment.model}", "api_base": _ref(base), "azure_scope": AZUREML_SCOPE},
                       env={base: _export("openaiBaseUrl")})
    if stage is Stage.VERTEX:
        # Model Garden's OpenAI-compatible route; the service account's ADC credentials.
        return Backend({"model": _ref(model), "vertex_project": targets.gcp_project,
                        "vertex_location": targets.gcp_region},
                       env={model: _concat("vertex_ai/openai/", "endpointId")})
    if stage in (Stage.EKS_VLLM, Stage.GKE_VLLM):
        return Backend({"model": _ref(model), "api_base": _ref(base), "api_key": NO_KEY},
                       env={model: _concat("openai/", "served_model_name"), base: _export("openai_base_url")})
    raise ValueError(f"no gateway backend for stage {stage.value!r}")


def override_backend(deployment: DeploymentBase, url: str) -> Backend:
    """``--backend DEPLOYMENT=URL``: the deployment is an OpenAI-compatible server at URL."""
    return Backend({"model": f"openai/{deployment.model}", "api_base": url, "api_key": NO_KEY})


def fallback_group(route: Route, deployment: str) -> str:
    """Model group name of a route's fallback deployment."""
    return f"{route.name}@{deployment}"


def backends_for(gateway: GatewayConfig, deployments: list[DeploymentBase], targets: CloudTargets,
                 overrides: Mapping[str, str] | None = None) -> dict[str, Backend]:
    """A backend per deployment the routes use; ``overrides`` maps deployment -> URL."""
    by_name = {d.name: d for d in deployments}
    overrides = overrides or {}
    out = {}
    for name in gateway.deployment_names():
        d = by_name[name]
        out[name] = override_backend(d, overrides[name]) if name in overrides else backend(d, targets)
    return out


def engine_config(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> dict[str, Any]:
    """The engine's config as a mapping (see :func:`render`)."""
    model_list: list[dict[str, Any]] = []

    def entry(group: str, route: Route, deployment: str, weight: int | None) -> dict[str, Any]:
        params = {**backends[deployment].params, "timeout": route.timeout_seconds,
                  "stream_timeout": route.timeout_seconds, "num_retries": route.retries}
        if weight is not None:
            params["weight"] = weight
        return {"model_name": group, "litellm_params": params,
                "model_info": {"id": f"{group}/{deployment}" if weight is not None else group}}

    fallbacks = []
    for route in gateway.routes:
        model_list += [entry(route.name, route, t.deployment, t.weight) for t in route.targets if t.weight > 0]
        for name in route.fallbacks:
            model_list.append(entry(fallback_group(route, name), route, name, None))
        if route.fallbacks:
            fallbacks.append({route.name: [fallback_group(route, n) for n in route.fallbacks]})
    litellm_settings: dict[str, Any] = {"drop_params": True, "telemetry": False}
    if any(b.params.get("azure_scope") for b in backends.values()):
        litellm_settings["enable_azure_ad_token_refresh"] = True  # managed identity -> Entra tokens
    return {
        "model_list": model_list,
        "router_settings": {"routing_strategy": "simple-shuffle", "fallbacks": fallbacks,
                            # Retries are per deployment (litellm_params.num_retries); none on top.
                            "num_retries": 0},
        "litellm_settings": litellm_settings,
        # Stateless: no database; the one client key is the master key, read from the environment.
        "general_settings": {"master_key": _ref(KEY_ENV)},
    }


def render(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> str:
    """The engine's ``config.yaml`` text: routes, weights, fallbacks; secrets only as references."""
    body = yaml.safe_dump(engine_config(gateway, backends), sort_keys=False, default_flow_style=False)
    return "# LiteLLM proxy config rendered by scalepath from scalepath:gateway. Do not edit.\n" + body


def backend_env(backends: Mapping[str, Backend], exports: Mapping[str, Exports]) -> dict[str, Any]:
    """Non-secret environment for the engine: each backend's variables from its deployment's exports."""
    return {name: value(exports[dep]) for dep, b in backends.items() for name, value in b.env.items()}


def secret_env_names(backends: Mapping[str, Backend]) -> set[str]:
    """Secret variables the config references besides the client key (``HF_TOKEN``)."""
    return {name for b in backends.values() for name in b.secrets}
