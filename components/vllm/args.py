"""Typed arguments of :class:`components.vllm.service.VllmService` and the vLLM command line.

The args are plain frozen dataclasses (components never import ``stacks``); ``validate()``
raises :class:`VllmArgsError` naming the field and the fix for combinations vLLM or
Kubernetes would reject only at run time (tensor parallel > GPUs, scale to zero in prod,
a public load balancer in private mode...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import pulumi

from components.quantity import QUANTITY, cpu_millis, memory_mib
from components.vllm.lora import LoraAdapter, max_lora_rank

#: The port the vLLM OpenAI-compatible server listens on (``--port``).
SERVER_PORT = 8000

#: Time allowed for a GPU node to join and the vLLM image (~10 GB) to be pulled.
NODE_AND_IMAGE_SECONDS = 20 * 60

#: Taint and label the clusters (issue 8) put on GPU nodes; the workload tolerates/selects them.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_NODE_POOL_LABEL = "scalepath.io/node-pool"
GPU_NODE_POOL_VALUE = "gpu"

DEFAULT_NODE_SELECTOR: Mapping[str, str] = {GPU_NODE_POOL_LABEL: GPU_NODE_POOL_VALUE}
DEFAULT_TOLERATIONS: Sequence[Mapping[str, str]] = (
    {"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": "NoSchedule"},
)


class VllmArgsError(ValueError):
    """Invalid vLLM service arguments; the message names the field and the fix."""

    def __init__(self, field_name: str, message: str):
        self.field_name, self.message = field_name, message
        super().__init__(f"{field_name}: {message}")


class Quantization(str, Enum):
    """``--quantization`` methods of the vLLM engine this component accepts."""

    AWQ = "awq"
    AWQ_MARLIN = "awq_marlin"
    GPTQ = "gptq"
    GPTQ_MARLIN = "gptq_marlin"
    FP8 = "fp8"
    FBGEMM_FP8 = "fbgemm_fp8"
    BITSANDBYTES = "bitsandbytes"
    COMPRESSED_TENSORS = "compressed-tensors"
    EXPERTS_INT8 = "experts_int8"
    GGUF = "gguf"
    MODELOPT = "modelopt"


class KvCacheDtype(str, Enum):
    """``--kv-cache-dtype`` values."""

    AUTO = "auto"
    FP8 = "fp8"
    FP8_E4M3 = "fp8_e4m3"
    FP8_E5M2 = "fp8_e5m2"


class CacheKind(str, Enum):
    """Where model weights live between pod restarts."""

    PVC = "pvc"
    """A PersistentVolumeClaim at ``HF_HOME``; vLLM downloads from the Hub on first start."""
    S3 = "s3"
    """An init container syncs weights from ``s3://...`` into an emptyDir before vLLM starts."""
    GCS = "gcs"
    """An init container syncs weights from ``gs://...`` into an emptyDir before vLLM starts."""
    EPHEMERAL = "ephemeral"
    """An emptyDir at ``HF_HOME``: every new pod downloads from the Hub (small models, dev)."""


class ScalingMode(str, Enum):
    """How replicas follow load. Never CPU: it runs away while weights load."""

    KEDA = "keda"
    """KEDA ``ScaledObject`` on Prometheus ``vllm:num_requests_waiting`` (allows scale to zero)."""
    HPA = "hpa"
    """``autoscaling/v2`` HPA on a custom per-pod metric (needs a custom-metrics adapter)."""
    NONE = "none"
    """A fixed ``min_replicas``."""


class MonitoringKind(str, Enum):
    """Which scrape config (and alert-rule kind) the cluster's Prometheus understands."""

    SERVICE_MONITOR = "service-monitor"
    """prometheus-operator ``ServiceMonitor`` + ``PrometheusRule``."""
    POD_MONITORING = "pod-monitoring"
    """GKE Managed Prometheus ``PodMonitoring`` + ``Rules`` (monitoring.googleapis.com/v1)."""
    NONE = "none"


