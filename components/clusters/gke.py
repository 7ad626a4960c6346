"""A regional GKE cluster for GPU inference: private nodes, spot GPU pool with an on-demand
fallback pool, Workload Identity, Managed Prometheus and KEDA.

The cluster runs in a VPC and subnet it is given (the stack's ``GcpNetwork``, which also owns
Cloud NAT); it brings only its own secondary range names and control-plane /28.

GKE installs the NVIDIA driver itself (``gpu_driver_installation_config``) and runs its own
device plugin, so no GPU add-on is needed. The workload's metrics go to Google Cloud Managed
Service for Prometheus (``PodMonitoring``); KEDA queries them through the Prometheus-compatible
API with Workload Identity (a Google service account with ``roles/monitoring.viewer``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import catalog
from components.clusters.addons import KEDA, helm_release, keda_values
from components.clusters.capabilities import Capability
from components.clusters.gpu_nodes import (
    CLOUD_TAINT_EFFECT,
    GPU_POOL,
    SYSTEM_POOL,
    gpu_node_selector,
    gpu_taint,
    gpu_tolerations,
    node_labels,
)
from components.clusters.gpu_telemetry import GpuAlerts, GpuTelemetry, GpuTelemetryArgs, TelemetryPlatform
from components.clusters.kubeconfig import exec_kubeconfig
from components.names import fit_name, replacement_suffix
from components.tagging import gcp_labels, k8s_labels

#: Catalogue GPU name -> GKE accelerator type (``guestAccelerators[].type``).
GKE_ACCELERATORS = {
    "T4": "nvidia-tesla-t4", "L4": "nvidia-l4", "A100": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb", "H100": "nvidia-h100-80gb",
}

#: Roles of the node service account: logs, metrics, and pulling images from Artifact Registry.
NODE_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
              "roles/stackdriver.resourceMetadata.writer", "roles/artifactregistry.reader")
_KEDA_KSA = "keda-operator"
_NODES = "nodes"
"""Role of the nodes' service account (its id ends in it)."""
ACCOUNT_ID_MAX = 30
"""Google service account ids are 6-30 characters, unique in the GCP project."""

INSTALLS = frozenset({Capability.KEDA, Capability.MANAGED_PROMETHEUS, Capability.RESOURCE_METRICS})
"""What workloads on the cluster may rely on (KEDA, Managed Prometheus, GKE's own metrics-server;
no custom-metrics adapter)."""


def account_id(cluster_name: str, role: str) -> str:
    """``<cluster>-<role>``, the cluster name shortened with a hash of all of it when too long:
    cluster names are unique per project and stack, and two that share a head stay apart."""
    return f"{fit_name(cluster_name, ACCOUNT_ID_MAX - len(role) - 1)}-{role}"


@dataclass(frozen=True, kw_only=True)
class GkeAccelerator:
    """A GPU attached to an N1 machine (accelerator-optimised machines come with theirs)."""

    type: str
    """GKE accelerator type, e.g. ``nvidia-tesla-t4``."""
    count: int


@dataclass(frozen=True, kw_only=True)
class GkeGpuPoolArgs:
    """GPU node pools: a spot pool plus an on-demand fallback pool of the same machine."""

    machine_type: str
    """Compute Engine machine type listed in ``components/data/instances/gce.yaml``."""
    accelerator: GkeAccelerator | None = None
    """Only for N1 machines; G2/A2/A3 machines carry fixed GPUs taken from the catalogue."""
    min_nodes: int
    """Fewest GPU nodes across the region (0 = scale to zero)."""
    max_nodes: int
    """Most GPU nodes of each pool across the region."""
    spot: bool = True
    zones: Sequence[str] = ()
    """Zones with capacity for this GPU; all the region's zones when empty."""
    disk_size_gb: int = 200
    driver_version: str = "LATEST"
    """``gpu_driver_installation_config.gpu_driver_version``: ``DEFAULT`` or ``LATEST``."""

    def catalog_key(self) -> str:
        """The ``gce`` catalogue row of this machine + accelerator combination."""
        if self.accelerator is None:
            return self.machine_type
        return f"{self.machine_type}+{self.accelerator.count}x{self.accelerator.type}"


