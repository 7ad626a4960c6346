"""The Pulumi program: spec -> budgets + one component per deployment -> stack outputs."""

from __future__ import annotations

import pulumi

from components.budgets import AwsBudget, AzureBudget, AzureBudgetArgs, BudgetArgs, GcpBudget, GcpBudgetArgs
from stacks import gcp as gcp_stack
from stacks.config import Cloud
from stacks.context import StackContext
from stacks.gateway.build import build_gateway
from stacks.parse import load_spec
from stacks.spec import StackSpec
from stacks.stages import STAGES


def compose_budgets(ctx: StackContext) -> None:
    """A budget in every cloud the stack uses."""
    spec = ctx.spec
    common = {
        "monthly_usd": spec.budget.monthly_usd,
        "thresholds_pct": spec.budget.alert_thresholds_pct,
        "notify": spec.budget.notify,
        "tags": ctx.tags(),
    }
    clouds = spec.clouds()
    if Cloud.AWS in clouds:
        AwsBudget("budget-aws", BudgetArgs(**common))
    if Cloud.AZURE in clouds:
        azure = spec.budget.azure
        assert azure is not None  # parse_spec guarantees it for an Azure stack
        scope = f"/subscriptions/{spec.targets.azure_subscription_id}"
        if azure.resource_group:
            scope += f"/resourceGroups/{azure.resource_group}"
        AzureBudget("budget-azure", AzureBudgetArgs(**common, scope=scope, start_month=azure.start_month))
    if Cloud.GCP in clouds:
        gcp = spec.budget.gcp
        assert gcp is not None  # parse_spec guarantees it for a GCP stack
        GcpBudget("budget-gcp", GcpBudgetArgs(
            **common, billing_account=gcp.billing_account, project=spec.targets.gcp_project or "",
            project_number=gcp_stack.project_number(ctx),
            # Channels are Monitoring resources: on a fresh project the API must be on first.
            depends_on=tuple(gcp_stack.services(ctx, ["monitoring.googleapis.com"]))))


def compose(spec: StackSpec) -> None:
    """Create every resource of the stack, export each deployment's outputs and the gateway's."""
    ctx = StackContext(spec)
    compose_budgets(ctx)
    exports = {}
    for deployment in spec.deployments:
        exports[deployment.name] = STAGES[deployment.stage].build(deployment, ctx)
        pulumi.export(deployment.name, exports[deployment.name])
    if spec.gateway is not None:
        pulumi.export("gateway", build_gateway(ctx, exports))
    pulumi.export("environment", spec.environment.value)


def main() -> None:
    """Entry point of ``stacks/__main__.py``: validate first, then create resources."""
    compose(load_spec())
