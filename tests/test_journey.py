"""The README's journey as transitions, and stacks side by side in one account and region (issue 23).

"Moving a model up the path through the gateway" (steps 0 -> 4 and on to retiring the old stage)
and the dev -> staging -> prod moves are each planned against the previous step; every transition
must be safe or declare its serving gap. Stacks planned into one account and region must not
share a physical name in a namespace they share (finding 7)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import StackConfig, load_stack_config
from scalepath.transition import Transition, transition
from tests.support import ROOT
from tests.support.gateway import with_gateway


def _values(config: StackConfig, **changes: Any) -> StackConfig:
    values = dict(config.values)
    for key, value in changes.items():
        name = f"scalepath:{key}"
        if value is None:
            values.pop(name, None)
        else:
            values[name] = json.dumps(value)
    return replace(config, values=values)


def _deployments(stack: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in json.loads(load_stack_config(stack, ROOT).values["scalepath:deployments"])}


def _route(*targets: tuple[str, int], fallbacks: tuple[str, ...] = ()) -> dict[str, Any]:
    route: dict[str, Any] = {"name": "chat", "targets": [{"deployment": d, "weight": w} for d, w in targets]}
    if fallbacks:
        route["fallbacks"] = list(fallbacks)
    return {"runtime": "ecs", "routes": [route]}


def journey() -> list[tuple[str, StackConfig]]:
    """The README's steps, as one stack (``journey``) on the shipped dev environment."""
    dev = replace(load_stack_config("dev", ROOT), stack="journey")
    hf = _deployments("dev")
    serverless, endpoint = hf["chat-serverless"], hf["chat-endpoint"]
    # As the README's step 4: Llama is gated, so its weights are staged in S3 (SageMaker gets no Hub token).
    sagemaker = {"name": "chat-sm", "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "sagemaker",
                 "instanceType": "ml.g5.2xlarge", "container": {"server": "tgi", "version": "3.3.6"},
                 "weightsS3Uri": "s3://ml-platform-model-weights/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/"}
    steps = [
        ("step 0: one stage behind the gateway", [serverless], _route(("chat-serverless", 100))),
        ("step 1: the next stage at 10%", [serverless, endpoint],
         _route(("chat-serverless", 90), ("chat-endpoint", 10))),
        ("step 2: 50/50", [serverless, endpoint], _route(("chat-serverless", 50), ("chat-endpoint", 50))),
        ("step 3: all on the endpoint, serverless as fallback", [serverless, endpoint],
         _route(("chat-endpoint", 100), fallbacks=("chat-serverless",))),
        ("step 4: SageMaker at 10%", [serverless, endpoint, sagemaker],
         _route(("chat-endpoint", 90), ("chat-sm", 10), fallbacks=("chat-serverless",))),
        ("step 4: SageMaker at 100%, the endpoint as fallback", [serverless, endpoint, sagemaker],
         _route(("chat-sm", 100), fallbacks=("chat-endpoint",))),
        ("retire the deployment nothing routes to", [endpoint, sagemaker],
         _route(("chat-sm", 100), fallbacks=("chat-endpoint",))),
    ]
    return [(label, _values(dev, deployments=copy.deepcopy(deployments), gateway=gateway))
            for label, deployments, gateway in steps]


def environments() -> list[tuple[str, StackConfig]]:
    """dev -> staging -> prod as one stack (``path``) whose file is rewritten to each."""
    return [(f"as {stack}", replace(load_stack_config(stack, ROOT), stack="path"))
            for stack in ("dev", "staging", "prod")]


def _walk(steps: list[tuple[str, StackConfig]]) -> list[tuple[str, Transition]]:
    plans = [(label, config, run_plan(config)) for label, config in steps]
    return [(label, transition(previous_label, previous_config, previous, config, plan,
                               config.values["scalepath:environment"]))
            for (previous_label, previous_config, previous), (label, config, plan)
            in zip(plans, plans[1:], strict=False)]


