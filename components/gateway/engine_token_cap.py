"""Runs inside the engine (LiteLLM's proxy), never in the stack program: caps a request's answer
length to what the chosen deployment is sized for.

The engine passes a caller's ``max_tokens`` through (its router merges the request over an
entry's ``litellm_params``, so a ``max_tokens`` there is only a default). A deployment hook runs
after the router picked an entry and before the request leaves; the entry's ``model_info`` names
its cap (``scalepath_max_tokens``), rendered from the deployment's contract. The gateway writes
this file next to the engine's config and lists ``scalepath_token_cap.token_cap`` in
``litellm_settings.callbacks``.
"""

from typing import Any

from litellm.integrations.custom_logger import CustomLogger

#: The ``model_info`` key holding an entry's cap.
CAP_KEY = "scalepath_max_tokens"


class TokenCap(CustomLogger):
    """``max_tokens``/``max_completion_tokens`` at most the entry's cap (set to it when absent)."""

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
        cap = (kwargs.get("model_info") or {}).get(CAP_KEY)
        if not isinstance(cap, int) or isinstance(cap, bool):
            return kwargs
        asked = [kwargs[k] for k in ("max_tokens", "max_completion_tokens") if isinstance(kwargs.get(k), int)]
        kwargs["max_tokens"] = min([cap, *asked])
        kwargs.pop("max_completion_tokens", None)
        return kwargs


token_cap = TokenCap()
