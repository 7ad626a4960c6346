"""Run a suite against one OpenAI-compatible backend: answers checked, latency and errors counted.

Requests go out with bounded concurrency and are never retried (a retry would hide exactly the
errors the gate counts). ``timeout_s`` bounds each request as a whole, from connecting to the
last byte: a backend that trickles or never ends its answer is cut off at the deadline, and an
answer over :data:`MAX_ANSWER_BYTES` is cut off at that size. What comes back is read as a chat
completion only if it is one (JSON, ``choices[0].message.content`` a string); anything else (HTML,
another schema, JSON nested without end) is an error of that case, never a crash of the run.
Latency is wall time per request as the client sees it, from the same run that produced the answers.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from components.token_shapes import REDACTED
from scalepath.promote.checks import Checker
from scalepath.promote.suite import Case

MIN_SECRET_LENGTH = 8
"""A key shorter than this is no secret worth cutting out of text (and cutting it would maul words)."""
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""Largest response body read: a chat answer to a held-out case is kilobytes."""


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
    """Transport or API failure (5xx, timeout, refused, not a chat completion); also a failed case."""
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


def run_suite(cases: Sequence[Case], backend: Backend, *, concurrency: int, timeout_s: float,
              checker: Checker) -> RunResult:
    """Send every case to ``backend`` (at most ``concurrency`` at once, each within ``timeout_s``),
    then check the answers with ``checker`` (which bounds the time each check may take)."""
    # A loop of its own, not asyncio.run: that leaves the thread with no current loop, which breaks
    # code run after it in the same process that asks for one (Pulumi's runtime does).
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        asked = runner.run(_ask_all(cases, backend, concurrency, timeout_s))
    outcomes = []
    for case, outcome in zip(cases, asked, strict=True):
        if outcome.error is None:
            failures = checker.failures(case.expect, outcome.answer)
            outcome = replace(outcome, passed=not failures, failures=failures)
        outcomes.append(_without_key(outcome, backend.api_key))
    return RunResult(backend, tuple(outcomes))


async def _ask_all(cases: Sequence[Case], backend: Backend, concurrency: int, timeout_s: float) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {backend.api_key}"}
    # No redirects: a 3xx is an error like any other status, never a second request elsewhere.
    async with httpx.AsyncClient(headers=headers, timeout=timeout_s, follow_redirects=False) as client:
        async def one(case: Case) -> Outcome:
            async with gate:
                return await _ask(client, backend, case, timeout_s)
        return list(await asyncio.gather(*(one(case) for case in cases)))


async def _ask(client: httpx.AsyncClient, backend: Backend, case: Case, timeout_s: float) -> Outcome:
    request: dict[str, Any] = {"model": backend.model, "messages": [m.model_dump() for m in case.messages]}
    if case.max_tokens is not None:
        request["max_tokens"] = case.max_tokens
    name = case.id or ""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", backend.base_url.rstrip("/") + "/chat/completions",
                                     json=request) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        return Outcome(name, False, None, error=f"answer larger than {MAX_ANSWER_BYTES // 2**20} MiB")
    except TimeoutError:
        return Outcome(name, False, None, error=f"timed out (no whole answer within {timeout_s:g}s)")
    except httpx.HTTPError as error:
        return Outcome(name, False, None, error=f"connection failed: {type(error).__name__}")
    latency_ms = (time.perf_counter() - started) * 1000
    if response.has_redirect_location:
        return Outcome(name, False, None, error=_redirect_error(response))
    if response.status_code >= 300:
        return Outcome(name, False, None, error=f"HTTP {response.status_code}")
    answer = _content(bytes(body))
    if answer is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return Outcome(name, False, latency_ms, error=f"answer is not a chat completion ({kind}; expected JSON "
                                                      "with choices[0].message.content)")
    return Outcome(name, True, latency_ms, answer=answer)


def _redirect_error(response: httpx.Response) -> str:
    """A redirect, named by where it points (scheme, host and port only: a Location may carry a
    token in its user-info, path or query)."""
    target = response.next_request.url if response.next_request is not None else None
    where = f"{target.scheme}://{target.host}:{target.port or {'http': 80, 'https': 443}.get(target.scheme)}" \
        if target is not None else "an unreadable Location"
    return (f"HTTP {response.status_code}: redirected to {where}; not followed (promote follows no redirect): "
            "point --backend at the server that answers")


def _content(body: bytes) -> str | None:
    """``choices[0].message.content`` of a chat completion (None content is the empty answer);
    None when ``body`` is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's stack
        return None
    choices = document.get("choices") if isinstance(document, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    return "" if content is None else content if isinstance(content, str) else None


def _without_key(outcome: Outcome, key: str) -> Outcome:
    """``outcome`` with the backend's own key cut out of what a report prints: a candidate that
    echoes its request headers must not put the key into a CI log, token-shaped or not."""
    if len(key) < MIN_SECRET_LENGTH:  # NO_KEY and the like: nothing secret to cut
        return outcome
    return replace(outcome, error=outcome.error and outcome.error.replace(key, REDACTED),
                   failures=tuple(f.replace(key, REDACTED) for f in outcome.failures),
                   answer=outcome.answer.replace(key, REDACTED))
