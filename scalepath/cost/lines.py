"""Cost lines and the arithmetic every estimate shares (instance-hours, per-token usage)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

HOURS_PER_MONTH = 730
"""Hours in an average month (8,760 / 12), the convention of every cloud's pricing pages."""


class Basis(str, Enum):
    """How a line's figure was obtained."""

    INSTANCES = "instances"
    """Instance-hours: count x hourly price x 730."""
    USAGE = "usage"
    """Billed by use, priced at the assumed volume (``expectedUsage``)."""
    FIXED = "fixed"
    """A fixed hourly or monthly charge per resource."""
    NO_CHARGE = "no-charge"
    """Bills nothing by itself (its cost is in another line, or it is free)."""
    METERED = "metered"
    """Bills only by use we have no assumption for (storage, data): no figure."""
    UNKNOWN = "unknown"
    """Should cost something but no price is known: reported, never counted as $0."""


@dataclass(frozen=True)
class CostLine:
    """One resource's (or usage-priced deployment's) monthly estimate."""

    urn: str | None
    type: str
    name: str
    basis: Basis
    monthly_usd: float | None
    """At min replicas / the assumed volume; ``None`` when not known."""
    at_max_usd: float | None
    """At max replicas (equal to ``monthly_usd`` for fixed charges)."""
    detail: str
    deployment: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The plan JSON form of a line."""
        return {"urn": self.urn, "type": self.type, "name": self.name, "deployment": self.deployment,
                "basis": self.basis.value, "monthly_usd": _round(self.monthly_usd),
                "at_max_usd": _round(self.at_max_usd), "detail": self.detail}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def instance_monthly_usd(hourly_usd: float, count: int, hours: float = HOURS_PER_MONTH) -> float:
    """``count`` instances at ``hourly_usd`` for ``hours`` hours."""
    if count < 0 or hours < 0 or hourly_usd < 0:
        raise ValueError("count, hours and price must not be negative")
    return hourly_usd * count * hours


def awake_hours_per_month(busy_hours_per_day: float, overhead_minutes_per_day: float) -> float:
    """Hours a month a replica that scales to zero bills: the busy hours of each day plus one wake's
    overhead (idle minutes before it stops; for a cluster, the node's cold start too), at most 730.
    The one rule ``plan`` and ``advise`` both price idle hours by (docs/cost.md, "Idle hours")."""
    if busy_hours_per_day < 0 or overhead_minutes_per_day < 0:
        raise ValueError("hours and minutes must not be negative")
    return min(HOURS_PER_MONTH, HOURS_PER_MONTH / 24 * (busy_hours_per_day + overhead_minutes_per_day / 60))


def usage_monthly_usd(requests_per_month: int, input_tokens: int, output_tokens: int,
                      input_usd_per_m_tok: float, output_usd_per_m_tok: float) -> float:
    """Per-token billing: requests x (input x input price + output x output price) / 1e6."""
    per_request = input_tokens * input_usd_per_m_tok + output_tokens * output_usd_per_m_tok
    return requests_per_month * per_request / 1_000_000
