"""The gateway's hooks (``components/gateway/engine_hooks.py``) run in the engine's own virtualenv
against the engine's own exception classes: which refusals get ``Retry-After`` and what it says.
The end-to-end checks (a route over its limit, through ``scalepath gateway serve``) are in
``test_serve_meter.py`` and ``test_adapter_routes.py``; here the edges of the minute and the
token limit, which a running engine cannot be steered to."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.gateway.args import ENGINE_SETTINGS
from scalepath.gateway.engine import engine_python
from tests.support import ROOT
from tests.support.raw_http import RawServer, answer, current_head, redirect
from tests.support.tls import make_tls

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


# -- Redirects: a backend cannot send the engine, its key or the prompt elsewhere ------------------

REDIRECT_PROBE = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
import litellm
import engine_hooks
connects = []
sys.addaudithook(lambda event, args: connects.append(str(args[1][0])) if event == "socket.connect" else None)

def cause(error):
    while error is not None:
        if type(error).__name__ in ("RedirectRefused", "TooManyRedirects"):
            return [type(error).__name__, str(error)]
        error = error.__cause__ or error.__context__
    return None

async def ask(base):
    try:
        answer = await litellm.acompletion(model="openai/m", api_base=base, api_key=sys.argv[3], max_retries=0,
                                           messages=[{"role": "user", "content": "the prompt"}])
        return ["answered", answer.choices[0].message.content]
    except Exception as error:
        return cause(error) or ["other", type(error).__name__]

print(json.dumps({"results": [asyncio.run(ask(base)) for base in json.loads(sys.argv[2])], "connects": connects}))
"""
TOKEN = "sk-backend-key-that-must-stay-home-0123"
CHAT = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Paris"}}]}).encode()


def test_the_engine_follows_no_redirect_to_another_origin_and_sends_nothing_there(tmp_path: Path) -> None:
    """The engine's own call path (litellm -> OpenAI SDK -> httpx, the hooks imported) against a TLS
    backend whose redirects point elsewhere: the other origin receives nothing, not even a
    connection to a metadata address; a redirect on the backend's own origin is still followed."""
    tls = make_tls(tmp_path)
    with RawServer(answer("200 OK", "application/json", CHAT)) as attacker:
        away = {  # case -> Location; `port` is the backend's own port (filled in below)
            "downgrade": "http://127.0.0.1:{port}/ok",  # same host and port, plain http
            "other-port": f"http://127.0.0.1:{attacker.port}/steal",
            "other-host": f"https://localhost:{attacker.port}/steal",
            "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "scheme-relative": f"//localhost:{attacker.port}/steal",
            "user-info": f"http://user:pass@127.0.0.1:{attacker.port}/steal",
            "user-info-trick": f"https://127.0.0.1:{{port}}@localhost:{attacker.port}/steal",
        }
        same = {"dot-dot": "../../../ok", "encoded-crlf": "/ok%0d%0aX-Injected:%201", "loop": "/v1/loop/x"}

        def respond(sock, closing) -> None:
            path = current_head().path
            if path.startswith("/ok"):
                return answer("200 OK", "application/json", CHAT)(sock, closing)
            case = path.split("/")[2]
            target = {**away, **same}[case].replace("{port}", str(backend.port))
            return redirect("307 Temporary Redirect", lambda _: target)(sock, closing)

        with RawServer(respond, tls=tls) as backend:
            cases = [*away, *same]
            out = subprocess.run([str(engine_python()), "-c", REDIRECT_PROBE, str(ROOT / "components" / "gateway"),
                                  json.dumps([f"{backend.url}/{case}" for case in cases]), TOKEN],
                                 capture_output=True, text=True, timeout=240, check=True,
                                 env={**ENGINE_SETTINGS, "SSL_CERT_FILE": str(tls.ca_file)})
    found = dict(zip(cases, json.loads(out.stdout.strip().splitlines()[-1])["results"], strict=True))
    connects = json.loads(out.stdout.strip().splitlines()[-1])["connects"]
    assert attacker.requests == 0, attacker.heads  # not the prompt, not the key, not a GET
    assert [h for h in backend.heads if not h.tls] == [], "the key went over plain http"
    assert "169.254.169.254" not in connects
    port = backend.port
    expected = {
        "downgrade": f"http://127.0.0.1:{port}", "other-port": f"http://127.0.0.1:{attacker.port}",
        "other-host": f"https://localhost:{attacker.port}", "metadata": "http://169.254.169.254:80",
        "scheme-relative": f"https://localhost:{attacker.port}", "user-info": f"http://127.0.0.1:{attacker.port}",
        "user-info-trick": f"https://localhost:{attacker.port}"}
    for case, target in expected.items():
        assert found[case] == ["RedirectRefused", f"the backend at https://127.0.0.1:{port} redirected to {target}; "
                               "refused: the gateway follows no redirect to another origin. Point the deployment's "
                               "api_base at the server that answers"], case
    assert found["dot-dot"] == found["encoded-crlf"] == ["answered", "Paris"]
    assert not any(b"\r\nX-Injected" in h.raw for h in backend.heads)
    # httpx's bound (max_redirects=20): the first request and 20 redirects, then it stops.
    assert found["loop"][0] == "TooManyRedirects"
    assert sum(h.path.startswith("/v1/loop") for h in backend.heads) == 21
    assert all(TOKEN not in str(result) for result in found.values())
