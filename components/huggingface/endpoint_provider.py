"""Pulumi dynamic provider for Hugging Face Inference Endpoints, on ``huggingface_hub.HfApi``.

No Pulumi provider exists for HF Inference Endpoints; this one creates/reads/updates/deletes
an endpoint through ``HfApi`` (never hand-written HTTP), waits until it serves, retries
transient API errors with bounded exponential backoff honouring ``Retry-After``, and says in
``diff`` which changes update in place and which replace.

Pulumi pickles the provider (dill) into the state and runs it in its own process, so the
provider holds only plain settings: API clients are built per call. ``HfApi`` builds every
Endpoints URL from one module constant; instead of swapping that constant (a process-wide lock
across network calls), a request hook on ``huggingface_hub``'s HTTP client sends each request of
one of our calls to that call's API URL with a client timeout (a context variable says which).
Inputs and outputs are camelCase (``kind: huggingface:InferenceEndpoint`` tells policies this
resource apart from other dynamic resources). The token and the container secrets travel as
Pulumi secrets; the resource marks them secret in its outputs, and every text that leaves the
provider (errors, logs) goes through :func:`scrub`.
"""

from __future__ import annotations

import contextvars
import email.utils
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx2
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import _http as hf_http
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc

from components import catalog
from components.token_shapes import REDACTED, redact

log = logging.getLogger(__name__)

KIND = "huggingface:InferenceEndpoint"
"""Value of the ``kind`` input: how policies recognise this dynamic resource."""

API_URL_ENV = "SCALEPATH_HF_ENDPOINTS_API"
"""Environment variable overriding the Inference Endpoints API base URL (tests, private installs)."""

ACCESS_TYPES = ("public", "authenticated", "private")
SCALING_METRICS = ("pendingRequests", "hardwareUsage")
#: Engines whose server speaks the OpenAI API under ``/v1/``; values are the API's image variant keys
#: (as in ``huggingface_hub``'s CLI ``ENGINE_IMAGE_KEYS``). ``custom`` is a plain container.
ENGINE_VARIANTS = {"vllm": "vLLM", "tgi": "tgi", "tei": "tei", "custom": "custom"}
OPENAI_ENGINES = ("vllm", "tgi")

#: Inputs whose change needs a new endpoint (the update API cannot change them).
REPLACE_KEYS = ("endpointName", "namespace", "vendor", "region", "type", "privateLink")
#: Inputs the update API changes in place.
UPDATE_KEYS = (
    "accelerator", "instanceType", "instanceSize", "minReplica", "maxReplica", "scaleToZeroTimeout",
    "scalingMetric", "scalingThreshold", "repository", "revision", "task", "framework", "image",
    "env", "secrets", "tags", "paused",
)
#: Inputs kept in state with no effect on the endpoint (the provider's own settings).
STATE_ONLY_KEYS = ("token", "apiUrl", "timeoutSeconds")
#: Outputs the provider records at create and carries through updates (never inputs).
CREATED_API_URL = "createdApiUrl"
"""The API URL the endpoint was created through: read, update and delete use it, whatever the env says."""
CREATE_MARKER = "createMarker"
"""A tag (``scalepath-create:<hash>``, :func:`create_marker`) sent at create: how a retried create,
or the next ``up`` after a failed one, recognises its own endpoint."""
MARKER_PREFIX = "scalepath-create:"
OWNER = "owner"
"""Input naming the resource that owns the endpoint (``<project>/<stack>/<resource name>``); the
create marker is derived from it, so it must stay the same from one ``up`` to the next."""

_READY = "running"
_SCALED_TO_ZERO = "scaledToZero"
_PAUSED = "paused"
_FAILED = ("failed", "updateFailed")
_TRANSIENT_STATUS = (429, 500, 502, 503, 504)


class HfEndpointError(Exception):
    """An Inference Endpoints operation failed; the message says what and what to do (never the token)."""


