"""Budget components: the amounts each cloud receives."""

from __future__ import annotations

import copy
import hashlib

import pulumi
import pytest

from components import clock
from components.budgets import (
    Alert,
    AwsBudget,
    AzureBudget,
    AzureBudgetArgs,
    BudgetArgs,
    GcpBudget,
    GcpBudgetArgs,
    alerts,
    limit_problems,
    max_notifications,
)
from scalepath.plan import run_plan
from scalepath.transition import diff
from tests.support import SHIPPED, issues, of_type, plan, stack_config


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


# -- notification caps (issue 14, item 2) ------------------------------------------------------

_CLOUD_KEYS: dict[str, dict] = {
    "aws": {"aws:region": "us-east-1"},
    "azure": {"azure-native:location": "westeurope",
              "azure-native:subscriptionId": "00000000-0000-0000-0000-000000000000"},
    "gcp": {"gcp:project": "acme-ml-dev", "gcp:region": "us-central1"},
}
_CLOUD_BUDGET = {"aws": {}, "azure": {}, "gcp": {"billingAccount": "01A2B3-C4D5E6-F7A8B9"}}


def budget_config(cloud: str, thresholds: list[int], notify: list[str]) -> dict:
    """A stack with only a budget, in ``cloud``."""
    return {**_CLOUD_KEYS[cloud], "scalepath:environment": "dev",
            "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
            "scalepath:budget": {"monthlyUsd": 1000, "alertThresholdsPct": thresholds, "notify": notify,
                                 cloud: _CLOUD_BUDGET[cloud]},
            "scalepath:deployments": []}


def planned_notifications(cloud: str, plan) -> tuple[list[tuple[float, bool]], int]:
    """``([(threshold pct, forecast?)...], addresses per notification)`` of the plan's one budget."""
    if cloud == "aws":
        [b] = of_type(plan, "aws:budgets/budget:Budget")
        found = [(n["threshold"], n["notificationType"] == "FORECASTED") for n in b.inputs["notifications"]]
        return found, max(len(n["subscriberEmailAddresses"]) for n in b.inputs["notifications"])
    if cloud == "azure":
        [b] = of_type(plan, "azure-native:consumption:Budget")
        found = [(n["threshold"], n["thresholdType"] == "Forecasted") for n in b.inputs["notifications"].values()]
        return found, max(len(n["contactEmails"]) for n in b.inputs["notifications"].values())
    [b] = of_type(plan, "gcp:billing/budget:Budget")
    found = [(round(r["thresholdPercent"] * 100), r["spendBasis"] == "FORECASTED_SPEND")
             for r in b.inputs["thresholdRules"]]
    return found, len(b.inputs["allUpdatesRule"]["monitoringNotificationChannels"])


def test_documented_caps() -> None:
    # The figures the issue found enforced: Azure 5 per budget, AWS 10 (botocore's model), GCP 5 channels.
    assert (max_notifications("azure"), max_notifications("aws"), max_notifications("gcp")) == (5, 10, None)


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
@pytest.mark.parametrize("count", [1, 3, 4, 5, 9, 10, 12])
def test_budget_fits_the_clouds_caps_or_the_key_is_refused(cloud: str, count: int) -> None:
    thresholds = [10 * (i + 1) for i in range(count)]
    cfg = budget_config(cloud, thresholds, ["ml@example.com"])
    cap = max_notifications(cloud)
    if cap is not None and count + 1 > cap:
        found = issues(cfg)
        assert list(found) == ["scalepath:budget.alertThresholdsPct"], found
        assert f"at most {cap} notifications" in found["scalepath:budget.alertThresholdsPct"]
        return
    notifications, _ = planned_notifications(cloud, plan(cfg))
    # Actual spend at every threshold, one forecast at 100%.
    assert sorted(notifications) == sorted([(t, False) for t in thresholds] + [(100, True)])
    assert cap is None or len(notifications) <= cap


def test_shipped_four_thresholds_fit_azure() -> None:
    shipped = budget_config("azure", [50, 80, 100, 120], ["a@example.com"])  # azure-prod's thresholds
    notifications, _ = planned_notifications("azure", plan(shipped))
    assert len(notifications) == 5


@pytest.mark.parametrize(("cloud", "most"), [("aws", 10), ("gcp", 5)])
def test_too_many_addresses_are_refused_where_the_api_caps_them(cloud: str, most: int) -> None:
    addresses = [f"u{i}@example.com" for i in range(most + 1)]
    found = issues(budget_config(cloud, [50, 100], addresses))
    assert list(found) == ["scalepath:budget.notify"] and f"at most {most}" in found["scalepath:budget.notify"]
    _, per_notification = planned_notifications(cloud, plan(budget_config(cloud, [50, 100], addresses[:most])))
    assert per_notification == most


