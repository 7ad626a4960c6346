"""The stage registry: stage -> :class:`~stacks.stages.base.StageDef`.

Each stage module (``stacks/stages/<stage>.py``) defines a ``DeploymentBase`` subclass, a
``build(deployment, ctx)`` function and ``DEFINITION = StageDef(...)``, and is listed in
``_MODULES`` below. A stage missing here is rejected by the config parser with
"stage X is not available yet" — the program never creates placeholder resources.
"""

from __future__ import annotations

from types import ModuleType

from stacks.config import Stage
from stacks.stages import azureml, eks_vllm, gke_vllm, hf_endpoint, hf_serverless, sagemaker, vertex
from stacks.stages.base import StageDef

# One entry per landed stage module, in scaling-path order.
_MODULES: tuple[ModuleType, ...] = (hf_serverless, hf_endpoint, sagemaker, azureml, vertex, eks_vllm, gke_vllm)

STAGES: dict[Stage, StageDef] = {m.DEFINITION.settings.stage_value: m.DEFINITION for m in _MODULES}
