"""LoRA adapters on the vLLM server: the ``vllm serve`` flags and the init containers that fetch
each adapter into the model cache volume before the server starts.

Every adapter is fetched, whatever its source, so a Hub adapter's revision is pinned (vLLM's
``--lora-modules`` takes a path, not a revision) and a replica whose weights are synced from
s3/gcs (``HF_HUB_OFFLINE=1``) still gets its Hub adapters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from components import model_facts
from components.files import load_data

DATA_FILE = Path(__file__).parent.parent / "data" / "vllm_lora.yaml"
_DATA = load_data(DATA_FILE)
MAX_LORA_RANKS: tuple[int, ...] = tuple(_DATA["maxLoraRanks"])
"""The ``--max-lora-rank`` values the pinned vLLM accepts."""
DEFAULT_MAX_LORA_RANK: int = _DATA["defaultMaxLoraRank"]
ADAPTERS_DIR = "adapters"
"""Folder of the model cache volume holding one sub-folder per adapter."""


@dataclass(frozen=True, kw_only=True)
class LoraAdapter:
    """One adapter the server loads at start."""

    name: str
    """Served model name clients send for it."""
    source: str
    """Hub repo id, or ``s3://`` / ``gs://`` prefix."""
    revision: str | None = None
    rank: int | None = None

    @property
    def from_hub(self) -> bool:
        return "://" not in self.source


def max_lora_rank(ranks: Iterable[int | None]) -> int:
    """The smallest allowed ``--max-lora-rank`` that holds every declared rank (``None``: not
    declared; vLLM's default when none is); ``ValueError`` when a rank is above the largest allowed."""
    declared = [rank for rank in ranks if rank is not None]
    if not declared:
        return DEFAULT_MAX_LORA_RANK
    wanted = max(declared)
    for allowed in MAX_LORA_RANKS:
        if allowed >= wanted:
            return allowed
    raise ValueError(f"LoRA rank {wanted} is above {MAX_LORA_RANKS[-1]}, the largest the vLLM "
                     f"{_DATA['vllmVersion']} server accepts")


def server_flags(adapters: Sequence[LoraAdapter], base_model_name: str, cache_mount: str) -> list[str]:
    """``--enable-lora``, one ``--lora-modules`` JSON item per adapter (its local copy, tied to the
    base model's served name), and ``--max-loras`` / ``--max-lora-rank`` derived from the list."""
    if not adapters:
        return []
    modules = [json.dumps({"name": a.name, "path": local_dir(a, cache_mount), "base_model_name": base_model_name},
                          separators=(",", ":")) for a in adapters]
    # Every adapter resident at once: a batch may mix them, none waits for a slot.
    return ["--enable-lora", "--lora-modules", *modules, "--max-loras", str(len(adapters)),
            "--max-lora-rank", str(max_lora_rank(a.rank for a in adapters))]


def local_dir(adapter: LoraAdapter, cache_mount: str) -> str:
    """Where the adapter's files are put on the cache volume."""
    return f"{cache_mount}/{ADAPTERS_DIR}/{adapter.name}"


def fetch_command(adapter: LoraAdapter, cache_mount: str) -> list[str]:
    """The init container command that copies the adapter to :func:`local_dir`."""
    target = local_dir(adapter, cache_mount)
    if adapter.from_hub:
        # huggingface_hub's CLI, in the vLLM image itself.
        revision = ["--revision", adapter.revision] if adapter.revision else []
        return ["hf", "download", adapter.source, *revision, "--local-dir", target]
    if adapter.source.startswith("s3://"):
        return ["aws", "s3", "sync", "--only-show-errors", adapter.source, target]
    return ["gcloud", "storage", "rsync", "--recursive", adapter.source, target]


def slot_gib(params_b: float, layers: int, slots: int, rank: int) -> float:
    """GPU memory vLLM reserves for ``slots`` adapters of ``rank`` (16-bit A and B matrices on
    every linear layer), estimated from the model's size and depth: per layer the projections'
    in+out widths sum to ~20 hidden sizes (q, k, v, o, gate, up, down with an MLP ~3.5x wide) and
    a layer holds ~12 hidden sizes squared of parameters."""
    hidden = (params_b * 1e9 / layers / 12) ** 0.5
    return slots * rank * layers * 20 * hidden * 2 / 2**30


def lora_slot_gib(model: str, adapters: Sequence[LoraAdapter]) -> float | None:
    """:func:`slot_gib` of the server's adapters (``--max-loras`` slots at ``--max-lora-rank``),
    or ``None`` when the model's geometry is not in ``models.yaml`` (read through :mod:`components.model_facts`)."""
    if not adapters:
        return 0.0
    row = model_facts.facts(model)
    if row is None:
        return None
    return slot_gib(row.params_b, row.layers, len(adapters), max_lora_rank(a.rank for a in adapters))
