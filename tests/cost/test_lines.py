"""The arithmetic every estimate shares, at its edges (hand-computed figures)."""

from __future__ import annotations

import pytest

from scalepath.cost.lines import Basis, CostLine, awake_hours_per_month, instance_monthly_usd, usage_monthly_usd


def test_instance_hours_accept_zero_and_refuse_any_negative_factor() -> None:
    assert instance_monthly_usd(1.006, 2) == pytest.approx(1468.76)  # 1.006 x 2 x 730
    # Zero is a figure (a scaled-to-zero minimum, a free tier), not an error: exactly at the bound.
    assert instance_monthly_usd(1.0, 0) == instance_monthly_usd(1.0, 1, hours=0) == instance_monthly_usd(0.0, 1) == 0
    for price, count, hours in ((-0.01, 1, 730), (1.0, -1, 730), (1.0, 1, -1)):
        with pytest.raises(ValueError, match="^count, hours and price must not be negative$"):
            instance_monthly_usd(price, count, hours)


def test_usage_is_priced_per_million_tokens() -> None:
    # 1M requests x (1,000 input tokens x $0.50/M + 500 output tokens x $1.50/M) = 1M x $0.00125 = $1,250.
    assert usage_monthly_usd(1_000_000, 1_000, 500, 0.5, 1.5) == 1250.0


def test_a_cost_line_as_json_is_rounded_to_the_cent() -> None:
    line = CostLine(urn="urn:pulumi:dev::scalepath::aws:sagemaker/endpoint:Endpoint::chat", type="aws:sagemaker/"
                    "endpoint:Endpoint", name="chat", basis=Basis.INSTANCES, monthly_usd=1468.7649,
                    at_max_usd=2937.5251, detail="2 x ml.g5.xlarge", deployment="chat")
    assert line.to_json() == {"urn": "urn:pulumi:dev::scalepath::aws:sagemaker/endpoint:Endpoint::chat",
                              "type": "aws:sagemaker/endpoint:Endpoint", "name": "chat", "deployment": "chat",
                              "basis": "instances", "monthly_usd": 1468.76, "at_max_usd": 2937.53,
                              "detail": "2 x ml.g5.xlarge"}
    unknown = CostLine(urn=None, type="t", name="n", basis=Basis.UNKNOWN, monthly_usd=None, at_max_usd=None, detail="")
    assert (unknown.to_json()["monthly_usd"], unknown.to_json()["at_max_usd"]) == (None, None)


def test_awake_hours_accept_zero_and_refuse_negatives() -> None:
    # 730 / 24 x (0 busy hours + 0 minutes) = 0: a replica that never wakes bills nothing.
    assert awake_hours_per_month(0, 0) == 0
    assert awake_hours_per_month(0, 60) == pytest.approx(730 / 24)  # one hour of overhead a day
    for busy, overhead in ((-0.5, 0), (0, -1)):
        with pytest.raises(ValueError, match="^hours and minutes must not be negative$"):
            awake_hours_per_month(busy, overhead)
