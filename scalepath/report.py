"""Readable rendering of a plan: the resource tree, violations and cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from components.token_shapes import redact

if TYPE_CHECKING:  # for annotations only: `plan` never loads the promotion client
    from scalepath.cost.advisor import Advice
    from scalepath.plan import Plan
    from scalepath.promote.command import Promotion
    from scalepath.transition import Transition


def render_plan(plan: Plan, console: Console) -> None:
    """Print the resource tree (components with their children), then violations and cost."""
    root = Tree(f"[bold]{plan.project}/{plan.stack}[/] — {len(plan.resources)} resources")
    nodes = {}
    for resource in plan.resources:
        label = f"{resource.type} [cyan]{resource.name}[/]"
        parent = nodes.get(resource.parent, root)
        nodes[resource.urn] = parent.add(label if resource.custom else f"[bold]{label}[/]")
    console.print(root)

    if plan.violations:
        table = Table("level", "policy", "resource", "message", title="Policy violations")
        for v in plan.violations:
            style = "red" if v["level"] == "mandatory" else "yellow"
            table.add_row(f"[{style}]{v['level']}[/]", v["policy"], v.get("urn") or "(stack)", v["message"])
        console.print(table)
        for policy, steps in plan.policy_help.items():
            console.print(f"[bold]{policy}[/]: {steps}", highlight=False)
    else:
        console.print("[green]No policy violations.[/]")

    render_cost(plan.cost, console)
    for wake in plan.wake:
        cold = wake["coldStart"]
        weights = "size unknown" if cold["weightsLoadSeconds"] is None else \
            f"{cold['weightsLoadSeconds']} s for {cold['weightsGB']:g} GB"
        console.print(f"{wake['deployment']} scales to zero: cold start ~{cold['totalSeconds'] / 60:.0f} min (node "
                      f"{cold['nodeProvisionSeconds']} s, image {cold['imagePullSeconds']} s, weights {weights}, "
                      f"engine {cold['engineStartSeconds']} s); the route's fallback answers meanwhile; GPU billed "
                      f"~{wake['billedHoursPerMonth']:g} h/month", highlight=False)
    if plan.placeholder_secrets:
        console.print(f"[yellow]warning:[/] not ciphertext yet: {', '.join(plan.placeholder_secrets)}; `pulumi "
                      f"preview` cannot decrypt {'it' if len(plan.placeholder_secrets) == 1 else 'them'} until set "
                      f"(`scalepath secrets --stack {plan.stack}` prints the commands)", highlight=False)


def render_cost(cost: dict, console: Console) -> None:
    """Cost lines that bill (or whose price is unknown), totals, budget headroom and warnings."""
    billed = [line for line in cost.get("lines", []) if line["basis"] != "no-charge"]
    if billed:
        table = Table("resource", "basis", "at min $/month", "at max $/month", "how", title="Estimated cost")
        for line in billed:
            unknown = "by use" if line["basis"] == "metered" else "unknown"
            table.add_row(line["name"], line["basis"], _usd(line["monthly_usd"], unknown),
                          _usd(line["at_max_usd"], unknown), line["detail"])
        console.print(table)
    free = len(cost.get("lines", [])) - len(billed)
    if cost.get("monthly_usd") is None:
        return
    console.print(f"Estimated monthly cost: [bold]${cost['monthly_usd']:,.2f}[/] at min replicas, "
                  f"${cost['at_max_usd']:,.2f} at max ({free} resource(s) bill nothing by themselves)")
    budget = cost.get("budget")
    if budget:
        console.print(f"Budget ${budget['monthly_usd']:,.2f}/month: headroom ${budget['headroom_usd']:,.2f} "
                      f"(${budget['headroom_at_max_usd']:,.2f} at max)")
    for warning in cost.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")


def _usd(value: float | None, unknown: str) -> str:
    return unknown if value is None else f"{value:,.2f}"


def render_advice(advice: Advice, console: Console) -> None:
    """Cost per stage at each volume, the crossovers and the recommendation with its reasons."""
    w = advice.workload
    console.print(f"[bold]{w.model.name}[/] ({w.model.params_b:g}B; {w.model.source}), "
                  f"{w.input_tokens} in / {w.output_tokens} out tokens per request")
    table = Table("stage", *(f"{v:,}/month" for v in advice.volumes), title="Estimated monthly cost (USD)")
    notes = []
    for report in advice.stages:
        if not report.available:
            table.add_row(f"[dim]{report.stage}[/]", *("-" for _ in advice.volumes))
            notes.append(f"{report.stage}: {report.reason}")
            continue
        name = report.stage if report.eligible else f"[dim]{report.stage} (excluded)[/]"
        table.add_row(name, *(f"{e.monthly_usd:,.0f}" for e in report.estimates))
        notes.append(f"{report.stage}: {report.estimates[0].detail}")
    console.print(table)
    for note in notes:
        console.print(f"  {note}", highlight=False)
    console.print("Assumed:")
    for assumption in advice.assumptions():
        console.print(f"  - {assumption}", highlight=False)
    if advice.recommendation:
        console.print(f"Recommended: [bold green]{advice.recommendation}[/]")
    for reason in advice.reasons:
        if "not priced:" not in reason:  # already listed under the table
            console.print(f"  - {reason}", highlight=False)


def render_promotion(promotion: Promotion, console: Console, *, written: bool) -> None:
    """The gate's verdict per criterion, the worst cases, and the weights before/after."""
    verdict = promotion.verdict
    runs = [promotion.candidate] + ([promotion.baseline] if promotion.baseline else [])
    table = Table(title=f"route {promotion.route.name}: suite results")
    for column in ("deployment", "role", "cases", "pass rate", "error rate", "p95 latency"):
        table.add_column(column)
    for run, role in zip(runs, ("candidate", "baseline"), strict=False):
        p95 = run.p95_latency_ms
        table.add_row(run.backend.deployment, role, str(len(run.outcomes)), f"{run.pass_rate:.1%}",
                      f"{run.error_rate:.1%}", "-" if p95 is None else f"{p95:.0f} ms")
    console.print(table)
    for criterion in verdict.criteria:
        mark = "[green]pass[/]" if criterion.passed else "[bold red]FAIL[/]"
        console.print(f"  {mark} {criterion.name}: {escape(redact(criterion.detail))}", highlight=False)
    if not verdict.passed:
        console.print("worst cases:")
        for outcome in verdict.worst_cases:
            why = outcome.error or "; ".join(outcome.failures) or f"passed, {outcome.latency_ms:.0f} ms"
            console.print(f"  {escape(redact(outcome.case_id))}: {escape(redact(why))}", highlight=False)
        console.print(f"[bold red]refused[/]: weights stay {_weights(promotion.weights_before)}")
        return
    after = _weights(promotion.weights_after)
    if promotion.weights_after == promotion.weights_before:
        console.print(f"[green]passed[/]: the candidate already takes all traffic ({after})")
    elif written:
        console.print(f"[green]promoted[/]: weights written: {after}")
    else:
        console.print(f"[green]passed[/]: new weights {after} (add --write to write them)")