class Exposure(str, Enum):
    """How the Service is reachable."""

    CLUSTER_IP = "cluster-ip"
    INTERNAL_LB = "internal-lb"
    """A load balancer on private addresses (annotations per cloud)."""
    PUBLIC_LB = "public-lb"
    """An internet-facing load balancer; refused in private network mode."""


class LbCloud(str, Enum):
    """Cloud whose load-balancer annotations an ``internal-lb`` Service gets."""

    AWS = "aws"
    GCP = "gcp"


_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

#: Flags the component sets itself from typed fields; ``extra_args`` must not repeat them.
MANAGED_FLAGS = (
    "--model", "--revision", "--served-model-name", "--host", "--port", "--tensor-parallel-size",
    "--gpu-memory-utilization", "--max-model-len", "--max-num-seqs", "--enable-prefix-caching",
    "--no-enable-prefix-caching", "--enable-chunked-prefill", "--no-enable-chunked-prefill",
    "--quantization", "--kv-cache-dtype", "--download-dir",
    "--enable-lora", "--lora-modules", "--max-loras", "--max-lora-rank",
)

#: vLLM's short spellings of managed flags (``vllm/engine/arg_utils.py``).
_SHORT_FLAGS = {"-tp": "--tensor-parallel-size", "-q": "--quantization"}


def managed_flag(arg: str) -> str | None:
    """The managed flag ``arg`` would set in ``vllm serve``, or None.

    Spelled the way vLLM's ``FlexibleArgumentParser`` reads it: in ``--name[.key][=value]`` the
    underscores of the name become dashes (``--max_model_len`` is ``--max-model-len``), and
    argparse takes an unambiguous prefix of a long flag as the flag (``--max-model``), so a
    prefix of a managed flag counts as that flag. Short aliases (``-tp``) count too.
    """
    name = arg.split("=", 1)[0]
    if not name.startswith("--"):
        return _SHORT_FLAGS.get(name)
    name = "--" + name[2:].split(".", 1)[0].replace("_", "-")
    if len(name) <= 2:
        return None
    return next((flag for flag in MANAGED_FLAGS if flag == name or flag.startswith(name)), None)


@dataclass(frozen=True, kw_only=True)
class VllmServerArgs:
    """Engine settings; each becomes a ``vllm serve`` flag (``None`` keeps vLLM's default)."""

    model: str
    """Hugging Face repo id (``org/name``) served, and the default served model name."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin the weights (``--revision``)."""
    served_model_name: str | None = None
    """Name clients send as ``model`` (``--served-model-name``); the repo id when unset."""
    tensor_parallel_size: int | None = None
    """``--tensor-parallel-size``; defaults to the GPUs requested per replica."""
    gpu_memory_utilization: float = 0.9
    """Fraction of GPU memory vLLM may use for weights and KV cache (0, 1]."""
    max_model_len: int | None = None
    """Context length (``--max-model-len``); the model's own when unset."""
    max_num_seqs: int | None = None
    """Most sequences batched at once (``--max-num-seqs``)."""
    enable_prefix_caching: bool | None = None
    """``--enable-prefix-caching`` / ``--no-enable-prefix-caching``; vLLM's default when unset."""
    enable_chunked_prefill: bool | None = None
    """``--enable-chunked-prefill`` / ``--no-enable-chunked-prefill``; vLLM's default when unset."""
    quantization: Quantization | None = None
    """``--quantization`` method for pre-quantized weights."""
    kv_cache_dtype: KvCacheDtype | None = None
    """``--kv-cache-dtype``."""
    extra_args: Sequence[str] = ()
    """More ``vllm serve`` flags, verbatim; may not repeat a flag set by a typed field."""
    adapters: Sequence[LoraAdapter] = ()
    """LoRA adapters loaded at start (``--enable-lora``, ``--lora-modules``...), each fetched
    into the model cache volume by an init container."""


