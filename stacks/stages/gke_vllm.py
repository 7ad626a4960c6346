"""Stage ``gke-vllm``: a regional GKE GPU cluster with vLLM on it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PositiveInt, StringConstraints, field_validator, model_validator

from components import catalog
from components.catalog import InstanceSpec
from components.clusters.allocatable import NodeCloud
from components.clusters.capabilities import Capability
from components.clusters.gke import INSTALLS as GKE_INSTALLS
from components.clusters.gke import (
    GkeAccelerator,
    GkeGpuCluster,
    GkeGpuClusterArgs,
    GkeGpuPoolArgs,
    GkeNetworkArgs,
    GkeSystemPoolArgs,
)
from components.names import dns_label
from stacks import gcp as gcp_stack
from stacks.config import Cloud, DeploymentBase, Environment, Stage
from stacks.context import StackContext
from stacks.gcp_network import NetworkClaim, RangeName, SecondaryRange
from stacks.model import ConfigModel
from stacks.stages.base import StageDef
from stacks.stages.shared.gpu_cluster import (
    GpuClusterDeployment,
    GpuNodeBounds,
    GpuTelemetrySettings,
    cluster_name,
    contract,
    deploy_vllm,
    node_bounds,
)
from stacks.stages.shared.vllm import vllm_service_args

GKE_CLUSTER_NAME_MAX = 40


def gke_cluster_name(name: str) -> str:
    """GKE cluster names: an RFC 1035 label of at most 40 characters."""
    return dns_label(name, GKE_CLUSTER_NAME_MAX)


def _private_cidr(value: str) -> str:
    network = ipaddress.ip_network(value)  # ValueError names the bad CIDR
    if not network.is_private:
        raise ValueError(f"{value} must be a private (RFC 1918) range")
    return value


class GkeAcceleratorSettings(ConfigModel):
    """``cluster.gpuNodes.accelerator``: GPUs attached to an N1 machine."""

    type: Annotated[str, StringConstraints(pattern=r"^nvidia-[a-z0-9-]+$")]
    count: PositiveInt = 1


class GkeGpuNodes(GpuNodeBounds):
    """``cluster.gpuNodes``: the GPU machine (spot pool + on-demand fallback pool)."""

    machine_type: str = "g2-standard-8"
    """A GPU machine of ``gce.yaml`` (G2/A2/A3 carry their GPUs; N1 needs ``accelerator``)."""
    accelerator: GkeAcceleratorSettings | None = None
    zones: list[Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]-[a-z]$")]] = []
    """Zones of the region with this GPU; all the region's zones when empty."""
    driver_version: Literal["DEFAULT", "LATEST"] = "LATEST"

    @model_validator(mode="after")
    def _known_combination(self) -> GkeGpuNodes:
        table = catalog.load("gce")
        key = self.pool_args_key()
        if key not in table.gpu_types():
            raise ValueError(f"machineType/accelerator {key!r} is not a GPU combination of the GCE "
                             f"catalogue; known: {', '.join(table.gpu_types())}")
        return self

    def pool_args_key(self) -> str:
        """Catalogue key of this machine + accelerator."""
        return self.pool_args(0, 1).catalog_key()

    def gpus_per_node(self) -> int:
        return catalog.load("gce").get(self.pool_args_key()).gpu_count

    def pool_args(self, min_nodes: int, max_nodes: int) -> GkeGpuPoolArgs:
        """Component args with the node bounds the stage computed."""
        accelerator = (GkeAccelerator(type=self.accelerator.type, count=self.accelerator.count)
                       if self.accelerator else None)
        return GkeGpuPoolArgs(
            machine_type=self.machine_type, accelerator=accelerator, min_nodes=min_nodes,
            max_nodes=max_nodes, spot=self.spot, zones=self.zones, disk_size_gb=self.disk_size_gib,
            driver_version=self.driver_version)


