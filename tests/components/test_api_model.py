"""Constraints read from botocore's service models, and the validator that applies them."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import pytest
from pydantic import TypeAdapter, ValidationError

from components.aws.api_model import MemberConstraints, api_constraint

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
