"""budget-per-stack: each cloud the stack spends in has a budget that alerts someone."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import cloud_of, get, items, number

BUDGET_TYPES = {
    "aws": "aws:budgets/budget:Budget",
    "azure": "azure-native:consumption:Budget",
    "gcp": "gcp:billing/budget:Budget",
}


def _amount_usd(budget: PolicyResource) -> float | None:
    """The fixed monthly amount in USD, or None when the budget has none we can compare."""
    props = budget.props
    if budget.resource_type == BUDGET_TYPES["aws"]:
        unit = get(props, "limitUnit", "USD")
        return number(get(props, "limitAmount")) if unit == "USD" else None
    if budget.resource_type == BUDGET_TYPES["azure"]:
        return number(get(props, "amount"))  # Azure budgets are in the billing currency
    specified = get(props, "amount.specifiedAmount")
    if specified is None or get(specified, "currencyCode", "USD") != "USD":
        return None
    units = number(get(specified, "units", "0")) or 0.0
    return units + (number(get(specified, "nanos", 0)) or 0.0) / 1e9


def _notifications(budget: PolicyResource) -> int:
    """How many alert rules reach at least one recipient."""
    props = budget.props
    if budget.resource_type == BUDGET_TYPES["aws"]:
        return sum(1 for n in items(get(props, "notifications"))
                   if items(get(n, "subscriberEmailAddresses")) or items(get(n, "subscriberSnsTopicArns")))
    if budget.resource_type == BUDGET_TYPES["azure"]:
        notifications: Any = get(props, "notifications", {})
        return sum(1 for key in notifications
                   if get(notifications[key], "enabled", True)
                   and any(items(get(notifications[key], f))
                           for f in ("contactEmails", "contactGroups", "contactRoles")))
    rule = get(props, "allUpdatesRule", {})
    reaches_someone = (items(get(rule, "monitoringNotificationChannels")) or get(rule, "pubsubTopic")
                       or not get(rule, "disableDefaultIamRecipients", False))
    return len(items(get(props, "thresholdRules"))) if reaches_someone else 0


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    cap = config.get("maxMonthlyUsd", 10000)
    minimum = config.get("minNotifications", 1)
    used: set[str] = set()
    budgets: dict[str, list[PolicyResource]] = defaultdict(list)
    for resource in args.resources:
        cloud = cloud_of(resource.resource_type)
        if cloud:
            used.add(cloud)
        if resource.resource_type in BUDGET_TYPES.values():
            budgets[cloud or ""].append(resource)
    for cloud in sorted(used):
        if not budgets[cloud]:
            report_violation(f"The stack creates {cloud} resources but has no `{BUDGET_TYPES[cloud]}`.", None)
        for budget in budgets[cloud]:
            amount = _amount_usd(budget)
            if amount is None:
                report_violation("The budget has no fixed monthly amount in USD to check against the cap.", budget.urn)
            elif amount > cap:
                report_violation(f"The budget amount ${amount:,.2f} exceeds this environment's cap of ${cap:,.2f}.",
                                 budget.urn)
            count = _notifications(budget)
            if count < minimum:
                report_violation(f"The budget has {count} alert notification(s) with a recipient; "
                                 f"at least {minimum:g} required.", budget.urn)


POLICY = StackValidationPolicy(
    name="budget-per-stack",
    description="Every cloud the stack uses has a budget with alerts, within the environment's cap.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "maxMonthlyUsd": {"type": "number", "exclusiveMinimum": 0, "default": 10000,
                          "description": "Largest monthly budget amount allowed in this environment (USD)."},
        "minNotifications": {"type": "integer", "minimum": 1, "default": 1,
                             "description": "Fewest alert notifications (with a recipient) per budget."},
    }),
    remediation_steps=(
        "Set `scalepath:budget` (monthlyUsd within the cap, notify, alertThresholdsPct); stacks/program.py "
        "creates one budget per cloud the deployments use. Raise the cap in "
        "policies/config/<environment>.json only with finance's agreement."
    ),
)
