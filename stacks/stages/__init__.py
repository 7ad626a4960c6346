"""The stage registry: stage -> (settings model, build function).

Each stage module defines a :class:`~stacks.config.DeploymentBase` subclass and a ``build``
function, and registers itself below. A stage missing here is rejected by the config parser
with "stage X is not available yet" — the program never creates placeholder resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from stacks.config import DeploymentBase, Stage

if TYPE_CHECKING:
    from stacks.context import StackContext


@dataclass(frozen=True)
class StageDef:
    """How one stage is configured and composed."""

    settings: type[DeploymentBase]
    """The pydantic model of a deployment of this stage."""
    build: Callable[[DeploymentBase, "StackContext"], Mapping[str, pulumi.Input[Any]]]
    """Creates the deployment's component and returns what the stack exports for it
    (endpoint name/URL, OpenAI-compatible base URL...)."""


STAGES: dict[Stage, StageDef] = {}
