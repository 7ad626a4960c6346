"""What the stage registry knows of a stage: its entry (facts, no import) and its definition."""

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


@dataclass(frozen=True)
class StageEntry:
    """A stage's registry entry: where its definition lives and the facts other parts read
    (cost model, advisor, docs) without importing the stage's module and its provider SDKs."""

    module: str
    """Module that defines ``DEFINITION`` (imported on the stage's first lookup)."""
    catalog_family: str | None
    """Instance catalogue (``components/data/instances/<family>.yaml``) its replicas are priced
    from; ``None`` for a stage that provisions no instances."""
    private: bool
    """Requests stay inside the user's own cloud account and network (``advise --compliance private``)."""
    usage_priced: bool
    """Billed per use on shared capacity (per token): priced from ``expectedUsage``, no p95 guarantee."""
    fixed_cost_types: tuple[str, ...]
    """Resource types the stage always adds whatever the traffic (a cluster control plane),
    priced from ``components/data/service_prices.yaml``."""
    scales_to_zero: bool
    """Its replicas stop when idle and start on the next request, so idle hours are not billed
    (``advise --busy-hours-per-day``)."""
