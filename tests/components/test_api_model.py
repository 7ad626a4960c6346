"""Constraints read from botocore's service models, and the validator that applies them."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Annotated

import botocore.session
import pytest
from pydantic import TypeAdapter, ValidationError

from components.aws.api_model import MemberConstraints, api_constraint, constraints

ROOT = Path(__file__).resolve().parents[2]

WAIT = ("sagemaker", "TrafficRoutingConfig", "WaitIntervalInSeconds")
"""botocore's sagemaker model: an integer, min 0, max 3600."""


def test_a_field_with_an_api_constraint_takes_the_api_range_and_refuses_beyond_it() -> None:
    field = api_constraint(*WAIT)
    adapter = TypeAdapter(Annotated[int | None, field])
    assert [adapter.validate_python(v) for v in (0, 3600, None)] == [0, 3600, None]  # at both bounds; unset
    botocore = metadata.version("botocore")
    for value, problem in ((3601, "value 3601 is above the API maximum 3600"),
                           (-1, "value -1 is below the API minimum 0")):
        with pytest.raises(ValidationError) as caught:
            adapter.validate_python(value)
        assert caught.value.errors()[0]["ctx"]["error"].args == (
            f"{problem} (AWS API sagemaker TrafficRoutingConfig.WaitIntervalInSeconds, botocore {botocore})",)
    assert field.func.api_member == WAIT  # how tests find every reference


def test_member_constraints_at_their_edges() -> None:
    name = MemberConstraints("sagemaker", "S", "Name", "string", min=2, max=4, pattern="[a-z]+")
    assert [name.problem(v) for v in ("ab", "abcd")] == [None, None]
    assert name._problem("a") == "length 1 is below the API minimum 2"
    assert name._problem("abcde") == "length 5 is above the API maximum 4"
    assert name._problem("ab1") == "'ab1' does not match the API pattern '[a-z]+'"  # the whole value must match
    assert name._problem(["a", "b", "c", "d", "e"]) == "length 5 is above the API maximum 4"
    count = MemberConstraints("sagemaker", "S", "Count", "integer", min=2)  # True reads as 1, below it
    assert count._problem(True) is None, "a boolean is not a count (the config base refuses it)"
    assert count._problem(1) == "value 1 is below the API minimum 2"
    kind = MemberConstraints("sagemaker", "S", "Kind", "string", enum=("A", "B"))
    assert (kind._problem("B"), kind._problem("C")) == (None, "'C' is not accepted by the API")
    assert kind.where == "sagemaker S.Kind"


def test_the_budget_name_pattern_is_checked_as_aws_checks_it() -> None:
    """botocore's budgets ``Budget.BudgetName`` pattern has ``(?i)`` in mid-pattern, which Python's
    ``re`` refuses as written. AWS's (Java) engine applies it from there to the end of the lookahead."""
    name = constraints("budgets", "Budget", "BudgetName")
    assert "(?i)" in name.pattern and not name.pattern.startswith("(?i)")  # still the case this test is about
    assert name.problem("ok-name") is None
    assert name.problem("<script>x</script>") is not None
    assert name.problem("pre <SCRIPT>x</SCRIPT> post") is not None, "the flag makes the <script> check case-blind"
    assert name.problem("a/action/b") is not None
    # The flag starts after the '/action/' alternative: that one stays case-sensitive in Java, so a
    # translation that moved (?i) to the front would refuse this name, which AWS accepts.
    assert name.problem("a/ACTION/b") is None
    assert name.problem("a:b") is not None and name.problem("a\\b") is not None  # [^:\\]+


def _services_read() -> set[str]:
    """Every service whose model the code reads (``api_constraint("svc", ...)``, ``constraints("svc", ...)``)."""
    call = re.compile(r"\b(?:api_constraint|constraints)\(\s*\"([a-z0-9-]+)\"")
    return {service for folder in ("components", "stacks", "scalepath")
            for path in (ROOT / folder).rglob("*.py") for service in call.findall(path.read_text())}


def test_every_pattern_of_the_models_read_is_checkable() -> None:
    """The checker can meet any member of these models: none of their patterns may crash it."""
    services = _services_read()
    assert {"sagemaker", "budgets"} <= services
    session = botocore.session.Session()
    checked = 0
    for service in sorted(services):
        model = session.get_service_model(service)
        for shape in model.shape_names:
            pattern = model.shape_for(shape).metadata.get("pattern")
            if pattern is not None:
                # Raises (re.error, ValueError) for a pattern the checker cannot read.
                MemberConstraints(service, shape, "Value", "string", pattern=pattern).problem("\x00")
                checked += 1
    assert checked > 500  # sagemaker alone has over 500 patterns (botocore 1.44)
