"""Helpers shared by the rules: property access by path, resource identity, matching.

Properties arrive as the engine sends them: camelCase wire names, wrapped in pulumi_policy's
unknown-checking proxies (``Mapping``/``Sequence``, not ``dict``/``list``). Reading an unknown
value raises, and the SDK turns that into an advisory "can't run during preview" diagnostic.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy.proxy import UnknownValueError

#: How the offline plan (and our components' docs) show a value that is a Pulumi secret.
SECRET_MARKER = "[secret]"

DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
HF_ENDPOINT_KIND = "huggingface:InferenceEndpoint"

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
"""The pack's own data files (the pack is standalone: it reads nothing outside its folder)."""

#: Provider prefix of a type token -> cloud name used in messages and budget matching.
CLOUD_PREFIXES = {"aws": "aws", "azure-native": "azure", "gcp": "gcp"}


def get(props: Any, path: str, default: Any = None) -> Any:
    """``props`` at a dotted path (``"vpcConfig.endpointPublicAccess"``), or ``default``."""
    value = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return default if value is None else value


def items(value: Any) -> list[Any]:
    """A list property as a list (absent or null -> empty)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def number(value: Any) -> float | None:
    """A numeric property, also when providers take it as a string (AWS ``limitAmount``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def is_hf_endpoint(resource_type: str, props: Mapping[str, Any]) -> bool:
    """Our Hugging Face Inference Endpoint: a dynamic resource with an explicit ``kind``."""
    return resource_type == DYNAMIC_TYPE and props.get("kind") == HF_ENDPOINT_KIND


def cloud_of(resource_type: str) -> str | None:
    """``aws``/``azure``/``gcp`` for a provider resource type, else None (k8s, dynamic, components)."""
    return CLOUD_PREFIXES.get(resource_type.split(":", 1)[0])


def matches_any(value: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive glob match (``ml.g5.*``; Vertex spells ``NVIDIA_L4``, GKE ``nvidia-l4``)."""
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every known string below ``value`` with its dotted path; unknown values are skipped."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key in list(value):
            try:
                child = value[key]
            except UnknownValueError:
                continue
            yield from strings(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence):
        for index in range(len(value)):
            try:
                child = value[index]
            except UnknownValueError:
                continue
            yield from strings(child, f"{path}[{index}]")


@cache
def taggable_types() -> dict[str, str]:
    """Type token -> tag input path, generated from the provider SDKs (tools/gen_taggable_types.py)."""
    return json.loads((DATA_DIR / "taggable_types.json").read_text())


def tag_path(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """Where a resource keeps its cost tags, or None for types that take none."""
    if is_hf_endpoint(resource_type, props):
        return "tags"
    known = taggable_types().get(resource_type)
    if known:
        return known
    # Kubernetes CustomResources (KEDA ScaledObject, ...) are typed `kubernetes:<apiVersion>:<kind>`.
    if resource_type.startswith("kubernetes:") and "apiVersion" in props and "kind" in props:
        return "metadata.labels"
    return None


POD_SPEC_PATHS = {
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:core/v1:Pod": "spec",
}
"""Where each Kubernetes workload kind keeps its pod spec."""


def containers(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Containers and init containers of a Kubernetes workload (empty for other types)."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return []
    pod = get(props, path, {})
    return items(get(pod, "containers")) + items(get(pod, "initContainers"))