@dataclass(frozen=True, kw_only=True)
class VllmImage:
    """The vLLM OpenAI server image, pinned by tag and optionally by digest."""

    repository: str = "vllm/vllm-openai"
    tag: str = "v0.11.0"
    digest: str | None = None
    """``sha256:<64 hex>``; when set the image is ``repo:tag@digest`` and the digest wins."""

    @property
    def reference(self) -> str:
        """The image reference put in the pod spec."""
        ref = f"{self.repository}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


@dataclass(frozen=True, kw_only=True)
class ReplicaResources:
    """What one replica asks of its node."""

    gpus: int = 1
    """``nvidia.com/gpu`` per replica (requests = limits, as the device plugin requires)."""
    cpu_request: str = "4"
    cpu_limit: str | None = None
    """Unset by default: a CPU limit throttles tokenisation without protecting the GPU."""
    memory_request: str = "32Gi"
    memory_limit: str | None = "32Gi"
    shm_size: str = "8Gi"
    """Size of the in-memory ``/dev/shm`` (NCCL and PyTorch workers share tensors there)."""


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """Health checks on ``/health`` and how long a model may take to load."""

    startup_failure_threshold: int = 180
    """Startup probe failures tolerated; × ``startup_period_seconds`` = the load-time budget
    (default 180 × 10 s = 30 min: download plus load of a large model)."""
    startup_period_seconds: int = 10
    readiness_period_seconds: int = 10
    liveness_period_seconds: int = 15
    liveness_failure_threshold: int = 3
    termination_grace_period_seconds: int = 120
    """Time to drain in-flight requests after SIGTERM before the pod is killed."""

    @property
    def rollout_budget_seconds(self) -> int:
        """How long a rollout may take: a GPU node joins, the image is pulled, the model loads."""
        return NODE_AND_IMAGE_SECONDS + self.startup_failure_threshold * self.startup_period_seconds


@dataclass(frozen=True, kw_only=True)
class ModelCacheArgs:
    """Where weights are cached (``HF_HOME``) and how they get there."""

    kind: CacheKind = CacheKind.PVC
    size: str = "200Gi"
    """PVC request, or emptyDir ``sizeLimit`` for sync/ephemeral caches."""
    storage_class: str | None = None
    """PVC storage class; the cluster default when unset."""
    access_mode: str = "ReadWriteOnce"
    """``ReadWriteOnce`` (one replica) or ``ReadWriteMany`` (EFS/Filestore, several replicas)."""
    uri: str | None = None
    """``s3://bucket/prefix`` or ``gs://bucket/prefix`` holding the model files (sync kinds)."""
    sync_image: str | None = None
    """Image of the sync init container; ``amazon/aws-cli`` / ``google/cloud-sdk`` by default."""


@dataclass(frozen=True, kw_only=True)
class AutoscalingArgs:
    """Replica bounds and the queue-based scaler."""

    mode: ScalingMode = ScalingMode.KEDA
    min_replicas: int = 1
    """0 = scale to zero (KEDA only, and only when ``allow_scale_to_zero``)."""
    max_replicas: int = 1
    allow_scale_to_zero: bool = False
    """Set by the caller from the environment: False in prod."""
    prometheus_address: str | None = None
    """Prometheus HTTP API KEDA queries (e.g. ``http://prometheus-operated.monitoring.svc:9090``)."""
    authentication_ref: str | None = None
    """Existing KEDA ``TriggerAuthentication`` for the Prometheus trigger (e.g. GMP via
    workload identity); none when unset."""
    queue_threshold: float = 5.0
    """Target ``vllm:num_requests_waiting`` per replica."""
    kv_cache_usage_threshold: float | None = None
    """Target mean KV-cache usage per replica (0..1 of ``vllm:kv_cache_usage_perc``), scaled on
    beside the queue (the larger replica count wins); ``None``: queue length only."""
    keep_alive_requests_per_second: float = 0.0
    """A replica is kept while the request rate over ``keep_alive_window`` exceeds this
    (0 = any request keeps one alive), so traffic in flight prevents scale to zero."""
    keep_alive_window: str = "10m"
    wake_query: str | None = None
    """PromQL on traffic measured in front of the server (ingress, gateway, router), e.g.
    ``sum(rate(nginx_ingress_controller_requests{service="llm"}[2m]))``. Required for scale to
    zero: a server at zero replicas exports no metrics, so only an upstream signal can wake it."""
    fallback_replicas: int = 1
    """Replicas KEDA holds when Prometheus cannot be queried (``fallback``)."""
    polling_interval_seconds: int = 15
    cooldown_period_seconds: int = 600
    """Idle time before scaling to zero (after the keep-alive window has drained)."""
    hpa_metric_name: str | None = None
    """Custom per-pod metric of the HPA mode; ``vllm:num_requests_waiting`` as the adapter
    names it (GKE Managed Prometheus: ``prometheus.googleapis.com|vllm:num_requests_waiting|gauge``)."""