class ApiError(HfEndpointError):
    """One API call failed; ``status`` is the HTTP status, None when there was no usable answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# An API or proxy that echoes the Authorization header must not put the token into an error,
# token-shaped or not: whatever follows "Bearer" goes, besides the project's token shapes.
_BEARER = re.compile(r"(?i:bearer)\s+[^\s\"',;}]+")
#: JSON's two-character escapes (a run of backslashes: the text may be escaped more than once).
_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
#: HTML's named entities for the characters an HTML error page (a proxy's) escapes.
_HTML_ENTITIES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


def _hex(value: int, digits: int) -> str:
    """``value`` as hex digits that match in either case (``(?i:...)`` scoped to the digits)."""
    return f"(?i:{value:0{digits}x})"


def _char_forms(char: str) -> str:
    """A regex for one character of a secret as an API may echo it: itself, JSON-escaped
    (``\\uXXXX``, a surrogate pair beyond the BMP, ``\\"``, ``\\\\``...; any run of backslashes),
    percent-encoded (its UTF-8 bytes) or HTML-escaped (``&#95;``, ``&#x5f;``, ``&amp;``; the
    ampersand itself possibly escaped again)."""
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        unicode = rf"\\+u{_hex(high, 4)}\\+u{_hex(low, 4)}"
    else:
        unicode = rf"\\+u{_hex(code, 4)}"
    forms = [re.escape(char), unicode, "".join(f"%{_hex(b, 2)}" for b in char.encode()),
             rf"&(?:amp;)*#(?:0*{code}|(?i:x)0*{_hex(code, 1)});?"]
    if char in _SHORT_ESCAPES:
        forms.append(rf"\\+{re.escape(_SHORT_ESCAPES[char])}")
    if char in _HTML_ENTITIES:
        forms.append(rf"&(?:amp;)*{_HTML_ENTITIES[char]};")
    return "(?:" + "|".join(forms) + ")"


def _secret_forms(secret: str) -> re.Pattern[str]:
    """Every way ``secret`` may appear in an API's text, escaped or not (see :func:`_char_forms`)."""
    return re.compile("".join(_char_forms(c) for c in secret))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the known secret values (in every escaped form an API may echo them in),
    bearer credentials and token-shaped substrings (the project's one token rule,
    :func:`components.token_shapes.redact`)."""
    for secret in sorted((s for s in secrets if isinstance(s, str) and len(s) >= 4), key=len, reverse=True):
        text = _secret_forms(secret).sub(REDACTED, text)
    return redact(_BEARER.sub(REDACTED, text))


class HardwareError(ValueError):
    """A vendor/accelerator/instance combination that the hardware table does not list."""


def hardware_key(vendor: str, instance_type: str, instance_size: str) -> str:
    """The ``hf`` catalogue key of a hardware choice, e.g. ``aws/nvidia-a10g/x1``."""
    return f"{vendor}/{instance_type}/{instance_size}"


def validate_hardware(vendor: str, accelerator: str, instance_type: str, instance_size: str) -> catalog.InstanceSpec:
    """The catalogue row of this hardware; :class:`HardwareError` naming the valid choices otherwise."""
    table = catalog.load("hf")
    key = hardware_key(vendor, instance_type, instance_size)
    if key not in table.instances:
        same_vendor = sorted(k for k in table.instances if k.startswith(f"{vendor}/"))
        known = ", ".join(same_vendor) if same_vendor else ", ".join(sorted(table.instances))
        raise HardwareError(f"unknown Inference Endpoints hardware {key!r} (vendor/instanceType/instanceSize); "
                            f"known: {known}")
    row = table.instances[key]
    if row.accelerator != accelerator:
        raise HardwareError(f"{key} is a {row.accelerator!r} instance, not {accelerator!r}; "
                            f"set accelerator: {row.accelerator}")
    return row


def default_api_url() -> str:
    """``$SCALEPATH_HF_ENDPOINTS_API`` or ``huggingface_hub``'s Inference Endpoints API URL."""
    return os.environ.get(API_URL_ENV) or constants.INFERENCE_ENDPOINTS_ENDPOINT


def hf_tags(tags: Mapping[str, str], marker: str | None = None) -> list[str]:
    """Our logical cost tags as the list of ``key:value`` strings the HF API takes, sorted; then the
    create marker, if any."""
    return sorted(f"{key}:{value}" for key, value in tags.items()) + ([marker] if marker else [])


def create_marker(props: Mapping[str, Any]) -> str:
    """The create marker of these inputs: a hash of the owner (project, stack, resource name), the
    namespace and the endpoint name — what the next ``up`` of the same resource also knows, and
    another stack or resource does not."""
    identity = "\n".join(str(props.get(key) or "") for key in (OWNER, "namespace", "endpointName"))
    return MARKER_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:32]


