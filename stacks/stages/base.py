"""What a stage module provides to the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from stacks.config import DeploymentBase
from stacks.context import StackContext


@dataclass(frozen=True)
class StageDef:
    """How one stage is configured and composed."""

    settings: type[DeploymentBase]
    """The pydantic model of a deployment of this stage (its ``stage_value`` keys the registry)."""
    build: Callable[[DeploymentBase, StackContext], Mapping[str, pulumi.Input[Any]]]
    """Creates the deployment's component(s) and returns what the stack exports for it
    (endpoint name/URL, OpenAI-compatible base URL...)."""
