"""Readable rendering of a plan: the resource tree, violations and cost."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from scalepath.plan import Plan


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

    total = plan.cost.get("monthly_usd")
    if total is not None:
        console.print(f"Estimated monthly cost: [bold]${total:,.2f}[/]")