@dataclass(frozen=True, kw_only=True)
class AlertThresholds:
    """PrometheusRule alert thresholds (all over ``for_duration``)."""

    ttft_p95_seconds: float = 2.0
    """p95 time to first token."""
    e2e_latency_p95_seconds: float = 30.0
    """p95 end-to-end request latency."""
    queue_depth: float = 20.0
    """Requests waiting, summed over replicas."""
    kv_cache_usage: float = 0.95
    """KV-cache usage fraction (0..1) of the fullest replica."""
    error_rate_5xx: float = 0.05
    """Share of HTTP responses that are 5xx."""
    for_duration: str = "10m"
    severity: str = "warning"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Scraping of ``/metrics`` and alert rules."""

    kind: MonitoringKind = MonitoringKind.SERVICE_MONITOR
    scrape_interval: str = "30s"
    alerts: AlertThresholds | None = field(default_factory=AlertThresholds)
    """``None`` creates no alert rules."""
    rule_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on the ServiceMonitor/PrometheusRule (e.g. ``release: kube-prometheus-stack``
    so the operator's selectors pick them up)."""


@dataclass(frozen=True, kw_only=True)
class ServiceExposure:
    """How clients reach the server."""

    exposure: Exposure = Exposure.CLUSTER_IP
    cloud: LbCloud | None = None
    """Picks the internal load-balancer annotations (required for ``internal-lb``)."""
    private_network: bool = False
    """Private network mode: a public load balancer is refused."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Extra Service annotations."""
    network_policy_from_namespaces: Sequence[str] | None = None
    """When set, a NetworkPolicy admits traffic to the server port only from pods in these
    namespaces (plus the monitoring namespace for scrapes); none when unset."""
    monitoring_namespace: str = "monitoring"
    """Namespace of the Prometheus that scrapes ``/metrics`` (kept open by the NetworkPolicy)."""