@dataclass(frozen=True, kw_only=True)
class GkeSystemPoolArgs:
    """The CPU pool for KEDA and GKE's own system pods."""

    machine_type: str = "e2-standard-4"
    min_nodes: int = 1
    max_nodes: int = 3


@dataclass(frozen=True, kw_only=True)
class GkeNetworkArgs:
    """Where the cluster runs: a VPC and subnet it shares (``GcpNetwork``) and its own ranges."""

    network: pulumi.Input[str]
    """VPC, ``projects/<p>/global/networks/<n>``."""
    subnetwork: pulumi.Input[str]
    """Subnet of the nodes, ``projects/<p>/regions/<r>/subnetworks/<s>``, in the cluster's region."""
    pods_range_name: str
    """Secondary range of ``subnetwork`` for pod IPs (one cluster per range)."""
    services_range_name: str
    """Secondary range of ``subnetwork`` for service IPs (one cluster per range)."""
    master_cidr: str = "172.16.0.0/28"
    """/28 for the control plane's private endpoint; unique in the VPC."""
    node_cidr: str | None = None
    """Primary range of ``subnetwork`` when known: authorised to reach the control plane."""


@dataclass(frozen=True, kw_only=True)
class GkeGpuClusterArgs:
    """A regional GKE cluster with private nodes."""

    cluster_name: str
    project: str
    region: str
    tags: Mapping[str, str]
    """Logical cost tags (normalised with :func:`components.tagging.gcp_labels`)."""
    gpu_pool: GkeGpuPoolArgs
    system_pool: GkeSystemPoolArgs = field(default_factory=GkeSystemPoolArgs)
    network: GkeNetworkArgs
    private_endpoint: bool = True
    """Control plane reachable on its private endpoint only."""
    master_authorized_cidrs: Sequence[str] = ()
    """Who may reach the control plane; required for a public endpoint."""
    release_channel: str = "REGULAR"
    kms_key_name: str | None = None
    """Cloud KMS key for application-layer secrets encryption (``databaseEncryption``)."""
    deletion_protection: bool = False
    gpu_telemetry: GpuAlerts | None = field(default_factory=GpuAlerts)
    """GKE's managed DCGM metrics (``monitoringConfig`` component ``DCGM``), GPU alert rules
    and dashboard with these thresholds; ``None``: none."""
    alert_channels: Sequence[pulumi.Input[str]] = ()
    """Notification channels the GPU alert policies notify (the stack's ``budget.notify``)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the cluster waits for: the network (with its Cloud NAT), enabled APIs."""


