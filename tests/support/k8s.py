"""Test helpers: record what a program registers under mocks and validate Kubernetes manifests.

Built-in kinds are checked with ``kubernetes-validate`` (the Kubernetes OpenAPI schemas it ships,
offline, strict: unknown fields fail); CRDs against ``tests/data/vllm_crd_schemas.json``, the
published shape of the fields we set (KEDA, prometheus-operator, GKE Managed Prometheus).
"""

from __future__ import annotations

import contextvars
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi

from scalepath.mocks import ScalepathMocks
from scalepath.plan import RecordingMonitor
from scalepath.wire import SECRET, PlannedResource

#: Kubernetes versions the manifests must be valid for: the oldest and newest minor versions
#: the EKS/GKE stages target (both ship with kubernetes-validate, offline).
K8S_VERSIONS = ("1.31.0", "1.37.0")

_CRD_SCHEMAS = json.loads((Path(__file__).parents[1] / "data" / "vllm_crd_schemas.json").read_text())


class CrdSchemaMissing(AssertionError):
    """A custom resource kind with no schema in ``tests/data/vllm_crd_schemas.json``."""


def record(program: Callable[[], Any], monitor: RecordingMonitor | None = None) -> list[PlannedResource]:
    """Run ``program`` under the plan's recording mocks (fresh Pulumi context) and return what it registered."""
    monitor = monitor or RecordingMonitor(ScalepathMocks())

    def run() -> None:
        pulumi.runtime.set_mocks(monitor.mocks, project="scalepath", stack="test", preview=True,
                                 monitor=monitor)
        pulumi.runtime.test(program)()

    contextvars.Context().run(run)
    return list(monitor.recorded)


def manifests(resources: list[PlannedResource]) -> list[dict[str, Any]]:
    """The Kubernetes objects among recorded resources, as the provider would send them."""
    return [r.inputs for r in resources if r.type.startswith("kubernetes:")]


def _fill_secrets(manifest: dict[str, Any]) -> dict[str, Any]:
    # The plan redacts secret inputs to "[secret]"; a Secret's data map is then a string.
    # Stand a map of the same keys' shape in so the rest of the object is still validated.
    out = copy.deepcopy(manifest)
    for key in ("stringData", "data"):
        if out.get(key) == SECRET:
            out[key] = {"redacted": "redacted"}
    return out


def validate(manifest: dict[str, Any]) -> None:
    """Raise if ``manifest`` is invalid for every targeted Kubernetes version (or its CRD shape)."""
    manifest = _fill_secrets(manifest)
    key = f"{manifest['apiVersion']}/{manifest['kind']}"
    group = manifest["apiVersion"].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):  # built-in groups: "", apps, *.k8s.io...
        schema = _CRD_SCHEMAS["kinds"].get(key)
        if schema is None:
            raise CrdSchemaMissing(f"no CRD schema for {key}")
        jsonschema.validate(manifest, {**schema, "definitions": _CRD_SCHEMAS["definitions"]})
        return
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)
