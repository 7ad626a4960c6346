"""Running a suite against local OpenAI-compatible stand-ins and judging it with the gate."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from scalepath.promote.checks import Checker
from scalepath.promote.gate import Criterion, Verdict, evaluate
from scalepath.promote.runner import Backend, Outcome, RunResult, run_suite
from scalepath.promote.suite import Case
from tests.support.openai_standin import Reply, StandIn
from tests.support.raw_http import RawServer, answer, redirect
from tests.support.tls import make_tls

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
    with StandIn("backend", reply=reply) as server, Checker() as checker:
        result = run_suite(CASES, backend(server.url), concurrency=3, timeout_s=kwargs.get("timeout_s", 30),
                           checker=checker)
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
    assert slow.error_rate == 1.0 and {o.error for o in slow.outcomes} == {"timed out (no whole answer within 0.2s)"}


def test_a_slow_backend_fails_the_p95_limit() -> None:
    # The delay is a floor on latency whatever the machine's load, so the verdict is deterministic.
    slow, _ = run(lambda body: Reply("Paris", delay_s=0.3))
    verdict = evaluate(Gate(p95_latency_ms=100), slow, None)
    assert [c.name for c in verdict.criteria if not c.passed] == ["p95LatencyMs"]
    assert slow.p95_latency_ms >= 300


def suite_run(respond, *, timeout_s: float = 30, cases=CASES[:2], deadline_s: float = 5.0):
    with RawServer(respond) as server, Checker(deadline_s) as checker:
        return run_suite(cases, backend(server.url), concurrency=2, timeout_s=timeout_s, checker=checker)


COMPLETION = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Paris"}}]}).encode()


def test_the_timeout_bounds_the_whole_request_not_each_read() -> None:
    # One byte every 0.1 s: every read is quick, the answer takes 3 s. Complete and correct, so
    # only a deadline on the whole request can turn it into an error.
    def trickle(sock, closing) -> None:
        sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(COMPLETION)}"
                     "\r\n\r\n".encode())
        padded = COMPLETION
        step = max(1, len(padded) // 30)
        for start in range(0, len(padded), step):
            if closing.wait(0.1):
                return
            sock.sendall(padded[start:start + step])

    result = suite_run(trickle, timeout_s=1.0)
    assert [o.error for o in result.outcomes] == ["timed out (no whole answer within 1s)"] * 2


def test_an_endless_answer_is_cut_off() -> None:
    def endless(sock, closing) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" * 65536
        while not closing.is_set():
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    result = suite_run(endless)
    assert {o.error for o in result.outcomes} == {"answer larger than 4 MiB"}


@pytest.mark.parametrize(("respond", "kind"), [
    (answer("200 OK", "text/html", b"<html><body>Sign in</body></html>"), "text/html"),
    (answer("200 OK", "application/json", b'{"result": "Paris"}'), "application/json"),
    (answer("200 OK", "application/json", b'{"choices": [{"message": {"content": 7}}]}'), "application/json"),
    (answer("200 OK", "application/json", b'{"choices": "Paris"}'), "application/json"),
    (answer("200 OK", "application/json", b"[" * 100_000 + b"]" * 100_000), "application/json"),
    (answer("200 OK", "application/json", b"\xff\xfe not utf-8"), "application/json"),
], ids=["html", "other-schema", "content-not-text", "choices-not-list", "deep-json", "not-utf8"])
def test_an_answer_that_is_no_chat_completion_is_an_error_of_its_case(respond, kind: str) -> None:
    result = suite_run(respond)
    assert {o.error for o in result.outcomes} == {
        f"answer is not a chat completion ({kind}; expected JSON with choices[0].message.content)"}


#: Location -> where the error says it points; ``{port}`` is the backend's own port, ``{other}`` another server's.
REDIRECTS = {
    "https-to-http": ("http://127.0.0.1:{port}/v1/chat/completions", "http://127.0.0.1:{port}"),
    "other-port": ("https://127.0.0.1:{other}/v1/chat/completions", "https://127.0.0.1:{other}"),
    "other-host": ("https://localhost:{other}/v1/chat/completions", "https://localhost:{other}"),
    "metadata": ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://169.254.169.254:80"),
    "user-info": ("http://user:pass@127.0.0.1:{other}/steal", "http://127.0.0.1:{other}"),
    "same-origin-dot-dot": ("../../v1/chat/completions", "https://127.0.0.1:{port}"),
}


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect",
                                    "308 Permanent Redirect"])
@pytest.mark.parametrize("case", list(REDIRECTS))
def test_a_redirect_is_an_error_naming_where_it_points_never_a_second_request(
        tmp_path, monkeypatch, status: str, case: str) -> None:
    """The backend key rides every request: a TLS backend (trusted through the client's own
    SSL_CERT_FILE) redirecting anywhere, its own port in clear included, gets one request and no
    second one; the other server, which speaks TLS and HTTP, sees nothing; a dial of the metadata
    address would fail the test through the autouse network guard (tests/conftest.py)."""
    tls = make_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    key = "sk-candidate-key-0123456789"
    with RawServer(answer("200 OK", "application/json", COMPLETION), tls=tls) as other:
        def respond(sock, closing) -> None:
            location = REDIRECTS[case][0].format(port=server.port, other=other.port)
            redirect(status, lambda _: location)(sock, closing)

        with RawServer(respond, tls=tls) as server, Checker() as checker:
            result = run_suite(CASES[:2], Backend("cand", server.url, key, "m"), concurrency=2, timeout_s=30,
                               checker=checker)
    where = REDIRECTS[case][1].format(port=server.port, other=other.port)
    assert {o.error for o in result.outcomes} == {
        f"HTTP {status.split()[0]}: redirected to {where}; not followed (promote follows no redirect): point "
        "--backend at the server that answers"}
    assert other.requests == 0 and server.requests == 2 and all(h.tls for h in server.heads)


@pytest.mark.parametrize("expect", [
    {"regex": "(a|aa)+$"},
    {"jsonSchema": {"type": "string", "pattern": "(a|aa)+$"}},
    # 40 levels of two-way anyOf through $refs: a short schema that tries 2^40 branches.
    {"jsonSchema": {"$ref": "#/$defs/d0", "$defs": {
        **{f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(40)},
        "d40": {"type": "string", "minLength": 10**6}}}},
], ids=["regex", "schema-pattern", "nested-anyOf"])
def test_a_check_that_backtracks_without_end_fails_its_case_at_the_deadline(expect: dict) -> None:
    text = "a" * 60 + "!"
    cases = [Case.model_validate({"messages": [{"role": "user", "content": "q"}], "expect": expect, "id": "redos"}),
             CASES[0]]
    content = json.dumps(text) if "jsonSchema" in expect else text
    body = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
    result = suite_run(answer("200 OK", "application/json", body), cases=cases, deadline_s=0.5)
    redos, paris = result.outcomes
    assert not redos.passed and redos.error is None
    assert redos.failures[0].startswith("the regex or jsonSchema check took longer than 0.5s")
    assert paris.failures == ("does not contain 'Paris'",)  # the next check runs in a new worker


def test_a_run_leaves_the_thread_its_event_loop() -> None:
    # Pulumi's runtime asks for the current loop; a plan after a promotion in one process must work.
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        before = asyncio.get_event_loop()
        run(lambda body: Reply("Paris"))
        assert asyncio.get_event_loop() is before


# -- the gate at its thresholds (issue 29): a limit met exactly passes, one step past it fails ------


def result(passed: int, errors: int = 0, total: int = 20, latency_ms: float = 50.0, name: str = "cand") -> RunResult:
    """``total`` outcomes: ``passed`` right answers, then ``errors`` failed requests, the rest wrong answers."""
    outcomes = [Outcome(f"c{i}", True, latency_ms) for i in range(passed)]
    outcomes += [Outcome(f"e{i}", False, None, error="HTTP 503") for i in range(errors)]
    outcomes += [Outcome(f"w{i}", False, latency_ms, failures=("wrong",)) for i in range(total - passed - errors)]
    return RunResult(backend("http://127.0.0.1:9", name), tuple(outcomes))


def failed(verdict: Verdict) -> list[str]:
    return [c.name for c in verdict.criteria if not c.passed]


def test_the_pass_rate_exactly_at_the_minimum_passes() -> None:
    assert result(18).pass_rate == 0.9  # 18 / 20, the same double as the literal 0.9
    assert failed(evaluate(Gate(min_pass_rate=0.9), result(18), None)) == []
    assert failed(evaluate(Gate(min_pass_rate=0.9), result(17), None)) == ["minPassRate"]


def test_the_error_rate_exactly_at_the_limit_passes() -> None:
    # 1 error in 20 = 5%; every other case right, so only the error criterion can fail.
    assert failed(evaluate(Gate(min_pass_rate=0.5, max_error_rate=0.05), result(19, errors=1), None)) == []
    assert failed(evaluate(Gate(min_pass_rate=0.5, max_error_rate=0.05), result(18, errors=2), None)) == \
        ["maxErrorRate"]


def test_the_p95_exactly_at_the_limit_passes() -> None:
    assert failed(evaluate(Gate(min_pass_rate=0.5, p95_latency_ms=1000), result(20, latency_ms=1000.0), None)) == []
    assert failed(evaluate(Gate(min_pass_rate=0.5, p95_latency_ms=1000), result(20, latency_ms=1000.5), None)) == \
        ["p95LatencyMs"]
    # No request answered: no latency to judge, which fails rather than passes.
    verdict = evaluate(Gate(min_pass_rate=0.0, p95_latency_ms=1000, max_error_rate=1.0), result(0, errors=20), None)
    assert failed(verdict) == ["p95LatencyMs"] and verdict.criteria[1].detail == "no request answered"


def test_a_regression_exactly_at_the_allowance_passes() -> None:
    # Baseline 19/20 = 95%, allowance 5 points: 90% is allowed. In doubles 0.95 - 0.05 is
    # 0.8999999999999999 < 0.9, and the gate's 1e-12 keeps the edge on the allowed side either way.
    baseline = result(19, name="stable")
    assert failed(evaluate(Gate(min_pass_rate=0.5, max_regression=0.05), result(18), baseline)) == []
    assert failed(evaluate(Gate(min_pass_rate=0.5, max_regression=0.05), result(17), baseline)) == ["maxRegression"]
    # Where the doubles round the other way the 1e-12 is what keeps the edge allowed: 0.4 - 0.1 is
    # 0.30000000000000004 > 0.3 (baseline 8/20, candidate 6/20, allowance 10 points).
    allowance = Gate(min_pass_rate=0.0, max_regression=0.1)
    assert failed(evaluate(allowance, result(6), result(8, name="stable"))) == []
    assert failed(evaluate(allowance, result(5), result(8, name="stable"))) == ["maxRegression"]
    # With no allowance the candidate must match the baseline.
    assert failed(evaluate(Gate(min_pass_rate=0.5), result(19), baseline)) == []
    assert failed(evaluate(Gate(min_pass_rate=0.5), result(18), baseline)) == ["maxRegression"]


def test_the_verdict_states_each_criterion_with_its_figures() -> None:
    # 20 cases: 18 right, 1 failed request, 1 wrong answer, every answer in 1200 ms.
    gate = Gate(min_pass_rate=0.9, max_regression=0.05, p95_latency_ms=1000, max_error_rate=0.05)
    verdict = evaluate(gate, result(18, errors=1, latency_ms=1200.0), result(19, name="stable"), worst=2)
    assert verdict.criteria == (
        Criterion("minPassRate", True, 0.9, 0.9, "pass rate 90.0%, needs at least 90.0%"),
        Criterion("maxRegression", True, 0.9, 0.95 - 0.05,
                  "pass rate 90.0% vs baseline stable 95.0%; at most 5.0% lower allowed"),
        Criterion("p95LatencyMs", False, 1200.0, 1000, "p95 latency 1200 ms, limit 1000 ms"),
        Criterion("maxErrorRate", True, 0.05, 0.05, "error rate 5.0%, limit 5.0%"),
    )
    assert not verdict.passed
    # The failed request first, then the wrong answer; by default five cases.
    assert [o.case_id for o in verdict.worst_cases] == ["e0", "w0"]
    assert len(evaluate(gate, result(18, errors=1), None).worst_cases) == 5


def test_worst_cases_come_errors_first_then_wrong_answers_then_the_slowest() -> None:
    outcomes = (Outcome("fast", True, 10.0), Outcome("slow", True, 30.0), Outcome("wrong", False, 5.0, failures=("x",)),
                Outcome("refused", False, None, error="HTTP 503"), Outcome("mid", True, 20.0),
                Outcome("empty", False, 0.5, error="answer has no choices"))
    verdict = evaluate(Gate(min_pass_rate=0.0, max_error_rate=1.0), RunResult(backend("http://127.0.0.1:9"), outcomes),
                       None, worst=6)
    # Among errors the one that took longer first (an unanswered request counts as 0 ms).
    assert [o.case_id for o in verdict.worst_cases] == ["empty", "refused", "wrong", "slow", "mid", "fast"]
