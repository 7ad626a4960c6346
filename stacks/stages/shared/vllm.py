"""The ``vllm:`` block of ``eks-vllm``/``gke-vllm`` deployments and its mapping to
:class:`components.vllm.args.VllmServiceArgs` (shared by both stage modules).

This module registers no stage. A stage module subclasses :class:`VllmDeployment` (which adds
``scaling`` and ``vllm`` to a deployment) and calls :func:`vllm_service_args` in its ``build``::

    args = vllm_service_args(deployment, ctx, cloud=Cloud.AWS)
    svc = VllmService(f"{deployment.name}-vllm", args, opts=ResourceOptions(provider=k8s_provider))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    model_validator,
)

from components.clusters.allocatable import Resources
from components.gateway.args import physical_name as gateway_name
from components.gateway.meter import REQUESTS, SCOPE_LABEL
from components.quantity import memory_mib
from components.vllm.args import (
    AlertThresholds,
    AutoscalingArgs,
    CacheKind,
    Exposure,
    KvCacheDtype,
    LbCloud,
    ModelCacheArgs,
    MonitoringArgs,
    MonitoringKind,
    ProbeSettings,
    Quantization,
    ReplicaResources,
    ScalingMode,
    ServiceExposure,
    VllmArgsError,
    VllmImage,
    VllmServerArgs,
    VllmServiceArgs,
)
from stacks.config import Cloud, DeploymentBase, Environment, Scaling, StackFacts
from stacks.context import StackContext
from stacks.errors import ConfigIssue, KeyedValueError, format_loc
from stacks.model import ConfigModel

Quantity = Annotated[str, StringConstraints(
    pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")]
"""A Kubernetes quantity: ``4``, ``500m``, ``32Gi``."""
Duration = Annotated[str, StringConstraints(pattern=r"^[0-9]+(ms|s|m|h|d|w|y)$")]
"""A Prometheus duration: ``30s``, ``10m``."""
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
"""A DNS label (namespace, Secret name...)."""
Fraction = Annotated[float, Field(gt=0, le=1)]

WAKE_KEYS = "gateway.routes[].targets"
"""Where a scaled-to-zero deployment gets its demand: a gateway route sending it a weighted share."""


def wake_query(stack_tag: str, routes: tuple[str, ...], window: str) -> str:
    """PromQL on the stack's gateway's request counter for ``routes`` (the engine's ``requested_model``
    is the route a client asked for; every scrape stamps the gateway's physical name as
    ``scalepath_gateway``, which keeps another stack's gateway out where one Prometheus sees several:
    Managed Service for Prometheus answers for the whole project): positive when
    one of them took requests within ``window``. The counter is born at 1 with its first request
    (Prometheus reads no increase from a single sample), so a series that did not exist ``window``
    ago counts as demand too: the first request after the gateway starts also wakes the server."""
    alternatives = "|".join(route.replace(".", "\\\\.") for route in routes)
    series = f'{REQUESTS}{{{SCOPE_LABEL}="{gateway_name(stack_tag)}",requested_model=~"{alternatives}"}}'
    return f"(sum(increase({series}[{window}])) > 0) or count({series} unless {series} offset {window})"


class VllmImageSettings(ConfigModel):
    """``vllm.image``: the server image, pinned by tag and optionally digest."""

    repository: str = "vllm/vllm-openai"
    tag: Annotated[str, StringConstraints(pattern=r"^[\w][\w.-]{0,127}$")] = VllmImage().tag
    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None


class VllmResourceSettings(ConfigModel):
    """``vllm.resources``: CPU/memory per replica (GPUs are ``vllm.gpusPerReplica``). Unset
    requests are derived from the GPU node type (its allocatable share per replica)."""

    cpu: Quantity | None = None
    cpu_limit: Quantity | None = None
    memory: Quantity | None = None
    memory_limit: Quantity | None = None
    """The memory request when unset; ``null`` for no limit."""
    shm_size: Quantity | None = None
    """In-memory ``/dev/shm``: 8Gi, at most a quarter of the memory request, when unset."""


class ModelCacheSettings(ConfigModel):
    """``vllm.modelCache``: where weights are cached and how they arrive."""

    kind: Literal["pvc", "s3", "gcs", "ephemeral"] = "pvc"
    size: Quantity = "200Gi"
    storage_class: K8sName | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"
    # No `*`/`?` in the prefix: it becomes an IAM/GCS resource, where they are wildcards.
    uri: Annotated[str, StringConstraints(
        pattern=r"^(s3|gs)://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^*?\s]*)?$")] | None = None
    """``s3://bucket/prefix`` (kind s3) or ``gs://bucket/prefix`` (kind gcs)."""


