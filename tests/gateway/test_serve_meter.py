"""The gateway as the meter, on the real engine through ``scalepath gateway serve``: cost per
response from the plan's price (per token, and per second of a dedicated replica's time), a route's
request limit with ``Retry-After``, and per-route metrics on ``/metrics``.

One engine serves every check here (it takes tens of seconds to start on a loaded machine).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from components.gateway.meter import REQUESTS
from tests.support.gateway_serve import (
    HF_ENDPOINT,
    Served,
    charged_answer,
    chat,
    metric_reaches,
    metrics_text,
    refused_after_limit,
    running,
    sample,
    serving,
    stack_file,
)
from tests.support.openai_standin import Reply, StandIn

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
#: The dedicated stand-in's price: HF_ENDPOINT's row of components/data/instances/hf.yaml,
#: aws/nvidia-a10g/x1 at 1.0 USD per replica-hour -> 1.0 / 3600 USD per second of its time.
USD_PER_SECOND = 1.0 / 3600
#: How long the dedicated stand-in takes to answer (it waits this long before it replies).
ANSWER_SECONDS = 2.0
#: What the ``busy`` stand-in answers every request with: 429 and its own Retry-After.
BUSY_HEADERS = (("Retry-After", "17"),)


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, StandIn]]:
    with running({"metered": StandIn("metered"), "capped": StandIn("capped"),
                  "dedicated": StandIn("dedicated", reply=lambda body: Reply(delay_s=ANSWER_SECONDS)),
                  "busy": StandIn("busy", reply=lambda body: Reply(status=429, headers=BUSY_HEADERS))}) as servers:
        yield servers


@pytest.fixture(scope="module")
def gateway(standins: dict[str, StandIn], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = stack_file(tmp_path_factory.mktemp("meter") / "Pulumi.meter.yaml", list(standins), {
        "runtime": "ecs",
        "routes": [
            {"name": "metered", "targets": [{"deployment": "metered", "weight": 100}], "retries": 0},
            {"name": "limited", "targets": [{"deployment": "capped", "weight": 100}], "retries": 0,
             "limits": {"requestsPerMinute": LIMIT}},
            {"name": "dedicated", "targets": [{"deployment": "dedicated", "weight": 100}], "retries": 0},
            {"name": "busy", "targets": [{"deployment": "busy", "weight": 100}], "retries": 0},
        ]}, settings={"dedicated": HF_ENDPOINT})
    with serving(config, standins) as served:
        yield served


def test_a_priced_target_answers_with_the_plans_cost(gateway: Served) -> None:
    response = chat(gateway, "metered")
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert float(response.headers["x-litellm-response-cost"]) == pytest.approx(EXPECTED_COST_USD, rel=1e-9)


def test_a_route_limited_to_n_per_minute_refuses_request_n_plus_1(gateway: Served) -> None:
    refused = refused_after_limit(gateway, "limited", LIMIT)
    assert f"RPM limit={LIMIT}" in refused.text and refused.json()["error"]["type"] == "throttling_error"


def test_a_backends_own_429_reaches_the_client_without_its_retry_after(gateway: Served) -> None:
    # Known limit of the pinned engine (docs/gateway.md): its OpenAI provider keeps none of the
    # backend's headers on an error, so a backend's Retry-After cannot be passed on. Pinned so an
    # engine bump that changes it is noticed.
    response = chat(gateway, "busy")
    assert response.status_code == 429 and "busy: scripted 429" in response.text
    assert "retry-after" not in response.headers


def test_a_dedicated_target_is_charged_its_replica_hour_for_the_backends_seconds(gateway: Served) -> None:
    charged_answer(gateway, "dedicated", USD_PER_SECOND, ANSWER_SECONDS)


def test_a_dedicated_targets_spend_accumulates_for_answers_and_streams(gateway: Served) -> None:
    labels = {"requested_model": "dedicated", "model_id": "dedicated/dedicated"}
    before = metric_reaches(gateway, "litellm_spend_metric_total", 0.0, **labels)
    cost = charged_answer(gateway, "dedicated", USD_PER_SECOND, ANSWER_SECONDS)
    # Spend grows by the answer's cost, once (the header and the metric are one figure).
    after_answer = metric_reaches(gateway, "litellm_spend_metric_total", before + cost, **labels)
    assert after_answer == pytest.approx(before + cost, rel=1e-9)
    # A stream (the stand-in streams at once) is charged for its seconds too, so spend grows (by
    # far more than 1e-12 USD: a millisecond is 2.8e-7).
    streamed = chat(gateway, "dedicated", stream=True)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    assert metric_reaches(gateway, "litellm_spend_metric_total", after_answer + 1e-12, **labels) > after_answer


def test_metrics_show_requests_latency_tokens_and_spend_per_route(gateway: Served) -> None:
    sent = 2
    for _ in range(sent):
        assert chat(gateway, "metered").status_code == 200
    assert metrics_text(gateway, key=None).status_code == 401  # scrapers present the client key
    # Written after the answers went out: wait (bounded) for at least the requests of this test
    # and of the cost test (tests may run alone, so at least `sent`).
    deadline = time.monotonic() + METRICS_WAIT_SECONDS
    while True:
        text = metrics_text(gateway).text
        # The constant the wake-from-zero query of a scaled-to-zero vLLM deployment reads, too.
        requests = sample(text, REQUESTS, requested_model="metered",
                           status_code="200")
        if requests >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert requests >= sent
    # No series names a caller: the engine leaves those labels out (CALLER_LABELS).
    assert "client_ip=" not in text and "user_agent=" not in text and "hashed_api_key=" not in text
    route = {"requested_model": "metered", "model_id": "metered/metered"}
    assert sample(text, "litellm_request_total_latency_metric_count", **route) == requests
    assert sample(text, "litellm_input_tokens_metric_total", **route) == PROMPT_TOKENS * requests
    assert sample(text, "litellm_output_tokens_metric_total", **route) == COMPLETION_TOKENS * requests
    assert sample(text, "litellm_spend_metric_total", **route) == pytest.approx(EXPECTED_COST_USD * requests,
                                                                                 rel=1e-9)


def test_a_stream_counts_its_time_to_first_token_per_route_and_target(gateway: Served) -> None:
    labels = {"requested_model": "metered", "model_id": "metered/metered"}
    before = metric_reaches(gateway, "litellm_llm_api_time_to_first_token_metric_count", 0.0, **labels)
    streamed = chat(gateway, "metered", stream=True)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    # The series the scrape keeps (components/gateway/meter.py, FIRST_TOKEN), for the route and the
    # target the stream went to; the requests series carries the target too (the per-target panels).
    assert metric_reaches(gateway, "litellm_llm_api_time_to_first_token_metric_count", before + 1,
                          **labels) == before + 1
    assert metric_reaches(gateway, REQUESTS, 1, **labels) >= 1
