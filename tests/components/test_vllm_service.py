"""VllmService: generated manifests are valid Kubernetes objects, args/probes/secrets/scaling are right."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.vllm import manifests as vllm_manifests
from components.vllm.args import (
    NODE_AND_IMAGE_SECONDS,
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
from components.vllm.service import VllmService
from scalepath.mocks import ScalepathMocks
from scalepath.plan import RecordingMonitor
from tests.support.k8s import CrdSchemaMissing, manifests, record, validate

TOKEN = "hf_" + "x" * 34
PROM = "http://prometheus-operated.monitoring.svc:9090"
TAGS = {"team": "ml", "cost-center": "cc-1", "environment": "dev", "stack": "scalepath-test",
        "managed-by": "scalepath", "deployment": "llm", "stage": "eks-vllm"}


def make_args(**overrides: Any) -> VllmServiceArgs:
    base: dict[str, Any] = dict(
        namespace="llm", tags=TAGS,
        server=VllmServerArgs(model="meta-llama/Llama-3.1-8B-Instruct"),
        autoscaling=AutoscalingArgs(prometheus_address=PROM),
    )
    base.update(overrides)
    return VllmServiceArgs(**base)


def render(args: VllmServiceArgs, token: str | None = None) -> list[dict[str, Any]]:
    """The manifests VllmService registers for ``args`` (inputs as recorded by the plan)."""
    def program() -> None:
        a = args if token is None else dataclasses.replace(args, hf_token=pulumi.Output.secret(token))
        VllmService("llm", a)
    return manifests(record(program))


def by_kind(rendered: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [m for m in rendered if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[m['kind'] for m in rendered]}"
    return found[0]


def container(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]


# Configurations that together produce every kind the component can create.
VARIANTS = {
    "keda-service-monitor-pvc": make_args(),
    "hpa-pod-monitoring-s3-netpol": make_args(
        autoscaling=AutoscalingArgs(mode=ScalingMode.HPA, min_replicas=1, max_replicas=4),
        monitoring=MonitoringArgs(kind=MonitoringKind.POD_MONITORING),
        cache=ModelCacheArgs(kind=CacheKind.S3, uri="s3://models/llama"),
        service=ServiceExposure(exposure=Exposure.INTERNAL_LB, cloud=LbCloud.AWS,
                                network_policy_from_namespaces=["apps"]),
        runtime_class_name="nvidia",
        service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"}),
    "scale-to-zero-gcs-gke": make_args(
        autoscaling=AutoscalingArgs(min_replicas=0, max_replicas=2, allow_scale_to_zero=True,
                                    prometheus_address=PROM, authentication_ref="gmp-auth",
                                    wake_query='sum(rate(nginx_ingress_controller_requests{service="llm"}[2m]))'),
        monitoring=MonitoringArgs(kind=MonitoringKind.POD_MONITORING),
        cache=ModelCacheArgs(kind=CacheKind.GCS, uri="gs://models/llama"),
        service=ServiceExposure(exposure=Exposure.INTERNAL_LB, cloud=LbCloud.GCP)),
    "fixed-ephemeral-no-monitoring": make_args(
        autoscaling=AutoscalingArgs(mode=ScalingMode.NONE, min_replicas=2, max_replicas=2),
        monitoring=MonitoringArgs(kind=MonitoringKind.NONE, alerts=None),
        cache=ModelCacheArgs(kind=CacheKind.EPHEMERAL),
        image=VllmImage(digest="sha256:" + "a" * 64), create_namespace=False),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_validates(variant: str) -> None:
    rendered = render(VARIANTS[variant], token=TOKEN)
    assert len(rendered) >= 5  # SA, Secret, Deployment, Service, PDB at least
    for manifest in rendered:
        validate(manifest)


def test_variants_cover_every_kind() -> None:
    kinds = {m["kind"] for v in VARIANTS.values() for m in render(v, token=TOKEN)}
    assert kinds == {"Namespace", "ServiceAccount", "Secret", "PersistentVolumeClaim", "Deployment",
                     "Service", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject",
                     "HorizontalPodAutoscaler", "ServiceMonitor", "PodMonitoring", "PrometheusRule",
                     "Rules"}


def test_validation_rejects_invalid_manifests() -> None:
    rendered = render(make_args())
    deployment = json.loads(json.dumps(by_kind(rendered, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    service = json.loads(json.dumps(by_kind(rendered, "Service")))
    service["spec"]["portz"] = service["spec"].pop("ports")  # unknown field: strict schema refuses
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(service)
    scaled = json.loads(json.dumps(by_kind(rendered, "ScaledObject")))
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 5  # KEDA metadata values are strings
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = "5"
    scaled["spec"]["fallback"]["replica"] = 1  # misspelt: would be pruned silently by the API server
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    with pytest.raises(CrdSchemaMissing):
        validate({"apiVersion": "example.com/v1", "kind": "Unknown", "metadata": {"name": "x"}})


def test_server_args_generated_from_settings() -> None:
    args = make_args(
        server=VllmServerArgs(model="org/model", revision="abc123", served_model_name="chat",
                              gpu_memory_utilization=0.85, max_model_len=8192, max_num_seqs=64,
                              enable_prefix_caching=True, enable_chunked_prefill=False,
                              quantization=Quantization.AWQ, kv_cache_dtype=KvCacheDtype.FP8,
                              extra_args=("--disable-log-requests",)),
        resources=ReplicaResources(gpus=4))
    c = container(render(args))
    assert c["command"] == ["vllm", "serve"]
    assert c["args"] == [
        "org/model", "--served-model-name", "chat", "--host", "0.0.0.0", "--port", "8000",
        "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.85", "--revision", "abc123",
        "--max-model-len", "8192", "--max-num-seqs", "64", "--enable-prefix-caching",
        "--no-enable-chunked-prefill", "--quantization", "awq", "--kv-cache-dtype", "fp8",
        "--disable-log-requests"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert c["resources"]["requests"]["nvidia.com/gpu"] == "4"


def test_tensor_parallel_defaults_to_gpus_and_unset_flags_are_left_out() -> None:
    args = make_args(resources=ReplicaResources(gpus=2))
    a = vllm_manifests.server_command_args(args)
    assert a[a.index("--tensor-parallel-size") + 1] == "2"
    assert a[a.index("--served-model-name") + 1] == "meta-llama/Llama-3.1-8B-Instruct"
    for flag in ("--quantization", "--max-model-len", "--revision", "--enable-prefix-caching",
                 "--no-enable-prefix-caching", "--kv-cache-dtype"):
        assert flag not in a


def test_synced_weights_are_loaded_from_disk_offline() -> None:
    args = VARIANTS["hpa-pod-monitoring-s3-netpol"]
    rendered = render(args)
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    sync = pod["initContainers"][0]
    assert sync["command"][:3] == ["aws", "s3", "sync"] and "s3://models/llama" in sync["command"]
    c = pod["containers"][0]
    assert c["args"][0] == vllm_manifests.SYNCED_MODEL_DIR and "--model" not in c["args"]
    assert c["args"][c["args"].index("--served-model-name") + 1] == "meta-llama/Llama-3.1-8B-Instruct"
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in c["env"]
    assert {"name": "model-cache", "emptyDir": {"sizeLimit": "200Gi"}} in pod["volumes"]


def test_probes_health_and_load_budget() -> None:
    rendered = render(make_args(probes=ProbeSettings(startup_failure_threshold=360)))
    c = container(rendered)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["startupProbe"]["failureThreshold"] == 360
    assert c["startupProbe"]["periodSeconds"] == 10
    pod = by_kind(rendered, "Deployment")["spec"]
    assert pod["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    # The rollout deadline must outlast the startup budget or every slow load is "failed".
    assert pod["progressDeadlineSeconds"] == NODE_AND_IMAGE_SECONDS + 360 * 10


def test_pod_placement_shm_and_cache() -> None:
    rendered = render(make_args())
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"scalepath.io/node-pool": "gpu"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                                   "effect": "NoSchedule"}]
    assert "runtimeClassName" not in pod
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}} in pod["volumes"]
    assert {"name": "HF_HOME", "value": "/models"} in pod["containers"][0]["env"]
    pvc = by_kind(rendered, "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    # One RWO volume: the old pod must release it before the new one starts.
    assert by_kind(rendered, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_token_only_via_secret_key_ref_and_never_in_plan() -> None:
    resources = record(lambda: VllmService("llm", dataclasses.replace(
        make_args(), hf_token=pulumi.Output.secret(TOKEN))))
    assert TOKEN not in json.dumps([r.to_json() for r in resources])
    rendered = manifests(resources)
    secret = by_kind(rendered, "Secret")
    assert secret["stringData"] == "[secret]"
    env = {e["name"]: e for e in container(rendered)["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": secret["metadata"]["name"], "key": "HF_TOKEN"}}}
    for manifest in rendered:
        for c in manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            assert all("value" not in e for e in c["env"] if e["name"] == "HF_TOKEN")


def test_token_plain_string_is_still_stored_as_secret() -> None:
    resources = record(lambda: VllmService("llm", dataclasses.replace(make_args(), hf_token=TOKEN)))
    assert TOKEN not in json.dumps([r.to_json() for r in resources])


def test_existing_token_secret_creates_no_secret() -> None:
    rendered = render(make_args(hf_token_secret_name="hf-from-external-secrets"))
    assert not [m for m in rendered if m["kind"] == "Secret"]
    env = {e["name"]: e for e in container(rendered)["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hf-from-external-secrets"


def test_no_token_no_env() -> None:
    assert "HF_TOKEN" not in {e["name"] for e in container(render(make_args()))["env"]}


def test_keda_scaled_object_queue_keep_alive_fallback() -> None:
    rendered = render(make_args(autoscaling=AutoscalingArgs(
        min_replicas=1, max_replicas=4, prometheus_address=PROM, queue_threshold=8,
        fallback_replicas=2, keep_alive_requests_per_second=0.1),
        cache=ModelCacheArgs(access_mode="ReadWriteMany", storage_class="efs")))
    spec = by_kind(rendered, "ScaledObject")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2}
    queue, keep_alive = spec["triggers"]
    assert "vllm:num_requests_waiting{" in queue["metadata"]["query"]
    assert queue["metadata"]["threshold"] == "8"
    assert queue["metadata"]["serverAddress"] == PROM
    assert "rate(vllm:request_success_total{" in keep_alive["metadata"]["query"]
    assert "> bool 0.1" in keep_alive["metadata"]["query"]
    assert keep_alive["metadata"]["threshold"] == "1"
    assert all(t["metricType"] == "AverageValue" for t in spec["triggers"])  # fallback needs it
    # KEDA's HPA owns the replica count.
    assert "replicas" not in by_kind(rendered, "Deployment")["spec"]
    assert not [m for m in rendered if m["kind"] == "HorizontalPodAutoscaler"]


def test_scale_to_zero_adds_wake_trigger() -> None:
    spec = by_kind(render(VARIANTS["scale-to-zero-gcs-gke"]), "ScaledObject")["spec"]
    assert spec["minReplicaCount"] == 0
    assert [t["name"] for t in spec["triggers"]] == ["queue", "keep-alive", "wake"]
    assert "nginx_ingress_controller_requests" in spec["triggers"][2]["metadata"]["query"]
    assert all(t["authenticationRef"] == {"name": "gmp-auth"} for t in spec["triggers"])


def test_hpa_on_queue_metric_never_cpu() -> None:
    rendered = render(VARIANTS["hpa-pod-monitoring-s3-netpol"])
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["spec"]
    assert hpa["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
        "target": {"type": "AverageValue", "averageValue": "5"}}}]
    assert not [m for m in rendered if m["kind"] == "ScaledObject"]


def test_hpa_mode_gets_a_second_pods_metric_on_kv_cache_usage() -> None:
    # The stages refuse HPA mode (no custom-metrics adapter is deployed); a caller of the component
    # that brings one gets the KV-cache metric next to the queue's.
    args = VARIANTS["hpa-pod-monitoring-s3-netpol"]
    args = dataclasses.replace(args, autoscaling=dataclasses.replace(args.autoscaling, kv_cache_usage_threshold=0.75))
    hpa = by_kind(render(args), "HorizontalPodAutoscaler")["spec"]
    assert [m["pods"]["metric"]["name"] for m in hpa["metrics"]] == [
        "prometheus.googleapis.com|vllm:num_requests_waiting|gauge",
        "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge"]
    assert hpa["metrics"][1]["pods"]["target"]["averageValue"] == "0.75"


def test_alert_rules_thresholds_and_metrics() -> None:
    rules = by_kind(render(make_args()), "PrometheusRule")["spec"]["groups"][0]["rules"]
    by_alert = {r["alert"]: r for r in rules}
    assert set(by_alert) == {"VllmTimeToFirstTokenP95High", "VllmE2eLatencyP95High", "VllmQueueDepthHigh",
                             "VllmKvCacheUsageHigh", "VllmHttp5xxRateHigh"}
    assert "histogram_quantile(0.95" in by_alert["VllmTimeToFirstTokenP95High"]["expr"]
    assert "vllm:time_to_first_token_seconds_bucket" in by_alert["VllmTimeToFirstTokenP95High"]["expr"]
    assert by_alert["VllmTimeToFirstTokenP95High"]["expr"].endswith("> 2")
    assert "vllm:e2e_request_latency_seconds_bucket" in by_alert["VllmE2eLatencyP95High"]["expr"]
    assert "vllm:kv_cache_usage_perc" in by_alert["VllmKvCacheUsageHigh"]["expr"]
    assert 'status=~"5.."' in by_alert["VllmHttp5xxRateHigh"]["expr"]
    assert all(r["for"] == "10m" for r in rules)


def test_labels_on_every_object() -> None:
    for manifest in render(VARIANTS["hpa-pod-monitoring-s3-netpol"], token=TOKEN):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "vllm", manifest["kind"]
        assert labels["app.kubernetes.io/instance"] == "llm", manifest["kind"]
        assert labels["app.kubernetes.io/part-of"] == "scalepath"
        for key in ("team", "cost-center", "environment", "stack", "deployment", "stage"):
            assert labels[key] == TAGS[key], (manifest["kind"], key)


def test_service_exposure_annotations() -> None:
    internal_aws = by_kind(render(VARIANTS["hpa-pod-monitoring-s3-netpol"]), "Service")
    assert internal_aws["spec"]["type"] == "LoadBalancer"
    assert internal_aws["metadata"]["annotations"][
        "service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    lb_tags = internal_aws["metadata"]["annotations"][
        "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]
    assert dict(pair.split("=") for pair in lb_tags.split(",")) == TAGS
    internal_gcp = by_kind(render(VARIANTS["scale-to-zero-gcs-gke"]), "Service")
    assert internal_gcp["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    default = by_kind(render(make_args()), "Service")
    assert default["spec"]["type"] == "ClusterIP" and "annotations" not in default["metadata"]


def test_network_policy_admits_only_listed_namespaces() -> None:
    policy = by_kind(render(VARIANTS["hpa-pod-monitoring-s3-netpol"]), "NetworkPolicy")["spec"]
    values = policy["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert values == ["apps", "llm", "monitoring"]
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


@pulumi.runtime.test
def test_outputs_urls() -> Any:
    svc = VllmService("llm", make_args(server=VllmServerArgs(model="org/m", served_model_name="chat")))

    def check(values: list[str]) -> None:
        url, base, name = values
        assert url == "http://llm.llm.svc.cluster.local:8000"
        assert base == "http://llm.llm.svc.cluster.local:8000/v1"
        assert name == "chat"

    return pulumi.Output.all(svc.url, svc.openai_base_url, svc.served_model_name).apply(check)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"server": VllmServerArgs(model="m/m", tensor_parallel_size=2)}, "server.tensor_parallel_size"),
    ({"server": VllmServerArgs(model="m/m", gpu_memory_utilization=1.2)}, "server.gpu_memory_utilization"),
    ({"server": VllmServerArgs(model="m/m", quantization="int3")}, "server.quantization"),
    ({"server": VllmServerArgs(model="m/m", extra_args=("--quantization=awq",))}, "server.extra_args"),
    ({"namespace": "default"}, "namespace"),
    ({"namespace": "Bad_NS"}, "namespace"),
    ({"image": VllmImage(digest="sha256:short")}, "image.digest"),
    ({"resources": ReplicaResources(memory_request="32 GB")}, "resources.memory_request"),
    ({"autoscaling": AutoscalingArgs(min_replicas=0, max_replicas=1, prometheus_address=PROM,
                                     wake_query="up")}, "autoscaling.min_replicas"),
    ({"autoscaling": AutoscalingArgs(mode=ScalingMode.HPA, min_replicas=0, max_replicas=2,
                                     allow_scale_to_zero=True),
      "cache": ModelCacheArgs(kind=CacheKind.EPHEMERAL)}, "autoscaling.min_replicas"),
    ({"autoscaling": AutoscalingArgs(min_replicas=0, max_replicas=1, allow_scale_to_zero=True,
                                     prometheus_address=PROM)}, "autoscaling.wake_query"),
    ({"autoscaling": AutoscalingArgs()}, "autoscaling.prometheus_address"),
    ({"autoscaling": AutoscalingArgs(max_replicas=2, fallback_replicas=3, prometheus_address=PROM),
      "cache": ModelCacheArgs(kind=CacheKind.EPHEMERAL)}, "autoscaling.fallback_replicas"),
    ({"autoscaling": AutoscalingArgs(max_replicas=3, prometheus_address=PROM)}, "cache.access_mode"),
    ({"cache": ModelCacheArgs(kind=CacheKind.S3)}, "cache.uri"),
    ({"cache": ModelCacheArgs(kind=CacheKind.GCS, uri="s3://wrong/scheme")}, "cache.uri"),
    ({"service": ServiceExposure(exposure=Exposure.PUBLIC_LB, private_network=True)}, "service.exposure"),
    ({"service": ServiceExposure(exposure=Exposure.INTERNAL_LB)}, "service.cloud"),
    ({"monitoring": MonitoringArgs(kind=MonitoringKind.NONE)}, "monitoring.alerts"),
    ({"hf_token": "x", "hf_token_secret_name": "existing"}, "hf_token"),
])
def test_bad_args_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(VllmArgsError) as caught:
        make_args(**overrides).validate()
    assert caught.value.field_name == field


def test_bad_args_fail_before_any_resource() -> None:
    with pytest.raises(VllmArgsError):
        record(lambda: VllmService("llm", make_args(namespace="default")))


def test_rollout_budget_covers_node_image_and_model_load() -> None:
    assert ProbeSettings().rollout_budget_seconds == NODE_AND_IMAGE_SECONDS + 180 * 10
    spec = by_kind(render(make_args(probes=ProbeSettings(startup_failure_threshold=7))), "Deployment")["spec"]
    assert spec["progressDeadlineSeconds"] == NODE_AND_IMAGE_SECONDS + 70


class TimeoutSpy(RecordingMonitor):
    """Also keeps the custom timeouts each resource was registered with."""

    def __init__(self) -> None:
        super().__init__(ScalepathMocks())
        self.timeouts: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.timeouts[request.name] = request.customTimeouts
        return super().RegisterResource(request)


def test_pulumi_waits_for_the_whole_rollout_budget() -> None:
    spy = TimeoutSpy()
    record(lambda: VllmService("llm", make_args()), monitor=spy)
    budget = f"{NODE_AND_IMAGE_SECONDS + 1800}s"
    assert (spy.timeouts["llm-deployment"].create, spy.timeouts["llm-deployment"].update) == (budget, budget)


def test_scale_to_zero_deployment_is_not_awaited() -> None:
    zero = by_kind(render(VARIANTS["scale-to-zero-gcs-gke"]), "Deployment")
    assert zero["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert "annotations" not in by_kind(render(make_args()), "Deployment")["metadata"]


def test_shared_cache_rolls_without_downtime() -> None:
    args = make_args(autoscaling=AutoscalingArgs(max_replicas=3, prometheus_address=PROM),
                     cache=ModelCacheArgs(access_mode="ReadWriteMany", storage_class="efs"))
    spec = by_kind(render(args), "Deployment")["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@settings(max_examples=60, deadline=None)
@given(
    gpus=st.integers(1, 8), data=st.data(),
    max_model_len=st.none() | st.integers(1, 1 << 20), max_num_seqs=st.none() | st.integers(1, 4096),
    prefix=st.none() | st.booleans(), chunked=st.none() | st.booleans(),
    quantization=st.none() | st.sampled_from(Quantization), kv=st.none() | st.sampled_from(KvCacheDtype),
    utilization=st.floats(0.05, 1.0),
)
def test_generated_args_round_trip(gpus: int, data: st.DataObject, max_model_len: int | None,
                                   max_num_seqs: int | None, prefix: bool | None, chunked: bool | None,
                                   quantization: Quantization | None, kv: KvCacheDtype | None,
                                   utilization: float) -> None:
    tp = data.draw(st.none() | st.integers(1, gpus))
    args = make_args(resources=ReplicaResources(gpus=gpus), server=VllmServerArgs(
        model="org/m", tensor_parallel_size=tp, max_model_len=max_model_len, max_num_seqs=max_num_seqs,
        enable_prefix_caching=prefix, enable_chunked_prefill=chunked, quantization=quantization,
        kv_cache_dtype=kv, gpu_memory_utilization=utilization))
    args.validate()
    argv = vllm_manifests.server_command_args(args)
    flags = [a for a in argv if a.startswith("--")]
    assert len(flags) == len(set(flags)), "no flag twice"
    # `vllm serve MODEL`: the model is the one positional, first; the deprecated --model is never sent.
    assert argv[0] == "org/m" and "--model" not in argv

    def value(flag: str) -> str | None:
        return argv[argv.index(flag) + 1] if flag in argv else None

    assert value("--tensor-parallel-size") == str(tp or gpus)
    assert value("--max-model-len") == (None if max_model_len is None else str(max_model_len))
    assert value("--max-num-seqs") == (None if max_num_seqs is None else str(max_num_seqs))
    assert value("--quantization") == (quantization.value if quantization else None)
    assert value("--kv-cache-dtype") == (kv.value if kv else None)
    assert float(value("--gpu-memory-utilization") or "nan") == pytest.approx(utilization, rel=1e-5)
    assert ("--enable-prefix-caching" in argv, "--no-enable-prefix-caching" in argv) == (
        prefix is True, prefix is False)
    assert ("--enable-chunked-prefill" in argv, "--no-enable-chunked-prefill" in argv) == (
        chunked is True, chunked is False)
    validate(vllm_manifests.deployment("llm", args, service_account="llm", token_secret=None))
