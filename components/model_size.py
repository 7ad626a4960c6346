"""A model's size in billions of parameters: configured, or read from its Hub id.

Every stage sizes GPUs and timeouts with it; it lives apart from the stage components so that
a stack imports only the provider SDKs of the stages it uses.
"""

from __future__ import annotations

import re


def params_from_model_id(model_id: str) -> float | None:
    """Parameter count in billions read from a Hub id (``Llama-3.1-70B`` -> 70), if it says.

    Mixture-of-experts names (``8x7B``) count every expert: an upper bound, as all are loaded."""
    sizes = [float(experts or 1) * float(size) for experts, size in
             re.findall(r"(?<![\d.])(?:(\d+)x)?(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", model_id.split("/")[-1])]
    return max(sizes) if sizes else None


def model_size_b(model_id: str, params_b: float | None) -> float | None:
    """Parameter count in billions: the configured one, else what the Hub id says (if anything)."""
    return params_b if params_b is not None else params_from_model_id(model_id)
