"""Hostile input on ``scalepath gateway``: client keys the engine would not enforce. Fast checks
without the engine; the engine's own behaviour for these is pinned in ``test_serve.py``."""

from __future__ import annotations

import secrets

import pytest

from scalepath.gateway.engine import EngineNotInstalled, start_engine
from scalepath.gateway.render import render_gateway
from scalepath.gateway.serve import engine_env
from scalepath.stackconfig import load_stack_config
from stacks.errors import ConfigError
from tests.support import ROOT

BACKENDS = {"chat-endpoint": "http://127.0.0.1:9/v1", "chat-serverless": "http://127.0.0.1:9/v1"}


def _backends():
    return render_gateway(load_stack_config("gateway-dev", ROOT), BACKENDS).backends


@pytest.mark.parametrize("key", [
    "os.environ/NOPE",  # the engine resolves it again: unset -> no master key -> open (issue 27)
    "os.environ/PATH",  # resolves to a value anyone can guess
    "false", " FALSE ", "True",  # get_secret turns these into booleans
    "sk-a key with spaces-0123456789", "sk-tab\tkey-0123456789", "sk-clé-non-ascii-0123456789",
    "Bearer sk-0123456789abcdef",  # the engine deletes "Bearer " inside a key
    "sk-short",
], ids=lambda key: repr(key))
def test_a_client_key_the_engine_would_not_enforce_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        engine_env(_backends(), {"SCALEPATH_GATEWAY_KEY": key})
    assert [i.path for i in caught.value.issues] == ["$SCALEPATH_GATEWAY_KEY"]
    with pytest.raises(EngineNotInstalled, match=r"\$SCALEPATH_GATEWAY_KEY "):
        start_engine("model_list: []\n", {"SCALEPATH_GATEWAY_KEY": key})


@pytest.mark.parametrize("key", ["sk-scalepath-test-key-0123456789", secrets.token_urlsafe(24), "x" * 16])
def test_usable_client_keys_pass(key: str) -> None:
    assert engine_env({}, {"SCALEPATH_GATEWAY_KEY": key}) == {"SCALEPATH_GATEWAY_KEY": key}

