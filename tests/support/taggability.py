"""Which input of a provider resource type carries cost tags/labels, read from the provider SDKs.

The SDKs register a module per type token; the resource class's constructor tells whether the
type takes ``tags`` (AWS, Azure), ``userLabels``/``resourceLabels``/``labels`` (GCP) or
``metadata.labels`` (Kubernetes). Tests use this to check every taggable resource is tagged,
whatever stage created it.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache

from pulumi.runtime import rpc

_PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native",
             "kubernetes": "pulumi_kubernetes"}
# GCP `tags` are Resource Manager tags, not cost labels; notification channels use `labels`
# for channel config and `userLabels` for ours, so the order matters.
_CANDIDATES = {
    "gcp": (("user_labels", "userLabels"), ("resource_labels", "resourceLabels"), ("labels", "labels")),
    "aws": (("tags", "tags"),),
    "azure-native": (("tags", "tags"),),
    "kubernetes": (),
}


@cache
def tag_property(type_token: str) -> str | None:
    """Wire name of the tag/label input of ``type_token`` (``metadata.labels`` for Kubernetes)."""
    package, module, _ = type_token.split(":")
    if package not in _PACKAGES:
        return None
    importlib.import_module(_PACKAGES[package])
    entries = rpc._RESOURCE_MODULES.get(f"{package}:{module}", [])  # noqa: SLF001 (SDK registry)
    for entry in entries:
        class_name = entry.mod_info["classes"].get(type_token)
        if class_name:
            cls = getattr(importlib.import_module(entry.mod_info["fqn"]), class_name)
            params = inspect.signature(cls._internal_init).parameters
            if package == "kubernetes":  # objects have metadata; a Helm Release has none
                return "metadata.labels" if "metadata" in params else None
            for python_name, wire_name in _CANDIDATES[package]:
                if python_name in params:
                    return wire_name
            return None
    if package == "kubernetes":  # a CRD's objects (apiextensions.CustomResource) have metadata
        return "metadata.labels"
    raise LookupError(f"{type_token} is not a resource type of the installed {package} SDK")


def tags_of(inputs: dict, prop: str) -> dict | None:
    """The tag map at ``prop`` (dotted) in recorded inputs, or None."""
    value: object = inputs
    for part in prop.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else None
