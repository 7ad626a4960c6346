"""``scalepath`` command line: ``plan`` runs a stack offline and reports resources, policy
violations and cost (exit codes: 0 clean, 1 mandatory violations, 2 invalid config, 130/143
interrupted by SIGINT/SIGTERM, 70 internal error in any command); ``advise`` compares the
stages' monthly cost for a workload and recommends one; ``gateway config|serve`` renders / runs
the stack's gateway (``scalepath/gateway/``); ``promote`` moves a gateway route's weight to a
candidate that passes an eval gate (``scalepath/promote/``)."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from components.files import write_output
from components.token_shapes import has_token, redact
from components.vllm import lora
from scalepath import adapter_bases, interrupts, output
from scalepath.cost.advisor import Compliance, Precision, Workload, unknown_instances
from scalepath.cost.advisor import advise as run_advisor
from scalepath.cost.throughput import resolve_model
from scalepath.plan import Plan, messages_of, redacted, run_plan
from scalepath.policy_runner import PolicyConfigError, PolicyPackError, checked, plan_check
from scalepath.report import render_advice, render_plan, render_transition
from scalepath.stackconfig import (
    StackConfig,
    load_base_config,
    load_stack_config,
    project_root,
    read_config_text,
    stack_config_path,
)
from scalepath.transition import Transition, transition
from stacks.errors import ConfigError, clip, clip_words
from stacks.spec import StackSpec


class _Group(TyperGroup):
    """The command group whose usage errors (click's and the commands' ``BadParameter``) quote at
    most :data:`stacks.errors.MAX_ECHO` characters of a value: ``--stack <100 kB>`` was echoed whole."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _clipped_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _clipped_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _clipped_usage_errors() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as error:  # click's usage errors (typer vendors click)
        if isinstance(getattr(error, "message", None), str):
            error.message = clip_words(error.message)  # type: ignore[attr-defined]
        raise


