"""LoRA adapters per deployment (issue 26, item 3): refused on every stage whose server cannot
load them (written once, over the registry), rendered as vLLM flags and fetch containers on
EKS/GKE, counted in the GPU memory check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.config import Stage
from stacks.parse import parse_spec
from stacks.stages import STAGES
from tests.support import issues, one, plan
from tests.support.clusters import MODEL, eks_config, gke_config
from tests.support.k8s import validate
from tests.support.stages import STACKS, problems, with_token

D = "scalepath:deployments[0]"
SQL = {"name": "sql", "source": "acme/qwen-sql-lora", "revision": "v1", "rank": 8}
SUPPORT = {"name": "support", "source": "s3://acme-adapters/support/v3", "rank": 32}


def pod(cfg: dict[str, Any]) -> dict[str, Any]:
    deployment = one(plan(cfg), "kubernetes:apps/v1:Deployment").inputs
    validate(deployment)
    return deployment["spec"]["template"]["spec"]


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_adapters_are_refused_on_every_stage_that_cannot_serve_them(stage: Stage) -> None:
    # Each stage's small valid stack (tests/support/stages.py), with one Hub adapter added.
    cfg = with_token(STACKS[stage](MODEL, 1))
    assert problems(cfg) == {}
    cfg["scalepath:deployments"][0]["adapters"] = [{"name": "sql", "source": "acme/qwen-sql-lora"}]
    found = problems(cfg)
    entry = STAGES.entry(stage)
    if not entry.serves_adapters:
        message = found.pop(f"{D}.adapters")
        assert f"stage {stage.value!r} cannot serve LoRA adapters" in message
        can = STAGES.adapter_stages()
        assert can and all(s.value in message for s in can)
        # Stages that serve them only with some settings are named with those settings.
        assert all(STAGES.entry(s).adapters_with in message for s in can)
    elif entry.adapters_with:
        # Served with some settings only: a stack without them is told which key to change.
        assert all(key.startswith(f"{D}.") and key != f"{D}.adapters" for key in found), found
        found = {}
    assert found == {}


def test_the_stages_that_serve_adapters() -> None:
    # The refusal above must have somewhere to send the user: TGI (with its settings) and vLLM.
    assert STAGES.adapter_stages() == [Stage.HF_ENDPOINT, Stage.SAGEMAKER, Stage.AZUREML, Stage.EKS_VLLM,
                                       Stage.GKE_VLLM]
    assert [STAGES.entry(s).adapters_with != "" for s in STAGES.adapter_stages()] == [True, True, True, False, False]
    assert all(STAGES.entry(s).adapters_with == "" for s in STAGES if s not in STAGES.adapter_stages())


@pytest.mark.parametrize("cfg", [eks_config, gke_config], ids=["eks", "gke"])
def test_vllm_loads_each_adapter_from_its_local_copy(cfg) -> None:
    spec = pod(cfg(adapters=[SQL, SUPPORT]))
    args = spec["containers"][0]["args"]
    assert "--enable-lora" in args
    start = args.index("--lora-modules")
    modules = [json.loads(item) for item in args[start + 1:start + 3]]
    assert modules == [
        {"name": "sql", "path": "/models/adapters/sql", "base_model_name": MODEL},
        {"name": "support", "path": "/models/adapters/support", "base_model_name": MODEL}]
    # Two adapters resident at once; ranks 8 and 32 -> 32, one of vLLM v0.11's allowed values.
    assert args[args.index("--max-loras") + 1] == "2"
    assert args[args.index("--max-lora-rank") + 1] == "32"
    fetch = {c["name"]: c for c in spec["initContainers"]}
    assert fetch["adapter-0"]["command"] == [
        "hf", "download", "acme/qwen-sql-lora", "--revision", "v1", "--local-dir", "/models/adapters/sql"]
    assert fetch["adapter-0"]["image"] == spec["containers"][0]["image"]
    assert fetch["adapter-1"]["command"] == [
        "aws", "s3", "sync", "--only-show-errors", "s3://acme-adapters/support/v3", "/models/adapters/support"]


@pytest.mark.parametrize("ranks, expected", [((None,), 16), ((8,), 8), ((9,), 16), ((320,), 320), ((321, 1), 512)])
def test_max_lora_rank_is_the_smallest_allowed_value_holding_every_rank(ranks, expected) -> None:
    adapters = [{"name": f"a{i}", "source": f"acme/a{i}", **({"rank": r} if r else {})} for i, r in enumerate(ranks)]
    # A 3B model (sized from its id: ~6 GiB of weights) leaves room for two rank-512 slots on one
    # 24 GiB L4; the default 7.62B model's ~15 GiB plus ~5 GiB of slots would not fit.
    args = pod(eks_config(adapters=adapters, model="Qwen/Qwen2.5-3B-Instruct"))["containers"][0]["args"]
    assert args[args.index("--max-lora-rank") + 1] == str(expected)


def test_a_rank_above_what_vllm_accepts_is_refused() -> None:
    found = issues(eks_config(adapters=[{**SQL, "rank": 513}]))
    assert "above 512" in found[f"{D}.adapters"]


def test_no_adapters_no_lora_flags() -> None:
    spec = pod(eks_config())
    assert "--enable-lora" not in spec["containers"][0]["args"]
    assert "initContainers" not in spec


@pytest.mark.parametrize("adapters, key, fragment", [
    ([SQL, {**SUPPORT, "name": "sql"}], "adapters", "listed more than once"),
    ([{**SUPPORT, "revision": "v1"}], "adapters[0]", "Hub source only"),
    ([{**SQL, "name": "Bad/Name"}], "adapters[0].name", ""),
    ([{**SQL, "source": "https://example.com/x"}], "adapters[0].source", ""),
])
def test_bad_adapters_name_the_key(adapters, key, fragment) -> None:
    found = issues(eks_config(adapters=adapters))
    assert fragment in found[f"{D}.{key}"]


def test_gpu_memory_check_counts_the_adapter_slots() -> None:
    # Qwen2.5-7B (not gated: no token needed): 7.62B x 2 B = 15.24 GiB of weights; an L4 (g6.xlarge,
    # 24 GiB) allows 80 %: 19.2 GiB. A slot of rank 512: 512 x 28 layers x 20 x hidden
    # (sqrt(7.62e9/28/12) = 4762.2) x 2 B / 2**30 = 2.54 GiB: one fits (17.78), two do not (20.33).
    qwen = "Qwen/Qwen2.5-7B-Instruct"
    one_slot = [{"name": "a", "source": "acme/a", "rank": 512}]
    assert plan(eks_config(model=qwen, adapters=one_slot))
    found = issues(eks_config(model=qwen, adapters=[*one_slot, {"name": "b", "source": "acme/b"}]))
    assert "LoRA adapter slots" in found[f"{D}.vllm.gpusPerReplica"]


@pytest.mark.parametrize("cfg", [eks_config, gke_config], ids=["eks", "gke"])
def test_the_contract_lists_every_model_name_the_server_answers_to(cfg) -> None:
    config = cfg(adapters=[SQL, SUPPORT])
    spec = parse_spec(config, project="scalepath", stack="test")
    contract = STAGES.contract(spec.deployments[0], spec.facts())
    assert contract.access.served_models() == (MODEL, "sql", "support")
    # ...which are the names vLLM is started with: --served-model-name and each --lora-modules name.
    args = pod(config)["containers"][0]["args"]
    start = args.index("--lora-modules")
    served = [args[args.index("--served-model-name") + 1], *(json.loads(m)["name"] for m in args[start + 1:start + 3])]
    assert tuple(served) == contract.access.served_models()