class VllmServiceSettings(ConfigModel):
    """``vllm.service``: how clients reach the server."""

    exposure: Literal["cluster-ip", "internal-lb", "public-lb"] = "cluster-ip"
    annotations: dict[str, str] = {}
    allow_from_namespaces: list[K8sName] | None = None
    """Creates a NetworkPolicy admitting only these namespaces (and monitoring) when set."""
    monitoring_namespace: K8sName = "monitoring"


class KedaSettings(ConfigModel):
    """``vllm.keda``: queue-based autoscaling (a custom-metric HPA when disabled)."""

    enabled: bool = True
    prometheus_address: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] = (
        "http://prometheus-operated.monitoring.svc:9090")
    authentication_ref: K8sName | None = None
    queue_threshold: PositiveFloat = 5.0
    kv_cache_usage_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    """Also scale on mean KV-cache usage per replica (``vllm:kv_cache_usage_perc``) above this."""
    keep_alive_requests_per_second: NonNegativeFloat = 0.0
    keep_alive_window: Duration = "10m"
    fallback_replicas: PositiveInt = 1
    polling_interval_seconds: PositiveInt = 15
    cooldown_period_seconds: NonNegativeInt = 600

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "wakeQuery" in data:
            raise ValueError("wakeQuery was removed: with scaling.min 0 the server is woken by the gateway's "
                             "request count for the routes that send to it (docs/stages/vllm.md); delete the key")
        if isinstance(data, Mapping) and "hpaMetricName" in data:
            raise ValueError("hpaMetricName was removed: an HPA on a custom metric needs a custom-metrics adapter, "
                             "which the clusters do not install, so the HPA mode is refused; delete the key")
        return data


class AlertSettings(ConfigModel):
    """``vllm.alerts``: PrometheusRule thresholds."""

    enabled: bool = True
    ttft_p95_seconds: PositiveFloat = AlertThresholds.ttft_p95_seconds
    # to_camel would spell it e2ELatencyP95Seconds; the documented key reads as a word.
    e2e_latency_p95_seconds: PositiveFloat = Field(AlertThresholds.e2e_latency_p95_seconds,
                                                   alias="e2eLatencyP95Seconds")
    queue_depth: PositiveFloat = AlertThresholds.queue_depth
    kv_cache_usage: Fraction = AlertThresholds.kv_cache_usage
    error_rate_5xx: Fraction = Field(AlertThresholds.error_rate_5xx, alias="errorRate5xx")
    for_: Duration = Field(AlertThresholds.for_duration, alias="for")
    severity: Literal["info", "warning", "critical"] = "warning"


class MonitoringSettings(ConfigModel):
    """``vllm.monitoring``: which scrape config the cluster's Prometheus understands."""

    kind: Literal["service-monitor", "pod-monitoring", "none"] | None = None
    """Default: ``pod-monitoring`` on GKE (Managed Prometheus), ``service-monitor`` elsewhere."""
    scrape_interval: Duration = "30s"
    rule_labels: dict[str, str] = {}


class VllmSettings(ConfigModel):
    """The ``vllm:`` block of an ``eks-vllm``/``gke-vllm`` deployment."""

    namespace: K8sName | None = None
    """Namespace of the workload; the deployment name when unset (never ``default``)."""
    image: VllmImageSettings = VllmImageSettings()
    revision: str | None = None
    served_model_name: str | None = None
    gpus_per_replica: PositiveInt = 1
    tensor_parallel_size: PositiveInt | None = None
    """Defaults to ``gpusPerReplica``."""
    gpu_memory_utilization: Fraction = 0.9
    max_model_len: PositiveInt | None = None
    max_num_seqs: PositiveInt | None = None
    enable_prefix_caching: bool | None = None
    enable_chunked_prefill: bool | None = None
    quantization: Quantization | None = None
    kv_cache_dtype: KvCacheDtype | None = None
    extra_args: list[str] = []
    resources: VllmResourceSettings = VllmResourceSettings()
    startup_failure_threshold: PositiveInt = ProbeSettings.startup_failure_threshold
    """× 10 s = the time a replica may take to download and load the model (default 30 min)."""
    termination_grace_period_seconds: NonNegativeInt = ProbeSettings.termination_grace_period_seconds
    runtime_class_name: K8sName | None = None
    model_cache: ModelCacheSettings = ModelCacheSettings()
    service: VllmServiceSettings = VllmServiceSettings()
    keda: KedaSettings = KedaSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    alerts: AlertSettings = AlertSettings()
    hf_token_secret: K8sName | None = None
    """An existing Secret (key ``HF_TOKEN``) instead of one made from ``scalepath:hfToken``."""