class _Cli(typer.Typer):
    """The ``scalepath`` program (CliRunner calls the click command instead, so tests never get here)."""

    as_program = False
    """True in the real process: a plan then ends on a late signal at once (see :func:`interruptible`)."""
    end_at_once = False
    """Set once a plan ran: the process ends without the interpreter's teardown (see :meth:`__call__`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.as_program = True
        try:
            output.guard()
            return super().__call__(*args, **kwargs)
        except output.OutputFailed as failed:
            _output_failed(failed)
        except Exception as error:  # noqa: BLE001 (a bug in any command: exit 70, never a verdict)
            try:
                raise crashed(error, "the command did not complete") from None
            except typer.Exit as done:
                interrupts.end_process(done.exit_code)
        except SystemExit as done:
            try:
                output.flush()  # a result that cannot be written is not a success
            except output.OutputFailed as failed:
                _output_failed(failed)
            if not self.end_at_once:
                raise
            # The teardown would free a plan's heap object by object (about 1 s of a 50-deployment
            # plan, more at scale); the pack, its worker and --out are closed by now.
            logging.shutdown()
            interrupts.end_process(done.code if isinstance(done.code, int) else 0 if done.code is None else 1)


def _output_failed(failed: output.OutputFailed) -> NoReturn:
    """End the process for a result stdout could not take: 141 silently when the reader went away,
    else 2 saying why (:mod:`scalepath.output`)."""
    if failed.reader_gone:
        interrupts.end_process(output.EXIT_PIPE_CLOSED)
    try:
        raise fail(failed.message(), EXIT_CONFIG)
    except typer.Exit as done:
        interrupts.end_process(done.exit_code)

app = _Cli(help="scalepath: model inference along the scaling path, checked offline.",
           no_args_is_help=True, add_completion=False, cls=_Group)

EXIT_OK, EXIT_VIOLATIONS, EXIT_CONFIG = 0, 1, 2
EXIT_CRASH = 70
"""An unexpected exception (sysexits' EX_SOFTWARE): distinct from every verdict, so a crash is never
read as "clean" (0), "refused" (1) or "bad input" (2)."""


gateway_app = typer.Typer(help="The stack's OpenAI-compatible gateway (LiteLLM proxy).", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")

StackOpt = Annotated[str, typer.Option(help="Stack name: reads environments/Pulumi.<stack>.yaml.")]
ConfigOpt = Annotated[Path | None, typer.Option(help="Use this stack config file instead.")]
BackendOpt = Annotated[list[str] | None, typer.Option(
    "--backend", help="DEPLOYMENT=URL: call that deployment as an OpenAI-compatible server at URL (repeatable).")]


@app.callback()
def _root() -> None:
    """Keep subcommands explicit (``scalepath plan``, ``scalepath advise``)."""


def console(stderr: bool = False) -> Console:
    """A console for what the CLI prints: no emoji codes, so ``scalepath:x: ...`` (a key path and
    its colon) never prints as ``scalepath❌ ...``; names and values are shown as written."""
    return Console(stderr=stderr, emoji=False)


def fail(message: str, code: int) -> typer.Exit:
    """Print an error (no traceback) to stderr and return the exit to raise."""
    console(stderr=True).print(f"[bold red]error:[/] {escape(clip_words(redact(message)))}", highlight=False,
                               soft_wrap=True)
    return typer.Exit(code)


def crashed(error: Exception, outcome: str) -> typer.Exit:
    """Report an unexpected exception in one line (no traceback) and return exit :data:`EXIT_CRASH`."""
    return fail(f"internal error, {outcome} ({type(error).__name__}: {clip(str(error))}); please report it "
                "with the command line", EXIT_CRASH)


def interruptible(outcome: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run the command so that SIGINT/SIGTERM unwind it (stopping the policy pack, the engine and the
    check worker), then exit 130/143 saying ``outcome`` (what did not happen).

    In the real program a signal after the command (printing done, interpreter shutting down) exits
    130/143 at once: raising into click or into shutdown would print a traceback after a report that
    already printed as a success.
    """

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                with interrupts.interruptible():
                    command(*args, **kwargs)
            except interrupts.Interrupted as interrupt:
                raise fail(f"interrupted by {interrupt}; {outcome}", interrupt.exit_code) from None
            finally:
                if app.as_program:
                    interrupts.exit_on_signal()
                    app.end_at_once = True

        return run

    return wrap


@app.command()
@interruptible("no plan was produced")
def plan(
    stack: Annotated[str, typer.Option(help="Stack name: reads environments/Pulumi.<stack>.yaml.")],
    config: Annotated[Path | None, typer.Option(help="Use this stack config file instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the plan JSON to this file.")] = None,
    policy_config: Annotated[Path | None, typer.Option(
        help="Policy pack config (as for `pulumi preview --policy-pack-config`); "
             "default policies/config/<environment>.json (the stack's scalepath:environment).")] = None,
    base: Annotated[str | None, typer.Option(
        help="Also plan this base (a stack config FILE, or a GIT-REF whose copy of the stack's file is read) "
             "and report the transition from it; exit 2 when it would fail at `up` or opens a serving gap "
             "prod has not accepted.")] = None,
    accept_gap: Annotated[list[str] | None, typer.Option(
        "--accept-gap", help="With --base: accept the serving gap of this deployment or resource name "
                             "(`all`: every gap) in prod (repeatable).")] = None,
) -> None:
    """Run the stack program offline under mocks, check policies, estimate cost."""
    try:
        root = project_root()
    except FileNotFoundError as error:
        raise fail(str(error), EXIT_CONFIG) from None
    try:
        stack_config = load_stack_config(stack, root, config)
        # The one plan-time read of the Hub, and only with a token: adapters of another model.
        bases = adapter_bases.check(stack_config.spec(), os.environ.get("HF_TOKEN"))
        if bases.issues:
            raise ConfigError(bases.issues)
        # The pack starts first and checks each resource as the program registers it.
        with plan_check(stack_config, root, policy_config) as check:
            result = checked(run_plan(stack_config, on_record=check.submit), check.report())
    except (ConfigError, PolicyConfigError) as error:
        raise fail(str(error), EXIT_CONFIG) from None
    except PolicyPackError as error:
        # Not proven compliant: fail like a violation, with the pack's own words.
        raise fail(f"policy pack failed: {error}", EXIT_VIOLATIONS) from None
    interrupts.check()  # a signal may have been dropped inside a library: no plan after it
    result = redacted(result)
    _warn(result)
    document = result.to_json()
    moved = None
    if base is not None:
        moved = _transition(stack, root, config, stack_config, result, base, accept_gap or [])
        document["transition"] = moved.to_json()
    if out:
        try:
            write_output(out, json.dumps(document, indent=2) + "\n")
        except OSError as error:
            raise fail(f"cannot write --out {out}: {error.strerror or error}", EXIT_CONFIG) from None
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        render_plan(result, console())
        if moved is not None:
            render_transition(moved, console())
    for line in bases.unchecked:  # on stderr: the JSON on stdout stays the contract's
        typer.echo(f"note: {line}", err=True)
    if moved is not None and not moved.safe:
        problems = [f"{c.refused} (changed: {', '.join(c.keys) or 'no config key: the library changed'})"
                    for c in moved.refusals]
        problems += [f"serving gap in prod: {c.gap.what} {c.gap.why}; accept it with --accept-gap {c.owner or c.name}"
                     for c in moved.unaccepted_gaps() if c.gap]
        raise fail("the transition from --base is not safe:\n  " + "\n  ".join(problems), EXIT_CONFIG)
    mandatory = [v for v in result.violations if v["level"] == "mandatory"]
    raise typer.Exit(EXIT_VIOLATIONS if mandatory else EXIT_OK)


def _warn(plan: Plan) -> None:
    """The program's warnings, on stderr as ``pulumi preview`` would show them (they are in the JSON too)."""
    for message in plan.warnings:
        typer.echo(f"warning: {message}", err=True)


def _transition(stack: str, root: Path, config: Path | None, stack_config: StackConfig, result: Plan,
                base: str, accepted: list[str]) -> Transition:
    """Plan ``base`` with the same program and judge the transition to ``result``."""
    try:
        label, base_config = load_base_config(stack, root, config, base)
        with messages_of(f"--base {label}"):
            base_plan = redacted(run_plan(base_config))
    except ConfigError as error:
        raise fail(f"--base {base}: {error}", EXIT_CONFIG) from None
    _warn(base_plan)
    environment = stack_config.values.get("scalepath:environment", "")
    return transition(label, base_config, base_plan, stack_config, result, environment, accepted)


@app.command()
@interruptible("no advice was produced")
def advise(
    requests_per_month: Annotated[int, typer.Option(min=1, help="Expected requests per month.")],
    input_tokens: Annotated[int, typer.Option(min=0, help="Prompt tokens per request.")],
    output_tokens: Annotated[int, typer.Option(min=1, help="Generated tokens per request.")],
    model: Annotated[str, typer.Option(help="Hugging Face model id, or a parameter count such as 8B or 7e9.")],
    latency_p95_ms: Annotated[float | None, typer.Option(min=1, help="p95 latency target per request.")] = None,
    compliance: Annotated[
        Compliance, typer.Option(help="private: only stages inside your own cloud account."),
    ] = Compliance.NONE,
    precision: Annotated[Precision, typer.Option(
        help="Weight precision on dedicated stages; auto: the cheaper of fp16 and int8 (int4 if neither fits).",
    )] = Precision.AUTO,
    instance: Annotated[list[str] | None, typer.Option(
        "--instance", help="Price on this instance type (repeatable): each stage whose catalogue lists it uses it.",
    )] = None,
    spot: Annotated[bool, typer.Option(
        "--spot", help="Price GPUs at spot where the stage offers it (assumed discount, components/data/spot.yaml).",
    )] = False,
    busy_hours_per_day: Annotated[float, typer.Option(
        min=0.5, max=24, help="Hours a day the traffic arrives in: sizes replicas for that rate, and a stage "
                              "that scales to zero bills only those hours.")] = 24.0,
    adapters: Annotated[int, typer.Option(
        min=0, help="LoRA adapters served beside the model: only stages that serve them are priced; they add "
                    "no GPU-hours but their slots take KV-cache memory on every replica.")] = 0,
    adapter_rank: Annotated[int, typer.Option(
        help="The adapters' --max-lora-rank (one of vLLM's allowed values).")] = lora.DEFAULT_MAX_LORA_RANK,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of cost vs volume per stage to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the advice as one JSON object.")] = False,
) -> None:
    """Which stage should this model be on at this volume, and what will it cost? The assumptions
    (precision, prices, hours, instances) are printed with the option that changes each."""
    if has_token(model):  # a pasted token, not a model id: never echo it, in an error or the report
        raise typer.BadParameter("holds a token-shaped value (an HF token?); give a model id such as "
                                 "meta-llama/Llama-3.1-8B-Instruct or a parameter count such as 8B",
                                 param_hint="--model")
    try:
        size = resolve_model(model)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--model") from None
    if unknown := unknown_instances(instance or []):
        raise typer.BadParameter(f"{', '.join(unknown)}: in no stage's catalogue (components/data/instances/)",
                                 param_hint="--instance")
    if adapter_rank not in lora.MAX_LORA_RANKS:
        raise typer.BadParameter(f"{adapter_rank} is not a rank vLLM accepts; allowed: "
                                 f"{', '.join(map(str, lora.MAX_LORA_RANKS))}", param_hint="--adapter-rank")
    if latency_p95_ms is not None and not math.isfinite(latency_p95_ms):
        raise typer.BadParameter(f"{latency_p95_ms} is not a finite number of milliseconds",
                                 param_hint="--latency-p95-ms")
    if plot:
        from scalepath.cost.plot import plot_advice, plot_path_problem  # matplotlib loads only for a plot

        if problem := plot_path_problem(plot):  # before the work, not after it
            raise typer.BadParameter(problem, param_hint="--plot")
    advice = run_advisor(Workload(
        size, requests_per_month, input_tokens, output_tokens, latency_p95_ms, compliance,
        precision=None if precision is Precision.AUTO else precision.value, instances=frozenset(instance or ()),
        spot=spot, adapters=adapters, adapter_rank=adapter_rank, busy_hours_per_day=busy_hours_per_day))
    if plot:
        try:
            plot_advice(advice, plot)
        except OSError as error:
            raise fail(f"cannot write --plot {plot}: {error.strerror or error}", EXIT_CONFIG) from None
    if as_json:
        typer.echo(json.dumps(advice.to_json(), indent=2))
    else:
        render_advice(advice, console())


@app.command()
def secrets(stack: StackOpt, config: ConfigOpt = None) -> None:
    """List the stack's `secure:` keys and print the `pulumi config set --secret` command for each that
    still holds a placeholder. Exit 0 when every one is ciphertext, 1 when some must be set first.

    The commands take no value: Pulumi then prompts for it without echo (or reads it from stdin,
    `< file`), so the secret never lands in shell history; scalepath itself never reads it.
    """
    try:
        stack_config = load_stack_config(stack, project_root(), config)
    except (ConfigError, FileNotFoundError) as error:
        raise fail(str(error), EXIT_CONFIG) from None
    if not stack_config.secret_keys:
        typer.echo(f"stack {stack}: no secure: keys")
        raise typer.Exit(EXIT_OK)
    for key in sorted(stack_config.secret_keys):
        state = "placeholder: set it before `pulumi preview`" if key in stack_config.placeholder_keys else "ciphertext"
        typer.echo(f"{key}: {state}")
    if stack_config.placeholder_keys:
        typer.echo("Set each (Pulumi prompts without echo; or append `< FILE` to read it from a file):")
        for key in sorted(stack_config.placeholder_keys):
            typer.echo(f"  pulumi config set --secret --stack {stack} {key}")
    raise typer.Exit(EXIT_VIOLATIONS if stack_config.placeholder_keys else EXIT_OK)


@gateway_app.command("config")
@interruptible("no config was printed")
def gateway_config(stack: StackOpt, config: ConfigOpt = None, backend: BackendOpt = None) -> None:
    """Print the engine's config as deployed; secrets appear only as references (os.environ/NAME)."""
    from scalepath.gateway.render import render_gateway  # not on `plan`'s path

    try:
        rendered = render_gateway(load_stack_config(stack, project_root(), config), backend or [])
    except (ConfigError, FileNotFoundError) as error:
        raise fail(str(error), EXIT_CONFIG) from None
    typer.echo(rendered.text, nl=False)


@gateway_app.command("serve")
def gateway_serve(stack: StackOpt, config: ConfigOpt = None, backend: BackendOpt = None,
                  port: Annotated[int, typer.Option(
                      min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")] = 4000) -> None:
    """Run the real engine on 127.0.0.1 with the stack's config (client key: $SCALEPATH_GATEWAY_KEY)."""
    from scalepath.gateway.engine import EngineError, EngineSetupError
    from scalepath.gateway.render import render_gateway
    from scalepath.gateway.serve import serve

    try:
        rendered = render_gateway(load_stack_config(stack, project_root(), config), backend or [])
        code = serve(rendered, port, lambda line: typer.echo(line))
    except (ConfigError, FileNotFoundError, EngineSetupError) as error:
        raise fail(str(error), EXIT_CONFIG) from None
    except EngineError as error:  # installed, configured, and still did not start
        raise fail(str(error), EXIT_VIOLATIONS) from None
    raise typer.Exit(code)


@gateway_app.command("install-engine")
def gateway_install_engine() -> None:
    """Install the pinned engine (litellm[proxy]) into its own virtualenv (see docs/gateway.md)."""
    from scalepath.gateway.engine import install_engine

    typer.echo(f"engine ready: {install_engine(lambda line: typer.echo(line))}")


@app.command()
@interruptible("nothing was written")
def promote(
    stack: StackOpt,
    route: Annotated[str, typer.Option(help="The gateway route (OpenAI model name) whose weights move.")],
    to: Annotated[str, typer.Option(help="The candidate deployment that gets --step percent on a pass.")],
    suite: Annotated[Path, typer.Option(help="Held-out suite, JSON Lines (format: docs/promotion.md).")],
    step: Annotated[int, typer.Option(min=1, max=100, help="Percent of the route's weight to move on a pass.")] = 10,
    config: ConfigOpt = None,
    backend: BackendOpt = None,
    outputs: Annotated[Path | None, typer.Option(
        help="The deployed stack's outputs (`pulumi stack output --json`): where each deployment without "
             "--backend answers; SCALEPATH_<DEPLOYMENT>_* variables override them.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight per deployment.")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, max=600, help="Deadline of each request as a whole "
                                           "(connect to last byte), seconds.")] = 60.0,
    write: Annotated[bool, typer.Option("--write", help="On a pass, write the new weights into the environment "
                                        "file (comments and layout kept).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Gate a route's candidate on a held-out suite against its baseline; on a pass move one step of
    weight to it. Exit 0 promoted, 1 refused by the gate (file untouched), 2 unusable input,
    70 internal error (a bug: never read as a verdict), 130/143 interrupted."""
    from scalepath.gateway.engine import EngineError
    from scalepath.gateway.render import parse_backend_overrides
    from scalepath.promote.command import load_outputs, select
    from scalepath.promote.command import promote as run_promotion
    from scalepath.promote.envfile import EnvFileError, checked_edit, write_weights
    from scalepath.promote.suite import SuiteError, load_suite
    from scalepath.promote.weights import shift
    from scalepath.report import render_promotion
    from stacks.gateway.config import split_target

    try:
        root = project_root()
        env_file = stack_config_path(stack, root, config)
        original = read_config_text(env_file)

        def check(text: str) -> StackSpec:
            return load_stack_config(stack, root, config, text=text).spec()

        spec = check(original)
        chosen, baseline = select(spec, route, to)
        if write:  # the file a pass would write must be one the parser accepts: know before the run
            checked_edit(original, route, shift({t.deployment: t.weight for t in chosen.targets}, to, step), check)
        result = run_promotion(spec, chosen, to, baseline, load_suite(suite), step=step,
                               overrides=parse_backend_overrides(
                                   backend or [], [split_target(n)[0] for n in (to, baseline) if n]),
                               outputs=load_outputs(outputs),
                               concurrency=concurrency,
                               timeout_s=timeout)
        interrupts.check()  # a signal may have been dropped inside a library: nothing after it
        if write and result.verdict.passed and result.weights_after != result.weights_before:
            write_weights(env_file, route, result.weights_after, read_before=original, check=check)
    except (ConfigError, SuiteError, EnvFileError, EngineError, OSError) as error:
        raise fail(str(error), EXIT_CONFIG) from None
    except Exception as error:  # a bug: CI must not read it as "refused" (1) or "promoted" (0)
        raise crashed(error, "nothing was written") from None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        render_promotion(result, console(), written=write)
    raise typer.Exit(EXIT_OK if result.verdict.passed else EXIT_VIOLATIONS)
