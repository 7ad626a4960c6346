"""The AWS network: private subnets across AZs, endpoints, and internet egress only on request."""

from __future__ import annotations

import pulumi

from components.aws.network import DEFAULT_INTERFACE_ENDPOINTS, AwsNetwork, AwsNetworkArgs, ExistingVpc
from scalepath.plan import RecordingMonitor

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
