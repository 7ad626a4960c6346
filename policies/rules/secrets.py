"""no-plaintext-secrets: credentials only by reference, never as literal values.

Two checks. (1) Any known string input that looks like a credential (HF token, AWS access key,
private key, ...) is a leak wherever it sits — env maps, container env, ConfigMaps, tags —
except in a *secret sink*: the inputs whose job is to hold a secret (a Secrets Manager secret
version, a Kubernetes Secret, a Key Vault or Secret Manager secret, the token of our HF
endpoint resource, Vertex's dedicated HF token field). (2) An environment variable whose *name*
says secret (``HF_TOKEN``, ``*_API_KEY``) must be a reference: ``valueFrom.secretKeyRef`` in
Kubernetes, a Key Vault reference in Azure ML. A Pulumi secret in a plain env map (SageMaker
model environment, Azure ML / Vertex container env) is a leak too: those APIs return env values
in clear to anyone who may describe the model.

The engine hands a Python pack the *decrypted* value of a Pulumi secret; the offline plan shows
it as ``[secret]``. Both checks are written so the two give the same verdict: sinks are exempt
whatever they hold, and a secret-named plain env variable fails whether it holds ``[secret]``
or the decrypted token.

The patterns come from the policy config, so they run with a time limit (the ``regex`` package's
``timeout``): a pattern that backtracks without end (``(a|aa)+$``) is reported as a mandatory
violation naming its config key, once per pack process, and is not run again: never a plan that hangs.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import regex
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import DATA_DIR, SECRET_MARKER, containers, get, items, strings

#: Credential shapes, shared with the stack config parser through the pack's own data file
#: (``data/token_patterns.json``): each finds a token anywhere inside a longer string.
DEFAULT_TOKEN_PATTERNS = list(json.loads((DATA_DIR / "token_patterns.json").read_text())["patterns"].values())
# Names that *end* in a secret word: HF_TOKEN, OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, DB_PASSWORD;
# not MAX_TOTAL_TOKENS or MAX_INPUT_TOKENS (TGI limits).
DEFAULT_SECRET_NAME = r"(?i)(^|_)(token|secret|password|passwd|api_?key|access_?key|secret_?key|credentials?)$"
# Values that name a secret held in a store rather than the secret itself: Azure ML resolves
# `${{keyvault:<secret URI>}}` with the endpoint's identity when the container starts.
SECRET_REFERENCE = re.compile(r"^\$\{\{keyvault:https://[^}\s]+\}\}$")
PATTERN_SECONDS = 1.0
"""Time one configured pattern may take on one value: the shipped ones take microseconds."""
_too_slow: set[str] = set()
_too_slow_lock = threading.Lock()
"""Patterns that ran out of time in this pack process: reported once, not run again."""


#: Inputs meant to hold a secret value, per resource type (dotted paths; ``*`` = any key).
SECRET_SINKS: dict[str, tuple[str, ...]] = {
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString", "secretBinary"),
    "kubernetes:core/v1:Secret": ("data.*", "stringData.*"),
    "azure-native:keyvault:Secret": ("properties.value",),
    "gcp:secretmanager/secretVersion:SecretVersion": ("secretData",),
    "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        ("modelConfig.huggingFaceAccessToken",),
    "huggingface:InferenceEndpoint": ("token", "secrets.*"),  # our dynamic resource, by `kind`
}


def _sink_paths(resource_type: str, props: Mapping[str, Any]) -> tuple[str, ...]:
    if resource_type == "pulumi-python:dynamic:Resource":
        resource_type = str(get(props, "kind", ""))
    return SECRET_SINKS.get(resource_type, ())


def _in_sink(path: str, sinks: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(path, sink) or path.startswith(sink + ".") for sink in sinks)


def _env_blocks(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, value) of every environment block a resource sets: maps of name -> value (SageMaker,
    Azure ML) and lists of ``{name, value}`` entries (Vertex, Kubernetes containers)."""
    if resource_type == "aws:sagemaker/model:Model":
        yield "primaryContainer.environment", _at(props, "primaryContainer.environment")
        for i in range(len(items(get(props, "containers")))):
            yield f"containers[{i}].environment", _at(props, f"containers[{i}].environment")
    elif resource_type == "azure-native:machinelearningservices:OnlineDeployment":
        yield "properties.environmentVariables", _at(props, "properties.environmentVariables")
    elif resource_type == "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        yield "modelConfig.containerSpec.envs", get(props, "modelConfig.containerSpec.envs")
    for c, container in enumerate(containers(resource_type, props)):
        yield f"containers[{c}].env", get(container, "env")


