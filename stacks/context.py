"""What stage build functions share: the spec, tag helpers and stack-wide resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from components.tagging import cost_tags
from stacks.config import DeploymentBase
from stacks.spec import StackSpec

T = TypeVar("T")


class StackContext:
    """Per-run context handed to every stage's ``build``."""

    def __init__(self, spec: StackSpec):
        self.spec = spec
        self._shared: dict[str, Any] = {}

    def tags(self, deployment: DeploymentBase | None = None) -> dict[str, str]:
        """Logical cost tags for a deployment's resources, or for shared ones when ``None``."""
        return cost_tags(
            self.spec.tags,
            environment=self.spec.environment.value,
            stack=self.spec.stack_tag,
            deployment=deployment.name if deployment else None,
            stage=deployment.stage.value if deployment else None,
        )

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """One instance per stack of a shared resource (a VPC several deployments use)."""
        if key not in self._shared:
            self._shared[key] = factory()
        return self._shared[key]
