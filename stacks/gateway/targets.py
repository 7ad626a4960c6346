"""What every route target must offer the gateway, checked from its contract before anything exists.

For each deployment a route may send to (weighted or weight-0 targets, fallbacks):

- **protocol**: routes serve chat completions, so the target must answer chat synchronously
  (an async SageMaker endpoint or a TEI embeddings server cannot);
- **auth**: a credential the gateway can hold (an identity grant or a secret it is given);
- **reach**: the gateway's runtime must be where the target is reachable from — anywhere for a
  public target, inside the stack's network of the target's cloud, or inside the target's own
  cluster; a target reached only at a private address (PSC, PrivateLink) is refused with its
  stage's fix.

Each issue names the key to change and how.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config import Cloud, DeploymentBase, StackFacts
from stacks.contract import Protocol, Scope, StageContract
from stacks.errors import NAMESPACE, ConfigIssue, format_loc
from stacks.gateway.config import (
    RUNTIME_CLOUD,
    GatewayConfig,
    GatewayRuntime,
    cluster_deployment,
    split_target,
    target_contract,
)
from stacks.stages import STAGES, entries

#: What a route asks of its targets (the engine's ``/v1/chat/completions``).
ROUTE_PROTOCOL = Protocol.CHAT


@dataclass(frozen=True)
class Location:
    """Where a gateway runtime's requests come from."""

    network: Cloud | None
    """The cloud whose stack network the runtime runs in (``None``: outside every stack network)."""
    cluster: str | None = None
    """The deployment whose cluster it runs on."""


def location(runtime: GatewayRuntime, deployments: tuple[DeploymentBase, ...]) -> Location:
    """ECS tasks and cluster pods run in the stack's network; Cloud Run and Container Apps (no VPC
    egress, no VNet integration) do not."""
    if runtime is GatewayRuntime.KUBERNETES:
        cluster = cluster_deployment(deployments)
        return Location(entries.cluster_cloud(cluster.stage), cluster.name) if cluster else Location(None)
    return Location(RUNTIME_CLOUD[runtime] if runtime is GatewayRuntime.ECS else None)


def reaches(where: Location, contract: StageContract) -> bool:
    """Whether requests from ``where`` reach the deployment."""
    reach = contract.reach
    if reach.scope is Scope.PUBLIC:
        return True
    if reach.scope is Scope.NETWORK:
        return where.network is not None and where.network is reach.cloud
    if reach.scope is Scope.CLUSTER:
        return where.cluster == contract.deployment
    return False  # PRIVATE_ADDRESS: the engine has no way to send to a private address


def _key(index: int, key: str) -> str:
    """A contract's ``Fix.key``: relative to ``deployments[index]``, or top-level with a leading ``/``."""
    if key.startswith("/"):
        return f"{NAMESPACE}:{key[1:]}"
    return format_loc(("deployments", index, *key.split(".")))


def target_issues(gateway: GatewayConfig, stack: StackFacts) -> list[ConfigIssue]:
    """Every route target checked from its contract (protocol, auth, reach); run once the names and
    the runtime are valid (``gateway_issues``)."""
    runtime = gateway.resolved_runtime(stack.deployments)
    assert runtime is not None  # gateway_issues refused a stack without one
    where = location(runtime, stack.deployments)
    index = {d.name: i for i, d in enumerate(stack.deployments)}
    routed = {split_target(name)[0] for name in gateway.deployment_names()}
    contracts = {d.name: STAGES.contract(d, stack) for d in stack.deployments if d.name in routed}
    issues: list[ConfigIssue] = []
    for r, route in enumerate(gateway.routes):
        uses = [(("targets", t, "deployment"), target.deployment) for t, target in enumerate(route.targets)]
        uses += [(("fallbacks", f), name) for f, name in enumerate(route.fallbacks)]
        for path, name in uses:
            contract = target_contract(contracts, name)
            if ROUTE_PROTOCOL not in contract.protocols or contract.access is None:
                offers = ", ".join(sorted(p.value for p in contract.protocols)) or "nothing a client can call"
                issues.append(ConfigIssue(format_loc(("gateway", "routes", r, *path)), (
                    f"deployment {name!r} answers {offers}, and a route serves {ROUTE_PROTOCOL.value} completions; "
                    f"route to a deployment that answers {ROUTE_PROTOCOL.value}")))
    issues += _wake_issues(gateway, contracts)
    for name, contract in contracts.items():
        i = index[name]
        if contract.auth.unusable is not None:
            issues.append(ConfigIssue(_key(i, contract.auth.unusable.key), contract.auth.unusable.text))
        reach = contract.reach
        if reaches(where, contract):
            continue
        if reach.fix is not None:
            issues.append(ConfigIssue(_key(i, reach.fix.key), reach.fix.text))
            continue
        able = [rt.value for rt in GatewayRuntime if reaches(location(rt, stack.deployments), contract)]
        fix = (f"choose gateway.runtime: {' or '.join(able)}" if able else
               "no gateway runtime runs there; leave it out of the gateway's routes, or use network.mode: public")
        issues.append(ConfigIssue(format_loc(("gateway", "runtime")), (
            f"deployment {name!r} is reachable only from {reach.caller_needs}, and the {runtime.value} gateway "
            f"runs elsewhere: {fix}")))
    return issues


def _wake_issues(gateway: GatewayConfig, contracts: dict[str, StageContract]) -> list[ConfigIssue]:
    """A route sending a share to a deployment at zero replicas needs a fallback that stays up: the
    first request after idle finds no server (the wake signal is that very request), and is answered
    by the fallback while the server starts (docs/gateway.md, "Targets that wake from zero")."""
    issues = []
    for r, route in enumerate(gateway.routes):
        cold = [t.deployment for t in route.targets if t.weight > 0
                and contracts[split_target(t.deployment)[0]].wake is not None]
        if not cold:
            continue
        warm = [f for f in route.fallbacks if contracts[split_target(f)[0]].wake is None]
        if warm:
            continue
        wake = contracts[split_target(cold[0])[0]].wake
        assert wake is not None
        issues.append(ConfigIssue(format_loc(("gateway", "routes", r, "fallbacks")), (
            f"{', '.join(cold)} scale(s) to zero (scaling.min 0): the first request after idle finds no server "
            f"and the server takes ~{wake.cold_start_seconds / 60:.0f} min to start; list a fallback deployment "
            "that stays up (scaling.min >= 1, or a serverless stage) so those requests are answered meanwhile")))
    return issues
