"""Every metric a scaler or alert reads, and every controller an annotation needs, is deployed
by the stack (issue 22, finding 9)."""

from __future__ import annotations

from typing import Any

import pytest

from components.clusters.capabilities import annotation_needs
from scalepath.plan import run_plan
from stacks.config import Stage
from stacks.stages import STAGES
from tests.support import stack_config
from tests.support.stages import STACKS, problems

D = "scalepath:deployments[0]"
QWEN_7B = "Qwen/Qwen2.5-7B-Instruct"
SHIPPED = ("dev", "staging", "prod", "azure-prod", "gcp-prod", "gke-staging", "gateway-dev")


def _vllm(stage: Stage, **vllm: Any) -> dict[str, Any]:
    config = STACKS[stage](QWEN_7B, 1)
    config["scalepath:deployments"][0]["vllm"].update(vllm)
    return config


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_what_a_replica_uses_is_what_its_stack_installs(stage: Stage) -> None:
    """A valid stack of every stage relies on nothing its stack leaves out."""
    (raw,) = STACKS[stage](QWEN_7B, 1)["scalepath:deployments"]
    for needs in STAGES[stage].settings.model_validate(raw).needs():
        assert {use.capability for use in needs.uses} <= needs.provides, stage


@pytest.mark.parametrize("stage", [Stage.EKS_VLLM, Stage.GKE_VLLM], ids=lambda s: s.value)
def test_an_hpa_on_a_metric_no_adapter_serves_is_refused(stage: Stage) -> None:
    found = problems(_vllm(stage, keda={"enabled": False}))  # scaling 1..2: an HPA
    message = found[f"{D}.vllm.keda.enabled"]
    assert "custom-metrics adapter" in message and "which the stack does not install" in message
    fixed = _vllm(stage, keda={"enabled": False})
    fixed["scalepath:deployments"][0]["scaling"] = {"min": 2, "max": 2}
    assert problems(fixed) == {}


@pytest.mark.parametrize(("stage", "kind", "needed"), [
    (Stage.EKS_VLLM, "pod-monitoring", "GKE Managed Prometheus"),
    (Stage.GKE_VLLM, "service-monitor", "the Prometheus operator"),
], ids=["eks", "gke"])
def test_monitors_the_cluster_has_no_operator_for_are_refused(stage: Stage, kind: str, needed: str) -> None:
    assert needed in problems(_vllm(stage, monitoring={"kind": kind}))[f"{D}.vllm.monitoring.kind"]


def test_an_annotation_only_the_aws_load_balancer_controller_reads_is_refused() -> None:
    key = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
    found = problems(_vllm(Stage.EKS_VLLM, service={"exposure": "internal-lb", "annotations": {key: "ip"}}))
    assert key in found[f"{D}.vllm.service.annotations"] and "AWS Load Balancer Controller" in found[
        f"{D}.vllm.service.annotations"]


def test_the_reader_of_each_aws_annotation() -> None:
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert annotation_needs({f"{prefix}internal": "true", f"{prefix}type": "nlb"}) == {}
    assert set(annotation_needs({f"{prefix}scheme": "internal", f"{prefix}type": "external"})) == {
        f"{prefix}scheme", f"{prefix}type"}


def _services(plan: Any) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.resources if r.type == "kubernetes:core/v1:Service"]


@pytest.mark.parametrize(("mode", "exposure"), [("private", "internal-lb"), ("public", "public-lb")])
def test_eks_services_carry_only_what_the_cloud_controller_reads(mode: str, exposure: str) -> None:
    config = _vllm(Stage.EKS_VLLM, service={"exposure": exposure})
    config["scalepath:network"] = {"mode": mode}
    services = [s for s in _services(run_plan(stack_config(config))) if s["spec"]["type"] == "LoadBalancer"]
    assert services
    for service in services:
        assert annotation_needs(service["metadata"].get("annotations", {})) == {}, service["metadata"]


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_services_carry_only_what_a_controller_on_their_cluster_reads(stack: str, shipped_plan) -> None:
    for service in _services(shipped_plan(stack)):
        assert annotation_needs(service["metadata"].get("annotations", {})) == {}, (stack, service["metadata"])


def test_the_hpa_metric_name_key_is_gone_with_a_reason() -> None:
    found = problems(_vllm(Stage.GKE_VLLM, keda={"hpaMetricName": "prometheus.googleapis.com|x|gauge"}))
    assert "custom-metrics adapter" in found[f"{D}.vllm.keda"]
