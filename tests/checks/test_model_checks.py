"""GPU fit, tensor-parallel divisibility and gated-model access, checked once over every
deployment of every registered stage (issue 22, findings 5, 6 and 7).

Each test is parametrized over ``stacks.stages.STAGES``: a new stage needs a maker in
``tests.support.stages.STACKS`` and an expected key below, and then inherits every check.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import model_facts
from stacks.checks.model_fit import shardable
from stacks.config import Stage
from stacks.stages import STAGES
from tests.support.stages import STACKS, problems, with_token

D = "scalepath:deployments[0]"
QWEN_7B, QWEN_72B = "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-72B-Instruct"  # not gated
LLAMA_8B, LLAMA_70B = "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"  # gated
PHI_4 = "microsoft/phi-4"  # 40 attention heads, 10 KV heads

#: stage -> the key that picks a replica's GPUs (None: the stage runs no model of its own).
HARDWARE_KEY: dict[Stage, str | None] = {
    Stage.HF_SERVERLESS: None, Stage.HF_ENDPOINT: "instanceSize", Stage.SAGEMAKER: "instanceType",
    Stage.AZUREML: "instanceType", Stage.VERTEX: "machineType", Stage.EKS_VLLM: "vllm.gpusPerReplica",
    Stage.GKE_VLLM: "vllm.gpusPerReplica",
}
#: stage -> where a gated model without a usable Hub token is refused (None: HF runs it as the owner).
GATED_KEY: dict[Stage, str | None] = {
    Stage.HF_SERVERLESS: None, Stage.HF_ENDPOINT: None, Stage.SAGEMAKER: f"{D}.weightsS3Uri",
    Stage.AZUREML: "scalepath:hfToken", Stage.VERTEX: "scalepath:hfToken", Stage.EKS_VLLM: "scalepath:hfToken",
    Stage.GKE_VLLM: "scalepath:hfToken",
}
REGISTERED = list(STAGES)


def _hf(stage: Stage, config: dict[str, Any]) -> dict[str, Any]:
    # The HF stages always read the stack's token (they call HF with it).
    return with_token(config) if stage in (Stage.HF_SERVERLESS, Stage.HF_ENDPOINT) else config


def test_every_registered_stage_has_a_stack_and_expectations() -> None:
    assert set(STACKS) == set(HARDWARE_KEY) == set(GATED_KEY) == set(STAGES)


@pytest.mark.parametrize("stage", REGISTERED, ids=lambda s: s.value)
def test_weights_that_fit_no_gpu_are_refused_at_the_hardware_key(stage: Stage) -> None:
    found = problems(_hf(stage, STACKS[stage](QWEN_72B, 1)))
    key = HARDWARE_KEY[stage]
    if key is None:
        assert found == {}
        return
    assert "does not fit" in found[f"{D}.{key}"], found
    assert problems(_hf(stage, STACKS[stage](QWEN_7B, 1))) == {}  # ~15 GiB fits one 24 GiB GPU


@pytest.mark.parametrize(("stage", "model", "gpus", "key", "hardware"), [
    (Stage.AZUREML, "meta-llama/Llama-3.1-70B-Instruct", 1, "instanceType", "Standard_NC24ads_A100_v4"),
    (Stage.VERTEX, LLAMA_70B, 1, "machineType", "g2-standard-12"),
], ids=["azure-a100-80g", "vertex-l4"])
def test_the_reported_misfits_are_refused(stage: Stage, model: str, gpus: int, key: str, hardware: str) -> None:
    found = problems(with_token(STACKS[stage](model, gpus)))
    assert f"does not fit {hardware}" in found[f"{D}.{key}"], found


@pytest.mark.parametrize("stage", REGISTERED, ids=lambda s: s.value)
def test_a_gated_model_needs_a_token_the_stage_can_use(stage: Stage) -> None:
    config = _hf(stage, STACKS[stage](LLAMA_8B, 1))
    found = problems(config)
    key = GATED_KEY[stage]
    if key is None:
        assert found == {}
        return
    assert "accepted its licence" in found[key], found
    if key == "scalepath:hfToken":
        assert "pulumi config set --secret scalepath:hfToken" in found[key]
        assert problems(with_token(config)) == {}
    else:  # the stage cannot pass a token: staged weights are the way
        assert "weightsS3Uri" in found[key] and problems(with_token(config)) == found
        config["scalepath:deployments"][0]["weightsS3Uri"] = "s3://weights-bucket/llama-8b/"
        assert problems(config) == {}


@pytest.mark.parametrize("stage", [Stage.EKS_VLLM, Stage.GKE_VLLM], ids=lambda s: s.value)
def test_llama_70b_on_a_cluster_without_a_token_is_refused(stage: Stage) -> None:
    found = problems(STACKS[stage](LLAMA_70B, 8))
    assert list(found) == ["scalepath:hfToken"], found
    assert problems(with_token(STACKS[stage](LLAMA_70B, 8))) == {}


@pytest.mark.parametrize(("model", "gated"), [
    ("meta-llama/Meta-Llama-3-8B-Instruct", True),  # not in the table: its family is gated
    ("google/gemma-2-2b-it", True),
    ("acme/Chat-8B", False),
])
def test_a_model_the_table_does_not_list_is_gated_by_its_family(model: str, gated: bool) -> None:
    found = problems(STACKS[Stage.EKS_VLLM](model, 1))
    assert ("scalepath:hfToken" in found) is gated, found


def test_weights_synced_from_a_bucket_need_no_token() -> None:
    config = STACKS[Stage.EKS_VLLM](LLAMA_8B, 1)
    config["scalepath:deployments"][0]["vllm"]["modelCache"] = {"kind": "s3", "uri": "s3://weights/llama-8b"}
    assert problems(config) == {}


@pytest.mark.parametrize("stage", REGISTERED, ids=lambda s: s.value)
def test_tensor_parallelism_that_cannot_split_the_heads_is_refused(stage: Stage) -> None:
    found = problems(_hf(stage, STACKS[stage](PHI_4, 4)))
    key = HARDWARE_KEY[stage]
    if key is None:
        assert found == {}
        return
    message = found[f"{D}.{key}"]
    assert "40 attention heads and 10 KV heads" in message and "sizes that work here: 1, 2" in message, found
    # 28 heads and 4 KV heads split 4 ways.
    assert problems(_hf(stage, STACKS[stage](QWEN_7B, 4))) == {}


def test_a_cluster_may_shard_over_fewer_gpus_than_it_holds() -> None:
    config = STACKS[Stage.EKS_VLLM](PHI_4, 4)
    config["scalepath:deployments"][0]["vllm"]["tensorParallelSize"] = 2
    assert problems(config) == {}


@pytest.mark.parametrize(("model", "sizes"), [
    # By hand: the divisors of the heads, where the KV heads divide by the size (size <= KV heads)
    # or the size by the KV heads (size > KV heads).
    (PHI_4, [1, 2, 5, 10, 20, 40]),
    (QWEN_7B, [1, 2, 4, 28]),
    (LLAMA_70B, [1, 2, 4, 8, 16, 32, 64]),
])
def test_vllm_sharding_rule(model: str, sizes: list[int]) -> None:
    facts = model_facts.facts(model)
    assert facts is not None
    assert [size for size in range(1, 65) if shardable(facts, size)] == sizes


def _context(stage: Stage, config: dict[str, Any], tokens: int) -> str | None:
    """Set the stage's context key to ``tokens``; the key, relative to the deployment (None: none)."""
    deployment = config["scalepath:deployments"][0]
    if stage is Stage.SAGEMAKER:
        deployment["generation"] = {"maxTotalTokens": tokens}
        return "generation.maxTotalTokens"
    if stage is Stage.AZUREML:
        deployment["container"]["maxTotalTokens"] = tokens
        return "container.maxTotalTokens"
    if stage in (Stage.EKS_VLLM, Stage.GKE_VLLM):
        deployment["vllm"]["maxModelLen"] = tokens
        return "vllm.maxModelLen"
    if stage is Stage.HF_ENDPOINT:
        deployment["args"] = ["--max-model-len", str(tokens)]
        return "args"
    if stage is Stage.VERTEX:
        deployment["container"] = {"imageUri": "us-docker.pkg.dev/acme/serving/vllm:0.6",
                                   "args": [f"--max-model-len={tokens}"]}
        return "container.args"
    return None


@pytest.mark.parametrize("stage", REGISTERED, ids=lambda s: s.value)
def test_a_context_longer_than_the_model_takes_is_refused(stage: Stage) -> None:
    # Qwen2.5-7B-Instruct: max_position_embeddings 32768 (components/data/models.yaml).
    at_limit = _hf(stage, STACKS[stage](QWEN_7B, 1))
    key = _context(stage, at_limit, 32768)
    assert problems(at_limit) == {}
    if key is None:
        return
    over = _hf(stage, STACKS[stage](QWEN_7B, 1))
    _context(stage, over, 32769)
    assert "longer than Qwen/Qwen2.5-7B-Instruct takes (32768" in problems(over)[f"{D}.{key}"]
