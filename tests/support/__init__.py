"""Helpers shared by the tests: the repository root, the shipped stacks, configs and plan lookups.

Fixtures live in ``tests/conftest.py``; everything else a test module needs from outside
itself comes from this package, never from another test module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import StackConfig
from scalepath.wire import PlannedResource
from stacks.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
#: Stack names of the shipped environments (``environments/Pulumi.<stack>.yaml``).
SHIPPED = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                 for p in (ROOT / "environments").glob("Pulumi.*.yaml"))


def stack_config(values: dict[str, Any], stack: str = "test", secret_keys: set[str] = frozenset(),
                 project: str = "scalepath") -> StackConfig:
    """A StackConfig as the engine would pass it, from a ``config:`` mapping."""
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return StackConfig(project=project, stack=stack, values=encoded, secret_keys=set(secret_keys))


def plan(cfg: dict[str, Any]) -> Plan:
    return run_plan(stack_config(cfg))


def of_type(plan_: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan_.resources if r.type == type_]


def one(plan_: Plan, type_: str, name: str | None = None) -> PlannedResource:
    found = [r for r in of_type(plan_, type_) if name is None or r.name == name]
    assert len(found) == 1, (type_, name, [r.name for r in of_type(plan_, type_)])
    return found[0]


def issues(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        plan(cfg)
    return {i.path: i.message for i in caught.value.issues}
