"""The gateway as the meter, on the real engine through ``scalepath gateway serve``: cost per
response from the plan's price, a route's request limit, and per-route metrics on ``/metrics``.

One engine serves every check here (it takes tens of seconds to start on a loaded machine).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from components.gateway.meter import REQUESTS
from tests.support.gateway_serve import KEY, Served, running, serving, stack_file
from tests.support.openai_standin import StandIn

#: Requests per minute of the ``limited`` route.
LIMIT = 3
#: Tokens of each stand-in answer (its ``usage``): 3 prompt, 3 completion.
PROMPT_TOKENS = COMPLETION_TOKENS = 3
#: The plan's price of the stand-ins' model, by hand from components/data/token_prices.yaml:
#: meta-llama/Llama-3.1-8B-Instruct is listed at together 0.18/0.18, groq 0.05/0.08 and bedrock
#: 0.22/0.22 USD per million tokens; provider `auto` takes the cheapest at 2 input : 1 output, groq.
#: 3 x 0.05e-6 + 3 x 0.08e-6 = 0.39e-6 USD per answer.
EXPECTED_COST_USD = 3 * 0.05e-6 + 3 * 0.08e-6
#: Bound on waiting for the engine's metrics, written after each answer is sent.
METRICS_WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, StandIn]]:
    with running({"metered": StandIn("metered"), "capped": StandIn("capped")}) as servers:
        yield servers


@pytest.fixture(scope="module")
def gateway(standins: dict[str, StandIn], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = stack_file(tmp_path_factory.mktemp("meter") / "Pulumi.meter.yaml", list(standins), {
        "runtime": "ecs",
        "routes": [
            {"name": "metered", "targets": [{"deployment": "metered", "weight": 100}], "retries": 0},
            {"name": "limited", "targets": [{"deployment": "capped", "weight": 100}], "retries": 0,
             "limits": {"requestsPerMinute": LIMIT}},
        ]})
    with serving(config, standins) as served:
        yield served


def _chat(gateway: Served, route: str) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                      timeout=120, json={"model": route, "messages": [{"role": "user", "content": "hi"}]})


def _metrics(gateway: Served, key: str | None = KEY) -> httpx.Response:
    root = gateway.base_url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{root}/metrics/", headers=headers, timeout=60)


def _sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_a_priced_target_answers_with_the_plans_cost(gateway: Served) -> None:
    response = _chat(gateway, "metered")
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert float(response.headers["x-litellm-response-cost"]) == pytest.approx(EXPECTED_COST_USD, rel=1e-9)


def test_a_route_limited_to_n_per_minute_refuses_request_n_plus_1(gateway: Served) -> None:
    # The engine counts per UTC clock minute: start early in one so all N+1 requests fall in it.
    second = datetime.now(timezone.utc).second
    if second > 30:
        time.sleep(61 - second)
    statuses = [_chat(gateway, "limited") for _ in range(LIMIT + 1)]
    assert [r.status_code for r in statuses[:LIMIT]] == [200] * LIMIT, statuses[-1].text
    assert statuses[LIMIT].status_code == 429
    assert f"RPM limit={LIMIT}" in statuses[LIMIT].text


def test_metrics_show_requests_latency_tokens_and_spend_per_route(gateway: Served) -> None:
    sent = 2
    for _ in range(sent):
        assert _chat(gateway, "metered").status_code == 200
    assert _metrics(gateway, key=None).status_code == 401  # scrapers present the client key
    # Written after the answers went out: wait (bounded) for at least the requests of this test
    # and of the cost test (tests may run alone, so at least `sent`).
    deadline = time.monotonic() + METRICS_WAIT_SECONDS
    while True:
        text = _metrics(gateway).text
        # The constant the wake-from-zero query of a scaled-to-zero vLLM deployment reads, too.
        requests = _sample(text, REQUESTS, requested_model="metered",
                           status_code="200")
        if requests >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert requests >= sent
    # No series names a caller: the engine leaves those labels out (CALLER_LABELS).
    assert "client_ip=" not in text and "user_agent=" not in text and "hashed_api_key=" not in text
    route = {"requested_model": "metered", "model_id": "metered/metered"}
    assert _sample(text, "litellm_request_total_latency_metric_count", **route) == requests
    assert _sample(text, "litellm_input_tokens_metric_total", **route) == PROMPT_TOKENS * requests
    assert _sample(text, "litellm_output_tokens_metric_total", **route) == COMPLETION_TOKENS * requests
    assert _sample(text, "litellm_spend_metric_total", **route) == pytest.approx(EXPECTED_COST_USD * requests,
                                                                                 rel=1e-9)
