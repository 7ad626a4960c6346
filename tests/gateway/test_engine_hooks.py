"""The gateway's hooks (``components/gateway/engine_hooks.py``) run in the engine's own virtualenv
against the engine's own exception classes: which refusals get ``Retry-After`` and what it says.
The end-to-end checks (a route over its limit, through ``scalepath gateway serve``) are in
``test_serve_meter.py`` and ``test_adapter_routes.py``; here the edges of the minute and the
token limit, which a running engine cannot be steered to."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from components.gateway.args import ENGINE_SETTINGS
from scalepath.gateway.engine import engine_python
from tests.support import ROOT

PROBE = """
import asyncio, gc, json, sys
from datetime import datetime, timezone
import litellm
sys.path.insert(0, sys.argv[1])
import engine_hooks as h

def limit(message):
    return litellm.RateLimitError(message=message, llm_provider="", model="openai/m")

def retry_after(error):
    refused = asyncio.run(h.hooks.async_post_call_failure_hook({}, error, None))
    return None if refused is None else [refused.status_code, refused.headers["retry-after"], refused.detail,
                                         refused.type]

at = lambda s, us: h.seconds_to_next_minute(datetime(2026, 12, 7, 12, 0, s, us, tzinfo=timezone.utc))
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "edges": [at(0, 0), at(30, 200000), at(59, 500000), at(59, 999999)],
    "rpm": retry_after(limit("Model rate limit exceeded. RPM limit=3, current usage=4")),
    "tpm": retry_after(limit("Model rate limit exceeded. TPM limit=100, current usage=120")),
    "backend": retry_after(litellm.RateLimitError(message="OpenAIException - slow down", llm_provider="openai",
                                                  model="openai/m")),
    "other": retry_after(litellm.APIConnectionError(message="refused", llm_provider="openai", model="openai/m")),
}))
"""


@pytest.fixture(scope="module")
def found() -> dict[str, Any]:
    """What the probe saw, run once in the engine's interpreter."""
    out = subprocess.run([str(engine_python()), "-c", PROBE, str(ROOT / "components" / "gateway")],
                         capture_output=True, text=True, timeout=240, env=dict(ENGINE_SETTINGS),
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_limits_429s_get_retry_after_and_nothing_else_does(found: dict[str, Any]) -> None:
    # Seconds until the next UTC minute, rounded up, by hand: at :00.0 a whole minute (60); at
    # :30.2, 29.8 -> 30; at :59.5, 0.5 -> 1; at :59.999999 still 1 (never 0: "retry now" would be wrong).
    assert found["edges"] == [60, 30, 1, 1]
    for kind, limit in (("rpm", "RPM limit=3"), ("tpm", "TPM limit=100")):
        status, seconds, message, error_type = found[kind]
        assert status == 429 and 1 <= int(seconds) <= 60
        # The body stays the engine's: its message and its error type.
        assert limit in message and message.startswith("litellm.RateLimitError:") and error_type == "throttling_error"
    assert found["backend"] is None and found["other"] is None


def test_loading_the_hooks_freezes_the_engines_start_up_heap(found: dict[str, Any]) -> None:
    # Loading the hooks froze what the engine had imported by then (litellm alone is a few hundred
    # thousand objects; 0 would mean the collector's full passes walk it all again).
    assert found["frozen"] > 100_000