# -- what each cloud's API receives, whole (issue 29: most inputs had no assertion) ------------


def _alert(emails: list[str], pct: int, kind: str) -> dict:
    return {"contactEmails": emails, "enabled": True, "operator": "GreaterThan", "threshold": pct,
            "thresholdType": kind}


def test_the_azure_budget_is_a_monthly_cost_budget_filtered_on_the_stack_tag(monkeypatch) -> None:
    # Azure Consumption Budgets: category Cost, timeGrain Monthly, a start date on the 1st of a
    # month (unset: the month of the plan, held still here), notifications keyed by name; the
    # `stack` tag filter attributes the spend.
    monkeypatch.setattr(clock, "current_month", lambda: "2026-12")
    [budget] = of_type(plan(budget_config("azure", [80, 100], ["ml@example.com"])), "azure-native:consumption:Budget")
    mail = ["ml@example.com"]
    assert budget.inputs == {
        "amount": 1000, "budgetName": "scalepath-test-monthly", "category": "Cost", "timeGrain": "Monthly",
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000000",
        "timePeriod": {"startDate": "2026-12-01T00:00:00Z"},
        "filter": {"tags": {"name": "stack", "operator": "In", "values": ["scalepath-test"]}},
        "notifications": {"actual-80pct": _alert(mail, 80, "Actual"), "actual-100pct": _alert(mail, 100, "Actual"),
                          "forecasted-100pct": _alert(mail, 100, "Forecasted")},
    }


def test_the_aws_budget_is_a_monthly_cost_budget_filtered_on_the_stack_tag() -> None:
    # AWS Budgets: a cost-allocation tag filter is spelled `user:<key>$<value>`; the amount is a string.
    [budget] = of_type(plan(budget_config("aws", [80], ["ml@example.com"])), "aws:budgets/budget:Budget")
    notification = {"comparisonOperator": "GREATER_THAN", "subscriberEmailAddresses": ["ml@example.com"],
                    "thresholdType": "PERCENTAGE"}
    assert budget.inputs == {
        "name": "scalepath-test-monthly", "budgetType": "COST", "limitAmount": "1000.00", "limitUnit": "USD",
        "timeUnit": "MONTHLY", "costFilters": [{"name": "TagKeyValue", "values": ["user:stack$scalepath-test"]}],
        "notifications": [{**notification, "notificationType": "ACTUAL", "threshold": 80},
                          {**notification, "notificationType": "FORECASTED", "threshold": 100}],
        "tags": {"team": "ml", "cost-center": "cc-1", "environment": "dev", "stack": "scalepath-test",
                 "managed-by": "scalepath"},
    }


def test_the_gcp_budget_is_a_monthly_budget_on_the_project_alerting_its_channels() -> None:
    plan_ = plan(budget_config("gcp", [80], ["ml@example.com"]))
    [budget] = of_type(plan_, "gcp:billing/budget:Budget")
    [channel] = of_type(plan_, "gcp:monitoring/notificationChannel:NotificationChannel")
    rule = budget.inputs.pop("allUpdatesRule")
    assert rule["disableDefaultIamRecipients"] is False and len(rule["monitoringNotificationChannels"]) == 1
    assert budget.inputs == {
        "billingAccount": "01A2B3-C4D5E6-F7A8B9", "displayName": "scalepath-test-monthly",
        "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "1000"}},
        # projects/<number>: the mocks' project number (scalepath/mocks.py), as the API stores it.
        "budgetFilter": {"calendarPeriod": "MONTH", "projects": ["projects/123456789012"]},
        "thresholdRules": [{"spendBasis": "CURRENT_SPEND", "thresholdPercent": 0.8},
                           {"spendBasis": "FORECASTED_SPEND", "thresholdPercent": 1}],
    }
    assert channel.inputs == {"displayName": "scalepath budget ml@example.com", "type": "email",
                              "labels": {"email_address": "ml@example.com"}, "project": "acme-ml-dev",
                              "userLabels": {"team": "ml", "cost-center": "cc-1", "environment": "dev",
                                             "stack": "scalepath-test", "managed-by": "scalepath"}}


def test_every_budget_gets_actual_alerts_and_one_forecast() -> None:
    assert alerts([50, 80]) == [Alert(50, False), Alert(80, False), Alert(100, True)]


