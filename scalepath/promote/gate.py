"""The promotion gate: a candidate's run against the route's thresholds and its baseline's run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scalepath.promote.runner import Outcome, RunResult


class GateSettings(Protocol):
    """The route's ``gate`` config (``stacks`` validates it; defaults live there)."""

    min_pass_rate: float
    max_regression: float
    p95_latency_ms: float | None
    max_error_rate: float


@dataclass(frozen=True)
class Criterion:
    """One line of the verdict."""

    name: str
    """``minPassRate``, ``maxRegression``, ``p95LatencyMs`` or ``maxErrorRate`` (the config key)."""
    passed: bool
    actual: float | None
    limit: float
    detail: str


@dataclass(frozen=True)
class Verdict:
    """Every criterion, and the cases a reviewer should look at first."""

    criteria: tuple[Criterion, ...]
    worst_cases: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        """True when every criterion holds."""
        return all(c.passed for c in self.criteria)


def evaluate(gate: GateSettings, candidate: RunResult, baseline: RunResult | None, *, worst: int = 5) -> Verdict:
    """Judge ``candidate``; with no ``baseline`` (the candidate is the route's only target) the
    regression criterion is left out and the verdict says so."""
    criteria = [Criterion("minPassRate", candidate.pass_rate >= gate.min_pass_rate, candidate.pass_rate,
                          gate.min_pass_rate, f"pass rate {candidate.pass_rate:.1%}, needs at least "
                          f"{gate.min_pass_rate:.1%}")]
    if baseline is not None:
        floor = baseline.pass_rate - gate.max_regression
        criteria.append(Criterion(
            "maxRegression", candidate.pass_rate >= floor - 1e-12, candidate.pass_rate, floor,
            f"pass rate {candidate.pass_rate:.1%} vs baseline {baseline.backend.deployment} "
            f"{baseline.pass_rate:.1%}; at most {gate.max_regression:.1%} lower allowed"))
    if gate.p95_latency_ms is not None:
        p95 = candidate.p95_latency_ms
        criteria.append(Criterion(
            "p95LatencyMs", p95 is not None and p95 <= gate.p95_latency_ms, p95, gate.p95_latency_ms,
            "no request answered" if p95 is None else f"p95 latency {p95:.0f} ms, limit {gate.p95_latency_ms:.0f} ms"))
    criteria.append(Criterion(
        "maxErrorRate", candidate.error_rate <= gate.max_error_rate, candidate.error_rate, gate.max_error_rate,
        f"error rate {candidate.error_rate:.1%}, limit {gate.max_error_rate:.1%}"))
    return Verdict(tuple(criteria), _worst(candidate.outcomes, worst))


def _worst(outcomes: tuple[Outcome, ...], count: int) -> tuple[Outcome, ...]:
    # Errors first, then wrong answers, then the slowest correct ones: the order a reviewer reads.
    def rank(o: Outcome) -> tuple[int, float]:
        return (0 if o.error else 1 if not o.passed else 2, -(o.latency_ms or 0.0))
    return tuple(sorted(outcomes, key=rank)[:count])
