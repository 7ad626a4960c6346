"""Stack-wide GCP resources several deployments share: enabled APIs, the VPC, alert channels.

Each is created once per stack through :meth:`StackContext.shared`, so Vertex and GKE
deployments use one ``compute.googleapis.com`` service resource and one VPC.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_gcp as gcp

from components.gcp.monitoring import email_channels
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from components.gcp.vertex import VERTEX_PSC_DOMAIN
from components.names import dns_label
from components.tagging import gcp_labels
from stacks.config import Cloud
from stacks.context import StackContext
from stacks.gcp_network import GcpNetworkConfig, secondary_ranges
from stacks.spec import StackSpec
from stacks.stages.entries import cluster_cloud


def project(ctx: StackContext) -> str:
    """``gcp:project`` (the parser requires it for every stack that uses GCP)."""
    assert ctx.spec.targets.gcp_project is not None
    return ctx.spec.targets.gcp_project


def region(ctx: StackContext) -> str:
    """``gcp:region``."""
    assert ctx.spec.targets.gcp_region is not None
    return ctx.spec.targets.gcp_region


def project_number(ctx: StackContext) -> pulumi.Output[str]:
    """The number of ``gcp:project``, looked up once per stack (``resourcemanager.projects.get``).

    APIs that store ``projects/<number>`` (budget filters) or build names from it (Vertex PSC
    host names) need it; sending the id instead is accepted and then reported as drift forever.
    """
    return ctx.shared("gcp-project-number", lambda: gcp.organizations.get_project_output(
        project_id=project(ctx)).number)


def psc_dns_zone(ctx: StackContext) -> gcp.dns.ManagedZone:
    """The private zone ``prediction.p.vertexai.goog.`` on the stack's VPC, once per stack.

    Vertex serves PSC endpoints with a certificate for ``*.prediction.p.vertexai.goog`` only, so
    HTTPS needs a name in that zone; each endpoint adds its record."""

    def create() -> gcp.dns.ManagedZone:
        return gcp.dns.ManagedZone(
            "network-gcp-vertex-dns",
            project=project(ctx),
            name=dns_label(f"{ctx.spec.stack_tag}-vertex-psc", 63),  # fitted, never cut (names.py)
            dns_name=f"{VERTEX_PSC_DOMAIN}.",
            visibility="private",
            private_visibility_config=gcp.dns.ManagedZonePrivateVisibilityConfigArgs(networks=[
                gcp.dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=network(ctx).network_id)]),
            description="scalepath: names of Vertex AI PSC endpoints (their certificate's domain)",
            labels=gcp_labels(ctx.tags()),
            opts=pulumi.ResourceOptions(depends_on=services(ctx, ["dns.googleapis.com"])),
        )

    return ctx.shared("gcp-vertex-psc-dns", create)


def services(ctx: StackContext, apis: Iterable[str]) -> list[gcp.projects.Service]:
    """Enable each API once per stack (e.g. ``aiplatform.googleapis.com``)."""

    def enable(api: str) -> gcp.projects.Service:
        return gcp.projects.Service(
            f"gcp-api-{api.split('.')[0]}",
            project=project(ctx),
            service=api,
            # Other workloads in the project may use the API: destroying this stack must not
            # switch it off under them.
            disable_on_destroy=False,
            disable_dependent_services=False,
        )

    return [ctx.shared(f"gcp-api:{api}", lambda api=api: enable(api)) for api in sorted(set(apis))]


def nat_egress(spec: StackSpec) -> bool:
    """Whether the stack's subnet gets Cloud NAT: ``network.gcp.natGateway``, else on with a
    GCP cluster (GKE) in a subnet scalepath creates."""
    config = spec.network.gcp or GcpNetworkConfig()
    if config.nat_gateway is not None:
        return config.nat_gateway
    return config.subnet is None and any(cluster_cloud(d.stage) is Cloud.GCP for d in spec.deployments)


def network(ctx: StackContext) -> GcpNetwork:
    """The stack's one VPC and subnet, from ``scalepath:network.gcp`` (created when unset).

    Whichever deployment asks first creates it with everything the stack needs: the secondary
    ranges of every GKE cluster and, with GKE, Cloud NAT.
    """

    def create() -> GcpNetwork:
        config = ctx.spec.network.gcp or GcpNetworkConfig()
        created = config.subnet is None
        return GcpNetwork("network-gcp", GcpNetworkArgs(
            project=project(ctx),
            region=region(ctx),
            network=config.network,
            subnet=config.subnet,
            subnet_cidr=config.subnet_cidr,
            secondary_ranges=secondary_ranges(ctx.spec.deployments) if created else {},
            nat=nat_egress(ctx.spec),
            depends_on=tuple(services(ctx, ["compute.googleapis.com"])),
        ))

    return ctx.shared("gcp-network", create)


def alert_channels(ctx: StackContext) -> list[pulumi.Output[str]]:
    """E-mail notification channels for alert policies, one per ``budget.notify`` address.

    Created by the same helper as the budget's channels (``components/gcp/monitoring.py``);
    they are separate resources because budgets are composed before stages and do not hand
    their children to the stage builders.
    """

    def create() -> list[pulumi.Output[str]]:
        channels = email_channels(
            "alerts-gcp", project=project(ctx), addresses=ctx.spec.budget.notify,
            labels=gcp_labels(ctx.tags()), purpose="alerts",
            depends_on=services(ctx, ["monitoring.googleapis.com"]),
        )
        return [c.name for c in channels]

    return ctx.shared("gcp-alert-channels", create)
