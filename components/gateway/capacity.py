"""What the gateway carries: engine workers per replica, and requests per second per replica at the
autoscaler's CPU target, from the benchmark's figure (``data/gateway_capacity.yaml``).

Figures are exact decimals (``Fraction`` of each value as written), so a peak equal to the capacity
a person works out by hand is equal here too, not a float's rounding away from it.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from pathlib import Path

from components.files import load_data

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "gateway_capacity.yaml"


def workers(cpu: float) -> int:
    """Engine processes per replica: one per vCPU started (a Python process uses at most one), so
    that a fraction above one has a worker to use it too: otherwise a saturated replica would read
    below the autoscaler's target (one worker on ``cpu: 1.5`` is 67 % of it) and never scale out."""
    return max(1, math.ceil(cpu))


def decimal(value: float) -> Fraction:
    """``value`` as the decimal it was written as (``0.7`` is 7/10, not the float nearest to it)."""
    return Fraction(repr(value))


@cache
def requests_per_vcpu() -> Fraction:
    """Requests per second one worker sustains on one whole vCPU."""
    return decimal(load_data(DATA_FILE)["requestsPerSecondPerVcpu"])


def replica_rate(cpu: float, target_cpu_percent: int) -> Fraction:
    """Requests per second one replica carries while the autoscaler holds ``target_cpu_percent``:
    its ``cpu`` vCPUs (its workers share them all) at the target."""
    return decimal(cpu) * requests_per_vcpu() * target_cpu_percent / 100


def replicas_for(requests_per_second: Fraction, cpu: float, target_cpu_percent: int) -> int:
    """The fewest replicas that carry ``requests_per_second`` at the target."""
    return math.ceil(requests_per_second / replica_rate(cpu, target_cpu_percent))
