"""Budget components: the amounts each cloud receives."""

from __future__ import annotations

import pytest

from scalepath.plan import run_plan
from tests.support import stack_config


@pytest.mark.parametrize(("monthly", "units", "nanos"), [(500, "500", None), (99.5, "99", 500_000_000),
                                                         (0.75, "0", 750_000_000), (12.34, "12", 340_000_000)])
def test_gcp_budget_keeps_the_cents(monthly: float, units: str, nanos: int | None) -> None:
    plan = run_plan(stack_config({
        "gcp:project": "acme-ml-dev", "gcp:region": "us-central1", "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": monthly, "notify": ["ml@example.com"],
                             "gcp": {"billingAccount": "01A2B3-C4D5E6-F7A8B9"}},
        "scalepath:deployments": [],
    }))
    [budget] = [r for r in plan.resources if r.type == "gcp:billing/budget:Budget"]
    amount = budget.inputs["amount"]["specifiedAmount"]
    assert (amount["currencyCode"], amount["units"], amount.get("nanos")) == ("USD", units, nanos)


def test_gcp_budget_channels_wait_for_the_monitoring_api() -> None:
    plan = run_plan(stack_config({
        "gcp:project": "acme-ml-dev", "gcp:region": "us-central1", "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["ml@example.com", "ops@example.com"],
                             "gcp": {"billingAccount": "01A2B3-C4D5E6-F7A8B9"}},
        "scalepath:deployments": [],
    }))
    [api] = [r for r in plan.resources if r.type == "gcp:projects/service:Service"
             and r.inputs["service"] == "monitoring.googleapis.com"]
    channels = [r for r in plan.resources if r.type == "gcp:monitoring/notificationChannel:NotificationChannel"]
    assert len(channels) == 2 and all(api.urn in c.dependencies for c in channels)
