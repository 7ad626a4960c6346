"""``scalepath:gateway``: one OpenAI-compatible gateway per stack, with weighted routes and fallbacks.

A route is the OpenAI ``model`` name clients ask for. Its ``targets`` share the traffic by integer
weight (0..100, summing to 100); when the chosen target fails (5xx, timeout) the engine retries,
then tries ``fallbacks`` in order (a fallback may be one of the targets: a canary falls back to the
stable target). Every name must be a deployment of the stack; that check needs the deployments, so
:func:`gateway_issues` runs it from ``parse_spec``, with the checks of each target's contract
(:mod:`stacks.gateway.targets`). ``gate`` holds the
promotion criteria ``scalepath promote`` applies before it moves weight to a new target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Annotated

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from components.gateway.sizes import size_problem
from stacks.config import Cloud, DeploymentBase, Environment, Network, Scaling, StackFacts
from stacks.contract import StageContract
from stacks.errors import ConfigIssue, format_loc
from stacks.model import ConfigModel
from stacks.secret_store import SecretStoreConfig
from stacks.stages.entries import ENTRIES, cluster_cloud

RouteName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
"""An OpenAI ``model`` name: letters, digits, ``.``, ``_``, ``-``; 1..63 characters."""

AcmCertificateArn = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")]
"""An ACM certificate ARN."""

#: The default engine image: LiteLLM's proxy at the version the CLI runs (see docs/architecture.md,
#: "Gateway"). A tag, not a digest: pin ``gateway.image`` to ``...@sha256:<digest>`` for prod.
DEFAULT_IMAGE = "ghcr.io/berriai/litellm:v1.100.5"


class GatewayRuntime(str, Enum):
    """Where the gateway's containers run."""

    KUBERNETES = "kubernetes"
    """On the stack's EKS or GKE cluster (a ``eks-vllm``/``gke-vllm`` deployment's)."""
    ECS = "ecs"
    """AWS ECS on Fargate behind an Application Load Balancer."""
    CLOUDRUN = "cloudrun"
    """GCP Cloud Run."""
    CONTAINERAPPS = "containerapps"
    """Azure Container Apps."""


#: The cloud each serverless-container runtime lives in.
RUNTIME_CLOUD: dict[GatewayRuntime, Cloud] = {
    GatewayRuntime.ECS: Cloud.AWS, GatewayRuntime.CLOUDRUN: Cloud.GCP, GatewayRuntime.CONTAINERAPPS: Cloud.AZURE,
}


def cluster_deployment(deployments: tuple[DeploymentBase, ...] | list[DeploymentBase]) -> DeploymentBase | None:
    """The first deployment that creates a Kubernetes cluster: the ``kubernetes`` runtime runs on it."""
    return next((d for d in deployments if cluster_cloud(d.stage) is not None), None)


