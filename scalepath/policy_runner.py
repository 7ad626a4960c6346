"""Run the CrossGuard pack in ``policies/`` offline, the way ``pulumi preview --policy-pack`` does.

The engine starts a Python pack as ``python -u -m pulumi.policy <engine-address> .`` in the pack
folder (env ``PULUMI_PROJECT``, ``PULUMI_STACK``, ``PULUMI_DRY_RUN``, ``PULUMI_CONFIG``), reads
the analyzer's port from the first stdout line and speaks the Analyzer gRPC protocol:
Handshake (optional), GetAnalyzerInfo, Configure (the policy config reconciled with the
schema defaults and validated against each policy's JSON schema), ConfigureStack, then
Remediate and Analyze per resource and AnalyzeStack once. We do the same with the resources
the offline plan recorded. The pack process is always stopped, also on errors and Ctrl-C: it runs
as a child that never outlives the plan (:mod:`scalepath.children`), even one killed with SIGKILL.
:func:`plan_check` does all of this from a helper process (:mod:`scalepath.policy_worker`) while
the program is still registering resources.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import selectors
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from components.files import read_regular_file
from scalepath import children
from scalepath.stackconfig import MAX_DEPTH, StackConfig, nesting_depth
from scalepath.wire import SECRET, PlannedResource, from_wire, to_wire
from stacks.errors import clip, listing

if TYPE_CHECKING:  # the worker process imports this module, and never the program
    from scalepath.plan import Plan

# Wire signatures (sdk/go/common/resource/sig) for values the engine marshals specially.

#: The engine address argument; a Python pack never dials it (it only logs through it).
ENGINE_ADDRESS = "127.0.0.1:0"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_NAMES = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
                analyzer_pb2.REMEDIATE: "remediate", analyzer_pb2.DISABLED: "disabled"}
_LEVEL_VALUES = {name: value for value, name in _LEVEL_NAMES.items()}
START_TIMEOUT_S = 120.0  # importing pulumi on a loaded machine can take a while


class PolicyConfigError(ValueError):
    """The policy config file is malformed or does not match a policy's schema."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"invalid policy config {source}:\n{listing(problems)}")

    def __reduce__(self) -> tuple[type[PolicyConfigError], tuple[str, list[str]]]:
        return PolicyConfigError, (self.source, self.problems)  # raised in the worker, re-raised in the plan


class PolicyPackError(RuntimeError):
    """The pack did not start or failed while analysing."""


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's effective config: its enforcement level and properties."""

    level: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyReport:
    """What the pack said about a plan."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    """``{"policy", "level", "urn", "message"}`` per diagnostic, in the order the pack reported them."""
    remediated: dict[str, dict[str, Any]] = field(default_factory=dict)
    """URN -> inputs after the pack's remediations (only resources a remediation changed)."""
    remediation_steps: dict[str, str] = field(default_factory=dict)
    """Policy name -> how to fix a violation of it."""


def load_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """Read a ``--policy-pack-config`` file: policy -> level string or ``{enforcementLevel, ...}``.

    Returns policy -> ``{"enforcementLevel"?: str, "properties": {...}}`` as the engine parses it.
    """
    try:
        document = json.loads(read_regular_file(path))
    except FileNotFoundError:
        raise PolicyConfigError(str(path), ["file not found"]) from None
    except OSError as error:  # a directory, a device or FIFO, too large, permissions
        raise PolicyConfigError(str(path), [f"cannot read: {error.strerror or error}"]) from None
    except UnicodeDecodeError:
        raise PolicyConfigError(str(path), ["not UTF-8 text"]) from None
    except json.JSONDecodeError as error:
        raise PolicyConfigError(str(path), [f"malformed JSON at line {error.lineno}: {error.msg}"]) from None
    except RecursionError:
        raise PolicyConfigError(str(path), [f"nested more than {MAX_DEPTH} levels deep; a policy config is an "
                                            "object of policy names, each an object of settings"]) from None
    if not isinstance(document, dict):
        raise PolicyConfigError(str(path), ["expected an object mapping policy names to config"])
    if nesting_depth(document) > MAX_DEPTH:
        raise PolicyConfigError(str(path), [f"nested more than {MAX_DEPTH} levels deep; a policy config is an "
                                            "object of policy names, each an object of settings"])
    parsed: dict[str, dict[str, Any]] = {}
    problems = []
    for name, value in document.items():
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, dict):
            problems.append(f"policy `{name}`: expected an enforcement level or an object")
            continue
        properties = {k: v for k, v in value.items() if k != "enforcementLevel"}
        # JSON reads 1e400 as infinity (and Python's json takes NaN/Infinity): no policy means that.
        problems += [f"policy `{name}`: `{where}`: {number!r} is not a finite number"
                     for where, number in _non_finite(properties)]
        entry: dict[str, Any] = {"properties": properties}
        if "enforcementLevel" in value:
            if value["enforcementLevel"] not in LEVELS:
                problems.append(f"policy `{name}`: enforcementLevel {value['enforcementLevel']!r} "
                                f"is not one of {', '.join(LEVELS)}")
                continue
            entry["enforcementLevel"] = value["enforcementLevel"]
        parsed[name] = entry
    if problems:
        raise PolicyConfigError(str(path), problems)
    return parsed


