"""Config parsing: shipped environments parse; bad configs name the key path and the fix."""

from __future__ import annotations

import pytest

from scalepath.stackconfig import load_stack_config
from stacks.errors import ConfigError
from stacks.spec import parse_spec
from tests.conftest import ROOT

SHIPPED = sorted(p.name.split(".")[1] for p in (ROOT / "environments").glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_environment_parses(stack: str) -> None:
    config = load_stack_config(stack, ROOT)
    spec = parse_spec(config.values, project="scalepath", stack=stack,
                      secret_keys=config.secret_keys)
    assert spec.environment.value in ("dev", "staging", "prod")
    assert spec.clouds(), "every shipped stack has at least one budgeted cloud"
