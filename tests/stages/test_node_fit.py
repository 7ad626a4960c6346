"""vLLM pods fit the GPU nodes they may land on (issue 14, item 1).

Requests are derived from the node type's allocatable (kubelet reserves, eviction threshold,
GPU-node DaemonSets) and explicit requests that fit no node of a listed type are refused with
the key, for every type of the spot group and its on-demand fallback.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import catalog
from components.catalog import InstanceSpec
from components.clusters.allocatable import NodeCloud, Resources, allocatable, daemon_set_requests, workload_budget
from components.quantity import memory_mib
from tests.support import issues, one, plan
from tests.support.clusters import eks_config, gke_config

D = "scalepath:deployments[0]"
CIDRS = ["203.0.113.0/24"]


def requests(cfg: dict[str, Any]) -> dict[str, str]:
    spec = one(plan(cfg), "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    return spec["containers"][0]["resources"]["requests"]


def eks(types: list[str], **vllm: Any) -> dict[str, Any]:
    return eks_config(cluster={"publicAccessCidrs": CIDRS, "gpuNodes": {"instanceTypes": types}},
                      vllm={"modelCache": {"kind": "ephemeral"}, **vllm})


def gke(machine: str, **vllm: Any) -> dict[str, Any]:
    return gke_config(cluster={"masterAuthorizedCidrs": CIDRS, "gpuNodes": {"machineType": machine}},
                      vllm={"modelCache": {"kind": "ephemeral"}, **vllm})


def test_allocatable_follows_the_documented_formulas() -> None:
    # EKS AL2023 AMI, g6.xlarge (4 vCPU, 16 GiB, 58 pods): memory 16384 MiB x 0.925 capacity
    # - (11 x 58 + 255) kube-reserved - 100 eviction; CPU 4000m - (60 + 10 + 5 + 5).
    assert allocatable(NodeCloud.EKS, catalog.load("ec2").get("g6.xlarge")).cpu_m == 3920
    assert allocatable(NodeCloud.EKS, catalog.load("ec2").get("g6.xlarge")).memory_mib == 14162
    # GKE g2-standard-8 (8 vCPU, 32 GiB): 25% of 4 + 20% of 4 + 10% of 8 + 6% of 16 GiB = 3.56 GiB
    # reserved, + 100 MiB eviction; CPU 8000m - (60 + 10 + 10 + 4 x 2.5).
    g2 = allocatable(NodeCloud.GKE, catalog.load("gce").get("g2-standard-8"))
    assert g2.cpu_m == 7910
    assert g2.memory_mib == 29022


def test_every_band_counts_down_to_the_last_unit() -> None:
    # A 2-vCPU, 4.5 GiB node (made up: the bands' edges, not a catalogue row). CPU: 6% of the first
    # core + 1% of the second = 70m reserved -> 1930m. GKE memory: 25% of 4 GiB + 20% of the last
    # 0.5 GiB = 1.1 GiB = 1126.4 MiB; 4608 - 1126.4 - 100 = 3381.6 -> 3381 MiB.
    node = InstanceSpec(name="edge", vcpu=2, memory_gib=4.5)
    assert allocatable(NodeCloud.GKE, node) == Resources(cpu_m=1930, memory_mib=3381)


def test_an_eks_node_without_max_pods_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="^g2-standard-8 has no maxPods in its catalogue row; the eks reserve "
                                         "depends on it$"):
        allocatable(NodeCloud.EKS, catalog.load("gce").get("g2-standard-8"))


def test_the_daemon_sets_take_their_share() -> None:
    # node_allocatable.yaml, summed by hand. EKS: aws-node 25m + kube-proxy 100m + ebs-csi-node 30m/120Mi
    # + pod-identity 25m + dcgm-exporter 100m/400Mi = 280m, 520 MiB. GKE: 100 + 100 + 10 + 10 + 100 + 10
    # + 10 + 50 + 5 + dcgm 100 = 495m and 200 + 60 + 40 + 100 + 20 + 20 + 50 + 30 + dcgm 400 = 920 MiB.
    assert daemon_set_requests(NodeCloud.EKS) == Resources(cpu_m=280, memory_mib=520)
    assert daemon_set_requests(NodeCloud.GKE) == Resources(cpu_m=495, memory_mib=920)
    # What the workload keeps: allocatable (above) minus those.
    g6, g2 = catalog.load("ec2").get("g6.xlarge"), catalog.load("gce").get("g2-standard-8")
    assert workload_budget(NodeCloud.EKS, g6) == Resources(3920 - 280, 14162 - 520)
    assert workload_budget(NodeCloud.GKE, g2) == Resources(7910 - 495, 29022 - 920)


def test_replicas_sharing_a_node_split_its_budget_rounding_down() -> None:
    # g6.12xlarge's budget (hand-computed below, test_replicas_sharing_a_multi_gpu_node_share_its_allocatable)
    # shared by 4 replicas: 47530 / 4 = 11882.5 -> 11882m, 178413 / 4 = 44603.25 -> 44603 MiB.
    budget = workload_budget(NodeCloud.EKS, catalog.load("ec2").get("g6.12xlarge"))
    assert budget == Resources(47530, 178413)
    assert budget.split(4) == Resources(11882, 44603) and budget.split(1) == budget


def test_prod_like_eks_replica_requests_fit_both_gpu_types() -> None:
    # g6.xlarge and g5.xlarge are alike (4 vCPU, 16 GiB, 58 pods): 3640m and 13642 MiB each (above),
    # rounded down to 100m and 256 MiB steps: 3600m, 53 x 256 = 13568 MiB. Without the DaemonSets'
    # share it would be 3900m and 14080 MiB, which the nodes cannot hold.
    assert requests(eks(["g6.xlarge", "g5.xlarge"])) == {"cpu": "3600m", "memory": "13568Mi", "nvidia.com/gpu": "1"}


# By hand from node_allocatable.yaml and gce.yaml; every budget is allocatable - 495m/920 MiB of DaemonSets.
# g2-standard-8 (8 vCPU, 32 GiB): 7910m, 29022 MiB (above) -> 7415m, 28102 -> 7400m, 109 x 256 = 27904 MiB.
# g2-standard-4 (4 vCPU, 16 GiB): CPU 4000 - (60 + 10 + 10) = 3920m; memory 16384 - 1024 x (1 + 0.8 + 0.8)
#   - 100 = 13621 MiB -> 3425m, 12701 MiB -> 3400m, 49 x 256 = 12544 MiB.
# n1-standard-4 (4 vCPU, 15 GiB): 3920m; 15360 - 1024 x (1 + 0.8 + 0.7) - 100 = 12700 MiB
#   -> 3425m, 11780 MiB -> 3400m, 46 x 256 = 11776 MiB.
@pytest.mark.parametrize(("machine", "expected"), [
    ("g2-standard-8", {"cpu": "7400m", "memory": "27904Mi"}),
    ("g2-standard-4", {"cpu": "3400m", "memory": "12544Mi"}),
    ("n1-standard-4+1xnvidia-tesla-t4", {"cpu": "3400m", "memory": "11776Mi"}),
])
def test_gke_replica_requests_fit_the_machine(machine: str, expected: dict[str, str]) -> None:
    # On the T4 a 3B model: a 7B one in 16-bit (~14 GiB) fits no 16 GiB T4 beside its KV cache.
    cfg = gke(machine) if "+" not in machine else gke_config(model="Qwen/Qwen2.5-3B-Instruct", cluster={
        "masterAuthorizedCidrs": CIDRS, "gpuNodes": {"machineType": "n1-standard-4",
                                                      "accelerator": {"type": "nvidia-tesla-t4", "count": 1}}},
        vllm={"modelCache": {"kind": "ephemeral"}})
    assert requests(cfg) == {**expected, "nvidia.com/gpu": "1"}


def test_every_gpu_type_of_the_catalogues_gets_requests_that_fit() -> None:
    for family, cloud in (("ec2", NodeCloud.EKS), ("gce", NodeCloud.GKE)):
        table = catalog.load(family)
        assert table.gpu_types()
        for name in table.gpu_types():
            budget = workload_budget(cloud, table.get(name))
            assert budget.cpu_m > 1000 and budget.memory_mib > 8 * 1024, (name, budget)


def test_old_defaults_on_a_small_gpu_node_are_refused_naming_the_keys() -> None:
    found = issues(eks(["g6.xlarge"], resources={"cpu": "4", "memory": "32Gi"}))
    assert "g6.xlarge" in found[f"{D}.vllm.resources.cpu"]
    assert "Pending" in found[f"{D}.vllm.resources.memory"]


def test_the_smallest_type_of_the_spot_and_fallback_groups_decides() -> None:
    found = issues(eks(["g6.2xlarge", "g6.xlarge"], resources={"memory": "20Gi"}))
    message = found[f"{D}.vllm.resources.memory"]
    assert "g6.xlarge" in message and "g6.2xlarge" not in message
    # The same request fits when every listed type has room.
    assert memory_mib(requests(eks(["g6.2xlarge"], resources={"memory": "20Gi"}))["memory"]) == 20 * 1024


def test_gke_g2_standard_8_leaves_about_28_gib() -> None:
    assert f"{D}.vllm.resources.memory" in issues(gke("g2-standard-8", resources={"memory": "30Gi"}))
    assert requests(gke("g2-standard-8", resources={"memory": "26Gi"}))["memory"] == "26Gi"


def test_replicas_sharing_a_multi_gpu_node_share_its_allocatable() -> None:
    # 4 GPUs, 1 per replica: four replicas per g6.12xlarge, each with a quarter of the node.
    found = issues(eks(["g6.12xlarge"], resources={"memory": "64Gi"}))
    assert "each of its 4 replicas" in found[f"{D}.vllm.resources.memory"]
    # g6.12xlarge (48 vCPU, 192 GiB, 234 pods): CPU 48000 - (60 + 10 + 10 + 44 x 2.5) - 280 = 47530m;
    # memory 196608 x 0.925 - (11 x 234 + 255) - 100 - 520 = 178413 MiB. A quarter each: 11882m and
    # 44603 MiB, rounded down to 11800m and 174 x 256 = 44544 MiB.
    assert requests(eks(["g6.12xlarge"])) == {"cpu": "11800m", "memory": "44544Mi", "nvidia.com/gpu": "1"}


@pytest.mark.parametrize(("resources", "key", "text"), [
    ({"memory": "8Gi", "memoryLimit": "4Gi"}, "memoryLimit", "a limit must be >= its request"),
    ({"cpu": "2", "cpuLimit": "1"}, "cpuLimit", "a limit must be >= its request"),
    ({"memory": "8Gi", "shmSize": "8Gi"}, "shmSize", "counts against the pod's memory"),
])
def test_limits_the_api_server_rejects_are_refused(resources: dict[str, str], key: str, text: str) -> None:
    found = issues(eks(["g6.xlarge"], resources=resources))
    assert any(text in message and f"vllm.resources.{key}" in path + message
               for path, message in found.items()), found
