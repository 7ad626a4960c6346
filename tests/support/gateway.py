"""A stack config with a gateway in front of two stages, for the gateway tests."""

from __future__ import annotations

import copy
from typing import Any

from scalepath.stackconfig import load_stack_config
from tests.support import ROOT


def gateway_config(**gateway: Any) -> tuple[dict[str, Any], set[str]]:
    """The shipped ``dev`` config (hf-serverless + hf-endpoint) plus ``scalepath:gateway``.

    Default route ``chat``: 90 to ``chat-endpoint``, 10 to ``chat-serverless``, no fallback."""
    config = load_stack_config("dev", ROOT)
    values: dict[str, Any] = dict(config.values)
    values["scalepath:gateway"] = copy.deepcopy({
        "runtime": "ecs",
        "routes": [{"name": "chat", "targets": [{"deployment": "chat-endpoint", "weight": 90},
                                                {"deployment": "chat-serverless", "weight": 10}]}],
        **gateway,
    })
    return values, set(config.secret_keys)
