"""Parse a stack's config into one validated :class:`~stacks.spec.StackSpec`, or fail naming every bad key.

The raw config is what the engine hands the program (``scalepath:*`` plus the providers'
``aws:region``, ``gcp:project``...). Deployments are validated one by one against the model of
their stage so an error names ``scalepath:deployments[1].scaling.max``, not a union branch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, get_args

import pulumi
from pydantic import BaseModel, ValidationError

from components.budgets import limit_problems as budget_limit_problems
from components.token_shapes import has_token
from stacks.aws import layout_issues as aws_layout_issues
from stacks.checks import deployment_issues
from stacks.config import (
    Cloud,
    DeploymentBase,
    Stage,
)
from stacks.errors import NAMESPACE, ConfigError, ConfigIssue, KeyedValueError, format_loc
from stacks.gateway.config import gateway_issues
from stacks.gateway.targets import target_issues
from stacks.gcp_network import GCP_PROJECT_ID
from stacks.gcp_network import range_issues as gcp_range_issues
from stacks.names import PROJECT_NAME_PATTERN, STACK_NAME_PATTERN
from stacks.spec import StackSpec
from stacks.stages import STAGES, entries

#: Which provider keys each cloud needs, as ``(field, config key)``.
_TARGET_KEYS: dict[Cloud, tuple[tuple[str, str], ...]] = {
    Cloud.AWS: (("aws_region", "aws:region"),),
    Cloud.GCP: (("gcp_project", "gcp:project"), ("gcp_region", "gcp:region")),
    Cloud.AZURE: (
        ("azure_location", "azure-native:location"),
        ("azure_subscription_id", "azure-native:subscriptionId"),
    ),
}


def read_raw_config() -> dict[str, Any]:
    """Every config key the engine passed to this program (objects still JSON text)."""
    return {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def secret_config_keys() -> set[str]:
    """Config keys the engine marked secret."""
    return set(pulumi.runtime.get_config_secret_keys_env()) | set(
        pulumi.runtime.config._SECRET_KEYS.get()  # pylint: disable=protected-access
    )


def _decode(value: Any) -> Any:
    # The engine passes objects and lists as JSON strings; plain strings stay strings.
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys a model accepts at ``loc`` (for "unknown key" messages)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next(
            (f for n, f in current.model_fields.items() if part in (n, f.alias)), None
        )
        if field is None:
            return None
        current = model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or n for n, f in current.model_fields.items())
    return None


def model_in(annotation: Any) -> Any:
    """The BaseModel inside ``X | None``, ``list[X]``, ``dict[str, X]``... if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation) or ():
        found = model_in(arg)
        if found is not None:
            return found
    return None


def issues_from(error: ValidationError, model: type[BaseModel], base: tuple = ()) -> list[ConfigIssue]:
    """Turn pydantic errors into key-path issues with the allowed keys or values spelled out."""
    issues = []
    for err in error.errors(include_url=False):
        loc = base + tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, tuple(err["loc"]))
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            message = f"unknown key{hint}"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif isinstance(keyed := err.get("ctx", {}).get("error"), KeyedValueError):
            loc, message = loc + tuple(keyed.key.split(".")), keyed.message
        else:
            message = err["msg"].removeprefix("Value error, ")
        issues.append(ConfigIssue(format_loc(loc), message))
    return issues


def _strip_namespace(raw: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}


def _check_secrets(config: Mapping[str, Any], secret_keys: set[str]) -> list[ConfigIssue]:
    """Secret keys set in plain text, and token-shaped text in any plain value of ``config``
    (namespaced keys, objects decoded)."""
    scalepath = _strip_namespace(config)
    # Keys that must be set with `pulumi config set --secret`: every key a registered stage reads.
    known_secrets = entries.secret_keys()
    issues = []
    for key in known_secrets:
        if key in scalepath and f"{NAMESPACE}:{key}" not in secret_keys:
            issues.append(ConfigIssue(
                f"{NAMESPACE}:{key}",
                f"must be a secret; run `pulumi config set --secret {NAMESPACE}:{key}` "
                "and remove the plain value",
            ))

    def walk(value: Any, path: str) -> None:
        # Every string, keys too, anywhere in the value: a token inside a longer string
        # (`ci_hf_<token>`, `--api-key=sk-<key>`) is as leaked as a bare one.
        if isinstance(value, str):
            if has_token(value):
                issues.append(ConfigIssue(path, "holds a credential (token-shaped text) in plain config; store "
                                          "it with `pulumi config set --secret` and reference it"))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if has_token(str(k)):
                    issues.append(ConfigIssue(path, "holds a credential (token-shaped text) as a key; remove it"))
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    plain_secret_keys = {f"{NAMESPACE}:{key}" for key in known_secrets}  # reported above already
    for key, value in config.items():
        if has_token(key):
            issues.append(ConfigIssue(key, "holds a credential (token-shaped text) as a config key; remove it"))
        if key not in secret_keys and key not in plain_secret_keys:
            walk(value, key)
    return issues


