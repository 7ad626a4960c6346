"""``scalepath:network.gcp``: the GCP VPC that private serving uses (Vertex PSC now, GKE later).

Kept to the VPC: which network and subnet (existing or created), the subnet range, and which
projects may connect through Private Service Connect. Stage-specific settings stay in stages.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from stacks.model import ConfigModel

GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
"""A GCP project id: 6..30 lowercase letters, digits and ``-``, starting with a letter."""

_NAME = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"

NetworkRef = Annotated[str, StringConstraints(pattern=rf"^({_NAME}|projects/[^/]+/global/networks/{_NAME})$")]
"""A VPC by name or ``projects/<p>/global/networks/<n>``."""
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
    def _consistent(self) -> "GcpNetworkConfig":
        if self.subnet is not None and self.network is None:
            raise ValueError("subnet names an existing subnet, so network must name its VPC too")
        if self.subnet is not None and "subnet_cidr" in self.model_fields_set:
            raise ValueError("subnetCidr applies only to a subnet scalepath creates; remove it "
                             "or remove subnet")
        return self
