"""``scalepath promote``: run a held-out suite on a route's candidate and baseline, apply the
route's gate, and on a pass move one step of the route's weight to the candidate.

Each deployment is reached the way the gateway reaches it: ``--backend DEPLOYMENT=URL`` makes it
an OpenAI-compatible server at URL; any other goes through the real gateway engine started on
127.0.0.1 with one route per deployment, so it is called with its platform's own auth (SigV4 for
SageMaker, Entra for Azure ML, Google credentials for Vertex, the HF token for HF stages) from the
``SCALEPATH_<DEPLOYMENT>_*`` values the gateway reads (see docs/promotion.md).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.files import read_regular_file
from components.gateway.args import KEY_ENV
from components.token_shapes import redact_json
from scalepath.promote.checks import Checker
from scalepath.promote.gate import Verdict, evaluate
from scalepath.promote.runner import Backend, RunResult, run_suite
from scalepath.promote.suite import Case
from scalepath.promote.weights import shift
from stacks.config import DeploymentBase
from stacks.errors import ConfigError, ConfigIssue, format_loc
from stacks.gateway.backends import NO_KEY, Exports, backend_env, backends_for
from stacks.gateway.config import GatewayConfig, Route, RouteTarget, split_target, target_problem
from stacks.gateway.engine_config import render
from stacks.spec import StackSpec
from stacks.stages import STAGES


@dataclass(frozen=True)
class Promotion:
    """What one ``promote`` run found and decided."""

    route: Route
    candidate: RunResult
    baseline: RunResult | None
    verdict: Verdict
    weights_before: dict[str, int]
    weights_after: dict[str, int]
    """Equal to ``weights_before`` when the gate refused."""

    def to_json(self) -> dict[str, object]:
        """The ``--json`` document."""
        def run(result: RunResult | None) -> dict[str, object] | None:
            if result is None:
                return None
            return {"deployment": result.backend.deployment, "cases": len(result.outcomes),
                    "passRate": result.pass_rate, "errorRate": result.error_rate,
                    "p95LatencyMs": result.p95_latency_ms}
        # Suite ids, expectations and answers are the suite's and the candidate's words: redacted
        # like every other message (keys too), so a token in them never reaches a CI log.
        return redact_json({
            "route": self.route.name, "promoted": self.verdict.passed,
            "candidate": run(self.candidate), "baseline": run(self.baseline),
            "criteria": [{"name": c.name, "passed": c.passed, "actual": c.actual, "limit": c.limit,
                          "detail": c.detail} for c in self.verdict.criteria],
            "worstCases": [{"id": o.case_id, "passed": o.passed, "error": o.error, "failures": list(o.failures),
                            "latencyMs": o.latency_ms} for o in self.verdict.worst_cases],
            "weightsBefore": self.weights_before, "weightsAfter": self.weights_after,
        })


def load_outputs(path: Path | None) -> dict[str, Exports]:
    """``--outputs``: the deployed stack's outputs as ``pulumi stack output --json`` prints them."""
    if path is None:
        return {}
    try:
        document = json.loads(read_regular_file(path))
    except RecursionError:
        raise ConfigError([ConfigIssue("--outputs", f"{path}: nested too deeply to be stack outputs; give the "
                                       "output of `pulumi stack output --json`")]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError([ConfigIssue("--outputs", f"{path}: cannot read stack outputs ({error}); give the "
                                       "output of `pulumi stack output --json`")]) from None
    if not isinstance(document, dict):
        raise ConfigError([ConfigIssue("--outputs", f"{path}: expected the JSON object `pulumi stack output "
                                       "--json` prints")])
    return {name: value for name, value in document.items() if isinstance(value, dict)}


def select(spec: StackSpec, route_name: str, candidate: str) -> tuple[Route, str | None]:
    """The route and its baseline (the heaviest target other than the candidate; None if there is
    none); ConfigError naming the flag when the route or the candidate is unknown."""
    if spec.gateway is None:
        raise ConfigError([ConfigIssue(format_loc(("gateway",)), "this stack has no gateway; promotion moves a "
                                       "gateway route's weight (add scalepath:gateway, see docs/configuration.md)")])
    routes = {r.name: r for r in spec.gateway.routes}
    if route_name not in routes:
        raise ConfigError([ConfigIssue("--route", f"{route_name!r} is not a route of this stack; routes: "
                                       f"{', '.join(routes)}")])
    if problem := target_problem(candidate, spec.deployments):  # a deployment, or deployment:adapter
        raise ConfigError([ConfigIssue("--to", f"{candidate!r} is not a deployment of this stack or one of its "
                                       f"adapters: {problem}")])
    route = routes[route_name]
    others = [t for t in route.targets if t.deployment != candidate]
    baseline = max(others, key=lambda t: t.weight).deployment if others else None
    return route, baseline


def promote(spec: StackSpec, route: Route, candidate: str, baseline: str | None, cases: list[Case], *,
            step: int, overrides: Mapping[str, str], outputs: Mapping[str, Exports], concurrency: int,
            timeout_s: float) -> Promotion:
    """Run the suite on both deployments, judge the candidate, compute the new weights. ``outputs``
    are the deployed stack's outputs (deployment name -> exports), read for what the engine needs."""
    wanted = [candidate] + ([baseline] if baseline else [])
    with _backends(spec, wanted, overrides, outputs, timeout_s) as backends, Checker() as checker:
        def run(name: str) -> RunResult:
            return run_suite(cases, backends[name], concurrency=concurrency, timeout_s=timeout_s, checker=checker)
        candidate_run = run(candidate)
        baseline_run = run(baseline) if baseline else None
    verdict = evaluate(route.gate, candidate_run, baseline_run)
    before = {t.deployment: t.weight for t in route.targets}
    after = shift(before, candidate, step) if verdict.passed else dict(before)
    return Promotion(route, candidate_run, baseline_run, verdict, before, after)


def engine_route(name: str) -> str:
    """The engine route a suite run calls for ``name`` (route names take no ``:``)."""
    return name.replace(":", ".")


@contextmanager
def _backends(spec: StackSpec, names: list[str], overrides: Mapping[str, str], outputs: Mapping[str, Exports],
              timeout_s: float) -> Iterator[dict[str, Backend]]:
    by_name: dict[str, DeploymentBase] = {d.name: d for d in spec.deployments}

    def direct(name: str) -> Backend:
        # An adapter is its deployment's server asked for the adapter's name.
        deployment, adapter = split_target(name)
        return Backend(name, overrides[deployment], os.environ.get("SCALEPATH_BACKEND_KEY", NO_KEY),
                       adapter or by_name[deployment].model)

    out = {name: direct(name) for name in names if split_target(name)[0] in overrides}
    through_engine = [name for name in names if name not in out]
    with ExitStack() as stack:
        if through_engine:
            url, key = stack.enter_context(_engine(spec, through_engine, outputs, timeout_s))
            out.update({name: Backend(name, url, key, engine_route(name)) for name in through_engine})
        yield out


@contextmanager
def _engine(spec: StackSpec, names: list[str], outputs: Mapping[str, Exports],
            timeout_s: float) -> Iterator[tuple[str, str]]:
    """The gateway engine on 127.0.0.1 with one route per deployment (named after it), and a key
    made for this run only. Its variables come from the stack's outputs, then the environment."""
    from scalepath.gateway.engine import start_engine
    from scalepath.gateway.serve import engine_env

    routes = [Route(name=engine_route(name), targets=[RouteTarget(deployment=name, weight=100)], retries=0,
                    timeout_seconds=max(1, round(timeout_s))) for name in names]
    assert spec.gateway is not None  # select() checked
    gateway = GatewayConfig.model_validate({**spec.gateway.model_dump(), "routes": [r.model_dump() for r in routes]})
    backends = backends_for(names, STAGES.contracts(spec.facts()), spec.targets)
    key = secrets.token_urlsafe(24)
    try:
        deployed = backend_env({d: b for d, b in backends.items() if d in outputs}, outputs)
    except KeyError as missing:
        raise ConfigError([ConfigIssue("--outputs", f"the stack outputs have no {missing} for a routed deployment; "
                                       "give the output of `pulumi stack output --json` for this stack")]) from None
    wrong = [f"${name} ({type(value).__name__})" for name, value in deployed.items() if not isinstance(value, str)]
    if wrong:
        raise ConfigError([ConfigIssue("--outputs", f"the stack outputs give {', '.join(wrong)} where the engine "
                                       "needs text; give the output of `pulumi stack output --json` for this stack")])
    env = engine_env(backends, {**deployed, **os.environ, KEY_ENV: key})
    engine = start_engine(render(gateway, backends), env)
    try:
        yield f"{engine.url}/v1", key
    finally:
        engine.stop(grace_seconds=0)  # its only clients were ours and are done: no graceful drain

