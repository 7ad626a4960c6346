"""A GCP VPC and regional subnet for private serving (Vertex PSC endpoints, GKE nodes).

Either side may already exist: pass its id/name and the component references it instead of
creating it. Compute networks and subnets take no labels, so this component has nothing to
label; cost attribution of traffic follows the consumers (endpoints, clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Resources to wait for (the ``compute.googleapis.com`` service)."""


def _full_id(project: str, kind: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/{kind}/{name}"


class GcpNetwork(pulumi.ComponentResource):
    """VPC (custom-mode) + subnet with Private Google Access and flow logs."""

    network_id: pulumi.Output[str]
    """``projects/<p>/global/networks/<n>``: the form PSC automation and GKE expect."""
    subnet_id: pulumi.Output[str]
    """``projects/<p>/regions/<r>/subnetworks/<s>``."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:GcpNetwork", name, None, opts)
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
                log_config=gcp.compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=0.5,
                    metadata="INCLUDE_ALL_METADATA",
                ),
                opts=child,
            )
            self.subnet_id = subnet.id
        else:
            self.subnet_id = pulumi.Output.from_input(
                _full_id(args.project, f"regions/{args.region}/subnetworks", args.subnet))
        self.register_outputs({"network_id": self.network_id, "subnet_id": self.subnet_id})
