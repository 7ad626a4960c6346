"""The stack's gateway, rendered for the CLI: spec -> engine config text and its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scalepath.stackconfig import StackConfig
from stacks.errors import ConfigError, ConfigIssue, format_loc
from stacks.gateway_engine import Backend, backends_for, render
from stacks.parse import parse_spec
from stacks.spec import StackSpec


@dataclass(frozen=True)
class RenderedGateway:
    """The engine's config text and the backends it references."""

    spec: StackSpec
    text: str
    backends: dict[str, Backend]


def parse_backend_overrides(pairs: list[str]) -> dict[str, str]:
    """``["chat=http://127.0.0.1:8001/v1", ...]`` -> ``{"chat": "http://..."}``; ConfigError when malformed."""
    out: dict[str, str] = {}
    issues = []
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            issues.append(ConfigIssue("--backend", f"{pair!r}: expected DEPLOYMENT=URL with an http(s) URL, "
                                      "e.g. chat=http://127.0.0.1:8000/v1"))
        else:
            out[name] = url.rstrip("/")
    if issues:
        raise ConfigError(issues)
    return out


def render_gateway(config: StackConfig, overrides: Mapping[str, str]) -> RenderedGateway:
    """Parse the stack and render its gateway; ConfigError if it has none or an override names no route's deployment."""
    spec = parse_spec(config.values, project=config.project, stack=config.stack, secret_keys=config.secret_keys)
    if spec.gateway is None:
        raise ConfigError([ConfigIssue(format_loc(("gateway",)), "this stack has no gateway; add scalepath:gateway "
                                       "with routes (see docs/configuration.md)")])
    used = spec.gateway.deployment_names()
    unknown = sorted(set(overrides) - set(used))
    if unknown:
        raise ConfigError([ConfigIssue("--backend", f"{', '.join(unknown)}: not a deployment any route uses; "
                                       f"routes use: {', '.join(used)}")])
    backends = backends_for(spec.gateway, spec.deployments, spec.targets, overrides)
    return RenderedGateway(spec=spec, text=render(spec.gateway, backends), backends=backends)
