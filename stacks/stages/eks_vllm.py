"""Stage ``eks-vllm``: an EKS GPU cluster in the stack's AWS network with vLLM on it."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import Field, StringConstraints, field_validator, model_validator

from components import catalog
from components.aws.api_model import constraints
from components.catalog import InstanceSpec
from components.clusters import eks_versions
from components.clusters.allocatable import NodeCloud
from components.clusters.capabilities import Capability
from components.clusters.eks import INSTALLS as EKS_INSTALLS
from components.clusters.eks import EksGpuCluster, EksGpuClusterArgs, EksGpuNodesArgs, EksSystemNodesArgs
from components.clusters.eks_versions import SupportType
from components.names import cloud_name
from stacks import aws as aws_stack
from stacks.config import Cloud, DeploymentBase, Environment, StackFacts, Stage
from stacks.context import StackContext
from stacks.errors import ConfigIssue, format_loc
from stacks.model import ConfigModel
from stacks.names import KMS_KEY_ARN
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

DEFAULT_EKS_VERSION = "1.35"


def eks_cluster_name(name: str) -> str:
    """EKS cluster names as botocore's eks ``CreateClusterRequest.name`` states them: letters, digits,
    ``-`` and ``_``, alphanumeric first, at most its ``max`` (100)."""
    return cloud_name(name, int(constraints("eks", "CreateClusterRequest", "name").max), "A-Za-z0-9_-",
                      trim="A-Za-z0-9")
"""In standard support from 2026-01-27 to 2027-03-27 (``eks_versions.yaml``)."""


def today() -> dt.date:
    """The date support windows are judged on (UTC, as EKS bills)."""
    return dt.datetime.now(dt.timezone.utc).date()


#: Retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)


def _cidr(value: str) -> str:
    ipaddress.ip_network(value)  # ValueError names the bad CIDR
    return value


class EksGpuNodes(GpuNodeBounds):
    """``cluster.gpuNodes``: GPU instance types (spot group + on-demand fallback)."""

    instance_types: Annotated[list[str], Field(min_length=1)] = ["g6.xlarge"]
    """EC2 GPU types of ``ec2.yaml``, all with the same GPU count; more types, more spot pools."""

    @field_validator("instance_types")
    @classmethod
    def _gpu_types(cls, value: list[str]) -> list[str]:
        table = catalog.load("ec2")
        gpu_types = table.gpu_types()
        for instance_type in value:
            if instance_type not in gpu_types:
                raise ValueError(f"{instance_type!r} is not a GPU instance type of the EC2 catalogue; "
                                 f"known: {', '.join(gpu_types)}")
        counts = {table.get(t).gpu_count for t in value}
        if len(counts) > 1:
            raise ValueError("all instance types must have the same GPU count (a replica must fit "
                             f"any node): {', '.join(f'{t}={table.get(t).gpu_count}' for t in value)}")
        return value

    def gpus_per_node(self) -> int:
        """GPUs of each node (the same for every listed type)."""
        return catalog.load("ec2").get(self.instance_types[0]).gpu_count


class EksSystemNodes(ConfigModel):
    """``cluster.systemNodes``: the CPU node group for add-ons."""

    instance_type: str = "m6i.large"
    min: Annotated[int, Field(ge=1)] = 2
    max: Annotated[int, Field(ge=1, le=10)] = 3

    @field_validator("instance_type")
    @classmethod
    def _cpu_type(cls, value: str) -> str:
        table = catalog.load("ec2")
        cpu_types = sorted(k for k, v in table.instances.items() if v.gpu_count == 0)
        if value not in cpu_types:
            raise ValueError(f"{value!r} is not a CPU instance type of the EC2 catalogue; "
                             f"known: {', '.join(cpu_types)}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> EksSystemNodes:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class EksClusterSettings(ConfigModel):
    """``cluster:`` of an ``eks-vllm`` deployment."""

    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}$")] = DEFAULT_EKS_VERSION
    """A version of ``components/data/eks_versions.yaml`` in standard support today (extended
    support with ``supportType: EXTENDED``); the add-on pins and autoscaler chart follow it."""
    support_type: SupportType = SupportType.STANDARD
    """EKS upgrade policy; EXTENDED keeps a version past standard support at the extended rate."""
    gpu_nodes: EksGpuNodes = EksGpuNodes()
    system_nodes: EksSystemNodes = EksSystemNodes()
    public_access_cidrs: list[str] = []
    """CIDRs allowed to the public API endpoint (public network mode only; required there)."""
    admin_role_arns: list[Annotated[str, StringConstraints(
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/\S+$")]] = []
    """IAM roles/users given cluster admin through EKS access entries; the identity running
    ``pulumi up`` always gets one (it installs the add-ons), listed or not."""
    kms_key_arn: Annotated[str, StringConstraints(pattern=KMS_KEY_ARN)] | None = None
    """Key for secrets encryption; scalepath creates a rotating key when unset."""
    log_retention_days: int = 90
    gpu_telemetry: GpuTelemetrySettings = GpuTelemetrySettings()

    @field_validator("admin_role_arns")
    @classmethod
    def _unique_principals(cls, value: list[str]) -> list[str]:
        # EKS has one access entry per principal (IAM names are case-insensitive).
        seen: set[str] = set()
        for arn in value:
            if arn.lower() in seen:
                raise ValueError(f"{arn} is listed twice; EKS allows one access entry per principal")
            seen.add(arn.lower())
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [_cidr(v) for v in value]

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch retention; allowed: "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


class EksVllmDeployment(GpuClusterDeployment):
    """An ``eks-vllm`` deployment: ``cluster`` settings plus the shared ``scaling`` and ``vllm``."""

    stage_value: ClassVar[Stage] = Stage.EKS_VLLM
    cloud: ClassVar[Cloud] = Cloud.AWS
    node_cloud: ClassVar[NodeCloud] = NodeCloud.EKS
    access_key: ClassVar[str] = "publicAccessCidrs"
    installs: ClassVar[frozenset[Capability]] = EKS_INSTALLS
    stage: Literal[Stage.EKS_VLLM]
    cluster: EksClusterSettings = EksClusterSettings()

    def gpu_nodes_label(self) -> str:
        return f"cluster.gpuNodes.instanceTypes ({self.cluster.gpu_nodes.instance_types[0]})"

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """The cluster's EKS version must be in its support window today (issue 14, item 8)."""
        problem = eks_versions.support_problem(self.cluster.kubernetes_version, self.cluster.support_type,
                                               today())
        issues = [ConfigIssue(format_loc(("deployments", index, "cluster", "kubernetesVersion")), problem)
                  ] if problem else []
        return [*issues, *super().check_in_stack(stack, index)]

    def access_cidrs(self) -> list[str]:
        return self.cluster.public_access_cidrs

    def gpu_node_types(self) -> list[InstanceSpec]:
        table = catalog.load("ec2")
        return [table.get(t) for t in self.cluster.gpu_nodes.instance_types]