def _weights(weights: dict[str, int]) -> str:
    return ", ".join(f"{name} {weight}%" for name, weight in weights.items())


def render_transition(moved: Transition, console: Console) -> None:
    """The transition from ``--base``: one row per changed resource, then refusals and serving gaps."""
    rows = moved.changes
    if not rows:
        console.print(f"[green]No change from {escape(moved.base)}.[/]")
        return
    table = Table("action", "resource", "properties", "order", title=f"Transition from {escape(moved.base)}")
    colour = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red"}
    for c in rows:
        props = ", ".join(c.forced_by or c.properties)
        if c.may_replace:
            props += " (may replace: provider facts not read for these inputs)"
        table.add_row(f"[{colour[c.action]}]{c.action}[/]", f"{c.type} {escape(c.name)}", escape(props), c.order or "")
    console.print(table)
    for c in moved.refusals:
        console.print(f"[bold red]refused:[/] {escape(c.refused or '')} (changed: {escape(', '.join(c.keys))})")
    unaccepted = moved.unaccepted_gaps()
    for c in moved.gaps:
        if c.gap:
            how_long = (f"about {c.gap.minutes} min at most, plus the model's load" if c.gap.minutes
                        else "until re-created")
            state = ("[red]not accepted (prod)[/]" if c in unaccepted
                     else "accepted" if moved.environment == "prod" else "")
            console.print(f"[bold yellow]serving gap:[/] {escape(c.gap.what)} is down {how_long} "
                          f"({c.gap.why}) {state}")
    if moved.cost_delta_usd is not None:
        sign = "+" if moved.cost_delta_usd >= 0 else "-"
        console.print(f"Monthly cost change: {sign}${abs(moved.cost_delta_usd):,.2f}")
