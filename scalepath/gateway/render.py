"""The stack's gateway, rendered for the CLI: spec -> engine config text and its environment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from components.token_shapes import has_token
from scalepath.stackconfig import StackConfig
from stacks.errors import ConfigError, ConfigIssue, format_loc
from stacks.gateway.backends import Backend, backends_for, deployment_prices
from stacks.gateway.config import split_target
from stacks.gateway.engine_config import render
from stacks.spec import StackSpec
from stacks.stages import STAGES


@dataclass(frozen=True)
class RenderedGateway:
    """The engine's config text and the backends it references."""

    spec: StackSpec
    text: str
    backends: dict[str, Backend]


def parse_backend_overrides(pairs: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """``["chat=http://127.0.0.1:8001/v1", ...]`` -> ``{"chat": "http://..."}`` for ``gateway`` and
    ``promote`` alike; ConfigError naming each bad pair by its deployment, never echoing the URL.

    A deployment must be one of ``known`` (what the command calls), once. The URL must be a plain
    http(s) base URL with a host: no whitespace or control characters (a newline would split the
    rendered config), no credentials (``user:password@``, a query such as ``?api_key=``, a
    token-shaped value anywhere): ``gateway config`` prints the URL and the engine logs it, so a
    credential there would leak; a key has its own place (``$SCALEPATH_BACKEND_KEY`` for promote).
    """
    out: dict[str, str] = {}
    issues = []
    for pair in pairs:
        name, sep, url = pair.partition("=")
        name = name.strip()
        problem = _url_problem(url) if sep and name else ("expected DEPLOYMENT=URL, "
                                                          "e.g. chat=http://127.0.0.1:8000/v1")
        if problem is None and name not in known:
            problem = f"not a deployment this command calls; it calls: {', '.join(known)}"
        if problem is None and name in out:
            problem = "given twice; give one URL per deployment"
        if problem is not None:
            issues.append(ConfigIssue(f"--backend {name or '?'}", problem))
        else:
            out[name] = url.rstrip("/")
    if issues:
        raise ConfigError(issues)
    return out


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a ``--backend`` base URL; None when it can. Never quotes the URL."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "the URL holds whitespace or control characters (a newline?)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number in range)
    except ValueError:
        return "the URL cannot be parsed (a bad port or bracket?)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1"
    if "@" in parts.netloc:
        return ("the URL carries credentials (user:password@); leave them out (promote sends "
                "$SCALEPATH_BACKEND_KEY as the key)")
    if parts.query or parts.fragment or ";" in parts.path or url.endswith(("?", "#")):
        return "the URL has a query or fragment (?api_key=...?) or path parameters (;key=...); a base URL takes none"
    if has_token(url) or has_token(unquote(url)):  # the server decodes %5F to _: hf%5F... is a token
        return "the URL holds a token-shaped value; credentials never go in a URL"
    return None


def render_gateway(config: StackConfig, backend_pairs: Sequence[str]) -> RenderedGateway:
    """Parse the stack and render its gateway, ``--backend`` pairs applied; ConfigError if it has
    none or a pair is bad (:func:`parse_backend_overrides`)."""
    spec = config.spec()
    if spec.gateway is None:
        raise ConfigError([ConfigIssue(format_loc(("gateway",)), "this stack has no gateway; add scalepath:gateway "
                                       "with routes (see docs/configuration.md)")])
    routed = list(dict.fromkeys(split_target(name)[0] for name in spec.gateway.deployment_names()))
    overrides = parse_backend_overrides(backend_pairs, routed)
    contracts = STAGES.contracts(spec.facts())
    backends = backends_for(spec.gateway.engine_deployments(), contracts, spec.targets, overrides,
                            prices=deployment_prices(spec.deployments, contracts))
    return RenderedGateway(spec=spec, text=render(spec.gateway, backends), backends=backends)
