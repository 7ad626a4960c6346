"""EKS and GKE GPU clusters (stages eks-vllm, gke-vllm) through the offline plan.

Control planes (private vs public), spot + on-demand fallback capacity, the GPU placement
contract against the workload's pods, pinned add-ons, tags/labels, and bad configs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from components.clusters.eks import EksGpuCluster, EksGpuClusterArgs, EksGpuNodesArgs
from components.clusters.gpu_nodes import CAPACITY_LABEL, CLOUD_TAINT_EFFECT, NODE_POOL_LABEL
from scalepath.plan import Plan
from tests.support import issues, of_type, one, plan
from tests.support.clusters import eks_config, gke_config

MODEL = "Qwen/Qwen2.5-7B-Instruct"
SEMVER = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-eksbuild\.[0-9]+)?$")
K8S_EFFECT = {v: k for k, v in CLOUD_TAINT_EFFECT.items()}
HELM = "kubernetes:helm.sh/v3:Release"


def pod_spec(plan_: Plan) -> dict[str, Any]:
    return one(plan_, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]


# --- control planes ------------------------------------------------------------------------

def test_eks_private_mode_has_no_public_endpoint() -> None:
    cluster = one(plan(eks_config(environment="prod", mode="private")), "aws:eks/cluster:Cluster").inputs
    vpc = cluster["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and vpc["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in vpc
    assert cluster["deletionProtection"] is True


def test_eks_public_mode_restricts_the_public_endpoint_to_configured_cidrs() -> None:
    cluster = one(plan(eks_config()), "aws:eks/cluster:Cluster").inputs
    vpc = cluster["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster["deletionProtection"] is False


def test_eks_cluster_encrypts_secrets_logs_everything_and_uses_access_entries() -> None:
    arn = "arn:aws:iam::123456789012:role/platform-admin"
    p = plan(eks_config(cluster={"publicAccessCidrs": ["198.51.100.7/32"], "adminRoleArns": [arn]}))
    cluster = one(p, "aws:eks/cluster:Cluster").inputs
    key = one(p, "aws:kms/key:Key").inputs
    assert key["enableKeyRotation"] is True
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator",
                                                      "controllerManager", "scheduler"}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert one(p, "aws:cloudwatch/logGroup:LogGroup").inputs["name"] == f"/aws/eks/{cluster['name']}/cluster"
    # The listed admin plus the deploying identity (test_eks_control_plane).
    assert arn in [r.inputs["principalArn"] for r in of_type(p, "aws:eks/accessEntry:AccessEntry")]
    for association in of_type(p, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        assert association.inputs["policyArn"].endswith("AmazonEKSClusterAdminPolicy")


def test_eks_uses_the_shared_private_subnets_and_workload_security_group() -> None:
    p = plan(eks_config(environment="prod", mode="private"))
    subnets = {r.urn for r in of_type(p, "aws:ec2/subnet:Subnet") if "private" in r.name}
    cluster = one(p, "aws:eks/cluster:Cluster")
    assert set(cluster.property_dependencies["vpcConfig"]) >= subnets
    workload_sg = one(p, "aws:ec2/securityGroup:SecurityGroup", "network-aws-workload-sg")
    templates = of_type(p, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) >= 2  # system + GPU node groups
    for template in templates:
        assert workload_sg.urn in template.property_dependencies["vpcSecurityGroupIds"]
        assert len(template.inputs["vpcSecurityGroupIds"]) == 2  # + the EKS cluster SG
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        assert template.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    # EKS GPU nodes pull public images: the shared network gets NAT egress.
    assert len(of_type(p, "aws:ec2/natGateway:NatGateway")) == 1


def test_gke_private_mode_uses_the_private_endpoint_only() -> None:
    cluster = one(plan(gke_config(environment="prod", mode="private")), "gcp:container/cluster:Cluster").inputs
    private = cluster["privateClusterConfig"]
    assert private["enablePrivateEndpoint"] is True and private["enablePrivateNodes"] is True
    # In-VPC runners reach the private endpoint from the stack's subnet (network.gcp.subnetCidr).
    cidrs = [b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert cidrs == ["10.40.0.0/20"]
    assert cluster["deletionProtection"] is True


def test_gke_public_mode_keeps_private_nodes_and_authorised_networks() -> None:
    cluster = one(plan(gke_config()), "gcp:container/cluster:Cluster").inputs
    private = cluster["privateClusterConfig"]
    assert private["enablePrivateEndpoint"] is False and private["enablePrivateNodes"] is True
    cidrs = {b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]}
    assert "203.0.113.0/24" in cidrs
    assert cluster["location"] == "us-central1"  # regional
    assert cluster["workloadIdentityConfig"]["workloadPool"] == "ml-proj-123.svc.id.goog"
    assert cluster["monitoringConfig"]["managedPrometheus"]["enabled"] is True
    assert cluster["releaseChannel"]["channel"] == "REGULAR"
    assert "databaseEncryption" not in cluster


def test_gke_database_encryption_with_a_configured_key() -> None:
    key = "projects/p/locations/us-central1/keyRings/ring/cryptoKeys/gke"
    cluster = one(plan(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"], "kmsKeyName": key})),
                  "gcp:container/cluster:Cluster").inputs
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key}


# --- capacity ------------------------------------------------------------------------------

def role(name: str) -> str:
    """A node group's or pool's role: its name without the suffix of its force-new inputs."""
    assert re.fullmatch(r"[a-z-]+-[0-9a-f]{6}", name), name
    return name.rsplit("-", 1)[0]


def node_groups(p: Plan) -> dict[str, dict[str, Any]]:
    return {role(r.inputs["nodeGroupName"]): r.inputs for r in of_type(p, "aws:eks/nodeGroup:NodeGroup")}


def test_eks_spot_group_with_on_demand_fallback_preferred_by_the_autoscaler() -> None:
    p = plan(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"],
                                 "gpuNodes": {"instanceTypes": ["g6.xlarge", "g5.xlarge"]}}))
    groups = node_groups(p)
    assert set(groups) == {"system", "gpu-spot", "gpu-ondemand"}
    spot, fallback = groups["gpu-spot"], groups["gpu-ondemand"]
    assert spot["capacityType"] == "SPOT" and fallback["capacityType"] == "ON_DEMAND"
    assert spot["instanceTypes"] == fallback["instanceTypes"] == ["g6.xlarge", "g5.xlarge"]
    assert spot["amiType"] == fallback["amiType"] == "AL2023_x86_64_NVIDIA"
    # scaling 1..3 replicas of 1 GPU on 1-GPU nodes; the baseline sits on spot.
    assert spot["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
    assert fallback["scalingConfig"]["minSize"] == 0 and fallback["scalingConfig"]["maxSize"] == 3
    assert groups["system"]["capacityType"] == "ON_DEMAND" and not groups["system"].get("taints")
    assert groups["system"]["instanceTypes"] == ["m6i.large"]

    autoscaler = next(r.inputs for r in of_type(p, HELM) if r.inputs["chart"] == "cluster-autoscaler")
    values = autoscaler["values"]
    assert values["extraArgs"]["expander"] == "priority"
    assert values["autoDiscovery"]["clusterName"] == one(p, "aws:eks/cluster:Cluster").inputs["name"]
    # Managed node groups' ASGs are named eks-<node group name>-<uuid>.
    priorities = _priorities(values["expanderPriorities"])
    asg = {group: f"eks-{inputs['nodeGroupName']}-4ec7c1f2-8a2f-0c3e-1d5e-0123456789ab"
           for group, inputs in groups.items()}
    assert _winner(priorities, [asg["gpu-spot"], asg["gpu-ondemand"]]) == asg["gpu-spot"]
    assert _winner(priorities, [asg["gpu-ondemand"], asg["system"]]) == asg["gpu-ondemand"]


def _priorities(text: str) -> dict[int, list[str]]:
    priorities: dict[int, list[str]] = {}
    current = 0
    for line in text.splitlines():
        if line.endswith(":"):
            current = int(line[:-1])
        elif line.strip().startswith("- "):
            priorities.setdefault(current, []).append(line.strip()[2:])
    return priorities


def _winner(priorities: dict[int, list[str]], asgs: list[str]) -> str:
    """What the priority expander picks: the ASG matched by the highest priority."""
    for priority in sorted(priorities, reverse=True):
        matched = [a for a in asgs if any(re.match(p, a) for p in priorities[priority])]
        if matched:
            assert len(matched) == 1
            return matched[0]
    raise AssertionError("no ASG matched")


def test_eks_without_spot_has_one_on_demand_gpu_group_holding_the_minimum() -> None:
    groups = node_groups(plan(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"],
                                                  "gpuNodes": {"spot": False}})))
    assert set(groups) == {"system", "gpu-ondemand"}
    assert groups["gpu-ondemand"]["scalingConfig"]["minSize"] == 1


def test_eks_gpu_nodes_follow_replicas_and_gpus_per_node() -> None:
    # 2 GPUs per replica on 4-GPU nodes: 2 replicas per node, 5 replicas -> 3 nodes.
    groups = node_groups(plan(eks_config(
        scaling={"min": 1, "max": 5},
        cluster={"publicAccessCidrs": ["203.0.113.0/24"], "gpuNodes": {"instanceTypes": ["g6.12xlarge"]}},
        vllm={"gpusPerReplica": 2, "modelCache": {"kind": "ephemeral"}})))
    assert groups["gpu-spot"]["scalingConfig"]["minSize"] == 1
    assert groups["gpu-spot"]["scalingConfig"]["maxSize"] == 3


def gke_pools(p: Plan) -> dict[str, dict[str, Any]]:
    return {role(r.inputs["name"]): r.inputs for r in of_type(p, "gcp:container/nodePool:NodePool")}


def test_gke_spot_pool_with_on_demand_fallback_and_gpu_nodes_to_zero_outside_prod() -> None:
    p = plan(gke_config(scaling={"min": 1, "max": 2}, cluster={
        "masterAuthorizedCidrs": ["203.0.113.0/24"], "gpuNodes": {"min": 0}}))
    pools = gke_pools(p)
    assert set(pools) == {"system", "gpu-spot", "gpu-ondemand"}
    spot, fallback = pools["gpu-spot"], pools["gpu-ondemand"]
    assert spot["nodeConfig"]["spot"] is True and fallback["nodeConfig"]["spot"] is False
    for pool in (spot, fallback):
        assert pool["nodeConfig"]["machineType"] == "g2-standard-8"
        assert pool["nodeConfig"]["guestAccelerators"] == [{
            "type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
        assert pool["autoscaling"]["totalMinNodeCount"] == 0
        assert pool["autoscaling"]["totalMaxNodeCount"] == 2
        assert pool["initialNodeCount"] == 0
        assert pool["nodeConfig"]["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
    assert not pools["system"]["nodeConfig"].get("guestAccelerators")


def test_gke_n1_machine_with_attached_t4() -> None:
    # A 3B model: a 7B one in 16-bit (~14 GiB) does not fit one 16 GiB T4 beside its KV cache.
    pools = gke_pools(plan(gke_config(model="Qwen/Qwen2.5-3B-Instruct", cluster={
        "masterAuthorizedCidrs": ["203.0.113.0/24"],
        "gpuNodes": {"machineType": "n1-standard-8", "accelerator": {"type": "nvidia-tesla-t4", "count": 1}}})))
    assert pools["gpu-spot"]["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-tesla-t4"
    assert pools["gpu-spot"]["nodeConfig"]["machineType"] == "n1-standard-8"


# --- the placement contract ------------------------------------------------------------------

@pytest.mark.parametrize("cfg, pool_type, taints_of", [
    (eks_config(), "aws:eks/nodeGroup:NodeGroup", lambda r: r.inputs.get("taints", [])),
    (gke_config(), "gcp:container/nodePool:NodePool", lambda r: r.inputs["nodeConfig"].get("taints", [])),
], ids=["eks", "gke"])
def test_gpu_taints_match_the_workload_tolerations(cfg, pool_type, taints_of) -> None:
    p = plan(cfg)
    pods = pod_spec(p)
    gpu_pools = [r for r in of_type(p, pool_type) if "gpu" in r.name]
    assert len(gpu_pools) == 2
    for pool in gpu_pools:
        taints = taints_of(pool)
        assert taints, pool.name
        for taint in taints:
            effect = K8S_EFFECT[taint["effect"]]
            assert any(t["key"] == taint["key"] and t["effect"] == effect
                       and (t["operator"] == "Exists" or t.get("value") == taint["value"])
                       for t in pods["tolerations"]), (taint, pods["tolerations"])
        labels = pool.inputs.get("labels") or pool.inputs["nodeConfig"]["labels"]
        assert pods["nodeSelector"].items() <= labels.items()
        assert labels[CAPACITY_LABEL] in ("spot", "on-demand")
    # ...and the workload can't land on the system nodes.
    system = next(r for r in of_type(p, pool_type) if r.name.endswith("-system"))
    system_labels = system.inputs.get("labels") or system.inputs["nodeConfig"]["labels"]
    assert system_labels[NODE_POOL_LABEL] != pods["nodeSelector"][NODE_POOL_LABEL]
    # The GPU request fits the node.
    limits = pods["containers"][0]["resources"]["limits"]
    assert int(limits["nvidia.com/gpu"]) == 1


# --- add-ons ---------------------------------------------------------------------------------

def test_eks_add_ons_present_and_pinned() -> None:
    p = plan(eks_config())
    releases = {r.inputs["chart"]: r.inputs for r in of_type(p, HELM)}
    assert set(releases) == {"keda", "nvidia-device-plugin", "cluster-autoscaler", "kube-prometheus-stack",
                             "metrics-server", "dcgm-exporter"}
    for chart, release in releases.items():
        assert SEMVER.match(release["version"]), (chart, release["version"])
        assert release["repositoryOpts"]["repo"].startswith("https://")
    addons = {r.inputs["addonName"]: r.inputs for r in of_type(p, "aws:eks/addon:Addon")}
    assert set(addons) == {"aws-ebs-csi-driver", "eks-pod-identity-agent"}
    for addon in addons.values():
        assert SEMVER.match(addon["addonVersion"])
    ebs_identity = addons["aws-ebs-csi-driver"]["podIdentityAssociations"][0]
    assert ebs_identity["serviceAccount"] == "ebs-csi-controller-sa"
    # The device plugin runs on GPU nodes despite their taint.
    plugin = releases["nvidia-device-plugin"]["values"]
    assert plugin["tolerations"][0]["key"] == "nvidia.com/gpu"
    # The workload's model cache and KEDA use what the cluster installed.
    storage = one(p, "kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["provisioner"] == "ebs.csi.aws.com" and storage["parameters"]["encrypted"] == "true"
    scaled = one(p, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs
    assert scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] == \
        "http://kps-prometheus.monitoring.svc.cluster.local:9090"


def test_gke_keda_reads_managed_prometheus_with_workload_identity() -> None:
    p = plan(gke_config())
    keda = one(p, HELM).inputs
    assert keda["chart"] == "keda" and SEMVER.match(keda["version"])
    sa = one(p, "gcp:serviceaccount/account:Account", "llm-gke-keda-sa").inputs
    assert keda["values"]["podIdentity"]["gcp"]["gcpIAMServiceAccount"].startswith(sa["accountId"] + "@")
    binding = one(p, "gcp:serviceaccount/iAMMember:IAMMember").inputs
    assert binding["member"] == "serviceAccount:ml-proj-123.svc.id.goog[keda/keda-operator]"
    auth = one(p, "kubernetes:keda.sh/v1alpha1:TriggerAuthentication").inputs
    assert auth["spec"] == {"podIdentity": {"provider": "gcp"}}
    trigger = one(p, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]["triggers"][0]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert trigger["metadata"]["serverAddress"].startswith(
        "https://monitoring.googleapis.com/v1/projects/ml-proj-123/")
    assert one(p, "kubernetes:monitoring.googleapis.com/v1:PodMonitoring")


@pytest.mark.parametrize("cfg, command", [(eks_config(), "aws"), (gke_config(), "gke-gcloud-auth-plugin")],
                         ids=["eks", "gke"])
def test_kubernetes_provider_authenticates_with_the_cloud_cli(cfg, command) -> None:
    provider = one(plan(cfg), "pulumi:providers:kubernetes").inputs
    kubeconfig = json.loads(provider["kubeconfig"])
    user = kubeconfig["users"][0]["user"]
    assert user["exec"]["command"] == command
    assert "token" not in user and "client-key-data" not in user


# --- tags and labels -------------------------------------------------------------------------

def test_eks_taggable_resources_carry_the_cost_tags() -> None:
    p = plan(eks_config())
    untaggable = {"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy",
                  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"}
    eks = [r for r in p.resources if r.custom and r.type.startswith("aws:") and r.name.startswith("llm-")
           and r.type not in untaggable]
    assert len(eks) > 10
    for resource in eks:
        assert resource.inputs["tags"]["deployment"] == "llm", resource.type
        assert resource.inputs["tags"]["cost-center"] == "cc-1", resource.type
    templates = of_type(p, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) >= 2
    for template in templates:
        kinds = {spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]}
        assert kinds["instance"]["stack"] == kinds["volume"]["stack"] == "scalepath-test"


def test_gke_cluster_and_pools_carry_the_cost_labels() -> None:
    p = plan(gke_config())
    assert one(p, "gcp:container/cluster:Cluster").inputs["resourceLabels"]["deployment"] == "llm"
    pools = of_type(p, "gcp:container/nodePool:NodePool")
    assert len(pools) >= 2
    for pool in pools:
        assert pool.inputs["nodeConfig"]["resourceLabels"]["stack"] == "scalepath-test"


# --- bad configs -----------------------------------------------------------------------------

D = "scalepath:deployments[0]"


def test_eks_unknown_and_cpu_instance_types_are_rejected_with_the_key_path() -> None:
    found = issues(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"],
                                       "gpuNodes": {"instanceTypes": ["g7.mega"]}}))
    assert "g6.xlarge" in found[f"{D}.cluster.gpuNodes.instanceTypes"]
    found = issues(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"],
                                       "systemNodes": {"instanceType": "g5.xlarge"}}))
    assert "CPU" in found[f"{D}.cluster.systemNodes.instanceType"]


def test_eks_mixed_gpu_counts_and_oversized_replicas_are_rejected() -> None:
    found = issues(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"],
                                       "gpuNodes": {"instanceTypes": ["g5.xlarge", "g5.12xlarge"]}}))
    assert "same GPU count" in found[f"{D}.cluster.gpuNodes.instanceTypes"]
    found = issues(eks_config(vllm={"gpusPerReplica": 4, "modelCache": {"kind": "ephemeral"}}))
    assert any("vllm.gpusPerReplica (4)" in m for m in found.values())


def test_public_control_planes_need_an_allow_list() -> None:
    found = issues(eks_config(cluster={}))
    assert "network.mode is public" in found[f"{D}.cluster.publicAccessCidrs"]
    found = issues(gke_config(cluster={}))
    assert "CIDRs" in found[f"{D}.cluster.masterAuthorizedCidrs"]


def test_prod_keeps_a_gpu_node_warm() -> None:
    found = issues(eks_config(environment="prod", mode="private", cluster={"gpuNodes": {"min": 0}}))
    assert "prod keeps at least one GPU node" in found[f"{D}.cluster.gpuNodes.min"]


def test_gke_bad_machine_and_network_settings() -> None:
    found = issues(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"],
                                       "gpuNodes": {"machineType": "n1-standard-8"}}))
    assert "n1-standard-8+1xnvidia-tesla-t4" in found[f"{D}.cluster.gpuNodes"]
    found = issues(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"],
                                       "network": {"podsCidr": "10.68.0.0/14"}}))
    assert "overlap" in found[f"{D}.cluster.network"]
    found = issues(gke_config(cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"],
                                       "network": {"masterCidr": "172.16.0.0/24"}}))
    assert "/28" in found[f"{D}.cluster.network.masterCidr"]


def test_unknown_cluster_key_lists_the_allowed_ones() -> None:
    found = issues(eks_config(cluster={"publicAccessCidrs": ["203.0.113.0/24"], "nodeGroups": {}}))
    assert "gpuNodes" in found[f"{D}.cluster.nodeGroups"]


# --- the component on its own ----------------------------------------------------------------

@pulumi.runtime.test
def test_eks_component_rejects_a_cpu_type_for_gpu_nodes() -> None:
    with pytest.raises(ValueError, match="m6i.large has no GPU"):
        EksGpuCluster("bad", EksGpuClusterArgs(
            cluster_name="bad", region="us-east-1", tags={}, subnet_ids=["s-1", "s-2"], kubernetes_version="1.35",
            gpu_nodes=EksGpuNodesArgs(instance_types=["m6i.large"], min_size=0, max_size=1)))


# --- shipped environments --------------------------------------------------------------------

def test_shipped_prod_runs_vllm_on_eks(shipped_plan) -> None:
    p = shipped_plan("prod")
    cluster = one(p, "aws:eks/cluster:Cluster").inputs
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert {g["capacityType"] for g in node_groups(p).values()} == {"SPOT", "ON_DEMAND"}
    assert one(p, "scalepath:index:VllmService").name == "chat-eks-vllm"


def test_shipped_gke_staging_keeps_one_spot_gpu_replica_warm(shipped_plan) -> None:
    # Not zero: nothing the stack deploys could wake a replica at zero (issue 14, item 21).
    p = shipped_plan("gke-staging")
    pools = gke_pools(p)
    assert pools["gpu-spot"]["nodeConfig"]["spot"] is True
    assert pools["gpu-spot"]["autoscaling"]["totalMinNodeCount"] == 1
    scaled = one(p, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert scaled["minReplicaCount"] == 1
    assert [t["name"] for t in scaled["triggers"]] == ["queue", "keep-alive"]


def test_workload_defaults_follow_the_cluster_contract() -> None:
    """A VllmService on a bring-your-own cluster uses the same taint/label contract by default."""
    from components.clusters.gpu_nodes import gpu_node_selector, gpu_tolerations
    from components.vllm.args import DEFAULT_NODE_SELECTOR, DEFAULT_TOLERATIONS

    assert dict(DEFAULT_NODE_SELECTOR) == gpu_node_selector()
    assert [dict(t) for t in DEFAULT_TOLERATIONS] == gpu_tolerations()
