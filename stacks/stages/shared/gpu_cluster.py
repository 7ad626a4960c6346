"""What the ``eks-vllm`` and ``gke-vllm`` stages share: GPU node sizing from the replica
bounds, cluster naming, and putting the vLLM workload on a cluster.

This module registers no stage; ``eks_vllm.py`` and ``gke_vllm.py`` do.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Protocol

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from components.catalog import HourlyPrice, InstanceSpec, hourly_price
from components.clusters.allocatable import NodeCloud, Resources, workload_budget
from components.clusters.capabilities import Capability, annotation_needs
from components.clusters.gpu_telemetry import GpuAlerts
from components.model_facts import model_size_b
from components.quantity import cpu_millis, memory_mib
from components.vllm import lora
from components.vllm import manifests as vllm_manifests
from components.vllm.cold_start import ColdStart, WakeProfile, duration_seconds, idle_tail_seconds
from components.vllm.cold_start import estimate as estimate_cold_start
from components.vllm.manifests import SYNC_REQUESTS
from components.vllm.service import VllmService, VllmServiceArgs
from stacks.config import Cloud, DeploymentBase, Environment, StackFacts
from stacks.context import StackContext
from stacks.contract import Access, AccessKind, Auth, Reach, Scope, ServedAdapter, StageContract, Wake
from stacks.contract import Protocol as Api  # typing.Protocol is taken here
from stacks.errors import ConfigIssue, KeyedValueError, format_loc
from stacks.model import ConfigModel
from stacks.needs import HubToken, Needs, Use, WeightsFrom
from stacks.stages.entries import ENTRIES
from stacks.stages.shared.vllm import Duration, VllmDeployment

GCP_TRIGGER_AUTH = "gcp-workload-identity"
"""KEDA TriggerAuthentication (per workload namespace) for Managed Prometheus on GKE."""


class GpuNodeBounds(ConfigModel):
    """``cluster.gpuNodes`` keys both clouds share: capacity type and node-count overrides."""

    spot: bool = True
    """Spot/preemptible GPU nodes first, with an on-demand fallback group/pool."""
    min: NonNegativeInt | None = None
    """Fewest GPU nodes; default: enough for ``scaling.min`` replicas."""
    max: PositiveInt | None = None
    """Most GPU nodes per capacity type; default: enough for ``scaling.max`` replicas."""
    disk_size_gib: Annotated[int, Field(ge=50, le=2000)] = 200
    """Node boot disk: container images (vLLM is ~10 GiB) plus node-local model cache."""

    @model_validator(mode="after")
    def _bounds(self) -> GpuNodeBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class GpuTelemetrySettings(ConfigModel):
    """``cluster.gpuTelemetry``: DCGM GPU metrics, alert rules and a dashboard on the cluster."""

    enabled: bool = True
    idle_utilisation_pct: Annotated[float, Field(gt=0, le=100)] = GpuAlerts.idle_utilisation_pct
    """Alert when a GPU averages less than this utilisation over 30 minutes."""
    memory_used_pct: Annotated[float, Field(gt=0, le=100)] = GpuAlerts.memory_used_pct
    """Alert when a GPU's memory is fuller than this; above ``vllm.gpuMemoryUtilization``
    (the share vLLM takes at start), or it would fire all the time."""
    for_: Duration = Field(GpuAlerts.for_duration, alias="for")
    severity: Literal["info", "warning", "critical"] = "warning"

    def alerts(self) -> GpuAlerts | None:
        """The cluster component's argument (``None`` when off)."""
        if not self.enabled:
            return None
        return GpuAlerts(idle_utilisation_pct=self.idle_utilisation_pct,
                         memory_used_pct=self.memory_used_pct, for_duration=self.for_,
                         severity=self.severity)


class ClusterLike(Protocol):
    """What :func:`deploy_vllm` needs from a GPU cluster component."""

    provider: k8s.Provider
    prometheus_url: str
    keda_pod_identity: str | None
    storage_class: str
    gpu_tolerations: list[dict[str, str]]
    gpu_node_selector: dict[str, str]
    ready: list[pulumi.Resource]


