"""Monthly cost budgets with e-mail alerts, one component per cloud.

AWS and Azure budgets watch only this stack's spend: they filter on the ``stack``
cost-allocation tag that :mod:`components.tagging` puts on every resource. GCP budgets filter
on the stack's project instead: Vertex Model Garden endpoints cannot carry labels, so a label
filter would miss the stack's largest cost.

Every budget sends the same alerts (:func:`alerts`): one on actual spend per threshold, and
one on forecasted spend at 100% of the amount. The budget APIs cap notifications per budget
(``components/data/budget_limits.yaml``); :func:`limit_problems` says what a config would
break, and the config parser refuses it before any resource exists. Every budget is named
``<stack tag>-monthly``, fitted to what its API takes (:func:`budget_name`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from components import clock
from components.aws.api_model import constraints
from components.files import load_data
from components.gcp.monitoring import email_channels
from components.names import fit_name
from components.tagging import aws_tags, gcp_labels

_LIMITS_FILE = Path(__file__).parent / "data" / "budget_limits.yaml"

#: The forecast alert fires when spend is forecast to pass the whole amount.
FORECAST_PCT = 100


@dataclass(frozen=True)
class Alert:
    """One budget notification."""

    pct: int
    """Percent of the budget amount."""
    forecast: bool
    """On forecasted spend (``True``) or on actual spend."""


def alerts(thresholds_pct: Sequence[int]) -> list[Alert]:
    """The notifications every budget gets: actual spend at each threshold, plus forecasted
    spend at :data:`FORECAST_PCT` (one forecast, not one per threshold, so that four
    thresholds fit Azure's five notifications)."""
    return [*(Alert(pct, False) for pct in thresholds_pct), Alert(FORECAST_PCT, True)]


@cache
def _limits() -> dict:
    return load_data(_LIMITS_FILE)


@cache
def max_notifications(cloud: str) -> int | None:
    """Notifications one budget of ``cloud`` accepts; ``None`` where no cap is documented (GCP).
    AWS's comes from botocore's budgets service model, not from a copied number."""
    if cloud == "aws":
        cap = constraints("budgets", "CreateBudgetRequest", "NotificationsWithSubscribers").max
        return None if cap is None else int(cap)
    return _limits()[cloud].get("maxNotifications")


#: Per cloud: the data key capping the addresses one budget can notify, and what it counts.
_ADDRESS_CAPS = {"aws": ("maxEmailSubscribersPerNotification", "e-mail subscribers per notification"),
                 "gcp": ("maxNotificationChannels", "notification channels per budget")}


def limit_problems(cloud: str, thresholds_pct: Sequence[int], notify: Sequence[str]) -> list[tuple[str, str]]:
    """``(budget key, message)`` for each notification cap of ``cloud`` (``aws``, ``azure``,
    ``gcp``) that these thresholds or addresses would exceed."""
    problems = []
    cap = max_notifications(cloud)
    if cap is not None and len(alerts(thresholds_pct)) > cap:
        problems.append(("alertThresholdsPct", (
            f"{cloud} budgets take at most {cap} notifications and scalepath sends one per threshold "
            f"(actual spend) plus one forecast at {FORECAST_PCT}%, so at most {cap - 1} thresholds "
            f"(got {len(thresholds_pct)}); drop some thresholds")))
    if cloud in _ADDRESS_CAPS:
        key, what = _ADDRESS_CAPS[cloud]
        most = _limits()[cloud][key]
        if len(notify) > most:
            problems.append(("notify", f"{cloud} budgets take at most {most} {what} (one per address; got "
                                       f"{len(notify)}); send to a distribution list instead"))
    return problems


@dataclass(frozen=True, kw_only=True)
class BudgetArgs:
    """What every budget needs, whatever the cloud."""

    monthly_usd: float
    """Budget amount per calendar month, in US dollars."""
    thresholds_pct: Sequence[int]
    """Alert at each of these percentages of the amount (e.g. 50, 80, 100)."""
    notify: Sequence[str]
    """E-mail addresses that receive the alerts."""
    tags: Mapping[str, str]
    """Logical cost tags (:func:`components.tagging.cost_tags`); ``stack`` is the filter key."""


@dataclass(frozen=True, kw_only=True)
class AzureBudgetArgs(BudgetArgs):
    """An Azure budget: the scope and first month are Azure-specific."""

    scope: str
    """``/subscriptions/<id>`` or ``/subscriptions/<id>/resourceGroups/<name>``."""
    start_month: str | None
    """First month the budget runs, ``YYYY-MM`` (Azure needs the first day of a month); None: the
    month of the first ``up``, kept afterwards (a pinned month rots: Azure refuses a start before
    the current period for a new budget)."""


@dataclass(frozen=True, kw_only=True)
class GcpBudgetArgs(BudgetArgs):
    """A GCP budget lives on a billing account and notifies through Monitoring channels."""

    billing_account: str
    """Billing account id, ``XXXXXX-XXXXXX-XXXXXX``."""
    project: str
    """Project whose spend is budgeted; it also holds the e-mail notification channels."""
    project_number: pulumi.Input[str]
    """That project's number: the budget API stores its filter as ``projects/<number>``."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the channels wait for: the project's ``monitoring.googleapis.com`` service."""


def _stack_tag(tags: Mapping[str, str]) -> str:
    return tags["stack"]


#: Per cloud: the data key capping a budget's name (AWS's cap is read from botocore).
_NAME_CAPS = {"azure": "maxNameChars", "gcp": "maxDisplayNameChars"}


@cache
def max_name_chars(cloud: str) -> int:
    """Characters a budget name of ``cloud`` takes: AWS ``Budget.BudgetName`` from botocore's budgets
    model, Azure's ``budgetName`` and GCP's ``displayName`` from ``budget_limits.yaml``."""
    if cloud == "aws":
        return int(constraints("budgets", "Budget", "BudgetName").max)
    return _limits()[cloud][_NAME_CAPS[cloud]]


def budget_name(cloud: str, tags: Mapping[str, str]) -> str:
    """``<stack tag>-monthly`` as ``cloud``'s budget API takes it: characters it refuses become ``-``
    and a longer name keeps its head and a hash of the whole (``fit_name``), so two long stack names
    stay apart. A name that fits is kept as it is: AWS and Azure replace a renamed budget."""
    name = f"{_stack_tag(tags)}-monthly"
    refused = _limits()[cloud].get("nameRefused")
    return fit_name(re.sub(refused, "-", name) if refused else name, max_name_chars(cloud))


class AwsBudget(pulumi.ComponentResource):
    """An AWS Budgets cost budget filtered on this stack's ``stack`` tag."""

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:AwsBudget", name, None, opts)
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type="FORECASTED" if alert.forecast else "ACTUAL",
                threshold=float(alert.pct),
                threshold_type="PERCENTAGE",
                subscriber_email_addresses=list(args.notify),
            )
            for alert in alerts(args.thresholds_pct)
        ]
        budget = aws.budgets.Budget(
            f"{name}-budget",
            name=budget_name("aws", args.tags),
            budget_type="COST",
            limit_amount=f"{args.monthly_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            # "user:<key>$<value>" is how AWS Budgets names a cost-allocation tag filter;
            # the `stack` tag must be activated as a cost-allocation tag in the payer account.
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:stack${_stack_tag(args.tags)}"]
                )
            ],
            notifications=notifications,
            tags=aws_tags(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": self.budget_name})


class AzureBudget(pulumi.ComponentResource):
    """An Azure Cost Management budget at subscription or resource-group scope."""

    budget_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureBudgetArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("scalepath:index:AzureBudget", name, None, opts)
        notifications = {
            f"{'forecasted' if alert.forecast else 'actual'}-{alert.pct}pct": azure_native.consumption.NotificationArgs(
                enabled=True,
                operator="GreaterThan",
                threshold=float(alert.pct),
                threshold_type="Forecasted" if alert.forecast else "Actual",
                contact_emails=list(args.notify),
            )
            for alert in alerts(args.thresholds_pct)
        }
        # Budgets are not tracked ARM resources and take no tags; the filter does the attribution.
        budget = azure_native.consumption.Budget(
            f"{name}-budget",
            budget_name=budget_name("azure", args.tags),
            scope=args.scope,
            amount=args.monthly_usd,
            category="Cost",
            time_grain="Monthly",
            time_period=azure_native.consumption.BudgetTimePeriodArgs(
                start_date=f"{args.start_month or clock.current_month()}-01T00:00:00Z"
            ),
            filter=azure_native.consumption.BudgetFilterArgs(
                tags=azure_native.consumption.BudgetComparisonExpressionArgs(
                    name="stack", operator="In", values=[_stack_tag(args.tags)]
                )
            ),
            notifications=notifications,
            # Unpinned, the start is the month of the first `up`: later runs keep it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=(
                [] if args.start_month else ["timePeriod.startDate"])),
        )
        self.budget_id = budget.id
        self.register_outputs({"budget_id": self.budget_id})


