"""The offline plan: run the real stack program under Pulumi mocks and record what it registers.

The program (``stacks/program.py``, what ``stacks/__main__.py`` runs) runs in-process with the
stack's config set as the engine sets it. The config is parsed into the spec once per plan: the
program composes that spec and the cost estimate prices it (the program's own ``load_spec``
yields the same spec from the same config; a test holds them together). A recording monitor
keeps each registration's type, name, URN, parent, custom flag, dependencies and inputs in their
wire form (camelCase, as policies see them). Secret values are redacted to ``"[secret]"`` before
anything is kept.
"""

from __future__ import annotations

import contextvars
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import source_pb2

from components.token_shapes import redact, redact_json
from scalepath.cost.plan_cost import estimate, wake_report
from scalepath.mocks import ScalepathMocks
from scalepath.stackconfig import StackConfig
from scalepath.wire import PlannedResource, from_wire
from stacks.program import compose
from stacks.spec import StackSpec


class RecordingMonitor(MockMonitor):
    """A mock monitor that also records each registration as the engine would see it."""

    def __init__(self, mocks: pulumi.runtime.Mocks, on_record: Callable[[PlannedResource], None] | None = None):
        super().__init__(mocks)
        self.recorded: list[PlannedResource] = []
        self._on_record = on_record
        # The SDK registers from executor threads: record and hand on in one order.
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack's type out of its children's qualified types.
        if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = from_wire(json_format.MessageToDict(request.object))
            self._record(PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=inputs,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                options={"deleteBeforeReplace": request.deleteBeforeReplace, "retainOnDelete": request.retainOnDelete,
                         "replacementTrigger": (from_wire(json_format.MessageToDict(request.replacement_trigger))
                                                if request.HasField("replacement_trigger") else None),
                         "ignoreChanges": list(request.ignoreChanges),
                         # Earlier names an update moves the resource from (``Alias`` specs).
                         "aliases": [json_format.MessageToDict(a) for a in request.aliases],
                         # ``<provider urn>::<id>``: a replaced provider replaces what it manages.
                         "provider": request.provider or None},
            ))
        return response

    def _record(self, resource: PlannedResource) -> None:
        with self._lock:
            self.recorded.append(resource)
            if self._on_record is not None:
                self._on_record(resource)


@dataclass
class Plan:
    """What ``scalepath plan`` reports for one stack."""

    stack: str
    project: str
    resources: list[PlannedResource]
    violations: list[dict[str, Any]] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=lambda: {"monthly_usd": None, "lines": []})
    policy_help: dict[str, str] = field(default_factory=dict)
    """Remediation steps of each violated policy (for the readable report; not in the JSON)."""
    placeholder_secrets: list[str] = field(default_factory=list)
    """``secure:`` keys still holding a placeholder instead of ciphertext (names only, sorted)."""
    wake: list[dict[str, Any]] = field(default_factory=list)
    """Deployments that scale to zero: cold start by part, billed hours (``plan_cost.wake_report``)."""
    warnings: list[str] = field(default_factory=list)
    """What the program warned of (``pulumi.log.warn``: what ``pulumi preview`` shows as warnings),
    redacted, in order."""

    def to_json(self) -> dict[str, Any]:
        """The plan JSON contract of DESIGN.md, plus ``placeholder_secrets`` (docs/architecture.md)."""
        return {"stack": self.stack, "project": self.project,
                "resources": [r.to_json() for r in self.resources],
                "violations": self.violations, "cost": self.cost,
                "placeholder_secrets": self.placeholder_secrets, "wake": self.wake, "warnings": self.warnings}


def redacted(plan: Plan) -> Plan:
    """``plan`` with token-shaped text redacted everywhere it is shown (JSON, ``--out``, the report)."""
    return replace(
        plan,
        resources=[replace(r, **redact_json({"urn": r.urn, "name": r.name, "parent": r.parent, "inputs": r.inputs}))
                   for r in plan.resources],
        violations=redact_json(plan.violations), cost=redact_json(plan.cost),
        policy_help=redact_json(plan.policy_help))