def env_entries(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(path, variable name, literal value) of environment variables a resource sets."""
    for path, block in _env_blocks(resource_type, props):
        if isinstance(block, Mapping):
            for name in block:
                yield f"{path}.{name}", name, block[name]
        for i, entry in enumerate(items(block)):
            # `valueFrom` (secretKeyRef) is the reference form; only literal `value`s count.
            if isinstance(entry, Mapping) and "value" in entry:
                yield f"{path}[{i}]", str(get(entry, "name", "")), get(entry, "value")


def _at(props: Mapping[str, Any], path: str) -> Any:
    """Like ``get`` but understands one ``name[i]`` list index per segment."""
    node: Any = props
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        node = items(get(node, match.group(1)))[int(match.group(2))] if match else get(node, part)
        if node is None:
            return None
    return node


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def _search(pattern: str, text: str) -> bool | None:
    """Whether ``pattern`` finds something in ``text`` within :data:`PATTERN_SECONDS`; None the
    first time it runs out of time (it is then remembered and never run again: False)."""
    if pattern in _too_slow:
        return False
    try:
        return _compiled(pattern).search(text, timeout=PATTERN_SECONDS) is not None
    except TimeoutError:
        with _too_slow_lock:  # the pack checks resources on several threads: report once
            first = pattern not in _too_slow
            _too_slow.add(pattern)
        return None if first else False


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    tokens = config.get("tokenPatterns", DEFAULT_TOKEN_PATTERNS)
    secret_name = config.get("secretNamePattern", DEFAULT_SECRET_NAME)
    slow: set[str] = set()

    def search(pattern: str, text: str) -> bool:
        found = _search(pattern, text)
        if found is None:
            slow.add(pattern)
        return bool(found)

    sinks = _sink_paths(args.resource_type, args.props)
    for path, value in strings(args.props):
        if value != SECRET_MARKER and not _in_sink(path, sinks) and any(search(t, value) for t in tokens):
            # Never echo the value: the message would put the credential in logs.
            report_violation(f"`{path}` holds a credential-like literal value; store it in a secret store "
                             "and pass a reference.", None)
    for path, block in _env_blocks(args.resource_type, args.props):
        # A block that is a Pulumi secret as a whole holds a secret: offline it reads "[secret]",
        # decrypted by the engine it is the map itself; both are plain environment in the API.
        if block == SECRET_MARKER and not _in_sink(path, sinks):
            report_violation(f"`{path}` is a secret as a whole in a plain environment, which the platform "
                             "shows in clear; pass secrets by reference and keep the rest plain.", None)
    for path, name, value in env_entries(args.resource_type, args.props):
        if (search(secret_name, name) and not _in_sink(path, sinks) and isinstance(value, str) and value
                and not SECRET_REFERENCE.match(value)):
            report_violation(f"`{path}` puts a secret into plain environment variable `{name}`, which the "
                             "platform shows in clear; pass a reference (`valueFrom.secretKeyRef`, a Key "
                             "Vault reference) or, on SageMaker, stage the weights in S3 (`weightsS3Uri`) "
                             "so no token is needed.", None)
    for key, pattern in [*((f"tokenPatterns[{i}]", p) for i, p in enumerate(tokens)),
                         ("secretNamePattern", secret_name)]:
        if pattern in slow:
            report_violation(f"the policy config's `{key}` took over {PATTERN_SECONDS:g}s on one value and is "
                             "not applied for the rest of this run, so secrets are not proven absent; simplify "
                             "it (no nested repetition such as `(a|aa)+`)", None)


POLICY = ResourceValidationPolicy(
    name="no-plaintext-secrets",
    description="No credentials as plain values in environment variables, ConfigMaps or other inputs.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "tokenPatterns": {"type": "array", "minItems": 1,
                          "items": {"type": "string", "minLength": 1, "format": "regex"},
                          "default": DEFAULT_TOKEN_PATTERNS,
                          "description": "Python regular expressions of credential-looking values."},
        "secretNamePattern": {"type": "string", "minLength": 1, "format": "regex", "default": DEFAULT_SECRET_NAME,
                              "description": "Regular expression of environment variable names that hold secrets."},
    }),
    remediation_steps=(
        "Set tokens with `pulumi config set --secret scalepath:hfToken ...` and pass them as Pulumi "
        "secrets, cloud secret stores (Secrets Manager, Key Vault, Secret Manager) or Kubernetes "
        "`valueFrom.secretKeyRef`; never in ConfigMaps, tags or plain env values."
    ),
)
