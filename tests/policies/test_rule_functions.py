"""Rule functions of the pack called in process, at their edges (issue 29).

The pack's behaviour is tested over gRPC (test_rules.py, test_hardening.py); these call the
rule functions directly, so the edges are pinned where a slip would be made and mutation testing
(benchmarks/mutation.py) sees which test covers which rule.
"""

from __future__ import annotations

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
