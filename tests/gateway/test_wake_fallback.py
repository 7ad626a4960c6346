"""Issue 26 on the real engine: a route whose target is a vLLM deployment at zero replicas answers
the first request after idle from its fallback, at once, instead of failing.

At zero replicas the target's Service has no ready endpoint and refuses connections until a replica
has started; here the target is a loopback port nothing listens on, which refuses the same way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.support.clusters import wake_stack
from tests.support.gateway_serve import KEY, Served, running, serving
from tests.support.openai_standin import StandIn

#: Bound on the fallback's answer: the engine's own timeout of the route is 60 s; a refused
#: connection retried with backoff would take seconds, the fallback answers in well under this.
ANSWER_SECONDS = 120


def closed_port() -> int:
    """A loopback port with no listener (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = tmp_path_factory.mktemp("wake") / "Pulumi.dev.yaml"
    cfg = wake_stack("dev")
    cfg["scalepath:hfToken"] = {"secure": "v1:cGxhY2Vob2xkZXI="}
    config.write_text(yaml.safe_dump({"config": cfg}))
    with running({"chat-serverless": StandIn("chat-serverless")}) as standins:
        with serving(config, standins, extra={"llm": f"http://127.0.0.1:{closed_port()}/v1"}) as served:
            yield served


def test_the_first_request_after_idle_is_answered_by_the_fallback(gateway: Served) -> None:
    started = time.monotonic()
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                          timeout=ANSWER_SECONDS,
                          json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    # The stand-in answers with the deployment it stands in for.
    assert response.json()["choices"][0]["message"]["content"] == "served by chat-serverless"
    assert time.monotonic() - started < ANSWER_SECONDS

