"""k8s-workload-hygiene: GPU workloads that schedule predictably and restart sanely."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import POD_SPEC_PATHS, get, items

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _image_problem(image: str, require_digest: bool) -> str | None:
    if _DIGEST.search(image):
        return None
    if require_digest:
        return "is not pinned by digest (`@sha256:...`)"
    # A tag is what follows the last ':' after the last '/' (a registry port is not a tag).
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag or tag == "latest":
        return "has no fixed tag (`latest` or none)"
    return None


def problems(resource_type: str, props: Mapping[str, Any], require_digest: bool) -> Iterator[str]:
    """Hygiene problems of a Kubernetes workload, one sentence each."""
    if resource_type not in POD_SPEC_PATHS:
        return
    if get(props, "metadata.namespace", "default") == "default":
        yield "it runs in the `default` namespace; give each deployment its own namespace"
    pod = get(props, POD_SPEC_PATHS[resource_type], {})
    main = items(get(pod, "containers"))
    for container in main + items(get(pod, "initContainers")):
        name = get(container, "name", "?")
        requests, limits = get(container, "resources.requests", {}), get(container, "resources.limits", {})
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        gpu = [g for g in GPU_RESOURCES if g in requests or g in limits]
        # Extended resources such as GPUs are only honoured as limits.
        missing += [f"limits.{g}" for g in gpu if g not in limits]
        if missing:
            yield f"container `{name}` has no {', '.join(missing)}"
        image_problem = _image_problem(str(get(container, "image", "")), require_digest)
        if image_problem:
            yield f"container `{name}` image `{get(container, 'image', '')}` {image_problem}"
        if any(container is c for c in main):  # init containers run to completion; no probes
            probes = ["readinessProbe", "livenessProbe"] + (["startupProbe"] if gpu else [])
            absent = [p for p in probes if get(container, p) is None]
            if absent:
                yield f"container `{name}` has no {', '.join(absent)}"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    require_digest = bool(args.get_config().get("requireImageDigest", False))
    for problem in problems(args.resource_type, args.props, require_digest):
        report_violation(problem[0].upper() + problem[1:] + ".", None)


POLICY = ResourceValidationPolicy(
    name="k8s-workload-hygiene",
    description="Kubernetes workloads set resources (GPUs as limits), own a namespace, pin images and have probes.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "requireImageDigest": {"type": "boolean", "default": False,
                               "description": "Require images pinned by digest, not only by a non-`latest` tag."},
    }),
    remediation_steps=(
        "Set cpu/memory requests and a memory limit on every container, `nvidia.com/gpu` as a limit, a "
        "namespace per deployment, a fixed image tag or digest, readiness and liveness probes, and a "
        "startup probe with a long failureThreshold for GPU model servers (weights load slowly)."
    ),
)
