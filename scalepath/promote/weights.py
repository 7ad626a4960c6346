"""Moving a step of a route's traffic to one target, in whole percents that still sum to 100."""

from __future__ import annotations

import math
from collections.abc import Mapping


def shift(weights: Mapping[str, int], to: str, step: int) -> dict[str, int]:
    """New weights with ``step`` percent moved to ``to`` from the other targets, each giving in
    proportion to its weight (largest remainder, ties to the earlier target), the candidate capped at
    100. ``to`` may be new to the route; it is added last. Targets keep their order."""
    if sum(weights.values()) != 100:
        raise ValueError(f"weights sum to {sum(weights.values())}, not 100")
    current = weights.get(to, 0)
    moved = min(step, 100 - current)
    others = {name: weight for name, weight in weights.items() if name != to}
    total = sum(others.values())
    shares = {name: moved * weight / total for name, weight in others.items()} if total else {}
    taken = {name: math.floor(share) for name, share in shares.items()}
    by_remainder = sorted(shares, key=lambda name: shares[name] - taken[name], reverse=True)
    for name in by_remainder[: moved - sum(taken.values())]:
        taken[name] += 1
    result = {name: weight - taken.get(name, 0) for name, weight in weights.items()}
    result[to] = current + moved
    return result