@pytest.mark.parametrize(("cloud", "thresholds", "notify", "expected"), [
    ("azure", [10, 20, 30, 40, 50], ["a@example.com"], [(
        "alertThresholdsPct", "azure budgets take at most 5 notifications and scalepath sends one per threshold "
        "(actual spend) plus one forecast at 100%, so at most 4 thresholds (got 5); drop some thresholds")]),
    ("gcp", [80], [f"a{i}@example.com" for i in range(6)], [(
        "notify", "gcp budgets take at most 5 notification channels per budget (one per address; got 6); send "
        "to a distribution list instead")]),
    ("aws", [80], [f"a{i}@example.com" for i in range(10)], []),  # exactly at AWS's 10 subscribers
    ("aws", [80], [f"a{i}@example.com" for i in range(11)], [(
        "notify", "aws budgets take at most 10 e-mail subscribers per notification (one per address; got 11); "
        "send to a distribution list instead")]),
])
def test_limit_problems_name_the_key_and_the_cap(cloud: str, thresholds: list[int], notify: list[str],
                                                 expected: list[tuple[str, str]]) -> None:
    assert limit_problems(cloud, thresholds, notify) == expected


@pytest.mark.parametrize(("cloud", "component", "child"), [
    ("aws", "scalepath:index:AwsBudget", "aws:budgets/budget:Budget"),
    ("azure", "scalepath:index:AzureBudget", "azure-native:consumption:Budget"),
    ("gcp", "scalepath:index:GcpBudget", "gcp:billing/budget:Budget"),
])
def test_each_budget_is_one_component_owning_its_budget(cloud: str, component: str, child: str) -> None:
    # The type tokens are part of every URN: renaming one replaces the budget (DESIGN.md, conventions).
    plan_ = plan(budget_config(cloud, [80], ["ml@example.com"]))
    [owner] = of_type(plan_, component)
    [budget] = of_type(plan_, child)
    assert (owner.name, owner.parent) == (f"budget-{cloud}", "urn:pulumi:test::scalepath::pulumi:pulumi:Stack::"
                                                             "scalepath-test")
    assert (budget.name, budget.parent) == (f"budget-{cloud}-budget", owner.urn)


# -- the components on their own: options in, outputs out (issue 29: mutation survivors) -----------

_BASE = {"monthly_usd": 100, "thresholds_pct": [80], "notify": ["ml@example.com"],
         "tags": {"team": "ml", "stack": "scalepath-s1"}}


@pulumi.runtime.test
def test_each_budget_component_takes_the_callers_options_and_outputs_its_budget(recorder, monkeypatch):
    registered: dict[str, dict] = {}
    real_register = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: dict) -> None:
        registered[type(self).__name__] = outputs
        real_register(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)
    owner = pulumi.ComponentResource("scalepath:test:Owner", "owner")
    opts = pulumi.ResourceOptions(parent=owner)
    aws_budget = AwsBudget("b-aws", BudgetArgs(**_BASE), opts)
    azure_budget = AzureBudget("b-azure", AzureBudgetArgs(**_BASE, scope="/subscriptions/s", start_month="2026-12"),
                               opts)
    gcp_budget = GcpBudget("b-gcp", GcpBudgetArgs(**_BASE, billing_account="01A2B3-C4D5E6-F7A8B9", project="p",
                                                  project_number="123"), opts)

    def check(values: list) -> None:
        owner_urn, gcp_urn, aws_name, azure_id, gcp_name, *outputs = values
        parents = {r.name: r.parent for r in recorder.recorded}
        assert [parents[n] for n in ("b-aws", "b-azure", "b-gcp")] == [owner_urn] * 3
        assert parents["b-gcp-notify-0"] == gcp_urn, "the e-mail channels belong to their budget"
        # The AWS budget's name is its input; the mocks answer the ARM id of the Azure budget's name
        # (scalepath/mocks.py) and an auto-name for the GCP budget (the API assigns its own id).
        assert aws_name == "scalepath-s1-monthly"
        assert azure_id.endswith("/providers/Microsoft.Consumption/budgets/scalepath-s1-monthly"), azure_id
        assert gcp_name.startswith("b-gcp-budget-"), gcp_name
        assert outputs == [aws_name, azure_id, gcp_name]
        assert sorted(registered) == ["AwsBudget", "AzureBudget", "GcpBudget"]

    return pulumi.Output.all(owner.urn, gcp_budget.urn, aws_budget.budget_name, azure_budget.budget_id,
                             gcp_budget.budget_name,
                             registered["AwsBudget"]["budget_name"], registered["AzureBudget"]["budget_id"],
                             registered["GcpBudget"]["budget_name"]).apply(check)


@pytest.mark.parametrize(("start_month", "ignored"), [(None, ["timePeriod.startDate"]), ("2026-12", [])])
def test_an_unpinned_azure_start_month_is_kept_after_the_first_up(start_month, ignored) -> None:
    config = budget_config("azure", [80], ["ml@example.com"])
    if start_month:
        config["scalepath:budget"]["azure"] = {"startMonth": start_month}
    [budget] = of_type(plan(config), "azure-native:consumption:Budget")
    assert budget.options["ignoreChanges"] == ignored


def test_the_gcp_budget_channels_are_named_after_the_budget() -> None:
    channels = of_type(plan(budget_config("gcp", [80], ["a@example.com", "b@example.com"])),
                       "gcp:monitoring/notificationChannel:NotificationChannel")
    assert sorted(c.name for c in channels) == ["budget-gcp-notify-0", "budget-gcp-notify-1"]  # registered in any order