@dataclass(frozen=True, kw_only=True)
class VllmServiceArgs:
    """Everything :class:`~components.vllm.service.VllmService` needs. Validate with ``validate()``."""

    namespace: str
    """Namespace of every namespaced object (never ``default`` or ``kube-*``)."""
    tags: Mapping[str, str]
    """Logical cost tags (:func:`components.tagging.cost_tags`); become labels on every object."""
    server: VllmServerArgs
    image: VllmImage = field(default_factory=VllmImage)
    create_namespace: bool = True
    """Create the namespace (False when it is managed elsewhere)."""
    resources: ReplicaResources = field(default_factory=ReplicaResources)
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    cache: ModelCacheArgs = field(default_factory=ModelCacheArgs)
    autoscaling: AutoscalingArgs = field(default_factory=AutoscalingArgs)
    monitoring: MonitoringArgs = field(default_factory=MonitoringArgs)
    service: ServiceExposure = field(default_factory=ServiceExposure)
    hf_token: pulumi.Input[str] | None = None
    """HF token (a Pulumi secret Output); stored in a Secret the pod reads via ``secretKeyRef``."""
    hf_token_secret_name: str | None = None
    """An existing Secret holding the token (e.g. synced by external-secrets) instead."""
    hf_token_secret_key: str = "HF_TOKEN"
    """Key of the token in the Secret."""
    node_selector: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NODE_SELECTOR))
    """Node labels a replica needs; the GPU node pool by default."""
    tolerations: Sequence[Mapping[str, str]] = DEFAULT_TOLERATIONS
    """Taints a replica tolerates; the GPU taint by default."""
    runtime_class_name: str | None = None
    """``runtimeClassName`` (e.g. ``nvidia`` where the GPU operator installs one)."""
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)
    """E.g. ``eks.amazonaws.com/role-arn`` or ``iam.gke.io/gcp-service-account`` for cache sync."""

    @property
    def tensor_parallel_size(self) -> int:
        """The effective tensor-parallel degree: explicit, else the GPUs per replica."""
        return self.server.tensor_parallel_size or self.resources.gpus

    @property
    def served_model_name(self) -> str:
        """The name clients use as ``model``."""
        return self.server.served_model_name or self.server.model

    def validate(self) -> None:
        """Raise :class:`VllmArgsError` for the first invalid setting."""
        _validate(self)


def _check(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise VllmArgsError(field_name, message)


def _validate(args: VllmServiceArgs) -> None:
    _check(bool(_DNS_LABEL.match(args.namespace)), "namespace",
           f"{args.namespace!r} is not a DNS label (lowercase letters, digits, '-', <= 63)")
    _check(args.namespace not in _RESERVED_NAMESPACES, "namespace",
           f"{args.namespace!r} is reserved; use a namespace of its own (e.g. 'vllm')")
    _validate_server(args)
    _validate_resources(args.resources)
    _check(not (args.image.digest and not _DIGEST.match(args.image.digest)), "image.digest",
           "must be 'sha256:' followed by 64 lowercase hex digits")
    p = args.probes
    for name in ("startup_failure_threshold", "startup_period_seconds", "readiness_period_seconds",
                 "liveness_period_seconds", "liveness_failure_threshold"):
        _check(getattr(p, name) >= 1, f"probes.{name}", "must be >= 1")
    _check(p.termination_grace_period_seconds >= 0, "probes.termination_grace_period_seconds",
           "must be >= 0")
    _validate_cache(args)
    _validate_scaling(args.autoscaling)
    _validate_monitoring(args.monitoring)
    _validate_service(args.service)
    _check(not (args.hf_token is not None and args.hf_token_secret_name), "hf_token",
           "set either hf_token (a Secret is created) or hf_token_secret_name (existing), not both")


def _validate_server(args: VllmServiceArgs) -> None:
    s = args.server
    _check(bool(s.model), "server.model", "required (a Hugging Face repo id, org/name)")
    tp = args.tensor_parallel_size
    _check(tp >= 1, "server.tensor_parallel_size", "must be >= 1")
    _check(tp <= args.resources.gpus, "server.tensor_parallel_size",
           f"{tp} exceeds the {args.resources.gpus} GPU(s) requested per replica; lower it or "
           "request more GPUs per replica")
    _check(0 < s.gpu_memory_utilization <= 1, "server.gpu_memory_utilization",
           f"{s.gpu_memory_utilization} is outside (0, 1]")
    for name in ("max_model_len", "max_num_seqs"):
        value = getattr(s, name)
        _check(value is None or value >= 1, f"server.{name}", "must be >= 1")
    if s.quantization is not None:
        _check(isinstance(s.quantization, Quantization), "server.quantization",
               f"unknown method {s.quantization!r}; allowed: {', '.join(q.value for q in Quantization)}")
    if s.kv_cache_dtype is not None:
        _check(isinstance(s.kv_cache_dtype, KvCacheDtype), "server.kv_cache_dtype",
               f"unknown dtype {s.kv_cache_dtype!r}; allowed: {', '.join(k.value for k in KvCacheDtype)}")
    names = [a.name for a in s.adapters]
    _check(len(set(names)) == len(names), "server.adapters", "adapter names must be unique")
    _check(args.served_model_name not in names, "server.adapters",
           f"an adapter may not be named like the base model ({args.served_model_name})")
    try:
        max_lora_rank(a.rank for a in s.adapters)
    except ValueError as error:
        _check(False, "server.adapters", str(error))
    for arg in s.extra_args:
        managed = managed_flag(arg)
        _check(managed is None, "server.extra_args",
               f"{arg.split('=', 1)[0]} sets {managed}, which is set from a typed setting; use that setting instead")


def _validate_resources(r: ReplicaResources) -> None:
    _check(r.gpus >= 1, "resources.gpus", "must be >= 1 (vLLM serves from GPUs)")
    for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "shm_size"):
        value = getattr(r, name)
        _check(value is None or bool(QUANTITY.match(value)), f"resources.{name}",
               f"{value!r} is not a Kubernetes quantity (e.g. '4', '500m', '32Gi')")
    # The API server rejects a limit below its request; a memory-backed /dev/shm is charged to
    # the container's memory, so one as large as the limit leaves vLLM nothing.
    if r.cpu_limit is not None:
        _check(cpu_millis(r.cpu_limit) >= cpu_millis(r.cpu_request), "resources.cpu_limit",
               f"{r.cpu_limit} is below the CPU request {r.cpu_request}; a limit must be >= its request")
    if r.memory_limit is not None:
        _check(memory_mib(r.memory_limit) >= memory_mib(r.memory_request), "resources.memory_limit",
               f"{r.memory_limit} is below the memory request {r.memory_request}; a limit must be >= "
               "its request")
    memory_cap = r.memory_limit or r.memory_request
    _check(memory_mib(r.shm_size) < memory_mib(memory_cap), "resources.shm_size",
           f"{r.shm_size} of in-memory /dev/shm counts against the pod's memory ({memory_cap}); "
           "make it smaller than the memory limit")


