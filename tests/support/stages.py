"""One small valid stack per registered stage, with the model and hardware a check varies.

``STACKS`` maps every stage of the registry to a maker; the cross-cutting check tests are
parametrized over ``stacks.stages.STAGES`` and look their stage up here, so a stage added to the
registry without a maker fails them until it gets one (and with it, every check).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scalepath.stackconfig import SECRET_PLACEHOLDER
from stacks.config import Stage
from stacks.errors import ConfigError
from stacks.parse import parse_spec
from tests.support import stack_config
from tests.support.clusters import TAGS, aws_config, gcp_config

CIDRS = ["203.0.113.0/24"]
AZURE = {
    "azure-native:location": "westeurope",
    "azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000",
    "scalepath:environment": "staging",
    "scalepath:tags": dict(TAGS),
    "scalepath:budget": {"monthlyUsd": 5000, "notify": ["ml@example.com"], "azure": {"startMonth": "2026-12"}},
}

Maker = Callable[[str, int], dict[str, Any]]
"""(model, GPUs per replica) -> a stack config with one deployment of the stage."""


def _hf_serverless(model: str, gpus: int) -> dict[str, Any]:
    return aws_config("dev", "public", {"name": "chat", "model": model, "stage": "hf-serverless",
                                        "secretStore": {"cloud": "aws"}})


def _hf_endpoint(model: str, gpus: int) -> dict[str, Any]:
    return aws_config("dev", "public", {"name": "chat", "model": model, "stage": "hf-endpoint",
                                        "namespace": "acme-ml", "instanceType": "nvidia-a10g",
                                        "instanceSize": f"x{gpus}"})


def _sagemaker(model: str, gpus: int) -> dict[str, Any]:
    instance = {1: "ml.g5.2xlarge", 4: "ml.g5.12xlarge", 8: "ml.g5.48xlarge"}[gpus]
    return aws_config("dev", "public", {"name": "chat", "model": model, "stage": "sagemaker",
                                        "instanceType": instance,
                                        "container": {"server": "vllm", "version": "0.30.0"}})


def _azureml(model: str, gpus: int) -> dict[str, Any]:
    instance = {1: "Standard_NC24ads_A100_v4", 4: "Standard_NC96ads_A100_v4", 8: "Standard_ND96amsr_A100_v4"}[gpus]
    return {**AZURE, "scalepath:deployments": [{
        "name": "chat", "stage": "azureml", "model": model, "instanceType": instance,
        "container": {"image": "ghcr.io/huggingface/text-generation-inference:3.3.4"}}]}


def _vertex(model: str, gpus: int) -> dict[str, Any]:
    machine = {1: "g2-standard-12", 4: "g2-standard-48", 8: "g2-standard-96"}[gpus]
    return gcp_config("dev", "public", {"name": "chat", "model": model, "stage": "vertex", "machineType": machine})


def _eks(model: str, gpus: int) -> dict[str, Any]:
    node = {1: "g6.xlarge", 4: "g6.12xlarge", 8: "g6.48xlarge"}[gpus]
    return aws_config("dev", "public", {
        "name": "llm", "model": model, "stage": "eks-vllm", "scaling": {"min": 1, "max": 2},
        "cluster": {"publicAccessCidrs": CIDRS, "gpuNodes": {"instanceTypes": [node]}},
        "vllm": {"gpusPerReplica": gpus, "modelCache": {"kind": "ephemeral"}}})


def _gke(model: str, gpus: int) -> dict[str, Any]:
    machine = {1: "g2-standard-8", 4: "g2-standard-48", 8: "g2-standard-96"}[gpus]
    return gcp_config("dev", "public", {
        "name": "llm", "model": model, "stage": "gke-vllm", "scaling": {"min": 1, "max": 2},
        "cluster": {"masterAuthorizedCidrs": CIDRS, "gpuNodes": {"machineType": machine}},
        "vllm": {"gpusPerReplica": gpus, "modelCache": {"kind": "ephemeral"}}})


STACKS: dict[Stage, Maker] = {
    Stage.HF_SERVERLESS: _hf_serverless, Stage.HF_ENDPOINT: _hf_endpoint, Stage.SAGEMAKER: _sagemaker,
    Stage.AZUREML: _azureml, Stage.VERTEX: _vertex, Stage.EKS_VLLM: _eks, Stage.GKE_VLLM: _gke,
}


def with_token(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``scalepath:hfToken`` set (as a secret)."""
    return {**config, "scalepath:hfToken": SECRET_PLACEHOLDER}


def problems(config: dict[str, Any]) -> dict[str, str]:
    """Path -> message of every problem ``parse_spec`` finds (empty when the stack is valid);
    ``scalepath:hfToken``, when present, is marked secret."""
    secrets = {"scalepath:hfToken"} if "scalepath:hfToken" in config else set()
    try:
        parse_spec(stack_config(config, secret_keys=secrets).values, project="scalepath", stack="test",
                   secret_keys=secrets)
    except ConfigError as error:
        return {i.path: i.message for i in error.issues}
    return {}
