"""Running a suite against local OpenAI-compatible stand-ins and judging it with the gate."""

from __future__ import annotations

from dataclasses import dataclass

from scalepath.promote.gate import evaluate
from scalepath.promote.runner import Backend, run_suite
from scalepath.promote.suite import Case
from tests.support.openai_standin import Reply, StandIn

CASES = [Case.model_validate({"messages": [{"role": "user", "content": f"capital {i}"}],
                              "expect": {"contains": "Paris"}, "maxTokens": 16, "id": f"c{i}"})
         for i in range(10)]


@dataclass
class Gate:
    min_pass_rate: float = 0.9
    max_regression: float = 0.0
    p95_latency_ms: float | None = None
    max_error_rate: float = 0.01


def backend(url: str, name: str = "cand") -> Backend:
    return Backend(deployment=name, base_url=url, api_key="k", model="m")


def run(reply, **kwargs):
    with StandIn("backend", reply=reply) as server:
        result = run_suite(CASES, backend(server.url), concurrency=3, timeout_s=kwargs.get("timeout_s", 30))
    return result, server


def test_a_good_backend_passes_and_the_requests_are_what_the_suite_says() -> None:
    result, server = run(lambda body: Reply("Paris."))
    assert result.pass_rate == 1.0 and result.error_rate == 0.0 and result.p95_latency_ms is not None
    assert server.requests == 10
    first = server.bodies[0]
    assert first["max_tokens"] == 16 and first["model"] == "m" and first["messages"][0]["role"] == "user"
    assert set(server.authorization) == {"Bearer k"}
    verdict = evaluate(Gate(), result, result)
    assert verdict.passed and [c.name for c in verdict.criteria] == ["minPassRate", "maxRegression", "maxErrorRate"]


def test_wrong_answers_fail_pass_rate_and_regression() -> None:
    good, _ = run(lambda body: Reply("Paris"))
    bad, _ = run(lambda body: Reply("Lyon" if body["messages"][0]["content"].endswith(("1", "2")) else "Paris"))
    assert bad.pass_rate == 0.8
    verdict = evaluate(Gate(min_pass_rate=0.5), bad, good)
    assert {c.name: c.passed for c in verdict.criteria} == {"minPassRate": True, "maxRegression": False,
                                                            "maxErrorRate": True}
    # Wrong answers come before the passing cases (among them, slowest first: order not fixed here).
    assert {o.case_id for o in verdict.worst_cases[:2]} == {"c1", "c2"}
    assert verdict.worst_cases[0].failures == ("does not contain 'Paris'",)


def test_errors_and_timeouts_count_as_errors() -> None:
    flaky, _ = run(lambda body: Reply(status=503) if body["messages"][0]["content"].endswith("3") else Reply("Paris"))
    assert flaky.error_rate == 0.1 and flaky.outcomes[3].error == "HTTP 503"
    verdict = evaluate(Gate(min_pass_rate=0.5), flaky, None)
    assert not verdict.passed and [c.name for c in verdict.criteria if not c.passed] == ["maxErrorRate"]
    slow, _ = run(lambda body: Reply("Paris", delay_s=1.0), timeout_s=0.2)
    assert slow.error_rate == 1.0 and {o.error for o in slow.outcomes} == {"timed out"}


def test_a_slow_backend_fails_the_p95_limit() -> None:
    # The delay is a floor on latency whatever the machine's load, so the verdict is deterministic.
    slow, _ = run(lambda body: Reply("Paris", delay_s=0.3))
    verdict = evaluate(Gate(p95_latency_ms=100), slow, None)
    assert [c.name for c in verdict.criteria if not c.passed] == ["p95LatencyMs"]
    assert slow.p95_latency_ms >= 300
