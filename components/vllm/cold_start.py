"""How long a vLLM deployment at zero replicas takes to answer again: a GPU node joins, the image is
pulled onto it, the weights reach the pod, the engine starts (figures in ``data/cold_start.yaml``).

The stages put the estimate in the deployment's contract (the gateway's fallback for it is judged
against it) and ``scalepath plan`` prints it; the cost model bills the GPU node for it on each wake.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from components.files import load_data

DATA_FILE = Path(__file__).parent.parent / "data" / "cold_start.yaml"


@cache
def _data() -> dict[str, Any]:
    return load_data(DATA_FILE)


@dataclass(frozen=True)
class ColdStart:
    """The parts of one cold start, in seconds (``weights_seconds`` None: the model's size is unknown)."""

    node_seconds: float
    image_seconds: float
    weights_seconds: float | None
    engine_seconds: float
    weights_gb: float | None
    """Size of the weights read on each wake, decimal GB."""

    @property
    def total_seconds(self) -> float:
        """The whole cold start (the weights counted as 0 when their size is unknown: a lower bound)."""
        return self.node_seconds + self.image_seconds + (self.weights_seconds or 0.0) + self.engine_seconds

    def to_json(self) -> dict[str, Any]:
        """The plan JSON form (docs/architecture.md, "Interface contracts")."""
        return {"totalSeconds": round(self.total_seconds), "nodeProvisionSeconds": round(self.node_seconds),
                "imagePullSeconds": round(self.image_seconds),
                "weightsLoadSeconds": None if self.weights_seconds is None else round(self.weights_seconds),
                "engineStartSeconds": round(self.engine_seconds),
                "weightsGB": None if self.weights_gb is None else round(self.weights_gb, 1),
                "complete": self.weights_seconds is not None}


def bytes_per_param(quantization: str | None) -> float:
    """Bytes of one parameter on disk for ``vllm.quantization`` (bf16/fp16 without one)."""
    table = _data()["bytesPerParam"]
    return float(table.get(quantization or "default", table["default"]))


def estimate(cloud: str, cache_kind: str, params_b: float | None, quantization: str | None) -> ColdStart:
    """The cold start of a replica on ``cloud`` (``aws``/``gcp``) whose weights come from a
    ``cache_kind`` cache (``pvc``, ``s3``, ``gcs``, ``ephemeral``), for a model of ``params_b``
    billion parameters (None: unknown size)."""
    data = _data()
    image = data["image"]
    weights_gb = None if params_b is None else params_b * bytes_per_param(quantization)
    rate = data["weightsMBps"][cache_kind][cloud]
    return ColdStart(
        node_seconds=float(data["nodeProvisionSeconds"][cloud]["seconds"]),
        image_seconds=image["sizeGB"]["value"] * 1000 / image["pullMBps"]["value"],
        weights_seconds=None if weights_gb is None else weights_gb * 1000 / rate,
        engine_seconds=float(data["engineStartSeconds"]["seconds"]),
        weights_gb=weights_gb)


#: Seconds per unit of a Prometheus duration (``10m``); a year is 365 days, as Prometheus counts it.
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(duration: str) -> float:
    """A Prometheus duration of one unit (``30s``, ``10m``) in seconds."""
    number = duration.rstrip("smhdwy")
    return int(number) * _UNIT_SECONDS[duration[len(number):]]


def idle_tail_seconds(cloud: str, keep_alive_seconds: float, cooldown_seconds: float) -> float:
    """How long a GPU node stays after the last request: the keep-alive window (a replica is kept while
    requests arrived within it), KEDA's cooldown to zero, then the autoscaler's scale-down delay."""
    return keep_alive_seconds + cooldown_seconds + float(_data()["nodeScaleDownSeconds"][cloud]["seconds"])


@dataclass(frozen=True)
class WakeProfile:
    """What a deployment scaled to zero bills: its GPU node while awake, plus each wake's cold start
    and idle tail (one wake a day assumed: docs/cost.md, "Idle hours")."""

    cold_start: ColdStart
    awake_hours_per_day: float
    idle_tail_seconds: float
    node_family: str
    """Catalogue of the GPU node type (``ec2``, ``gce``)."""
    node_type: str
    spot: bool
    nodes: int
    """GPU nodes one awake replica takes."""

    @property
    def overhead_minutes_per_wake(self) -> float:
        """Node time billed around each wake: the cold start before the first answer, the idle tail after."""
        return (self.cold_start.total_seconds + self.idle_tail_seconds) / 60
