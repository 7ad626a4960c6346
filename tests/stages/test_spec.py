"""Config parsing: shipped environments parse; bad configs name the key path and the fix."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from scalepath.stackconfig import load_stack_config
from stacks.config import Scaling, Stage
from stacks.errors import ConfigError
from stacks.model import ConfigModel
from stacks.parse import issues_from, parse_spec
from tests.support import ROOT, SHIPPED


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_environment_parses(stack: str) -> None:
    config = load_stack_config(stack, ROOT)
    spec = parse_spec(config.values, project="scalepath", stack=stack,
                      secret_keys=config.secret_keys)
    assert spec.environment.value in ("dev", "staging", "prod")
    assert spec.clouds(), "every shipped stack has at least one budgeted cloud"



@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=1, max_value=1000))
def test_scaling_accepts_exactly_max_not_below_min(low: int, high: int) -> None:
    if high >= low:
        assert Scaling(min=low, max=high).max == high
    else:
        with pytest.raises(ValidationError) as caught:
            Scaling(min=low, max=high)
        (issue,) = issues_from(caught.value, Scaling, ("deployments", 3, "scaling"))
        assert issue.path == "scalepath:deployments[3].scaling"
        assert f"max ({high}) must be >= min ({low})" in issue.message


@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_no_replica_count(flag: bool) -> None:
    # YAML `min: false` would be read as 0 replicas (scale to zero) by pydantic's lax mode (issue 29).
    with pytest.raises(ValidationError) as caught:
        Scaling(min=flag, max=2)
    (issue,) = issues_from(caught.value, Scaling, ("deployments", 0, "scaling"))
    assert issue.path == "scalepath:deployments[0].scaling.min"
    assert "expected a number, not true/false" in issue.message
    assert Scaling(min=0, max=2).min == 0  # a real 0 stays allowed


class _Mixed(ConfigModel):
    """Fields where a boolean is a legitimate value beside numbers, and one where it is not."""

    count: int = 0
    flag_or_count: bool | int = 0
    bounded: Annotated[int | bool, Field(ge=0)] = 0
    free: Any = None


def test_a_boolean_stays_allowed_where_the_type_admits_one() -> None:
    assert _Mixed(flag_or_count=True).flag_or_count is True
    assert _Mixed(bounded=False).bounded is False
    assert _Mixed(free=True).free is True
    with pytest.raises(ValidationError, match="expected a number, not true/false"):
        _Mixed(count=True)


def test_a_boolean_in_a_list_of_numbers_is_refused(base_config) -> None:
    config = {**base_config, "scalepath:budget": {**base_config["scalepath:budget"], "alertThresholdsPct": [80, False]}}
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    assert [i.path for i in caught.value.issues] == ["scalepath:budget.alertThresholdsPct"]


def test_unknown_stage_and_unavailable_stage_messages(base_config) -> None:
    config = dict(base_config)
    config["scalepath:deployments"] = [{"name": "a", "model": "o/m", "stage": "warp"}]
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    (issue,) = caught.value.issues
    assert issue.path == "scalepath:deployments[0].stage"
    # Every stage is named, whichever stages a later change adds (docs/adding-a-stage.md).
    assert issue.message.startswith("unknown stage 'warp'; allowed: hf-serverless, hf-endpoint, ")
    assert set(issue.message.split("allowed: ")[1].split(", ")) == {s.value for s in Stage}


def test_every_problem_is_reported_at_once(base_config) -> None:
    config = {**base_config, "scalepath:environment": "qa",
              "scalepath:budget": {"monthlyUsd": 0, "notify": [], "aws": {}},
              "scalepath:tags": {"team": "ml"}}
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    paths = {i.path for i in caught.value.issues}
    assert paths == {"scalepath:environment", "scalepath:budget.monthlyUsd",
                     "scalepath:budget.notify", "scalepath:tags"}


def test_gcp_stack_needs_billing_account_and_targets(base_config) -> None:
    config = {**base_config, "scalepath:budget": {"monthlyUsd": 5, "notify": ["a@b.co"],
                                                  "gcp": {"billingAccount": "bad"}}}
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    assert [i.path for i in caught.value.issues] == ["scalepath:budget.gcp.billingAccount"]
    config["scalepath:budget"]["gcp"]["billingAccount"] = "01ABCD-23EF45-6789AB"
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    assert {i.path for i in caught.value.issues} == {"gcp:project", "gcp:region"}


@pytest.mark.parametrize("key", ["Team", "cost center", "a@", "1st", "x" * 64, ""])
def test_tag_keys_must_be_valid_on_every_platform(base_config, key: str) -> None:
    # Normalising such keys per cloud could merge two of them ("Team"/"team") or empty one ("@").
    config = {**base_config, "scalepath:tags": {"team": "ml", "cost-center": "cc-1", key: "v"}}
    with pytest.raises(ConfigError) as caught:
        parse_spec(config, project="p", stack="s")
    (issue,) = caught.value.issues
    assert issue.path == "scalepath:tags" and repr(key) in issue.message