def _validate_cache(args: VllmServiceArgs) -> None:
    c = args.cache
    _check(bool(QUANTITY.match(c.size)), "cache.size", f"{c.size!r} is not a quantity (e.g. '200Gi')")
    _check(c.access_mode in ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"), "cache.access_mode",
           "allowed: ReadWriteOnce, ReadWriteMany, ReadWriteOncePod")
    scheme = {CacheKind.S3: "s3://", CacheKind.GCS: "gs://"}.get(c.kind)
    if scheme:
        _check(bool(c.uri and c.uri.startswith(scheme) and len(c.uri) > len(scheme)), "cache.uri",
               f"a {c.kind.value} cache needs uri '{scheme}<bucket>/<prefix>'")
    else:
        _check(c.uri is None, "cache.uri", f"only s3/gcs caches sync from a uri (kind is {c.kind.value})")
    if c.kind is CacheKind.PVC and c.access_mode != "ReadWriteMany":
        # One RWO volume cannot follow replicas onto different GPU nodes.
        _check(args.autoscaling.max_replicas <= 1, "cache.access_mode",
               f"{c.access_mode} cannot be shared by {args.autoscaling.max_replicas} replicas on "
               "different nodes; use ReadWriteMany with an RWX storage class (EFS, Filestore) "
               "or an s3/gcs/ephemeral cache")


