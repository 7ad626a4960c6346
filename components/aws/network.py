"""An AWS VPC for private model serving: private subnets across AZs, VPC endpoints for the
AWS APIs a model needs, and no internet route unless NAT egress is asked for.

SageMaker models in private mode run in these subnets with ``vpc_config``; EKS GPU nodes use
the same subnets. Without NAT, everything reaches AWS through the interface endpoints
(SageMaker runtime/API, ECR, CloudWatch Logs, STS) and the S3 gateway endpoint.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.tagging import aws_tags

#: Interface endpoints a private SageMaker endpoint or EKS node needs.
DEFAULT_INTERFACE_ENDPOINTS = (
    "sagemaker.runtime", "sagemaker.api", "ecr.api", "ecr.dkr", "logs", "sts",
)


PRIVATE_PREFIX = 20
PUBLIC_PREFIX = 24


def subnet_layout(cidr_block: str, zones: int, public: int) -> tuple[list[str], list[str]]:
    """The CIDRs a new VPC's subnets take: one private /20 per zone from the bottom, ``public``
    /24s from the top. ValueError when they do not fit apart: AWS refuses an overlapping subnet
    (InvalidSubnet.Conflict), so the /20 that holds the public /24s stays free of private ones."""
    network = ipaddress.ip_network(cidr_block)
    private = [str(n) for n in network.subnets(new_prefix=PRIVATE_PREFIX)][:zones]
    publics = [str(n) for n in network.subnets(new_prefix=PUBLIC_PREFIX)][::-1][:public]
    if len(private) < zones or any(ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
                                   for a in private for b in publics):
        slots = 2 ** max(PRIVATE_PREFIX - network.prefixlen, 0)
        needed = f"{zones} private /{PRIVATE_PREFIX}s (one per availability zone)" + (
            f" and the /{PRIVATE_PREFIX} at its top for the NAT's public /{PUBLIC_PREFIX}s" if public else "")
        raise ValueError(f"{cidr_block} has room for {slots} /{PRIVATE_PREFIX}s, but {needed} take "
                         f"{zones + (1 if public else 0)} without overlapping (AWS refuses overlapping subnets); "
                         "use a larger block (a smaller prefix) or fewer availability zones")
    return private, publics


@dataclass(frozen=True, kw_only=True)
class ExistingVpc:
    """Use a VPC the platform team already runs instead of creating one."""

    vpc_id: str
    subnet_ids: Sequence[str]
    """Private subnets (at least two, in different AZs) for models and nodes."""
    cidr_block: str
    """The VPC's CIDR; endpoint security-group rules admit it."""
    route_table_ids: Sequence[str] = ()
    """Route tables of those subnets, for the S3 gateway endpoint."""


@dataclass(frozen=True, kw_only=True)
class AwsNetworkArgs:
    """A new VPC, or endpoints and security groups in an existing one."""

    region: str
    """Region of the VPC; endpoint service names are ``com.amazonaws.<region>.<service>``."""
    tags: Mapping[str, str]
    """Logical cost tags (normalised with :func:`components.tagging.aws_tags`)."""
    cidr_block: str = "10.40.0.0/16"
    """CIDR of a new VPC; private subnets take /20s, public (NAT) subnets /24s from its top
    (:func:`subnet_layout`)."""
    availability_zones: Sequence[str] = ()
    """AZs for a new VPC's subnets (at least two)."""
    nat_gateway: bool = False
    """Add public subnets, an internet gateway and one NAT gateway for outbound-only egress
    (GPU nodes pulling public images). Inbound stays private either way."""
    public_subnets_all_zones: bool = False
    """With ``nat_gateway``: a public subnet in every AZ, not only the NAT's, for an
    internet-facing load balancer (ALBs need subnets in two AZs)."""
    interface_endpoints: Sequence[str] = DEFAULT_INTERFACE_ENDPOINTS
    create_endpoints: bool = True
    """Create the VPC endpoints (turn off when an existing VPC already has them)."""
    existing: ExistingVpc | None = None


