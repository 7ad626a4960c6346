"""scaling-caps and non-prod-scale-to-zero: how far a deployment scales out, and whether it scales in."""

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

from .common import get, is_hf_endpoint, items, number

REPLICAS, NODES = "replicas", "nodes"

#: KEDA's own default when a ScaledObject leaves maxReplicaCount out.
KEDA_DEFAULT_MAX = 100


def upper_bounds(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, float, str]]:
    """(property path, largest count, replicas|nodes) for each scaling bound a resource sets."""
    def bound(path: str, kind: str, default: float | None = None) -> Iterator[tuple[str, float, str]]:
        value = number(get(props, path))
        value = default if value is None else value
        if value is not None:
            yield path, value, kind

    if resource_type == "aws:appautoscaling/target:Target":
        yield from bound("maxCapacity", REPLICAS)
    elif resource_type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        # Shadow variants run (and bill) instances of their own beside the production ones.
        for variants in ("productionVariants", "shadowProductionVariants"):
            for i, variant in enumerate(items(get(props, variants))):
                for field in ("initialInstanceCount", "managedInstanceScaling.maxInstanceCount"):
                    if number(get(variant, field)) is not None:
                        yield f"{variants}[{i}].{field}", number(get(variant, field)), REPLICAS
    elif resource_type == "azure-native:machinelearningservices:OnlineDeployment":
        yield from bound("sku.capacity", REPLICAS)
        yield from bound("properties.scaleSettings.maxInstances", REPLICAS)
    elif resource_type == "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        yield from bound("deployConfig.dedicatedResources.maxReplicaCount", REPLICAS)
    elif resource_type == "aws:eks/nodeGroup:NodeGroup":
        yield from bound("scalingConfig.maxSize", NODES)
    elif resource_type == "gcp:container/nodePool:NodePool":
        for field in ("autoscaling.maxNodeCount", "autoscaling.totalMaxNodeCount", "nodeCount"):
            yield from bound(field, NODES)
    elif resource_type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
        yield from bound("spec.replicas", REPLICAS)
    elif resource_type.startswith("kubernetes:autoscaling/") and resource_type.endswith(":HorizontalPodAutoscaler"):
        yield from bound("spec.maxReplicas", REPLICAS)
    elif resource_type.startswith("kubernetes:keda.sh/") and resource_type.endswith(":ScaledObject"):
        yield from bound("spec.maxReplicaCount", REPLICAS, KEDA_DEFAULT_MAX)
    elif is_hf_endpoint(resource_type, props):
        yield from bound("maxReplica", REPLICAS)


def _validate_caps(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    caps = {REPLICAS: config.get("maxReplicas", 4), NODES: config.get("maxNodes", 8)}
    for path, value, kind in upper_bounds(args.resource_type, args.props):
        if value > caps[kind]:
            report_violation(f"`{path}` allows {value:g} {kind}; this environment's cap is {caps[kind]:g}.", None)


SCALING_CAPS = ResourceValidationPolicy(
    name="scaling-caps",
    description="Replica, instance and node maxima stay within the environment's caps.",
    validate=_validate_caps,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "maxReplicas": {"type": "integer", "minimum": 1, "default": 4,
                        "description": "Most serving replicas/instances one deployment may scale to."},
        "maxNodes": {"type": "integer", "minimum": 1, "default": 8,
                     "description": "Most nodes one EKS node group or GKE node pool may scale to."},
    }),
    remediation_steps=(
        "Lower `scaling.max` of the deployment (KEDA ScaledObjects: set `maxReplicaCount`, its default "
        "is 100), or raise the cap in policies/config/<environment>.json after a capacity and cost review."
    ),
)


#: Application Auto Scaling dimensions with no zero to ask for: a SageMaker production variant keeps
#: at least one instance (only inference components scale to zero: AWS, "Scale an endpoint to zero
#: instances"), and an ECS service behind a load balancer gets no request at zero that would wake it.
#: Advising either would ask for what the platform does not offer.
NO_ZERO_DIMENSIONS = frozenset({"sagemaker:variant:DesiredInstanceCount", "ecs:service:DesiredCount"})


def scale_in(resource_type: str, props: Mapping[str, Any]) -> tuple[str, bool, bool] | None:
    """(what was checked, can reach zero, runs on spot) for resources that hold paid capacity, None
    for the rest and for capacity that cannot reach zero on its platform."""
    def zero(path: str, default: float | None = None) -> bool:
        value = number(get(props, path))
        return (default if value is None else value) == 0

    if is_hf_endpoint(resource_type, props):
        return "minReplica", zero("minReplica"), False
    if resource_type == "aws:appautoscaling/target:Target":
        if get(props, "scalableDimension") in NO_ZERO_DIMENSIONS:
            return None
        return "minCapacity", zero("minCapacity"), False
    if resource_type == "aws:eks/nodeGroup:NodeGroup":
        return ("scalingConfig.minSize / capacityType", zero("scalingConfig.minSize"),
                get(props, "capacityType") == "SPOT")
    if resource_type == "gcp:container/nodePool:NodePool":
        return ("autoscaling.minNodeCount / nodeConfig.spot",
                zero("autoscaling.minNodeCount") or zero("autoscaling.totalMinNodeCount"),
                bool(get(props, "nodeConfig.spot", False) or get(props, "nodeConfig.preemptible", False)))
    if resource_type == "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        return ("deployConfig.dedicatedResources.spot", False,
                bool(get(props, "deployConfig.dedicatedResources.spot", False)))
    if resource_type.startswith("kubernetes:keda.sh/") and resource_type.endswith(":ScaledObject"):
        return "spec.minReplicaCount", zero("spec.minReplicaCount", 0), False  # KEDA's default is 0
    return None


def _validate_scale_to_zero(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    found = scale_in(args.resource_type, args.props)
    if found is None:
        return
    path, to_zero, spot = found
    if not (to_zero or (spot and args.get_config().get("acceptSpot", True))):
        report_violation(f"`{path}`: this non-production deployment keeps paid capacity running "
                         "when idle; let it scale to zero or run on spot capacity.", None)


NON_PROD_SCALE_TO_ZERO = ResourceValidationPolicy(
    name="non-prod-scale-to-zero",
    description="Non-production deployments scale to zero or use spot capacity when idle.",
    validate=_validate_scale_to_zero,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "acceptSpot": {"type": "boolean", "default": True,
                       "description": "Count spot/preemptible capacity as good enough when it cannot reach zero."},
    }),
    remediation_steps=(
        "Set `scaling.min: 0` (Hugging Face endpoints, KEDA, node groups/pools with a scale-from-zero "
        "autoscaler) or use spot capacity (EKS `capacityType: SPOT`, GKE `nodeConfig.spot`, Vertex "
        "`dedicatedResources.spot`). The shipped prod config disables this policy."
    ),
)
