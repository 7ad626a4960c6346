"""The stage registry: stage -> :class:`~stacks.stages.base.StageDef`.

Each stage module (``stacks/stages/<stage>.py``) defines a ``DeploymentBase`` subclass, a
``build(deployment, ctx)`` function and ``DEFINITION = StageDef(...)``, and is listed in
``_MODULES`` below. A stage missing here is rejected by the config parser with
"stage X is not available yet" — the program never creates placeholder resources.

Stages are registered by module path and imported on first lookup: a stage module pulls in its
components and their provider SDKs (and SageMaker's SDK, seconds of import), so a stack pays
only for the stages it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from stacks.config import Stage
from stacks.stages.base import StageDef

# One entry per landed stage module, in scaling-path order.
_MODULES: dict[Stage, str] = {
    Stage.HF_SERVERLESS: "stacks.stages.hf_serverless",
    Stage.HF_ENDPOINT: "stacks.stages.hf_endpoint",
    Stage.SAGEMAKER: "stacks.stages.sagemaker",
    Stage.AZUREML: "stacks.stages.azureml",
    Stage.VERTEX: "stacks.stages.vertex",
    Stage.EKS_VLLM: "stacks.stages.eks_vllm",
    Stage.GKE_VLLM: "stacks.stages.gke_vllm",
}


class StageRegistry(Mapping[Stage, StageDef]):
    """Stage -> definition, importing the stage's module when it is first looked up."""

    def __init__(self, modules: Mapping[Stage, str]):
        self._modules = dict(modules)

    def module(self, stage: Stage) -> str:
        """The module path that defines ``stage`` (``KeyError`` if none is registered)."""
        return self._modules[stage]

    def __getitem__(self, stage: Stage) -> StageDef:
        # Read on every lookup (the import is cached by Python): tests may stand a definition in.
        return import_module(self._modules[stage]).DEFINITION

    def __contains__(self, stage: object) -> bool:
        return stage in self._modules  # without importing anything

    def __iter__(self) -> Iterator[Stage]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


STAGES = StageRegistry(_MODULES)
