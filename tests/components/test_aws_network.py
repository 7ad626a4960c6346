"""The AWS network: private subnets across AZs, endpoints, and internet egress only on request."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from components.aws.network import DEFAULT_INTERFACE_ENDPOINTS, AwsNetwork, AwsNetworkArgs, ExistingVpc, subnet_layout
from scalepath.cli import app
from scalepath.plan import RecordingMonitor
from tests.support import ROOT

TAGS = {"team": "ml", "cost-center": "cc-1", "environment": "prod", "stack": "p-prod", "managed-by": "scalepath"}


def _types(recorder: RecordingMonitor) -> list[str]:
    return [r.type for r in recorder.recorded]


def _build(args: AwsNetworkArgs):
    @pulumi.runtime.test
    def run():
        network = AwsNetwork("net", args)
        return pulumi.Output.all(network.vpc_id, network.private_subnet_ids)
    run()


def test_private_network_has_no_internet_route(recorder: RecordingMonitor) -> None:
    _build(AwsNetworkArgs(region="eu-west-1", tags=TAGS, availability_zones=["eu-west-1a", "eu-west-1b"]))
    types = _types(recorder)
    assert types.count("aws:ec2/subnet:Subnet") == 2
    assert "aws:ec2/internetGateway:InternetGateway" not in types
    assert "aws:ec2/natGateway:NatGateway" not in types
    assert "aws:ec2/route:Route" not in types
    tables = [r for r in recorder.recorded if r.type == "aws:ec2/routeTable:RouteTable"]
    assert all(not t.inputs.get("routes") for t in tables)
    endpoints = {r.inputs["serviceName"]: r.inputs for r in recorder.recorded
                 if r.type == "aws:ec2/vpcEndpoint:VpcEndpoint"}
    for service in DEFAULT_INTERFACE_ENDPOINTS:
        spec = endpoints[f"com.amazonaws.eu-west-1.{service}"]
        assert spec["vpcEndpointType"] == "Interface" and spec["privateDnsEnabled"] is True
    assert endpoints["com.amazonaws.eu-west-1.s3"]["vpcEndpointType"] == "Gateway"
    assert len(endpoints["com.amazonaws.eu-west-1.s3"]["routeTableIds"]) == 2
    subnets = [r for r in recorder.recorded if r.type == "aws:ec2/subnet:Subnet"]
    assert {s.inputs["availabilityZone"] for s in subnets} == {"eu-west-1a", "eu-west-1b"}
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_nat_egress_routes_private_tables_through_nat(recorder: RecordingMonitor) -> None:
    _build(AwsNetworkArgs(region="us-east-1", tags=TAGS, nat_gateway=True,
                          availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"]))
    types = _types(recorder)
    assert types.count("aws:ec2/natGateway:NatGateway") == 1
    routes = [r.inputs for r in recorder.recorded if r.type == "aws:ec2/route:Route"]
    assert len(routes) == 3 and all(r["destinationCidrBlock"] == "0.0.0.0/0" for r in routes)


def test_existing_vpc_creates_no_vpc_and_every_taggable_resource_is_tagged(recorder: RecordingMonitor) -> None:
    _build(AwsNetworkArgs(region="us-east-1", tags=TAGS, existing=ExistingVpc(
        vpc_id="vpc-0abc", subnet_ids=["subnet-1", "subnet-2"], cidr_block="10.0.0.0/16",
        route_table_ids=["rtb-1"])))
    assert "aws:ec2/vpc:Vpc" not in _types(recorder)
    tagged = [r for r in recorder.recorded
              if r.custom and r.type != "aws:ec2/routeTableAssociation:RouteTableAssociation"]
    assert {r.type for r in tagged} >= {"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/vpcEndpoint:VpcEndpoint"}
    for resource in tagged:
        assert resource.inputs["tags"]["cost-center"] == "cc-1", resource.type


# --- the subnets of a new VPC fit apart (AWS refuses an overlapping subnet: InvalidSubnet.Conflict) ---

@pytest.mark.parametrize(("cidr", "zones", "public", "private_cidrs", "public_cidrs"), [
    # Hand-counted: a /16 has 16 /20s and 256 /24s; the public /24s come from its top.
    ("10.40.0.0/16", 2, 1, ["10.40.0.0/20", "10.40.16.0/20"], ["10.40.255.0/24"]),
    # At the threshold: a /18 has 4 /20s, 3 private ones leave the top /20 (10.40.48.0/20) to the public /24s.
    ("10.40.0.0/18", 3, 3, ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"],
     ["10.40.63.0/24", "10.40.62.0/24", "10.40.61.0/24"]),
    # Without NAT egress all 4 /20s of a /18 can be private.
    ("10.40.0.0/18", 4, 0, ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20", "10.40.48.0/20"], []),
])
def test_subnet_layout_keeps_private_and_public_subnets_apart(cidr: str, zones: int, public: int,
                                                             private_cidrs: list[str], public_cidrs: list[str]) -> None:
    assert subnet_layout(cidr, zones, public) == (private_cidrs, public_cidrs)


@pytest.mark.parametrize(("cidr", "zones", "public"), [
    ("10.40.0.0/18", 4, 1),  # one past the threshold: the 4th private /20 is 10.40.48.0/20, holding 10.40.63.0/24
    ("10.40.0.0/19", 2, 1),  # the prod shape: 10.40.16.0/20 would hold the NAT's 10.40.31.0/24
    ("10.40.0.0/20", 2, 0),  # one /20 for two zones (the component used to fail with an IndexError)
])
def test_subnet_layout_refuses_what_does_not_fit(cidr: str, zones: int, public: int) -> None:
    with pytest.raises(ValueError, match=f"{cidr} has room for"):
        subnet_layout(cidr, zones, public)


@pytest.mark.parametrize(("cidr", "exit_code"), [("10.40.0.0/18", 0), ("10.40.0.0/19", 2), ("10.40.0.0/20", 2)])
def test_a_cidr_block_too_small_for_the_subnets_is_refused_by_plan(tmp_path: Path, cidr: str, exit_code: int) -> None:
    # prod has an EKS deployment, so NAT egress is on: 2 private /20s plus the top /20 for the public /24.
    # Before: /19 planned with exit 0 (public 10.40.31.0/24 inside private 10.40.16.0/20), /20 exited 70.
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.prod.yaml").read_text())
    document["config"]["scalepath:network"].setdefault("aws", {})["cidrBlock"] = cidr
    path = tmp_path / "prod.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--config", str(path)])
    assert result.exit_code == exit_code, result.output
    if exit_code:
        assert "scalepath:network.aws.cidrBlock" in result.output and "Traceback" not in result.output
