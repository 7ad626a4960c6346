"""gpu-instance-allowlist: accelerators and instance types are ones the environment allows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import get, is_hf_endpoint, items, matches_any

DEFAULT_ALLOWED = ["ml.g5.*", "ml.g6.*", "g5.*", "g6.*", "g2-standard-*", "nvidia-l4", "nvidia-tesla-t4",
                   "nvidia_l4", "nvidia_tesla_t4", "Standard_NC*as_T4_v3", "Standard_NC*ads_A10_v4",
                   "nvidia-a10g", "nvidia-t4"]


#: EC2 resources that launch one instance type named by `instanceType` (instances, spot requests,
#: launch templates and configurations that node groups, fleets and auto scaling groups use).
EC2_SINGLE_TYPE = ("aws:ec2/instance:Instance", "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
                   "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/launchConfiguration:LaunchConfiguration")


def _overrides(prefix: str, configs: Any) -> Iterator[tuple[str, str]]:
    """Instance types of fleet `launchTemplateConfigs[].overrides[]` (spot fleets, EC2 fleets)."""
    for i, config in enumerate(items(configs)):
        for j, override in enumerate(items(get(config, "overrides"))):
            if get(override, "instanceType"):
                yield f"{prefix}[{i}].overrides[{j}].instanceType", get(override, "instanceType")


def _gke_node_config(prefix: str, node_config: Any) -> Iterator[tuple[str, str]]:
    if get(node_config, "machineType"):
        yield f"{prefix}.machineType", get(node_config, "machineType")
    for i, accelerator in enumerate(items(get(node_config, "guestAccelerators"))):
        if get(accelerator, "type"):
            yield f"{prefix}.guestAccelerators[{i}].type", get(accelerator, "type")


def instance_types(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(property path, instance/machine/accelerator type) pairs a resource asks for."""
    if resource_type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        for field in ("productionVariants", "shadowProductionVariants"):
            for i, variant in enumerate(items(get(props, field))):
                if get(variant, "instanceType"):  # serverless variants have none
                    yield f"{field}[{i}].instanceType", get(variant, "instanceType")
    elif resource_type == "azure-native:machinelearningservices:OnlineDeployment":
        if get(props, "properties.instanceType"):
            yield "properties.instanceType", get(props, "properties.instanceType")
    elif resource_type == "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        spec = "deployConfig.dedicatedResources.machineSpec"
        for field in ("machineType", "acceleratorType"):
            if get(props, f"{spec}.{field}"):
                yield f"{spec}.{field}", get(props, f"{spec}.{field}")
    elif resource_type == "aws:eks/nodeGroup:NodeGroup":
        for i, kind in enumerate(items(get(props, "instanceTypes"))):
            yield f"instanceTypes[{i}]", kind
    elif resource_type in EC2_SINGLE_TYPE:
        if get(props, "instanceType"):
            yield "instanceType", get(props, "instanceType")
    elif resource_type == "aws:ec2/spotFleetRequest:SpotFleetRequest":
        for i, spec in enumerate(items(get(props, "launchSpecifications"))):
            if get(spec, "instanceType"):
                yield f"launchSpecifications[{i}].instanceType", get(spec, "instanceType")
        yield from _overrides("launchTemplateConfigs", get(props, "launchTemplateConfigs"))
    elif resource_type == "aws:ec2/fleet:Fleet":
        yield from _overrides("launchTemplateConfigs", get(props, "launchTemplateConfigs"))
    elif resource_type == "aws:autoscaling/group:Group":
        for i, override in enumerate(items(get(props, "mixedInstancesPolicy.launchTemplate.overrides"))):
            if get(override, "instanceType"):
                yield f"mixedInstancesPolicy.launchTemplate.overrides[{i}].instanceType", get(override, "instanceType")
    elif resource_type == "gcp:container/nodePool:NodePool":
        yield from _gke_node_config("nodeConfig", get(props, "nodeConfig", {}))
    elif resource_type == "gcp:container/cluster:Cluster":
        yield from _gke_node_config("nodeConfig", get(props, "nodeConfig", {}))
        for i, pool in enumerate(items(get(props, "nodePools"))):
            yield from _gke_node_config(f"nodePools[{i}].nodeConfig", get(pool, "nodeConfig", {}))
    elif is_hf_endpoint(resource_type, props) and get(props, "instanceType"):
        yield "instanceType", get(props, "instanceType")


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = args.get_config().get("allowed", DEFAULT_ALLOWED)
    for path, kind in instance_types(args.resource_type, args.props):
        if not matches_any(str(kind), allowed):
            report_violation(f"`{path}` is `{kind}`, which this environment does not allow "
                             f"(allowed: {', '.join(allowed)}).", None)


POLICY = ResourceValidationPolicy(
    name="gpu-instance-allowlist",
    description="Instance, machine and accelerator types are on the environment's allowlist.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "allowed": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "default": DEFAULT_ALLOWED,
            "description": "Case-insensitive glob patterns (fnmatch) of allowed instance, machine and "
                           "accelerator types: SageMaker `ml.g5.*`, EC2 `g5.*`, Azure `Standard_NC*`, GCP "
                           "`g2-standard-*` / `nvidia-l4` / `NVIDIA_L4`, Hugging Face `nvidia-a10g`.",
        },
    }),
    remediation_steps=(
        "Pick an instance type from the allowlist in policies/config/<environment>.json (A10G/L4/T4 class in "
        "dev and staging, A100/H100 class only in prod), or ask the platform team to extend the list."
    ),
)
