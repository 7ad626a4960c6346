"""Scaling vLLM on KV-cache usage beside queue length (issue 26, item 2), through the plan."""

from __future__ import annotations

import pytest

from tests.support import issues, one, plan
from tests.support.clusters import eks_config, gke_config
from tests.support.k8s import validate

D = "scalepath:deployments[0]"
SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject"


def vllm(**keda: object) -> dict[str, object]:
    return {"modelCache": {"kind": "ephemeral"}, "keda": keda}


def test_kv_cache_trigger_reads_the_pinned_vllm_metric_at_the_configured_share() -> None:
    scaled = one(plan(eks_config(vllm=vllm(kvCacheUsagePercent=80))), SCALED).inputs
    validate(scaled)
    triggers = {t["name"]: t for t in scaled["spec"]["triggers"]}
    assert set(triggers) == {"queue", "keep-alive", "kv-cache"}
    kv = triggers["kv-cache"]
    # vllm:kv_cache_usage_perc is 0..1 (1 = full) in vLLM v0.11's V1 engine: 80 % -> 0.8 per replica.
    assert kv["metadata"]["query"].startswith("sum(vllm:kv_cache_usage_perc{")
    assert (kv["metadata"]["threshold"], kv["metricType"]) == ("0.8", "AverageValue")
    assert kv["metadata"]["serverAddress"] == triggers["queue"]["metadata"]["serverAddress"]


def test_without_the_key_scaling_reads_the_queue_only() -> None:
    scaled = one(plan(eks_config()), SCALED).inputs
    assert [t["name"] for t in scaled["spec"]["triggers"]] == ["queue", "keep-alive"]


def test_gke_trigger_authenticates_like_the_queue_trigger() -> None:
    scaled = one(plan(gke_config(vllm=vllm(kvCacheUsagePercent=100))), SCALED).inputs
    kv = next(t for t in scaled["spec"]["triggers"] if t["name"] == "kv-cache")
    assert kv["metadata"]["threshold"] == "1"
    assert kv["authenticationRef"] == scaled["spec"]["triggers"][0]["authenticationRef"]


@pytest.mark.parametrize("value", [0, 100.5, -5])
def test_out_of_range_share_is_refused_with_the_key(value) -> None:
    found = issues(eks_config(vllm=vllm(kvCacheUsagePercent=value)))
    assert f"{D}.vllm.keda.kvCacheUsagePercent" in found
