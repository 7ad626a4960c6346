"""Whether a model's 16-bit weights fit the GPUs a replica gets: one rule for every stage that
picks its own GPUs (SageMaker, HF endpoints, vLLM on EKS/GKE)."""

from __future__ import annotations

from components.model_facts import model_size_b

WEIGHTS_GPU_FRACTION = 0.8
"""Fraction of total GPU memory fp16/bf16 weights may take (the rest is KV cache and activations)."""


def weights_gib(params_b: float) -> float:
    """Memory of 16-bit weights: two bytes per parameter."""
    return params_b * 2


def fits(params_b: float, gpus: int, gpu_memory_gib: float, extra_gib: float = 0.0) -> bool:
    """Whether ``params_b`` billion 16-bit parameters (plus ``extra_gib`` of adapter slots) fit
    ``gpus`` GPUs of ``gpu_memory_gib`` each."""
    return weights_gib(params_b) + extra_gib <= gpus * gpu_memory_gib * WEIGHTS_GPU_FRACTION


def misfit(model: str, gpus: int, gpu_memory_gib: float, where: str, params_b: float | None = None,
           adapters_gib: float = 0.0) -> str | None:
    """Why ``model`` (size from ``params_b`` or its id), with ``adapters_gib`` of LoRA slots, does
    not fit, or None (also when its size is unknown)."""
    params = model_size_b(model, params_b)
    if params is None or gpus == 0 or fits(params, gpus, gpu_memory_gib, adapters_gib):
        return None
    lora = f" plus ~{adapters_gib:.1f} GiB of LoRA adapter slots" if adapters_gib else ""
    return (f"{model} (~{params:g}B parameters, ~{weights_gib(params):.0f} GiB in 16-bit{lora}) does not fit {where} "
            f"({gpus}x {gpu_memory_gib:g} GiB, {WEIGHTS_GPU_FRACTION:.0%} usable for weights); choose bigger or "
            "more GPUs, or a quantized model")
