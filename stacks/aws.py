"""Stack-wide AWS resources: the stack's one AWS network, built from ``scalepath:network.aws``.

Several deployments of one stack share it: ``network(ctx)`` creates the VPC once (through
``ctx.shared``) for every SageMaker endpoint, EKS cluster and ECS gateway that asks for it.
The config model is :mod:`stacks.aws_network`; the GCP counterpart is :mod:`stacks.gcp`.
"""

from __future__ import annotations

import pulumi_aws as aws

from components.aws.network import AwsNetwork, AwsNetworkArgs, ExistingVpc, subnet_layout
from stacks.aws_network import AwsNetworkConfig
from stacks.config import Cloud, StackFacts
from stacks.context import StackContext
from stacks.errors import ConfigIssue
from stacks.stages.entries import cluster_cloud


def network(ctx: StackContext) -> AwsNetwork:
    """The stack's one AWS network, created on first use."""
    return ctx.shared("aws-network", lambda: _create_aws_network(ctx))


def nat_egress(stack: StackFacts) -> bool:
    """Whether the stack's AWS VPC gets NAT egress: ``network.aws.natGateway``, else on with an AWS
    cluster (EKS) or an ECS gateway (both pull public images; the gateway also calls Hugging Face).

    Takes the facts, not the spec, so stage checks in ``parse_spec`` apply the same rule."""
    config = stack.network.aws or AwsNetworkConfig()
    if config.nat_gateway is not None:
        return config.nat_gateway
    return stack.gateway_in_aws_vpc or any(cluster_cloud(d.stage) is Cloud.AWS for d in stack.deployments)


def _public_subnets_all_zones(stack: StackFacts) -> bool:
    """An internet-facing ALB (the ECS gateway in public mode) needs public subnets in two AZs."""
    return nat_egress(stack) and stack.gateway_in_aws_vpc and stack.network.mode == "public"


def layout_issues(stack: StackFacts) -> list[ConfigIssue]:
    """The subnets of the VPC scalepath creates must fit apart in ``network.aws.cidrBlock``: the
    component would fail on a block too small, and AWS refuses an overlapping subnet."""
    config = stack.network.aws or AwsNetworkConfig()
    if config.vpc_id is not None:
        return []
    zones = config.availability_zones
    public = (zones if _public_subnets_all_zones(stack) else 1) if nat_egress(stack) else 0
    try:
        subnet_layout(config.cidr_block, zones, public)
    except ValueError as error:
        return [ConfigIssue("scalepath:network.aws.cidrBlock", str(error))]
    return []


def _create_aws_network(ctx: StackContext) -> AwsNetwork:
    spec = ctx.spec
    config = spec.network.aws or AwsNetworkConfig()
    region = spec.targets.aws_region or ""
    nat = nat_egress(spec.facts())
    existing = None
    zones: list[str] = []
    if config.vpc_id is not None:
        existing = ExistingVpc(vpc_id=config.vpc_id, subnet_ids=config.subnet_ids,
                               cidr_block=config.vpc_cidr or "", route_table_ids=config.route_table_ids)
    else:
        zones = aws.get_availability_zones(state="available").names[: config.availability_zones]
    return AwsNetwork("network-aws", AwsNetworkArgs(
        region=region, tags=ctx.tags(), cidr_block=config.cidr_block, availability_zones=zones,
        nat_gateway=nat, public_subnets_all_zones=_public_subnets_all_zones(spec.facts()),
        interface_endpoints=config.interface_endpoints,
        create_endpoints=config.create_endpoints, existing=existing,
    ))
