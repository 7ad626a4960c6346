"""What a GPU node leaves for a workload's pods: Kubernetes allocatable (capacity minus the
kubelet/system reserves and the hard eviction threshold) minus the DaemonSets every GPU node
runs, per cloud, from ``components/data/node_allocatable.yaml``.

A pod whose requests exceed this stays Pending on every node the cluster can add, and the
autoscaler cannot help: the vLLM stages derive requests from it and refuse requests that do
not fit every GPU node type a deployment may land on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat

from components.catalog import InstanceSpec
from components.config_model import ConfigModel
from components.files import load_data
from components.quantity import cpu_millis, memory_mib

DATA_FILE = Path(__file__).parent.parent / "data" / "node_allocatable.yaml"

class NodeCloud(str, Enum):
    """Whose reserve rules apply."""

    EKS = "eks"
    GKE = "gke"


@dataclass(frozen=True)
class Resources:
    """CPU (millicores) and memory (MiB)."""

    cpu_m: int
    memory_mib: int

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mib - other.memory_mib)

    def split(self, parts: int) -> Resources:
        """An equal share for each of ``parts`` pods (rounded down)."""
        return Resources(self.cpu_m // parts, self.memory_mib // parts)


class Band(ConfigModel):
    """``pct`` percent of the next ``size`` units (cores or GiB); no size: the rest."""

    size: PositiveFloat | None = None
    pct: NonNegativeFloat


class PerPodMemory(ConfigModel):
    per_pod_mib: NonNegativeInt = Field(alias="perPodMiB")
    base_mib: NonNegativeInt = Field(alias="baseMiB")


class DaemonSet(ConfigModel):
    name: str
    cpu: str
    memory: str
    source: str

    def requests(self) -> Resources:
        return Resources(cpu_millis(self.cpu), memory_mib(self.memory))


class CloudReserves(ConfigModel):
    """One cloud's reserve rules and the DaemonSets on its GPU nodes."""

    source: str
    vm_memory_overhead_pct: NonNegativeFloat
    memory_reserved: PerPodMemory | None = None
    memory_reserved_bands: list[Band] | None = None
    eviction_hard_mib: NonNegativeInt = Field(alias="evictionHardMiB")
    cpu_reserved_bands: list[Band]
    daemon_sets: list[DaemonSet]


class ReserveTable(ConfigModel):
    as_of: str
    clouds: dict[NodeCloud, CloudReserves]


@cache
def table() -> ReserveTable:
    """The reserve rules, read once."""
    return ReserveTable.model_validate(load_data(DATA_FILE))


def _banded(total: float, bands: list[Band]) -> float:
    reserved, left = 0.0, total
    for band in bands:
        take = left if band.size is None else min(left, band.size)
        reserved += take * band.pct / 100
        left -= take
        if left <= 0:
            break
    return reserved


def allocatable(cloud: NodeCloud, node: InstanceSpec) -> Resources:
    """What kubelet lets pods request on ``node`` (before any DaemonSet)."""
    rules = table().clouds[cloud]
    capacity_mib = node.memory_gib * 1024 * (1 - rules.vm_memory_overhead_pct / 100)
    if rules.memory_reserved is not None:
        if node.max_pods is None:
            raise ValueError(f"{node.name} has no maxPods in its catalogue row; the {cloud.value} "
                             "reserve depends on it")
        reserved_mib = rules.memory_reserved.per_pod_mib * node.max_pods + rules.memory_reserved.base_mib
    else:
        reserved_mib = _banded(node.memory_gib, rules.memory_reserved_bands or []) * 1024
    cpu_reserved_m = _banded(node.vcpu, rules.cpu_reserved_bands) * 1000
    return Resources(cpu_m=math.floor(node.vcpu * 1000 - cpu_reserved_m),
                     memory_mib=math.floor(capacity_mib - reserved_mib - rules.eviction_hard_mib))


def daemon_set_requests(cloud: NodeCloud) -> Resources:
    """What the DaemonSets on every GPU node request together."""
    total = Resources(0, 0)
    for daemon_set in table().clouds[cloud].daemon_sets:
        total += daemon_set.requests()
    return total


def workload_budget(cloud: NodeCloud, node: InstanceSpec) -> Resources:
    """What the GPU workload's pods on ``node`` may request together."""
    return allocatable(cloud, node) - daemon_set_requests(cloud)