class AwsNetwork(pulumi.ComponentResource):
    """VPC, private subnets, route tables, endpoints and the workload security group."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    workload_security_group_id: pulumi.Output[str]
    """Attach to SageMaker models / EKS nodes: egress to the endpoints and (with NAT) out."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    """Created interface endpoints by service (``sagemaker.runtime`` -> ``vpce-...``); empty when
    ``create_endpoints`` is off."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets (NAT egress only; every AZ with ``public_subnets_all_zones``); empty otherwise."""
    cidr_block: str
    """The VPC's CIDR (inbound rules for in-VPC clients)."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:AwsNetwork", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = aws_tags(args.tags)
        self.public_subnet_ids = pulumi.Output.from_input([])

        if args.existing is not None:
            vpc_id: pulumi.Input[str] = args.existing.vpc_id
            subnet_ids: list[pulumi.Input[str]] = list(args.existing.subnet_ids)
            cidr = args.existing.cidr_block
            route_table_ids: list[pulumi.Input[str]] = list(args.existing.route_table_ids)
        else:
            vpc = aws.ec2.Vpc(
                f"{name}-vpc", cidr_block=args.cidr_block, enable_dns_hostnames=True,
                enable_dns_support=True, tags={**self._tags, "Name": f"{name}-vpc"}, opts=self._child,
            )
            vpc_id, cidr = vpc.id, args.cidr_block
            subnet_ids, route_table_ids = self._private_subnets(vpc)
            if args.nat_gateway:
                self._nat_egress(vpc, route_table_ids)

        workload_sg = aws.ec2.SecurityGroup(
            f"{name}-workload-sg", vpc_id=vpc_id,
            description="scalepath model containers and nodes: outbound only",
            egress=[aws.ec2.SecurityGroupEgressArgs(
                protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                description="routes decide what is reachable: endpoints, or NAT when enabled")],
            tags={**self._tags, "Name": f"{name}-workload-sg"}, opts=self._child,
        )
        self.interface_endpoint_ids = {}
        if args.create_endpoints:
            self.interface_endpoint_ids = self._endpoints(vpc_id, cidr, subnet_ids, route_table_ids)

        self.vpc_id = pulumi.Output.from_input(vpc_id)
        self.cidr_block = cidr
        self.private_subnet_ids = pulumi.Output.all(*subnet_ids)
        self.workload_security_group_id = workload_sg.id
        self.register_outputs({
            "vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
            "workload_security_group_id": self.workload_security_group_id,
            "interface_endpoint_ids": self.interface_endpoint_ids,
            "public_subnet_ids": self.public_subnet_ids,
        })

    def _layout(self) -> tuple[list[str], list[str]]:
        args = self._args
        zones = len(args.availability_zones)
        public = (zones if args.public_subnets_all_zones else 1) if args.nat_gateway else 0
        return subnet_layout(args.cidr_block, zones, public)

    def _private_subnets(self, vpc: aws.ec2.Vpc) -> tuple[list[pulumi.Output[str]], list[pulumi.Output[str]]]:
        """One private subnet and route table per AZ; no route to the internet is added here."""
        subnet_ids, table_ids = [], []
        cidrs, _ = self._layout()
        for index, zone in enumerate(self._args.availability_zones):
            role = f"private-{zone[-1]}"
            subnet = aws.ec2.Subnet(
                f"{self._name}-{role}", vpc_id=vpc.id, cidr_block=cidrs[index],
                availability_zone=zone, map_public_ip_on_launch=False,
                # EKS discovers subnets for internal load balancers by this tag.
                tags={**self._tags, "Name": f"{self._name}-{role}", "kubernetes.io/role/internal-elb": "1"},
                opts=self._child,
            )
            table = aws.ec2.RouteTable(
                f"{self._name}-{role}-rt", vpc_id=vpc.id,
                tags={**self._tags, "Name": f"{self._name}-{role}-rt"}, opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-{role}-rta", subnet_id=subnet.id, route_table_id=table.id, opts=self._child,
            )
            subnet_ids.append(subnet.id)
            table_ids.append(table.id)
        return subnet_ids, table_ids

    def _nat_egress(self, vpc: aws.ec2.Vpc, private_tables: list[pulumi.Output[str]]) -> None:
        """Outbound-only internet: public subnet + IGW + one NAT, default routes from private tables."""
        zones = self._args.availability_zones
        igw = aws.ec2.InternetGateway(
            f"{self._name}-igw", vpc_id=vpc.id, tags={**self._tags, "Name": f"{self._name}-igw"},
            opts=self._child,
        )
        public_rt = aws.ec2.RouteTable(
            f"{self._name}-public-rt", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**self._tags, "Name": f"{self._name}-public-rt"}, opts=self._child,
        )
        publics = []
        for index, zone in enumerate(zones if self._args.public_subnets_all_zones else zones[:1]):
            suffix = "" if index == 0 else f"-{zone[-1]}"  # the first keeps its name (and its state)
            subnet = aws.ec2.Subnet(
                f"{self._name}-public-{zone[-1]}", vpc_id=vpc.id, cidr_block=self._layout()[1][index],
                availability_zone=zone, map_public_ip_on_launch=False,
                tags={**self._tags, "Name": f"{self._name}-public-{zone[-1]}"}, opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-rta{suffix}", subnet_id=subnet.id, route_table_id=public_rt.id,
                opts=self._child)
            publics.append(subnet)
        public = publics[0]
        self.public_subnet_ids = pulumi.Output.all(*[p.id for p in publics])
        eip = aws.ec2.Eip(f"{self._name}-nat-eip", domain="vpc",
                          tags={**self._tags, "Name": f"{self._name}-nat-eip"}, opts=self._child)
        nat = aws.ec2.NatGateway(
            f"{self._name}-nat", allocation_id=eip.id, subnet_id=public.id,
            tags={**self._tags, "Name": f"{self._name}-nat"}, opts=self._child,
        )
        for index, table_id in enumerate(private_tables):
            aws.ec2.Route(
                f"{self._name}-private-egress-{index}", route_table_id=table_id,
                destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=self._child,
            )

    def _endpoints(self, vpc_id: pulumi.Input[str], cidr: str, subnet_ids: list[pulumi.Input[str]],
                   route_table_ids: list[pulumi.Input[str]]) -> dict[str, pulumi.Output[str]]:
        """Interface endpoints (private DNS) for the AWS APIs and an S3 gateway endpoint; returns
        the interface endpoints' ids by service."""
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg", vpc_id=vpc_id,
            description="scalepath VPC interface endpoints: HTTPS from inside the VPC",
            ingress=[aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp", from_port=443, to_port=443, cidr_blocks=[cidr],
                description="HTTPS from the VPC")],
            tags={**self._tags, "Name": f"{self._name}-endpoints-sg"}, opts=self._child,
        )
        region = self._args.region
        ids = {}
        for service in self._args.interface_endpoints:
            ids[service] = aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}", vpc_id=vpc_id,
                service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=subnet_ids, security_group_ids=[endpoint_sg.id],
                tags={**self._tags, "Name": f"{self._name}-{service}"}, opts=self._child,
            ).id
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3", vpc_id=vpc_id, service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=route_table_ids,
            tags={**self._tags, "Name": f"{self._name}-s3"}, opts=self._child,
        )
        return ids