def _repeated(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


PerMinute = Annotated[int, Field(gt=0, strict=True)]
"""A positive whole count per minute."""


class Limits(ConfigModel):
    """``routes[].limits`` / ``routes[].targets[].limits``: what the engine lets through per minute.

    Counted by each engine process in its own memory (the engine's per-deployment limit, no
    database): N replicas (times their workers, one per vCPU started) pass up to N times these
    figures. Over the limit a request gets 429 (docs/gateway.md, "The gateway as the meter")."""

    requests_per_minute: PerMinute | None = None
    """Requests per minute; the next one in the same minute gets 429."""
    tokens_per_minute: PerMinute | None = None
    """Input + output tokens per minute, counted as answers arrive; once reached, 429."""


def split_target(name: str) -> tuple[str, str | None]:
    """A route's name for what it sends to: ``deployment`` or ``deployment:adapter`` (one of the
    deployment's LoRA adapters) -> (deployment, adapter or None)."""
    deployment, _, adapter = name.partition(":")
    return deployment, adapter or None


def target_contract(contracts: Mapping[str, StageContract], name: str) -> StageContract:
    """How a route target is called: its deployment's contract, answering to the adapter's served
    model for ``deployment:adapter`` (same server, address and credentials)."""
    deployment, adapter = split_target(name)
    contract = contracts[deployment]
    if adapter is None or contract.access is None:
        return contract
    served = contract.access.adapter(adapter).model  # the adapter's own name on vLLM, its repo id on TGI
    return dataclasses.replace(contract, access=dataclasses.replace(contract.access, served_model=served, adapters=()))


def target_problem(name: str, deployments: Sequence[DeploymentBase]) -> str | None:
    """Why ``name`` (``deployment`` or ``deployment:adapter``) names nothing the stack serves, or None."""
    known = {d.name: d for d in deployments}
    deployment, adapter = split_target(name)
    if deployment not in known:
        allowed = ", ".join(sorted(known)) or "none (add deployments first)"
        return f"unknown deployment {deployment!r}; deployments of this stack: {allowed}"
    adapters = [a.name for a in known[deployment].adapters]
    if adapter is not None and adapter not in adapters:
        return (f"deployment {deployment!r} serves no adapter {adapter!r}; its adapters: "
                f"{', '.join(adapters) or 'none (deployments[].adapters)'}")
    return None


class RouteTarget(ConfigModel):
    """``routes[].targets[]``: a deployment (or one of its adapters) and its share of the route's traffic."""

    deployment: str
    """Name of a deployment of this stack, or ``deployment:adapter`` for one of its LoRA adapters."""
    weight: Annotated[int, Field(ge=0, le=100, strict=True)]
    """Integer percent of the route's requests (0..100; a route's weights sum to 100)."""
    limits: Limits = Limits()
    """This target's own limits within the route (on top of the route's share)."""


class Gate(ConfigModel):
    """``routes[].gate``: what a candidate must show before ``scalepath promote`` gives it weight."""

    min_pass_rate: Annotated[float, Field(ge=0, le=1)] = 0.9
    """Fraction of the suite's cases the candidate must pass."""
    max_regression: Annotated[float, Field(ge=0, le=1)] = 0.0
    """How far the candidate's pass rate may fall below the baseline's."""
    p95_latency_ms: PositiveInt | None = None
    """Upper bound on the candidate's p95 request latency; unchecked when unset."""
    max_error_rate: Annotated[NonNegativeFloat, Field(le=1)] = 0.01
    """Fraction of requests that may fail (transport errors, 5xx)."""


class Route(ConfigModel):
    """``routes[]``: one OpenAI model name, its weighted targets and its fallbacks."""

    name: RouteName
    """The OpenAI ``model`` clients send."""
    targets: Annotated[list[RouteTarget], Field(min_length=1)]
    """Deployments sharing the traffic by weight."""
    fallbacks: list[str] = []
    """Deployments tried in order when the chosen target fails (5xx, timeout) after its retries."""
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 60
    """Per-attempt timeout; a slower target counts as failed and the next one is tried."""
    retries: Annotated[int, Field(ge=0, le=5)] = 1
    """Retries on the route's targets before falling back."""
    gate: Gate = Gate()
    """Promotion criteria for ``scalepath promote`` on this route."""
    limits: Limits = Limits()
    """The route's limits, shared by its targets by weight (:func:`stacks.gateway.engine_config.entry_limits`)."""
    peak_requests_per_second: PositiveFloat | None = None
    """The route's expected busiest rate, all its targets together; the plan warns when the gateway's
    ``scaling.max`` replicas cannot carry the routes' peaks (:mod:`stacks.gateway.sizing`). Unset: not checked."""

    @field_validator("targets")
    @classmethod
    def _weights(cls, targets: list[RouteTarget]) -> list[RouteTarget]:
        repeated = _repeated([t.deployment for t in targets])
        if repeated:
            raise ValueError(f"deployment(s) {', '.join(repeated)} listed more than once; give each one weight")
        total = sum(t.weight for t in targets)
        if total != 100:
            raise ValueError(f"weights sum to {total}; they must sum to 100 (integers 0..100)")
        return targets

    @model_validator(mode="after")
    def _fallbacks_distinct(self) -> Route:
        repeated = _repeated(self.fallbacks)
        if repeated:
            raise ValueError(f"fallback(s) {', '.join(repeated)} listed more than once; list each deployment once")
        weighted = [t.deployment for t in self.targets if t.weight > 0]
        if weighted and set(weighted) <= set(self.fallbacks):
            raise ValueError(f"every weighted target ({', '.join(weighted)}) is also a fallback: a failed request "
                             "would be sent to the deployment that just failed; raise retries, or fall back "
                             "to another deployment")
        return self

    def deployments(self) -> list[str]:
        """Every deployment the route may send a request to: targets, then fallbacks."""
        return [t.deployment for t in self.targets] + list(self.fallbacks)


class GatewayScaling(Scaling):
    """``gateway.scaling``: replica bounds of the gateway (it is CPU-bound, so CPU drives scaling)."""

    min: Annotated[int, Field(ge=1)] = 1
    """Fewest replicas (at least 1: the gateway never scales to zero, clients would wait on it);
    set 2 or more in prod so a replica can be replaced without an outage."""
    max: PositiveInt = 2
    """Most replicas (policy ``scaling-caps`` bounds it per environment, like any replica count)."""
    target_cpu_percent: Annotated[int, Field(ge=10, le=95)] = 70
    """Average CPU use the autoscaler holds."""


class GatewayConfig(ConfigModel):
    """``scalepath:gateway``: the stack's OpenAI-compatible gateway (LiteLLM's proxy)."""

    runtime: GatewayRuntime | None = None
    """Where it runs; default: the stack's cluster if it has one, else its cloud's container service."""
    routes: Annotated[list[Route], Field(min_length=1)]
    """OpenAI model names and their targets."""
    image: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9./_-]*(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$")] \
        = DEFAULT_IMAGE
    """Engine container image; pin by digest (``repo@sha256:...``) for prod."""
    scaling: GatewayScaling = GatewayScaling()
    cpu: Annotated[float, Field(gt=0, le=8)] = 1.0
    """vCPUs per replica."""
    memory_gib: Annotated[float, Field(gt=0, le=64)] = 2.0
    """Memory per replica, GiB."""
    tls_certificate_arn: AcmCertificateArn | None = None
    """``ecs``: ACM certificate for an HTTPS listener (443, HTTP redirected); plain HTTP on 80 when unset."""
    secret_store: SecretStoreConfig | None = None
    """Where the generated client key (and the HF token, if a route needs it) are kept; default:
    the runtime's cloud store."""

    @field_validator("routes")
    @classmethod
    def _unique_routes(cls, routes: list[Route]) -> list[Route]:
        repeated = _repeated([r.name for r in routes])
        if repeated:
            raise ValueError(f"route name(s) {', '.join(repeated)} repeated; each route needs its own name")
        return routes

    def engine_deployments(self) -> list[str]:
        """Deployments the engine may send a request to: weighted targets and fallbacks, in
        first-use order. A weight-0 target is left out entirely: the engine picks among every
        entry of a group when the weighted ones are unavailable, and 0 must mean no requests."""
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.update(dict.fromkeys([t.deployment for t in route.targets if t.weight > 0] + route.fallbacks))
        return list(seen)

    def deployment_names(self) -> list[str]:
        """Every deployment some route sends to, in first-use order."""
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.update(dict.fromkeys(route.deployments()))
        return list(seen)

    def weighted_routes(self) -> dict[str, tuple[str, ...]]:
        """Deployment -> the routes whose weighted targets include it or one of its adapters."""
        out: dict[str, dict[str, None]] = {}
        for route in self.routes:
            for target in route.targets:
                if target.weight > 0:
                    out.setdefault(split_target(target.deployment)[0], {})[route.name] = None
        return {name: tuple(routes) for name, routes in out.items()}

    def scraped_in(self, deployments: tuple[DeploymentBase, ...] | list[DeploymentBase]) -> Cloud | None:
        """The cloud whose cluster Prometheus scrapes the engine's metrics: the ``kubernetes`` runtime,
        where the gateway gets a ServiceMonitor (EKS: the cluster's Prometheus) or a PodMonitoring
        (GKE: Managed Service for Prometheus, which KEDA's trigger queries too;
        ``components/gateway/meter_k8s.py``). ECS, Cloud Run and Container Apps export to their cloud's
        monitoring, which no cluster's KEDA reads."""
        if self.resolved_runtime(deployments) is not GatewayRuntime.KUBERNETES:
            return None
        cluster = cluster_deployment(deployments)
        return cluster_cloud(cluster.stage) if cluster is not None else None

    def resolved_runtime(self, deployments: tuple[DeploymentBase, ...] | list[DeploymentBase]) -> GatewayRuntime | None:
        """``runtime``, else the first cluster stage's, else the first cloud deployment's service."""
        if self.runtime is not None:
            return self.runtime
        if cluster_deployment(deployments) is not None:
            return GatewayRuntime.KUBERNETES
        for deployment in deployments:
            for runtime, cloud in RUNTIME_CLOUD.items():
                if cloud in deployment.clouds():
                    return runtime
        return None

    def clouds(self, deployments: tuple[DeploymentBase, ...] | list[DeploymentBase]) -> set[Cloud]:
        """The cloud the gateway's own resources go in (its runtime's)."""
        runtime = self.resolved_runtime(deployments)
        if runtime is GatewayRuntime.KUBERNETES:
            cluster = cluster_deployment(deployments)
            return cluster.clouds() if cluster else set()
        return {RUNTIME_CLOUD[runtime]} if runtime else set()


def gateway_issues(gateway: GatewayConfig, stack: StackFacts) -> list[ConfigIssue]:
    """Checks that need the stack's deployments: names, runtime, secret store (each names its key).
    What each target offers is checked next, from its contract (:mod:`stacks.gateway.targets`)."""
    deployments, network = list(stack.deployments), stack.network
    issues = []
    for r, route in enumerate(gateway.routes):
        uses = [(("targets", t, "deployment"), target.deployment) for t, target in enumerate(route.targets)]
        uses += [(("fallbacks", f), name) for f, name in enumerate(route.fallbacks)]
        for path, name in uses:
            if problem := target_problem(name, deployments):
                issues.append(ConfigIssue(format_loc(("gateway", "routes", r, *path)), problem))
    runtime = gateway.resolved_runtime(deployments)
    if runtime is None:
        issues.append(ConfigIssue(format_loc(("gateway", "runtime")),
                                  "no default: this stack has no cluster and no cloud deployment; "
                                  "set one of: " + ", ".join(r.value for r in GatewayRuntime)))
    elif runtime is GatewayRuntime.KUBERNETES and cluster_deployment(deployments) is None:
        with_cluster = " or ".join(s.value for s in ENTRIES if cluster_cloud(s) is not None)
        issues.append(ConfigIssue(format_loc(("gateway", "runtime")),
                                  f"kubernetes needs a deployment that creates a cluster ({with_cluster}) in this "
                                  "stack (its cluster runs the gateway); or choose ecs, cloudrun or containerapps"))
    else:
        clouds = gateway.clouds(deployments)
        store = gateway.secret_store
        if store is not None and store.cloud not in clouds:
            issues.append(ConfigIssue(format_loc(("gateway", "secretStore", "cloud")),
                                      f"must be the runtime's cloud ({', '.join(sorted(c.value for c in clouds))}): "
                                      "the gateway reads its key there with its own identity"))
        if runtime is GatewayRuntime.ECS:
            issues += _ecs_network_issues(network) + _ecs_tls_issues(gateway, network, stack.environment)
        elif gateway.tls_certificate_arn is not None:
            issues.append(ConfigIssue(format_loc(("gateway", "tlsCertificateArn")),
                                      "only the ecs runtime takes a certificate here; Cloud Run and Container "
                                      "Apps serve HTTPS themselves, Kubernetes through its load balancer"))
        problem = size_problem(runtime.value, gateway.cpu, gateway.memory_gib)
        if problem:
            issues.append(ConfigIssue(format_loc(("gateway", "memoryGib")),
                                      f"cpu {gateway.cpu:g} with memoryGib {gateway.memory_gib:g}: {problem}"))
        if Cloud.AZURE in clouds and (store is None or store.azure is None):
            issues.append(ConfigIssue(format_loc(("gateway", "secretStore")),
                                      "an Azure runtime keeps the gateway key in an existing Key Vault; set "
                                      "secretStore: {cloud: azure, azure: {vaultName: ..., resourceGroup: ...}}"))
    return issues


def _ecs_tls_issues(gateway: GatewayConfig, network: Network, environment: Environment) -> list[ConfigIssue]:
    """Outside dev a public ALB serves HTTPS: every request carries the client key, which plain HTTP
    shows to any network on the way."""
    if environment is Environment.DEV or network.mode == "private" or gateway.tls_certificate_arn is not None:
        return []
    return [ConfigIssue(format_loc(("gateway", "tlsCertificateArn")),
                        f"required for a public ecs gateway in {environment.value} (plain HTTP would carry the "
                        "client key in clear): set an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:"
                        "certificate/ID; HTTPS on 443) or use network.mode: private (internal load balancer)")]


def _ecs_network_issues(network: Network) -> list[ConfigIssue]:
    """ECS tasks pull the engine image and call Hugging Face through the VPC's NAT; an
    internet-facing ALB needs public subnets scalepath creates (it cannot know an existing VPC's)."""
    aws = network.aws
    issues = []
    if aws is not None and aws.nat_gateway is False:
        issues.append(ConfigIssue(format_loc(("network", "aws", "natGateway")),
                                  "the ecs gateway needs outbound internet (engine image, Hugging Face); "
                                  "remove natGateway: false or choose another gateway.runtime"))
    if aws is not None and aws.vpc_id is not None and network.mode == "public":
        issues.append(ConfigIssue(format_loc(("gateway", "runtime")),
                                  "a public ecs gateway needs public subnets, which scalepath creates only in a VPC "
                                  "it creates; with network.aws.vpcId use network.mode: private (internal ALB)"))
    return issues