def image_payload(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``custom_image`` for ``HfApi`` from our ``{engine, url, port, healthRoute}``; None = HF's image."""
    if not image:
        return None
    config = {"url": image["url"]}
    if image.get("healthRoute"):
        config["healthRoute"] = image["healthRoute"]
    if image.get("port") is not None:
        config["port"] = int(image["port"])
    # Keyed by the API's image variant (``custom`` for a plain container), which HfApi sends as it is.
    return {ENGINE_VARIANTS[image.get("engine", "custom")]: config}


def openai_base_url(url: str | None, image: Mapping[str, Any] | None) -> str | None:
    """``<url>/v1/`` for engines that serve the OpenAI API (vLLM, TGI), else None."""
    if not url or not image or image.get("engine") not in OPENAI_ENGINES:
        return None
    return f"{url.rstrip('/')}/v1/"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for transient API errors (429, 5xx, connection errors)."""

    attempts: int = 6
    """Tries per API call, first one included."""
    base_seconds: float = 1.0
    """Delay before the second try; doubles after each failure."""
    max_seconds: float = 60.0
    """Cap of one delay, ``Retry-After`` included."""

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``failures``-th failure (``Retry-After`` wins, capped)."""
        wanted = retry_after if retry_after is not None else self.base_seconds * 2 ** (failures - 1)
        return min(max(wanted, 0.0), self.max_seconds)


T = TypeVar("T")


@dataclass(frozen=True)
class _Route:
    """Where the requests of the current provider call go, and how long one may take."""

    api_url: str
    timeout_seconds: float


_ROUTE: contextvars.ContextVar[_Route | None] = contextvars.ContextVar("scalepath_hf_route", default=None)
_HOOK_LOCK = threading.Lock()  # held while installing the hook, never across a network call


def _route_request(request: httpx2.Request) -> None:
    """Request hook: an Endpoints API request made by one of our calls goes to that call's API URL,
    with its timeout. Requests outside our calls are left alone."""
    route = _ROUTE.get()
    if route is None:
        return
    default = constants.INFERENCE_ENDPOINTS_ENDPOINT.rstrip("/")
    url = str(request.url)
    if url == default or url.startswith(default + "/"):
        request.url = httpx2.URL(route.api_url.rstrip("/") + url[len(default):])
        request.headers["Host"] = request.url.netloc.decode("ascii")
    request.extensions["timeout"] = httpx2.Timeout(route.timeout_seconds).as_dict()


class _CrossOriginRedirect(Exception):
    """The API answered one of our requests with a redirect to another scheme, host or port."""

    def __init__(self, origin: str):
        super().__init__(origin)
        self.origin = origin


def _redirect_target(source: httpx2.URL, location: str) -> httpx2.URL:
    """Where the client would go for ``location``, resolved as ``httpx2.Client._redirect_url`` does
    (an absolute form without a host keeps the request's host; a relative one is joined), so the
    check below judges the very URL the client would request."""
    url = httpx2.URL(location)
    if url.scheme and not url.host:
        url = url.copy_with(host=source.host)
    return source.join(url) if url.is_relative_url else url


def _refuse_cross_origin_redirect(response: httpx2.Response) -> None:
    """Response hook: a redirect of one of our calls to another origin (https to http on the same
    host included), or to a Location the client cannot read, is refused before it is followed.
    httpx drops the Authorization header across origins but re-sends the body on a 307/308, and a
    create's body holds the container secrets. Same-origin redirects are followed."""
    if _ROUTE.get() is None or not response.has_redirect_location:
        return
    source = response.request.url
    try:
        target = _redirect_target(source, response.headers["location"])
    except (httpx2.InvalidURL, ValueError):
        raise _CrossOriginRedirect("an unreadable Location") from None
    if (target.scheme, target.host, target.port) != (source.scheme, source.host, source.port):
        raise _CrossOriginRedirect(f"{target.scheme}://{target.host}" + (f":{target.port}" if target.port else ""))


def _install_route_hook() -> None:
    """Add :func:`_route_request` and :func:`_refuse_cross_origin_redirect` to every client
    ``huggingface_hub`` builds (once per process), keeping whatever client factory is configured."""
    with _HOOK_LOCK:
        previous = getattr(hf_http, "_GLOBAL_CLIENT_FACTORY", hf_http.default_client_factory)
        if getattr(previous, "routes_scalepath_calls", False):
            return

        def factory() -> httpx2.Client:
            client = previous()
            hooks = client.event_hooks
            client.event_hooks = {**hooks, "request": [*hooks.get("request", []), _route_request],
                                  "response": [*hooks.get("response", []), _refuse_cross_origin_redirect]}
            return client

        factory.routes_scalepath_calls = True  # type: ignore[attr-defined]
        hf_http.set_client_factory(factory)


def _retry_after(error: HfHubHTTPError) -> float | None:
    """Seconds the API asks us to wait: a finite number >= 0 or an HTTP date; None when absent or unreadable."""
    value = error.response.headers.get("retry-after") if error.response is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is None or when.tzinfo is None:
            log.warning("ignoring an unreadable Retry-After header %r; using our own backoff", value[:40])
            return None
        return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)
    if not math.isfinite(seconds) or seconds < 0:  # `nan`, `inf`, `-1`: an API fault, not a wait
        log.warning("ignoring an unreadable Retry-After header %r; using our own backoff", value[:40])
        return None
    return seconds


