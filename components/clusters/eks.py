"""An EKS cluster for GPU inference: private nodes, spot GPU capacity with on-demand fallback,
and the add-ons a vLLM workload needs (NVIDIA device plugin, KEDA, Prometheus, EBS CSI).

Built from pulumi-aws resources (not pulumi-eks, whose children are invisible under mocks and
to the policy pack). Authentication uses EKS access entries (``authenticationMode: API``), not
the aws-auth ConfigMap. Spot-first scaling: the Cluster Autoscaler's priority expander grows
the ``gpu-spot`` node group first and falls back to ``gpu-ondemand`` when spot capacity is not
granted within ``max-node-provision-time``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import catalog
from components.clusters import eks_versions
from components.clusters.addons import (
    ALERTMANAGER_SERVICE_ACCOUNT,
    KEDA,
    KUBE_PROMETHEUS_STACK,
    METRICS_SERVER,
    NVIDIA_DEVICE_PLUGIN,
    PROMETHEUS_URL,
    cluster_autoscaler,
    device_plugin_values,
    helm_release,
    keda_values,
    prometheus_values,
)
from components.clusters.capabilities import Capability
from components.clusters.eks_versions import SupportType
from components.clusters.gpu_nodes import (
    CLOUD_TAINT_EFFECT,
    GPU_POOL,
    SYSTEM_POOL,
    gpu_node_selector,
    gpu_taint,
    gpu_tolerations,
    node_labels,
    system_node_selector,
)
from components.clusters.gpu_telemetry import GpuAlerts, GpuTelemetry, GpuTelemetryArgs, TelemetryPlatform
from components.clusters.kubeconfig import exec_kubeconfig
from components.names import replacement_suffix
from components.tagging import aws_tags, k8s_labels

#: Control-plane log types shipped to CloudWatch (all of them: audit matters for compliance).
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")

GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
"""Amazon Linux 2023 with the NVIDIA driver and container toolkit preinstalled."""
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"

_MANAGED_POLICY = "arn:aws:iam::aws:policy/"


INSTALLS = frozenset({Capability.KEDA, Capability.PROMETHEUS_OPERATOR, Capability.RESOURCE_METRICS})
"""What workloads on the cluster may rely on (KEDA, kube-prometheus-stack, metrics-server; no
custom-metrics adapter, no AWS Load Balancer Controller: Services get the EKS cloud controller's
load balancers)."""
_AUTOSCALER_SA = "cluster-autoscaler"
_EBS_CSI_SA = "ebs-csi-controller-sa"


@dataclass(frozen=True, kw_only=True)
class EksGpuNodesArgs:
    """GPU node groups: a spot group plus an on-demand fallback of the same instance types."""

    instance_types: Sequence[str]
    """EC2 GPU types (``components/data/instances/ec2.yaml``), all with the same GPU count so a
    pod fits any of them; several types widen the spot pools the group can draw from."""
    min_size: int
    """Fewest GPU nodes (0 = scale to zero). Kept on spot when ``spot``, else on-demand."""
    max_size: int
    """Most GPU nodes of each group (spot and fallback)."""
    spot: bool = True
    """Spot group first, on-demand fallback; ``False`` for on-demand only."""
    disk_size_gib: int = 200
    """Root volume (gp3, encrypted): container images and the model cache on the node."""


@dataclass(frozen=True, kw_only=True)
class EksSystemNodesArgs:
    """The CPU node group for CoreDNS, KEDA, the autoscaler and Prometheus."""

    instance_type: str = "m6i.large"
    min_size: int = 2
    """Two by default so add-ons survive a node replacement."""
    max_size: int = 3


@dataclass(frozen=True, kw_only=True)
class EksGpuClusterArgs:
    """An EKS cluster in an existing VPC's private subnets."""

    cluster_name: str
    """EKS cluster name (unique per account and region); names its log group and ASGs."""
    region: str
    tags: Mapping[str, str]
    """Logical cost tags (normalised with :func:`components.tagging.aws_tags`)."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets in at least two AZs: control-plane ENIs and every node."""
    node_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Extra security groups for nodes (the network's workload group), besides the cluster's."""
    gpu_nodes: EksGpuNodesArgs
    system_nodes: EksSystemNodesArgs = field(default_factory=EksSystemNodesArgs)
    kubernetes_version: str
    """EKS version of ``components/data/eks_versions.yaml``; the add-on pins and the Cluster
    Autoscaler chart follow it."""
    support_type: SupportType = SupportType.STANDARD
    """``upgradePolicy.supportType``: EXTENDED keeps a version past standard support (6x rate)."""
    private_endpoint: bool = True
    """Private API endpoint only (deploy from inside the VPC); else public + private."""
    public_access_cidrs: Sequence[str] = ()
    """CIDRs allowed to the public endpoint; required when ``private_endpoint`` is off."""
    kms_key_arn: str | None = None
    """Key for Kubernetes secrets encryption; a rotating key is created when unset."""
    admin_principal_arns: Sequence[str] = ()
    """IAM roles/users granted cluster admin through access entries, besides the deploying
    identity, which always gets one (listing it too is fine: each principal gets one entry)."""
    log_retention_days: int = 90
    deletion_protection: bool = False
    gpu_telemetry: GpuAlerts | None = field(default_factory=GpuAlerts)
    """DCGM exporter, GPU alert rules and dashboard with these thresholds; ``None``: none."""


class EksGpuCluster(pulumi.ComponentResource):
    """EKS control plane, node groups, IAM, add-ons and a Kubernetes provider for workloads."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Kubeconfig using ``aws eks get-token`` (no credential inside)."""
    provider: k8s.Provider
    """Kubernetes provider for workloads on this cluster (depends on the add-ons being ready)."""
    prometheus_url: str
    """In-cluster Prometheus query URL (KEDA ``serverAddress``)."""
    storage_class: str
    """Encrypted gp3 StorageClass for model-cache volumes."""
    gpu_tolerations: list[dict[str, str]]
    gpu_node_selector: dict[str, str]
    gpus_per_node: int
    keda_pod_identity: str | None
    """KEDA pod identity provider for Prometheus queries: none needed in-cluster."""
    alertmanager_role: pulumi.Output[str]
    """Name of the IAM role the cluster's Alertmanager holds through EKS Pod Identity (no
    permissions of its own): whoever routes alerts to AWS lets it publish there (the gateway: its
    SNS topic)."""
    ready: list[pulumi.Resource]
    """What a workload should depend on: the node groups and the add-ons."""

    def __init__(self, name: str, args: EksGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:EksGpuCluster", name, None, opts)
        _validate(args)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = aws_tags(args.tags)

        cluster_role = self._role("cluster-role", "eks.amazonaws.com",
                                  ["AmazonEKSClusterPolicy"])
        node_role = self._role("node-role", "ec2.amazonaws.com", [
            "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"])
        key_arn: pulumi.Input[str] = args.kms_key_arn or aws.kms.Key(
            f"{name}-secrets-key", description=f"EKS {args.cluster_name} Kubernetes secrets",
            enable_key_rotation=True, deletion_window_in_days=30, tags=self._tags, opts=self._child,
        ).arn
        # Created before the cluster so its retention and tags apply (EKS would create it bare).
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days, tags=self._tags, opts=self._child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=not args.private_endpoint,
                public_access_cidrs=None if args.private_endpoint else list(args.public_access_cidrs),
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # The deploying identity gets an access entry of ours (below), not one EKS makes
                # at creation: EKS's own would collide with an adminRoleArns entry for the same
                # principal (ResourceInUseException).
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            # Standard support unless asked: extended support costs 6x per cluster-hour.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type.value),
            deletion_protection=args.deletion_protection,
            tags=self._tags,
            # The flag is create-only (a change replaces the cluster): clusters created with
            # it on keep it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group], ignore_changes=[
                "accessConfig.bootstrapClusterCreatorAdminPermissions"]),
        )
        self._cluster = cluster
        admin_access = [self._admin_access(principal, listed_at)
                        for principal, listed_at in admin_principals(deployer_arn(), args.admin_principal_arns)]

        node_sgs = [cluster.vpc_config.cluster_security_group_id, *args.node_security_group_ids]
        system = self._node_group(
            "system", node_role, node_sgs, [args.system_nodes.instance_type], capacity="on-demand",
            min_size=args.system_nodes.min_size, max_size=args.system_nodes.max_size,
            ami_type=SYSTEM_AMI_TYPE, disk_size_gib=50, pool=SYSTEM_POOL)
        gpu = args.gpu_nodes
        gpu_groups = []
        if gpu.spot:
            gpu_groups.append(self._node_group(
                "gpu-spot", node_role, node_sgs, gpu.instance_types, capacity="spot",
                min_size=gpu.min_size, max_size=gpu.max_size, ami_type=GPU_AMI_TYPE,
                disk_size_gib=gpu.disk_size_gib, pool=GPU_POOL))
        gpu_groups.append(self._node_group(
            "gpu-ondemand", node_role, node_sgs, gpu.instance_types, capacity="on-demand",
            min_size=0 if gpu.spot else gpu.min_size, max_size=gpu.max_size, ami_type=GPU_AMI_TYPE,
            disk_size_gib=gpu.disk_size_gib, pool=GPU_POOL))

        self.kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data,
        ).apply(lambda v: _kubeconfig(v[0], v[1], v[2], args.region))
        # Everything on the cluster runs as the deploying identity: after its access entry.
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=admin_access))
        addons = self._addons(system, gpu_groups)

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.prometheus_url = PROMETHEUS_URL
        self.storage_class = "gp3-encrypted"
        self.gpu_tolerations = gpu_tolerations()
        self.gpu_node_selector = gpu_node_selector()
        self.gpus_per_node = catalog.load("ec2").get(gpu.instance_types[0]).gpu_count
        self.keda_pod_identity = None
        self.ready = [system, *gpu_groups, *addons]
        self.register_outputs({
            "cluster_name": self.cluster_name, "endpoint": self.endpoint,
            "kubeconfig": self.kubeconfig, "prometheus_url": self.prometheus_url,
        })

    def _role(self, role: str, service: str, managed: Sequence[str]) -> aws.iam.Role:
        """An IAM role ``service`` assumes, with AWS managed policies attached."""
        iam_role = aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": service},
                "Action": ["sts:AssumeRole", "sts:TagSession"]}]}),
            tags=self._tags, opts=self._child,
        )
        for policy in managed:
            aws.iam.RolePolicyAttachment(
                f"{self._name}-{role}-{policy}", role=iam_role.name, policy_arn=_MANAGED_POLICY + policy,
                opts=self._child,
            )
        return iam_role

    def _admin_access(self, principal: str, listed_at: int | None) -> aws.eks.AccessPolicyAssociation:
        """Cluster admin for ``principal``: an access entry plus AmazonEKSClusterAdminPolicy.

        Named after the principal, so reordering ``admin_principal_arns`` replaces nothing (a
        replacement would create the new entry before deleting the old: ResourceInUseException);
        ``listed_at`` aliases the index-based names of earlier versions."""
        role = f"admin-{hashlib.sha256(principal.lower().encode()).hexdigest()[:8]}"
        old = f"{self._name}-admin-{listed_at}" if listed_at is not None else None
        entry = aws.eks.AccessEntry(
            f"{self._name}-{role}", cluster_name=self._cluster.name, principal_arn=principal,
            type="STANDARD", tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=old)] if old else None),
        )
        return aws.eks.AccessPolicyAssociation(
            f"{self._name}-{role}-policy", cluster_name=self._cluster.name,
            principal_arn=principal,
            policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry],
                                        aliases=[pulumi.Alias(name=f"{old}-policy")] if old else None),
        )

    def _node_group(self, role: str, node_role: aws.iam.Role, security_groups: list[pulumi.Input[str]],
                    instance_types: Sequence[str], *, capacity: str, min_size: int, max_size: int,
                    ami_type: str, disk_size_gib: int, pool: str) -> aws.eks.NodeGroup:
        """A managed node group with its launch template (IMDSv2, encrypted gp3, tagged instances)."""
        # Managed node groups don't tag their EC2 instances and volumes: the launch template
        # does, so instance-hours carry the cost tags.
        template = aws.ec2.LaunchTemplate(
            f"{self._name}-{role}-lt",
            description=f"EKS {self._args.cluster_name} {role} nodes",
            vpc_security_group_ids=security_groups,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=2),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=disk_size_gib, volume_type="gp3", encrypted="true",
                    delete_on_termination="true"),
            )],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={**self._tags, "Name": f"{self._args.cluster_name}-{role}"})
                for kind in ("instance", "volume")
            ],
            tags=self._tags,
            opts=self._child,
        )
        taints = []
        if pool == GPU_POOL:
            taint = gpu_taint()
            taints = [aws.eks.NodeGroupTaintArgs(key=taint["key"], value=taint["value"],
                                                 effect=CLOUD_TAINT_EFFECT[taint["effect"]])]
        capacity_type = "SPOT" if capacity == "spot" else "ON_DEMAND"
        return aws.eks.NodeGroup(
            f"{self._name}-{role}",
            cluster_name=self._cluster.name,
            # The autoscaler's priority expander matches the ASG name, eks-<node group name>-<uuid>.
            # The suffix follows the inputs EKS cannot update (instance types, capacity and AMI
            # type): changing one replaces the group under a new name, created before the old
            # one is drained and deleted.
            node_group_name=f"{role}-{replacement_suffix(list(instance_types), capacity_type, ami_type)}",
            node_role_arn=node_role.arn,
            subnet_ids=self._args.subnet_ids,
            instance_types=list(instance_types),
            capacity_type=capacity_type,
            ami_type=ami_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=min_size, max_size=max_size, desired_size=min_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)),
            labels=node_labels(pool, "spot" if capacity == "spot" else "on-demand"),
            taints=taints,
            tags=self._tags,
            # The Cluster Autoscaler owns the size between min and max.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _pod_identity_role(self, role: str, policy_arn: str | None = None,
                           inline: pulumi.Input[str] | None = None) -> aws.iam.Role:
        """A role EKS Pod Identity hands to one service account."""
        iam_role = aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"]}]}),
            tags=self._tags, opts=self._child,
        )
        if policy_arn:
            aws.iam.RolePolicyAttachment(f"{self._name}-{role}-policy", role=iam_role.name,
                                         policy_arn=policy_arn, opts=self._child)
        if inline is not None:
            aws.iam.RolePolicy(f"{self._name}-{role}-policy", role=iam_role.id, policy=inline,
                               opts=self._child)
        return iam_role

    def _addons(self, system: aws.eks.NodeGroup, gpu_groups: list[aws.eks.NodeGroup]) -> list[pulumi.Resource]:
        """Pod identity + EBS CSI (EKS add-ons), then the Helm add-ons on the system nodes."""
        name, cluster = self._name, self._cluster
        pins = eks_versions.version(self._args.kubernetes_version)
        autoscaler_chart = cluster_autoscaler(pins.cluster_autoscaler_chart)
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=[system])
        pod_identity = aws.eks.Addon(
            f"{name}-pod-identity", cluster_name=cluster.name, addon_name="eks-pod-identity-agent",
            addon_version=pins.addons["eks-pod-identity-agent"], resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags, opts=after_nodes,
        )
        ebs_role = self._pod_identity_role(
            "ebs-csi-role", policy_arn=_MANAGED_POLICY + "service-role/AmazonEBSCSIDriverPolicy")
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver",
            addon_version=pins.addons["aws-ebs-csi-driver"], resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=ebs_role.arn, service_account=_EBS_CSI_SA)],
            tags=self._tags, opts=pulumi.ResourceOptions(parent=self, depends_on=[system, pod_identity]),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3-encrypted", labels=k8s_labels(self._args.tags),
                annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )

        autoscaler_role = self._pod_identity_role(
            "autoscaler-role", inline=cluster.name.apply(_autoscaler_policy))
        autoscaler_identity = aws.eks.PodIdentityAssociation(
            f"{name}-autoscaler-identity", cluster_name=cluster.name, namespace=autoscaler_chart.namespace,
            service_account=_AUTOSCALER_SA, role_arn=autoscaler_role.arn, tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pod_identity]),
        )
        helm_opts = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[system])
        autoscaler = helm_release(f"{name}-cluster-autoscaler", autoscaler_chart, {
            "cloudProvider": "aws",
            "awsRegion": self._args.region,
            "autoDiscovery": {"clusterName": self._args.cluster_name},
            "rbac": {"serviceAccount": {"create": True, "name": _AUTOSCALER_SA}},
            "nodeSelector": system_node_selector(),
            "extraArgs": {
                "expander": "priority",
                # Give up on spot after 5 minutes without capacity and try the next group.
                "max-node-provision-time": "5m",
                "scale-down-unneeded-time": "10m",
                "skip-nodes-with-local-storage": "false",
            },
            # Matched against ASG names; higher wins. Spot first, on-demand as fallback.
            "expanderPriorities": "50:\n  - ^eks-gpu-spot-.*\n10:\n  - ^eks-gpu-ondemand-.*\n1:\n  - .*\n",
        }, pulumi.ResourceOptions(parent=self, provider=self.provider,
                                  depends_on=[system, autoscaler_identity, *gpu_groups]))
        device_plugin = helm_release(f"{name}-nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN,
                                     device_plugin_values(), helm_opts)
        keda = helm_release(f"{name}-keda", KEDA, keda_values(), helm_opts)
        # EKS has no resource metrics API of its own; an HPA on CPU (the gateway's) reads it.
        metrics = helm_release(f"{name}-metrics-server", METRICS_SERVER, {"nodeSelector": system_node_selector()},
                               helm_opts)
        # EKS gives a pod its Pod Identity credentials only if the association exists when the pod
        # starts (EKS user guide, pod-id-how-it-works): Alertmanager's comes before the chart and
        # its id is on the pod (a new association restarts it), so a publish policy added later
        # (the gateway's) works on the running pod.
        alertmanager_role = self._pod_identity_role("alertmanager-role")
        alertmanager_identity = aws.eks.PodIdentityAssociation(
            f"{name}-alertmanager-identity", cluster_name=cluster.name, namespace=KUBE_PROMETHEUS_STACK.namespace,
            service_account=ALERTMANAGER_SERVICE_ACCOUNT, role_arn=alertmanager_role.arn, tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pod_identity],
                                        aliases=[_gateway_alertmanager_identity()]),
        )
        self.alertmanager_role = alertmanager_role.name
        prometheus = helm_release(f"{name}-prometheus", KUBE_PROMETHEUS_STACK,
                                  prometheus_values(alertmanager_identity.id),
                                  pulumi.ResourceOptions(parent=self, provider=self.provider,
                                                         depends_on=[system, storage_class, alertmanager_identity]))
        addons = [ebs_csi, storage_class, autoscaler, device_plugin, keda, metrics, prometheus]
        if self._args.gpu_telemetry is not None:
            # Its ServiceMonitor and PrometheusRule need the operator's CRDs: after Prometheus.
            addons.append(GpuTelemetry(f"{name}-gpu-telemetry", GpuTelemetryArgs(
                platform=TelemetryPlatform.EKS, cluster_name=self._args.cluster_name,
                labels=k8s_labels(self._args.tags), alerts=self._args.gpu_telemetry),
                pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[prometheus])))
        return addons


