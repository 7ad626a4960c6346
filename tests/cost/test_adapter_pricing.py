"""advise and plan price LoRA adapters the same way (issue 26, item 6): no extra GPU-hours, and
the KV cache their GPU slots take on each replica."""

from __future__ import annotations

from scalepath.cost import tables
from scalepath.cost.advisor import Workload, advise
from scalepath.cost.throughput import replica_throughput, resolve_model
from stacks.config import Stage
from tests.support import plan
from tests.support.clusters import eks_config

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
FOUR_AT_64 = [{"name": "a", "source": "acme/a", "rank": 64}] + [
    {"name": n, "source": f"acme/{n}"} for n in ("b", "c", "d")]


def test_plan_adds_no_gpu_hours_and_states_the_kv_the_slots_take() -> None:
    qwen = "Qwen/Qwen2.5-7B-Instruct"  # not gated: plans without a Hub token
    bare = plan(eks_config(model=qwen))
    with_adapters = plan(eks_config(model=qwen, adapters=FOUR_AT_64))
    assert with_adapters.cost["monthly_usd"] == bare.cost["monthly_usd"]
    assert with_adapters.cost["at_max_usd"] == bare.cost["at_max_usd"]
    (line,) = [line for line in with_adapters.cost["lines"] if line["type"] == "adapters:eks-vllm"]
    assert (line["basis"], line["monthly_usd"], line["at_max_usd"]) == ("no-charge", 0.0, 0.0)
    # 4 slots x rank 64 x 28 layers x 20 x sqrt(7.62e9 / 28 / 12) (= 4762.2) x 2 B = 1.2716 GiB;
    # at 2 x 28 layers x 4 KV heads x 128 x 2 B = 56 KiB a token: 1.2716 x 2**30 / 57344 = 23,811 tokens.
    assert "~1.27 GiB of GPU memory per replica" in line["detail"]
    assert "~23,811 tokens of context at 56 KiB/token" in line["detail"]


def test_advise_states_the_same_slot_memory_and_prices_only_stages_that_serve_adapters() -> None:
    workload = Workload(resolve_model(LLAMA), 1_000_000, 500, 250, adapters=4, adapter_rank=64)
    advice = advise(workload)
    by_stage = {r.stage: r for r in advice.stages}
    for stage in (Stage.HF_SERVERLESS, Stage.VERTEX):
        assert not by_stage[stage.value].available
        assert "cannot serve LoRA adapters" in by_stage[stage.value].reason
    for stage in (Stage.HF_ENDPOINT, Stage.SAGEMAKER, Stage.AZUREML, Stage.EKS_VLLM, Stage.GKE_VLLM):  # TGI, vLLM
        assert by_stage[stage.value].available, by_stage[stage.value].reason
    assert any("~1.40 GiB per replica from the KV cache" in line for line in advice.assumptions())


def test_the_slots_come_out_of_the_kv_cache() -> None:
    # L4: 24 GiB x 0.9 - 1.5 GiB runtime = 20.1 GiB; 16-bit Llama-3.1-8B = 14.957 GiB; a sequence
    # of 1000 tokens holds 1000 x 128 KiB = 0.12207 GiB of KV: (20.1 - 14.957) / 0.12207 = 42.1 -> 42
    # sequences; with 1.395 GiB of adapter slots (5.143 - 1.395) / 0.12207 = 30.7 -> 30.
    model, l4 = resolve_model(LLAMA), tables.gpus().gpus["L4"]
    assert replica_throughput(model, l4, 1, "fp16", 750, 250, max_batch=1000).batch == 42
    reserved = replica_throughput(model, l4, 1, "fp16", 750, 250, max_batch=1000, reserved_gib=1.395)
    assert reserved.batch == 30
