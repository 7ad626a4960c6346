"""EKS versions in their support window, add-on pins that move with the version, and access
entries that never collide with the deploying identity (issue 14, items 8 and 10)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import stacks.stages.eks_vllm as eks_stage
from components.clusters import eks_versions
from components.clusters.eks import admin_principals
from components.clusters.eks_versions import SupportType
from scalepath.mocks import ACCOUNT_ID, DEPLOYER_ROLE
from tests.support import issues, of_type, one, plan
from tests.support.clusters import eks_config

D = "scalepath:deployments[0]"
CIDRS = ["203.0.113.0/24"]
DAY = dt.date(2026, 12, 2)
DEPLOYER = f"arn:aws:iam::{ACCOUNT_ID}:role/{DEPLOYER_ROLE}"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Support windows are judged on the issue's date, whatever the machine's clock says."""
    monkeypatch.setattr(eks_stage, "today", lambda: DAY)


def cluster(**settings: Any) -> dict[str, Any]:
    return eks_config(cluster={"publicAccessCidrs": CIDRS, **settings})


# --- item 8: versions ------------------------------------------------------------------------

def test_the_default_version_is_in_standard_support_today() -> None:
    assert eks_versions.support_problem(eks_stage.DEFAULT_EKS_VERSION, SupportType.STANDARD, DAY) is None
    p = plan(cluster())
    resource = one(p, "aws:eks/cluster:Cluster").inputs
    assert resource["version"] == eks_stage.DEFAULT_EKS_VERSION
    assert resource["upgradePolicy"] == {"supportType": "STANDARD"}


@pytest.mark.parametrize("version", ["1.32", "1.33", "1.34"])
def test_a_version_past_standard_support_is_refused_with_standard(version: str) -> None:
    message = issues(cluster(kubernetesVersion=version))[f"{D}.cluster.kubernetesVersion"]
    assert "left standard support" in message and "supportType: EXTENDED" in message


def test_extended_support_when_asked_plans_and_sets_the_upgrade_policy() -> None:
    p = plan(cluster(kubernetesVersion="1.33", supportType="EXTENDED"))
    assert one(p, "aws:eks/cluster:Cluster").inputs["upgradePolicy"] == {"supportType": "EXTENDED"}


def test_past_extended_support_or_unknown_versions_are_refused() -> None:
    assert "left extended support" in (eks_versions.support_problem(
        "1.32", SupportType.EXTENDED, dt.date(2027, 3, 23)) or "")
    assert "not in the EKS support table" in issues(cluster(kubernetesVersion="1.29"))[
        f"{D}.cluster.kubernetesVersion"]
    assert "not released" in (eks_versions.support_problem("1.35", SupportType.STANDARD, dt.date(2025, 12, 1)) or "")


@pytest.mark.parametrize("version", sorted(eks_versions.table().versions))
def test_autoscaler_chart_and_addon_pins_follow_the_version(version: str) -> None:
    row = eks_versions.version(version)
    p = plan(cluster(kubernetesVersion=version, supportType="EXTENDED"))
    releases = {r.inputs["chart"]: r.inputs for r in of_type(p, "kubernetes:helm.sh/v3:Release")}
    assert releases["cluster-autoscaler"]["version"] == row.cluster_autoscaler_chart
    addons = {r.inputs["addonName"]: r.inputs["addonVersion"] for r in of_type(p, "aws:eks/addon:Addon")}
    assert addons == row.addons


def test_the_table_is_consistent() -> None:
    rows = eks_versions.table().versions
    assert len({row.cluster_autoscaler_chart for row in rows.values()}) == len(rows)
    for name, row in rows.items():
        # EKS: 14 months of standard support, then 12 of extended.
        assert row.released < row.end_of_standard_support < row.end_of_extended_support, name
        assert 360 <= (row.end_of_extended_support - row.end_of_standard_support).days <= 370, name


# --- item 10: access entries -----------------------------------------------------------------

def entries(p: Any) -> list[str]:
    return [r.inputs["principalArn"] for r in of_type(p, "aws:eks/accessEntry:AccessEntry")]


def test_the_deploying_role_listed_as_admin_gets_one_entry_and_eks_makes_none() -> None:
    other = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admin"
    p = plan(cluster(adminRoleArns=[other, DEPLOYER]))
    assert one(p, "aws:eks/cluster:Cluster").inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    assert sorted(entries(p)) == sorted([DEPLOYER, other])
    policies = [r.inputs["principalArn"] for r in
                of_type(p, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")]
    assert sorted(policies) == sorted([DEPLOYER, other])


def test_the_deploying_role_gets_admin_even_when_not_listed_and_the_provider_waits_for_it() -> None:
    p = plan(cluster())
    assert entries(p) == [DEPLOYER]
    association = one(p, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    provider = one(p, "pulumi:providers:kubernetes")
    assert association.urn in provider.dependencies


def test_entries_are_named_by_principal_and_alias_the_old_index_names() -> None:
    a, b = (f"arn:aws:iam::{ACCOUNT_ID}:role/{n}" for n in ("a", "b"))
    names = {r.inputs["principalArn"]: r.name for r in of_type(plan(cluster(adminRoleArns=[a, b])),
                                                                 "aws:eks/accessEntry:AccessEntry")}
    swapped = {r.inputs["principalArn"]: r.name for r in of_type(plan(cluster(adminRoleArns=[b, a])),
                                                                   "aws:eks/accessEntry:AccessEntry")}
    assert names == swapped  # reordering the list replaces nothing
    assert admin_principals(DEPLOYER, [a, DEPLOYER.upper(), b]) == [(DEPLOYER, 1), (a, 0), (b, 2)]


def test_a_principal_listed_twice_is_refused() -> None:
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/Admin"
    message = issues(cluster(adminRoleArns=[arn, arn.replace("Admin", "admin")]))[f"{D}.cluster.adminRoleArns"]
    assert "one access entry per principal" in message