def node_bounds(deployment: VllmDeployment, nodes: GpuNodeBounds, gpus_per_node: int) -> tuple[int, int]:
    """GPU node (min, max): replicas x GPUs per replica packed onto nodes, unless set explicitly."""
    per_node = max(1, gpus_per_node // deployment.vllm.gpus_per_replica)
    low = nodes.min if nodes.min is not None else math.ceil(deployment.scaling.min / per_node)
    high = nodes.max if nodes.max is not None else math.ceil(deployment.scaling.max / per_node)
    return low, max(high, low, 1)


class GpuClusterDeployment(VllmDeployment):
    """What ``eks-vllm`` and ``gke-vllm`` deployments share: one cloud, a replica's GPUs fit on a
    node, and the stack-dependent cluster checks. Subclasses define ``cluster`` (with
    ``gpu_nodes``), ``cloud``, ``access_key`` and the two hooks below."""

    cloud: ClassVar[Cloud]
    node_cloud: ClassVar[NodeCloud]
    """Whose kubelet reserves and GPU-node DaemonSets apply (``node_allocatable.yaml``)."""
    access_key: ClassVar[str]
    """Config key (under ``cluster``) of the control-plane allow-list."""
    installs: ClassVar[frozenset[Capability]]
    """What the cluster component installs beside the workload (its ``INSTALLS``)."""

    def gpus_per_node(self) -> int:
        """GPUs on one GPU node of the configured type."""
        return self.cluster.gpu_nodes.gpus_per_node()  # type: ignore[attr-defined]

    def gpu_node_types(self) -> list[InstanceSpec]:
        """Every GPU node type a replica may land on (spot group and on-demand fallback)."""
        raise NotImplementedError

    def replica_budgets(self) -> dict[str, Resources]:
        """Node type -> what one replica may request there: the node's allocatable after
        kubelet reserves and DaemonSets, shared by the replicas its GPUs hold."""
        per_node = max(1, self.gpus_per_node() // self.vllm.gpus_per_replica)
        return {node.name: workload_budget(self.node_cloud, node).split(per_node)
                for node in self.gpu_node_types()}

    def replica_budget(self) -> Resources:
        budgets = self.replica_budgets().values()
        return Resources(min(b.cpu_m for b in budgets), min(b.memory_mib for b in budgets))

    def _fit_issues(self, index: int) -> list[ConfigIssue]:
        """Requests that fit no node of a type the deployment may land on: the pod would stay
        Pending there and the autoscaler could not help."""
        r = self.replica_resources()
        main = Resources(cpu_millis(r.cpu_request), memory_mib(r.memory_request))
        pod = main
        if self.vllm.model_cache.kind in ("s3", "gcs") or self.adapters:  # init containers run first
            init = Resources(cpu_millis(SYNC_REQUESTS["cpu"]), memory_mib(SYNC_REQUESTS["memory"]))
            pod = Resources(max(main.cpu_m, init.cpu_m), max(main.memory_mib, init.memory_mib))
        per_node = max(1, self.gpus_per_node() // self.vllm.gpus_per_replica)
        issues = []
        for node, budget in self.replica_budgets().items():
            share = f" each of its {per_node} replicas" if per_node > 1 else " a replica"
            for what, wanted, room, key, unit in (
                    ("CPU", pod.cpu_m / 1000, budget.cpu_m / 1000, "cpu", ""),
                    ("memory", pod.memory_mib / 1024, budget.memory_mib / 1024, "memory", " GiB")):
                if wanted <= room:
                    continue
                explicit = getattr(self.vllm.resources, key) is not None
                path = ("vllm", "resources", key) if explicit else ("cluster", "gpuNodes")
                issues.append(ConfigIssue(format_loc(("deployments", index, *path)), (
                    f"a replica requests {wanted:g}{unit} {what} but {node} leaves{share} "
                    f"{room:.2f}{unit} after kubelet reserves and the GPU-node DaemonSets: the pod "
                    "would stay Pending on every such node. "
                    + (f"Lower vllm.resources.{key} (or leave it unset to derive it), "
                       if explicit else "The s3/gcs sync container needs more than the node has: ")
                    + "or choose larger GPU node types")))
        return issues

    def cold_start(self) -> ColdStart:
        """How long a replica takes to answer from zero on this cloud (``components/data/cold_start.yaml``)."""
        v = self.vllm
        return estimate_cold_start(self.cloud.value, v.model_cache.kind, model_size_b(self.model),
                                   v.quantization.value if v.quantization else None)

    def wake_profile(self) -> WakeProfile | None:
        """With ``scaling.min: 0``: one replica's GPU node(s) billed while awake (``scaling.awakeHoursPerDay``)
        plus each wake's cold start and idle tail."""
        if self.scaling.min != 0:
            return None
        node = self.gpu_node_types()[0]
        keda = self.vllm.keda
        per_node = max(1, self.gpus_per_node() // self.vllm.gpus_per_replica)
        return WakeProfile(
            cold_start=self.cold_start(), awake_hours_per_day=self.scaling.awake_hours_per_day,
            idle_tail_seconds=idle_tail_seconds(self.cloud.value, duration_seconds(keda.keep_alive_window),
                                                keda.cooldown_period_seconds),
            node_family=ENTRIES[self.stage].catalog_family or "", node_type=node.name,
            spot=self.cluster.gpu_nodes.spot, nodes=math.ceil(1 / per_node))  # type: ignore[attr-defined]

    def gpu_nodes_label(self) -> str:
        """How errors name the GPU node type, e.g. ``cluster.gpuNodes.instanceTypes (g6.xlarge)``."""
        raise NotImplementedError

    def access_cidrs(self) -> Sequence[str]:
        """The control-plane allow-list."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _gpu_memory_alert_above_reservation(self) -> GpuClusterDeployment:
        telemetry: GpuTelemetrySettings = self.cluster.gpu_telemetry  # type: ignore[attr-defined]
        reserved = self.vllm.gpu_memory_utilization * 100
        if telemetry.enabled and telemetry.memory_used_pct <= reserved:
            raise KeyedValueError("cluster.gpuTelemetry.memoryUsedPct", (
                f"{telemetry.memory_used_pct:g} is not above the {reserved:g}% of GPU memory vLLM "
                "takes at start (vllm.gpuMemoryUtilization): the alert would always fire; raise it"))
        return self

    @model_validator(mode="after")
    def _replica_fits(self) -> GpuClusterDeployment:
        wanted, per_node = self.vllm.gpus_per_replica, self.gpus_per_node()
        if wanted > per_node:
            raise ValueError(f"vllm.gpusPerReplica ({wanted}) is more than the {per_node} GPU(s) of "
                             f"{self.gpu_nodes_label()}; pick a larger GPU type or fewer GPUs per replica")
        return self

    def needs(self) -> tuple[Needs, ...]:
        """One per GPU node type a replica may land on (spot group and on-demand fallback)."""
        v = self.vllm
        uses = self._uses()
        return tuple(Needs(
            model=self.model, params_b=None, gpus=v.gpus_per_replica, gpu_memory_gib=spec.gpu_memory_gib,
            hardware=f"vllm.gpusPerReplica on {spec.name}", hardware_key="vllm.gpusPerReplica",
            quantized=v.quantization is not None, tensor_parallel=v.tensor_parallel_size or v.gpus_per_replica,
            tensor_parallel_key="vllm.tensorParallelSize" if v.tensor_parallel_size else "vllm.gpusPerReplica",
            tensor_parallel_fix="Set vllm.tensorParallelSize (and vllm.gpusPerReplica) to one of them.",
            weights=WeightsFrom.BUCKET if v.model_cache.kind in ("s3", "gcs") else WeightsFrom.HUB,
            hub_token=HubToken.OWN if v.hf_token_secret else HubToken.STACK_SECRET,
            weights_key="vllm.modelCache", context=v.max_model_len, context_key="vllm.maxModelLen",
            # Adapter slots count where the model's geometry is known (models.yaml).
            extra_gib=lora.lora_slot_gib(self.model, self.lora_adapters()) or 0.0,
            uses=uses, provides=self.installs) for spec in self.gpu_node_types())

    def _uses(self) -> tuple[Use, ...]:
        """What the workload's scaler, monitors and Service annotations rely on."""
        v = self.vllm
        uses = []
        if v.keda.enabled:
            uses.append(Use(Capability.KEDA, "vllm.keda.enabled", "queue-based scaling (a KEDA ScaledObject)",
                            "Set vllm.keda.enabled: false and scaling.max to scaling.min."))
        elif self.scaling.max > self.scaling.min:
            uses.append(Use(Capability.CUSTOM_METRICS_ADAPTER, "vllm.keda.enabled",
                            "With KEDA disabled and scaling.max above scaling.min, an HPA on the per-pod queue "
                            "metric (vllm:num_requests_waiting)",
                            "Keep vllm.keda.enabled: true (KEDA is installed and reads the cluster's Prometheus), "
                            "or set scaling.max to scaling.min."))
        kind = v.monitoring.kind or ("pod-monitoring" if self.cloud is Cloud.GCP else "service-monitor")
        monitors = {"service-monitor": Capability.PROMETHEUS_OPERATOR, "pod-monitoring": Capability.MANAGED_PROMETHEUS}
        if kind in monitors:
            uses.append(Use(monitors[kind], "vllm.monitoring.kind", f"monitoring kind {kind} (scrape and alert rules)",
                            "Leave vllm.monitoring.kind unset (the cluster's own kind) or set it to none."))
        uses += [Use(capability, "vllm.service.annotations", f"annotation {key}",
                     "Choose the load balancer with vllm.service.exposure; extra annotations must be ones the "
                     "cluster's own cloud controller reads (components/data/service_annotations.yaml).")
                 for key, capability in annotation_needs(v.service.annotations).items()]
        return tuple(uses)

    def clouds(self) -> set[Cloud]:
        return {self.cloud}

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """Public control planes need allow-lists; prod keeps GPUs warm; then the workload's checks."""
        nodes: GpuNodeBounds = self.cluster.gpu_nodes  # type: ignore[attr-defined]
        min_nodes, _ = node_bounds(self, nodes, self.gpus_per_node())
        issues = []
        if stack.network.mode == "public" and not self.access_cidrs():
            issues.append(ConfigIssue(
                format_loc(("deployments", index, "cluster", self.access_key)),
                "network.mode is public, so the control plane gets a public endpoint: list the CIDRs "
                "allowed to reach it (CI runners, VPN), or set scalepath:network.mode to private"))
        if stack.environment is Environment.PROD and min_nodes == 0 and self.scaling.min > 0:
            # scaling.min 0 in prod has its own issue (VllmDeployment._wake_issues).
            issues.append(ConfigIssue(format_loc(("deployments", index, "cluster", "gpuNodes", "min")),
                                      "prod keeps at least one GPU node (gpuNodes.min 0 is allowed in "
                                      "dev and staging only)"))
        return [*issues, *self._fit_issues(index), *super().check_in_stack(stack, index)]


def cluster_name(ctx: StackContext, deployment: VllmDeployment, fit: Callable[[str], str]) -> str:
    """``<project>-<stack>-<deployment>`` as the cloud's cluster API takes it (``fit``: its characters,
    and a hash suffix to fit its length)."""
    return fit(f"{ctx.spec.stack_tag}-{deployment.name}")


def deploy_vllm(deployment: VllmDeployment, args: VllmServiceArgs, cluster: ClusterLike) -> Mapping[str, Any]:
    """The vLLM workload on ``cluster``: placement, metrics and storage come from the cluster."""
    keda = deployment.vllm.keda
    autoscaling = args.autoscaling
    if "prometheus_address" not in keda.model_fields_set:
        autoscaling = dataclasses.replace(autoscaling, prometheus_address=cluster.prometheus_url)
    cache = args.cache
    if cache.storage_class is None:
        cache = dataclasses.replace(cache, storage_class=cluster.storage_class)

    name = f"{deployment.name}-vllm"
    # The namespace is made here so a KEDA TriggerAuthentication can exist in it before the
    # ScaledObject that references it.
    k8s_opts = pulumi.ResourceOptions(provider=cluster.provider, depends_on=cluster.ready)
    namespace_meta = vllm_manifests.namespace(name, args)["metadata"]
    namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=namespace_meta, opts=k8s_opts)
    before_workload: list[pulumi.Resource] = [namespace]
    if cluster.keda_pod_identity and keda.enabled and autoscaling.authentication_ref is None:
        before_workload.append(k8s.apiextensions.CustomResource(
            f"{name}-trigger-auth", api_version="keda.sh/v1alpha1", kind="TriggerAuthentication",
            metadata={"name": GCP_TRIGGER_AUTH, "namespace": args.namespace,
                      "labels": namespace_meta.get("labels", {})},
            spec={"podIdentity": {"provider": cluster.keda_pod_identity}},
            opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[namespace])))
        autoscaling = dataclasses.replace(autoscaling, authentication_ref=GCP_TRIGGER_AUTH)

    args = dataclasses.replace(
        args, create_namespace=False, autoscaling=autoscaling, cache=cache,
        # The cluster's placement contract, not the workload's defaults.
        node_selector=dict(cluster.gpu_node_selector), tolerations=list(cluster.gpu_tolerations))
    service = VllmService(name, args, opts=pulumi.ResourceOptions(
        provider=cluster.provider, depends_on=[*cluster.ready, *before_workload]))
    return {
        "url": service.url,
        "openaiBaseUrl": service.openai_base_url,
        "servedModelName": service.served_model_name,
        "namespace": service.namespace,
    }


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """vLLM's OpenAI server behind a ClusterIP Service: no key, cluster-local DNS, so callers run in
    the deployment's own cluster."""
    assert isinstance(deployment, VllmDeployment)
    (cloud,) = deployment.clouds()
    profile = deployment.wake_profile()
    region = stack.targets.aws_region if cloud is Cloud.AWS else stack.targets.gcp_region
    return StageContract(
        deployment=deployment.name, protocols=frozenset({Api.CHAT, Api.COMPLETIONS}),
        access=Access(kind=AccessKind.OPENAI, address="openaiBaseUrl",
                      served_model=deployment.vllm.served_model_name or deployment.model,
                      adapters=tuple(ServedAdapter(name=a.name, model=a.name) for a in deployment.adapters)),
        auth=Auth(), reach=Reach(scope=Scope.CLUSTER, cloud=cloud,
                                 caller_needs="a pod in the deployment's own cluster (cluster-local Service name)"),
        # A vLLM deployment without GPU nodes of its own (none ships) has no node to share.
        replica_price=replica_price(deployment, region) if isinstance(deployment, GpuClusterDeployment) else None,
        wake=Wake(cold_start_seconds=profile.cold_start.total_seconds) if profile is not None else None)


def replica_price(deployment: GpuClusterDeployment, region: str | None) -> HourlyPrice | None:
    """A replica's share of its GPU node's price: the first node type, spot when the spot group is
    on (priced as the plan prices that group), split over the replicas one node holds."""
    node = deployment.gpu_node_types()[0]
    family = ENTRIES[deployment.stage].catalog_family
    price = hourly_price(family, node.name, region, spot=deployment.cluster.gpu_nodes.spot) if family else None
    per_node = max(1, deployment.gpus_per_node() // deployment.vllm.gpus_per_replica)
    if price is None or per_node == 1:
        return price
    return HourlyPrice(price.usd / per_node, f"{price.note} / {per_node} replicas per node")

