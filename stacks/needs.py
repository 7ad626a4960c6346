"""What a deployment needs to serve its model: the needs side of the stage contract.

Each stage's deployment model returns one :class:`Needs` per kind of replica it runs
(:meth:`stacks.config.DeploymentBase.needs`); the cross-cutting checks (``stacks/checks/``) read
them, and never a stage's name, so a new stage inherits GPU fit, tensor-parallel divisibility
and gated-model access by filling in this record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from components.clusters.capabilities import Capability


class WeightsFrom(str, Enum):
    """Where a replica's server gets the weights."""

    HUB = "hub"
    """Downloaded from the Hugging Face Hub at start, with the token the stage gives it (if any)."""
    HF_MANAGED = "hf-managed"
    """Hugging Face runs the model under the owning account's own access (serverless, endpoints)."""
    BUCKET = "bucket"
    """A copy in the user's bucket (S3, GCS)."""
    CLOUD_COPY = "cloud-copy"
    """A copy the cloud keeps (an Azure ML model asset, Vertex's cache of Hub models)."""


class HubToken(str, Enum):
    """Which Hub token a replica's server gets."""

    NONE = "none"
    """None: the stage cannot pass one safely (SageMaker shows a model's environment in clear)."""
    STACK_SECRET = "stack-secret"
    """``scalepath:hfToken``, when the stack sets it."""
    OWN = "own"
    """One the deployment names itself (an existing Kubernetes Secret)."""


@dataclass(frozen=True)
class Use:
    """Something a replica's settings rely on running beside it."""

    capability: Capability
    key: str
    """The setting that relies on it."""
    what: str
    """What relies on it, for the message."""
    fix: str


@dataclass(frozen=True)
class Launch:
    """How the stage starts the server: which entrypoint reads the environment it hands over."""

    entrypoint: str | None
    """Key of ``components/data/server_env.yaml`` (None: an image whose entrypoint is unknown)."""
    env: tuple[tuple[str, str], ...]
    """(variable, the key that sets it) for every variable the server is handed."""
    fix: str
    """What to do when the entrypoint ignores one, for the message."""


@dataclass(frozen=True)
class Needs:
    """One kind of replica of a deployment: its model, its GPUs and how it gets the weights.
    Keys are relative to the deployment (``instanceType``, ``variants[1].instanceType``)."""

    model: str
    """Hub id of the weights (sizes and attention shape come from ``components/data/models.yaml``)."""
    params_b: float | None
    """Parameter count the user configured (billions); the model table or the id's when ``None``."""
    gpus: int
    """GPUs one replica holds (0: CPU, or capacity the provider sizes)."""
    gpu_memory_gib: float
    """Memory of each of them."""
    hardware: str
    """How messages name the replica's hardware (``ml.g5.12xlarge``, ``vllm.gpusPerReplica on g6.xlarge``)."""
    hardware_key: str
    """The key that picks it, blamed when the weights do not fit."""
    quantized: bool
    """Weights below 16 bits (smaller than the fit check assumes: not checked)."""
    tensor_parallel: int
    """GPUs the server shards each layer over (1: no sharding)."""
    tensor_parallel_key: str
    """The key that sets the sharding (the instance type where the container shards over every GPU)."""
    tensor_parallel_fix: str
    """How to pick another sharding on this stage, for the message."""
    weights: WeightsFrom
    hub_token: HubToken
    weights_key: str | None
    """The key that stages the weights away from the Hub (``weightsS3Uri``), if the stage has one."""
    context: int | None = None
    """Longest sequence (prompt + answer) the server is configured for; its default when ``None``."""
    context_key: str = ""
    """The key that sets it."""
    extra_gib: float = 0.0
    """GPU memory a replica reserves besides the weights (LoRA adapter slots), counted by the fit check."""
    launch: Launch | None = None
    """How the server gets its settings through the environment (None: the stage passes none)."""
    uses: tuple[Use, ...] = ()
    """What its scaler, monitors and annotations need running (a metric source, an operator, a controller)."""
    provides: frozenset[Capability] = frozenset()
    """What the stack runs beside it (its cluster's add-ons)."""


def flag_value(args: Sequence[str], flag: str) -> int | None:
    """``N`` of ``flag N`` or ``flag=N`` in a server's arguments, if it is there and a number."""
    for i, arg in enumerate(args):
        text = arg.split("=", 1)[1] if arg.startswith(f"{flag}=") else (
            args[i + 1] if arg == flag and i + 1 < len(args) else None)
        if text is not None and text.isdigit():
            return int(text)
    return None
