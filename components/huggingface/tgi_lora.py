"""LoRA adapters on text-generation-inference (TGI): the ``LORA_ADAPTERS`` value, the names
clients send for them, and the GPU memory they take (``components/data/tgi_lora.yaml``).

TGI downloads a Hub adapter itself at start (``repo@revision``) and serves it under its repo
id: the OpenAI ``model`` field of a request is the adapter id, any other name is the base model.
An ``id=path`` item names a local directory the launcher does not download, so object-store
sources need something that copies them into the container first (neither the SageMaker TGI
entrypoint, HF Inference Endpoints nor Azure ML does).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from components import model_facts
from components.files import load_data
from components.sagemaker.limits import at_least
from components.vllm.lora import LoraAdapter, slot_gib

DATA_FILE = Path(__file__).parent.parent / "data" / "tgi_lora.yaml"


@cache
def data() -> dict[str, Any]:
    """``tgi_lora.yaml``, read once."""
    return load_data(DATA_FILE)


def supports(version: str) -> bool:
    """Whether TGI ``version`` reads ``LORA_ADAPTERS`` as scalepath writes it."""
    return at_least(version, data()["since"])


def served_id(adapter: LoraAdapter) -> str:
    """What a request sends as ``model`` for the adapter: its Hub repo id (TGI's adapter id)."""
    return adapter.source


def env(adapters: Sequence[LoraAdapter]) -> dict[str, str]:
    """``{"LORA_ADAPTERS": "repo@revision,repo"}`` (empty without adapters); Hub sources only."""
    if not adapters:
        return {}
    if any(not a.from_hub for a in adapters):
        raise ValueError("TGI downloads Hub adapters only; the stage refuses object-store sources")
    items = [f"{a.source}@{a.revision}" if a.revision else a.source for a in adapters]
    return {data()["variable"]: ",".join(items)}


def padded_rank(rank: int | None, shards: int) -> int:
    """The rank TGI keeps on the GPU: at or below ``minSgmvRank`` x shards padded up to it, above
    padded to a multiple of ``sgmvBlockSize``; an undeclared rank counts as ``assumedRank``."""
    d = data()
    wanted = rank if rank is not None else d["assumedRank"]
    floor = d["minSgmvRank"] * max(shards, 1)
    block = d["sgmvBlockSize"]
    return floor if wanted <= floor else -(-wanted // block) * block


def adapters_gib(model: str, adapters: Sequence[LoraAdapter], shards: int) -> float | None:
    """GPU memory every adapter takes once loaded (each at its padded rank), or ``None`` when the
    model's geometry is not in ``models.yaml``."""
    if not adapters:
        return 0.0
    row = model_facts.facts(model)
    if row is None:
        return None
    return sum(slot_gib(row.params_b, row.layers, 1, padded_rank(a.rank, shards)) for a in adapters)