class GkeGpuCluster(pulumi.ComponentResource):
    """GKE cluster, node pools, service accounts, KEDA and a Kubernetes provider for workloads."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Kubeconfig using ``gke-gcloud-auth-plugin`` (no credential inside)."""
    provider: k8s.Provider
    prometheus_url: str
    """Managed Prometheus query API for this project (KEDA ``serverAddress``)."""
    keda_pod_identity: str
    """KEDA ``TriggerAuthentication`` pod identity provider for that API (``gcp``)."""
    storage_class: str
    gpu_tolerations: list[dict[str, str]]
    gpu_node_selector: dict[str, str]
    gpus_per_node: int
    ready: list[pulumi.Resource]
    """What a workload should depend on: the node pools and KEDA."""

    def __init__(self, name: str, args: GkeGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:GkeGpuCluster", name, None, opts)
        accelerator = _validate(args)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._labels = gcp_labels(args.tags)

        net = args.network
        node_sa = self._service_account(_NODES, "GKE nodes", NODE_ROLES)
        authorized = [*([net.node_cidr] if net.node_cidr else []), *args.master_authorized_cidrs]
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            project=args.project,
            location=args.region,
            network=net.network,
            subnetwork=net.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=net.pods_range_name,
                services_secondary_range_name=net.services_range_name),
            # Node pools are managed separately; the default pool is only a bootstrap.
            remove_default_node_pool=True,
            initial_node_count=1,
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=args.private_endpoint,
                master_ipv4_cidr_block=net.master_cidr),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=cidr, display_name=f"authorized-{index}")
                    for index, cidr in enumerate(authorized)]),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{args.project}.svc.id.goog"),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(
                state="ENCRYPTED", key_name=args.kms_key_name) if args.kms_key_name else None,
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                # DCGM: GKE runs its DCGM exporter on GPU nodes, scraped by Managed Prometheus.
                enable_components=["SYSTEM_COMPONENTS",
                                   *(["DCGM"] if args.gpu_telemetry is not None else [])],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True)),
            logging_config=gcp.container.ClusterLoggingConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]),
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True),
                gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(
                    enabled=True)),
            # GKE cost allocation splits the bill by namespace and label.
            cost_management_config=gcp.container.ClusterCostManagementConfigArgs(enabled=True),
            enable_shielded_nodes=True,
            resource_labels=self._labels,
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self._cluster = cluster

        system = args.system_pool
        system_pool = self._pool("system", node_sa, system.machine_type, None, capacity="on-demand",
                                 min_nodes=system.min_nodes, max_nodes=system.max_nodes, zones=(),
                                 disk_size_gb=50, pool=SYSTEM_POOL)
        gpu = args.gpu_pool
        gpu_pools = []
        if gpu.spot:
            gpu_pools.append(self._pool("gpu-spot", node_sa, gpu.machine_type, accelerator,
                                        capacity="spot", min_nodes=gpu.min_nodes, max_nodes=gpu.max_nodes,
                                        zones=gpu.zones, disk_size_gb=gpu.disk_size_gb, pool=GPU_POOL))
        gpu_pools.append(self._pool("gpu-ondemand", node_sa, gpu.machine_type, accelerator,
                                    capacity="on-demand", min_nodes=0 if gpu.spot else gpu.min_nodes,
                                    max_nodes=gpu.max_nodes, zones=gpu.zones,
                                    disk_size_gb=gpu.disk_size_gb, pool=GPU_POOL))

        self.kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate,
        ).apply(lambda v: _kubeconfig(v[0], v[1], v[2]))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, opts=self._child)

        keda_sa = self._service_account("keda", "KEDA reads Managed Prometheus", ("roles/monitoring.viewer",))
        keda_binding = gcp.serviceaccount.IAMMember(
            f"{name}-keda-workload-identity", service_account_id=keda_sa.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{args.project}.svc.id.goog[{KEDA.namespace}/{_KEDA_KSA}]",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        keda = helm_release(f"{name}-keda", KEDA, keda_values({
            "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": keda_sa.email}},
        }), pulumi.ResourceOptions(parent=self, provider=self.provider,
                                   depends_on=[system_pool, keda_binding]))

        if args.gpu_telemetry is not None:
            GpuTelemetry(f"{name}-gpu-telemetry", GpuTelemetryArgs(
                platform=TelemetryPlatform.GKE, cluster_name=args.cluster_name,
                labels=k8s_labels(args.tags), alerts=args.gpu_telemetry, gcp_project=args.project,
                notification_channels=args.alert_channels, policy_labels=gcp_labels(args.tags)),
                pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[system_pool]))

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.prometheus_url = (f"https://monitoring.googleapis.com/v1/projects/{args.project}"
                               "/location/global/prometheus")
        self.keda_pod_identity = "gcp"
        # GKE's PD CSI driver ships this class (balanced persistent disk, encrypted by default).
        self.storage_class = "standard-rwo"
        self.gpu_tolerations = gpu_tolerations()
        self.gpu_node_selector = gpu_node_selector()
        self.gpus_per_node = accelerator.count
        self.ready = [system_pool, *gpu_pools, keda]
        self.register_outputs({
            "cluster_name": self.cluster_name, "endpoint": self.endpoint,
            "kubeconfig": self.kubeconfig, "prometheus_url": self.prometheus_url,
        })

    def _service_account(self, role: str, purpose: str, project_roles: Sequence[str]) -> gcp.serviceaccount.Account:
        """A Google service account with project roles (account ids are 6-30 characters)."""
        account = gcp.serviceaccount.Account(
            f"{self._name}-{role}-sa", project=self._args.project,
            account_id=account_id(self._args.cluster_name, role),
            display_name=f"{self._args.cluster_name}: {purpose}", opts=self._child)
        for project_role in project_roles:
            gcp.projects.IAMMember(
                f"{self._name}-{role}-sa-{project_role.split('/')[-1]}", project=self._args.project,
                role=project_role, member=account.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=self._child)
        return account

    def _pool(self, role: str, node_sa: gcp.serviceaccount.Account, machine_type: str,
              accelerator: GkeAccelerator | None, *, capacity: str, min_nodes: int, max_nodes: int,
              zones: Sequence[str], disk_size_gb: int, pool: str) -> gcp.container.NodePool:
        """A node pool with total (regional) autoscaling limits, shielded nodes and Workload Identity."""
        guest = []
        taints = []
        if accelerator is not None:
            guest = [gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                type=accelerator.type, count=accelerator.count,
                gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                    gpu_driver_version=self._args.gpu_pool.driver_version))]
            taint = gpu_taint()
            # GKE adds this taint to GPU nodes itself; declaring it keeps it visible and checked.
            taints = [gcp.container.NodePoolNodeConfigTaintArgs(
                key=taint["key"], value=taint["value"], effect=CLOUD_TAINT_EFFECT[taint["effect"]])]
        spot = capacity == "spot"
        # The suffix follows the inputs GKE cannot update in place (accelerator type and count,
        # driver, spot, the nodes' service account): a change replaces the pool under a new name,
        # created before the old pool is drained and deleted (a fixed name would clash, or delete
        # every GPU node first).
        force_new = (accelerator.type, accelerator.count, self._args.gpu_pool.driver_version) if accelerator else None
        return gcp.container.NodePool(
            f"{self._name}-{role}",
            name=f"{role}-{replacement_suffix(force_new, spot, account_id(self._args.cluster_name, _NODES))}",
            project=self._args.project,
            cluster=self._cluster.name,
            location=self._args.region,
            node_locations=list(zones) or None,
            initial_node_count=1 if pool == SYSTEM_POOL else 0,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=min_nodes, total_max_node_count=max_nodes,
                # ANY lets the autoscaler take spot capacity wherever the region has it.
                location_policy="ANY" if spot else "BALANCED"),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=machine_type,
                guest_accelerators=guest,
                spot=spot,
                disk_size_gb=disk_size_gb,
                disk_type="pd-balanced",
                image_type="COS_CONTAINERD",
                service_account=node_sa.email,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                labels=node_labels(pool, "spot" if spot else "on-demand"),
                resource_labels=self._labels,
                taints=taints,
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
            ),
            opts=self._child,
        )


