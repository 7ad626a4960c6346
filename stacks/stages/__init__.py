"""The stage registry: stage -> :class:`~stacks.stages.base.StageDef`.

Each stage module (``stacks/stages/<stage>.py``) defines a ``DeploymentBase`` subclass, a
``build(deployment, ctx)`` function, a ``contract(deployment, stack)`` function and
``DEFINITION = StageDef(...)``, and has an entry in ``ENTRIES`` (``stacks/stages/entries.py``) with
the facts the cost model, the advisor and the gateway read without importing it
(docs/adding-a-stage.md).
A stage missing here is rejected by the config parser with "stage X is not available yet" —
the program never creates placeholder resources.

Stages are registered by module path and imported on first lookup: a stage module pulls in its
components and their provider SDKs (and SageMaker's SDK, seconds of import), so a stack pays
only for the stages it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from stacks.config import DeploymentBase, StackFacts, Stage
from stacks.contract import StageContract
from stacks.stages.base import StageDef
from stacks.stages.entries import ENTRIES, StageEntry


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

    def adapter_stages(self) -> list[Stage]:
        """The stages whose server loads LoRA adapters (registry order)."""
        return [stage for stage, entry in self._entries.items() if entry.serves_adapters]

    def __getitem__(self, stage: Stage) -> StageDef:
        # Read on every lookup (the import is cached by Python): tests may stand a definition in.
        return import_module(self._entries[stage].module).DEFINITION

    def __contains__(self, stage: object) -> bool:
        return stage in self._entries  # without importing anything

    def __iter__(self) -> Iterator[Stage]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def contract(self, deployment: DeploymentBase, stack: StackFacts) -> StageContract:
        """What ``deployment`` offers the stack (its stage module computes it)."""
        return self[deployment.stage].contract(deployment, stack)

    def contracts(self, stack: StackFacts) -> dict[str, StageContract]:
        """Every deployment's contract, by deployment name."""
        return {d.name: self.contract(d, stack) for d in stack.deployments}


STAGES = StageRegistry(ENTRIES)
