"""One shipped deployment per registered stage, with its stack, for the tests every stage inherits."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from scalepath.stackconfig import StackConfig, load_stack_config
from stacks.config import Stage
from stacks.parse import parse_spec
from tests.support import ROOT


@dataclass(frozen=True)
class Sample:
    """A shipped stack and the index of its first deployment of one stage."""

    config: StackConfig
    index: int
    name: str


@cache
def samples() -> dict[Stage, Sample]:
    """The first deployment of each stage in the shipped environments (sorted by file name)."""
    found: dict[Stage, Sample] = {}
    for path in sorted((ROOT / "environments").glob("Pulumi.*.yaml")):
        config = load_stack_config(path.name.removeprefix("Pulumi.").removesuffix(".yaml"), ROOT)
        spec = parse_spec(config.values, project=config.project, stack=config.stack, secret_keys=config.secret_keys)
        for index, deployment in enumerate(spec.deployments):
            found.setdefault(deployment.stage, Sample(config, index, deployment.name))
    return found


def with_values(config: StackConfig, **values: Any) -> StackConfig:
    """``config`` with top-level keys replaced (``scalepath__gateway`` for ``scalepath:gateway``)."""
    merged = dict(config.values)
    for key, value in values.items():
        merged[key.replace("__", ":")] = value if isinstance(value, str) else json.dumps(value)
    return replace(config, values=merged)


def deployments_of(config: StackConfig) -> list[dict[str, Any]]:
    """The config's ``scalepath:deployments`` as a list of mappings (to edit one)."""
    raw = config.values["scalepath:deployments"]
    return json.loads(raw) if isinstance(raw, str) else list(raw)