def _validate(args: GkeGpuClusterArgs) -> GkeAccelerator:
    """Check machine/GPU combinations against the GCE catalogue; return the GPU pool's accelerator."""
    table = catalog.load("gce")
    gpu = args.gpu_pool
    spec = table.get(gpu.catalog_key())
    if spec.gpu_count == 0 or spec.gpu is None:
        raise ValueError(f"{gpu.catalog_key()} has no GPU; GPU pools need one of: "
                         f"{', '.join(table.gpu_types())}")
    if table.get(args.system_pool.machine_type).gpu_count:
        raise ValueError(f"system pool machine {args.system_pool.machine_type} has GPUs; use a CPU type")
    for label, low, high in (("gpu", gpu.min_nodes, gpu.max_nodes),
                             ("system", args.system_pool.min_nodes, args.system_pool.max_nodes)):
        if high < 1 or low < 0 or low > high:
            raise ValueError(f"{label} pool: need 0 <= min ({low}) <= max ({high}) and max >= 1")
    if not args.private_endpoint and not args.master_authorized_cidrs:
        raise ValueError("a public control-plane endpoint needs master_authorized_cidrs")
    return gpu.accelerator or GkeAccelerator(type=GKE_ACCELERATORS[spec.gpu], count=spec.gpu_count)


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that gets tokens from ``gke-gcloud-auth-plugin``."""
    return exec_kubeconfig(cluster_name, f"https://{endpoint}", ca_data, "gke-gcloud-auth-plugin",
                           {"provideClusterInfo": True})