@pytest.mark.parametrize("walk", [journey, environments], ids=["gateway steps", "dev-staging-prod"])
def test_every_step_is_safe_or_declares_its_gap(walk) -> None:
    for label, moved in _walk(walk()):
        assert not moved.refusals, (label, [c.refused for c in moved.refusals])
        for change in moved.gaps:
            assert change.gap and change.gap.what and change.gap.why, (label, change)
        if moved.environment != "prod":
            assert moved.safe, label


def test_gateway_steps_open_no_gap() -> None:
    """Weights move traffic before anything is removed, so no step stops serving: the retired
    deployment had no traffic in the step before."""
    for label, moved in _walk(journey()):
        assert moved.gaps == [], (label, [(c.name, c.gap) for c in moved.gaps])
        assert moved.changes, label  # each step changes something


# --- finding 7: stacks side by side --------------------------------------------------------------

#: Types whose physical name is unique per account (and region) or per GCP project, and its input.
NAMESPACED = {
    "aws:cloudwatch/logGroup:LogGroup": "name", "aws:ecs/taskDefinition:TaskDefinition": "family",
    "aws:ecs/cluster:Cluster": "name", "aws:iam/role:Role": "name", "aws:iam/policy:Policy": "name",
    "aws:budgets/budget:Budget": "name", "aws:secretsmanager/secret:Secret": "name",
    "aws:sagemaker/endpoint:Endpoint": "name", "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName", "aws:kms/alias:Alias": "name",
    "aws:eks/cluster:Cluster": "name", "aws:lb/loadBalancer:LoadBalancer": "name",
    "aws:lb/targetGroup:TargetGroup": "name", "aws:s3/bucket:Bucket": "bucket",
    "gcp:cloudrunv2/service:Service": "name", "gcp:serviceaccount/account:Account": "accountId",
    "gcp:secretmanager/secret:Secret": "secretId", "gcp:container/cluster:Cluster": "name",
    "gcp:billing/budget:Budget": "displayName", "gcp:compute/network:Network": "name",
    "gcp:dns/managedZone:ManagedZone": "name",
}


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000"
"""A public ECS gateway outside dev serves HTTPS only."""


def _names(plan: Plan) -> list[tuple[str, str]]:
    return [(r.type, r.inputs[key]) for r in plan.resources
            if (key := NAMESPACED.get(r.type)) and isinstance(r.inputs.get(key), str)
            and r.inputs[key] != "[unknown]"]


def test_stacks_in_one_account_and_region_share_no_name() -> None:
    step0 = dict(journey())["step 0: one stage behind the gateway"]
    aws = [load_stack_config("gateway-dev", ROOT), replace(step0, stack="dev"),
           with_gateway("staging", {**_route(("chat", 100)), "tlsCertificateArn": CERTIFICATE}),
           load_stack_config("prod", ROOT)]
    cloudrun = {"routes": [{"name": "chat", "targets": [{"deployment": "llama-8b", "weight": 100}]}]}
    # Public: a Cloud Run gateway cannot reach Vertex behind Private Service Connect (docs/gateway.md).
    public = {"scalepath__network": {"mode": "public"}}
    gcp = [with_gateway("gcp-prod", cloudrun, **public),
           replace(with_gateway("gcp-prod", cloudrun, **public), stack="gcp-staging")]
    # Two GKE stacks in one project, each with its gateway on the cluster, whose cluster names
    # share their first 24 characters: GKE's node and KEDA service account ids (6-30 characters,
    # unique in the project) were cut from them.
    on_gke = {"routes": [{"name": "chat", "targets": [{"deployment": "chat-gke", "weight": 100}]}]}
    gke = [replace(with_gateway("gke-staging", on_gke), stack=f"gke-staging-team{n}") for n in (1, 2)]
    clusters = [r.inputs["name"] for config in gke for r in run_plan(config).resources
                if r.type == "gcp:container/cluster:Cluster"]
    assert len(clusters) == 2 and clusters[0][:24] == clusters[1][:24] and clusters[0] != clusters[1]
    for group in (aws, gcp, gke):
        assert len({c.values.get("aws:region") or c.values.get("gcp:region") for c in group}) == 1
        names = Counter(name for config in group for name in set(_names(run_plan(config))))
        assert [n for n, count in names.items() if count > 1] == []
