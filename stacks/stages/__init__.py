"""The stage registry: stage -> :class:`~stacks.stages.base.StageDef`.

Each stage module (``stacks/stages/<stage>.py``) defines a ``DeploymentBase`` subclass, a
``build(deployment, ctx)`` function and ``DEFINITION = StageDef(...)``, and has an entry in
``ENTRIES`` below with the facts the cost model and the advisor read (docs/adding-a-stage.md).
A stage missing here is rejected by the config parser with "stage X is not available yet" —
the program never creates placeholder resources.

Stages are registered by module path and imported on first lookup: a stage module pulls in its
components and their provider SDKs (and SageMaker's SDK, seconds of import), so a stack pays
only for the stages it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from stacks.config import Stage
from stacks.stages.base import StageDef, StageEntry

# One entry per landed stage, in scaling-path order.
ENTRIES: dict[Stage, StageEntry] = {
    Stage.HF_SERVERLESS: StageEntry("stacks.stages.hf_serverless", catalog_family=None, private=False,
                                    usage_priced=True, fixed_cost_types=(), scales_to_zero=False),
    Stage.HF_ENDPOINT: StageEntry("stacks.stages.hf_endpoint", catalog_family="hf", private=False,
                                  usage_priced=False, fixed_cost_types=(), scales_to_zero=True),
    Stage.SAGEMAKER: StageEntry("stacks.stages.sagemaker", catalog_family="sagemaker", private=True,
                                usage_priced=False, fixed_cost_types=(), scales_to_zero=False),
    Stage.AZUREML: StageEntry("stacks.stages.azureml", catalog_family="azureml", private=True,
                              usage_priced=False, fixed_cost_types=(), scales_to_zero=False),
    Stage.VERTEX: StageEntry("stacks.stages.vertex", catalog_family="vertex", private=True,
                             usage_priced=False, fixed_cost_types=(), scales_to_zero=False),
    Stage.EKS_VLLM: StageEntry("stacks.stages.eks_vllm", catalog_family="ec2", private=True,
                               usage_priced=False, fixed_cost_types=("aws:eks/cluster:Cluster",),
                               scales_to_zero=False),
    Stage.GKE_VLLM: StageEntry("stacks.stages.gke_vllm", catalog_family="gce", private=True,
                               usage_priced=False, fixed_cost_types=("gcp:container/cluster:Cluster",),
                               scales_to_zero=False),
}


class StageRegistry(Mapping[Stage, StageDef]):
    """Stage -> definition, importing the stage's module when it is first looked up."""

    def __init__(self, entries: dict[Stage, StageEntry]):
        self._entries = entries

    def entry(self, stage: Stage) -> StageEntry:
        """The stage's facts, without importing its module (``KeyError`` if none is registered)."""
        return self._entries[stage]

    def module(self, stage: Stage) -> str:
        """The module path that defines ``stage`` (``KeyError`` if none is registered)."""
        return self._entries[stage].module

    def __getitem__(self, stage: Stage) -> StageDef:
        # Read on every lookup (the import is cached by Python): tests may stand a definition in.
        return import_module(self._entries[stage].module).DEFINITION

    def __contains__(self, stage: object) -> bool:
        return stage in self._entries  # without importing anything

    def __iter__(self) -> Iterator[Stage]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


STAGES = StageRegistry(ENTRIES)
