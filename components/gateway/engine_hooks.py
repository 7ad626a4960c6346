"""Runs inside the engine (LiteLLM's proxy), never in the stack program: what the engine's
configuration cannot say. The gateway writes this file next to the engine's config and lists
``scalepath_hooks.hooks`` in ``litellm_settings.callbacks``; each entry's ``model_info`` carries
what the hooks read, rendered from the deployment's contract (docs/gateway.md).

- **Answer cap.** The engine passes a caller's ``max_tokens`` through (its router merges the
  request over an entry's ``litellm_params``, so a ``max_tokens`` there is only a default); a
  deployment hook, run after the router picked an entry, caps it to ``scalepath_max_tokens``.
- **Cost of a replica's time.** The engine prices ``openai/`` entries per token only (it ignores
  ``input_cost_per_second`` there), so an entry billed per instance-hour carries
  ``scalepath_usd_per_second`` and the answer is charged that rate for the seconds the backend
  took, through the engine's own ``additional_response_cost`` (so the cost header and the spend
  metric both carry it).
- **Retry-After.** The engine's rate-limit check refuses with a ``retry-after`` on its internal
  response, which the proxy forwards only as ``llm_provider-retry-after: 60``; the failure hook
  answers 429 with ``Retry-After``: the seconds until the limit's minute frees (the check counts
  per UTC clock minute). A backend's own 429 is not touched (the engine keeps none of its headers).
- **Deadline.** An entry's ``timeout`` reaches httpx as a bound on each read, so a backend that
  trickles (a byte a second) or streams without end was never cut and the route's fallback never
  tried. LiteLLM 1.100.5 has no total deadline and no hook around the call, so importing this
  module wraps the two awaits of one attempt: ``litellm.acompletion`` (which the router calls per
  attempt) and a stream's ``CustomStreamWrapper.__anext__``/``fetch_stream``. Past the entry's
  ``scalepath_timeout_seconds`` the call raises ``litellm.Timeout`` (408), which the router retries
  and falls back on like any timeout; a stream cut before its first chunk raises it as the
  ``MidStreamFallbackError`` the router falls back on, one cut later ends with the timeout.
- **No redirect to another origin.** The engine's HTTP clients follow redirects (LiteLLM and the
  OpenAI SDK build them with ``follow_redirects=True``). httpx drops ``Authorization`` on the way
  to another origin but keeps every other header (``api-key``, ``extra_headers``) and re-sends the
  body (the prompt) on a 307/308, and a backend could point the gateway at a metadata address or a
  port on its host. Importing this module makes httpx refuse, before any connection, a redirect
  whose scheme, host or port differ from the request's (https to http included): the attempt fails
  with :class:`RedirectRefused`, naming both origins, and the route falls back like on any
  connection error. Same-origin redirects are followed as before.
"""

import asyncio
import gc
import logging
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import litellm
from fastapi import HTTPException
from httpx._client import BaseClient
from litellm.exceptions import MidStreamFallbackError
from litellm.integrations.custom_logger import CustomLogger
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

#: ``model_info`` keys: an entry's answer cap and its price per second of backend time (USD).
CAP_KEY, COST_KEY = "scalepath_max_tokens", "scalepath_usd_per_second"
#: The ``model_info`` key holding an entry's deadline per attempt (seconds).
DEADLINE_KEY = "scalepath_timeout_seconds"
#: Where a stream carries its attempt's (deadline on the loop's clock, seconds allowed).
_STREAM_DEADLINE = "_scalepath_deadline"
#: How the engine's rate-limit check words its refusals
#: (``litellm/router_utils/pre_call_checks/model_rate_limit_check.py``); the error it raises
#: keeps no other mark (``RateLimitError`` rebuilds the response it is given).
LIMIT_CHECK = re.compile(r"Model rate limit exceeded\. [RT]PM limit=")


