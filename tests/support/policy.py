"""Building blocks for policy tests: synthetic recorded resources and a configured pack run."""

from __future__ import annotations

from typing import Any

from scalepath.policy_runner import (
    PolicyPackSession,
    PolicyReport,
    analyze_resources,
    load_policy_config,
    reconcile_config,
)
from scalepath.wire import PlannedResource
from tests.support import ROOT

PACK = ROOT / "policies"
CONFIGS = PACK / "config"

#: The cost tags components put on every resource (components.tagging.cost_tags for stack "test").
TAGS = {"team": "ml", "cost-center": "cc-1", "environment": "dev", "stack": "scalepath-test",
        "managed-by": "scalepath"}


def resource(type_: str, inputs: dict[str, Any], name: str = "r", parent: str | None = None,
             dependencies: list[str] | None = None) -> PlannedResource:
    """A recorded resource as the plan would hold it."""
    return PlannedResource(urn=f"urn:pulumi:test::scalepath::{type_}::{name}", type=type_, name=name,
                           parent=parent, custom=True, inputs=inputs, dependencies=dependencies or [])


def hf_endpoint(**inputs: Any) -> PlannedResource:
    """One of our Hugging Face endpoints (a dynamic resource with an explicit kind)."""
    base = {"kind": "huggingface:InferenceEndpoint", "vendor": "aws", "region": "us-east-1",
            "accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1", "minReplica": 0,
            "maxReplica": 1, "type": "private", "tags": dict(TAGS), "token": "[secret]"}
    return resource("pulumi-python:dynamic:Resource", {**base, **inputs}, name="hf")


def run(session: PolicyPackSession, resources: list[PlannedResource], env: str = "dev",
        overrides: dict[str, Any] | None = None) -> PolicyReport:
    """Configure the running pack for ``env`` (plus overrides) and check ``resources``."""
    given = load_policy_config(CONFIGS / f"{env}.json")
    for name, value in (overrides or {}).items():
        given[name] = value
    session.configure(reconcile_config(session.info, given, f"{env}.json"))
    return analyze_resources(session, resources)


def of(report: PolicyReport, policy: str) -> list[dict[str, Any]]:
    """The violations one policy reported."""
    return [v for v in report.violations if v["policy"] == policy]
