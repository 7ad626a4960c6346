"""How many requests one replica serves: GPU memory for weights + KV cache, and a roofline.

Decode is bound by memory bandwidth (every step reads the weights and the batch's KV cache),
prefill by compute (2 x parameters FLOPs per prompt token). Peaks come from ``data/gpus.yaml``,
scaled by achieved-efficiency factors; docs/cost.md gives the formulas and their sources, and
the tests hold the estimate against the published measurements in the same file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from components import model_facts
from components.model_facts import params_from_model_id
from scalepath.cost import tables

BYTES_PER_PARAM = {"fp16": 2.0, "int8": 1.0, "int4": 0.5}
"""Weight bytes per parameter; the KV cache stays in 16-bit (vLLM's default ``kv_cache_dtype``)."""
KV_BYTES_PER_VALUE = 2.0
MBU = 0.6
"""Achieved fraction of peak memory bandwidth in decode (measured 0.6-0.8 for vLLM)."""
MFU = 0.5
"""Achieved fraction of peak dense FLOPS (prefill-dominated compute)."""
GPU_MEMORY_UTILIZATION = 0.9
"""Share of GPU memory vLLM takes for weights + KV cache (its ``gpu_memory_utilization`` default)."""
RUNTIME_OVERHEAD_GIB = 1.5
"""Activations, CUDA graphs and the runtime, per GPU."""
MAX_BATCH = 64
"""Concurrent sequences per replica without a latency target: past this, tail latency climbs
steeply on every published sweep while throughput gains flatten."""
GIB = 1024**3


@dataclass(frozen=True)
class ModelSize:
    """What sizes a model's memory and compute needs."""

    name: str
    params_b: float
    """Parameters loaded (memory, and the bytes a decode step reads)."""
    kv_bytes_per_token: float
    """KV cache per token of context (16-bit)."""
    source: str
    layers: int
    """Transformer layers (``models.yaml``, or the Llama fit for an unlisted size)."""
    active_params_b: float | None = None
    """Parameters one token runs through (compute), if fewer: a mixture of experts."""

    @property
    def flops_params_b(self) -> float:
        """Parameters whose multiply-adds each token costs."""
        return self.active_params_b if self.active_params_b is not None else self.params_b


MAX_PARAMS_B = 100_000.0
"""Largest parameter count taken (100T): far above any served model, below where the sizing
arithmetic stops meaning anything (``1e15`` was read as a million billion parameters)."""


def resolve_model(text: str) -> ModelSize:
    """A model id of ``components/data/models.yaml``, a parameter count (``8B``, ``70e9``,
    ``8000000000``) or an id whose name carries its size (``org/Some-Model-13B-chat``, read as the
    fit check reads it); ``ValueError`` otherwise."""
    row = model_facts.facts(text)
    if row is not None:
        return ModelSize(text, row.params_b, 2 * row.layers * row.kv_heads * row.head_dim * KV_BYTES_PER_VALUE,
                         "models.yaml (config.json)", row.layers, row.active_params_b)
    params_b = _params_from_text(text)
    if params_b is not None and not 0 < params_b <= MAX_PARAMS_B:
        raise ValueError(f"{text!r} is {params_b:g}B parameters; give a count above 0 and at most "
                         f"{MAX_PARAMS_B:g}B (such as 8B or 7e9)")
    if params_b is None:
        raise ValueError(f"cannot size model {text!r}: give a parameter count such as 8B or 7e9, or one "
                         f"of the known models: {', '.join(sorted(model_facts.table().models))}")
    # Unknown geometry: grouped-query attention with 8 KV heads of 128 dims, and a layer count
    # fitted to Llama 3 (32 layers at 8B, 80 at 70B): layers ~ 11.3 x params_b^0.46.
    layers = max(1, round(11.3 * params_b**0.46))
    return ModelSize(text, params_b, 2 * layers * 8 * 128 * KV_BYTES_PER_VALUE,
                     f"{params_b:g}B parameters, assumed Llama-like geometry ({layers} layers, 8 KV heads)", layers)


def _params_from_text(text: str) -> float | None:
    bare = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([bBmM]?)\s*", text)
    if bare:
        value, unit = float(bare[1]), bare[2].lower()
        if unit == "b":
            return value
        if unit == "m":
            return value / 1000
        return value / 1e9 if value >= 1e6 else None
    name = text.split("/")[-1]
    # A size inside a name (`Model-13B-chat`) needs the name: `-8B` or `+8B` is a signed count, not an id.
    if not re.search(r"[A-Za-z]", re.sub(r"(\d+x)?\d+(\.\d+)?[bB]", "", name)):
        return None
    return params_from_model_id(text)


@dataclass(frozen=True)
class ReplicaThroughput:
    """One replica's operating point for a request shape."""

    batch: int
    """Concurrent sequences it runs."""
    requests_per_second: float
    output_tokens_per_second: float
    latency_ms: float
    """Time of one request at that batch: prefill + output tokens x step time (no queueing)."""


def weights_gib(model: ModelSize, precision: str) -> float:
    """Memory the weights take at ``precision``."""
    return model.params_b * 1e9 * BYTES_PER_PARAM[precision] / GIB


def replica_throughput(model: ModelSize, gpu: tables.Gpu, gpu_count: int, precision: str,
                       input_tokens: int, output_tokens: int,
                       latency_p95_ms: float | None = None,
                       max_batch: int = MAX_BATCH, reserved_gib: float = 0.0) -> ReplicaThroughput | None:
    """The replica's throughput at the largest batch that fits memory, ``max_batch`` and the
    latency target; ``None`` if the weights plus one sequence's KV cache don't fit, or no batch
    meets the latency target. ``reserved_gib``: memory the server sets aside besides the weights
    (LoRA adapter slots), taken from the KV cache."""
    usable_gib = gpu_count * (gpu.memory_gib * GPU_MEMORY_UTILIZATION - RUNTIME_OVERHEAD_GIB)
    kv_free = (usable_gib - weights_gib(model, precision) - reserved_gib) * GIB
    tokens = max(1, input_tokens + output_tokens)
    fits = int(kv_free // (model.kv_bytes_per_token * tokens)) if kv_free > 0 else 0
    if fits < 1:
        return None
    weight_bytes = model.params_b * 1e9 * BYTES_PER_PARAM[precision]
    bandwidth = gpu_count * gpu.memory_bandwidth_gbs * 1e9 * MBU
    flops = gpu_count * gpu.fp16_tflops * 1e12 * MFU
    flops_per_token = 2 * model.flops_params_b * 1e9
    prefill_s = flops_per_token * input_tokens / flops
    # Decoding sequences hold on average the prompt plus half the output in their KV cache.
    kv_read = model.kv_bytes_per_token * (input_tokens + output_tokens / 2)

    def point(batch: int) -> ReplicaThroughput:
        step_s = max((weight_bytes + batch * kv_read) / bandwidth, flops_per_token * batch / flops)
        # Chunked prefill runs prompts in the compute left idle by memory-bound decode steps, so a
        # request costs the larger of its share of memory traffic and its own compute.
        memory_s = output_tokens * step_s / batch
        compute_s = flops_per_token * (input_tokens + output_tokens) / flops
        rps = 1 / max(memory_s, compute_s)
        return ReplicaThroughput(batch, rps, rps * output_tokens, 1000 * (prefill_s + output_tokens * step_s))

    best = None
    for batch in range(1, min(fits, max_batch) + 1):
        candidate = point(batch)
        if latency_p95_ms is not None and candidate.latency_ms > latency_p95_ms:
            break  # latency only grows with the batch
        best = candidate
    return best


def replicas_needed(requests_per_month: float, per_replica_rps: float, peak_to_average: float) -> int:
    """Replicas to serve the month's traffic at its peak (at least one, always on)."""
    average_rps = requests_per_month / (730 * 3600)
    return max(1, math.ceil(average_rps * peak_to_average / per_replica_rps - 1e-9))