def _parse_deployment(index: int, raw: Any) -> tuple[DeploymentBase | None, list[ConfigIssue]]:
    loc = ("deployments", index)
    if not isinstance(raw, Mapping):
        return None, [ConfigIssue(format_loc(loc), "each deployment must be a mapping")]
    stage_value = raw.get("stage")
    try:
        stage = Stage(stage_value)
    except ValueError:
        allowed = ", ".join(s.value for s in Stage)
        return None, [ConfigIssue(format_loc(loc + ("stage",)),
                                  f"unknown stage {stage_value!r}; allowed: {allowed}")]
    if stage not in STAGES:
        available = ", ".join(s.value for s in STAGES) or "none yet"
        return None, [ConfigIssue(format_loc(loc + ("stage",)),
                                  f"stage {stage.value!r} is not available yet (available: {available})")]
    if raw.get("adapters") and not STAGES.entry(stage).serves_adapters:
        # Before the stage's own model: the refusal names the stages that can, not a field error.
        can = ", ".join(f"{s.value} ({STAGES.entry(s).adapters_with})" if STAGES.entry(s).adapters_with else s.value
                        for s in STAGES.adapter_stages())
        return None, [ConfigIssue(format_loc(loc + ("adapters",)), (
            f"stage {stage.value!r} cannot serve LoRA adapters (docs/configuration.md, LoRA adapters, says "
            f"why); stages that can: {can}. Remove adapters or move the deployment to one of them"))]
    model = STAGES[stage].settings
    try:
        deployment = model.model_validate(raw)
    except ValidationError as error:
        return None, issues_from(error, model, loc)
    # The stage serves adapters; whether this deployment's server does is the deployment's to say.
    return deployment, [ConfigIssue(format_loc(loc + path), message)
                        for path, message in (deployment.adapter_problems() if deployment.adapters else [])]


def parse_spec(raw: Mapping[str, Any], *, project: str, stack: str,
               secret_keys: set[str] = frozenset()) -> StackSpec:
    """Validate the whole config; raise :class:`ConfigError` listing every problem found.

    ``raw`` maps namespaced keys to values as the engine passes them (objects as JSON text).
    """
    raw = {key: _decode(value) for key, value in raw.items()}
    scalepath = _strip_namespace(raw)
    issues = _check_secrets(raw, set(secret_keys))
    if not re.fullmatch(STACK_NAME_PATTERN, stack):
        issues.append(ConfigIssue("stack", f"stack name {stack!r} must be 1-63 lowercase letters, digits or '-', "
                                  "starting with a letter and not ending in '-': resource names are built from it "
                                  "and SageMaker, GKE, Key Vault and HF endpoints take nothing else"))
    if not re.fullmatch(PROJECT_NAME_PATTERN, project):
        issues.append(ConfigIssue("name (Pulumi.yaml)", (
            f"project name {project!r} is not one Pulumi takes: 1-100 letters, digits, '_', '.' and '-', "
            "starting with a letter, '_' or '.'; set `name:` in Pulumi.yaml to such a name")))
    deployments: list[DeploymentBase] = []
    raw_deployments = scalepath.get("deployments", [])
    if not isinstance(raw_deployments, list):
        issues.append(ConfigIssue(format_loc(("deployments",)), "must be a list of deployments"))
        raw_deployments = []
    for index, item in enumerate(raw_deployments):
        deployment, found = _parse_deployment(index, item)
        issues += found
        if deployment is not None:
            deployments.append(deployment)
    issues += _duplicate_names(raw_deployments)

    top = {k: v for k, v in scalepath.items() if k not in ("deployments", *entries.secret_keys())}
    targets = {field: raw.get(key) for keys in _TARGET_KEYS.values() for field, key in keys}
    spec = None
    try:
        spec = StackSpec.model_validate({
            **top, "project": project, "stack": stack, "deployments": [],
            "targets": {k: v for k, v in targets.items() if v is not None},
            "secrets": {k for k in entries.secret_keys() if f"{NAMESPACE}:{k}" in secret_keys},
        })
    except ValidationError as error:
        issues += issues_from(error, StackSpec)
    if issues or spec is None:
        raise ConfigError(issues)
    spec = spec.model_copy(update={"deployments": deployments})
    if spec.gateway is not None:
        issues += gateway_issues(spec.gateway, spec.facts())
        if issues:
            raise ConfigError(issues)
        issues += target_issues(spec.gateway, spec.facts())
    issues += _missing_targets(spec) + _missing_secrets(spec) + _budget_limits(spec) + _name_collisions(spec)
    # Ranges the deployments carve from the stack's one GCP network (GKE pods, services, masters).
    issues += gcp_range_issues(spec.network.gcp, spec.deployments)
    # Subnets carved from the VPC scalepath creates (private /20s, public /24s for NAT egress).
    issues += aws_layout_issues(spec.facts())
    if not issues:
        # Checks that need the rest of the stack (targets, environment, network, other
        # deployments): here, so they fail before any resource (budgets included) exists. The
        # cross-cutting ones first: a stage's own checks may assume its model loads at all.
        cross = deployment_issues(deployments, spec.secrets)
        facts = spec.facts()
        for index, deployment in enumerate(deployments):
            issues += cross.get(index) or deployment.check_in_stack(facts, index)
    if issues:
        raise ConfigError(issues)
    return spec


