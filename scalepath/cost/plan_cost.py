"""The plan's ``cost`` section: a line per recorded resource, usage lines, total and budget headroom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.catalog import hourly_price
from components.vllm.cold_start import WakeProfile
from scalepath.cost import tables
from scalepath.cost.lines import Basis, CostLine, awake_hours_per_month, usage_monthly_usd
from scalepath.cost.resources import PricingContext, deployment_of, price_resource
from scalepath.cost.throughput import GIB, resolve_model
from scalepath.wire import PlannedResource
from stacks.config import DeploymentBase
from stacks.spec import StackSpec
from stacks.stages import STAGES


def serverless_usage_line(deployment: DeploymentBase, urn: str | None = None) -> CostLine:
    """Per-token cost of a serverless deployment at its ``expectedUsage``, from the cheapest
    provider its stage's price list has for its model (or the size tier of its parameter count);
    unknown when the stage names no price list."""
    usage = deployment.expected_usage
    price_list = STAGES.entry(deployment.stage).cost.token_prices

    def line(basis: Basis, value: float | None, detail: str) -> CostLine:
        return CostLine(urn, f"usage:{deployment.stage.value}", deployment.name, basis, value, value, detail,
                        deployment.name)

    if usage is None:
        return line(Basis.UNKNOWN, None, f"billed per token; set deployments[{deployment.name}].expectedUsage "
                                         "(requestsPerMonth, inputTokensPerRequest, outputTokensPerRequest)")
    if price_list is None:
        return line(Basis.UNKNOWN, None, f"billed per token, and stage {deployment.stage.value} names no price list "
                                         "(its registry entry's cost.token_prices)")
    try:
        params_b = resolve_model(deployment.model).params_b
    except ValueError:
        params_b = None
    prices = tables.token_prices(price_list)
    listed = prices.models.get(deployment.model)
    if params_b is None and not listed:
        return line(Basis.UNKNOWN, None, f"no token price for {deployment.model} and its size is unknown")
    price, source = prices.cheapest(deployment.model, params_b or 0)
    cost = usage_monthly_usd(usage.requests_per_month, usage.input_tokens_per_request,
                             usage.output_tokens_per_request, price.input_usd_per_m_tok, price.output_usd_per_m_tok)
    return line(Basis.USAGE, cost,
                f"{usage.requests_per_month:,} requests x ({usage.input_tokens_per_request} in at "
                f"${price.input_usd_per_m_tok:g} + {usage.output_tokens_per_request} out at "
                f"${price.output_usd_per_m_tok:g} per M tokens); {source}")


def adapters_line(deployment: DeploymentBase, urn: str | None = None) -> CostLine:
    """The adapters' share of the bill: no GPU-hours of their own (they ride the deployment's
    replicas), and the KV cache their GPU memory takes on each replica: the figure the GPU-fit
    check counts (``Needs.extra_gib``: vLLM's slots, or every adapter TGI loads)."""
    detail = f"{len(deployment.adapters)} LoRA adapter(s) share the deployment's replicas: no extra GPU-hours"
    try:
        size = resolve_model(deployment.model)
    except ValueError:
        size = None
    gib = max((needs.extra_gib for needs in deployment.needs()), default=0.0)
    if size is not None and gib:
        tokens = gib * GIB / size.kv_bytes_per_token
        detail += (f"; they take ~{gib:.2f} GiB of GPU memory per replica from the KV cache "
                   f"(~{tokens:,.0f} tokens of context at {size.kv_bytes_per_token / 1024:g} KiB/token)")
    return CostLine(urn, f"adapters:{deployment.stage.value}", deployment.name, Basis.NO_CHARGE, 0.0, 0.0, detail,
                    deployment.name)


def wake_line(deployment: DeploymentBase, profile: WakeProfile, region: str | None,
              urn: str | None = None) -> CostLine:
    """GPU-hours of a deployment that scales to zero (``scaling.min: 0``): its node(s) while awake, plus
    each day's wake (cold start before the first answer, idle tail after the last). Its node group line
    bills 0 nodes at min; at max that line bills every node all month, so this line adds nothing there."""
    hours = awake_hours_per_month(profile.awake_hours_per_day, profile.overhead_minutes_per_wake)
    price = hourly_price(profile.node_family, profile.node_type, region, profile.spot)
    name = f"wake:{deployment.stage.value}"
    if price is None:
        return CostLine(urn, name, deployment.name, Basis.UNKNOWN, None, 0.0,
                        f"{profile.node_type}: no price in the {profile.node_family} catalogue", deployment.name)
    monthly = price.usd * profile.nodes * hours
    return CostLine(urn, name, deployment.name, Basis.USAGE, monthly, 0.0, (
        f"scales to zero: {profile.nodes} x {profile.node_type} at {price.note} x {hours:,.0f} h/month "
        f"({profile.awake_hours_per_day:g} h awake a day (scaling.awakeHoursPerDay) + one wake a day: "
        f"{profile.cold_start.total_seconds / 60:.0f} min cold start, {profile.idle_tail_seconds / 60:.0f} min "
        "idle before the node goes)"), deployment.name)


def wake_report(spec: StackSpec) -> list[dict[str, Any]]:
    """The plan JSON ``wake`` list: each deployment that scales to zero, its cold start by part and the
    hours it bills (docs/architecture.md, "Interface contracts")."""
    out = []
    for deployment in spec.deployments:
        profile = deployment.wake_profile()
        if profile is None:
            continue
        out.append({"deployment": deployment.name, "coldStart": profile.cold_start.to_json(),
                    "awakeHoursPerDay": profile.awake_hours_per_day,
                    "idleTailSeconds": round(profile.idle_tail_seconds),
                    "billedHoursPerMonth": round(awake_hours_per_month(
                        profile.awake_hours_per_day, profile.overhead_minutes_per_wake), 1)})
    return out


def estimate(resources: Sequence[PlannedResource], spec: StackSpec) -> dict[str, Any]:
    """The plan JSON ``cost`` object for ``resources`` recorded from ``spec``."""
    ctx = PricingContext(
        resources=resources,
        default_region={"aws": spec.targets.aws_region, "gcp": spec.targets.gcp_region,
                        "azure": spec.targets.azure_location},
        usage={d.name: d.expected_usage for d in spec.deployments if d.expected_usage is not None},
    )
    lines = [price_resource(r, ctx) for r in resources if r.custom]
    first_urn: dict[str | None, str] = {}
    for resource in resources:
        first_urn.setdefault(deployment_of(resource.inputs), resource.urn)
    for deployment in spec.deployments:
        if STAGES.entry(deployment.stage).usage_priced:
            lines.append(serverless_usage_line(deployment, first_urn.get(deployment.name)))
        if deployment.adapters:
            lines.append(adapters_line(deployment, first_urn.get(deployment.name)))
        profile = deployment.wake_profile()
        if profile is not None:
            (cloud,) = deployment.clouds()
            lines.append(wake_line(deployment, profile, ctx.default_region.get(cloud.value),
                                   first_urn.get(deployment.name)))
    return summarise(lines, spec.budget.monthly_usd)


def summarise(lines: Sequence[CostLine], budget_usd: float) -> dict[str, Any]:
    """Totals of the lines with a figure, budget headroom and warnings."""
    total = sum(line.monthly_usd for line in lines if line.monthly_usd is not None)
    at_max = sum(line.at_max_usd for line in lines if line.at_max_usd is not None)
    unpriced = [line.urn or line.name for line in lines if line.basis is Basis.UNKNOWN]
    warnings = []
    if unpriced:
        warnings.append(f"{len(unpriced)} resource(s) have no known price; the totals are lower bounds")
    if total > budget_usd:
        warnings.append(f"estimated ${total:,.2f}/month at min replicas exceeds the budget "
                        f"(${budget_usd:,.2f}/month)")
    elif at_max > budget_usd:
        warnings.append(f"at max replicas the estimate (${at_max:,.2f}/month) exceeds the budget "
                        f"(${budget_usd:,.2f}/month)")
    return {
        "monthly_usd": round(total, 2),
        "at_max_usd": round(at_max, 2),
        "currency": "USD",
        "complete": not unpriced,
        "unpriced": unpriced,
        "budget": {"monthly_usd": budget_usd, "headroom_usd": round(budget_usd - total, 2),
                   "headroom_at_max_usd": round(budget_usd - at_max, 2)},
        "warnings": warnings,
        "lines": [line.to_json() for line in lines],
    }
