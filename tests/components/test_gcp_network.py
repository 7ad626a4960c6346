"""One GCP network per stack: Vertex and GKE deployments share the VPC and subnet of
``scalepath:network.gcp``; GKE clusters add their secondary ranges to it, Cloud NAT is made once.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.gcp.network import GcpNetwork, GcpNetworkArgs
from scalepath.plan import Plan
from stacks.gcp_network import GcpNetworkConfig, NetworkClaim, SecondaryRange, range_issues
from tests.support import issues, of_type, one, plan
from tests.support.clusters import gke_config

NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
CLUSTER = "gcp:container/cluster:Cluster"
D = "scalepath:deployments[0]"

VERTEX = {"name": "gemma", "model": "Qwen/Qwen2.5-7B-Instruct", "stage": "vertex",
          "machineType": "g2-standard-12", "scaling": {"min": 1, "max": 2}}


def with_network(cfg: dict[str, Any], mode: str | None = None, **gcp: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["scalepath:network"] = {"mode": mode or cfg["scalepath:network"]["mode"], **({"gcp": gcp} if gcp else {})}
    return cfg


def second_gke(cfg: dict[str, Any], **network: Any) -> dict[str, Any]:
    """``cfg`` plus a second GKE deployment named ``embed`` with ``cluster.network``."""
    cfg = copy.deepcopy(cfg)
    extra = copy.deepcopy(cfg["scalepath:deployments"][0])
    extra["name"] = "embed"
    extra["cluster"] = {**extra["cluster"], "network": network}
    cfg["scalepath:deployments"].append(extra)
    return cfg


def vertex_and_gke(vertex_first: bool) -> dict[str, Any]:
    cfg = gke_config(mode="private")
    deployments = [VERTEX, *cfg["scalepath:deployments"]]
    cfg["scalepath:deployments"] = deployments if vertex_first else deployments[::-1]
    return cfg


def secondary(p: Plan) -> dict[str, str]:
    return {r["rangeName"]: r["ipCidrRange"] for r in one(p, SUBNET).inputs["secondaryIpRanges"]}


# --- one VPC for every GCP deployment of the stack -------------------------------------------

@pytest.mark.parametrize("vertex_first", [True, False])
def test_vertex_and_gke_share_one_vpc_and_subnet(vertex_first: bool) -> None:
    p = plan(vertex_and_gke(vertex_first))
    network, subnet = one(p, NETWORK), one(p, SUBNET)
    assert one(p, "scalepath:index:GcpNetwork").name == "network-gcp"
    assert subnet.inputs["ipCidrRange"] == "10.40.0.0/20"
    # Whichever deployment comes first, the subnet carries the cluster's ranges.
    assert secondary(p) == {"llm-pods": "10.64.0.0/14", "llm-services": "10.68.0.0/20"}
    cluster = one(p, CLUSTER)
    assert cluster.inputs["network"].startswith("projects/ml-proj-123/global/networks/network-gcp-vpc")
    assert cluster.inputs["subnetwork"].startswith(
        "projects/ml-proj-123/regions/us-central1/subnetworks/network-gcp-subnet")
    assert network.urn in cluster.property_dependencies["network"]
    assert subnet.urn in cluster.property_dependencies["subnetwork"]
    assert cluster.inputs["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "llm-pods",
                                                    "servicesSecondaryRangeName": "llm-services"}
    vertex = one(p, "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment")
    psc = vertex.inputs["endpointConfig"]["privateServiceConnectConfig"]["pscAutomationConfigs"]
    assert psc["network"] == cluster.inputs["network"]
    psc_policy = one(p, "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy")
    assert psc_policy.inputs["pscConfig"]["subnetworks"] == [cluster.inputs["subnetwork"]]
    # Cloud NAT once, for the shared subnet only; the cluster waits for the whole network.
    nat = one(p, NAT)
    assert one(p, ROUTER).inputs["network"] == cluster.inputs["network"]
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat.inputs["subnetworks"] == [
        {"name": cluster.inputs["subnetwork"], "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    assert nat.urn in cluster.dependencies
    assert not [r for r in p.resources if r.type.startswith("gcp:compute/") and r.parent != network.parent]


def test_vertex_alone_gets_no_nat_and_no_secondary_ranges() -> None:
    cfg = vertex_and_gke(True)
    cfg["scalepath:deployments"] = [VERTEX]
    p = plan(cfg)
    assert one(p, SUBNET).inputs["secondaryIpRanges"] == []
    assert not of_type(p, ROUTER) and not of_type(p, NAT)


def test_two_gke_clusters_add_their_own_ranges_to_the_one_subnet() -> None:
    cfg = second_gke(gke_config(), podsCidr="10.72.0.0/14", servicesCidr="10.69.0.0/20",
                     masterCidr="172.16.0.16/28")
    p = plan(cfg)
    assert len(of_type(p, NETWORK)) == len(of_type(p, SUBNET)) == len(of_type(p, NAT)) == 1
    assert secondary(p) == {"embed-pods": "10.72.0.0/14", "embed-services": "10.69.0.0/20",
                            "llm-pods": "10.64.0.0/14", "llm-services": "10.68.0.0/20"}
    masters = {c.inputs["privateClusterConfig"]["masterIpv4CidrBlock"] for c in of_type(p, CLUSTER)}
    assert masters == {"172.16.0.0/28", "172.16.0.16/28"}
    assert len({c.inputs["subnetwork"] for c in of_type(p, CLUSTER)}) == 1


def test_nat_can_be_switched_off() -> None:
    p = plan(with_network(gke_config(), natGateway=False))
    assert not of_type(p, ROUTER) and not of_type(p, NAT)
    assert secondary(p)  # the ranges do not depend on NAT


# --- GKE in an existing network -----------------------------------------------------------------

def existing(nat: bool | None = None, **cluster_network: Any) -> dict[str, Any]:
    cfg = gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"], "network": cluster_network})
    gcp: dict[str, Any] = {"network": "shared-vpc", "subnet": "gke-us-central1"}
    if nat is not None:
        gcp["natGateway"] = nat
    return with_network(cfg, **gcp)


def test_gke_in_an_existing_network_uses_its_named_ranges() -> None:
    p = plan(existing(podsRangeName="gke-pods", servicesRangeName="gke-services"))
    assert not of_type(p, NETWORK) and not of_type(p, SUBNET)
    # The existing subnet's owner runs its egress: no second NAT gateway unless asked for.
    assert not of_type(p, ROUTER) and not of_type(p, NAT)
    cluster = one(p, CLUSTER).inputs
    assert cluster["network"] == "projects/ml-proj-123/global/networks/shared-vpc"
    assert cluster["subnetwork"] == "projects/ml-proj-123/regions/us-central1/subnetworks/gke-us-central1"
    assert cluster["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "gke-pods",
                                             "servicesSecondaryRangeName": "gke-services"}
    # The existing subnet's range is unknown: only the configured CIDRs reach the control plane.
    assert [b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == [
        "203.0.113.0/24"]


def test_nat_in_an_existing_network_when_asked_for() -> None:
    p = plan(existing(nat=True, podsRangeName="gke-pods", servicesRangeName="gke-services"))
    assert one(p, ROUTER).inputs["network"] == "projects/ml-proj-123/global/networks/shared-vpc"
    assert one(p, NAT).inputs["subnetworks"][0]["name"] == (
        "projects/ml-proj-123/regions/us-central1/subnetworks/gke-us-central1")


def test_existing_vpc_with_a_created_subnet_gets_the_ranges_and_nat() -> None:
    p = plan(with_network(gke_config(), network="shared-vpc", subnetCidr="10.50.0.0/20"))
    assert not of_type(p, NETWORK)
    subnet = one(p, SUBNET).inputs
    assert subnet["network"] == "projects/ml-proj-123/global/networks/shared-vpc"
    assert subnet["ipCidrRange"] == "10.50.0.0/20"
    assert secondary(p) == {"llm-pods": "10.64.0.0/14", "llm-services": "10.68.0.0/20"}
    assert len(of_type(p, NAT)) == 1


# --- key-path errors ----------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "new_home"), [
    ("network", "scalepath:network.gcp.network"),
    ("subnetwork", "scalepath:network.gcp.subnet"),
    ("subnetCidr", "scalepath:network.gcp.subnetCidr"),
])
def test_keys_moved_to_network_gcp_name_their_new_place(key: str, new_home: str) -> None:
    found = issues(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"],
                                       "network": {key: "10.60.0.0/20"}}))
    assert f"{key} moved to {new_home}" in found[f"{D}.cluster.network"]


def test_existing_subnet_needs_named_ranges() -> None:
    found = issues(existing())
    assert "existing subnet" in found[f"{D}.cluster.network.podsRangeName"]
    assert "existing subnet" in found[f"{D}.cluster.network.servicesRangeName"]


def test_named_ranges_need_an_existing_subnet() -> None:
    cfg = gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"],
                              "network": {"podsRangeName": "pods", "servicesRangeName": "services"}})
    found = issues(cfg)
    assert "scalepath:network.gcp.subnet is unset" in found[f"{D}.cluster.network.podsRangeName"]


@pytest.mark.parametrize(("network", "path", "needle"), [
    ({"podsRangeName": "pods"}, f"{D}.cluster.network", "set both podsRangeName and servicesRangeName"),
    ({"podsRangeName": "Pods_1", "servicesRangeName": "svc"}, f"{D}.cluster.network.podsRangeName", "pattern"),
    ({"podsRangeName": "p", "servicesRangeName": "s", "podsCidr": "10.64.0.0/14"}, f"{D}.cluster.network",
     "apply only to ranges scalepath adds"),
    ({"servicesCidr": "8.8.8.0/24"}, f"{D}.cluster.network.servicesCidr", "private"),
])
def test_bad_cluster_network_keys(network: dict[str, Any], path: str, needle: str) -> None:
    found = issues(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"], "network": network}))
    assert needle in found[path]


def test_cluster_ranges_must_not_overlap_the_stack_subnet() -> None:
    found = issues(with_network(gke_config(), subnetCidr="10.64.0.0/20"))
    assert "overlaps 10.64.0.0/20 (scalepath:network.gcp.subnetCidr)" in found[f"{D}.cluster.network.podsCidr"]


def test_two_gke_clusters_with_default_ranges_are_told_to_pick_others() -> None:
    found = issues(second_gke(gke_config()))
    first = f"{D}.cluster.network"
    second = "scalepath:deployments[1].cluster.network"
    assert f"({first}.podsCidr)" in found[f"{second}.podsCidr"]
    assert f"({first}.servicesCidr)" in found[f"{second}.servicesCidr"]
    assert f"({first}.masterCidr)" in found[f"{second}.masterCidr"]


def test_two_clusters_cannot_share_an_existing_range() -> None:
    cfg = second_gke(existing(podsRangeName="gke-pods", servicesRangeName="gke-services"),
                     podsRangeName="gke-pods", servicesRangeName="other-services", masterCidr="172.16.0.16/28")
    found = issues(cfg)
    assert "already used by" in found["scalepath:deployments[1].cluster.network.podsRangeName"]
    assert "scalepath:deployments[1].cluster.network.servicesRangeName" not in found


@pytest.mark.parametrize(("gcp", "path"), [
    ({"natGateway": "sometimes"}, "scalepath:network.gcp.natGateway"),
    ({"secondaryRanges": {}}, "scalepath:network.gcp.secondaryRanges"),
])
def test_bad_network_gcp_keys(gcp: dict[str, Any], path: str) -> None:
    assert path in issues(with_network(gke_config(), **gcp))


# --- the component on its own -------------------------------------------------------------------

@pulumi.runtime.test
def test_component_refuses_ranges_for_an_existing_subnet() -> None:
    with pytest.raises(ValueError, match="only be added to a subnet this component creates"):
        GcpNetwork("bad", GcpNetworkArgs(project="p", region="us-central1", network="vpc", subnet="sn",
                                         secondary_ranges={"pods": "10.64.0.0/14"}))


# --- range checks as a property -----------------------------------------------------------------

@dataclass(frozen=True)
class _Cluster:
    """Stands in for a GKE deployment: anything with ``gcp_network_claim`` uses the network."""

    pods: str
    master: str

    def gcp_network_claim(self) -> NetworkClaim:
        return NetworkClaim(
            secondary=(SecondaryRange(name=f"r-{self.pods}", cidr=self.pods, name_key="n", cidr_key="pods"),),
            reserved=(("master", self.master),))


_PODS = st.integers(min_value=0, max_value=15).map(lambda i: f"10.{64 + i // 4}.{(i % 4) * 64}.0/18")
_MASTERS = st.integers(min_value=0, max_value=3).map(lambda i: f"172.16.0.{16 * i}/28")


@given(st.lists(st.tuples(_PODS, _MASTERS), min_size=1, max_size=4))
def test_range_issues_flag_exactly_the_overlaps(clusters: list[tuple[str, str]]) -> None:
    deployments = [_Cluster(pods, master) for pods, master in clusters]
    cidrs = ["10.40.0.0/20", *(c for pair in clusters for c in pair)]
    networks = [ipaddress.ip_network(c) for c in cidrs]
    overlapping = any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:])
    found = range_issues(GcpNetworkConfig(), deployments)
    assert bool(found) == overlapping
    assert all(issue.path.startswith("scalepath:deployments[") for issue in found)
