"""The pack's list of taggable types, generated from the provider SDKs, says what the SDKs say."""

from __future__ import annotations

import json

import pytest

from policies.rules.common import tag_path
from tests.support import SHIPPED
from tests.support.policy import PACK
from tests.support.taggability import tag_property

TYPES = json.loads((PACK / "data" / "taggable_types.json").read_text())


@pytest.mark.parametrize(("type_", "path"), [
    ("aws:sagemaker/model:Model", "tags"),
    ("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "tags"),
    ("aws:appautoscaling/target:Target", "tags"),
    ("aws:budgets/budget:Budget", "tags"),
    ("aws:eks/nodeGroup:NodeGroup", "tags"),
    ("azure-native:machinelearningservices:OnlineEndpoint", "tags"),
    ("azure-native:machinelearningservices:OnlineDeployment", "tags"),
    ("gcp:vertex/aiEndpoint:AiEndpoint", "labels"),
    ("gcp:container/cluster:Cluster", "resourceLabels"),
    ("gcp:container/nodePool:NodePool", "nodeConfig.resourceLabels"),
    # On notification channels `labels` is channel configuration; the resource labels are userLabels.
    ("gcp:monitoring/notificationChannel:NotificationChannel", "userLabels"),
    ("kubernetes:apps/v1:Deployment", "metadata.labels"),
    ("kubernetes:core/v1:Service", "metadata.labels"),
])
def test_taggable_types_use_the_sdk_tag_input(type_, path):
    assert TYPES[type_] == path


@pytest.mark.parametrize("type_", [
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:appautoscaling/policy:Policy",
    "azure-native:consumption:Budget",
    "gcp:billing/budget:Budget",
    "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment",
    "kubernetes:core/v1:ConfigMapList",
    "kubernetes:apps/v1:DeploymentPatch",
])
def test_untaggable_types_are_not_listed(type_):
    assert type_ not in TYPES


@pytest.mark.parametrize("stack", SHIPPED)
def test_the_pack_checks_tags_on_every_taggable_type_the_stacks_create(shipped_plan, stack):
    # The pack reads a generated data file, not the SDKs: if the file went stale (an SDK upgrade,
    # a new resource type), required-tags would silently skip that type. Hold it against the SDKs.
    plan = shipped_plan(stack)
    taggable = [r for r in plan.resources if r.custom and tag_property(r.type) is not None]
    assert taggable
    unchecked = sorted({r.type for r in taggable if tag_path(r.type, r.inputs) is None})
    assert unchecked == [], "run policies/tools/gen_taggable_types.py"
