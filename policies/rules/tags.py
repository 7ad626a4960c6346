"""required-tags: every taggable resource carries the cost tags budgets and reports rely on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import get, tag_path

DEFAULT_KEYS = ["team", "cost-center", "environment", "stack", "managed-by"]

# Values a remediation may write must already be valid where labels are restricted;
# the pack does not rewrite values (components normalise tags per cloud).
_LABEL_VALUE = {
    "gcp": re.compile(r"^[a-z0-9_-]{0,63}$"),
    "kubernetes": re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"),
}


def _missing(args: ResourceValidationArgs) -> tuple[str, list[str]] | None:
    path = tag_path(args.resource_type, args.props)
    if path is None:
        return None
    tags = get(args.props, path, {})
    tags = tags if isinstance(tags, Mapping) else {}
    keys = args.get_config().get("requiredKeys", DEFAULT_KEYS)
    missing = [k for k in keys if not str(tags.get(k) or "").strip()]
    return path, missing


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    found = _missing(args)
    if found and found[1]:
        path, missing = found
        report_violation(f"`{path}` lacks the cost tags {', '.join(missing)} (each needs a non-empty value).", None)


def _set_path(props: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = props
    for part in parents:
        if not isinstance(node.get(part), Mapping):
            node[part] = {}
        node = node[part]
    node[last] = value


def _remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """Fill missing keys from the configured ``defaults`` (only values valid for that platform)."""
    found = _missing(args)
    defaults = args.get_config().get("defaults", {})
    if not found or not found[1] or not defaults:
        return None
    path, missing = found
    rule = _LABEL_VALUE.get(args.resource_type.split(":", 1)[0])
    additions = {k: defaults[k] for k in missing
                 if k in defaults and (rule is None or rule.match(defaults[k]))}
    if not additions:
        return None
    tags = get(args.props, path, {})
    _set_path(args.props, path, {**{k: tags[k] for k in tags}, **additions})
    return args.props


POLICY = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry the cost-allocation tags.",
    validate=_validate,
    remediate=_remediate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "requiredKeys": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
            "uniqueItems": True, "default": DEFAULT_KEYS,
            "description": "Tag keys every taggable resource must carry with a non-empty value.",
        },
        "defaults": {
            "type": "object", "additionalProperties": {"type": "string", "minLength": 1}, "default": {},
            "description": "Values the `remediate` level fills in for missing keys.",
        },
    }),
    remediation_steps=(
        "Pass the logical tags from StackContext.tags() through components.tagging (aws_tags, "
        "azure_tags, gcp_labels, k8s_labels) to every taggable child explicitly, and set `team` and "
        "`cost-center` under `scalepath:tags`. Tag types: AWS/Azure `tags`, GCP `labels`/"
        "`resourceLabels`/`userLabels` (GKE node pools: `nodeConfig.resourceLabels`), Kubernetes "
        "`metadata.labels`, Hugging Face endpoints `tags`."
    ),
)
