"""``scalepath:network.azure``: the customer-side network of private Azure stacks."""

from __future__ import annotations

from ipaddress import IPv4Network

from pydantic import model_validator

from stacks.model import ConfigModel


class AzureNetwork(ConfigModel):
    """VNet and subnet that hold the private endpoints of a private Azure stack."""

    resource_group: str | None = None
    """Existing resource group for the network; scalepath creates one when unset."""
    vnet_cidr: IPv4Network = IPv4Network("10.60.0.0/16")
    """Address space of the VNet; must not overlap networks it will be peered with."""
    subnet_cidr: IPv4Network = IPv4Network("10.60.0.0/24")
    """Subnet for private endpoints (one IP per endpoint), inside ``vnetCidr``."""

    @model_validator(mode="after")
    def _subnet_inside_vnet(self) -> AzureNetwork:
        if not self.subnet_cidr.subnet_of(self.vnet_cidr):
            raise ValueError(f"subnetCidr {self.subnet_cidr} is not inside vnetCidr {self.vnet_cidr}")
        return self