def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, Any]:
    """EKS cluster (in the shared VPC) + add-ons + the vLLM workload."""
    assert isinstance(deployment, EksVllmDeployment)
    settings = deployment.cluster
    min_nodes, max_nodes = node_bounds(deployment, settings.gpu_nodes, settings.gpu_nodes.gpus_per_node())
    args = vllm_service_args(deployment, ctx, cloud=Cloud.AWS)
    network = aws_stack.network(ctx)
    if eks_versions.in_extended_support(settings.kubernetes_version, today()):
        # Allowed by supportType EXTENDED (check_in_stack refused it otherwise): say what it costs.
        pulumi.log.warn(f"{deployment.name}: EKS {settings.kubernetes_version} is in extended support "
                        f"(until {eks_versions.version(settings.kubernetes_version).end_of_extended_support}, "
                        "6x the standard cluster-hour rate); upgrade to leave it")
    private = ctx.spec.network.mode == "private"
    cluster = EksGpuCluster(f"{deployment.name}-eks", EksGpuClusterArgs(
        cluster_name=cluster_name(ctx, deployment, eks_cluster_name),
        region=ctx.spec.targets.aws_region or "",
        tags=ctx.tags(deployment),
        subnet_ids=network.private_subnet_ids,
        node_security_group_ids=[network.workload_security_group_id],
        gpu_nodes=EksGpuNodesArgs(
            instance_types=settings.gpu_nodes.instance_types, min_size=min_nodes, max_size=max_nodes,
            spot=settings.gpu_nodes.spot, disk_size_gib=settings.gpu_nodes.disk_size_gib),
        system_nodes=EksSystemNodesArgs(
            instance_type=settings.system_nodes.instance_type, min_size=settings.system_nodes.min,
            max_size=settings.system_nodes.max),
        kubernetes_version=settings.kubernetes_version,
        support_type=settings.support_type,
        private_endpoint=private,
        public_access_cidrs=settings.public_access_cidrs,
        kms_key_arn=settings.kms_key_arn,
        admin_principal_arns=settings.admin_role_arns,
        log_retention_days=settings.log_retention_days,
        deletion_protection=ctx.spec.environment is Environment.PROD,
        gpu_telemetry=settings.gpu_telemetry.alerts(),
    ))
    ctx.shared(f"cluster/{deployment.name}", lambda: cluster)  # the gateway's kubernetes runtime runs here
    return {**deploy_vllm(deployment, args, cluster),
            "clusterName": cluster.cluster_name, "clusterEndpoint": cluster.endpoint}


DEFINITION = StageDef(settings=EksVllmDeployment, build=build, contract=contract)