class _RedactingFilter(logging.Filter):
    """Log records of the program (``pulumi.log`` under mocks) with token-shaped text redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


_LOGGER = logging.getLogger("scalepath.plan")
_LOGGER.addFilter(_RedactingFilter())


class _Warnings(logging.Handler):
    """Collects the program's warnings (after the logger's filters: redacted, labelled)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def messages_of(label: str) -> Iterator[None]:
    """The program's messages logged meanwhile start with ``label``: ``plan --base`` runs the same
    program for the base, whose warnings would otherwise read as a second copy of the plan's own."""
    def name_it(record: logging.LogRecord) -> bool:
        record.msg = f"{label}: {record.msg}"
        return True

    _LOGGER.addFilter(name_it)  # after the redaction, which rebuilds the message
    try:
        yield
    finally:
        _LOGGER.removeFilter(name_it)


def _run_program(config: StackConfig, spec: StackSpec, monitor: RecordingMonitor) -> None:
    pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
    pulumi.runtime.set_mocks(monitor.mocks, project=config.project, stack=config.stack,
                             preview=True, monitor=monitor, logger=_LOGGER)

    @pulumi.runtime.test
    def program() -> None:
        compose(spec)

    program()


@contextmanager
def no_source_positions() -> Iterator[None]:
    """Run the block with the SDK sending no stack trace with each registration.

    For every resource the SDK walks the whole Python stack (``traceback.extract_stack``, a
    ``stat`` of each frame's file) to tell the engine where in the program it was declared; the
    offline plan records no source position, and the walk was 15-20 % of the program's CPU. The
    SDK's own function is restored afterwards; a test checks the hook still exists in the
    installed SDK and that registrations carry an empty trace.
    """
    original = pulumi_resource._get_stack_trace  # noqa: SLF001 (the SDK has no switch for it)
    pulumi_resource._get_stack_trace = source_pb2.StackTrace  # noqa: SLF001 (an empty trace)
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = original  # noqa: SLF001


@contextmanager
def collector_off() -> Iterator[None]:
    """Run the block with the cyclic GC off, then hand what it allocated to the oldest generation.

    A program allocates several Outputs, futures and asyncio tasks per resource and keeps nearly
    all of them alive until it ends, so collecting finds next to nothing: at CPython's default
    thresholds the collector kept re-walking that growing heap (half the program's CPU,
    superlinear in resources), and at one young collection per 100,000 allocations it still cost
    a fifth (2.7 s of 13 s at 200 deployments, most of it in the first collection after the
    program) for under 10 % less peak memory. Afterwards everything the block left is moved to
    the oldest generation without a walk (freeze, then unfreeze), so the next young collection
    does not walk it either; a later full collection frees what became garbage. The collector is
    re-enabled (if it was) however the block exits.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def run_plan(config: StackConfig, on_record: Callable[[PlannedResource], None] | None = None) -> Plan:
    """Run ``stacks/`` for ``config`` under mocks; :class:`stacks.errors.ConfigError` on bad config.

    ``on_record`` gets each resource as it is registered, in the order of :attr:`Plan.resources`
    (the CLI hands them to the policy pack while the program goes on).
    """
    spec = config.spec()  # before any resource, as the program's own load_spec() does
    aws_region = config.values.get("aws:region", "us-east-1")
    gcp_project = config.values.get("gcp:project", "mock-project")
    monitor = RecordingMonitor(ScalepathMocks(aws_region=aws_region, gcp_project=gcp_project), on_record)
    warnings = _Warnings()
    _LOGGER.addHandler(warnings)
    # A fresh context per plan: Pulumi keeps its settings and root stack in context variables.
    try:
        with collector_off(), no_source_positions():
            contextvars.Context().run(_run_program, config, spec, monitor)
    finally:
        _LOGGER.removeHandler(warnings)
    resources = list(monitor.recorded)
    return Plan(stack=config.stack, project=config.project, resources=resources, cost=estimate(resources, spec),
                placeholder_secrets=sorted(config.placeholder_keys), wake=wake_report(spec),
                warnings=warnings.messages)
