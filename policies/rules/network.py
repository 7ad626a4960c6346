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
#: Annotation values that say a load balancer is internet-facing. The AWS Load Balancer
#: Controller reads `aws-load-balancer-scheme` before the legacy `aws-load-balancer-internal`, so
#: an `internet-facing` scheme wins over a legacy internal annotation beside it.
PUBLIC_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "false",
    "networking.gke.io/load-balancer-type": "External",
}
#: Ingress annotations/classes that put an Ingress on an internet-facing load balancer: the AWS
#: Load Balancer Controller's scheme (its default is internal), GKE's external class `gce` (GKE's
#: default for an Ingress without a class), Application Gateway without a private IP.
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
AGIC_PRIVATE_IP = "appgw.ingress.kubernetes.io/use-private-ip"


def _annotated(annotations: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    return any(str(annotations.get(k, "")).lower() == v.lower() for k, v in wanted.items())


def _ingress_public(props: Mapping[str, Any]) -> str | None:
    annotations = get(props, "metadata.annotations", {})
    ingress_class = str(get(props, "spec.ingressClassName") or annotations.get(INGRESS_CLASS_ANNOTATION, "")).lower()
    if str(annotations.get(ALB_SCHEME, "")).lower() == "internet-facing":
        return f"the Ingress asks the AWS Load Balancer Controller for an internet-facing ALB (`{ALB_SCHEME}`)"
    if ingress_class == "gce":
        return "the Ingress class `gce` is GKE's external HTTP(S) load balancer (use `gce-internal`)"
    if ingress_class == "azure-application-gateway" and str(annotations.get(AGIC_PRIVATE_IP, "")).lower() != "true":
        return f"the Application Gateway Ingress has no private IP (`{AGIC_PRIVATE_IP}: \"true\"`)"
    return None


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
    elif resource_type == "kubernetes:core/v1:Service" and get(props, "spec.type") == "LoadBalancer":
        annotations = get(props, "metadata.annotations", {})
        if _annotated(annotations, PUBLIC_LB_ANNOTATIONS):
            yield "a `LoadBalancer` Service annotated internet-facing is public, whatever legacy internal " \
                  "annotation sits beside it"
        elif not _annotated(annotations, INTERNAL_LB_ANNOTATIONS):
            yield "a `LoadBalancer` Service without an internal load-balancer annotation is internet-facing"
    elif resource_type == "kubernetes:networking.k8s.io/v1:Ingress":
        if reason := _ingress_public(props):
            yield reason
    elif resource_type in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        # `internal` defaults to false: an internet-facing load balancer unless said otherwise.
        if get(props, "loadBalancerType", "application") != "gateway" and get(props, "internal") is not True:
            yield "the load balancer is internet-facing (`internal` is not true)"
    elif resource_type == "aws:lambda/functionUrl:FunctionUrl":
        if str(get(props, "authorizationType", "")).upper() == "NONE":
            yield "the Lambda function URL has `authorizationType: NONE`: anyone on the internet may invoke it"
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
        "planes, Services and Ingresses use an internal load balancer (no `internet-facing` scheme, also not "
        "beside a legacy internal annotation), AWS load balancers `internal: true`, Lambda function URLs "
        "`authorizationType: AWS_IAM`, Hugging Face endpoints type `private`, and the gateway an internal ALB, "
        "internal-only Cloud Run ingress or non-external Container Apps ingress. The shipped "
        "dev and staging configs disable this policy."
    ),
)