class GcpBudget(pulumi.ComponentResource):
    """A Cloud Billing budget on the stack's project, alerting by e-mail channels."""

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:GcpBudget", name, None, opts)
        labels = gcp_labels(args.tags)
        channels = email_channels(
            name, project=args.project, addresses=args.notify, labels=labels,
            purpose="budget", parent=self, depends_on=args.depends_on,
        )
        cents = round(args.monthly_usd * 100)  # to the cent, as the AWS budget's limit_amount
        budget = gcp.billing.Budget(
            f"{name}-budget",
            billing_account=args.billing_account,
            display_name=budget_name("gcp", args.tags),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code="USD", units=str(cents // 100),
                    # Money is units + nanos: without them 99.5 would be a $99 budget, 0.5 a $0 one.
                    nanos=(cents % 100) * 10_000_000 if cents % 100 else None,
                )
            ),
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                calendar_period="MONTH",
                # The API stores projects/<number>; an id is accepted but read back as a diff.
                projects=[pulumi.Output.concat("projects/", args.project_number)],
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(
                    threshold_percent=alert.pct / 100,
                    spend_basis="FORECASTED_SPEND" if alert.forecast else "CURRENT_SPEND")
                for alert in alerts(args.thresholds_pct)
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                monitoring_notification_channels=[c.name for c in channels],
                disable_default_iam_recipients=False,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": self.budget_name})
