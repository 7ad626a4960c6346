"""``scalepath:network.gcp``: the stack's one GCP VPC (Vertex PSC endpoints, GKE clusters).

Kept to the VPC: which network and subnet (existing or created), the subnet range, Cloud NAT,
and which projects may connect through Private Service Connect. What a deployment takes from
the network (a GKE cluster's pod and service secondary ranges, its control-plane /28) stays
in the deployment's config and is declared through :class:`GcpNetworkUser`;
:func:`range_issues` checks all of it together when the config is parsed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Protocol, runtime_checkable

from pydantic import Field, StringConstraints, field_validator, model_validator

from stacks.errors import ConfigIssue
from stacks.model import ConfigModel

GCP_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
"""A GCP project id: 6..30 lowercase letters, digits and ``-``, starting with a letter."""
GcpProjectId = Annotated[str, StringConstraints(pattern=f"^{GCP_PROJECT_ID.pattern}$")]

_NAME = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"

NetworkRef = Annotated[str, StringConstraints(pattern=rf"^({_NAME}|projects/[^/]+/global/networks/{_NAME})$")]
"""A VPC by name or ``projects/<p>/global/networks/<n>``."""
RangeName = Annotated[str, StringConstraints(pattern=rf"^{_NAME}$")]
"""A secondary range name: RFC 1035, 1..63 characters."""
SubnetRef = Annotated[str, StringConstraints(
    pattern=rf"^({_NAME}|projects/[^/]+/regions/[a-z0-9-]+/subnetworks/{_NAME})$")]
"""A subnet by name or ``projects/<p>/regions/<r>/subnetworks/<s>``."""


class GcpNetworkConfig(ConfigModel):
    """Which VPC and subnet to use; everything unset means scalepath creates both."""

    network: NetworkRef | None = None
    """Existing VPC, by name or ``projects/<p>/global/networks/<n>``; unset creates one."""
    subnet: SubnetRef | None = None
    """Existing subnet in ``gcp:region`` (needs ``network``); unset creates one."""
    subnet_cidr: str = "10.40.0.0/20"
    """Primary range of the created subnet: a private IPv4 CIDR."""
    nat_gateway: bool | None = None
    """Cloud Router + Cloud NAT (outbound only) for the subnet. Unset: on when the stack has a
    ``gke-vllm`` deployment (private nodes pull images and weights) and scalepath creates the
    subnet; an existing subnet keeps the egress its owner set up (a subnet range can be served
    by only one NAT gateway per region)."""
    psc_allowed_projects: Annotated[list[GcpProjectId], Field(max_length=50)] = []
    """Extra projects allowed to reach private endpoints over Private Service Connect
    (``gcp:project`` is always allowed)."""

    @field_validator("subnet_cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a CIDR such as 10.40.0.0/20") from None
        if net.version != 4 or not net.is_private or net.prefixlen > 29:
            raise ValueError(f"{value!r} must be a private IPv4 range (RFC 1918) of /29 or larger")
        return str(net)

    @model_validator(mode="after")
    def _consistent(self) -> GcpNetworkConfig:
        if self.subnet is not None and self.network is None:
            raise ValueError("subnet names an existing subnet, so network must name its VPC too")
        if self.subnet is not None and "subnet_cidr" in self.model_fields_set:
            raise ValueError("subnetCidr applies only to a subnet scalepath creates; remove it "
                             "or remove subnet")
        return self


@dataclass(frozen=True, kw_only=True)
class SecondaryRange:
    """A secondary range of the stack's subnet that one deployment uses (GKE pods or services)."""

    name: str
    """Range name on the subnet."""
    cidr: str | None
    """CIDR scalepath adds to the subnet it creates; ``None`` names a range of an existing subnet."""
    name_key: str
    """Config key (below the deployment) that names an existing range, for errors."""
    cidr_key: str
    """Config key (below the deployment) that sets the CIDR, for errors."""


@dataclass(frozen=True, kw_only=True)
class NetworkClaim:
    """What one deployment takes from the stack's GCP network."""

    secondary: tuple[SecondaryRange, ...] = ()
    reserved: tuple[tuple[str, str], ...] = ()
    """``(config key, CIDR)`` of VPC-wide ranges outside the subnet (a GKE control plane's /28):
    they must not overlap anything else in the network."""


@runtime_checkable
class GcpNetworkUser(Protocol):
    """A deployment model that runs in the stack's GCP network and takes ranges from it."""

    def gcp_network_claim(self) -> NetworkClaim:
        """The ranges this deployment needs (see :class:`NetworkClaim`)."""
        ...


def claims(deployments: Iterable[object]) -> list[tuple[int, NetworkClaim]]:
    """``(deployment index, claim)`` for every deployment that uses the GCP network."""
    return [(i, d.gcp_network_claim()) for i, d in enumerate(deployments) if isinstance(d, GcpNetworkUser)]


def secondary_ranges(deployments: Iterable[object]) -> dict[str, str]:
    """Secondary ranges to add to a created subnet, name -> CIDR, sorted by name so that
    reordering deployments is no change."""
    found = {r.name: r.cidr for _, claim in claims(deployments) for r in claim.secondary if r.cidr}
    return dict(sorted(found.items()))


def range_issues(config: GcpNetworkConfig | None, deployments: Iterable[object]) -> list[ConfigIssue]:
    """Every range carved from the one GCP network must be disjoint from the others, and a
    deployment's secondary ranges must suit the subnet: CIDRs that scalepath adds to the subnet
    it creates, or names of ranges that an existing subnet already has."""
    config = config or GcpNetworkConfig()
    created = config.subnet is None
    taken: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
    if created:
        taken.append((ipaddress.ip_network(config.subnet_cidr), "scalepath:network.gcp.subnetCidr"))
    names: dict[str, str] = {}
    issues = []

    def take(path: str, cidr: str) -> None:
        network = ipaddress.ip_network(cidr)
        for other, owner in taken:
            if other.overlaps(network):
                issues.append(ConfigIssue(path, f"{cidr} overlaps {other} ({owner}); every range in "
                                          "the stack's GCP network must be disjoint: pick a free range"))
                return
        taken.append((network, path))

    for index, claim in claims(deployments):
        prefix = f"scalepath:deployments[{index}]."
        for secondary in claim.secondary:
            if secondary.cidr is None and created:
                issues.append(ConfigIssue(prefix + secondary.name_key, (
                    "names a secondary range of an existing subnet, but scalepath creates the stack's "
                    "subnet (scalepath:network.gcp.subnet is unset) and adds the range itself; remove "
                    "it, or set network.gcp.network and network.gcp.subnet")))
                continue
            if secondary.cidr is not None and not created:
                issues.append(ConfigIssue(prefix + secondary.name_key, (
                    "required: scalepath:network.gcp.subnet is an existing subnet, to which scalepath "
                    "cannot add secondary ranges; name the range of that subnet to use")))
                continue
            if secondary.name in names:
                issues.append(ConfigIssue(prefix + secondary.name_key, (
                    f"secondary range {secondary.name!r} is already used by {names[secondary.name]}; "
                    "each GKE cluster needs its own pods and services ranges")))
            names.setdefault(secondary.name, prefix + secondary.name_key)
            if secondary.cidr is not None:
                take(prefix + secondary.cidr_key, secondary.cidr)
        for key, cidr in claim.reserved:
            take(prefix + key, cidr)
    return issues
