"""A GCP VPC and regional subnet for a stack (Vertex PSC endpoints, GKE nodes), with Cloud NAT
when private nodes need outbound internet.

Either side may already exist: pass its id/name and the component references it instead of
creating it. Compute networks, subnets, routers and NAT gateways take no labels, so this
component has nothing to label; cost attribution of traffic follows the consumers (endpoints,
clusters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True, kw_only=True)
class GcpNetworkArgs:
    """Where the VPC lives and what to create or reuse."""

    project: str
    """Project of the VPC (``gcp:project``)."""
    region: str
    """Region of the subnet (``gcp:region``)."""
    network: str | None = None
    """Existing VPC (name or ``projects/<p>/global/networks/<n>``); ``None`` creates one."""
    subnet: str | None = None
    """Existing subnet in ``region`` (name or full id); ``None`` creates one in the VPC."""
    subnet_cidr: str = "10.40.0.0/20"
    """Primary range of the created subnet (ignored when ``subnet`` is given)."""
    secondary_ranges: Mapping[str, str] = field(default_factory=dict)
    """Secondary ranges of the created subnet, name -> CIDR (GKE pods and services); only for a
    subnet this component creates."""
    nat: bool = False
    """Cloud Router + Cloud NAT (outbound only) for the subnet's ranges, created or existing."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Resources to wait for (the ``compute.googleapis.com`` service)."""


def _full_id(project: str, kind: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/{kind}/{name}"


class GcpNetwork(pulumi.ComponentResource):
    """VPC (custom-mode) + subnet with Private Google Access and flow logs, optional Cloud NAT."""

    network_id: pulumi.Output[str]
    """``projects/<p>/global/networks/<n>``: the form PSC automation and GKE expect."""
    subnet_id: pulumi.Output[str]
    """``projects/<p>/regions/<r>/subnetworks/<s>``."""
    subnet_cidr: str | None
    """Primary range of the subnet when this component creates it (unknown for an existing one)."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:GcpNetwork", name, None, opts)
        if args.subnet is not None and args.secondary_ranges:
            raise ValueError("secondary_ranges can only be added to a subnet this component creates")
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        if args.network is None:
            network = gcp.compute.Network(
                f"{name}-vpc",
                project=args.project,
                # Custom mode: auto mode would add a subnet in every region with fixed ranges.
                auto_create_subnetworks=False,
                routing_mode="REGIONAL",
                description="scalepath private serving network",
                opts=child,
            )
            self.network_id = network.id
        else:
            self.network_id = pulumi.Output.from_input(_full_id(args.project, "global/networks", args.network))
        if args.subnet is None:
            subnet = gcp.compute.Subnetwork(
                f"{name}-subnet",
                project=args.project,
                region=args.region,
                network=self.network_id,
                ip_cidr_range=args.subnet_cidr,
                # Workloads without external IPs still reach Google APIs (Vertex, Secret Manager).
                private_ip_google_access=True,
                secondary_ip_ranges=[
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=range_name, ip_cidr_range=cidr)
                    for range_name, cidr in args.secondary_ranges.items()],
                # The ranges follow the config: the last GKE cluster gone removes its ranges too.
                send_secondary_ip_range_if_empty=True,
                log_config=gcp.compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=0.5,
                    metadata="INCLUDE_ALL_METADATA",
                ),
                opts=child,
            )
            self.subnet_id = subnet.id
            self.subnet_cidr = args.subnet_cidr
        else:
            self.subnet_id = pulumi.Output.from_input(
                _full_id(args.project, f"regions/{args.region}/subnetworks", args.subnet))
            self.subnet_cidr = None
        if args.nat:
            self._nat(name, args, child)
        self.register_outputs({"network_id": self.network_id, "subnet_id": self.subnet_id})

    def _nat(self, name: str, args: GcpNetworkArgs, child: pulumi.ResourceOptions) -> None:
        """A Cloud Router and a NAT gateway serving this subnet only (never other subnets of an
        existing VPC): private nodes pull images and weights without external IPs."""
        router = gcp.compute.Router(
            f"{name}-router", project=args.project, region=args.region, network=self.network_id,
            description="scalepath: Cloud NAT for the stack's subnet", opts=child)
        gcp.compute.RouterNat(
            f"{name}-nat", project=args.project, region=args.region, router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[gcp.compute.RouterNatSubnetworkArgs(
                name=self.subnet_id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child)
