"""``scalepath:network.aws``: the AWS network config model (the network itself: ``stacks/aws.py``)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from components.aws.network import DEFAULT_INTERFACE_ENDPOINTS
from stacks.model import ConfigModel


class AwsNetworkConfig(ConfigModel):
    """``scalepath:network.aws``: a new VPC (default) or an existing one by id."""

    cidr_block: str = "10.40.0.0/16"
    """CIDR of the VPC scalepath creates (/16../20)."""
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 2
    """How many AZs get a private subnet (the first N available in the region)."""
    nat_gateway: bool | None = None
    """Outbound internet through one NAT gateway. Unset: on when the stack has an EKS
    deployment (GPU nodes pull public images and weights), off otherwise. With ``vpc_id`` no NAT
    is created: the value states whether the existing VPC already routes egress."""
    interface_endpoints: list[str] = list(DEFAULT_INTERFACE_ENDPOINTS)
    vpc_id: str | None = None
    """Use this existing VPC; then ``subnetIds`` and ``vpcCidr`` are required."""
    subnet_ids: list[str] = []
    route_table_ids: list[str] = []
    vpc_cidr: str | None = None
    create_endpoints: bool = True
    """Create the VPC endpoints (turn off when an existing VPC already has them)."""
    runtime_endpoint_id: Annotated[str, Field(pattern=r"^vpce-[0-9a-f]{8,17}$")] | None = None
    """The existing ``sagemaker.runtime`` interface endpoint (``createEndpoints: false``): private
    SageMaker endpoints admit invocations through it only (``aws:SourceVpce``)."""

    @field_validator("cidr_block", "vpc_cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None:
            network = ipaddress.ip_network(value)  # ValueError names the bad CIDR
            if not 16 <= network.prefixlen <= 20:
                raise ValueError(f"CIDR {value} must be between /16 and /20 to fit the subnets")
        return value

    @model_validator(mode="after")
    def _existing_complete(self) -> AwsNetworkConfig:
        if self.vpc_id is not None and (len(self.subnet_ids) < 2 or self.vpc_cidr is None):
            raise ValueError("with vpcId, set subnetIds (at least two private subnets in "
                             "different AZs) and vpcCidr")
        return self