def _name_collisions(spec: StackSpec) -> list[ConfigIssue]:
    """Two deployments that would create the same HF endpoint (namespace and name) or the same
    secret (cloud and name): the second would take over or fail on the first one's resource."""
    seen: dict[tuple[str, str, str], int] = {}
    issues = []
    contracts = STAGES.contracts(spec.facts())
    for index, deployment in enumerate(spec.deployments):
        for unique in contracts[deployment.name].names:
            name = (unique.what, unique.scope, unique.name)
            if name in seen:
                issues.append(ConfigIssue(format_loc(("deployments", index, *unique.key.split("."))), (
                    f"{unique.what} {unique.name!r} is also created by deployments[{seen[name]}]; "
                    "give each deployment its own name")))
            else:
                seen[name] = index
    return issues


def _duplicate_names(raw_deployments: list[Any]) -> list[ConfigIssue]:
    seen: dict[str, int] = {}
    issues = []
    for index, item in enumerate(raw_deployments):
        name = item.get("name") if isinstance(item, Mapping) else None
        if name in seen:
            issues.append(ConfigIssue(format_loc(("deployments", index, "name")),
                                      f"duplicate name {name!r} (also deployments[{seen[name]}])"))
        elif name is not None:
            seen[name] = index
    return issues


def _budget_limits(spec: StackSpec) -> list[ConfigIssue]:
    """The budget of every cloud the stack uses must fit that cloud's notification caps."""
    budget = spec.budget
    return [ConfigIssue(format_loc(("budget", key)), message)
            for cloud in sorted(spec.clouds(), key=lambda c: c.value)
            for key, message in budget_limit_problems(cloud.value, budget.alert_thresholds_pct, budget.notify)]


def _missing_secrets(spec: StackSpec) -> list[ConfigIssue]:
    needed: dict[str, list[str]] = {}
    for deployment in spec.deployments:
        for key in sorted(deployment.required_secrets() - spec.secrets):
            needed.setdefault(key, []).append(deployment.name)
    return [ConfigIssue(f"{NAMESPACE}:{key}", f"required by deployment(s) {', '.join(names)}; run "
                        f"`pulumi config set --secret {NAMESPACE}:{key} <value>`")
            for key, names in needed.items()]


def _missing_targets(spec: StackSpec) -> list[ConfigIssue]:
    issues = []
    for cloud in sorted(spec.clouds(), key=lambda c: c.value):
        for field, key in _TARGET_KEYS[cloud]:
            if getattr(spec.targets, field) is None:
                issues.append(ConfigIssue(key, f"required because this stack creates {cloud.value} "
                                          f"resources; run `pulumi config set {key} <value>`"))
    project = spec.targets.gcp_project
    if Cloud.GCP in spec.clouds() and project is not None and not GCP_PROJECT_ID.fullmatch(project):
        issues.append(ConfigIssue("gcp:project", (
            f"{project!r} is not a project ID (6-30 lowercase letters, digits and '-', starting with a "
            "letter); set the ID, not the number or display name: scalepath looks the number up where "
            "an API wants it")))
    if Cloud.GCP in spec.clouds() and spec.budget.gcp is None:
        issues.append(ConfigIssue(format_loc(("budget", "gcp", "billingAccount")),
                                  "required because this stack creates gcp resources"))
    if Cloud.AZURE in spec.clouds() and spec.budget.azure is None:
        issues.append(ConfigIssue(format_loc(("budget", "azure", "startMonth")),
                                  "required because this stack creates azure resources (or `azure: {}`: the "
                                  "budget then starts in the month of the first `up`)"))
    return issues


def load_spec() -> StackSpec:
    """The running program's spec, from the engine's config."""
    return parse_spec(read_raw_config(), project=pulumi.get_project(), stack=pulumi.get_stack(),
                      secret_keys=secret_config_keys())
