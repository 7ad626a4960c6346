"""``scalepath plan --base`` on GCP: the verdicts the facts read from terraform-provider-google give
(issue 23). Each expectation cites the provider file it comes from (the path and commit are in
components/data/replacements.yaml); before those facts were read, every change below planned exit
0 as "may replace"."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.clusters import gke
from scalepath.cli import EXIT_CONFIG, EXIT_OK, app
from scalepath.plan import run_plan
from scalepath.transition import transition
from tests.support import ROOT
from tests.test_transition import _moved_one, change, config_of, deployment, moved, runner, shipped, write

CLUSTER = "gcp:container/cluster:Cluster"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
VERTEX = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"


@pytest.fixture
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _plan_base(stack: str, new: dict[str, Any], tmp_path: Path) -> Any:
    return runner.invoke(app, ["plan", "--stack", stack, "--config", str(write(tmp_path, new, "new")),
                               "--base", str(ROOT / "environments" / f"Pulumi.{stack}.yaml")])


# --- GKE cluster: resource_container_cluster.go ------------------------------------------------------

def test_a_new_control_plane_range_is_refused_naming_the_key(in_project: None, tmp_path: Path) -> None:
    # private_cluster_config.master_ipv4_cidr_block is ForceNew, and the cluster's `name` (fixed:
    # project, stack and deployment) is "unique within the project and location".
    new = shipped("gke-staging")
    deployment(new, "chat-gke")["cluster"]["network"]["masterCidr"] = "172.16.0.16/28"
    out = _plan_base("gke-staging", new, tmp_path)
    assert out.exit_code == EXIT_CONFIG, out.output
    assert "scalepath:deployments[0].cluster.network.masterCidr" in out.output
    assert "fixed name 'scalepath-gke-staging-chat-gke'" in " ".join(out.output.split())


def test_a_new_release_channel_updates_the_cluster_in_place(tmp_path: Path) -> None:
    # release_channel has no ForceNew: UpdateCluster changes it.
    base = shipped("gke-staging")
    new = copy.deepcopy(base)
    deployment(new, "chat-gke")["cluster"]["releaseChannel"] = "STABLE"
    result, _, _ = moved("gke-staging", base, new, tmp_path)
    cluster = change(result, CLUSTER)
    assert (cluster.action, cluster.properties, cluster.may_replace) == ("update", ["releaseChannel.channel"], False)
    assert result.safe and [c.type for c in result.changes] == [CLUSTER]


def test_upgrading_to_unique_account_ids_replaces_accounts_and_pools_created_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library step: the accounts' ids were the cluster name cut to fit; the new ids replace
    them (accountId is ForceNew), the nodes' account is a ForceNew input of every pool, and the
    pools' names carry it, so they are created first too (nothing refused)."""
    config = config_of("gke-staging", ROOT / "environments" / "Pulumi.gke-staging.yaml")
    new = run_plan(config)
    suffix = gke.replacement_suffix
    with monkeypatch.context() as legacy:  # main's derivations: ids cut to fit, no account in the pool suffix
        legacy.setattr(gke, "account_id", lambda cluster, role: f"{cluster[:29 - len(role)].rstrip('-')}-{role}")
        legacy.setattr(gke, "replacement_suffix", lambda *force_new: suffix(*force_new[:-1]))
        base = run_plan(config)
    # The names main's plan of gke-staging shows.
    ids = {r.inputs["accountId"] for r in base.resources if r.type == "gcp:serviceaccount/account:Account"}
    assert ids == {"scalepath-gke-staging-ch-nodes", "scalepath-gke-staging-cha-keda"}
    pools = {r.inputs["name"] for r in base.resources if r.type == "gcp:container/nodePool:NodePool"}
    assert pools == {"system-bfe2ad", "gpu-spot-bb5c10", "gpu-ondemand-f9cccc"}
    result = transition("main", config, base, config, new, "staging")
    replaced = {(c.type, c.order) for c in result.changes if c.action == "replace"}
    assert ("gcp:serviceaccount/account:Account", "create-first") in replaced
    assert ("gcp:container/nodePool:NodePool", "create-first") in replaced
    assert result.safe and not result.refusals, [c.refused for c in result.refusals]


# --- the stack's subnet: resource_compute_subnetwork.go ----------------------------------------------