def _non_finite(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """(dotted path, number) of every infinite or NaN number below ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _non_finite(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _non_finite(child, f"{path}[{index}]")


def _schema(policy: analyzer_pb2.PolicyInfo) -> dict[str, Any]:
    """The JSON schema the engine validates a policy's config with (enforcementLevel injected)."""
    schema = json_format.MessageToDict(policy.configSchema)
    properties = dict(schema.get("properties", {}))
    properties["enforcementLevel"] = {"type": "string", "enum": list(LEVELS)}
    # Stricter than the engine: a property the policy does not declare is a typo, not a no-op.
    result: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if schema.get("required"):
        result["required"] = schema["required"]
    return result


def reconcile_config(info: analyzer_pb2.AnalyzerInfo, given: Mapping[str, Mapping[str, Any]],
                     source: str) -> dict[str, PolicyConfig]:
    """Defaults from the policies' schemas, then the pack's initial config, then ``given``; validated.

    Like the engine: ``all`` sets every policy's level; each policy's properties are checked
    against its schema with ``jsonschema``. Unlike the engine, an unknown policy name is an
    error (a typo would otherwise silently switch nothing).
    """
    import jsonschema  # noqa: PLC0415 (the policy worker reconciles; the plan's process never needs it)

    policies = {p.name: p for p in info.policies}
    problems = [f"`{name}` is not a policy of pack {info.name} (known: {', '.join(sorted(policies))})"
                for name in given if name != "all" and name not in policies]
    result: dict[str, PolicyConfig] = {}
    for name, policy in policies.items():
        level = _LEVEL_NAMES[policy.enforcementLevel]
        properties = {k: v["default"] for k, v in _schema(policy)["properties"].items() if "default" in v}
        if name in info.initialConfig:
            initial = info.initialConfig[name]
            level = _LEVEL_NAMES[initial.enforcementLevel]
            properties.update(json_format.MessageToDict(initial.properties))
        if "all" in given and "enforcementLevel" in given["all"]:
            level = given["all"]["enforcementLevel"]
        if name in given:
            level = given[name].get("enforcementLevel", level)
            properties.update(given[name].get("properties", {}))
        # Formats are checked too: a `"format": "regex"` property that does not compile is refused here
        # rather than failing inside the pack.
        validator = jsonschema.Draft7Validator(_schema(policy),
                                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        for error in sorted(validator.iter_errors(properties), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"policy `{name}`: `{where}`: {clip(error.message)}")  # echoes the value
        result[name] = PolicyConfig(level=level, properties=properties)
    if problems:
        raise PolicyConfigError(source, problems)
    return result


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(to_wire(dict(values)))
    return struct


def _options(resource: PlannedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent or "")


def _drain(stream: IO[bytes]) -> None:
    for _ in iter(stream.readline, b""):
        pass


class PolicyPackSession:
    """A running pack and a gRPC stub to it; use :func:`start_pack` to get one."""

    def __init__(self, pack: _PackProcess, stub: analyzer_pb2_grpc.AnalyzerStub, channel: grpc.Channel):
        self.process, self.stub, self.channel, self.stderr_text = pack.process, stub, channel, pack.stderr_text
        self.info: analyzer_pb2.AnalyzerInfo = stub.GetAnalyzerInfo(empty_pb2.Empty())
        self.remediates = any(p.enforcementLevel == analyzer_pb2.REMEDIATE for p in self.info.policies)
        """Whether some policy is at the remediate level: pulumi_policy's Remediate runs only those,
        so without one every Remediate answer is empty and the call is skipped."""

    def configure(self, config: Mapping[str, PolicyConfig]) -> None:
        """Send the reconciled config (Configure)."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, policy_config in config.items():
            request.policyConfig[name].enforcementLevel = _LEVEL_VALUES[policy_config.level]
            request.policyConfig[name].properties.update(policy_config.properties)
        self.stub.Configure(request)
        self.remediates = any(c.level == "remediate" for c in config.values())

    def configure_stack(self, project: str, stack: str, config: Mapping[str, str], secret_keys: Iterable[str],
                        tags: Mapping[str, str]) -> None:
        """Tell the pack which stack it checks (ConfigureStack)."""
        self.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
            project=project, stack=stack, organization="organization", dry_run=True,
            config=dict(config), config_secret_keys=sorted(secret_keys), tags=dict(tags)))

    def analyze(self, resource: PlannedResource, inputs: Mapping[str, Any]) -> analyzer_pb2.AnalyzeResponse:
        """Analyze one resource with ``inputs``."""
        return self.stub.Analyze(_request(resource, inputs))


def _request(resource: PlannedResource, inputs: Mapping[str, Any]) -> analyzer_pb2.AnalyzeRequest:
    """What the engine sends to Remediate and Analyze a resource with ``inputs``."""
    return analyzer_pb2.AnalyzeRequest(type=resource.type, urn=resource.urn, name=resource.name,
                                       properties=_struct(inputs), options=_options(resource))


def _read_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_S):
            raise PolicyPackError(f"the policy pack printed no port within {START_TIMEOUT_S:.0f}s")
    line = process.stdout.readline().decode(errors="replace").strip()
    if not line.isdigit():
        process.wait(timeout=10)
        raise PolicyPackError(f"the policy pack did not start (first output line: {line!r})")
    return int(line)


def _stop(process: subprocess.Popen[bytes], drain: threading.Thread | None) -> None:
    """Stop the process and its group, then close its pipe."""
    try:
        children.stop(process)
    finally:
        if drain is not None:
            drain.join(timeout=10)  # the pipe is at EOF once the process is gone
        if process.stdout is not None:
            process.stdout.close()


ENV_CONFIG_MAX_BYTES = 64 * 1024
"""Largest ``PULUMI_CONFIG`` handed to the pack. Linux refuses one environment string over 128 KiB
(MAX_ARG_STRLEN) with "Argument list too long"; the engine hit the same wall (pulumi/pulumi#20402)."""


def _env_config(config: Mapping[str, str]) -> str:
    """``PULUMI_CONFIG`` for the pack: the stack config when it fits in one environment string, else
    ``{}``. The whole config always reaches the pack over ConfigureStack, the way newer engines
    pass it (pulumi/pulumi#21684); no rule of ours reads ``pulumi.Config`` from the environment."""
    text = json.dumps(dict(config))
    return text if len(text.encode()) <= ENV_CONFIG_MAX_BYTES else "{}"


@dataclass
class _PackProcess:
    """The pack's process, the file collecting its stderr and the thread draining its stdout."""

    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    drain: threading.Thread | None = None

    def stderr_text(self) -> str:
        """What the pack wrote to stderr so far (for error messages)."""
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


@contextmanager
def _pack_process(pack_dir: Path, project: str, stack: str, config: Mapping[str, str] | None
                  ) -> Iterator[_PackProcess]:
    """Start the pack process in ``pack_dir`` as the engine does (with a file collecting its
    stderr); stop it when the block exits, however it exits. Call from the main thread: the
    kernel's death signal follows the thread that started it."""
    env = dict(os.environ, PULUMI_PROJECT=project, PULUMI_STACK=stack, PULUMI_DRY_RUN="true",
               PULUMI_CONFIG=_env_config(config or {}))
    # Append mode: the pack writes at the end even while we seek back to read what it wrote.
    with tempfile.TemporaryFile(mode="a+b") as stderr:
        # Nothing between the start and the `try` whose `finally` stops it: a signal handled in
        # between would leave it running (on Linux the death signal would still reap it).
        process = children.start(
            children.python_command(sys.executable, "pulumi.policy", [ENGINE_ADDRESS, "."]),
            cwd=pack_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        pack = _PackProcess(process, stderr)
        try:
            yield pack
        finally:
            _stop(process, pack.drain)


@contextmanager
def _connected(pack: _PackProcess, pack_dir: Path) -> Iterator[PolicyPackSession]:
    """Wait for the started pack's port, connect and handshake; a session until the block exits.
    A pack that does not start, or a policy that raises, is a :class:`PolicyPackError` with the
    pack's stderr."""
    try:
        port = _read_port(pack.process)
    except PolicyPackError as error:
        raise PolicyPackError(f"{error}\n{pack.stderr_text()}") from None
    # Keep reading stdout so a chatty pack never blocks on a full pipe.
    assert pack.process.stdout is not None
    pack.drain = threading.Thread(target=_drain, args=(pack.process.stdout,), daemon=True)
    pack.drain.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        try:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            # The first call waits for the port (no channel_ready_future: its polling thread
            # raises "Channel closed!" into stderr when an interrupt closes the channel under it).
            try:  # newer engines handshake first; the Python SDK does not implement it
                stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address=ENGINE_ADDRESS, root_directory=str(pack_dir),
                    program_directory=str(pack_dir)), wait_for_ready=True, timeout=START_TIMEOUT_S)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
            session = PolicyPackSession(pack, stub, channel)
        except grpc.RpcError as error:  # it died, broke during the handshake, or never listened
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PolicyPackError(f"the policy pack did not accept connections on port {port} within "
                                      f"{START_TIMEOUT_S:.0f}s") from None
            raise PolicyPackError(f"the policy pack failed to start: {error.code().name}: {error.details()}\n"
                                  f"{pack.stderr_text()}") from None
        try:
            yield session
        except grpc.RpcError as error:  # a policy raised: say which, with the pack's stderr
            raise PolicyPackError(f"{error.code().name}: {error.details()}\n{session.stderr_text()}") from None
    finally:
        channel.close()


@contextmanager
def start_pack(pack_dir: Path, project: str, stack: str, config: Mapping[str, str] | None = None
               ) -> Iterator[PolicyPackSession]:
    """Start the pack in ``pack_dir`` as the engine does; stop it when the block exits, however it exits."""
    with _pack_process(pack_dir, project, stack, config) as pack, _connected(pack, pack_dir) as session:
        yield session


def _level(value: int) -> str:
    # A remediate-level policy that still finds a violation is reported as mandatory (as the SDK does).
    name = _LEVEL_NAMES.get(value, "advisory")
    return "mandatory" if name == "remediate" else name


def _violation(diagnostic: analyzer_pb2.AnalyzeDiagnostic, urn: str | None) -> dict[str, Any]:
    # The SDK prefixes the policy description; the report shows the specific message.
    message = diagnostic.message
    prefix = diagnostic.description + "\n"
    if diagnostic.description and message.startswith(prefix):
        message = message[len(prefix):]
    return {"policy": diagnostic.policyName, "level": _level(diagnostic.enforcementLevel),
            "urn": diagnostic.urn or urn, "message": message}


BATCH = 64
"""Most requests of one kind in flight at once: enough that the pack never waits for the next
request while answers are read, few enough that neither process queues a whole plan's messages."""


class Analysis:
    """Remediate then Analyze resources in the order given, then AnalyzeStack once, as the engine
    does during a preview; the diagnostics are collected in that order."""

    def __init__(self, session: PolicyPackSession):
        self._stub, self._remediates = session.stub, session.remediates
        self._stack = analyzer_pb2.AnalyzeStackRequest()
        self.report = PolicyReport(remediation_steps={p.name: p.remediation_steps for p in session.info.policies
                                                      if p.remediation_steps})

    def add(self, resources: list[PlannedResource]) -> None:
        """Check ``resources``; each step's requests are all sent before the first answer is read
        (the pack serves them on its own threads), and the answers are taken in order."""
        for start in range(0, len(resources), BATCH):
            batch = resources[start:start + BATCH]
            requests = [_request(r, r.inputs) for r in batch]
            if self._remediates:
                remediations = [self._stub.Remediate.future(request) for request in requests]
                for index, (resource, future) in enumerate(zip(batch, remediations, strict=True)):
                    if (inputs := self._remediated(resource, future.result())) is not None:
                        requests[index] = _request(resource, inputs)
            analyses = [self._stub.Analyze.future(request) for request in requests]
            for resource, request, future in zip(batch, requests, analyses, strict=True):
                self.report.violations += [_violation(d, resource.urn) for d in future.result().diagnostics]
                self._stack.resources.append(analyzer_pb2.AnalyzerResource(
                    type=resource.type, urn=resource.urn, name=resource.name, properties=request.properties,
                    options=request.options, parent=resource.parent or "", dependencies=resource.dependencies,
                    propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                                          for k, v in resource.property_dependencies.items() if v}))

    def _remediated(self, resource: PlannedResource, response: analyzer_pb2.RemediateResponse
                    ) -> dict[str, Any] | None:
        """Record what the remediations said; the inputs they left, or None if none changed them."""
        inputs = None
        for remediation in response.remediations:
            if remediation.diagnostic:
                self.report.violations.append({"policy": remediation.policyName, "level": "advisory",
                                               "urn": resource.urn, "message": remediation.diagnostic})
            if remediation.HasField("properties"):
                inputs = from_wire(json_format.MessageToDict(remediation.properties))
                self.report.remediated[resource.urn] = dict(inputs)
        return inputs

    def finish(self) -> PolicyReport:
        """AnalyzeStack with every resource added (with its final inputs, parent and dependencies)."""
        self.report.violations += [_violation(d, None) for d in self._stub.AnalyzeStack(self._stack).diagnostics]
        return self.report


def analyze_resources(session: PolicyPackSession, resources: list[PlannedResource]) -> PolicyReport:
    """Remediate then Analyze every resource, then AnalyzeStack once; collect the diagnostics."""
    analysis = Analysis(session)
    analysis.add(resources)
    return analysis.finish()


_STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class Setup:
    """What :mod:`scalepath.policy_worker` needs: which pack to start for which stack, how to configure it."""

    pack_dir: Path
    project: str
    stack: str
    stack_config: dict[str, str]
    """The stack's config with secret values replaced."""
    secret_keys: frozenset[str]
    policy_config: dict[str, dict[str, Any]]
    config_source: str


class PolicyCheck:
    """The pack checking a plan's resources while the program still registers them.

    The engine checks each resource as it is registered during a preview; so does this. A helper
    process (:mod:`scalepath.policy_worker`) starts the pack and remediates and analyzes each
    resource :meth:`submit` hands it, in that order, on another core: the gRPC client work stays
    out of the process running the program. :meth:`report` waits for the last one and for
    AnalyzeStack. Use :func:`policy_check` to get one.
    """

    def __init__(self, process: subprocess.Popen[bytes]):
        self._process = process
        self._lock = threading.Lock()  # the SDK registers (and so submits) from several threads
        self._reported = False

    def _send(self, item: object) -> None:
        assert self._process.stdin is not None
        try:
            pickle.dump(item, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            if item is None or isinstance(item, Setup):
                self._process.stdin.flush()
        except (BrokenPipeError, ValueError):  # the worker stopped on an error: report() says which
            pass

    def submit(self, resource: PlannedResource) -> None:
        """Check ``resource`` (any thread; resources are checked in the order submitted)."""
        with self._lock:
            self._send(resource)

    def report(self) -> PolicyReport:
        """Everything the pack said about the submitted resources; raises what stopped the check."""
        with self._lock:
            self._send(None)
        assert self._process.stdout is not None
        try:
            kind, value = pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise PolicyPackError(f"the policy check ended without a report (exit code "
                                  f"{self._process.wait()})") from None
        self._reported = True
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop the worker, and with it the pack, unless it has reported; wait for it to end."""
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()  # a worker waiting for resources abandons the check
            except BrokenPipeError:
                pass
        if self._reported:
            try:
                self._process.wait(timeout=_STOP_WAIT_S)  # it is stopping the pack
            except subprocess.TimeoutExpired:
                pass
        _stop(self._process, None)


@contextmanager
def policy_check(pack_dir: Path, project: str, stack: str, policy_config: Mapping[str, Mapping[str, Any]], *,
                 config_source: str = "(none)", stack_config: Mapping[str, str] | None = None,
                 secret_keys: Iterable[str] = ()) -> Iterator[PolicyCheck]:
    """Start checking a stack's resources as they are submitted (the pack starts now); the pack
    is stopped when the block exits, however it exits. ``policy_config`` is a parsed
    ``--policy-pack-config``, reconciled with the pack's schemas once it answers."""
    secret = frozenset(secret_keys)
    setup = Setup(pack_dir=pack_dir, project=project, stack=stack, secret_keys=secret,
                  stack_config={k: (SECRET if k in secret else v) for k, v in (stack_config or {}).items()},
                  policy_config={k: dict(v) for k, v in policy_config.items()}, config_source=config_source)
    # Found also when scalepath runs from a checkout that is not installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])]))
    # Its own session, like the pack's: a terminal's Ctrl-C reaches the plan, which stops it in order.
    process = children.start(children.python_command(sys.executable, "scalepath.policy_worker"), env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    check = PolicyCheck(process)
    try:
        check._send(setup)
        yield check
    finally:
        check.close()


def check_resources(pack_dir: Path, project: str, stack: str, resources: list[PlannedResource],
                    policy_config: Mapping[str, Mapping[str, Any]], *, config_source: str = "(none)",
                    stack_config: Mapping[str, str] | None = None, secret_keys: Iterable[str] = (),
                    ) -> PolicyReport:
    """Run the whole protocol for one stack: start, configure, analyze, stop."""
    with policy_check(pack_dir, project, stack, policy_config, config_source=config_source,
                      stack_config=stack_config, secret_keys=secret_keys) as check:
        for resource in resources:
            check.submit(resource)
        return check.report()


def policy_config_path(root: Path, environment: str | None, explicit: Path | None) -> Path | None:
    """``explicit``, else ``policies/config/<environment>.json``: the level follows the stack's
    ``scalepath:environment``, never its name (``--stack dev`` with ``environment: prod`` is prod)."""
    if explicit is not None:
        return explicit
    path = root / "policies" / "config" / f"{environment}.json"
    return path if environment and path.is_file() else None


@contextmanager
def plan_check(stack_config: StackConfig, root: Path, policy_config_file: Path | None = None
               ) -> Iterator[PolicyCheck]:
    """A check of ``stack_config``'s plan by the pack in ``<root>/policies``, its process started now.

    The policy config is ``policy_config_file``, else the file of the stack's
    ``scalepath:environment``; without either, the pack's defaults apply.
    """
    path = policy_config_path(root, stack_config.values.get("scalepath:environment"), policy_config_file)
    given = load_policy_config(path) if path else {}
    with policy_check(root / "policies", stack_config.project, stack_config.stack, given,
                      config_source=str(path or "(pack defaults)"), stack_config=stack_config.values,
                      secret_keys=stack_config.secret_keys) as check:
        yield check


def checked(plan: Plan, report: PolicyReport) -> Plan:
    """``plan`` with the pack's violations and its remediations applied."""
    plan.resources = [replace(r, inputs=report.remediated[r.urn]) if r.urn in report.remediated else r
                      for r in plan.resources]
    plan.violations = report.violations
    plan.policy_help = {v["policy"]: report.remediation_steps[v["policy"]]
                        for v in report.violations if v["policy"] in report.remediation_steps}
    return plan


def check_plan(plan: Plan, stack_config: StackConfig, root: Path, policy_config_file: Path | None = None) -> Plan:
    """Check an already planned ``plan`` (see :func:`plan_check`); fills ``violations`` and applies remediations."""
    with plan_check(stack_config, root, policy_config_file) as check:
        for resource in plan.resources:
            check.submit(resource)
        return checked(plan, check.report())
