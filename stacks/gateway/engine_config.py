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

from components.gateway.args import (
    CALLER_LABELS,
    COST_PER_SECOND_KEY,
    DEADLINE_KEY,
    HOOKS_CALLBACK,
    KEY_ENV,
    TOKEN_CAP_KEY,
)
from stacks.gateway.backends import Backend, ref
from stacks.gateway.config import GatewayConfig, Limits, Route, RouteTarget

#: The engine's series that only a database fills (keys, teams, users, orgs, budgets, batches,
#: files, MCP, guardrails, spend queues): left out, so no request updates them.
DATABASE_ONLY_METRICS = (
    "litellm_api_key_budget_remaining_hours_metric", "litellm_api_key_max_budget_metric",
    "litellm_remaining_api_key_budget_metric", "litellm_remaining_api_key_requests_for_model",
    "litellm_remaining_api_key_tokens_for_model", "litellm_remaining_team_budget_metric",
    "litellm_team_budget_remaining_hours_metric", "litellm_team_max_budget_metric", "litellm_team_members_metric",
    "litellm_remaining_org_budget_metric", "litellm_org_budget_remaining_hours_metric", "litellm_org_max_budget_metric",
    "litellm_remaining_user_budget_metric", "litellm_user_budget_remaining_hours_metric",
    "litellm_user_max_budget_metric", "litellm_in_memory_daily_spend_update_queue_size",
    "litellm_in_memory_spend_update_queue_size", "litellm_redis_daily_spend_update_queue_size",
    "litellm_redis_spend_update_queue_size", "litellm_pod_lock_manager_size",
    "litellm_check_batch_cost_errors_total", "litellm_check_batch_cost_jobs_polled",
    "litellm_check_batch_cost_jobs_processed_total", "litellm_check_batch_cost_last_run_timestamp",
    "litellm_managed_batch_created_total", "litellm_managed_batch_duration_seconds",
    "litellm_managed_file_created_total", "litellm_managed_file_deleted_total", "litellm_managed_file_size_bytes",
    "litellm_mcp_tool_call_spend_metric", "litellm_mcp_tool_calls_total", "litellm_guardrail_errors_total",
    "litellm_guardrail_latency_seconds", "litellm_guardrail_requests_total",
)


SECONDS_PER_HOUR = 3600


def fallback_group(route: Route, deployment: str) -> str:
    """Model group name of a route's fallback deployment."""
    return f"{route.name}@{deployment}"


def _per_minute(limits: Limits) -> dict[str, int]:
    """A :class:`Limits` as the engine's per-deployment ``rpm``/``tpm``."""
    out = {"rpm": limits.requests_per_minute, "tpm": limits.tokens_per_minute}
    return {k: v for k, v in out.items() if v is not None}