@pytest.mark.parametrize(("cidr", "refused"), [
    ("10.40.0.0/22", True),   # inside the old /20: IsShrinkageIpCidr -> ForceNew, and it overlaps the old one
    ("10.40.0.0/19", False),  # contains the old /20: expanded in place
])
def test_a_shrunk_subnet_is_refused_and_a_grown_one_updated(
        in_project: None, tmp_path: Path, cidr: str, refused: bool) -> None:
    new = shipped("gcp-prod")
    new["config"]["scalepath:network"]["gcp"]["subnetCidr"] = cidr
    out = _plan_base("gcp-prod", new, tmp_path)
    assert out.exit_code == (EXIT_CONFIG if refused else EXIT_OK), out.output
    text = " ".join(out.output.split())
    assert ("overlaps the old one's 10.40.0.0/20" in text) is refused
    if refused:
        assert "scalepath:network.gcp.subnetCidr" in text


def test_a_subnet_moved_to_a_disjoint_range_is_created_first() -> None:
    # Not a superset: replaced; the new range does not overlap the old one, so both can exist.
    subnet = {"network": "projects/x/global/networks/v", "region": "us-central1", "project": "x"}
    moved_ = _moved_one(SUBNET, {**subnet, "ipCidrRange": "10.40.0.0/20"}, {**subnet, "ipCidrRange": "10.50.0.0/20"})
    assert (moved_.action, moved_.forced_by, moved_.order, moved_.refused) == (
        "replace", ["ipCidrRange"], "create-first", None)
    secondary = _moved_one(SUBNET, {**subnet, "ipCidrRange": "10.40.0.0/20"}, {
        **subnet, "ipCidrRange": "10.50.0.0/20", "secondaryIpRanges": [{"ipCidrRange": "10.40.8.0/24"}]})
    assert "10.40.8.0/24 overlaps the old one's 10.40.0.0/20" in (secondary.refused or "")


# --- Vertex: resource_vertex_ai_endpoint_with_model_garden_deployment.go ------------------------------

def test_a_vertex_scaling_change_deploys_a_new_endpoint_first(tmp_path: Path) -> None:
    # deploy_config.dedicated_resources.max_replica_count is ForceNew; the endpoint's id is the
    # API's (no fixed name), so the new one is created before the old one is deleted: no gap, and
    # its PSC record takes the new endpoint's id as its name (not the old one's).
    base = shipped("gcp-prod")
    new = copy.deepcopy(base)
    deployment(new, "llama-8b")["scaling"]["max"] = 8
    result, _, _ = moved("gcp-prod", base, new, tmp_path)
    endpoint = change(result, VERTEX, "llama-8b-deploy")
    assert (endpoint.action, endpoint.order) == ("replace", "create-first")
    assert endpoint.forced_by == ["deployConfig.dedicatedResources.maxReplicaCount"]
    record = change(result, "gcp:dns/recordSet:RecordSet", "llama-8b-psc-dns")
    assert (record.action, record.order, record.refused) == ("replace", "create-first", None)
    assert result.safe and not result.gaps  # prod: nothing to accept
    # resource_monitoring_alert_policy.go: conditions (whose filter names the endpoint) are patched.
    alerts = [c for c in result.changes if c.type == "gcp:monitoring/alertPolicy:AlertPolicy"]
    assert len(alerts) == 2 and all((c.action, c.may_replace) == ("update", False) for c in alerts), alerts


def test_a_change_the_source_read_does_not_have_may_replace() -> None:
    # `severity` is newer than the alert policy file read (`unread`); `project` is ForceNew there.
    policy = "gcp:monitoring/alertPolicy:AlertPolicy"
    severity = _moved_one(policy, {"project": "x", "severity": "WARNING"}, {"project": "x", "severity": "ERROR"})
    assert (severity.action, severity.may_replace) == ("update", True)
    assert _moved_one(policy, {"project": "x"}, {"project": "y"}).forced_by == ["project"]


# --- moving to an existing VPC: service connection policy and DNS zone --------------------------------

def test_moving_to_an_existing_vpc_is_refused_at_the_psc_policy(tmp_path: Path) -> None:
    # resource_network_connectivity_service_connection_policy.go: `network` is ForceNew and the
    # policy keeps its name (unique per project and location); resource_dns_managed_zone.go:
    # private_visibility_config is not ForceNew, so the zone moves to the new VPC in place.
    base = shipped("gcp-prod")
    new = copy.deepcopy(base)
    new["config"]["scalepath:network"]["gcp"] = {"network": "shared-vpc", "subnet": "serving",
                                                 "pscAllowedProjects": ["acme-apps-prod"]}
    result, _, _ = moved("gcp-prod", base, new, tmp_path)
    policy = change(result, "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy")
    assert policy.action == "replace" and "fixed name 'scalepath-gcp-prod-vertexai'" in (policy.refused or "")
    assert "scalepath:network.gcp.network" in policy.keys
    zone = change(result, "gcp:dns/managedZone:ManagedZone")
    assert (zone.action, zone.may_replace) == ("update", False)
