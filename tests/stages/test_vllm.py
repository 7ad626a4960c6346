"""The ``vllm:`` block: parsing, stack rules (``check_in_stack``), ``vllm_service_args``, key paths.

The eks-vllm/gke-vllm stage modules belong to the cluster issue; these tests register a
stand-in stage that builds only the workload, exactly as those modules call it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import pytest

from components.clusters.allocatable import Resources
from components.vllm.service import VllmService
from scalepath.plan import run_plan
from stacks.config import Cloud, Stage
from stacks.errors import ConfigError
from stacks.needs import Needs
from stacks.stages import eks_vllm
from stacks.stages.base import StageDef
from stacks.stages.shared.vllm import VllmDeployment, vllm_service_args
from tests.support import stack_config
from tests.support.k8s import manifests, validate

TOKEN = "hf_" + "y" * 34


class StandInDeployment(VllmDeployment):
    """What ``eks_vllm.py`` defines, minus the cluster."""

    stage: Literal[Stage.EKS_VLLM]
    stage_value: ClassVar[Stage] = Stage.EKS_VLLM

    def clouds(self) -> set[Cloud]:
        return {Cloud.AWS}

    def replica_budget(self) -> Resources:
        return Resources(cpu_m=3740, memory_mib=14040)  # a g6.xlarge's share (test_node_fit)

    def needs(self) -> tuple[Needs, ...]:
        return ()  # no GPU node types without a cluster (the real stages' needs: tests/checks)


def build(deployment: StandInDeployment, ctx: Any) -> dict[str, Any]:
    svc = VllmService(f"{deployment.name}-vllm", vllm_service_args(deployment, ctx, cloud=Cloud.AWS))
    return {"url": svc.url, "openaiBaseUrl": svc.openai_base_url}


@pytest.fixture(autouse=True)
def stand_in_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry reads a stage module's DEFINITION on every lookup.
    monkeypatch.setattr(eks_vllm, "DEFINITION", StageDef(settings=StandInDeployment, build=build,
                                                         contract=eks_vllm.contract))


def config(base: dict[str, Any], environment: str = "dev", **deployment: Any) -> dict[str, Any]:
    cfg = dict(base)
    cfg["scalepath:environment"] = environment
    cfg["scalepath:deployments"] = [{"name": "llm", "model": "meta-llama/Llama-3.1-8B-Instruct",
                                     "stage": "eks-vllm", **deployment}]
    return cfg


def issues(cfg: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        run_plan(stack_config(cfg, **kwargs))
    return {i.path: i.message for i in caught.value.issues}


def test_dev_stack_plans_a_valid_workload(base_config: dict[str, Any]) -> None:
    plan = run_plan(stack_config(config(base_config, scaling={"min": 1, "max": 1})))
    component = [r for r in plan.resources if r.type == "scalepath:index:VllmService"]
    assert [c.name for c in component] == ["llm-vllm"]
    rendered = manifests(plan.resources)
    for manifest in rendered:
        validate(manifest)
    scaled = next(m for m in rendered if m["kind"] == "ScaledObject")
    assert scaled["spec"]["minReplicaCount"] == 1
    deployment = next(m for m in rendered if m["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "llm"
    assert deployment["metadata"]["labels"]["stage"] == "eks-vllm"
    assert deployment["metadata"]["labels"]["team"] == "ml"


def test_settings_reach_the_server(base_config: dict[str, Any]) -> None:
    plan = run_plan(stack_config(config(base_config, vllm={
        "gpusPerReplica": 2, "maxModelLen": 16384, "quantization": "fp8", "kvCacheDtype": "fp8",
        "enablePrefixCaching": True, "servedModelName": "chat", "namespace": "serving",
        "image": {"tag": "v0.11.0", "digest": "sha256:" + "b" * 64},
        "startupFailureThreshold": 240, "alerts": {"ttftP95Seconds": 1.5, "for": "5m"}})))
    rendered = manifests(plan.resources)
    pod = next(m for m in rendered if m["kind"] == "Deployment")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "vllm/vllm-openai:v0.11.0@sha256:" + "b" * 64
    assert c["args"][c["args"].index("--tensor-parallel-size") + 1] == "2"
    assert c["args"][c["args"].index("--max-model-len") + 1] == "16384"
    assert "--enable-prefix-caching" in c["args"]
    assert c["startupProbe"]["failureThreshold"] == 240
    rules = next(m for m in rendered if m["kind"] == "PrometheusRule")["spec"]["groups"][0]["rules"]
    ttft = next(r for r in rules if r["alert"] == "VllmTimeToFirstTokenP95High")
    assert ttft["expr"].endswith("> 1.5") and ttft["for"] == "5m"
    assert {m["metadata"].get("namespace", m["metadata"]["name"]) for m in rendered} == {"serving"}


def test_hf_token_secret_from_pulumi_secret(base_config: dict[str, Any]) -> None:
    cfg = config(base_config)
    cfg["scalepath:hfToken"] = TOKEN
    plan = run_plan(stack_config(cfg, secret_keys={"scalepath:hfToken"}))
    assert TOKEN not in json.dumps(plan.to_json())
    rendered = manifests(plan.resources)
    secret = next(m for m in rendered if m["kind"] == "Secret")
    assert secret["stringData"] == "[secret]"
    env = next(m for m in rendered if m["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"][0]["env"]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": secret["metadata"]["name"], "key": "HF_TOKEN"}}} in env


def test_existing_token_secret_wins(base_config: dict[str, Any]) -> None:
    cfg = config(base_config, vllm={"hfTokenSecret": "hf-token"})
    cfg["scalepath:hfToken"] = TOKEN
    rendered = manifests(run_plan(stack_config(cfg, secret_keys={"scalepath:hfToken"})).resources)
    assert not [m for m in rendered if m["kind"] == "Secret"]


@pytest.mark.parametrize(("environment", "why"), [
    ("dev", "0 needs demand the cluster can see"), ("staging", "0 needs demand the cluster can see"),
    ("prod", "prod keeps its minimum")])
def test_scale_to_zero_needs_a_gateway_route_and_is_refused_in_prod(
        base_config: dict[str, Any], environment: str, why: str) -> None:
    # Issue 26: no gateway here, so nothing would wake it outside prod (tests/stages/test_wake_from_zero.py
    # has the stacks that do); prod refuses it whatever wakes it.
    found = issues(config(base_config, environment=environment, scaling={"min": 0, "max": 1}))
    assert why in found["scalepath:deployments[0].scaling.min"]
    found = issues(config(base_config, scaling={"min": 1, "max": 1}, vllm={"keda": {
        "wakeQuery": 'sum(rate(nginx_ingress_controller_requests{service="llm"}[2m]))'}}))
    assert "wakeQuery was removed" in found["scalepath:deployments[0].vllm.keda"]


def test_public_load_balancer_refused_in_private_mode(base_config: dict[str, Any]) -> None:
    cfg = config(base_config, vllm={"service": {"exposure": "public-lb"}})
    cfg["scalepath:network"] = {"mode": "private"}
    found = issues(cfg)
    assert "public-lb is refused" in found["scalepath:deployments[0].vllm.service.exposure"]


def test_internal_load_balancer_gets_the_cluster_cloud_annotations(base_config: dict[str, Any]) -> None:
    cfg = config(base_config, vllm={"service": {"exposure": "internal-lb"}})
    cfg["scalepath:network"] = {"mode": "private"}
    service = next(m for m in manifests(run_plan(stack_config(cfg)).resources) if m["kind"] == "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"


def test_shared_namespace_refused(base_config: dict[str, Any]) -> None:
    cfg = config(base_config, vllm={"namespace": "serving"})
    cfg["scalepath:deployments"].append({"name": "llm2", "model": "org/other", "stage": "eks-vllm",
                                         "vllm": {"namespace": "serving"}})
    assert "also used by deployments[1]" in issues(cfg)["scalepath:deployments[0].vllm.namespace"]


@pytest.mark.parametrize(("deployment", "path", "text"), [
    ({"vllm": {"tensorParallelSize": 4, "gpusPerReplica": 2}}, "scalepath:deployments[0].vllm.tensorParallelSize",
     "4 exceeds the 2 GPU(s)"),
    ({"vllm": {"quantization": "int3"}}, "scalepath:deployments[0].vllm.quantization", "'awq'"),
    ({"vllm": {"kvCacheDtype": "fp4"}}, "scalepath:deployments[0].vllm.kvCacheDtype", "'fp8_e5m2'"),
    ({"vllm": {"gpuMemoryUtilization": 1.5}}, "scalepath:deployments[0].vllm.gpuMemoryUtilization",
     "less than or equal to 1"),
    ({"vllm": {"namespace": "Default"}}, "scalepath:deployments[0].vllm.namespace", "pattern"),
    ({"vllm": {"resources": {"memory": "32 GB"}}}, "scalepath:deployments[0].vllm.resources.memory",
     "pattern"),
    ({"vllm": {"modelCache": {"kind": "s3"}}}, "scalepath:deployments[0].vllm.modelCache.uri", "needs uri 's3://"),
    ({"scaling": {"min": 1, "max": 3}}, "scalepath:deployments[0].vllm.modelCache.accessMode",
     "cannot be shared by 3 replicas"),
    ({"vllm": {"extraArgs": ["--max-model-len=4096"]}}, "scalepath:deployments[0].vllm.extraArgs",
     "--max-model-len"),
    ({"vllm": {"keda": {"prometheusAddress": "prometheus:9090"}}},
     "scalepath:deployments[0].vllm.keda.prometheusAddress", "pattern"),
    ({"vllm": {"gpus": 2}}, "scalepath:deployments[0].vllm.gpus", "allowed keys"),
])
def test_bad_vllm_config_names_the_key(base_config: dict[str, Any], deployment: dict[str, Any],
                                       path: str, text: str) -> None:
    found = issues(config(base_config, **deployment))
    assert path in found, found
    assert text in found[path]
