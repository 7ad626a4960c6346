"""Every gateway runtime plans offline under mocks for a stack that uses it, policy-clean, with
its identity scoped to exactly the routed endpoints and no secret value in the plan."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scalepath.plan import Plan, run_plan
from scalepath.policy_runner import check_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER, StackConfig
from tests.support import ROOT, of_type, one
from tests.support.gateway import with_gateway


def _route(name: str, *targets: tuple[str, int], fallbacks: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "targets": [{"deployment": d, "weight": w} for d, w in targets],
            "fallbacks": list(fallbacks)}


#: runtime -> a stack that uses it (shipped environment + gateway).
STACKS: dict[str, StackConfig] = {
    "ecs-public": with_gateway("dev", {"runtime": "ecs", "routes": [
        _route("chat", ("chat-endpoint", 90), ("chat-serverless", 10))]}),
    "ecs-private": with_gateway("prod", {"runtime": "ecs", "routes": [_route("chat", ("chat", 100))]}),
    "kubernetes-eks": with_gateway("prod", {"routes": [
        _route("chat", ("chat", 90), ("chat-eks", 10), fallbacks=())]}),
    "kubernetes-gke": with_gateway("gke-staging", {"routes": [_route("chat", ("chat-gke", 100))]}),
    # Public: private Vertex (PSC) and Azure ML (VNet) endpoints are unreachable from Cloud Run and
    # Container Apps, and refused (tests/gateway/test_targets.py).
    "cloudrun": with_gateway("gcp-prod", {"routes": [_route("chat", ("llama-8b", 100), fallbacks=("qwen-32b",))]},
                             scalepath__network={"mode": "public"}),
    "containerapps": with_gateway("azure-prod", {"routes": [_route("chat", ("mistral-chat", 100))], "secretStore": {
        "cloud": "azure", "azure": {"vaultName": "kv-ml-platform", "resourceGroup": "rg-ml-shared"}}},
                                  scalepath__network={"mode": "public"}),
}
#: The pack's verdict on a prod stack made public above: its public endpoints, the gateway's ingress included.
PUBLIC_PROD = {"cloudrun": {"private-endpoints-in-prod"}, "containerapps": {"private-endpoints-in-prod"}
}


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {name: check_plan(run_plan(config), config, ROOT) for name, config in STACKS.items()}


@pytest.mark.parametrize("name", sorted(STACKS))
def test_runtime_plans_policy_clean_with_a_gateway(plans: dict[str, Plan], name: str) -> None:
    plan = plans[name]
    gateway = one(plan, "scalepath:index:Gateway")
    children = [r for r in plan.resources if r.parent == gateway.urn]
    assert children, "the Gateway component created nothing"
    mandatory = [v for v in plan.violations if v["level"] == "mandatory"]
    assert [v for v in mandatory if v["policy"] not in PUBLIC_PROD.get(name, set())] == []
    unknown = [line for line in plan.cost["lines"] if "no price known" in str(line)]
    assert unknown == []


@pytest.mark.parametrize("name", sorted(STACKS))
def test_no_secret_value_in_the_plan(plans: dict[str, Plan], name: str) -> None:
    text = json.dumps(plans[name].to_json())
    assert SECRET_PLACEHOLDER not in text
    key = one(plans[name], "random:index/randomPassword:RandomPassword")
    assert "result" not in key.inputs


def test_ecs_public_is_an_internet_facing_alb_in_public_subnets(plans: dict[str, Plan]) -> None:
    plan = plans["ecs-public"]
    alb = one(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False
    assert len(alb.inputs["subnets"]) >= 2
    task = one(plan, "aws:ecs/taskDefinition:TaskDefinition")
    container, collector = json.loads(task.inputs["containerDefinitions"])  # the engine, its metrics sidecar
    assert {s["name"] for s in container["secrets"]} == {"SCALEPATH_GATEWAY_KEY", "HF_TOKEN"}
    for each in (container, collector):
        assert not any(e["name"] in ("SCALEPATH_GATEWAY_KEY", "HF_TOKEN") for e in each["environment"])


def test_ecs_with_a_certificate_serves_https_and_redirects_http() -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000"
    config = with_gateway("dev", {"runtime": "ecs", "tlsCertificateArn": cert, "routes": [
        _route("chat", ("chat-endpoint", 100))]})
    plan = run_plan(config)
    https = one(plan, "aws:lb/listener:Listener", "gateway-https")
    assert (https.inputs["port"], https.inputs["certificateArn"]) == (443, cert)
    http = one(plan, "aws:lb/listener:Listener", "gateway-http")
    assert http.inputs["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"


def test_ecs_private_alb_is_internal_and_the_task_role_invokes_exactly_the_routed_endpoint(
        plans: dict[str, Plan]) -> None:
    plan = plans["ecs-private"]
    assert one(plan, "aws:lb/loadBalancer:LoadBalancer").inputs["internal"] is True
    task_role = one(plan, "aws:iam/role:Role", "gateway-task")
    (attached,) = [r for r in of_type(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if r.name.startswith("gateway-invoke-")]
    # The routed endpoint's own invoke policy (its ARN and VPC-endpoint condition), on the task role.
    invoke_policy = one(plan, "aws:iam/policy:Policy", "chat-invoke")
    assert attached.property_dependencies["policyArn"] == [invoke_policy.urn]
    assert attached.property_dependencies["role"] == [task_role.urn]


def test_kubernetes_on_eks_has_deployment_service_hpa_pdb_and_pod_identity(plans: dict[str, Plan]) -> None:
    plan = plans["kubernetes-eks"]
    deployment = one(plan, "kubernetes:apps/v1:Deployment", "gateway-deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"SCALEPATH_GATEWAY_KEY": "client-key"}
    service = one(plan, "kubernetes:core/v1:Service", "gateway-service")
    annotations = service.inputs["metadata"]["annotations"]
    # What EKS's own cloud controller reads: the stack installs no AWS Load Balancer Controller.
    assert annotations == {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
    hpa = one(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway-hpa")
    # An HPA on CPU reads the resource metrics API, which EKS has only once metrics-server runs.
    assert {m["type"] for m in hpa.inputs["spec"]["metrics"]} == {"Resource"}
    assert any(r.inputs["chart"] == "metrics-server" for r in of_type(plan, "kubernetes:helm.sh/v3:Release"))
    one(plan, "kubernetes:policy/v1:PodDisruptionBudget", "gateway-pdb")
    association = one(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "gateway-pod-identity")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == ("scalepath-gateway", "gateway")
    # EKS adds the Pod Identity credentials only to pods started after the association (EKS user
    # guide, pod-id-how-it-works): the gateway's pods come after it.
    assert association.urn in one(plan, "kubernetes:apps/v1:Deployment", "gateway-deployment").dependencies


def test_gke_uses_workload_identity(plans: dict[str, Plan]) -> None:
    plan = plans["kubernetes-gke"]
    sa = one(plan, "kubernetes:core/v1:ServiceAccount", "gateway-sa")
    assert "iam.gke.io/gcp-service-account" in sa.inputs["metadata"]["annotations"]
    binding = one(plan, "gcp:serviceaccount/iAMMember:IAMMember", "gateway-wi")
    assert binding.inputs["member"].endswith(".svc.id.goog[scalepath-gateway/gateway]")


def test_cloudrun_predicts_on_exactly_the_routed_endpoints(plans: dict[str, Plan]) -> None:
    plan = plans["cloudrun"]
    service = one(plan, "gcp:cloudrunv2/service:Service")
    assert service.inputs["ingress"] == "INGRESS_TRAFFIC_ALL"
    grants = of_type(plan, "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember")
    assert len(grants) == 2 and {g.inputs["role"] for g in grants} == {"roles/aiplatform.user"}
    envs = service.inputs["template"]["containers"][0]["envs"]
    assert {e["name"] for e in envs if "valueSource" in e} == {"SCALEPATH_GATEWAY_KEY"}


def test_containerapps_reads_key_vault_with_its_identity(plans: dict[str, Plan]) -> None:
    plan = plans["containerapps"]
    app = one(plan, "azure-native:app:ContainerApp")
    assert app.inputs["configuration"]["ingress"]["external"] is True
    (secret,) = app.inputs["configuration"]["secrets"]
    assert secret["keyVaultUrl"].startswith("https://kv-ml-platform.vault.azure.net/secrets/")
    roles = of_type(plan, "azure-native:authorization:RoleAssignment")
    assert any(r.name == "gateway-invokes-0" for r in roles)


def _container_env(plan: Plan) -> dict[str, Any]:
    """The gateway container's plain environment, whatever the runtime."""
    task = [r for r in of_type(plan, "aws:ecs/taskDefinition:TaskDefinition") if r.name == "gateway-task"]
    if task:
        container = json.loads(task[0].inputs["containerDefinitions"])[0]  # then the metrics sidecar
        return {e["name"]: e["value"] for e in container["environment"]}
    deployment = [r for r in of_type(plan, "kubernetes:apps/v1:Deployment") if r.name == "gateway-deployment"]
    if deployment:
        (container,) = deployment[0].inputs["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    run = one(plan, "gcp:cloudrunv2/service:Service")
    return {e["name"]: e.get("value") for e in run.inputs["template"]["containers"][0]["envs"] if "value" in e}


@pytest.mark.parametrize("name, deployment, model, base", [
    ("ecs-public", "chat-endpoint", None, r"https://.*\.endpoints\.huggingface\.cloud/v1/?"),
    ("ecs-private", "chat", r"sagemaker_chat/.+", None),
    ("kubernetes-eks", "chat-eks", None, r"http://.+\.svc\.cluster\.local.*/v1"),
    ("cloudrun", "qwen-32b", r"vertex_ai/openai/\d+", None),
])
def test_engine_reads_each_deployments_outputs(plans: dict[str, Plan], name: str, deployment: str,
                                               model: str | None, base: str | None) -> None:
    """The rendered config references SCALEPATH_<DEPLOYMENT>_* and the container gets them from the
    deployment's outputs (endpoint names, ids, URLs), per stage."""
    env = _container_env(plans[name])
    prefix = "SCALEPATH_" + deployment.upper().replace("-", "_")
    config = env["SCALEPATH_GATEWAY_CONFIG"]
    for suffix, pattern in (("_MODEL", model), ("_API_BASE", base)):
        if pattern is None:
            assert prefix + suffix not in env
        else:
            assert f"os.environ/{prefix}{suffix}" in config
            assert re.fullmatch(pattern, env[prefix + suffix]), env[prefix + suffix]