def _validate(args: EksGpuClusterArgs) -> None:
    """Instance types against the EC2 catalogue and sizes/endpoint settings; ValueError names the fix."""
    eks_versions.version(args.kubernetes_version)  # KeyError names the known versions
    table = catalog.load("ec2")
    if not args.gpu_nodes.instance_types:
        raise ValueError("gpu node group needs at least one instance type")
    gpu_counts = set()
    for instance_type in args.gpu_nodes.instance_types:
        spec = table.get(instance_type)
        if spec.gpu_count == 0:
            raise ValueError(f"{instance_type} has no GPU; GPU node groups need one of: "
                             f"{', '.join(table.gpu_types())}")
        gpu_counts.add(spec.gpu_count)
    if len(gpu_counts) > 1:
        raise ValueError(f"GPU instance types {', '.join(args.gpu_nodes.instance_types)} have different "
                         "GPU counts; a vLLM replica must fit any node of the group")
    if table.get(args.system_nodes.instance_type).gpu_count:
        raise ValueError(f"system node type {args.system_nodes.instance_type} has GPUs; use a CPU type")
    for label, low, high in (("gpu", args.gpu_nodes.min_size, args.gpu_nodes.max_size),
                             ("system", args.system_nodes.min_size, args.system_nodes.max_size)):
        if high < 1 or low < 0 or low > high:
            raise ValueError(f"{label} nodes: need 0 <= min ({low}) <= max ({high}) and max >= 1")
    if not args.private_endpoint and not args.public_access_cidrs:
        raise ValueError("a public API endpoint needs public_access_cidrs (never open to all by default)")


