"""private-endpoints-in-prod: no public inference surface or control plane."""

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

#: Annotations that make a `LoadBalancer` Service internal on EKS, GKE and AKS.
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "Internal",
    "cloud.google.com/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
}


def public_surfaces(resource_type: str, props: Mapping[str, Any]) -> Iterator[str]:
    """What makes a resource reachable from the internet, one sentence each."""
    if resource_type == "aws:sagemaker/model:Model":
        vpc = get(props, "vpcConfig", {})
        if not (items(get(vpc, "subnets")) and items(get(vpc, "securityGroupIds"))):
            yield "the SageMaker model has no `vpcConfig` (subnets and security groups), so it runs outside the VPC"
    elif resource_type == "azure-native:machinelearningservices:OnlineEndpoint":
        # The API defaults publicNetworkAccess to Enabled.
        if get(props, "properties.publicNetworkAccess", "Enabled") != "Disabled":
            yield "`properties.publicNetworkAccess` is not `Disabled`"
    elif resource_type == "azure-native:machinelearningservices:Workspace":
        if get(props, "publicNetworkAccess", "Enabled") != "Disabled":
            yield "the Azure ML workspace's `publicNetworkAccess` is not `Disabled`"
    elif resource_type == "gcp:vertex/aiEndpoint:AiEndpoint":
        if not (get(props, "network") or get(props, "privateServiceConnectConfig.enablePrivateServiceConnect", False)):
            yield "the Vertex endpoint has neither `network` (VPC peering) nor Private Service Connect enabled"
    elif resource_type == "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment":
        if not get(props, "endpointConfig.privateServiceConnectConfig.enablePrivateServiceConnect", False):
            yield "`endpointConfig.privateServiceConnectConfig.enablePrivateServiceConnect` is not true"
    elif resource_type == "aws:eks/cluster:Cluster":
        if get(props, "vpcConfig.endpointPublicAccess", True):  # the EKS default is public
            yield "`vpcConfig.endpointPublicAccess` is not false (the EKS API server is public by default)"
    elif resource_type == "gcp:container/cluster:Cluster":
        if not get(props, "privateClusterConfig.enablePrivateNodes", False):
            yield "`privateClusterConfig.enablePrivateNodes` is not true"
        ip_endpoint_off = get(props, "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled", True) is False
        if not (get(props, "privateClusterConfig.enablePrivateEndpoint", False) or ip_endpoint_off):
            yield "the control plane has a public endpoint (`privateClusterConfig.enablePrivateEndpoint` is not true)"
    elif resource_type == "kubernetes:core/v1:Service":
        annotations = get(props, "metadata.annotations", {})
        internal = any(str(annotations.get(k, "")).lower() == v.lower() for k, v in INTERNAL_LB_ANNOTATIONS.items())
        if get(props, "spec.type") == "LoadBalancer" and not internal:
            yield "a `LoadBalancer` Service without an internal load-balancer annotation is internet-facing"
    elif resource_type == "aws:lb/loadBalancer:LoadBalancer":
        if not get(props, "internal", False):  # the AWS default is internet-facing
            yield "the load balancer is internet-facing (`internal` is not true)"
    elif resource_type == "gcp:cloudrunv2/service:Service":
        if get(props, "ingress", "INGRESS_TRAFFIC_ALL") not in ("INGRESS_TRAFFIC_INTERNAL_ONLY",
                                                                "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"):
            yield "the Cloud Run service accepts internet traffic (`ingress` is not internal-only)"
    elif resource_type == "azure-native:app:ContainerApp":
        if get(props, "configuration.ingress.external", False):
            yield "the container app's ingress is `external` (reachable from the internet)"
    elif is_hf_endpoint(resource_type, props):
        if get(props, "type") != "private":
            yield f"the Hugging Face endpoint type is `{get(props, 'type', 'unset')}`, not `private` (PrivateLink)"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if matches_any(args.name, args.get_config().get("exemptNames", [])):
        return
    for problem in public_surfaces(args.resource_type, args.props):
        report_violation(problem[0].upper() + problem[1:] + ".", None)


POLICY = ResourceValidationPolicy(
    name="private-endpoints-in-prod",
    description="Production inference endpoints and cluster control planes are private.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "exemptNames": {"type": "array", "items": {"type": "string", "minLength": 1}, "default": [],
                        "description": "Glob patterns of resource names allowed to be public (reviewed exceptions)."},
    }),
    remediation_steps=(
        "Set `scalepath:network.mode: private`: SageMaker models get `vpcConfig`, Azure ML endpoints "
        "`publicNetworkAccess: Disabled`, Vertex endpoints PSC or a peered network, EKS/GKE private control "
        "planes, Services use an internal load balancer, Hugging Face endpoints type `private`, and the "
        "gateway an internal ALB, internal-only Cloud Run ingress or non-external Container Apps ingress. The shipped "
        "dev and staging configs disable this policy."
    ),
)
