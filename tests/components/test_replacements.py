"""Every resource type the library declares has replacement facts (components/data/replacements.yaml),
each fact says where it was read, and a provider's narrower range is refused by the parser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from components import replacements
from scalepath.plan import Plan, run_plan
from stacks.errors import ConfigError
from tests.gateway.test_runtimes import STACKS as RUNTIME_STACKS
from tests.support import ROOT, stack_config

SHIPPED = ("dev", "staging", "prod", "azure-prod", "gcp-prod", "gke-staging", "gateway-dev")


@pytest.fixture(scope="module")
def runtime_plans() -> list[Plan]:
    """The gateway runtimes no shipped stack uses (Cloud Run, Container Apps, Kubernetes)."""
    return [run_plan(config) for config in RUNTIME_STACKS.values()]


def test_every_declared_type_has_an_entry(shipped_plan: Callable[[str], Plan], runtime_plans: list[Plan]) -> None:
    declared = {replacements.type_key(r.type, r.inputs)
                for plan in [*(shipped_plan(s) for s in SHIPPED), *runtime_plans]
                for r in plan.resources if r.custom}
    missing = sorted(declared - set(replacements.load().types))
    assert missing == [], f"no replacement facts for {missing}: read the provider's source and add them"


def test_an_unread_entry_claims_nothing() -> None:
    data = replacements.load()
    for type_, facts in data.types.items():
        if not facts.read:
            assert not (facts.force_new or facts.force_new_block or facts.immutable or facts.name), type_
    assert data.as_of


COMMIT = re.compile(r"^[0-9a-f]{40}$")


def source_problems(data: replacements.Replacements) -> list[str]:
    """Entries whose facts claim a source that cannot be found again: an outside repository needs
    the path and the commit read (several, " / "-separated, one per path read); this repository's
    own files need a path that exists."""
    problems = []
    for type_, facts in data.types.items():
        if not facts.read:
            continue
        source = data.sources.get(facts.source) if isinstance(facts.source, str) else facts.source
        if not source or not source.get("repository"):
            problems.append(f"{type_}: no repository")
            continue
        if not source.get("path"):
            problems.append(f"{type_}: no path in {source['repository']}")
        if source["repository"].startswith("scalepath "):
            path = str(source.get("path", "")).split(" ")[0]
            if path and not (ROOT / path).is_file():
                problems.append(f"{type_}: {path} is not in this repository")
        elif not all(COMMIT.match(c.strip()) for c in str(source.get("commit", "")).split("/")):
            problems.append(f"{type_}: no commit (40 hex digits) for {source['repository']}")
    return problems


def test_every_read_entry_names_repository_path_and_commit() -> None:
    assert source_problems(replacements.load()) == []


@pytest.mark.parametrize("source", [
    {"repository": "hashicorp/terraform-provider-aws"},
    {"repository": "hashicorp/terraform-provider-aws", "path": "internal/service/ecs/service.go"},
    {"repository": "hashicorp/terraform-provider-aws", "path": "internal/service/ecs/service.go", "commit": "main"},
    {"repository": "scalepath (this repository)", "path": "components/no_such_file.py"},
])
def test_a_source_without_path_or_commit_is_caught(source: dict) -> None:
    data = replacements.load()
    entry = replacements.TypeFacts(source=source, forceNew=["name"])
    broken = data.model_copy(update={"types": {**data.types, "aws:ecs/service:Service": entry}})
    problems = source_problems(broken)
    assert problems and all(p.startswith("aws:ecs/service:Service: ") for p in problems), problems


def test_the_provider_range_is_the_one_up_meets() -> None:
    # terraform-provider-aws validates 600..14,400 (endpoint.go); botocore's model says 600..28,800.
    assert replacements.provider_range(
        "aws:sagemaker/endpoint:Endpoint",
        "deploymentConfig.blueGreenUpdatePolicy.maximumExecutionTimeoutInSeconds") == (600, 14400)


def config_issues(values: dict) -> dict[str, str]:
    """Issues the parser finds in ``values`` by key path ({} when the config is valid)."""
    try:
        stack_config(values).spec()
    except ConfigError as error:
        return {i.path: i.message for i in error.issues}
    return {}


def _sagemaker(rollout: dict) -> dict:
    return {"name": "chat", "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "sagemaker",
            "instanceType": "ml.g5.2xlarge", "container": {"server": "tgi", "version": "3.3.6"}, "rollout": rollout}


@pytest.mark.parametrize(("timeout", "refused"), [(14400, False), (14401, True), (16000, True)])
def test_sagemaker_execution_timeout_is_held_to_the_providers_range(
        base_config: dict, timeout: int, refused: bool) -> None:
    base_config["scalepath:deployments"] = [_sagemaker({"maximumExecutionTimeoutSeconds": timeout})]
    found = config_issues(base_config)
    key = "scalepath:deployments[0].rollout.maximumExecutionTimeoutSeconds"
    assert (key in found) is refused, found
    if refused:
        assert "14400" in found[key]


@pytest.mark.parametrize(("rollout", "refused"), [
    # linear 20 %: 5 steps x 600 s + 600 s termination = 3,600 s, the provider's whole wait
    ({"strategy": "linear"}, True),
    # 5 x 590 + 649 = 3,599 s: under the wait
    ({"strategy": "linear", "waitSeconds": 590, "terminationWaitSeconds": 649}, False),
    ({"strategy": "canary", "waitSeconds": 600, "terminationWaitSeconds": 900}, False),
])
def test_a_rollout_fits_in_what_the_provider_waits(base_config: dict, rollout: dict, refused: bool) -> None:
    base_config["scalepath:deployments"] = [_sagemaker(rollout)]
    found = config_issues(base_config)
    key = "scalepath:deployments[0].rollout"
    assert (key in found) is refused, found
    if refused:
        assert "3600 s" in found[key] and "InService" in found[key]