#: VllmServiceArgs field (prefix) -> the config key that sets it, for error paths.
_CONFIG_KEYS: dict[str, str] = {
    "server.tensor_parallel_size": "vllm.tensorParallelSize",
    "server.extra_args": "vllm.extraArgs",
    "server.adapters": "adapters",
    "server": "vllm",
    "cache.uri": "vllm.modelCache.uri",
    "cache.access_mode": "vllm.modelCache.accessMode",
    "cache": "vllm.modelCache",
    "autoscaling.min_replicas": "scaling.min",
    "autoscaling.max_replicas": "scaling.max",
    "autoscaling.fallback_replicas": "vllm.keda.fallbackReplicas",
    "autoscaling.prometheus_address": "vllm.keda.prometheusAddress",
    "autoscaling": "vllm.keda",
    "monitoring.alerts": "vllm.alerts",
    "monitoring": "vllm.monitoring",
    "service.exposure": "vllm.service.exposure",
    "service.cloud": "vllm.service.exposure",
    "service.annotations": "vllm.service.annotations",
    "service": "vllm.service",
    "resources.cpu_request": "vllm.resources.cpu",
    "resources.cpu_limit": "vllm.resources.cpuLimit",
    "resources.memory_request": "vllm.resources.memory",
    "resources.memory_limit": "vllm.resources.memoryLimit",
    "resources.shm_size": "vllm.resources.shmSize",
    "resources": "vllm.resources",
    "hf_token": "vllm.hfTokenSecret",
    "namespace": "vllm.namespace",
}


def config_key(field_name: str) -> str:
    """The deployment-relative config key of a :class:`VllmServiceArgs` field."""
    for prefix, key in _CONFIG_KEYS.items():
        if field_name == prefix or field_name.startswith(prefix + "."):
            return key
    return "vllm"




class VllmScaling(Scaling):
    """``scaling`` of a vLLM deployment. ``min: 0`` (outside prod) scales the server to zero between
    bursts of demand the gateway sees (:func:`wake_query`)."""

    awake_hours_per_day: Annotated[float, Field(gt=0, le=24)] = 8.0
    """With ``min: 0``: hours a day the server is expected to be awake (the cost estimate bills GPU
    nodes for these, plus each wake's cold start and idle tail: docs/cost.md)."""

    @model_validator(mode="after")
    def _awake_hours_need_min_zero(self) -> VllmScaling:
        if "awake_hours_per_day" in self.model_fields_set and self.min != 0:
            raise ValueError(f"awakeHoursPerDay applies only with min 0 (a server at min {self.min} is awake all "
                             "day); remove it or set min to 0")
        return self