# -- budget names fitted to each API ----------------------------------------------------------
# The name is "<project>-<stack>-monthly": len(project) + 1 + len(stack) + 8 characters. Caps: AWS
# BudgetName 100 (botocore budgets Budget.BudgetName max), Azure budgetName 63 (ARM template
# reference), GCP displayName 60 (components/data/budget_limits.yaml). Stack names stop at 63
# characters (stacks/names.py), so only a long project name (Pulumi allows 100) reaches AWS's cap.
_BUDGET_NAME = {"aws": ("aws:budgets/budget:Budget", "name"),
                "azure": ("azure-native:consumption:Budget", "budgetName"),
                "gcp": ("gcp:billing/budget:Budget", "displayName")}
_CAP_AND_PROJECT = [pytest.param("aws", 100, "p" * 50, id="aws"), pytest.param("azure", 63, "scalepath", id="azure"),
                    pytest.param("gcp", 60, "scalepath", id="gcp")]


def planned_budget_name(cloud: str, stack: str, project: str = "scalepath") -> str:
    type_, key = _BUDGET_NAME[cloud]
    config = stack_config(budget_config(cloud, [80], ["ml@example.com"]), stack=stack, project=project)
    [budget] = of_type(run_plan(config), type_)
    return budget.inputs[key]


def fitted(whole: str, cap: int) -> str:
    """By hand: the first cap - 7 characters, "-" and the 6-hex sha256 of the whole name."""
    return f"{whole[:cap - 7]}-{hashlib.sha256(whole.encode()).hexdigest()[:6]}"


@pytest.mark.parametrize(("cloud", "cap", "project"), _CAP_AND_PROJECT)
def test_a_budget_name_of_exactly_the_cap_is_kept_as_it_is(cloud: str, cap: int, project: str) -> None:
    stack = "s" * (cap - len(project) - 10) + "x"  # aws: 50 + 1 + 41 + 8 = 100; azure: 10 + 45 + 8 = 63
    whole = f"{project}-{stack}-monthly"
    assert len(whole) == cap
    assert planned_budget_name(cloud, stack, project) == whole


@pytest.mark.parametrize(("cloud", "cap", "project"), _CAP_AND_PROJECT)
def test_a_budget_name_one_over_the_cap_is_fitted_to_it(cloud: str, cap: int, project: str) -> None:
    stack = "s" * (cap - len(project) - 9) + "x"
    whole = f"{project}-{stack}-monthly"
    assert len(whole) == cap + 1
    name = planned_budget_name(cloud, stack, project)
    assert name == fitted(whole, cap) and len(name) == cap


@pytest.mark.parametrize(("cloud", "cap", "project"), _CAP_AND_PROJECT)
def test_two_long_stack_names_that_differ_past_the_cut_keep_apart(cloud: str, cap: int, project: str) -> None:
    # 63-character stack names that differ only in their last letter, beyond the kept head.
    stacks = ["s" * 62 + "x", "s" * 62 + "y"]
    wholes = [f"{project}-{stack}-monthly" for stack in stacks]
    assert wholes[0][:cap - 7] == wholes[1][:cap - 7]
    names = [planned_budget_name(cloud, stack, project) for stack in stacks]
    assert names == [fitted(whole, cap) for whole in wholes] and names[0] != names[1]


def test_azure_budget_names_take_no_period_but_aws_ones_do() -> None:
    # Pulumi project names may hold '.', which Azure budget names refuse (alphanumerics, '-', '_').
    assert planned_budget_name("azure", "test", "acme.ml") == "acme-ml-test-monthly"
    assert planned_budget_name("aws", "test", "acme.ml") == "acme.ml-test-monthly"


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_plan_base_reports_a_renamed_budget_as_a_replacement(cloud: str) -> None:
    # Why a name that fits must stay: name / budgetName are ForceNew (components/data/replacements.yaml).
    type_, key = _BUDGET_NAME[cloud]
    base = plan(budget_config(cloud, [80], ["ml@example.com"]))
    new = copy.deepcopy(base)
    [budget] = of_type(new, type_)
    budget.inputs[key] = "renamed-monthly"
    [change] = [c for c in diff(base, new) if c.urn == budget.urn]
    assert (change.action, change.forced_by) == ("replace", [key])


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_shipped_budget_keeps_its_name(shipped_plan, stack: str) -> None:
    # AWS and Azure replace a renamed budget: fitting must leave every shipped stack's name alone.
    names = [r.inputs[key] for r in shipped_plan(stack).resources
             for type_, key in _BUDGET_NAME.values() if r.type == type_]
    assert names and names == [f"scalepath-{stack}-monthly"] * len(names)