def _model_info(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entry's ``model_info``: on the deployment call's kwargs, or in its logging details."""
    info = kwargs.get("model_info")
    if info is None:
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        info = metadata.get("model_info")
    return info or {}


def _charge_backend_time(details: dict[str, Any], info: dict[str, Any]) -> None:
    """Add the entry's per-second price x the seconds since the call to the backend started."""
    rate, started = info.get(COST_KEY), details.get("api_call_start_time")
    if isinstance(rate, float | int) and isinstance(started, datetime):
        seconds = (datetime.now() - started).total_seconds()  # noqa: DTZ005 (the engine's naive clock)
        details["additional_response_cost"] = rate * max(seconds, 0.0)


def seconds_to_next_minute(now: datetime) -> int:
    """Whole seconds until the UTC minute after ``now`` begins (1..60): when a per-minute count frees."""
    return max(1, math.ceil(60 - now.second - now.microsecond / 1e6))


class ScalepathHooks(CustomLogger):
    """The gateway's hooks in the engine (see the module docstring)."""

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
        cap = (kwargs.get("model_info") or {}).get(CAP_KEY)
        if not isinstance(cap, int) or isinstance(cap, bool):
            return kwargs
        asked = [kwargs[k] for k in ("max_tokens", "max_completion_tokens") if isinstance(kwargs.get(k), int)]
        kwargs["max_tokens"] = min([cap, *asked])
        kwargs.pop("max_completion_tokens", None)
        return kwargs

    async def async_post_call_success_deployment_hook(self, request_data: dict[str, Any], response: Any,
                                                      call_type: Any) -> None:
        logging_obj = request_data.get("litellm_logging_obj")
        if logging_obj is not None:
            _charge_backend_time(logging_obj.model_call_details, _model_info(request_data))

    async def async_post_call_streaming_deployment_hook(self, request_data: dict[str, Any], response_chunk: Any,
                                                        call_type: Any) -> None:
        # Called with the stream's last chunk; request_data is the call's logging details.
        _charge_backend_time(request_data, _model_info(request_data))

    async def async_post_call_failure_hook(self, request_data: dict, original_exception: Exception,
                                           user_api_key_dict: Any, traceback_str: str | None = None
                                           ) -> HTTPException | None:
        if not (isinstance(original_exception, litellm.RateLimitError)
                and LIMIT_CHECK.search(original_exception.message)):
            return None
        # The body stays the engine's (message, type); only the header is added.
        retry_after = str(seconds_to_next_minute(datetime.now(timezone.utc)))
        refused = HTTPException(status_code=429, detail=original_exception.message,
                                headers={"retry-after": retry_after})
        refused.type, refused.param = original_exception.type, None  # type: ignore[attr-defined]
        return refused


def _timeout(seconds: float, model: Any, provider: Any) -> litellm.Timeout:
    return litellm.Timeout(message=f"no complete answer within the route's timeout ({seconds:g}s)",
                           model=str(model or ""), llm_provider=str(provider or ""))


async def _within(deadline: float, call: Awaitable[Any]) -> Any:
    """``call``'s result; TimeoutError once the loop's clock passes ``deadline``."""
    async with asyncio.timeout_at(deadline):
        return await call


def _bound_acompletion(acompletion: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def acompletion_within_deadline(*args: Any, **kwargs: Any) -> Any:
        seconds = (kwargs.get("model_info") or {}).get(DEADLINE_KEY)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            return await acompletion(*args, **kwargs)
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            response = await _within(deadline, acompletion(*args, **kwargs))
        except TimeoutError:
            raise _timeout(seconds, kwargs.get("model"), kwargs.get("custom_llm_provider")) from None
        if isinstance(response, CustomStreamWrapper):
            setattr(response, _STREAM_DEADLINE, (deadline, seconds))
        return response

    return acompletion_within_deadline


_anext, _fetch_stream = CustomStreamWrapper.__anext__, CustomStreamWrapper.fetch_stream


async def _stream_step(stream: CustomStreamWrapper, step: Callable[[CustomStreamWrapper], Awaitable[Any]],
                       chunk: bool) -> Any:
    """``step(stream)`` within the stream's deadline; past it ``litellm.Timeout``, raised as the
    router's ``MidStreamFallbackError`` when the step reads a ``chunk``."""
    limit = getattr(stream, _STREAM_DEADLINE, None)
    if limit is None:
        return await step(stream)
    try:
        return await _within(limit[0], step(stream))
    except TimeoutError:
        error = _timeout(limit[1], stream.model, stream.custom_llm_provider)
        if not chunk:
            raise error from None
        raise MidStreamFallbackError(message=error.message, model=error.model, llm_provider=error.llm_provider,
                                     original_exception=error, generated_content=stream.response_uptil_now,
                                     is_pre_first_chunk=not stream.sent_first_chunk) from None


async def _anext_within_deadline(self: CustomStreamWrapper) -> Any:
    return await _stream_step(self, _anext, chunk=True)


async def _fetch_stream_within_deadline(self: CustomStreamWrapper) -> Any:
    return await _stream_step(self, _fetch_stream, chunk=False)


class RedirectRefused(httpx.RemoteProtocolError):
    """A backend redirected a request to another origin. A protocol error to httpx, so a client that
    does not follow redirects (which builds the next request only to show it) is not disturbed."""


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default when absent) of ``url``."""
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _show(url: httpx.URL) -> str:
    """An origin as text, never its user-info, path or query (a backend's Location may carry a token)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _same_origin_only(build: Callable[[Any, httpx.Request, httpx.Response], httpx.Request]) -> Callable[..., Any]:
    def build_same_origin_redirect(self: Any, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        follow = build(self, request, response)
        if origin(follow.url) != origin(request.url):
            message = (f"the backend at {_show(request.url)} redirected to {_show(follow.url)}; refused: the "
                       "gateway follows no redirect to another origin. Point the deployment's api_base at the "
                       "server that answers")
            logging.getLogger("scalepath.gateway").warning(message)
            raise RedirectRefused(message, request=request)
        return follow

    return build_same_origin_redirect


# Both clients build every redirect here (httpx 0.2x): a rename must stop the engine, not let it follow.
if "_build_redirect_request" not in vars(BaseClient):
    raise ImportError(f"httpx {httpx.__version__} builds redirects elsewhere; scalepath_hooks cannot refuse "
                      "cross-origin redirects with it: pin the engine's httpx to a version it was tested with")
BaseClient._build_redirect_request = _same_origin_only(BaseClient._build_redirect_request)  # type: ignore[method-assign]
litellm.acompletion = _bound_acompletion(litellm.acompletion)
CustomStreamWrapper.__anext__ = _anext_within_deadline  # type: ignore[method-assign]
CustomStreamWrapper.fetch_stream = _fetch_stream_within_deadline  # type: ignore[method-assign]
hooks = ScalepathHooks()

# The engine's heap at start-up (about half a million objects: its modules, price map and router)
# lives as long as the process. Frozen, it is left out of the collector's full passes, each of which
# walked all of it while every request in flight waited (docs/performance.md, "Gateway"). Collected
# first, so that no garbage is kept forever.
gc.collect()
gc.freeze()
