"""What ``pulumi up`` would do going from one configuration to another, and whether it is safe.

Both configurations are planned offline (the same program under mocks); resources are matched by
URN. A resource only in the new plan is created, only in the base deleted; one in both is updated
when its inputs differ and replaced when a changed input is one its provider cannot update
(``components/data/replacements.yaml``), when a replacement trigger changed, or when an input it
takes from a replaced resource is one of those (the value is unknown until the new one exists).

The judgement (details in docs/transitions.md):

- a replacement that keeps a fixed physical name (or address ranges that must be disjoint in its
  network) and is not deleted first cannot be created next to the old resource, nor can a created
  resource that takes the physical name of one deleted in the same run: **refused** (exit 2),
  naming the config keys that changed for it;
- a delete, or a delete-first replacement, of something that serves (an endpoint, a Deployment, a
  GPU node pool, the gateway) is a **serving gap**, reported with what is down and about how long;
  refused for ``environment: prod`` unless the run accepts it (``--accept-gap``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from components import replacements
from components.clusters.gpu_nodes import GPU_POOL, NODE_POOL_LABEL
from components.replacements import TypeFacts
from scalepath.plan import Plan
from scalepath.stackconfig import StackConfig
from scalepath.wire import UNKNOWN, PlannedResource

Action = Literal["create", "update", "replace", "delete"]
IGNORED_INPUTS = ("__provider",)
"""The dynamic provider's pickled code: it changes with the library, not with the config."""
PROVIDER_REPLACED = "(provider)"
"""A forced-by entry: the resource's explicit provider is replaced (a Kubernetes provider whose
cluster changed), so the engine re-creates the resource with the new one, somewhere else."""


@dataclass(frozen=True)
class Gap:
    """Serving stops for a while: what, about how long (minutes; None: until re-created), and why."""

    what: str
    minutes: int | None
    why: str


@dataclass
class Change:
    """One resource's part in the transition."""

    urn: str
    type: str
    name: str
    action: Action
    properties: list[str] = field(default_factory=list)
    """Changed input paths (update, replace)."""
    forced_by: list[str] = field(default_factory=list)
    """The changed inputs that force the replacement."""
    order: Literal["create-first", "delete-first"] | None = None
    may_replace: bool = False
    """The provider's replacement facts were not read (or not for these inputs): this update might be a replacement."""
    refused: str | None = None
    gap: Gap | None = None
    keys: list[str] = field(default_factory=list)
    """The config keys that changed for this resource's deployment (or the stack's, outside one)."""
    owner: str = ""
    """The top-level component it belongs to: its deployment's name, ``gateway``, a budget."""
    unknown: set[str] = field(default_factory=set)
    """Inputs taken from a replaced or created resource: unknown until it exists (the offline plan
    shows the old value), so a physical name among them is not known to be kept."""

    def to_json(self) -> dict[str, Any]:
        out = {"urn": self.urn, "type": self.type, "name": self.name, "action": self.action,
               "properties": self.properties, "forcedBy": self.forced_by, "order": self.order,
               "mayReplace": self.may_replace, "refused": self.refused,
               "gap": asdict(self.gap) if self.gap else None, "keys": self.keys, "owner": self.owner}
        return out


