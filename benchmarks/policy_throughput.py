"""Policy-check throughput: ``python benchmarks/policy_throughput.py N [--env prod]``.

Builds N synthetic deployments (no stage modules exist yet to plan real ones), cycling through
the shapes the stages create: a Hugging Face endpoint, SageMaker (role, model, endpoint config,
endpoint, autoscaling), Azure ML (workspace, online endpoint and deployment), Vertex Model
Garden, and vLLM on EKS and GKE (cluster, node group/pool, namespace, Deployment, Service,
ConfigMap, KEDA ScaledObject), plus one budget per cloud. Then it runs the real pack over the
Analyzer protocol, as ``scalepath plan`` does, and prints resources per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalepath.policy_runner import analyze_resources, load_policy_config, reconcile_config, start_pack
from scalepath.wire import PlannedResource

ROOT = Path(__file__).resolve().parents[1]
TGI_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4"


def _tags(env: str, name: str) -> dict[str, str]:
    return {"team": "ml-platform", "cost-center": "cc-1234", "environment": env, "stack": f"scalepath-{env}",
            "managed-by": "scalepath", "deployment": name}


class _Builder:
    """Accumulates recorded resources with URNs, parents and dependencies like the plan's."""

    def __init__(self, stack: str):
        self.stack, self.resources = stack, []

    def add(self, type_: str, name: str, inputs: dict[str, Any], parent: PlannedResource | None = None,
            deps: tuple[PlannedResource, ...] = ()) -> PlannedResource:
        qualified = f"{parent.type}${type_}" if parent and not parent.custom else type_
        resource = PlannedResource(
            urn=f"urn:pulumi:{self.stack}::scalepath::{qualified}::{name}", type=type_, name=name,
            parent=parent.urn if parent else None, custom=not type_.startswith("scalepath:"), inputs=inputs,
            dependencies=[d.urn for d in deps])
        self.resources.append(resource)
        return resource