def _status(error: HfHubHTTPError) -> int | None:
    return error.response.status_code if error.response is not None else None


def _describe(error: Exception) -> str:
    if isinstance(error, HfHubHTTPError):
        detail = error.server_message or (str(error).strip().splitlines() or ["no message"])[0]
        return f"HTTP {_status(error)}: {detail}"
    return f"{type(error).__name__}: {error}"


def _live_settings(raw: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """In-place settings as the API reports them, for drift on refresh. Only values we always send
    and HF keeps verbatim, and none that replace: a renamed enum on HF's side must never replace a
    serving endpoint. The revision and the scaling measure are reported when the inputs set them
    (unset, HF fills in its own, which would diff forever)."""
    compute = raw.get("compute") or {}
    scaling = compute.get("scaling") or {}
    live = {
        "accelerator": compute.get("accelerator"), "instanceType": compute.get("instanceType"),
        "instanceSize": compute.get("instanceSize"), "minReplica": scaling.get("minReplica"),
        "maxReplica": scaling.get("maxReplica"),
    }
    if props.get("revision") is not None:
        live["revision"] = (raw.get("model") or {}).get("revision")
    measure = scaling.get("measure")
    if props.get("scalingMetric") is not None and isinstance(measure, Mapping) and len(measure) == 1:
        ((live["scalingMetric"], live["scalingThreshold"]),) = measure.items()
    return {key: value for key, value in live.items() if value is not None}


@dataclass(frozen=True)
class _Target:
    """Where one endpoint lives and how to reach the API (built per call from the properties)."""

    name: str
    namespace: str
    token: str
    api_url: str
    secrets: tuple[str, ...] = ()
    """Values never to show (the token, the container secrets)."""

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> _Target:
        """The endpoint of these inputs or outputs; a recorded creating API URL wins over the input."""
        secrets = props.get("secrets")
        values = tuple(str(v) for v in secrets.values()) if isinstance(secrets, Mapping) else ()
        token = props["token"]
        api_url = props.get(CREATED_API_URL) or props.get("apiUrl") or default_api_url()
        return cls(name=props["endpointName"], namespace=props["namespace"], token=token,
                   api_url=api_url.rstrip("/"), secrets=(token, *values))

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    def scrub(self, text: str) -> str:
        """``text`` without this target's secrets or anything token-shaped."""
        return scrub(text, self.secrets)

    def __repr__(self) -> str:  # never show the token
        return f"_Target({self.label} at {self.api_url})"


#: A token an Authorization header can carry: visible ASCII without spaces (RFC 6750's b64token is
#: narrower still). httpx refuses an empty one or a line break only when sending: a transport error,
#: retried for half a minute, whose text and httpcore's debug log hold the token.
_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
#: Transport failures after which the API may have acted on the request (the response was lost).
_AMBIGUOUS_TRANSPORT = (httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.ReadError, httpx2.WriteError,
                        httpx2.RemoteProtocolError)


class InferenceEndpointProvider(ResourceProvider):
    """CRUD, diff and check of one HF Inference Endpoint. Holds only plain (picklable) settings."""

    request_timeout_seconds: float = 60.0
    """Client timeout of one API request (connect, read, write, pool). A class default too: a
    provider unpickled from a stack's state written before this setting existed has it."""

    def __init__(self, retry: RetryPolicy = RetryPolicy(), poll_seconds: float = 15.0,
                 request_timeout_seconds: float = 60.0):
        super().__init__()
        self.retry = retry
        self.poll_seconds = poll_seconds
        self.request_timeout_seconds = request_timeout_seconds

    # -- API plumbing -------------------------------------------------------------------------

    def _call(self, target: _Target, what: str, fn: Callable[[HfApi], T],
              recover: Callable[[], T | None] | None = None) -> T:
        """Run ``fn(api)`` against the target API, retrying transient failures within the policy.

        After a failure that may have reached the API (5xx, a lost response, an answer that is not
        JSON or not an endpoint), ``recover`` runs before the retry: whatever it returns (not None)
        is the call's result; a recovery that fails itself is logged and the call goes on. Every
        failure comes out as :class:`ApiError` with a scrubbed message.
        """
        if not _SENDABLE_TOKEN.fullmatch(target.token):
            raise ApiError(f"{what} {target.label}: the token is empty or holds a space, a line break or another "
                           "character an HTTP header cannot carry; nothing was sent. Set the HF token again "
                           "without them (scalepath:hfToken for the shipped stacks).")
        _install_route_hook()
        api = HfApi(token=target.token)
        route = _Route(target.api_url, self.request_timeout_seconds)
        failures = 0
        while True:
            ambiguous, fault = False, None
            reset = _ROUTE.set(route)
            try:
                return fn(api)
            except HfHubHTTPError as error:
                status = _status(error)
                if status not in _TRANSIENT_STATUS:
                    fault = ApiError(target.scrub(f"{what} {target.label} failed: {_describe(error)}"), status)
                retry_after, ambiguous, last = _retry_after(error), status != 429, error
            except _CrossOriginRedirect as error:
                fault = ApiError(target.scrub(
                    f"{what} {target.label}: the API at {target.api_url} redirected the request to another origin "
                    f"({error.origin}); refused without following it, because the request carries the endpoint's "
                    "secrets. Point apiUrl (or $SCALEPATH_HF_ENDPOINTS_API) at the Inference Endpoints API itself."))
            except httpx2.TooManyRedirects:
                # A loop answers the same way every time: retrying it costs minutes and says "unavailable".
                fault = ApiError(target.scrub(
                    f"{what} {target.label}: the API at {target.api_url} redirected the request more than "
                    f"{hf_http.get_session().max_redirects} times (a redirect loop); not retried. Point apiUrl (or "
                    "$SCALEPATH_HF_ENDPOINTS_API) at the Inference Endpoints API itself."))
            except httpx2.TransportError as error:
                retry_after, ambiguous, last = None, isinstance(error, _AMBIGUOUS_TRANSPORT), error
            except json.JSONDecodeError as error:
                fault = ApiError(target.scrub(
                    f"{what} {target.label}: the API at {target.api_url} answered with something that is not "
                    f"JSON ({error.msg} at line {error.lineno}). An HTML page usually means apiUrl points at a "
                    "web page or a proxy's login page, not the Inference Endpoints API (.../v2)."))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                # huggingface_hub parses the answer inside the call: a field missing or null
                # (`status: null`) surfaces here, never as our own bug.
                fault = ApiError(target.scrub(
                    f"{what} {target.label}: the API at {target.api_url} answered with a response that is not "
                    f"an Inference Endpoint ({type(error).__name__}: {error}); is apiUrl the Inference "
                    "Endpoints API, and is huggingface_hub up to date?"))
            finally:
                _ROUTE.reset(reset)
            if fault is not None:
                # An unreadable 200 or 5xx may come after the API acted on the request: look first.
                if fault.status is None and recover is not None and (found := self._recover(target, what, recover)):
                    return found
                # Raised here, outside the handler: the library's exception (its request carries the
                # Authorization header) must not ride along as __context__.
                raise fault
            failures += 1
            if failures >= self.retry.attempts:
                raise ApiError(target.scrub(
                    f"{what} {target.label}: gave up after {failures} attempts; last error {_describe(last)}. "
                    "The Inference Endpoints API is unavailable or rate-limiting; retry later."
                    + (" The last attempt may have reached the API: check whether the endpoint exists before "
                       "retrying." if ambiguous and recover is not None else "")), _status_of(last))
            if ambiguous and recover is not None and (found := self._recover(target, what, recover)):
                return found
            delay = self.retry.delay(failures, retry_after)
            log.warning("%s", target.scrub(f"{what} {target.label}: {_describe(last)}; retrying in {delay:.1f}s "
                                           f"({failures}/{self.retry.attempts})"))
            time.sleep(delay)

    @staticmethod
    def _recover(target: _Target, what: str, recover: Callable[[], T | None]) -> T | None:
        """``recover()``, or None when it fails with an API error (logged): the caller goes on retrying,
        and whatever it left behind the next ``up`` adopts by its marker."""
        try:
            return recover()
        except ApiError as error:
            log.warning("%s", target.scrub(f"{what} {target.label}: could not check for an endpoint the last "
                                           f"attempt may have created ({error}); going on"))
            return None

    def _wait(self, target: _Target, props: Mapping[str, Any], raw: dict[str, Any], what: str) -> dict[str, Any]:
        """Poll until the endpoint serves (``running``; ``scaledToZero`` too when min replicas is 0)."""
        ready = {_READY, _SCALED_TO_ZERO} if int(props["minReplica"]) == 0 else {_READY}
        if props.get("paused"):
            ready = {_PAUSED}
        deadline = time.monotonic() + float(props["timeoutSeconds"])
        while True:
            state = raw["status"]["state"]
            if state in ready:
                return raw
            if state in _FAILED:
                message = raw["status"].get("message") or "no status message"
                raise HfEndpointError(target.scrub(
                    f"{what} {target.label}: endpoint is {state!r}: {message}. "
                    "Check the endpoint logs at https://endpoints.huggingface.co"))
            if time.monotonic() >= deadline:
                raise HfEndpointError(
                    f"{what} {target.label}: still {state!r} after {props['timeoutSeconds']}s "
                    "(timeoutSeconds). Large models load slowly: raise the timeout, or check the endpoint logs; "
                    "the endpoint is left as it is and the next update resumes waiting."
                )
            time.sleep(self.poll_seconds)
            raw = self._get(target)

    def _get(self, target: _Target) -> dict[str, Any]:
        return self._call(target, "get", lambda api: api.get_inference_endpoint(
            target.name, namespace=target.namespace).raw)

    def _get_if_any(self, target: _Target) -> dict[str, Any] | None:
        """The endpoint under this name, or None when the API answers 404."""
        try:
            return self._get(target)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    @staticmethod
    def _outputs(props: Mapping[str, Any], raw: Mapping[str, Any], recorded: Mapping[str, Any]) -> dict[str, Any]:
        status = raw.get("status") or {}
        url = status.get("url")
        kept = {k: recorded[k] for k in (CREATED_API_URL, CREATE_MARKER) if recorded.get(k)}
        return {**props, **kept, "kind": KIND, "url": url, "status": status.get("state"),
                "openaiBaseUrl": openai_base_url(url, props.get("image"))}

    # -- Pulumi provider protocol -------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate hardware against the table, then against the live hardware list when a token is known."""
        failures = []
        hardware = [news.get(k) for k in ("vendor", "accelerator", "instanceType", "instanceSize")]
        if rpc.UNKNOWN not in hardware:  # preview passes values computed by other resources as unknown
            try:
                validate_hardware(*hardware)
            except HardwareError as error:
                failures.append(CheckFailure("instanceType", str(error)))
        if news.get("type") not in ACCESS_TYPES:
            failures.append(CheckFailure("type", f"must be one of {', '.join(ACCESS_TYPES)}"))
        if int(news.get("minReplica", 1)) > int(news.get("maxReplica", 1)):
            failures.append(CheckFailure("minReplica", "must be <= maxReplica"))
        if news.get("scalingMetric") not in (None, *SCALING_METRICS):
            failures.append(CheckFailure("scalingMetric", f"must be one of {', '.join(SCALING_METRICS)}"))
        if not failures and isinstance(news.get("token"), str) and news["token"] not in ("", rpc.UNKNOWN):
            failures += self._check_live_hardware(news)
        return CheckResult(news, failures)

    def _check_live_hardware(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        target = _Target.of(news)
        try:
            hardware = self._call(target, "list hardware for", lambda api: api.list_inference_endpoints_hardware(
                namespace=target.namespace))
        except ApiError as error:
            # The static table already passed; the live list is a bonus, not a gate.
            log.warning("could not list Inference Endpoints hardware: %s", error)
            return []
        wanted = (news["vendor"], news["region"], news["accelerator"], news["instanceType"], news["instanceSize"])
        match = [h for h in hardware
                 if (h.vendor, h.region, h.accelerator, h.instance_type, h.instance_size) == wanted]
        if not match:
            return [CheckFailure("region", f"{'/'.join(wanted)} is not offered to namespace {target.namespace}")]
        if match[0].status not in ("available", "low_availability"):
            return [CheckFailure("instanceType", target.scrub(f"{match[0].id} is {match[0].status}; "
                                                              "choose other hardware"))]
        return []

    def _ours(self, target: _Target, marker: str) -> dict[str, Any] | None:
        """The endpoint under this name if it carries our create marker; None if there is none.

        :class:`HfEndpointError` when one exists without the marker: someone else's endpoint.
        """
        raw = self._get_if_any(target)
        if raw is None:
            return None
        tags = raw.get("tags")
        if isinstance(tags, list) and marker in tags:
            log.info("create %s: the endpoint a failed attempt created is ours (tag %s); adopting it",
                     target.label, marker)
            return raw
        raise HfEndpointError(f"create {target.label} failed: an endpoint with this name already exists and was "
                              "not created by this deployment; import it (`pulumi import`) or choose another name")

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the endpoint and wait until it serves; failures carry the endpoint's status message.

        A create whose answer was lost (5xx, timeout, an unreadable answer) may still have
        committed, and a create that failed later (timed out waiting, ``failed``) leaves its
        endpoint behind, unknown to Pulumi. Before retrying, and when the name is taken, the
        provider reads the name and adopts the endpoint if it carries this resource's marker tag
        (:func:`create_marker`, the same at the next ``up``), then sends it this create's full
        settings, which also redeploys a failed one; an endpoint without the marker belongs to
        someone else and is never adopted.
        """
        target = _Target.of(props)
        marker = create_marker(props)
        scaling = props.get("scalingMetric")
        private_link = props.get("privateLink") or {}
        request = dict(
            namespace=target.namespace,
            repository=props["repository"], revision=props.get("revision"), task=props.get("task"),
            framework=props["framework"], vendor=props["vendor"], region=props["region"],
            accelerator=props["accelerator"], instance_type=props["instanceType"],
            instance_size=props["instanceSize"], min_replica=int(props["minReplica"]),
            max_replica=int(props["maxReplica"]), scale_to_zero_timeout=props.get("scaleToZeroTimeout"),
            scaling_metric=scaling, scaling_threshold=props.get("scalingThreshold") if scaling else None,
            custom_image=image_payload(props.get("image")), container_args=props.get("args") or None,
            env=dict(props.get("env") or {}) or None, secrets=dict(props.get("secrets") or {}) or None,
            type=props["type"], tags=hf_tags(props.get("tags") or {}, marker),
            private_link_account_id=private_link.get("accountId"), private_link_region=private_link.get("region"),
        )
        adopted: list[dict[str, Any]] = []

        def ours() -> dict[str, Any] | None:
            raw = self._ours(target, marker)
            adopted.extend([raw] if raw is not None else [])
            return raw

        try:
            raw = self._call(target, "create", lambda api: api.create_inference_endpoint(target.name, **request).raw,
                             recover=ours)
        except ApiError as error:
            if error.status != 409:
                raise
            # A retry after a lost answer, or the next `up` after a failed create, meets its own
            # endpoint; anyone else's is never adopted.
            raw = ours()
            if raw is None:  # deleted between the 409 and the read: let the next run create it
                raise HfEndpointError(f"create {target.label} failed: the API reported the name taken, then "
                                      "not found; run again") from None
        if adopted:  # made by an earlier attempt, maybe with other settings, maybe failed: make it this one
            _refuse_moved(target, raw, props)
            settings = _update_kwargs(props, {*UPDATE_KEYS, "args"}, marker)
            raw = self._call(target, "update adopted", lambda api: api.update_inference_endpoint(
                target.name, namespace=target.namespace, **settings).raw)
            if raw["status"]["state"] == _PAUSED and not props.get("paused"):
                raw = self._call(target, "resume adopted", lambda api: api.resume_inference_endpoint(
                    target.name, namespace=target.namespace).raw)
        recorded = {CREATED_API_URL: target.api_url, CREATE_MARKER: marker}
        if props.get("paused"):
            raw = self._call(target, "pause", lambda api: api.pause_inference_endpoint(
                target.name, namespace=target.namespace).raw)
        raw = self._wait(target, props, raw, "create")
        return CreateResult(target.label, self._outputs(props, raw, recorded))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh status, URL and the settings changed outside Pulumi; a deleted endpoint reads as gone."""
        target = _Target.of(props)
        raw = self._get_if_any(target)
        if raw is None:
            return ReadResult("", {})
        return ReadResult(id_, self._outputs({**props, **_live_settings(raw, props)}, raw, props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Which inputs changed, and whether that replaces the endpoint or updates it in place."""
        keys = (*REPLACE_KEYS, *UPDATE_KEYS, *STATE_ONLY_KEYS, "args")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in REPLACE_KEYS]
        # The name is unique per namespace: a replacement that keeps it must delete first.
        same_name = all(olds.get(key) == news.get(key) for key in ("namespace", "endpointName"))
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=bool(replaces) and same_name)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Send only what changed (compute, model, scaling, tags), pause/resume, then wait.

        The endpoint is reached through the API URL that created it; an update that would point it
        elsewhere is refused (the endpoint does not exist there).
        """
        target = _Target.of({**news, CREATED_API_URL: olds.get(CREATED_API_URL)})
        wanted = (news.get("apiUrl") or default_api_url()).rstrip("/")
        if olds.get(CREATED_API_URL) and wanted != target.api_url:  # both without a trailing /
            raise HfEndpointError(
                f"update {target.label}: the endpoint was created through {target.api_url}, but apiUrl (or "
                f"${API_URL_ENV}) now says {wanted}. Set apiUrl back to manage this endpoint; to move it, "
                "give it a new endpointName (a new endpoint is created there, the old one deleted).")
        changed = {k for k in (*UPDATE_KEYS, "args") if olds.get(k) != news.get(k)}  # paused: pause/resume below
        if olds.get("scalingMetric") is not None and news.get("scalingMetric") is None:
            # huggingface_hub sends no measure without a metric: the endpoint would keep the old one.
            raise HfEndpointError(
                f"update {target.label}: scalingMetric was removed, but the API has no way to clear an "
                f"endpoint's scaling measure (it would keep {olds['scalingMetric']!r} while the state said "
                "otherwise); set scalingMetric and scalingThreshold to what the endpoint should scale on")
        kwargs = _update_kwargs(news, changed, olds.get(CREATE_MARKER))
        if kwargs:
            raw = self._call(target, "update", lambda api: api.update_inference_endpoint(
                target.name, namespace=target.namespace, **kwargs).raw)
        if bool(olds.get("paused")) != bool(news.get("paused")):
            action = "pause" if news.get("paused") else "resume"
            raw = self._call(target, action, lambda api: getattr(api, f"{action}_inference_endpoint")(
                target.name, namespace=target.namespace).raw)
        if not kwargs and bool(olds.get("paused")) == bool(news.get("paused")):
            raw = self._get(target)  # only provider settings (token, timeout) changed
        raw = self._wait(target, news, raw, "update")
        return UpdateResult(self._outputs(news, raw, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the endpoint through the API URL that created it; one already gone there counts as deleted."""
        target = _Target.of(props)
        try:
            self._call(target, "delete", lambda api: api.delete_inference_endpoint(
                target.name, namespace=target.namespace))
        except ApiError as error:
            if error.status == 404:
                log.info("delete %s at %s: already gone", target.label, target.api_url)
                return
            raise


_SIMPLE_UPDATES = {"accelerator": "accelerator", "instanceType": "instance_type", "instanceSize": "instance_size",
                   "minReplica": "min_replica", "maxReplica": "max_replica",
                   "scaleToZeroTimeout": "scale_to_zero_timeout", "repository": "repository",
                   "revision": "revision", "task": "task", "framework": "framework", "args": "container_args"}
"""Inputs the update API takes as they are: input -> ``update_inference_endpoint`` argument."""


def _update_kwargs(news: Mapping[str, Any], keys: set[str], marker: str | None) -> dict[str, Any]:
    """``update_inference_endpoint`` arguments that set ``keys`` of the inputs ``news`` (the tags
    with the create marker, if any)."""
    kwargs: dict[str, Any] = {arg: news.get(key) for key, arg in _SIMPLE_UPDATES.items() if key in keys}
    if "revision" in keys and news.get("revision") is None:
        # None is dropped from the request: send the reset explicitly (follow the default branch).
        kwargs["revision"] = constants.DEFAULT_REVISION
    if keys & {"scalingMetric", "scalingThreshold"} and news.get("scalingMetric"):
        kwargs.update(scaling_metric=news["scalingMetric"], scaling_threshold=news.get("scalingThreshold"))
    if "image" in keys:
        kwargs["custom_image"] = image_payload(news.get("image")) or {"huggingface": {}}
    if "env" in keys:
        kwargs["env"] = dict(news.get("env") or {})
    if "secrets" in keys:
        kwargs["secrets"] = dict(news.get("secrets") or {})
    if "tags" in keys:
        kwargs["tags"] = hf_tags(news.get("tags") or {}, marker)
    return kwargs


def _refuse_moved(target: _Target, raw: Mapping[str, Any], props: Mapping[str, Any]) -> None:
    """HfEndpointError when an adopted endpoint differs from ``props`` in what the update API cannot
    change (vendor, region, access type): updating it would leave it elsewhere than the state says."""
    provider = raw.get("provider") or {}
    live = {"vendor": provider.get("vendor"), "region": provider.get("region"), "type": raw.get("type")}
    moved = [f"{key} {value!r} (asked: {props[key]!r})" for key, value in live.items()
             if value is not None and value != props[key]]
    if moved:
        raise HfEndpointError(target.scrub(
            f"create {target.label}: the endpoint an earlier failed create left behind has {', '.join(moved)}, "
            "which an update cannot change; delete that endpoint (or set these back) and run again"))


def _status_of(error: Exception) -> int | None:
    return _status(error) if isinstance(error, HfHubHTTPError) else None
