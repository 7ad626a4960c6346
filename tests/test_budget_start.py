"""An Azure budget never starts in a past month (issue 23, finding 8): a pinned month before the
current one is refused, and an unpinned budget starts in the month of its first `up` and keeps it."""

from __future__ import annotations

from typing import Any

import pytest

from components import clock
from stacks.errors import ConfigError
from tests.support import of_type, plan, stack_config

KEY = "scalepath:budget.azure.startMonth"


@pytest.fixture
def december(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "current_month", lambda: "2026-12")


def _config(azure: dict[str, Any]) -> dict[str, Any]:
    return {"azure-native:location": "westeurope",
            "azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000",
            "scalepath:environment": "dev", "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
            "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"], "azure": azure},
            "scalepath:deployments": []}


def _issues(azure: dict[str, Any]) -> dict[str, str]:
    try:
        stack_config(_config(azure)).spec()
    except ConfigError as error:
        return {i.path: i.message for i in error.issues}
    return {}


@pytest.mark.usefixtures("december")
@pytest.mark.parametrize(("month", "refused"), [("2026-06", True), ("2026-11", True), ("2026-12", False),
                                                ("2027-01", False)])
def test_a_start_month_before_the_current_one_is_refused(month: str, refused: bool) -> None:
    found = _issues({"startMonth": month})
    assert (KEY in found) is refused, found
    if refused:
        assert "2026-12" in found[KEY] and "Remove startMonth" in found[KEY]


@pytest.mark.usefixtures("december")
def test_unpinned_starts_this_month_and_keeps_its_date() -> None:
    assert _issues({}) == {}
    (budget,) = of_type(plan(_config({})), "azure-native:consumption:Budget")
    assert budget.inputs["timePeriod"]["startDate"] == "2026-12-01T00:00:00Z"
    assert budget.options["ignoreChanges"] == ["timePeriod.startDate"]
    (pinned,) = of_type(plan(_config({"startMonth": "2027-01"})), "azure-native:consumption:Budget")
    assert pinned.inputs["timePeriod"]["startDate"] == "2027-01-01T00:00:00Z" and not pinned.options["ignoreChanges"]
