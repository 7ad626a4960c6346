"""The validated stack: :class:`StackSpec`, the data every stage build reads.

:func:`stacks.parse.parse_spec` builds it; this module holds no parsing, so stage modules and
:mod:`stacks.context` can import it without importing the stage registry.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, SerializeAsAny, field_validator

from components.tagging import gcp_labels, k8s_labels
from stacks.config import (
    REQUIRED_TAG_KEYS,
    Budget,
    Cloud,
    CloudTargets,
    DeploymentBase,
    Environment,
    Network,
    StackFacts,
)
from stacks.errors import unprintable
from stacks.gateway.config import GatewayConfig
from stacks.model import ConfigModel

TAG_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def _tag_value(value: str) -> str:
    """A tag value every platform keeps: no control or format characters (no cloud takes them in a
    tag), and not one that GCP's or Kubernetes' label rules would shrink to nothing (``"--"``,
    ``"@@@"``): that would reach each resource as an empty label, not as the value the user wrote."""
    if bad := unprintable(value):
        raise ValueError(f"contains control/format character(s) {', '.join(bad)}; use printable text")
    if value and not (gcp_labels({"k": value})["k"] and k8s_labels({"k": value})["k"]):
        raise ValueError("becomes an empty label on GCP/Kubernetes (labels keep only letters, digits, '-', '_' "
                         "and '.', alphanumeric at both ends); include a letter or digit")
    return value


class StackSpec(ConfigModel):
    """One environment's whole config, validated. Built by :func:`stacks.parse.parse_spec`."""

    project: str
    stack: str
    environment: Environment
    tags: dict[str, Annotated[str, AfterValidator(_tag_value)]]
    budget: Budget
    network: Network = Network()
    deployments: list[SerializeAsAny[DeploymentBase]] = []
    targets: CloudTargets = CloudTargets()
    gateway: GatewayConfig | None = None
    """``scalepath:gateway``: the stack's OpenAI-compatible gateway (``stacks/gateway/``)."""
    secrets: frozenset[str] = frozenset()
    """Top-level keys set as Pulumi secrets (their values are never held here)."""

    @field_validator("tags")
    @classmethod
    def _required_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        # Keys every platform takes as they are (GCP labels and Kubernetes label names are the
        # strictest): normalising them per cloud could otherwise merge two keys or empty one.
        bad = [k for k in tags if not TAG_KEY.fullmatch(k)]
        if bad:
            raise ValueError(
                f"tag key(s) {', '.join(repr(k) for k in bad)} must be 1-63 lowercase letters, "
                "digits, '-' or '_', starting with a letter (valid on AWS, Azure, GCP and Kubernetes)"
            )
        missing = [k for k in REQUIRED_TAG_KEYS if not tags.get(k, "").strip()]
        if missing:
            raise ValueError(
                f"missing {', '.join(repr(k) for k in missing)} (required keys: "
                f"{', '.join(REQUIRED_TAG_KEYS)}); add them under scalepath:tags"
            )
        return tags

    def clouds(self) -> set[Cloud]:
        """Every cloud this stack creates resources in; each gets a budget."""
        used = set(self.budget.clouds())
        for deployment in self.deployments:
            used |= deployment.clouds()
        if self.gateway is not None:
            used |= self.gateway.clouds(self.deployments)
        return used

    def facts(self) -> StackFacts:
        """What stage checks and stack-wide rules (NAT egress...) read from the stack."""
        runtime = self.gateway.resolved_runtime(self.deployments) if self.gateway else None
        return StackFacts(stack=self.stack, stack_tag=self.stack_tag, environment=self.environment,
                          network=self.network, targets=self.targets,
                          deployments=tuple(self.deployments),
                          gateway_in_aws_vpc=runtime is not None and runtime.value == "ecs",
                          gateway_routes=tuple(self.gateway.weighted_routes().items()) if self.gateway else (),
                          gateway_scraped_in=self.gateway.scraped_in(self.deployments) if self.gateway else None)

    @property
    def stack_tag(self) -> str:
        """Value of the ``stack`` cost-allocation tag: unique per project and stack."""
        return f"{self.project}-{self.stack}"
