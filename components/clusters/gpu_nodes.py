"""The node placement contract between the GPU clusters and the workloads that run on them.

GPU nodes carry the taint ``nvidia.com/gpu=present:NoSchedule`` (the taint GKE puts on GPU
nodes itself; EKS node groups get it from us) and the label ``scalepath.io/node-pool: gpu``;
a GPU workload tolerates and selects exactly that. System nodes carry
``scalepath.io/node-pool: system`` and no taint, so cluster add-ons land there.
"""

from __future__ import annotations

from typing import Literal

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_TAINT_EFFECT = "NoSchedule"
"""Kubernetes spelling; the clouds' APIs spell it ``NO_SCHEDULE`` (see :data:`CLOUD_TAINT_EFFECT`)."""
CLOUD_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
                      "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
"""Kubernetes taint effect -> the EKS node group / GKE node pool API value."""

NODE_POOL_LABEL = "scalepath.io/node-pool"
GPU_POOL = "gpu"
SYSTEM_POOL = "system"
CAPACITY_LABEL = "scalepath.io/capacity"
"""``spot`` or ``on-demand``: lets a workload prefer spot nodes with a soft affinity."""

Capacity = Literal["spot", "on-demand"]


def gpu_taint() -> dict[str, str]:
    """The GPU taint in Kubernetes form (``key``, ``value``, ``effect``)."""
    return {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}


def gpu_tolerations() -> list[dict[str, str]]:
    """Pod tolerations that admit a pod to the GPU nodes (and only tolerate that taint)."""
    return [{"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE,
             "effect": GPU_TAINT_EFFECT}]


def gpu_node_selector() -> dict[str, str]:
    """Pod node selector for the GPU node pools."""
    return {NODE_POOL_LABEL: GPU_POOL}


def system_node_selector() -> dict[str, str]:
    """Node selector for cluster add-ons (KEDA, Prometheus, autoscaler)."""
    return {NODE_POOL_LABEL: SYSTEM_POOL}


def node_labels(pool: str, capacity: Capacity) -> dict[str, str]:
    """Kubernetes labels of one node group/pool."""
    return {NODE_POOL_LABEL: pool, CAPACITY_LABEL: capacity}
