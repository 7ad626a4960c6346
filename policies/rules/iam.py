"""iam-least-privilege: no principal gets administrator rights, by document or by attachment.

Identity policies (role/user/group inline policies, a role's ``inlinePolicies``, customer managed
policies) are read statement by statement: an ``Allow`` of every action (``*``, ``*:*``), of a
whole service on every resource (``s3:*`` with ``Resource: "*"``, unless the environment allows
that service), or ``NotAction`` with ``Allow`` (everything but a few actions) is refused. So are
attachments of administrator grants: AWS managed policies such as ``AdministratorAccess``, GCP
basic roles, Azure Owner/Contributor-class role definitions (``policies/data/admin_grants.json``).
Action names are case-insensitive in IAM, and so is the check. A document that is not JSON is a
violation: the pack cannot vouch for what it does not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import get, items, matches_any

_ADMIN_GRANTS = Path(__file__).resolve().parents[1] / "data" / "admin_grants.json"

#: Resource type -> inputs holding one identity policy document (JSON string).
DOCUMENTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:iam/policy:Policy": "policy",
}
#: Resource type -> input holding one managed policy ARN it attaches.
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
}
#: Resource type -> input listing the managed policy ARNs it attaches.
ATTACHMENT_LISTS = {
    "aws:iam/role:Role": "managedPolicyArns",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
}


@cache
def admin_grants() -> dict[str, Any]:
    """The administrator grants of the data file (AWS managed policies, GCP roles, Azure role ids)."""
    return json.loads(_ADMIN_GRANTS.read_text())


def _listed(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them."""
    return items(value) if not isinstance(value, str) else [value]


def statement_problems(statement: Any, allowed_services: list[str]) -> Iterator[str]:
    """What in one statement grants more than least privilege (``Deny`` statements grant nothing)."""
    if not isinstance(statement, Mapping) or str(statement.get("Effect", "Allow")) == "Deny":
        return
    if "NotAction" in statement:
        yield "allows `NotAction`: every action except the listed ones"
        return
    actions = [str(a).lower() for a in _listed(statement.get("Action"))]
    resources = [str(r) for r in _listed(statement.get("Resource"))]
    every_resource = "*" in resources or "NotResource" in statement
    for action in actions:
        service, _, name = action.partition(":")
        if action == "*" or (service == "*" and name == "*"):
            yield f"allows every action (`Action: {action}`)"
        elif name == "*" and every_resource and not matches_any(service, allowed_services):
            yield f"allows every `{service}` action on every resource (`{action}` with `Resource: *`)"


def document_problems(document: Any, allowed_services: list[str]) -> Iterator[str]:
    """Problems of one policy document given as JSON text or an object."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            yield "is not a JSON policy document"
            return
    if not isinstance(document, Mapping):
        yield "is not a policy document (an object with `Statement`)"
        return
    statements = document.get("Statement")
    for index, statement in enumerate(items(statements) if not isinstance(statements, Mapping) else [statements]):
        for problem in statement_problems(statement, allowed_services):
            yield f"statement {index} {problem}"


def admin_attachment(resource_type: str, value: str, config: Mapping[str, Any]) -> str | None:
    """Why an attached grant (policy ARN, GCP role, Azure role definition id) is an administrator grant."""
    grants = admin_grants()
    if resource_type.startswith("aws:"):
        name = value.split(":policy/", 1)[1] if ":policy/" in value else ""
        if value.startswith("arn:") and ":iam::aws:policy/" in value and matches_any(
                name, config.get("deniedManagedPolicies", grants["awsManagedPolicies"])):
            return f"attaches the AWS managed administrator policy `{name}`"
    elif resource_type.startswith("gcp:"):
        if value.lower() in (r.lower() for r in config.get("deniedGcpRoles", grants["gcpRoles"])):
            return f"grants the GCP role `{value}`"
    elif resource_type.startswith("azure-native:"):
        role_id = value.rstrip("/").rsplit("/", 1)[-1].lower()
        if role_id in grants["azureRoleDefinitions"]:
            return f"assigns the Azure role {grants['azureRoleDefinitions'][role_id]} (`{role_id}`)"
    return None


def problems(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(property path, problem) for everything in a resource that grants administrator rights."""
    allowed = list(config.get("allowedServiceWildcards", []))
    if resource_type in DOCUMENTS:
        path = DOCUMENTS[resource_type]
        if get(props, path) is not None:
            for problem in document_problems(get(props, path), allowed):
                yield path, problem
    if resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(items(get(props, "inlinePolicies"))):
            if get(inline, "policy") is not None:
                for problem in document_problems(get(inline, "policy"), allowed):
                    yield f"inlinePolicies[{i}].policy", problem
    attached: list[tuple[str, Any]] = []
    if resource_type in ATTACHMENTS:
        attached.append((ATTACHMENTS[resource_type], get(props, ATTACHMENTS[resource_type])))
    if resource_type in ATTACHMENT_LISTS:
        path = ATTACHMENT_LISTS[resource_type]
        attached += [(f"{path}[{i}]", arn) for i, arn in enumerate(items(get(props, path)))]
    if resource_type.startswith("gcp:") and resource_type.split(":")[-1] in ("IAMMember", "IAMBinding"):
        attached.append(("role", get(props, "role")))
    if resource_type == "azure-native:authorization:RoleAssignment":
        attached.append(("roleDefinitionId", get(props, "roleDefinitionId")))
    for path, value in attached:
        reason = admin_attachment(resource_type, value, config) if isinstance(value, str) else None
        if reason:
            yield path, reason


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path, problem in problems(args.resource_type, args.props, args.get_config()):
        report_violation(f"`{path}` {problem}; grant the actions and resources the workload needs.", None)


POLICY = ResourceValidationPolicy(
    name="iam-least-privilege",
    description="IAM policies and role grants give no principal administrator rights.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "allowedServiceWildcards": {
            "type": "array", "items": {"type": "string", "pattern": "^[a-z0-9*-]+$"}, "default": [],
            "description": "Service prefixes (globs) whose `service:*` may be allowed on `Resource: *`, e.g. "
                           "`logs` (reviewed exceptions). `Action: *` is never allowed.",
        },
        "deniedManagedPolicies": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
            "default": admin_grants()["awsManagedPolicies"],
            "description": "Globs of AWS managed policy names (after `arn:aws:iam::aws:policy/`) that may not be "
                           "attached to a role, user or group.",
        },
        "deniedGcpRoles": {
            "type": "array", "items": {"type": "string", "pattern": "^roles/"}, "minItems": 1,
            "default": admin_grants()["gcpRoles"],
            "description": "GCP roles no IAM member or binding may grant.",
        },
    }),
    remediation_steps=(
        "Replace `*` actions and `service:*` on `Resource: *` with the actions the workload calls, scoped to "
        "its resources (see components/sagemaker/iam.py for the shape); attach no AdministratorAccess-class "
        "policy, GCP basic role or Azure Owner/Contributor; a reviewed service wildcard goes into "
        "`allowedServiceWildcards` of policies/config/<stack>.json."
    ),
)