class GkeSystemNodes(ConfigModel):
    """``cluster.systemNodes``: the CPU pool for KEDA and system pods (totals across zones)."""

    machine_type: str = "e2-standard-4"
    min: Annotated[int, Field(ge=1)] = 1
    max: Annotated[int, Field(ge=1, le=10)] = 3

    @field_validator("machine_type")
    @classmethod
    def _cpu_type(cls, value: str) -> str:
        cpu_types = sorted(k for k, v in catalog.load("gce").instances.items() if v.gpu_count == 0)
        if value not in cpu_types:
            raise ValueError(f"{value!r} is not a CPU machine type of the GCE catalogue; known: "
                             f"{', '.join(cpu_types)}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> GkeSystemNodes:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


#: Keys that left ``cluster.network`` for the stack-wide ``scalepath:network.gcp``.
_MOVED_TO_NETWORK_GCP = {"network": "network", "subnetwork": "subnet", "subnetCidr": "subnetCidr"}


class GkeNetworkSettings(ConfigModel):
    """``cluster.network``: what this cluster takes from the stack's GCP network (``network.gcp``).

    With a subnet scalepath creates, the pods and services ranges are added to it as
    ``<deployment>-pods`` / ``<deployment>-services``; with an existing subnet
    (``network.gcp.subnet``), ``podsRangeName``/``servicesRangeName`` name its ranges.
    """

    pods_cidr: str = "10.64.0.0/14"
    """Pods secondary range scalepath adds to the subnet it creates."""
    services_cidr: str = "10.68.0.0/20"
    """Services secondary range scalepath adds to the subnet it creates."""
    pods_range_name: RangeName | None = None
    """Pods secondary range of an existing subnet."""
    services_range_name: RangeName | None = None
    """Services secondary range of an existing subnet."""
    master_cidr: str = "172.16.0.0/28"
    """The control plane's /28 (GKE peers it into the VPC; unique per cluster)."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        moved = [key for key in _MOVED_TO_NETWORK_GCP if isinstance(data, Mapping) and key in data]
        if moved:
            raise ValueError(", ".join(f"{key} moved to scalepath:network.gcp.{_MOVED_TO_NETWORK_GCP[key]}"
                                       for key in moved)
                             + " (a stack has one GCP network, shared by its GKE and Vertex deployments)")
        return data

    @field_validator("pods_cidr", "services_cidr", "master_cidr")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        return _private_cidr(value)

    @field_validator("master_cidr")
    @classmethod
    def _master_28(cls, value: str) -> str:
        if ipaddress.ip_network(value).prefixlen != 28:
            raise ValueError(f"{value} must be a /28 (GKE's control-plane range)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GkeNetworkSettings:
        if (self.pods_range_name is None) != (self.services_range_name is None):
            raise ValueError("set both podsRangeName and servicesRangeName (ranges of an existing "
                             "subnet), or neither (scalepath adds the ranges to the subnet it creates)")
        if self.existing_ranges() and self.model_fields_set & {"pods_cidr", "services_cidr"}:
            raise ValueError("podsCidr/servicesCidr apply only to ranges scalepath adds; with "
                             "podsRangeName/servicesRangeName the ranges exist: remove the CIDRs")
        cidrs = [self.master_cidr] if self.existing_ranges() else [self.pods_cidr, self.services_cidr,
                                                                   self.master_cidr]
        ranges = [ipaddress.ip_network(c) for c in cidrs]
        for i, a in enumerate(ranges):
            for b in ranges[i + 1:]:
                if a.overlaps(b):
                    raise ValueError(f"ranges {a} and {b} overlap; pods, services and master CIDRs "
                                     "must be disjoint")
        return self

    def existing_ranges(self) -> bool:
        """True when the cluster uses named ranges of an existing subnet."""
        return self.pods_range_name is not None


class GkeClusterSettings(ConfigModel):
    """``cluster:`` of a ``gke-vllm`` deployment."""

    gpu_nodes: GkeGpuNodes = GkeGpuNodes()
    system_nodes: GkeSystemNodes = GkeSystemNodes()
    network: GkeNetworkSettings = GkeNetworkSettings()
    master_authorized_cidrs: list[str] = []
    """Who may reach the control plane (required with a public endpoint)."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    kms_key_name: Annotated[str, StringConstraints(
        pattern=r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")] | None = None
    """Cloud KMS key for application-layer secrets encryption."""
    gpu_telemetry: GpuTelemetrySettings = GpuTelemetrySettings()

    @field_validator("master_authorized_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr)
        return value


class GkeVllmDeployment(GpuClusterDeployment):
    """A ``gke-vllm`` deployment: ``cluster`` settings plus the shared ``scaling`` and ``vllm``."""

    stage_value: ClassVar[Stage] = Stage.GKE_VLLM
    cloud: ClassVar[Cloud] = Cloud.GCP
    node_cloud: ClassVar[NodeCloud] = NodeCloud.GKE
    access_key: ClassVar[str] = "masterAuthorizedCidrs"
    installs: ClassVar[frozenset[Capability]] = GKE_INSTALLS
    stage: Literal[Stage.GKE_VLLM]
    cluster: GkeClusterSettings = GkeClusterSettings()

    def gpu_nodes_label(self) -> str:
        return f"cluster.gpuNodes ({self.cluster.gpu_nodes.pool_args_key()})"

    def access_cidrs(self) -> list[str]:
        return self.cluster.master_authorized_cidrs

    def gpu_node_types(self) -> list[InstanceSpec]:
        return [catalog.load("gce").get(self.cluster.gpu_nodes.pool_args_key())]

    def gcp_network_claim(self) -> NetworkClaim:
        """Pods and services secondary ranges of the stack's subnet, and the control-plane /28."""
        net = self.cluster.network
        key = "cluster.network."

        def secondary(role: str, existing: str | None, cidr: str) -> SecondaryRange:
            return SecondaryRange(name=existing or f"{self.name}-{role}", cidr=None if existing else cidr,
                                  name_key=f"{key}{role}RangeName", cidr_key=f"{key}{role}Cidr")

        return NetworkClaim(
            secondary=(secondary("pods", net.pods_range_name, net.pods_cidr),
                       secondary("services", net.services_range_name, net.services_cidr)),
            reserved=((f"{key}masterCidr", net.master_cidr),))


def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, Any]:
    """Regional GKE cluster + KEDA + the vLLM workload."""
    assert isinstance(deployment, GkeVllmDeployment)
    settings = deployment.cluster
    nodes = settings.gpu_nodes
    min_nodes, max_nodes = node_bounds(deployment, nodes, nodes.gpus_per_node())
    args = vllm_service_args(deployment, ctx, cloud=Cloud.GCP)
    network = gcp_stack.network(ctx)
    pods, services = deployment.gcp_network_claim().secondary
    cluster = GkeGpuCluster(f"{deployment.name}-gke", GkeGpuClusterArgs(
        cluster_name=cluster_name(ctx, deployment, gke_cluster_name),
        project=ctx.spec.targets.gcp_project or "",
        region=ctx.spec.targets.gcp_region or "",
        tags=ctx.tags(deployment),
        gpu_pool=nodes.pool_args(min_nodes, max_nodes),
        system_pool=GkeSystemPoolArgs(machine_type=settings.system_nodes.machine_type,
                                      min_nodes=settings.system_nodes.min, max_nodes=settings.system_nodes.max),
        network=GkeNetworkArgs(
            network=network.network_id, subnetwork=network.subnet_id, pods_range_name=pods.name,
            services_range_name=services.name, master_cidr=settings.network.master_cidr,
            node_cidr=network.subnet_cidr),
        private_endpoint=ctx.spec.network.mode == "private",
        master_authorized_cidrs=settings.master_authorized_cidrs,
        release_channel=settings.release_channel,
        kms_key_name=settings.kms_key_name,
        deletion_protection=ctx.spec.environment is Environment.PROD,
        gpu_telemetry=settings.gpu_telemetry.alerts(),
        alert_channels=gcp_stack.alert_channels(ctx) if settings.gpu_telemetry.enabled else (),
        # The whole network (NAT included: nodes pull images at boot) and the GKE API first.
        depends_on=(network, *gcp_stack.services(ctx, ["container.googleapis.com"])),
    ))
    ctx.shared(f"cluster/{deployment.name}", lambda: cluster)  # the gateway's kubernetes runtime runs here
    return {**deploy_vllm(deployment, args, cluster),
            "clusterName": cluster.cluster_name, "clusterEndpoint": cluster.endpoint}


DEFINITION = StageDef(settings=GkeVllmDeployment, build=build, contract=contract)
