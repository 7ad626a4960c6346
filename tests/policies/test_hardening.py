"""The pack against hostile resources (issue 18), through the real pack process over gRPC.

iam-least-privilege; public ALBs, internet-facing Ingresses, Lambda URLs without auth and
internet-facing schemes beside legacy internal annotations in prod; GPUs launched as EC2
instances, spot requests, fleets and auto scaling groups outside the allowlist; SageMaker shadow
variants against the scaling caps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scalepath.policy_runner import PolicyConfigError
from tests.support.policy import TAGS, of, resource, run

SAGEMAKER_LIKE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::models/*"},
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::models"},  # a service, one bucket
    {"Effect": "Deny", "Action": "*", "Resource": "*"},  # a Deny grants nothing
]}


def role_policy(document: Any, type_: str = "aws:iam/rolePolicy:RolePolicy") -> Any:
    policy = document if isinstance(document, str) else json.dumps(document)
    return resource(type_, {"role": "r", "policy": policy}, name="policy")


def allow(action: Any, resource_: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource_,
                                                   **extra}]}


# --- iam-least-privilege --------------------------------------------------------------------------

def test_iam_accepts_scoped_policies_and_ordinary_managed_policies(pack):
    report = run(pack, [
        role_policy(SAGEMAKER_LIKE),
        resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                 {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, name="att"),
        resource("aws:iam/role:Role", {"assumeRolePolicy": "{}", "tags": dict(TAGS),
                                       "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]}),
        resource("gcp:projects/iAMMember:IAMMember", {"project": "p", "role": "roles/monitoring.viewer",
                                                      "member": "serviceAccount:x@p.iam.gserviceaccount.com"}),
    ], env="prod")
    assert of(report, "iam-least-privilege") == []


@pytest.mark.parametrize(("document", "expected"), [
    (allow("*"), "allows every action (`Action: *`)"),
    (allow(["s3:GetObject", "*:*"]), "allows every action (`Action: *:*`)"),
    (allow("iam:*"), "allows every `iam` action on every resource"),
    (allow(["S3:*"], ["arn:aws:s3:::a", "*"]), "allows every `s3` action on every resource"),
    ({"Statement": {"Effect": "Allow", "Action": "sts:*", "Resource": "*"}}, "every `sts` action"),
    ({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}, "allows `NotAction`"),
    ({"Statement": [{"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:::x"}]}, "every `ec2`"),
    ("{not json", "is not a JSON policy document"),
], ids=["star", "star-colon-star", "iam-star", "case-and-list", "single-statement", "not-action", "not-resource",
        "not-json"])
def test_iam_refuses_admin_documents_in_every_environment(pack, document, expected):
    for env in ("dev", "prod"):
        (violation,) = of(run(pack, [role_policy(document)], env=env), "iam-least-privilege")
        assert violation["level"] == "mandatory" and expected in violation["message"]
        assert violation["message"].startswith("`policy` ")


@pytest.mark.parametrize("type_", ["aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy",
                                   "aws:iam/policy:Policy"])
def test_iam_reads_user_group_and_managed_policy_documents(pack, type_):
    assert len(of(run(pack, [role_policy(allow("*"), type_)]), "iam-least-privilege")) == 1


def test_iam_reads_a_roles_inline_policies(pack):
    role = resource("aws:iam/role:Role", {"assumeRolePolicy": "{}", "tags": dict(TAGS), "inlinePolicies": [
        {"name": "ok", "policy": json.dumps(SAGEMAKER_LIKE)}, {"name": "admin", "policy": json.dumps(allow("*"))}]})
    (violation,) = of(run(pack, [role]), "iam-least-privilege")
    assert violation["message"].startswith("`inlinePolicies[1].policy` statement 0 allows every action")


@pytest.mark.parametrize(("type_", "inputs", "expected"), [
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "`AdministratorAccess`"),
    ("aws:iam/userPolicyAttachment:UserPolicyAttachment",
     {"user": "u", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}, "`PowerUserAccess`"),
    ("aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
     {"group": "g", "policyArn": "arn:aws:iam::aws:policy/job-function/SystemAdministrator"}, "SystemAdministrator"),
    ("aws:iam/role:Role", {"assumeRolePolicy": "{}", "tags": dict(TAGS),
                           "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess-Amplify"]},
     "`managedPolicyArns[0]` attaches"),
    ("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
     {"roleName": "r", "policyArns": ["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"]}, "`IAMFullAccess`"),
    ("gcp:projects/iAMMember:IAMMember", {"project": "p", "role": "roles/owner", "member": "user:a@b.c"},
     "GCP role `roles/owner`"),
    ("gcp:serviceaccount/iAMBinding:IAMBinding", {"serviceAccountId": "s", "role": "roles/editor", "members": []},
     "GCP role `roles/editor`"),
    ("azure-native:authorization:RoleAssignment",
     {"principalId": "p", "scope": "/subscriptions/s",
      "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"
                          "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}, "Azure role Owner"),
    # Azure compares GUIDs case-insensitively: the same Contributor id in capitals, with a trailing slash.
    ("azure-native:authorization:RoleAssignment",
     {"principalId": "p", "scope": "/subscriptions/s",
      "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"
                          "B24988AC-6180-42A0-AB88-20F7382DD24C/"}, "Azure role Contributor"),
], ids=["aws-admin", "aws-poweruser", "job-function", "role-managed-arns", "exclusive-govcloud", "gcp-owner",
        "gcp-editor-binding", "azure-owner", "azure-contributor-capitals"])
def test_iam_refuses_administrator_attachments(pack, type_, inputs, expected):
    (violation,) = of(run(pack, [resource(type_, inputs)], env="staging"), "iam-least-privilege")
    assert expected in violation["message"] and violation["level"] == "mandatory"


def test_iam_service_wildcards_follow_the_environments_allowlist(pack):
    logs = role_policy(allow("logs:*"))
    assert of(run(pack, [logs]), "iam-least-privilege")
    allowed = {"iam-least-privilege": {"properties": {"allowedServiceWildcards": ["logs"]}}}
    assert of(run(pack, [logs], overrides=allowed), "iam-least-privilege") == []
    assert of(run(pack, [role_policy(allow("*"))], overrides=allowed), "iam-least-privilege"), "`*` is never allowed"


def test_iam_config_is_validated_per_policy(pack):
    with pytest.raises(PolicyConfigError, match="iam-least-privilege.*allowedServiceWildcards"):
        run(pack, [], overrides={"iam-least-privilege": {"properties": {"allowedServiceWildcards": ["Logs:*"]}}})


# --- private-endpoints-in-prod: load balancers, Ingresses, Lambda URLs ------------------------------

def lb(**inputs: Any) -> Any:
    return resource("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "application", "tags": dict(TAGS),
                                                         **inputs}, name="alb")


def ingress(annotations: dict[str, str] | None = None, ingress_class: str | None = None) -> Any:
    spec: dict[str, Any] = {"rules": [{"host": "llm.example.com"}]}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    return resource("kubernetes:networking.k8s.io/v1:Ingress", {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "llm", "labels": dict(TAGS), "annotations": annotations or {}}, "spec": spec},
        name="ingress")


def lambda_url(auth: str) -> Any:
    return resource("aws:lambda/functionUrl:FunctionUrl", {"functionName": "f", "authorizationType": auth},
                    name="url")


def lb_service(annotations: dict[str, str]) -> Any:
    return resource("kubernetes:core/v1:Service", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "vllm", "labels": dict(TAGS), "annotations": annotations},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}, name="svc")


LEGACY_INTERNAL = {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
PUBLIC_CASES = {
    "public-alb": (lb(), "`internal` is not true"),
    "public-nlb": (lb(loadBalancerType="network", internal=False), "`internal` is not true"),
    "alb-ingress": (ingress({"alb.ingress.kubernetes.io/scheme": "internet-facing"}, "alb"), "internet-facing ALB"),
    "gce-ingress": (ingress({"kubernetes.io/ingress.class": "gce"}), "external HTTP(S) load balancer"),
    "agic-public": (ingress(ingress_class="azure-application-gateway"), "no private IP"),
    "lambda-url-none": (lambda_url("NONE"), "`authorizationType: NONE`"),
    "scheme-beside-legacy-internal": (
        lb_service({**LEGACY_INTERNAL, "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}),
        "whatever legacy internal annotation"),
}


@pytest.mark.parametrize("case", list(PUBLIC_CASES))
def test_public_entry_points_are_refused_in_prod(pack, case):
    planned, expected = PUBLIC_CASES[case]
    (violation,) = of(run(pack, [planned], env="prod"), "private-endpoints-in-prod")
    assert expected in violation["message"] and violation["level"] == "mandatory"
    assert of(run(pack, [planned], env="dev"), "private-endpoints-in-prod") == []  # disabled outside prod


def test_private_entry_points_pass_in_prod(pack):
    report = run(pack, [
        lb(internal=True), lb(loadBalancerType="gateway"),
        ingress({"alb.ingress.kubernetes.io/scheme": "internal"}, "alb"), ingress(ingress_class="gce-internal"),
        ingress({"appgw.ingress.kubernetes.io/use-private-ip": "true"}, "azure-application-gateway"),
        lambda_url("AWS_IAM"), lb_service(LEGACY_INTERNAL),
        lb_service({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
    ], env="prod")
    assert of(report, "private-endpoints-in-prod") == []


# --- gpu-instance-allowlist: every way EC2 launches an instance ---------------------------------------

GPU_LAUNCHES = {
    "instance": ("aws:ec2/instance:Instance", {"instanceType": "p4d.24xlarge", "ami": "ami-1"}, "instanceType"),
    "spot-request": ("aws:ec2/spotInstanceRequest:SpotInstanceRequest", {"instanceType": "p5.48xlarge"},
                     "instanceType"),
    "launch-configuration": ("aws:ec2/launchConfiguration:LaunchConfiguration",
                             {"instanceType": "p4d.24xlarge", "imageId": "ami-1"}, "instanceType"),
    "spot-fleet-spec": ("aws:ec2/spotFleetRequest:SpotFleetRequest", {
        "iamFleetRole": "arn:aws:iam::1:role/f", "targetCapacity": 1,
        "launchSpecifications": [{"ami": "ami-1", "instanceType": "g5.xlarge"}, {"ami": "ami-1",
                                                                                 "instanceType": "p5.48xlarge"}]},
        "launchSpecifications[1].instanceType"),
    "spot-fleet-override": ("aws:ec2/spotFleetRequest:SpotFleetRequest", {
        "iamFleetRole": "arn:aws:iam::1:role/f", "targetCapacity": 1, "launchTemplateConfigs": [
            {"launchTemplateSpecification": {"id": "lt-1"}, "overrides": [{"instanceType": "p4de.24xlarge"}]}]},
        "launchTemplateConfigs[0].overrides[0].instanceType"),
    "ec2-fleet": ("aws:ec2/fleet:Fleet", {"launchTemplateConfigs": [
        {"launchTemplateSpecification": {"launchTemplateId": "lt-1"}, "overrides": [{"instanceType": "p5.48xlarge"}]}],
        "targetCapacitySpecification": {"totalTargetCapacity": 1}},
        "launchTemplateConfigs[0].overrides[0].instanceType"),
    "asg-mixed": ("aws:autoscaling/group:Group", {"maxSize": 1, "minSize": 0, "mixedInstancesPolicy": {
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1"},
                           "overrides": [{"instanceType": "p4d.24xlarge"}]}}},
        "mixedInstancesPolicy.launchTemplate.overrides[0].instanceType"),
}


@pytest.mark.parametrize("case", list(GPU_LAUNCHES))
def test_gpus_launched_by_any_ec2_path_meet_the_allowlist(pack, case):
    type_, inputs, path = GPU_LAUNCHES[case]
    (violation,) = of(run(pack, [resource(type_, {**inputs, "tags": dict(TAGS)})], env="dev"),
                      "gpu-instance-allowlist")
    assert violation["message"].startswith(f"`{path}` is `")


def test_allowed_ec2_launches_pass(pack):
    report = run(pack, [resource("aws:ec2/instance:Instance", {"instanceType": "g5.xlarge", "tags": dict(TAGS)})])
    assert of(report, "gpu-instance-allowlist") == []


# --- scaling-caps: shadow variants ---------------------------------------------------------------

def test_shadow_variants_count_against_the_scaling_caps(pack):
    variant = {"variantName": "main", "modelName": "m", "instanceType": "ml.g5.xlarge", "initialInstanceCount": 1}
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {
        "productionVariants": [variant], "tags": dict(TAGS),
        "shadowProductionVariants": [{**variant, "variantName": "shadow", "initialInstanceCount": 40,
                                      "managedInstanceScaling": {"maxInstanceCount": 80}}]}, name="epc")
    messages = [v["message"] for v in of(run(pack, [config], env="dev"), "scaling-caps")]
    assert [m.split(" allows ")[0] for m in messages] == [
        "`shadowProductionVariants[0].initialInstanceCount`",
        "`shadowProductionVariants[0].managedInstanceScaling.maxInstanceCount`"]