class VllmDeployment(DeploymentBase):
    """Base of the ``eks-vllm``/``gke-vllm`` deployment models: replica bounds plus ``vllm:``."""

    scaling: VllmScaling = VllmScaling()
    vllm: VllmSettings = VllmSettings()

    def replica_budget(self) -> Resources:
        """CPU/memory one replica may request on the smallest GPU node it may land on."""
        raise NotImplementedError

    def replica_resources(self) -> ReplicaResources:
        """``vllm.resources`` with unset requests derived from :meth:`replica_budget`."""
        r = self.vllm.resources
        budget = self.replica_budget()
        # Round down to steps a reader recognises; the scheduler needs <=, not equality.
        memory = r.memory or f"{max(budget.memory_mib // 256 * 256, 256)}Mi"
        shm = r.shm_size or f"{min(8192, memory_mib(memory) // 4 // 256 * 256) or 64}Mi"
        return ReplicaResources(
            gpus=self.vllm.gpus_per_replica,
            cpu_request=r.cpu or f"{max(budget.cpu_m // 100 * 100, 100)}m",
            cpu_limit=r.cpu_limit,
            memory_request=memory,
            memory_limit=r.memory_limit if "memory_limit" in r.model_fields_set else memory,
            shm_size=shm)

    @model_validator(mode="after")
    def _consistent(self) -> VllmDeployment:
        # Cross-field rules live once, in the component; environment-dependent ones
        # (public LB in private mode) are checked again in check_in_stack.
        # Scale to zero depends on the stack (environment, gateway): check_in_stack judges it.
        args = _service_args(self, tags={}, cloud=_cluster_cloud(self), private_network=False,
                             hf_token=None, allow_scale_to_zero=True, wake="checked in check_in_stack")
        try:
            args.validate()
        except VllmArgsError as error:
            raise KeyedValueError(config_key(error.field_name), error.message) from None
        return self

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """The workload in this stack: no public load balancer in
        private network mode, and a namespace no other deployment of the stage uses."""
        args = _stack_service_args(self, stack, cloud=_cluster_cloud(self), tags={}, hf_token=None)
        issues = self._wake_issues(stack, index)
        try:
            args.validate()
        except VllmArgsError as error:
            # The wake rules above say why a scale to zero cannot be woken; the component's generic
            # refusal of the same fields would only repeat it.
            if not (issues and error.field_name.startswith(("autoscaling.min_replicas", "autoscaling.wake_query"))):
                issues.append(ConfigIssue(
                    format_loc(("deployments", index, *config_key(error.field_name).split("."))), error.message))
        for other_index, other in enumerate(stack.deployments):
            if other_index != index and isinstance(other, VllmDeployment) and other.stage == self.stage \
                    and (other.vllm.namespace or other.name) == args.namespace:
                issues.append(ConfigIssue(
                    format_loc(("deployments", index, "vllm", "namespace")),
                    f"namespace {args.namespace!r} is also used by deployments[{other_index}]; "
                    "give each deployment its own namespace"))
                break
        return issues


    def _wake_issues(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """``scaling.min: 0``: not in prod, and demand the cluster's Prometheus can see (a gateway route
        sending it a share, the gateway scraped in this cluster). KEDA on is the component's own rule."""
        if self.scaling.min != 0:
            return []
        at = format_loc(("deployments", index, "scaling", "min"))
        if stack.environment is Environment.PROD:
            return [ConfigIssue(at, "prod keeps its minimum: scale to zero is for dev and staging; set scaling.min "
                                    "to 1 or more")]
        if not stack.routes_to(self.name):
            return [ConfigIssue(at, (
                "0 needs demand the cluster can see: at zero replicas vLLM exports no metrics, so the server is "
                f"woken by the gateway's requests for it; route it ({WAKE_KEYS}, weight > 0, with a fallback "
                "that stays up) or set scaling.min to 1"))]
        if stack.gateway_scraped_in is not _cluster_cloud(self):
            return [ConfigIssue(at, (
                "0 needs the gateway's request metrics in this cluster's Prometheus, which KEDA queries to wake the "
                "server; only the kubernetes gateway runtime on a cluster of this cloud is scraped there (ECS, Cloud "
                "Run and Container Apps send theirs to their cloud's monitoring). Run the gateway on this cluster "
                "(gateway.runtime: kubernetes) or set scaling.min to 1"))]
        return []


def _cluster_cloud(deployment: VllmDeployment) -> Cloud | None:
    """The cloud whose cluster runs the deployment (its stage model's ``clouds()``)."""
    clouds = deployment.clouds() & {Cloud.AWS, Cloud.GCP}
    return next(iter(clouds)) if len(clouds) == 1 else None


def _service_args(deployment: VllmDeployment, *, tags: dict[str, str], cloud: Cloud | None,
                  private_network: bool, hf_token: pulumi.Input[str] | None,
                  allow_scale_to_zero: bool, wake: str | None) -> VllmServiceArgs:
    v = deployment.vllm
    scaling = deployment.scaling
    if v.keda.enabled:
        mode = ScalingMode.KEDA
    else:
        mode = ScalingMode.HPA if scaling.max > scaling.min else ScalingMode.NONE
    monitoring_kind = v.monitoring.kind or (
        "pod-monitoring" if cloud is Cloud.GCP else "service-monitor")
    a = v.alerts
    return VllmServiceArgs(
        namespace=v.namespace or deployment.name,
        tags=tags,
        server=VllmServerArgs(
            model=deployment.model, revision=v.revision, served_model_name=v.served_model_name,
            tensor_parallel_size=v.tensor_parallel_size,
            gpu_memory_utilization=v.gpu_memory_utilization, max_model_len=v.max_model_len,
            max_num_seqs=v.max_num_seqs, enable_prefix_caching=v.enable_prefix_caching,
            enable_chunked_prefill=v.enable_chunked_prefill, quantization=v.quantization,
            kv_cache_dtype=v.kv_cache_dtype, extra_args=tuple(v.extra_args),
            adapters=deployment.lora_adapters()),
        image=VllmImage(repository=v.image.repository, tag=v.image.tag, digest=v.image.digest),
        resources=deployment.replica_resources(),
        probes=ProbeSettings(startup_failure_threshold=v.startup_failure_threshold,
                             termination_grace_period_seconds=v.termination_grace_period_seconds),
        cache=ModelCacheArgs(kind=CacheKind(v.model_cache.kind), size=v.model_cache.size,
                             storage_class=v.model_cache.storage_class,
                             access_mode=v.model_cache.access_mode, uri=v.model_cache.uri),
        autoscaling=AutoscalingArgs(
            mode=mode, min_replicas=scaling.min, max_replicas=scaling.max,
            allow_scale_to_zero=allow_scale_to_zero, wake_query=wake,
            prometheus_address=v.keda.prometheus_address,
            authentication_ref=v.keda.authentication_ref, queue_threshold=v.keda.queue_threshold,
            kv_cache_usage_threshold=None if v.keda.kv_cache_usage_percent is None
            else v.keda.kv_cache_usage_percent / 100,
            keep_alive_requests_per_second=v.keda.keep_alive_requests_per_second,
            keep_alive_window=v.keda.keep_alive_window,
            fallback_replicas=v.keda.fallback_replicas,
            polling_interval_seconds=v.keda.polling_interval_seconds,
            cooldown_period_seconds=v.keda.cooldown_period_seconds),
        monitoring=MonitoringArgs(
            kind=MonitoringKind(monitoring_kind), scrape_interval=v.monitoring.scrape_interval,
            rule_labels=dict(v.monitoring.rule_labels),
            alerts=AlertThresholds(
                ttft_p95_seconds=a.ttft_p95_seconds, e2e_latency_p95_seconds=a.e2e_latency_p95_seconds,
                queue_depth=a.queue_depth, kv_cache_usage=a.kv_cache_usage,
                error_rate_5xx=a.error_rate_5xx, for_duration=a.for_, severity=a.severity)
            if a.enabled and monitoring_kind != "none" else None),
        service=ServiceExposure(
            exposure=Exposure(v.service.exposure),
            cloud={Cloud.AWS: LbCloud.AWS, Cloud.GCP: LbCloud.GCP}.get(cloud) if cloud else None,
            private_network=private_network, annotations=dict(v.service.annotations),
            network_policy_from_namespaces=v.service.allow_from_namespaces,
            monitoring_namespace=v.service.monitoring_namespace),
        hf_token=hf_token,
        hf_token_secret_name=v.hf_token_secret,
        runtime_class_name=v.runtime_class_name,
    )


def _stack_service_args(deployment: VllmDeployment, stack: StackFacts, *, cloud: Cloud | None,
                        tags: dict[str, str], hf_token: pulumi.Input[str] | None) -> VllmServiceArgs:
    """The args with what the stack decides: private network mode, scale to zero outside prod, and
    the wake query on the gateway's routes that send to the deployment."""
    routes = stack.routes_to(deployment.name)
    wake = (wake_query(stack.stack_tag, routes, deployment.vllm.keda.keep_alive_window)
            if deployment.scaling.min == 0 and routes else None)
    return _service_args(deployment, tags=tags, cloud=cloud, private_network=stack.network.mode == "private",
                         hf_token=hf_token, allow_scale_to_zero=stack.environment is not Environment.PROD, wake=wake)


def vllm_service_args(deployment: VllmDeployment, ctx: StackContext, *,
                      cloud: Cloud | None = None) -> VllmServiceArgs:
    """The component args of ``deployment`` in this stack (valid: ``check_in_stack`` checked
    the same args when the config was parsed).

    ``cloud`` (AWS or GCP) picks load-balancer annotations and the default monitoring kind;
    it defaults to the cloud of ``deployment.clouds()``.

    Adds what the deployment alone does not know: cost tags, private network mode, and the HF
    token (``scalepath:hfToken`` as a Pulumi secret, unless ``vllm.hfTokenSecret`` names an
    existing Secret).
    """
    hf_token = None
    if deployment.vllm.hf_token_secret is None and "hfToken" in ctx.spec.secrets:
        hf_token = pulumi.Config("scalepath").require_secret("hfToken")
    return _stack_service_args(deployment, ctx.spec.facts(), cloud=cloud or _cluster_cloud(deployment),
                               tags=ctx.tags(deployment), hf_token=hf_token)
