"""A stack config with a gateway in front of two stages, for the gateway tests."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

from scalepath.stackconfig import StackConfig, load_stack_config
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


def with_gateway(stack: str, gateway: dict[str, Any], **overrides: Any) -> StackConfig:
    """A shipped stack's config plus ``scalepath:gateway`` (and any other keys in ``overrides``,
    given as ``{"scalepath:network": {...}}``-style names with ``__`` for ``:``)."""
    config = load_stack_config(stack, ROOT)
    values = dict(config.values)
    values["scalepath:gateway"] = json.dumps(gateway)
    for key, value in overrides.items():
        values[key.replace("__", ":")] = value if isinstance(value, str) else json.dumps(value)
    return replace(config, values=values)
