"""Is the gateway big enough for its routes? The routes' ``peakRequestsPerSecond`` against what
``scaling.max`` replicas carry at the autoscaler's CPU target (:mod:`components.gateway.capacity`).

An advisory, not a refusal: ``pulumi up`` deploys an undersized gateway, which then answers slowly
at its peak. The program says so as a warning (``pulumi.log.warn``), which ``pulumi preview``/``up``
and ``scalepath plan`` both print. Below ``scaling.min``'s capacity nothing is said: scaling out is
the autoscaler's job. Routes without a peak are not counted.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from components.gateway.capacity import decimal, replica_rate, replicas_for, requests_per_vcpu
from stacks.config import Environment
from stacks.errors import format_loc
from stacks.gateway.config import GatewayConfig

#: The pack's shipped config per environment, which ``scalepath plan`` applies (docs/policies.md).
POLICY_CONFIG = Path(__file__).resolve().parents[2] / "policies" / "config"


def replica_cap(environment: Environment) -> int | None:
    """``scaling-caps.maxReplicas`` in the environment's shipped policy config; None when the file,
    the policy or the figure is absent, or the policy is disabled."""
    path = POLICY_CONFIG / f"{environment.value}.json"
    if not path.is_file():
        return None
    caps = json.loads(path.read_text()).get("scaling-caps")
    if not isinstance(caps, dict) or caps.get("enforcementLevel") == "disabled":
        return None
    cap = caps.get("maxReplicas")
    return cap if isinstance(cap, int) else None


def sizing_advice(gateway: GatewayConfig, environment: Environment) -> str | None:
    """What to change when ``gateway.scaling.max`` replicas carry less than the routes' peaks, or None."""
    peaks = {r.name: decimal(r.peak_requests_per_second) for r in gateway.routes
             if r.peak_requests_per_second is not None}
    if not peaks:
        return None
    scaling, cpu = gateway.scaling, gateway.cpu
    peak = sum(peaks.values(), Fraction(0))
    at_max = scaling.max * replica_rate(cpu, scaling.target_cpu_percent)
    if peak <= at_max:
        return None
    max_key, cpu_key = format_loc(("gateway", "scaling", "max")), format_loc(("gateway", "cpu"))
    target_key = format_loc(("gateway", "scaling", "targetCpuPercent"))
    needed = replicas_for(peak, cpu, scaling.target_cpu_percent)
    routes = ", ".join(f"{name} {float(rate):g}" for name, rate in peaks.items())
    advice = (f"gateway sizing: the routes' peakRequestsPerSecond ({routes}) add up to {float(peak):g} req/s, more "
              f"than the gateway carries at most: {max_key} {scaling.max} x {cpu_key} {cpu:g} at {target_key} "
              f"{scaling.target_cpu_percent} is {float(at_max):g} req/s ({float(requests_per_vcpu()):g} req/s per "
              f"vCPU, components/data/gateway_capacity.yaml); set {max_key} to {needed}, or raise {cpu_key}")
    cap = replica_cap(environment)
    if cap is not None and needed > cap:
        advice += (f". {needed} replicas exceed policy scaling-caps in {environment.value} (maxReplicas {cap}, "
                   f"policies/config/{environment.value}.json): raise {cpu_key} instead, or the cap after a "
                   "capacity review")
    return advice
