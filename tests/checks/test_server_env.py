"""The server reads what it is handed (issue 22, finding 8): one rule, over every stage that
starts a server through its environment (SageMaker's containers, Azure ML's images)."""

from __future__ import annotations

from typing import Any

import pytest

from components import server_env
from stacks.config import Stage
from stacks.stages import STAGES
from tests.support.stages import STACKS, problems, with_token

D = "scalepath:deployments[0]"
QWEN_7B = "Qwen/Qwen2.5-7B-Instruct"
STOCK_VLLM = "docker.io/vllm/vllm-openai:v0.8.5"
SAMPLE_VLLM = "myregistry.azurecr.io/vllm-aml:0.8.5"  # built like Azure ML's vLLM sample


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_every_launch_names_an_entrypoint_the_table_knows(stage: Stage) -> None:
    config = with_token(STACKS[stage](QWEN_7B, 1))
    (raw,) = config["scalepath:deployments"]
    deployment = STAGES[stage].settings.model_validate(raw)
    for needs in deployment.needs():
        if needs.launch is not None and needs.launch.entrypoint is not None:
            assert needs.launch.entrypoint in server_env.table().entrypoints


def _azure_vllm(image: str, **container: Any) -> dict[str, Any]:
    config = STACKS[Stage.AZUREML](QWEN_7B, 1)
    config["scalepath:deployments"][0]["container"] = {"server": "vllm", "image": image, **container}
    return config


def test_the_stock_vllm_image_on_azure_gets_no_model_and_is_refused() -> None:
    found = problems(_azure_vllm(STOCK_VLLM))
    message = found[f"{D}.container.image"]
    assert "MODEL_NAME, VLLM_ARGS are read by an image built the way Azure ML's vLLM sample builds it" in message
    assert "not by the stock vLLM image" in message and "--model $MODEL_NAME $VLLM_ARGS" in message


def test_a_variant_on_the_stock_vllm_image_is_refused_at_its_image() -> None:
    config = _azure_vllm(SAMPLE_VLLM)
    config["scalepath:deployments"][0]["variants"] = [
        {"name": "blue", "traffic": 100}, {"name": "green", "traffic": 0, "image": STOCK_VLLM}]
    assert list(problems(config)) == [f"{D}.variants[1].image"]


def test_an_image_built_like_the_sample_is_accepted() -> None:
    assert problems(_azure_vllm(SAMPLE_VLLM)) == {}


def test_the_tgi_server_on_the_stock_vllm_image_is_refused() -> None:
    config = STACKS[Stage.AZUREML](QWEN_7B, 1)
    config["scalepath:deployments"][0]["container"]["image"] = STOCK_VLLM
    assert "MODEL_ID" in problems(config)[f"{D}.container.image"]


@pytest.mark.parametrize("stage", [Stage.SAGEMAKER, Stage.AZUREML], ids=lambda s: s.value)
def test_one_rule_for_a_tgi_setting_handed_to_vllm(stage: Stage) -> None:
    """The same variable, handed to a vLLM server on either stage, is refused with the same words."""
    if stage is Stage.SAGEMAKER:
        config = STACKS[stage](QWEN_7B, 1)
        config["scalepath:deployments"][0]["container"]["env"] = {"MAX_TOTAL_TOKENS": "4096"}
    else:
        config = _azure_vllm(SAMPLE_VLLM, env={"MAX_TOTAL_TOKENS": "4096"})
    message = problems(config)[f"{D}.container.env.MAX_TOTAL_TOKENS"]
    assert message.startswith("MAX_TOTAL_TOKENS is read by the text-generation-inference launcher")
