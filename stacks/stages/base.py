"""A stage's definition: its settings model, its build and its contract (``DEFINITION`` of its module)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from stacks.config import DeploymentBase, StackFacts
from stacks.contract import StageContract

if TYPE_CHECKING:  # stacks.context imports the spec, which imports the gateway, which reads the entries
    from stacks.context import StackContext


@dataclass(frozen=True)
class StageDef:
    """How one stage is configured and composed."""

    settings: type[DeploymentBase]
    """The pydantic model of a deployment of this stage (its ``stage_value`` keys the registry)."""
    build: Callable[[DeploymentBase, StackContext], Mapping[str, pulumi.Input[Any]]]
    """Creates the deployment's component(s) and returns what the stack exports for it
    (endpoint name/URL, OpenAI-compatible base URL...; camelCase keys)."""
    contract: Callable[[DeploymentBase, StackFacts], StageContract]
    """The deployment's :class:`~stacks.contract.StageContract`, from its validated settings and the
    stack's facts alone (the parser reads it before any resource exists); export keys it names are
    keys of what ``build`` returns."""