@dataclass
class Transition:
    """The transition from ``base`` to the planned config, judged."""

    base: str
    environment: str
    changes: list[Change]
    accepted: list[str]
    cost_delta_usd: float | None

    @property
    def refusals(self) -> list[Change]:
        """Changes that cannot succeed at ``up``."""
        return [c for c in self.changes if c.refused]

    @property
    def gaps(self) -> list[Change]:
        return [c for c in self.changes if c.gap]

    def unaccepted_gaps(self) -> list[Change]:
        """Gaps ``prod`` refuses: not named by ``--accept-gap`` (by resource or deployment name)."""
        if self.environment != "prod":
            return []
        return [c for c in self.gaps if not ({"all", c.name, c.owner} & set(self.accepted))]

    @property
    def safe(self) -> bool:
        return not self.refusals and not self.unaccepted_gaps()

    def to_json(self) -> dict[str, Any]:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("create", "update", "replace", "delete")}
        return {"base": self.base, "environment": self.environment, "safe": self.safe, "counts": counts,
                "changes": [c.to_json() for c in self.changes],
                "refused": [{"urn": c.urn, "message": c.refused, "keys": c.keys} for c in self.refusals],
                "gaps": [{"urn": c.urn, **asdict(c.gap), "accepted": c not in self.unaccepted_gaps()}
                         for c in self.gaps if c.gap],
                "accepted": self.accepted, "costDeltaUsd": self.cost_delta_usd}


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) for every leaf of a JSON value; lists of objects step by index."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Input paths whose values differ between ``old`` and ``new``."""
    olds = dict(_leaves({k: v for k, v in old.items() if k not in IGNORED_INPUTS}))
    news = dict(_leaves({k: v for k, v in new.items() if k not in IGNORED_INPUTS}))
    return sorted(p for p in olds.keys() | news.keys() if olds.get(p) != news.get(p))


def _pattern(path: str) -> str:
    """A changed path in the data file's form: list indices become ``[]``."""
    out, depth = [], 0
    for char in path:
        if char == "[":
            depth += 1
            out.append("[]")
        elif char == "]":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def _touching(changed: Iterable[str], paths: Iterable[str]) -> list[str]:
    """The changed paths at, inside or above one of the data file's ``paths``."""
    paths = tuple(paths)
    return [p for p in changed if any(_under(_pattern(p), f) or _under(f, _pattern(p)) for f in paths)]


def _at(value: Any, path: str) -> Any:
    """The value at a dotted path without wildcards (None when absent)."""
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _all_at(value: Any, pattern: str) -> list[Any]:
    """The values at a dotted path whose ``[]`` steps go into every list element."""
    values = [value]
    for step in pattern.split("."):
        key = step.removesuffix("[]")
        values = [v.get(key) for v in values if isinstance(v, dict)]
        if step.endswith("[]"):
            values = [item for v in values if isinstance(v, list) for item in v]
    return [v for v in values if v is not None]