def _hf(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:HfEndpoint", name, {})
    b.add("pulumi-python:dynamic:Resource", f"{name}-endpoint", {
        "kind": "huggingface:InferenceEndpoint", "repository": "meta-llama/Llama-3.1-8B-Instruct",
        "vendor": "aws", "region": "us-east-1", "accelerator": "gpu", "instanceType": "nvidia-l4",
        "instanceSize": "x1", "minReplica": 0, "maxReplica": 2, "tags": tags,
        "type": "private" if tags["environment"] == "prod" else "protected",
        "token": "[secret]"}, root)


def _sagemaker(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:SageMakerEndpoint", name, {})
    role = b.add("aws:iam/role:Role", f"{name}-role", {"assumeRolePolicy": "{}", "tags": tags}, root)
    b.add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{name}-policy",
          {"role": role.urn, "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"}, root, (role,))
    model = b.add("aws:sagemaker/model:Model", f"{name}-model", {
        "executionRoleArn": f"arn:aws:iam::123456789012:role/{name}", "tags": tags,
        "primaryContainer": {"image": TGI_IMAGE,
                             "environment": {"HF_MODEL_ID": "org/model", "SM_NUM_GPUS": "1", "HF_TOKEN": "[secret]",
                                             "MAX_INPUT_LENGTH": "4096", "MAX_TOTAL_TOKENS": "8192"}},
        "vpcConfig": {"subnets": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}}, root, (role,))
    config = b.add("aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{name}-config", {
        "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k", "tags": tags,
        "productionVariants": [{"variantName": "main", "modelName": model.urn, "instanceType": "ml.g5.2xlarge",
                                "initialInstanceCount": 1, "containerStartupHealthCheckTimeoutInSeconds": 900}],
        "dataCaptureConfig": {"enableCapture": True, "kmsKeyId": "k", "initialSamplingPercentage": 10,
                              "destinationS3Uri": "s3://capture/x",
                              "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}]}},
        root, (model,))
    endpoint = b.add("aws:sagemaker/endpoint:Endpoint", f"{name}-endpoint",
                     {"endpointConfigName": config.urn, "tags": tags}, root, (config,))
    target = b.add("aws:appautoscaling/target:Target", f"{name}-scaling", {
        "maxCapacity": 2, "minCapacity": 1, "resourceId": f"endpoint/{name}/variant/main",
        "scalableDimension": "sagemaker:variant:DesiredInstanceCount", "serviceNamespace": "sagemaker",
        "tags": tags}, root, (endpoint,))
    b.add("aws:appautoscaling/policy:Policy", f"{name}-scaling-policy", {
        "policyType": "TargetTrackingScaling", "resourceId": target.urn,
        "targetTrackingScalingPolicyConfiguration": {"targetValue": 5}}, root, (target,))


def _azureml(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:AzureMlEndpoint", name, {})
    workspace = b.add("azure-native:machinelearningservices:Workspace", f"{name}-ws", {
        "resourceGroupName": "rg", "publicNetworkAccess": "Disabled", "tags": tags}, root)
    endpoint = b.add("azure-native:machinelearningservices:OnlineEndpoint", f"{name}-endpoint", {
        "resourceGroupName": "rg", "workspaceName": workspace.urn, "tags": tags,
        "properties": {"authMode": "Key", "publicNetworkAccess": "Disabled"}}, root, (workspace,))
    b.add("azure-native:machinelearningservices:OnlineDeployment", f"{name}-blue", {
        "resourceGroupName": "rg", "endpointName": endpoint.urn, "tags": tags,
        "sku": {"name": "Default", "capacity": 1},
        "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_NC4as_T4_v3",
                       "environmentVariables": {"HF_MODEL_ID": "org/model"},
                       "scaleSettings": {"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 2}}},
          root, (endpoint,))


def _vertex(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:VertexEndpoint", name, {})
    b.add("gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment", f"{name}-deploy", {
        "location": "us-central1", "huggingFaceModelId": "org/model",
        "modelConfig": {"acceptEula": True, "huggingFaceAccessToken": "[secret]"},
        "deployConfig": {"dedicatedResources": {"machineSpec": {"machineType": "g2-standard-12",
                                                                "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
                                                "minReplicaCount": 1, "maxReplicaCount": 2, "spot": True}},
        "endpointConfig": {"privateServiceConnectConfig": {"enablePrivateServiceConnect": True,
                                                           "projectAllowlists": ["p"]}}}, root)


def _k8s_workload(b: _Builder, name: str, tags: dict[str, str], root: PlannedResource,
                  cluster: PlannedResource) -> None:
    meta = {"namespace": name, "labels": tags}
    ns = b.add("kubernetes:core/v1:Namespace", f"{name}-ns",
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": tags}}, root, (cluster,))
    b.add("kubernetes:core/v1:ConfigMap", f"{name}-config", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                                             "data": {"MODEL": "org/model"}}, root, (ns,))
    probe = {"httpGet": {"path": "/health", "port": 8000}}
    app = b.add("kubernetes:apps/v1:Deployment", f"{name}-vllm", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {"replicas": 1, "template": {"metadata": {"labels": tags}, "spec": {"containers": [{
            "name": "vllm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", "org/model"],
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
            "resources": {"requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": 1},
                          "limits": {"memory": "24Gi", "nvidia.com/gpu": 1}},
            "readinessProbe": probe, "livenessProbe": probe, "startupProbe": {**probe, "failureThreshold": 120}}]}}}},
        root, (ns,))
    b.add("kubernetes:core/v1:Service", f"{name}-svc", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {**meta, "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8000}]}}, root, (app,))
    b.add("kubernetes:keda.sh/v1alpha1:ScaledObject", f"{name}-scaler", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta,
        "spec": {"scaleTargetRef": {"name": f"{name}-vllm"}, "minReplicaCount": 0, "maxReplicaCount": 2,
                 "triggers": [{"type": "prometheus", "metadata": {"query": "sum(vllm:num_requests_waiting)",
                                                                   "threshold": "5"}}]}}, root, (app,))


def _eks(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:EksVllm", name, {})
    cluster = b.add("aws:eks/cluster:Cluster", f"{name}-cluster", {
        "roleArn": "arn", "tags": tags, "vpcConfig": {"subnetIds": ["s1", "s2"], "endpointPublicAccess": False,
                                                      "endpointPrivateAccess": True},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}}}, root)
    b.add("aws:eks/nodeGroup:NodeGroup", f"{name}-gpu", {
        "clusterName": cluster.urn, "instanceTypes": ["g6.2xlarge"], "capacityType": "SPOT", "tags": tags,
        "scalingConfig": {"minSize": 0, "maxSize": 2, "desiredSize": 0}}, root, (cluster,))
    _k8s_workload(b, name, tags, root, cluster)


def _gke(b: _Builder, name: str, tags: dict[str, str]) -> None:
    root = b.add("scalepath:index:GkeVllm", name, {})
    labels = {k: v.replace(".", "_") for k, v in tags.items()}
    cluster = b.add("gcp:container/cluster:Cluster", f"{name}-cluster", {
        "location": "us-central1", "resourceLabels": labels, "removeDefaultNodePool": True,
        "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "projects/p/keys/k"}}, root)
    b.add("gcp:container/nodePool:NodePool", f"{name}-gpu", {
        "cluster": cluster.urn, "autoscaling": {"minNodeCount": 0, "maxNodeCount": 2},
        "nodeConfig": {"machineType": "g2-standard-8", "spot": True, "resourceLabels": labels,
                       "guestAccelerators": [{"type": "nvidia-l4", "count": 1}]}}, root, (cluster,))
    _k8s_workload(b, name, tags, root, cluster)


SHAPES: list[Callable[[_Builder, str, dict[str, str]], None]] = [_hf, _sagemaker, _azureml, _vertex, _eks, _gke]


def synthetic_stack(n: int, env: str) -> list[PlannedResource]:
    """Budgets plus ``n`` deployments cycling through the stage shapes."""
    b = _Builder(env)
    base = _tags(env, "shared")
    del base["deployment"]
    for cloud, type_, inputs in (
            ("aws", "aws:budgets/budget:Budget", {
                "limitAmount": "300.00", "limitUnit": "USD", "tags": base,
                "notifications": [{"notificationType": kind, "subscriberEmailAddresses": ["a@x.io"]}
                                  for kind in ("ACTUAL", "FORECASTED")]}),
            ("azure", "azure-native:consumption:Budget", {"amount": 300, "notifications": {
                f"{kind}-80pct": {"enabled": True, "contactEmails": ["a@x.io"]} for kind in ("actual", "forecasted")}}),
            ("gcp", "gcp:billing/budget:Budget", {
                "amount": {"specifiedAmount": {"units": "300"}},
                "thresholdRules": [{"thresholdPercent": 0.8, "spendBasis": basis}
                                   for basis in ("CURRENT_SPEND", "FORECASTED_SPEND")]})):
        b.add(type_, f"budget-{cloud}", inputs)
    for i in range(n):
        name = f"d{i:03d}"
        SHAPES[i % len(SHAPES)](b, name, _tags(env, name))
    return b.resources


def main() -> None:
    """Run the benchmark and print one line of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of deployments")
    parser.add_argument("--env", default="dev", choices=["dev", "staging", "prod"])
    args = parser.parse_args()
    resources = synthetic_stack(args.n, args.env)
    started = time.perf_counter()
    with start_pack(ROOT / "policies", "scalepath", args.env) as session:
        ready = time.perf_counter()
        given = load_policy_config(ROOT / "policies" / "config" / f"{args.env}.json")
        session.configure(reconcile_config(session.info, given, args.env))
        report = analyze_resources(session, resources)
        done = time.perf_counter()
    mandatory = sum(v["level"] == "mandatory" for v in report.violations)
    print(f"N={args.n} deployments, {len(resources)} resources, env={args.env}: "
          f"{len(resources) / (done - ready):,.0f} resources/s checking "
          f"({done - ready:.2f}s; pack start {ready - started:.2f}s; "
          f"{len(resources) / (done - started):,.0f} resources/s end to end); "
          f"{len(report.violations)} violations ({mandatory} mandatory)")


if __name__ == "__main__":
    main()
