"""Run a suite against one OpenAI-compatible backend: answers checked, latency and errors counted.

Requests go out with bounded concurrency and a per-request timeout and are never retried (a retry
would hide exactly the errors the gate counts). Latency is wall time per request as the client
sees it, from the same run that produced the answers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import openai

from components.token_shapes import REDACTED
from scalepath.promote.suite import Case

MIN_SECRET_LENGTH = 8
"""A key shorter than this is no secret worth cutting out of text (and cutting it would maul words)."""


@dataclass(frozen=True)
class Backend:
    """Where a deployment answers: an OpenAI-compatible base URL, its key and the model name to ask for."""

    deployment: str
    base_url: str
    api_key: str
    model: str


@dataclass(frozen=True)
class Outcome:
    """One case against one backend."""

    case_id: str
    passed: bool
    latency_ms: float | None
    """Wall time of a request that got an answer; None for errors."""
    error: str | None = None
    """Transport or API failure (5xx, timeout, refused); such a case also counts as failed."""
    failures: tuple[str, ...] = ()
    """Why the answer was wrong."""
    answer: str = ""


@dataclass(frozen=True)
class RunResult:
    """A whole suite against one backend."""

    backend: Backend
    outcomes: tuple[Outcome, ...]

    @property
    def pass_rate(self) -> float:
        """Cases answered correctly, over all cases (an error is a failed case)."""
        return sum(o.passed for o in self.outcomes) / len(self.outcomes)

    @property
    def error_rate(self) -> float:
        """Cases whose request failed, over all cases."""
        return sum(o.error is not None for o in self.outcomes) / len(self.outcomes)

    @property
    def p95_latency_ms(self) -> float | None:
        """95th percentile (nearest rank) of the answered requests' latency; None if none answered."""
        latencies = sorted(o.latency_ms for o in self.outcomes if o.latency_ms is not None)
        if not latencies:
            return None
        return latencies[math.ceil(0.95 * len(latencies)) - 1]


def run_suite(cases: Sequence[Case], backend: Backend, *, concurrency: int, timeout_s: float) -> RunResult:
    """Send every case to ``backend`` (at most ``concurrency`` at once) and check the answers."""
    client = openai.OpenAI(base_url=backend.base_url, api_key=backend.api_key, timeout=timeout_s, max_retries=0)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = tuple(pool.map(lambda case: _run_case(client, backend.model, case), cases))
    return RunResult(backend, tuple(_without_key(o, backend.api_key) for o in outcomes))


def _without_key(outcome: Outcome, key: str) -> Outcome:
    """``outcome`` with the backend's own key cut out of what a report prints: a candidate that
    echoes its request headers must not put the key into a CI log, token-shaped or not."""
    if len(key) < MIN_SECRET_LENGTH:  # NO_KEY and the like: nothing secret to cut
        return outcome
    return replace(outcome, error=outcome.error and outcome.error.replace(key, REDACTED),
                   failures=tuple(f.replace(key, REDACTED) for f in outcome.failures),
                   answer=outcome.answer.replace(key, REDACTED))


def _run_case(client: openai.OpenAI, model: str, case: Case) -> Outcome:
    request = {"model": model, "messages": [m.model_dump() for m in case.messages]}
    if case.max_tokens is not None:
        request["max_tokens"] = case.max_tokens
    name = case.id or ""
    started = time.perf_counter()
    try:
        response = client.chat.completions.create(**request)
    except openai.APIStatusError as error:
        return Outcome(name, False, None, error=f"HTTP {error.status_code}")
    except openai.APITimeoutError:
        return Outcome(name, False, None, error="timed out")
    except openai.APIConnectionError as error:
        return Outcome(name, False, None, error=f"connection failed: {type(error.__cause__ or error).__name__}")
    latency_ms = (time.perf_counter() - started) * 1000
    choices = response.choices or []
    if not choices or choices[0].message is None:
        return Outcome(name, False, latency_ms, error="answer has no choices")
    answer = choices[0].message.content or ""
    failures = tuple(case.expect.failures(answer))
    return Outcome(name, not failures, latency_ms, failures=failures, answer=answer)