def entry_limits(route: Route, target: RouteTarget | None) -> dict[str, int]:
    """``rpm``/``tpm`` of one engine entry. The engine counts per deployment entry, not per model
    group, so a route's limit is shared by its targets by weight (rounded down, at least 1: exact
    for a single target) and the target's own limit caps its share. A fallback entry (``target``
    None) takes the route's whole limit: it only sees what the targets did not serve."""
    route_limits = _per_minute(route.limits)
    if target is None:
        return route_limits
    shares = {k: max(1, v * target.weight // 100) for k, v in route_limits.items()}
    for k, v in _per_minute(target.limits).items():
        shares[k] = min(v, shares.get(k, v))
    return shares


def engine_config(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> dict[str, Any]:
    """The engine's config as a mapping (see :func:`render`)."""
    model_list: list[dict[str, Any]] = []

    def entry(group: str, route: Route, deployment: str, target: RouteTarget | None) -> dict[str, Any]:
        backend = backends[deployment]
        # A target at zero replicas refuses at once (its Service has no ready endpoint) until it has
        # started: retrying it only delays the fallback (docs/gateway.md, "Targets that wake from zero").
        retries = 0 if backend.cold_start_seconds is not None else route.retries
        params = {**backend.params, "timeout": route.timeout_seconds,
                  "stream_timeout": route.timeout_seconds, "num_retries": retries,
                  **entry_limits(route, target)}
        if target is not None:
            params["weight"] = target.weight
        # Read by the gateway's hooks in the engine (components/gateway/engine_hooks.py): `timeout`
        # bounds each read only, the hooks bound the attempt as a whole.
        info: dict[str, Any] = {"id": f"{group}/{deployment}" if target is not None else group,
                                DEADLINE_KEY: route.timeout_seconds}
        if backend.price is not None:
            # In model_info, not litellm_params: the router registers it once, under the entry's id;
            # from litellm_params the engine registers it again on every request, which empties its
            # price-map caches (~8 % of its CPU; docs/performance.md, "Gateway").
            info["input_cost_per_token"] = backend.price.input_usd_per_token
            info["output_cost_per_token"] = backend.price.output_usd_per_token
        if backend.max_new_tokens is not None:
            info[TOKEN_CAP_KEY] = backend.max_new_tokens
        if backend.replica_price is not None:
            info[COST_PER_SECOND_KEY] = backend.replica_price.usd / SECONDS_PER_HOUR
        return {"model_name": group, "litellm_params": params, "model_info": info}

    fallbacks = []
    for route in gateway.routes:
        model_list += [entry(route.name, route, t.deployment, t) for t in route.targets if t.weight > 0]
        for name in route.fallbacks:
            model_list.append(entry(fallback_group(route, name), route, name, None))
        if route.fallbacks:
            fallbacks.append({route.name: [fallback_group(route, n) for n in route.fallbacks]})
    # Metrics on /metrics (behind the client key, the engine's default), per route and deployment,
    # without the labels that name a caller (IP, user agent, key hash) and the series only a
    # database fills. No message content in what the callbacks see; no per-end-user cost series
    # (the stack has one client key and no end users).
    litellm_settings: dict[str, Any] = {
        "drop_params": True, "telemetry": False, "callbacks": ["prometheus"],
        "prometheus_exclude_labels": list(CALLER_LABELS), "prometheus_exclude_metrics": list(DATABASE_ONLY_METRICS),
        "turn_off_message_logging": True, "disable_end_user_cost_tracking": True}
    if any(b.params.get("azure_scope") for b in backends.values()):
        litellm_settings["enable_azure_ad_token_refresh"] = True  # managed identity -> Entra tokens
    router_settings: dict[str, Any] = {"routing_strategy": "simple-shuffle", "fallbacks": fallbacks,
                                       # Retries are per deployment (litellm_params.num_retries); none on top.
                                       "num_retries": 0}
    limited = any("rpm" in e["litellm_params"] or "tpm" in e["litellm_params"] for e in model_list)
    if limited:
        # Without this check the engine only routes by rpm/tpm; with it, it refuses over them (429).
        router_settings["optional_pre_call_checks"] = ["enforce_model_rate_limits"]
    # What the engine's settings cannot say: each attempt's deadline (every route has one, so the
    # hooks are always listed), a cap on a caller's max_tokens, the cost of a replica's time,
    # Retry-After on the limits' 429s.
    litellm_settings["callbacks"].append(HOOKS_CALLBACK)
    return {
        "model_list": model_list,
        "router_settings": router_settings,
        "litellm_settings": litellm_settings,
        # Stateless: no database; the one client key is the master key, read from the environment.
        # Nothing per request is written for a database (spend and error logs).
        "general_settings": {"master_key": ref(KEY_ENV), "disable_spend_logs": True, "disable_error_logs": True},
    }


def render(gateway: GatewayConfig, backends: Mapping[str, Backend]) -> str:
    """The engine's ``config.yaml`` text: routes, weights, fallbacks; secrets only as references."""
    body = yaml.safe_dump(engine_config(gateway, backends), sort_keys=False, default_flow_style=False)
    return "# LiteLLM proxy config rendered by scalepath from scalepath:gateway. Do not edit.\n" + body
