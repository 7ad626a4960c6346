"""The pack's list of taggable types, generated from the provider SDKs, says what the SDKs say."""

from __future__ import annotations

import json

import pytest

from tests.policy_helpers import PACK

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
