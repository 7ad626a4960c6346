"""Kubernetes manifests of the vLLM workload, as plain camelCase dicts (the wire form).

Pure functions of :class:`~components.vllm.args.VllmServiceArgs`: the component turns each into a
pulumi-kubernetes resource, and tests validate them against the Kubernetes OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.tagging import aws_tags, k8s_labels
from components.vllm import lora
from components.vllm.args import (
    SERVER_PORT,
    CacheKind,
    Exposure,
    LbCloud,
    ScalingMode,
    VllmServiceArgs,
)

Manifest = dict[str, Any]

CACHE_MOUNT = "/models"
"""Where the model cache volume is mounted (``HF_HOME`` for pvc/ephemeral caches)."""
SYNCED_MODEL_DIR = f"{CACHE_MOUNT}/weights"
"""Where s3/gcs sync init containers put the weights vLLM then loads from disk."""
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
PORT_NAME = "http"

SYNC_REQUESTS = {"cpu": "1", "memory": "1Gi"}
"""Requests of the s3/gcs sync init container (a pod requests the larger of it and vLLM)."""
_SYNC_IMAGES = {CacheKind.S3: "amazon/aws-cli:2.31.0", CacheKind.GCS: "google/cloud-sdk:539.0.0-slim"}

_INTERNAL_LB_ANNOTATIONS: Mapping[LbCloud, Mapping[str, str]] = {
    # What EKS's own cloud controller reads (the stack installs no AWS Load Balancer Controller,
    # the only reader of aws-load-balancer-scheme / nlb-target-type / type: external): an NLB on
    # the subnets tagged kubernetes.io/role/internal-elb.
    LbCloud.AWS: {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    },
    LbCloud.GCP: {"networking.gke.io/load-balancer-type": "Internal"},
}
_PUBLIC_LB_ANNOTATIONS: Mapping[LbCloud, Mapping[str, str]] = {
    LbCloud.AWS: {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
}


def selector_labels(name: str) -> dict[str, str]:
    """The immutable pod selector of the Deployment, Service, PDB and monitors."""
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name}


def labels(name: str, args: VllmServiceArgs) -> dict[str, str]:
    """Recommended ``app.kubernetes.io/*`` labels plus the cost labels, for every object."""
    return {
        **k8s_labels(args.tags),
        **selector_labels(name),
        "app.kubernetes.io/component": "inference-server",
        "app.kubernetes.io/part-of": "scalepath",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": k8s_labels({"v": args.image.tag})["v"],
    }


def metadata(name: str, args: VllmServiceArgs, *, object_name: str | None = None,
             namespaced: bool = True, extra_labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None) -> Manifest:
    """``metadata`` of an object of instance ``name`` (named ``object_name``, default ``name``)."""
    meta: Manifest = {"name": object_name or name,
                      "labels": {**labels(name, args), **(extra_labels or {})}}
    if namespaced:
        meta["namespace"] = args.namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def server_command_args(args: VllmServiceArgs) -> list[str]:
    """The ``vllm serve`` arguments generated from the typed settings, the model first."""
    s = args.server
    synced = args.cache.kind in (CacheKind.S3, CacheKind.GCS)
    out = [
        # The model is positional (`vllm serve MODEL`): newer vLLM deprecates `--model`.
        # Synced weights are loaded from disk; clients still see the served model name.
        SYNCED_MODEL_DIR if synced else s.model,
        "--served-model-name", args.served_model_name,
        "--host", "0.0.0.0",
        "--port", str(SERVER_PORT),
        "--tensor-parallel-size", str(args.tensor_parallel_size),
        "--gpu-memory-utilization", f"{s.gpu_memory_utilization:g}",
    ]
    if s.revision and not synced:
        out += ["--revision", s.revision]
    if s.max_model_len is not None:
        out += ["--max-model-len", str(s.max_model_len)]
    if s.max_num_seqs is not None:
        out += ["--max-num-seqs", str(s.max_num_seqs)]
    if s.enable_prefix_caching is not None:
        out.append("--enable-prefix-caching" if s.enable_prefix_caching else "--no-enable-prefix-caching")
    if s.enable_chunked_prefill is not None:
        out.append("--enable-chunked-prefill" if s.enable_chunked_prefill else "--no-enable-chunked-prefill")
    if s.quantization is not None:
        out += ["--quantization", s.quantization.value]
    if s.kv_cache_dtype is not None:
        out += ["--kv-cache-dtype", s.kv_cache_dtype.value]
    out += lora.server_flags(s.adapters, args.served_model_name, CACHE_MOUNT)
    return out + list(s.extra_args)


def _probe(period: int, failures: int, timeout: int = 5) -> Manifest:
    return {"httpGet": {"path": HEALTH_PATH, "port": PORT_NAME}, "periodSeconds": period,
            "failureThreshold": failures, "timeoutSeconds": timeout}


def _resources(args: VllmServiceArgs) -> Manifest:
    r = args.resources
    gpus = str(r.gpus)
    requests = {"cpu": r.cpu_request, "memory": r.memory_request, "nvidia.com/gpu": gpus}
    limits = {"nvidia.com/gpu": gpus}
    if r.cpu_limit is not None:
        limits["cpu"] = r.cpu_limit
    if r.memory_limit is not None:
        limits["memory"] = r.memory_limit
    return {"requests": requests, "limits": limits}


def _env(args: VllmServiceArgs, token_secret: str | None) -> list[Manifest]:
    env: list[Manifest] = [{"name": "HF_HOME", "value": CACHE_MOUNT}]
    if args.cache.kind in (CacheKind.S3, CacheKind.GCS):
        # Synced weights are complete on disk: a Hub outage must not stop a replica starting.
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    if token_secret:
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": token_secret, "key": args.hf_token_secret_key}}})
    return env


def _adapter_containers(args: VllmServiceArgs, token_secret: str | None) -> list[Manifest]:
    """One init container per LoRA adapter, copying it into the cache volume (after the weights)."""
    out = []
    for index, adapter in enumerate(args.server.adapters):
        if adapter.from_hub:
            image = args.image.reference
            env = [{"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}, *(
                [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                    "name": token_secret, "key": args.hf_token_secret_key}}}] if token_secret else [])]
        else:
            kind = CacheKind.S3 if adapter.source.startswith("s3://") else CacheKind.GCS
            # The cache's own sync image only when it speaks the adapter's store.
            image = (args.cache.sync_image if args.cache.kind is kind and args.cache.sync_image
                     else _SYNC_IMAGES[kind])
            env = []
        container: Manifest = {
            "name": f"adapter-{index}",
            "image": image,
            "command": lora.fetch_command(adapter, CACHE_MOUNT),
            "volumeMounts": [{"name": "model-cache", "mountPath": CACHE_MOUNT}],
            "resources": {"requests": dict(SYNC_REQUESTS), "limits": {"memory": "2Gi"}},
            "securityContext": {"allowPrivilegeEscalation": False},
        }
        if env:
            container["env"] = env
        out.append(container)
    return out


def _sync_container(args: VllmServiceArgs) -> Manifest | None:
    c = args.cache
    if c.kind not in (CacheKind.S3, CacheKind.GCS):
        return None
    if c.kind is CacheKind.S3:
        command = ["aws", "s3", "sync", "--only-show-errors", c.uri, SYNCED_MODEL_DIR]
    else:
        command = ["gcloud", "storage", "rsync", "--recursive", c.uri, SYNCED_MODEL_DIR]
    return {
        "name": "model-sync",
        "image": c.sync_image or _SYNC_IMAGES[c.kind],
        "command": command,
        "volumeMounts": [{"name": "model-cache", "mountPath": CACHE_MOUNT}],
        "resources": {"requests": dict(SYNC_REQUESTS), "limits": {"memory": "2Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False},
    }


def _cache_volume(name: str, args: VllmServiceArgs) -> Manifest:
    if args.cache.kind is CacheKind.PVC:
        return {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{name}-model-cache"}}
    return {"name": "model-cache", "emptyDir": {"sizeLimit": args.cache.size}}


def deployment(name: str, args: VllmServiceArgs, *, service_account: str,
               token_secret: str | None) -> Manifest:
    """The vLLM server Deployment (replicas left to the autoscaler when one is used)."""
    p = args.probes
    container: Manifest = {
        "name": "vllm",
        "image": args.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "command": ["vllm", "serve"],
        "args": server_command_args(args),
        "ports": [{"name": PORT_NAME, "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "env": _env(args, token_secret),
        "resources": _resources(args),
        "startupProbe": _probe(p.startup_period_seconds, p.startup_failure_threshold),
        "readinessProbe": _probe(p.readiness_period_seconds, 3),
        "livenessProbe": _probe(p.liveness_period_seconds, p.liveness_failure_threshold),
        "volumeMounts": [
            {"name": "model-cache", "mountPath": CACHE_MOUNT},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    pod_spec: Manifest = {
        "serviceAccountName": service_account,
        "terminationGracePeriodSeconds": p.termination_grace_period_seconds,
        "containers": [container],
        "volumes": [
            _cache_volume(name, args),
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": args.resources.shm_size}},
        ],
    }
    init = [c for c in (_sync_container(args),) if c] + _adapter_containers(args, token_secret)
    if init:
        pod_spec["initContainers"] = init
    if args.node_selector:
        pod_spec["nodeSelector"] = dict(args.node_selector)
    if args.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in args.tolerations]
    if args.runtime_class_name:
        pod_spec["runtimeClassName"] = args.runtime_class_name
    spec: Manifest = {
        "selector": {"matchLabels": selector_labels(name)},
        "template": {"metadata": {"labels": labels(name, args)}, "spec": pod_spec},
        # A ReadWriteOnce cache cannot be attached to the new pod while the old one holds it.
        "strategy": {"type": "Recreate"} if args.cache.kind is CacheKind.PVC
        and args.cache.access_mode != "ReadWriteMany"
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        # Kubernetes marks a rollout failed past this; a cold start may take the whole budget.
        "progressDeadlineSeconds": p.rollout_budget_seconds,
    }
    if args.autoscaling.mode is ScalingMode.NONE:
        spec["replicas"] = args.autoscaling.min_replicas
    # Otherwise the autoscaler owns the count: setting it here would reset it on every update.
    # A scale-to-zero Deployment is created with one replica that KEDA removes at once; waiting
    # for it to become ready would hold `pulumi up` for a GPU node and a model load.
    annotations = {"pulumi.com/skipAwait": "true"} if args.autoscaling.min_replicas == 0 else None
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": metadata(name, args, annotations=annotations), "spec": spec}


def model_cache_pvc(name: str, args: VllmServiceArgs) -> Manifest | None:
    """The cache PVC, for ``pvc`` caches."""
    c = args.cache
    if c.kind is not CacheKind.PVC:
        return None
    spec: Manifest = {"accessModes": [c.access_mode], "resources": {"requests": {"storage": c.size}}}
    if c.storage_class:
        spec["storageClassName"] = c.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": metadata(name, args, object_name=f"{name}-model-cache"), "spec": spec}


def _aws_tag_annotation(tags: Mapping[str, str]) -> str:
    # stringMap annotation "k1=v1,k2=v2": "=" and "," cannot appear inside keys or values.
    return ",".join(f"{k.replace('=', '_')}={v.replace('=', '_')}" for k, v in aws_tags(tags).items())


def service(name: str, args: VllmServiceArgs) -> Manifest:
    """The Service in front of the replicas."""
    s = args.service
    annotations: dict[str, str] = {}
    service_type = "ClusterIP"
    if s.exposure is Exposure.INTERNAL_LB:
        service_type = "LoadBalancer"
        assert s.cloud is not None  # validate() requires it
        annotations.update(_INTERNAL_LB_ANNOTATIONS[s.cloud])
    elif s.exposure is Exposure.PUBLIC_LB:
        service_type = "LoadBalancer"
        if s.cloud is not None:
            annotations.update(_PUBLIC_LB_ANNOTATIONS.get(s.cloud, {}))
    if service_type == "LoadBalancer" and s.cloud is LbCloud.AWS:
        # The cloud controller creates the NLB outside Pulumi: tag it for cost attribution here.
        annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"] = \
            _aws_tag_annotation(args.tags)
    annotations.update(s.annotations)
    spec: Manifest = {
        "type": service_type,
        "selector": selector_labels(name),
        "ports": [{"name": PORT_NAME, "port": SERVER_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": metadata(name, args, annotations=annotations or None), "spec": spec}


def pod_disruption_budget(name: str, args: VllmServiceArgs) -> Manifest:
    """At most one replica evicted at a time; a single replica can still be drained."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(name, args),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(name)}}}


def network_policy(name: str, args: VllmServiceArgs) -> Manifest | None:
    """Ingress to the server port only from the allowed namespaces and the monitoring namespace."""
    allowed = args.service.network_policy_from_namespaces
    if allowed is None:
        return None
    namespaces = sorted({*allowed, args.namespace, args.service.monitoring_namespace})
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(name, args),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(name)},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchExpressions": [{
                    "key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]}}],
                "ports": [{"protocol": "TCP", "port": SERVER_PORT}],
            }],
        },
    }


def namespace(name: str, args: VllmServiceArgs) -> Manifest:
    """The namespace (cluster-scoped)."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": metadata(name, args, object_name=args.namespace, namespaced=False)}


def service_account(name: str, args: VllmServiceArgs) -> Manifest:
    """The pods' identity (cloud IAM bindings go in its annotations)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(name, args, annotations=args.service_account_annotations or None),
            # The server never calls the Kubernetes API.
            "automountServiceAccountToken": False}


def token_secret_manifest(name: str, args: VllmServiceArgs) -> Manifest:
    """The HF token Secret without its data (the component adds ``stringData`` as a secret Output)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata(name, args, object_name=f"{name}-hf-token"),
            "type": "Opaque"}
