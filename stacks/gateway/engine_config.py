"""Render the engine's config (the LiteLLM proxy's ``config.yaml``) from the gateway config and the backends.

The rendered text is the same offline and deployed: values known only once the deployments exist
(endpoint URLs, ids) and every credential are ``os.environ/NAME`` references, which the engine
resolves at start. :func:`stacks.gateway.backends.backend_env` says which deployment export feeds
each such variable; the ``Gateway`` component sets them from the deployments' outputs, ``scalepath
gateway serve`` from ``--backend`` overrides. A secret value is never part of the text.

Each route becomes one model group named after it (one entry per target, with its weight); each
fallback becomes a one-entry group ``<route>@<deployment>`` listed in the router's ``fallbacks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from components.gateway.args import KEY_ENV, TOKEN_CAP_CALLBACK, TOKEN_CAP_KEY
from stacks.gateway.backends import Backend, ref
from stacks.gateway.config import GatewayConfig, Route


def fallback_group(route: Route, deployment: str) -> str:
    """Model group name of a route's fallback deployment."""
    return f"{route.name}@{deployment}"


def engine_config(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> dict[str, Any]:
    """The engine's config as a mapping (see :func:`render`)."""
    model_list: list[dict[str, Any]] = []

    def entry(group: str, route: Route, deployment: str, weight: int | None) -> dict[str, Any]:
        params = {**backends[deployment].params, "timeout": route.timeout_seconds,
                  "stream_timeout": route.timeout_seconds, "num_retries": route.retries}
        if weight is not None:
            params["weight"] = weight
        info: dict[str, Any] = {"id": f"{group}/{deployment}" if weight is not None else group}
        cap = backends[deployment].max_new_tokens
        if cap is not None:  # the engine's token-cap hook reads it (components/gateway/engine_token_cap.py)
            info[TOKEN_CAP_KEY] = cap
        return {"model_name": group, "litellm_params": params, "model_info": info}

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
    if any(TOKEN_CAP_KEY in m["model_info"] for m in model_list):
        # A caller's max_tokens passes through the engine; only a hook can cap it.
        litellm_settings["callbacks"] = [TOKEN_CAP_CALLBACK]
    return {
        "model_list": model_list,
        "router_settings": {"routing_strategy": "simple-shuffle", "fallbacks": fallbacks,
                            # Retries are per deployment (litellm_params.num_retries); none on top.
                            "num_retries": 0},
        "litellm_settings": litellm_settings,
        # Stateless: no database; the one client key is the master key, read from the environment.
        "general_settings": {"master_key": ref(KEY_ENV)},
    }


def render(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> str:
    """The engine's ``config.yaml`` text: routes, weights, fallbacks; secrets only as references."""
    body = yaml.safe_dump(engine_config(gateway, backends), sort_keys=False, default_flow_style=False)
    return "# LiteLLM proxy config rendered by scalepath from scalepath:gateway. Do not edit.\n" + body
