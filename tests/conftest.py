"""Shared fixtures: Pulumi mocks for component tests and an offline plan runner for stack tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, settings

from scalepath.mocks import ScalepathMocks
from scalepath.plan import Plan, RecordingMonitor, run_plan
from scalepath.stackconfig import StackConfig, load_stack_config

ROOT = Path(__file__).resolve().parents[1]

# Property tests are never timed: on a loaded 2-core machine a per-example deadline (200 ms by
# default) or the too-slow health check fails tests for the machine's sake, not the code's.
settings.register_profile("scalepath", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("scalepath")


@pytest.fixture(autouse=True)
def recorder() -> RecordingMonitor:
    """Every test runs against the mocks ``scalepath plan`` uses; ``recorder.recorded`` lists
    what a component test registered, in the plan's wire form."""
    monitor = RecordingMonitor(ScalepathMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project="scalepath", stack="test", preview=True,
                             monitor=monitor)
    return monitor


def stack_config(values: dict[str, Any], stack: str = "test", secret_keys: set[str] = frozenset()) -> StackConfig:
    """A StackConfig as the engine would pass it, from a ``config:`` mapping."""
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return StackConfig(project="scalepath", stack=stack, values=encoded, secret_keys=set(secret_keys))


@pytest.fixture(scope="session")
def _shipped_plans() -> dict[str, Plan]:
    return {}


@pytest.fixture
def shipped_plan(_shipped_plans: dict[str, Plan]) -> Callable[[str], Plan]:
    """Plan a shipped environment by stack name: each stack runs once per session (the files
    don't change during a run), and every caller gets its own copy to mutate."""
    def plan(stack: str) -> Plan:
        if stack not in _shipped_plans:
            _shipped_plans[stack] = run_plan(load_stack_config(stack, ROOT))
        return copy.deepcopy(_shipped_plans[stack])
    return plan


@pytest.fixture
def base_config() -> dict[str, Any]:
    """A minimal valid config (AWS budget, no deployments) that tests extend."""
    return {
        "aws:region": "us-east-1",
        "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"], "aws": {}},
        "scalepath:deployments": [],
    }