def deployer_arn() -> str:
    """The IAM role/user running this program (an assumed-role session resolved to its role,
    path included), as EKS access entries name principals."""
    caller = aws.get_caller_identity()
    return aws.iam.get_session_context(arn=caller.arn).issuer_arn


def admin_principals(deployer: str, listed: Sequence[str]) -> list[tuple[str, int | None]]:
    """Each admin principal once (IAM names are case-insensitive), the deployer first, with its
    index in ``listed`` (``None`` for the deployer when it is not listed)."""
    seen: dict[str, tuple[str, int | None]] = {deployer.lower(): (deployer, None)}
    for index, principal in enumerate(listed):
        key = principal.lower()
        if key in seen and seen[key][1] is None:
            seen[key] = (seen[key][0], index)
        seen.setdefault(key, (principal, index))
    return list(seen.values())


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that gets short-lived tokens from ``aws eks get-token``."""
    return exec_kubeconfig(cluster_name, endpoint, ca_data, "aws", {
        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]})


def _autoscaler_policy(cluster_name: str) -> str:
    """Cluster Autoscaler permissions: read everywhere, resize only this cluster's groups."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup"]},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {
             f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ]})


def _gateway_alertmanager_identity() -> pulumi.Alias:
    """Where the gateway's meter made Alertmanager's Pod Identity association before the cluster
    did: an update moves it here (its role updates in place) instead of creating a second
    association for the same service account, which EKS refuses (ResourceInUseException)."""
    gateway = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::scalepath:index:Gateway::gateway"
    return pulumi.Alias(name="gateway-alertmanager-identity", parent=gateway)