def _validate_scaling(a: AutoscalingArgs) -> None:
    _check(a.max_replicas >= 1, "autoscaling.max_replicas", "must be >= 1")
    _check(0 <= a.min_replicas <= a.max_replicas, "autoscaling.min_replicas",
           f"must be between 0 and max_replicas ({a.max_replicas})")
    if a.min_replicas == 0:
        _check(a.allow_scale_to_zero, "autoscaling.min_replicas",
               "0 (scale to zero) is not allowed here (prod); set it to 1 or more")
        _check(a.mode is ScalingMode.KEDA, "autoscaling.min_replicas",
               f"0 needs mode keda (an HPA cannot scale to zero); mode is {a.mode.value}")
        _check(bool(a.wake_query), "autoscaling.wake_query",
               "scale to zero needs a PromQL query on upstream traffic (ingress/gateway) to wake "
               "the server: at zero replicas vLLM exports no metrics")
    if a.mode is ScalingMode.KEDA:
        _check(bool(a.prometheus_address and re.match(r"^https?://", a.prometheus_address)),
               "autoscaling.prometheus_address", "KEDA needs the Prometheus URL (http(s)://host:port)")
        _check(a.queue_threshold > 0, "autoscaling.queue_threshold", "must be > 0")
        _check(a.kv_cache_usage_threshold is None or 0 < a.kv_cache_usage_threshold <= 1,
               "autoscaling.kv_cache_usage_threshold", "must be in (0, 1]")
        _check(a.keep_alive_requests_per_second >= 0, "autoscaling.keep_alive_requests_per_second",
               "must be >= 0")
        _check(bool(_DURATION.match(a.keep_alive_window)), "autoscaling.keep_alive_window",
               "must be a Prometheus duration such as '10m'")
        _check(1 <= a.fallback_replicas <= a.max_replicas, "autoscaling.fallback_replicas",
               f"must be between 1 and max_replicas ({a.max_replicas})")
        _check(a.polling_interval_seconds >= 1, "autoscaling.polling_interval_seconds", "must be >= 1")
        _check(a.cooldown_period_seconds >= 0, "autoscaling.cooldown_period_seconds", "must be >= 0")


def _validate_monitoring(m: MonitoringArgs) -> None:
    _check(bool(_DURATION.match(m.scrape_interval)), "monitoring.scrape_interval",
           "must be a duration such as '30s'")
    if m.alerts is not None:
        _check(m.kind is not MonitoringKind.NONE, "monitoring.alerts",
               "alert rules need a monitoring kind (service-monitor or pod-monitoring)")
        a = m.alerts
        _check(bool(_DURATION.match(a.for_duration)), "monitoring.alerts.for_duration",
               "must be a duration such as '10m'")
        for name in ("ttft_p95_seconds", "e2e_latency_p95_seconds", "queue_depth"):
            _check(getattr(a, name) > 0, f"monitoring.alerts.{name}", "must be > 0")
        for name in ("kv_cache_usage", "error_rate_5xx"):
            _check(0 < getattr(a, name) <= 1, f"monitoring.alerts.{name}", "is a fraction in (0, 1]")


#: Service annotations that pick a load balancer's scheme or type. ``service.exposure`` sets them;
#: an ``annotations`` entry would override it (an internal LB flipped to internet-facing is public).
LB_EXPOSURE_ANNOTATIONS = frozenset({
    "service.beta.kubernetes.io/aws-load-balancer-scheme",
    "service.beta.kubernetes.io/aws-load-balancer-internal",
    "service.beta.kubernetes.io/aws-load-balancer-type",
    "networking.gke.io/load-balancer-type",
    "cloud.google.com/load-balancer-type",
    "networking.gke.io/internal-load-balancer-allow-global-access",
})


def _validate_service(s: ServiceExposure) -> None:
    for key in sorted(set(s.annotations) & LB_EXPOSURE_ANNOTATIONS):
        _check(False, "service.annotations", f"{key} is set from service.exposure (internal-lb, public-lb, "
               "cluster-ip); choose the exposure there instead of overriding its annotations")
    if s.exposure is Exposure.PUBLIC_LB:
        _check(not s.private_network, "service.exposure",
               "public-lb is refused in private network mode; use internal-lb or cluster-ip")
    if s.exposure is Exposure.INTERNAL_LB:
        _check(s.cloud is not None, "service.cloud",
               "internal-lb needs the cloud (aws or gcp) to pick the load-balancer annotations")