def _network(cidr: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except (TypeError, ValueError):
        return None


def _shrunk(old: Any, new: Any) -> bool:
    """Whether the range ``new`` leaves out an address of ``old`` (terraform-provider-google's
    IsShrinkageIpCidr; unparseable values force nothing, as there)."""
    before, after = _network(old), _network(new)
    if before is None or after is None:
        return False
    return before.version != after.version or not before.subnet_of(after)  # type: ignore[arg-type]


def _overlapping(facts: TypeFacts, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(new range, old range) pairs that overlap among ``disjoint_ranges``."""
    def ranges(inputs: Mapping[str, Any]) -> list[tuple[str, Any]]:
        return [(str(v), n) for path in facts.disjoint_ranges for v in _all_at(inputs, path)
                if (n := _network(v)) is not None]

    return [(a, b) for a, new_net in ranges(new) for b, old_net in ranges(old)
            if new_net.version == old_net.version and new_net.overlaps(old_net)]


def forcing(facts: TypeFacts, old: Mapping[str, Any], new: Mapping[str, Any], changed: Sequence[str]) -> list[str]:
    """The changed paths (or blocks) that make the provider replace the resource."""
    found: list[str] = [path for path in facts.force_new_if_shrunk if _shrunk(_at(old, path), _at(new, path))]
    for path in changed:
        shape = _pattern(path)
        if facts.immutable and path.split(".")[0].split("[")[0] not in (*facts.except_, "tagsAll"):
            found.append(path)
        elif any(_under(shape, f) or _under(f, shape) for f in facts.force_new):
            found.append(path)
    for block in facts.force_new_block:
        if bool(_at(old, block)) != bool(_at(new, block)):
            found.append(block)
    return sorted(set(found))


def _provider_urn(resource: PlannedResource) -> str | None:
    """The URN of the resource's explicit provider (the reference is ``<urn>::<id>``)."""
    reference = resource.options.get("provider")
    return reference.rsplit("::", 1)[0] if reference else None


def _labels(resource: PlannedResource) -> Mapping[str, Any]:
    inputs = resource.inputs
    return inputs.get("labels") or _at(inputs, "nodeConfig.labels") or {}


def serving(facts: TypeFacts | None, resource: PlannedResource) -> str | None:
    """What stops serving while ``resource`` is gone, or None when it serves nothing itself."""
    if facts is None or not facts.serving:
        return None
    if resource.type in ("aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool"):
        if _labels(resource).get(NODE_POOL_LABEL) != GPU_POOL:
            return None  # system nodes run add-ons, not the model
    return facts.serving


def _physical_name(facts: TypeFacts | None, resource: PlannedResource) -> str | None:
    if facts is None or not facts.name:
        return None
    value = _at(resource.inputs, facts.name)
    return value if isinstance(value, str) and value != UNKNOWN else None


def _same_at(paths: Iterable[str], old: PlannedResource, new: PlannedResource, change: Change) -> bool:
    """Whether the old and the new resource have the same values at ``paths`` (their name's scope:
    project, location, parent; or the network their ranges share). An input taken from a replaced
    resource (a subnet's new VPC, a route's new table) differs, though the offline plan shows the
    old value."""
    return all(_at(old.inputs, p) == _at(new.inputs, p) and not any(_under(p, u) for u in change.unknown)
               for p in paths)


def _scoped_name(resource: PlannedResource) -> tuple[str, str, str] | None:
    """(type, physical name, its scope's values) when the resource has a fixed physical name."""
    facts = replacements.facts(resource.type, resource.inputs)
    name = _physical_name(facts, resource)
    if facts is None or name is None:
        return None
    return resource.type, name, json.dumps([_at(resource.inputs, s) for s in facts.name_scope], sort_keys=True)


def _moved_to_another_vpc(facts: TypeFacts, resource: PlannedResource, change: Change,
                          changes: Mapping[str, Change], news: Mapping[str, PlannedResource]) -> list[str]:
    """The ``sameVpc`` inputs that changed to subnets whose VPC is replaced or created in this run."""
    moved = []
    for path in facts.same_vpc:
        if not _touching(change.properties, [path]):
            continue
        subnets = [news[u] for u in resource.property_dependencies.get(path.split(".")[0], []) if u in news]
        vpcs = {v for subnet in subnets for v in subnet.property_dependencies.get("vpcId", [])}
        if any(changes[v].action in ("replace", "create") for v in vpcs if v in changes):
            moved.append(path)
    return moved


def _owner(resource: PlannedResource, by_urn: Mapping[str, PlannedResource], deployments: Iterable[str]) -> str:
    """The deployment a resource belongs to, else its top-level component's name (the gateway, a
    budget). A stage may build several top-level components, each named ``<deployment>-<role>``."""
    current = resource
    while current.parent in by_urn:
        current = by_urn[current.parent]
    owners = [d for d in deployments if current.name == d or current.name.startswith(f"{d}-")]
    return max(owners, key=len) if owners else current.name


def deployment_names(*configs: StackConfig) -> set[str]:
    """The names of the deployments in any of ``configs``."""
    names = set()
    for config in configs:
        try:
            items = json.loads(config.values.get("scalepath:deployments", "[]"))
        except ValueError:
            continue
        names |= {d["name"] for d in items if isinstance(d, dict) and isinstance(d.get("name"), str)}
    return names


def config_changes(base: StackConfig, new: StackConfig) -> dict[str, list[str]]:
    """Changed config keys, grouped by deployment name ("" for stack-wide keys).

    Deployments are paired by name, so a reordered list is no change; a key is named as in the new
    file (``scalepath:deployments[1].rollout.autoRollback``)."""

    def decoded(config: StackConfig) -> dict[str, Any]:
        out = {}
        for key, text in config.values.items():
            try:
                out[key] = json.loads(text)
            except (TypeError, ValueError):
                out[key] = text
        return out

    old, cur = decoded(base), decoded(new)
    grouped: dict[str, list[str]] = {}

    def deployments(values: Mapping[str, Any]) -> dict[str, tuple[int, Any]]:
        items = values.get("scalepath:deployments")
        return {d.get("name"): (i, d) for i, d in enumerate(items)
                if isinstance(d, dict)} if isinstance(items, list) else {}

    was, now = deployments(old), deployments(cur)
    for name in was.keys() | now.keys():
        index, before = was.get(name, (None, None))
        index, after = now.get(name, (index, None))
        prefix = f"scalepath:deployments[{index}]"
        if before is None or after is None:
            grouped.setdefault(name, []).append(f"{prefix} ({'added' if before is None else 'removed'})")
            continue
        for path in changed_paths(before, after):
            grouped.setdefault(name, []).append(f"{prefix}.{path}")
    for key in sorted((old.keys() | cur.keys()) - {"scalepath:deployments"}):
        if old.get(key) != cur.get(key):
            paths = (changed_paths(old[key], cur[key])
                     if isinstance(old.get(key), dict) and isinstance(cur.get(key), dict) else [])
            grouped.setdefault("", []).extend([f"{key}.{p}" for p in paths] or [key])
    return grouped


def diff(base: Plan, new: Plan) -> list[Change]:
    """Per custom resource: create, update, replace or delete (no judgement yet)."""
    olds = {r.urn: r for r in base.resources if r.custom}
    news = {r.urn: r for r in new.resources if r.custom}
    changes: dict[str, Change] = {}
    # Resources in registration order, so a replaced dependency is known before its dependents.
    for resource in new.resources:
        if not resource.custom:
            continue
        old = olds.get(resource.urn)
        if old is None:
            changes[resource.urn] = Change(resource.urn, resource.type, resource.name, "create")
            continue
        ignored = tuple(resource.options.get("ignoreChanges") or ())
        changed = [p for p in changed_paths(old.inputs, resource.inputs)
                   if not any(_under(p, i) for i in ignored)]
        unknown: set[str] = set()
        # Inputs taken from a resource that is replaced (or new) are unknown until it exists.
        for prop, urns in resource.property_dependencies.items():
            if any(changes.get(u) and changes[u].action in ("replace", "create") for u in urns):
                if prop not in changed and not any(_under(p, prop) for p in changed):
                    changed.append(prop)
                    unknown.add(prop)
        provider_moved = (moved := changes.get(_provider_urn(resource))) is not None and moved.action == "replace"
        if (not changed and not provider_moved
                and old.options.get("replacementTrigger") == resource.options.get("replacementTrigger")):
            continue
        facts = replacements.facts(resource.type, resource.inputs)
        forced = forcing(facts, old.inputs, resource.inputs, changed) if facts and facts.read else []
        if old.options.get("replacementTrigger") != resource.options.get("replacementTrigger"):
            forced.append("(replacementTrigger)")
        if provider_moved:
            forced.append(PROVIDER_REPLACED)  # the engine re-creates it with the new provider (cluster)
        change = Change(resource.urn, resource.type, resource.name, "replace" if forced else "update",
                        properties=sorted(changed), forced_by=forced,
                        may_replace=bool(changed) and not forced and (
                            facts is None or not facts.read or not facts.complete
                            or any(_under(p, u) for p in changed for u in facts.unread)),
                        unknown=unknown)
        changes[resource.urn] = change
    for urn, old in olds.items():
        if urn not in news:
            changes[urn] = Change(urn, old.type, old.name, "delete")
    return list(changes.values())


def judge(changes: list[Change], base: Plan, new: Plan, keys: Mapping[str, list[str]],
          routed: set[str], deployments: set[str]) -> None:
    """Fill in order, refusals, gaps and config keys of each change (in place).

    ``routed``: deployments the base gateway sends traffic to (a retired one, weight 0, is no gap)."""
    olds = {r.urn: r for r in base.resources}
    news = {r.urn: r for r in new.resources}
    deleted_names = {_scoped_name(olds[c.urn]) for c in changes if c.action == "delete"} - {None}
    by_urn = {c.urn: c for c in changes}
    for change in changes:
        resource = news.get(change.urn) or olds[change.urn]
        owner = _owner(resource, news if change.urn in news else olds, deployments)
        change.owner = owner
        change.keys = [*keys.get(owner, []), *keys.get("", [])]
        facts = replacements.facts(resource.type, resource.inputs)
        name = _physical_name(facts, resource)
        if facts and facts.name and any(_under(facts.name, u) for u in change.unknown):
            name = None  # taken from a resource being replaced: a new value, not known offline
        if change.action == "replace":
            old_name = _physical_name(facts, olds[change.urn])
            delete_first = bool(resource.options.get("deleteBeforeReplace")) or (
                bool(facts and facts.delete_first_when_name_kept) and name == old_name)
            change.order = "delete-first" if delete_first else "create-first"
            if (not delete_first and name is not None and name == old_name and PROVIDER_REPLACED not in change.forced_by
                    and (facts is None or _same_at(facts.name_scope, olds[change.urn], resource, change))):
                change.refused = (f"{resource.type} {change.name} is replaced ({', '.join(change.forced_by)} "
                                  f"cannot be updated) but keeps its fixed name {name!r}: the new one cannot be "
                                  "created next to the old one")
            elif not delete_first and facts and facts.disjoint_ranges and _same_at(
                    facts.disjoint_scope, olds[change.urn], resource, change) and (
                    clash := _overlapping(facts, olds[change.urn].inputs, resource.inputs)):
                change.refused = (f"{resource.type} {change.name} is replaced ({', '.join(change.forced_by)} "
                                  f"cannot be updated) but its range {clash[0][0]} overlaps the old one's "
                                  f"{clash[0][1]} in the same network, where ranges must be disjoint: the new one "
                                  "cannot be created next to the old one")
        elif change.action == "update" and facts and (cleared := [
                p for p in facts.unresettable
                if _at(olds[change.urn].inputs, p) is not None and _at(resource.inputs, p) is None]):
            change.refused = (f"{resource.type} {change.name}: removing {', '.join(cleared)} cannot be sent to "
                              "the provider (the old value would stay live); set the value it should have")
        elif change.action == "update" and facts and (ignored := _touching(change.properties, facts.update_ignored)):
            change.refused = (f"{resource.type} {change.name}: the provider neither sends a change of "
                              f"{', '.join(ignored)} nor replaces the resource on it, so the live resource would keep "
                              "the old value while the state records the new one; keep the old value")
        elif change.action == "update" and facts and (refused := _touching(change.properties, facts.update_refused)):
            change.refused = (f"{resource.type} {change.name}: {', '.join(refused)} is create-only in the API, but "
                              "the provider sends its change as an update, which the API refuses; create it under "
                              "a new name (a deployment: a new variant) and move to it")
        elif change.action == "update" and facts and (moved := _moved_to_another_vpc(facts, resource, change, by_urn,
                                                                                   news)):
            change.refused = (f"{resource.type} {change.name}: {', '.join(moved)} would move to subnets of a replaced "
                              "or new VPC, but the API only accepts subnets of the VPC the resource was created in; "
                              "keep the VPC (its CIDR block), or deploy anew under another deployment name")
        elif change.action == "create" and _scoped_name(resource) in deleted_names:
            change.refused = (f"{resource.type} {change.name} takes the name {name!r} of a resource deleted in "
                              "the same run; Pulumi creates before it deletes, so the name is still taken")
        what = serving(facts, resource)
        if what and (change.action == "delete" or change.order == "delete-first"):
            if change.action == "delete" and owner in deployments and owner not in routed:
                continue  # retired: the base gateway sent it no traffic
            wait = facts.create_wait_minutes if facts and change.action == "replace" else None
            why = ("deleted" if change.action == "delete"
                   else f"replaced delete-first ({', '.join(change.forced_by)})")
            change.gap = Gap(what=f"{what} ({owner})", minutes=wait, why=why)


def routed_deployments(config: StackConfig) -> set[str] | None:
    """Deployments the config's gateway routes traffic to (weight > 0); None without a gateway."""
    try:
        gateway = json.loads(config.values.get("scalepath:gateway", "null"))
    except ValueError:
        return None
    if not isinstance(gateway, dict):
        return None
    return {t.get("deployment") for route in gateway.get("routes") or [] if isinstance(route, dict)
            for t in route.get("targets") or [] if isinstance(t, dict) and (t.get("weight") or 0) > 0}


def transition(base_label: str, base_config: StackConfig, base: Plan, new_config: StackConfig, new: Plan,
               environment: str, accepted: Iterable[str] = ()) -> Transition:
    """The judged transition from ``base`` to ``new``."""
    changes = diff(base, new)
    deployments = deployment_names(base_config, new_config)
    routed = routed_deployments(base_config)
    if routed is None:  # no gateway: every deployment serves its clients directly
        routed = set(deployments)
    judge(changes, base, new, config_changes(base_config, new_config), routed, deployments)
    cost = (None if base.cost.get("monthly_usd") is None or new.cost.get("monthly_usd") is None
            else round(new.cost["monthly_usd"] - base.cost["monthly_usd"], 2))
    return Transition(base_label, environment, changes, sorted(set(accepted)), cost)


def markdown(plan_document: dict[str, Any]) -> str:
    """The transition of a ``plan --base --out`` JSON as Markdown for a pull request comment:
    counts, replacements (what forced them, in which order), refusals, serving gaps, cost delta, and
    the program's warnings (the gateway's sizing, for one: a pull request's readers see them here)."""
    stack = plan_document.get("stack", "?")
    moved = plan_document.get("transition")
    warned = [f"- :warning: {w}" for w in plan_document.get("warnings", [])]
    if not moved:
        return "\n".join([f"### {stack}: no base to compare with (a new stack: everything is created)", *warned]) + "\n"
    counts = moved["counts"]
    verdict = "safe" if moved["safe"] else "**not safe: `pulumi up` would fail or stop serving**"
    delta = moved.get("costDeltaUsd")
    lines = [f"### {stack}: transition from `{moved['base']}` — {verdict}", "",
             f"{counts['create']} to create, {counts['update']} to update, {counts['replace']} to replace, "
             f"{counts['delete']} to delete; monthly cost "
             + ("n/a" if delta is None else f"{'+' if delta >= 0 else '-'}${abs(delta):,.2f}"), ""]
    for change in moved["changes"]:
        if change["action"] == "replace":
            lines.append(f"- replace `{change['type']}` **{change['name']}** ({change['order']}): "
                         f"{', '.join(change['forcedBy'])}")
    for refused in moved["refused"]:
        lines.append(f"- :x: refused: {refused['message']} (changed: {', '.join(refused['keys']) or 'none'})")
    for gap in moved["gaps"]:
        how_long = f"about {gap['minutes']} min at most plus the model's load" if gap["minutes"] else "until re-created"
        accepted = " (accepted)" if gap["accepted"] and moved["environment"] == "prod" else ""
        lines.append(f"- :warning: serving gap: {gap['what']} down {how_long} ({gap['why']}){accepted}")
    return "\n".join(lines + warned) + "\n"


if __name__ == "__main__":  # python -m scalepath.transition PLAN.json: the PR comment (preview.yml)
    import sys

    print(markdown(json.loads(open(sys.argv[1], encoding="utf-8").read())), end="")
