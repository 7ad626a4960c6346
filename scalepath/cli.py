"""``scalepath`` command line: ``plan`` runs a stack offline and reports resources, policy
violations and cost. Exit codes: 0 clean, 1 mandatory violations, 2 invalid config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from scalepath.plan import run_plan
from scalepath.policy_runner import PolicyConfigError, PolicyPackError, check_plan
from scalepath.report import render_plan
from scalepath.stackconfig import load_stack_config, project_root
from stacks.errors import ConfigError

app = typer.Typer(help="scalepath: model inference along the scaling path, checked offline.",
                  no_args_is_help=True, add_completion=False)

EXIT_OK, EXIT_VIOLATIONS, EXIT_CONFIG = 0, 1, 2


@app.callback()
def _root() -> None:
    """Keep subcommands explicit (``scalepath plan``) even while there is only one."""


def fail_config(error: ConfigError) -> typer.Exit:
    """Print a config error (no traceback) and return the exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_CONFIG)


@app.command()
def plan(
    stack: Annotated[str, typer.Option(help="Stack name: reads environments/Pulumi.<stack>.yaml.")],
    config: Annotated[Optional[Path], typer.Option(help="Use this stack config file instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Also write the plan JSON to this file.")] = None,
    policy_config: Annotated[Optional[Path], typer.Option(
        help="Policy pack config (as for `pulumi preview --policy-pack-config`); "
             "default policies/config/<stack>.json, else <environment>.json.")] = None,
) -> None:
    """Run the stack program offline under mocks, check policies, estimate cost."""
    root = project_root()
    errors = Console(stderr=True)
    try:
        stack_config = load_stack_config(stack, root, config)
        result = check_plan(run_plan(stack_config), stack_config, root, policy_config)
    except ConfigError as error:
        raise fail_config(error) from None
    except PolicyConfigError as error:
        errors.print(f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except PolicyPackError as error:
        # Not proven compliant: fail like a violation, with the pack's own words.
        errors.print(f"[bold red]error:[/] policy pack failed: {error}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_VIOLATIONS) from None
    document = result.to_json()
    if out:
        out.write_text(json.dumps(document, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        render_plan(result, Console())
    mandatory = [v for v in result.violations if v["level"] == "mandatory"]
    raise typer.Exit(EXIT_VIOLATIONS if mandatory else EXIT_OK)
