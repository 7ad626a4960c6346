"""Rule functions of the pack called in process, at their edges (issue 29).

The pack's behaviour is tested over gRPC (test_rules.py, test_hardening.py); these call the
rule functions directly, so the edges are pinned where a slip would be made and mutation testing
(benchmarks/mutation.py) sees which test covers which rule.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from policies.rules import iam, tags

DEFAULTS = {"team": "ml", "cost-center": "cc-9", "environment": "Dev Env"}
"""`Dev Env` is a valid AWS/Azure tag value but no GCP or Kubernetes label value."""


def remediate(type_: str, props: dict[str, Any], config: dict[str, Any]) -> Any:
    args = SimpleNamespace(resource_type=type_, props=props, get_config=lambda: config)
    return tags._remediate(args)  # noqa: SLF001 (the rule's own function)


@pytest.mark.parametrize(("type_", "path", "expected"), [
    ("gcp:vertex/aiEndpoint:AiEndpoint", "labels", {"stack": "s", "team": "ml", "cost-center": "cc-9"}),
    ("kubernetes:apps/v1:Deployment", "metadata", {"labels": {"stack": "s", "team": "ml", "cost-center": "cc-9"}}),
    ("azure-native:machinelearningservices:OnlineEndpoint", "tags",
     {"stack": "s", "team": "ml", "cost-center": "cc-9", "environment": "Dev Env"}),
])
def test_remediation_fills_only_values_the_platform_accepts(type_: str, path: str, expected: dict[str, Any]) -> None:
    where = "metadata.labels" if path == "metadata" else path
    props: dict[str, Any] = {"metadata": {"labels": {"stack": "s"}}} if path == "metadata" else {path: {"stack": "s"}}
    fixed = remediate(type_, props, {"requiredKeys": ["team", "cost-center", "environment", "stack"],
                                     "defaults": DEFAULTS})
    assert fixed is not None and fixed[path] == expected, where


def test_remediation_creates_missing_parents_and_leaves_nothing_to_do_alone() -> None:
    fixed = remediate("kubernetes:apps/v1:Deployment", {"apiVersion": "apps/v1"},
                      {"requiredKeys": ["team"], "defaults": DEFAULTS})
    assert fixed == {"apiVersion": "apps/v1", "metadata": {"labels": {"team": "ml"}}}
    complete = {"labels": {"team": "ml"}}
    assert remediate("gcp:vertex/aiEndpoint:AiEndpoint", complete, {"requiredKeys": ["team"], "defaults": DEFAULTS}) \
        is None
    assert remediate("gcp:vertex/aiEndpoint:AiEndpoint", {"labels": {}}, {"requiredKeys": ["team"]}) is None
    # Only an invalid default for the one missing key: nothing to write.
    assert remediate("gcp:vertex/aiEndpoint:AiEndpoint", {"labels": {}},
                     {"requiredKeys": ["environment"], "defaults": DEFAULTS}) is None
    assert remediate("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {}, {"defaults": DEFAULTS}) is None  # no tags


def validate(type_: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found: list[str] = []
    args = SimpleNamespace(resource_type=type_, props=props, get_config=lambda: config)
    tags._validate(args, lambda message, urn: found.append(message))  # noqa: SLF001
    return found


def test_missing_tags_are_named_with_the_default_keys() -> None:
    assert validate("aws:sagemaker/model:Model", {"tags": {"team": "ml", "stack": " ", "managed-by": "x"}}, {}) == [
        "`tags` lacks the cost tags cost-center, environment, stack (each needs a non-empty value)."]
    assert validate("aws:sagemaker/model:Model", {"tags": {k: "x" for k in tags.DEFAULT_KEYS}}, {}) == []
    assert validate("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {}, {}) == []  # takes no tags


def test_tags_that_are_no_map_count_as_none() -> None:
    # A secret or an unknown stands where the map should be: every key is missing, no crash.
    assert validate("aws:sagemaker/model:Model", {"tags": "[secret]"}, {"requiredKeys": ["team"]}) == [
        "`tags` lacks the cost tags team (each needs a non-empty value)."]


def test_a_kubernetes_custom_resource_is_remediated_on_its_labels() -> None:
    # `kubernetes:<apiVersion>:<kind>` types are taggable by their props (apiVersion and kind).
    props = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"labels": {}}}
    fixed = remediate("kubernetes:keda.sh/v1alpha1:ScaledObject", props, {"defaults": DEFAULTS})
    assert fixed["metadata"]["labels"] == {"team": "ml", "cost-center": "cc-9"}  # `Dev Env` is no label value


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # policies/data/admin_grants.json, Azure built-in Owner


@pytest.mark.parametrize("value", [
    f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
    f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{OWNER.upper()}",
    f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER.upper()}/",
    OWNER.upper(),
])
def test_an_azure_owner_role_id_is_refused_in_any_case(value: str) -> None:
    assert iam.admin_attachment("azure-native:authorization:RoleAssignment", value, {}) == \
        f"assigns the Azure role Owner (`{OWNER}`)"


def test_a_reader_role_id_and_other_clouds_names_pass() -> None:
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # Azure built-in Reader
    assert iam.admin_attachment("azure-native:authorization:RoleAssignment", reader, {}) is None
    assert iam.admin_attachment("gcp:projects/iAMMember:IAMMember", "roles/viewer", {}) is None
    assert iam.admin_attachment("gcp:projects/iAMMember:IAMMember", "ROLES/OWNER", {}) == \
        "grants the GCP role `ROLES/OWNER`"
    assert iam.admin_attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                "arn:aws:iam::123456789012:policy/AdministratorAccess", {}) is None  # customer-made


def iam_problems(type_: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    return list(iam.problems(type_, props, config or {}))


def document(*statements: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


@pytest.mark.parametrize(("statement", "expected"), [
    (allow("*"), ["allows every action (`Action: *`)"]),
    (allow("*:*", ["arn:aws:s3:::b"]), ["allows every action (`Action: *:*`)"]),
    (allow(["s3:GetObject", "S3:*"]), ["allows every `s3` action on every resource (`s3:*` with `Resource: *`)"]),
    ({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b"},  # all but one: as good as every
     ["allows every `s3` action on every resource (`s3:*` with `Resource: *`)"]),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, ["allows `NotAction`: every action except the listed "
                                                                  "ones"]),
    (allow("s3:*", "arn:aws:s3:::b/*"), []),  # a whole service on named resources: scoped enough
    (allow("s3:Get*"), []),
    ({"Effect": "Deny", "Action": "*", "Resource": "*"}, []),
    ({"Action": "*", "Resource": "*"}, ["allows every action (`Action: *`)"]),  # Effect defaults to Allow
])
def test_statements_that_grant_administrator_rights(statement: dict[str, Any], expected: list[str]) -> None:
    assert list(iam.statement_problems(statement, [])) == expected


def test_allowed_service_wildcards_are_globs_and_never_cover_star() -> None:
    assert list(iam.statement_problems(allow("logs:*"), ["logs"])) == []
    assert list(iam.statement_problems(allow("LOGS:*"), ["lo*"])) == []
    assert list(iam.statement_problems(allow("s3:*"), ["logs"])) != []
    assert list(iam.statement_problems(allow("*"), ["*"])) == ["allows every action (`Action: *`)"]


def test_documents_are_read_as_json_text_or_objects() -> None:
    assert list(iam.document_problems("{not json", [])) == ["is not a JSON policy document"]
    assert list(iam.document_problems("[]", [])) == ["is not a policy document (an object with `Statement`)"]
    # A single statement object, and a statement list; problems are numbered by statement.
    assert list(iam.document_problems({"Statement": allow("*")}, [])) == [
        "statement 0 allows every action (`Action: *`)"]
    assert list(iam.document_problems(document(allow("s3:GetObject"), allow("*")), [])) == [
        "statement 1 allows every action (`Action: *`)"]
    assert list(iam.document_problems({"Statement": None}, [])) == []


def test_problems_are_found_in_every_place_a_resource_holds_grants() -> None:
    assert iam_problems("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": document(allow("*"))}) == [
        ("policy", "statement 0 allows every action (`Action: *`)")]
    assert iam_problems("aws:iam/policy:Policy", {}) == []  # no document (unknown at preview): nothing to judge
    role = {"inlinePolicies": [{"name": "ok", "policy": document(allow("s3:GetObject"))},
                               {"name": "bad", "policy": document(allow("ec2:*"))}, {"name": "unknown"}],
            "managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/PowerUserAccess"]}
    assert iam_problems("aws:iam/role:Role", role) == [
        ("inlinePolicies[1].policy", "statement 0 allows every `ec2` action on every resource (`ec2:*` with "
                                     "`Resource: *`)"),
        ("managedPolicyArns[1]", "attaches the AWS managed administrator policy `PowerUserAccess`")]
    assert iam_problems("aws:iam/userPolicyAttachment:UserPolicyAttachment",
                        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}) == [
        ("policyArn", "attaches the AWS managed administrator policy `AdministratorAccess`")]
    assert iam_problems("gcp:projects/iAMBinding:IAMBinding", {"role": "roles/editor"}) == [
        ("role", "grants the GCP role `roles/editor`")]
    assert iam_problems("gcp:serviceaccount/iAMMember:IAMMember", {"role": "roles/owner"}) == [
        ("role", "grants the GCP role `roles/owner`")]
    assert iam_problems("gcp:projects/iAMCustomRole:IAMCustomRole", {"role": "roles/owner"}) == []  # grants nothing
    assert iam_problems("azure-native:authorization:RoleAssignment", {"roleDefinitionId": OWNER}) == [
        ("roleDefinitionId", f"assigns the Azure role Owner (`{OWNER}`)")]
    assert iam_problems("azure-native:authorization:RoleAssignment", {"roleDefinitionId": None}) == []


def test_the_environment_allowlist_reaches_every_document() -> None:
    logs = document(allow("logs:*"))
    allowed = {"allowedServiceWildcards": ["logs"]}
    assert iam_problems("aws:iam/policy:Policy", {"policy": logs}, allowed) == []
    assert iam_problems("aws:iam/role:Role", {"inlinePolicies": [{"policy": logs}]}, allowed) == []
    assert iam_problems("aws:iam/policy:Policy", {"policy": logs}) != []


def test_the_environment_config_replaces_the_denied_lists() -> None:
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    config = {"deniedManagedPolicies": ["PowerUserAccess"], "deniedGcpRoles": ["roles/iam.admin"]}
    assert iam.admin_attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", arn, config) is None
    assert iam.admin_attachment("gcp:projects/iAMMember:IAMMember", "roles/owner", config) is None
    assert iam.admin_attachment("gcp:projects/iAMMember:IAMMember", "roles/iam.admin", config) is not None
    assert iam.admin_attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                "arn:aws:iam::aws:policy/service-role/AdministratorAccess", {}) is None  # glob on name
    assert iam.admin_attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                "arn:aws:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk", {}) is not None
    assert iam.admin_attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "AdministratorAccess", {}) is None
    assert iam.admin_attachment("kubernetes:rbac/v1:ClusterRoleBinding", "cluster-admin", {}) is None


def test_a_violation_names_the_path_and_the_fix() -> None:
    found: list[str] = []
    args = SimpleNamespace(resource_type="aws:iam/rolePolicy:RolePolicy", props={"policy": document(allow("*"))},
                           get_config=lambda: {})
    iam._validate(args, lambda message, urn: found.append(message))  # noqa: SLF001
    assert found == ["`policy` statement 0 allows every action (`Action: *`); grant the actions and resources "
                     "the workload needs."]
