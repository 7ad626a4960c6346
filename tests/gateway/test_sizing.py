"""Gateway sizing: the routes' ``peakRequestsPerSecond`` against what ``scaling.max`` replicas carry
(``scaling.max x vCPUs of the engine's workers x 98 x targetCpuPercent/100``), said as a warning of
the program. Expected figures are worked out by hand from 98 req/s per vCPU
(``components/data/gateway_capacity.yaml``: floor(1000 ms / 10.2 ms))."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest

from components.files import load_data
from components.gateway.args import CloudRunRuntime, GatewayArgs
from components.gateway.capacity import DATA_FILE, replica_rate, workers
from components.secret_store import SecretStoreArgs
from scalepath.plan import run_plan
from scalepath.stackconfig import load_stack_config
from stacks.config import Environment
from stacks.errors import ConfigError
from stacks.gateway.config import GatewayConfig
from stacks.gateway.sizing import replica_cap, sizing_advice
from stacks.parse import parse_spec
from tests.support import ROOT, SHIPPED
from tests.support.gateway import gateway_config

MAX, CPU = "scalepath:gateway.scaling.max", "scalepath:gateway.cpu"


def _gateway(*peaks: float | None, cpu: float = 1.0, min_: int = 1, max_: int = 2, target: int = 70) -> GatewayConfig:
    routes: list[dict[str, Any]] = []
    for n, peak in enumerate(peaks):
        route: dict[str, Any] = {"name": f"r{n}", "targets": [{"deployment": "d", "weight": 100}]}
        if peak is not None:
            route["peakRequestsPerSecond"] = peak
        routes.append(route)
    return GatewayConfig.model_validate({"routes": routes, "cpu": cpu,
                                         "scaling": {"min": min_, "max": max_, "targetCpuPercent": target}})


def test_the_figure_is_the_benchmarks_cpu_per_request_with_its_source() -> None:
    data = load_data(DATA_FILE)
    assert data["source"] and str(data["asOf"]).startswith("20")
    assert data["cpuMsPerRequest"] == 10.2  # docs/performance.md, "Gateway": 10.2 ms at load 9.6-10.2
    assert data["requestsPerSecondPerVcpu"] == math.floor(1000 / data["cpuMsPerRequest"]) == 98


@pytest.mark.parametrize("cpu, expected", [(0.25, 1), (0.5, 1), (1, 1), (1.25, 2), (1.5, 2), (2, 2), (4, 4)])
def test_the_container_runs_the_workers_the_check_counts(cpu: float, expected: int) -> None:
    args = GatewayArgs(
        config_text="model_list: []\n", env={}, image="ghcr.io/berriai/litellm:v1.100.5", cpu=1, memory_gib=2,
        min_replicas=1, max_replicas=2, target_cpu_percent=70, private=True,
        store=SecretStoreArgs(cloud="gcp", gcp_project="p"), key_secret_name="k", physical_name="p-s-gateway",
        tags={}, cloudrun=CloudRunRuntime(project="p", region="us-central1"))
    assert workers(cpu) == expected
    assert replace(args, cpu=cpu).command()[-1].endswith(f"--num_workers {expected}")


@pytest.mark.parametrize("cpu, target, per_replica", [
    (1, 70, "68.6"),   # 1 worker x 1 vCPU x 98 x 0.7
    (0.5, 70, "34.3"),  # 1 worker on half a vCPU: 0.5 x 98 x 0.7
    (2, 70, "137.2"),  # 2 workers: 2 x 98 x 0.7
    (1.5, 70, "102.9"),  # 2 workers sharing 1.5 vCPUs: 1.5 x 98 x 0.7
    (4, 50, "196"),    # 4 x 98 x 0.5
])
def test_one_replica_carries_its_workers_vcpus_at_the_target(cpu: float, target: int, per_replica: str) -> None:
    assert replica_rate(cpu, target) == Fraction(per_replica)


@pytest.mark.parametrize("cpu, max_, capacity, above", [
    (1.0, 2, 137.2, 137.3),  # 2 x 1 x 98 x 0.7
    (0.5, 2, 68.6, 68.7),    # 2 x 0.5 x 98 x 0.7
    (2.0, 2, 274.4, 274.5),  # 2 x 2 x 98 x 0.7
    (1.0, 4, 274.4, 274.5),  # 4 x 1 x 98 x 0.7
])
def test_a_peak_at_capacity_passes_and_just_above_asks_for_one_more_replica(
        cpu: float, max_: int, capacity: float, above: float) -> None:
    assert sizing_advice(_gateway(capacity, cpu=cpu, max_=max_), Environment.PROD) is None
    advice = sizing_advice(_gateway(above, cpu=cpu, max_=max_), Environment.PROD)
    assert advice is not None
    assert (f"{MAX} {max_} x {CPU} {cpu:g} at scalepath:gateway.scaling.targetCpuPercent 70 is {capacity:g} req/s "
            "(98 req/s per vCPU, components/data/gateway_capacity.yaml)") in advice
    assert f"set {MAX} to {max_ + 1}, or raise {CPU}" in advice  # ceil(above / per replica) = max + 1
    assert "scaling-caps" not in advice  # prod allows 32


def test_the_smallest_max_is_the_ceiling() -> None:
    advice = sizing_advice(_gateway(1000), Environment.PROD)  # 1000 / 68.6 = 14.58 -> 15
    assert advice is not None and f"set {MAX} to 15," in advice


def test_the_routes_peaks_add_up_and_a_route_without_one_counts_nothing() -> None:
    assert sizing_advice(_gateway(100, 37.2, None), Environment.PROD) is None  # 137.2 of 137.2
    advice = sizing_advice(_gateway(100, 37.3, None), Environment.PROD)
    assert advice is not None
    assert "peakRequestsPerSecond (r0 100, r1 37.3) add up to 137.3 req/s" in advice
    assert sizing_advice(_gateway(None, None), Environment.PROD) is None


def test_below_the_minimums_capacity_is_the_autoscalers_job() -> None:
    # min 1 carries 68.6 req/s, max 2 carries 137.2: a peak of 100 needs scaling, not advice.
    assert sizing_advice(_gateway(100, min_=1, max_=2), Environment.PROD) is None


def test_a_max_past_the_environments_cap_says_so() -> None:
    assert (replica_cap(Environment.DEV), replica_cap(Environment.STAGING), replica_cap(Environment.PROD)) == (2, 4, 32)
    dev = sizing_advice(_gateway(137.3), Environment.DEV)  # needs 3; policies/config/dev.json allows 2
    assert dev is not None and dev.endswith(
        f". 3 replicas exceed policy scaling-caps in dev (maxReplicas 2, policies/config/dev.json): raise {CPU} "
        "instead, or the cap after a capacity review")
    staging = sizing_advice(_gateway(137.3), Environment.STAGING)  # 3 of the 4 staging allows
    assert staging is not None and "scaling-caps" not in staging


@pytest.mark.parametrize("bad", [0, -1, True, float("inf")])
def test_a_peak_is_a_positive_number(bad: Any) -> None:
    route = {"name": "chat", "targets": [{"deployment": "chat-endpoint", "weight": 100}], "peakRequestsPerSecond": bad}
    values, secrets = gateway_config(routes=[route])
    with pytest.raises(ConfigError) as caught:
        parse_spec(values, project="scalepath", stack="dev", secret_keys=secrets)
    assert [i.path for i in caught.value.issues] == ["scalepath:gateway.routes[0].peakRequestsPerSecond"]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "scalepath.plan" and r.levelno == logging.WARNING]


def test_the_plan_warns_with_the_keys_and_the_shipped_gateway_stack_does_not(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="scalepath.plan")
    shipped = load_stack_config("gateway-dev", ROOT)
    run_plan(shipped)
    assert not [w for w in _warnings(caplog) if w.startswith("gateway sizing")]
    gateway = json.loads(shipped.values["scalepath:gateway"])
    gateway["routes"][0]["peakRequestsPerSecond"] = 137.3  # default cpu 1, max 2, target 70: 137.2
    run_plan(replace(shipped, values={**shipped.values, "scalepath:gateway": json.dumps(gateway)}))
    (warning,) = [w for w in _warnings(caplog) if w.startswith("gateway sizing")]
    assert f"set {MAX} to 3, or raise {CPU}" in warning


@pytest.mark.parametrize("stack", SHIPPED)
def test_no_shipped_gateway_is_undersized(stack: str) -> None:
    spec = load_stack_config(stack, ROOT).spec()
    assert spec.gateway is None or sizing_advice(spec.gateway, spec.environment) is None
