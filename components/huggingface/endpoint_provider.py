"""Pulumi dynamic provider for Hugging Face Inference Endpoints, on ``huggingface_hub.HfApi``.

No Pulumi provider exists for HF Inference Endpoints; this one creates/reads/updates/deletes
an endpoint through ``HfApi`` (never hand-written HTTP), waits until it serves, retries
transient API errors with bounded exponential backoff honouring ``Retry-After``, and says in
``diff`` which changes update in place and which replace.

Pulumi pickles the provider (dill) into the state and runs it in its own process, so the
provider holds only plain settings: API clients are built per call, the URL-override lock is
module-level. Inputs and outputs are camelCase (``kind: huggingface:InferenceEndpoint`` tells
policies this resource apart from other dynamic resources). The token and the container
secrets travel as Pulumi secrets; the resource marks them secret in its outputs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
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

_READY = "running"
_SCALED_TO_ZERO = "scaledToZero"
_PAUSED = "paused"
_FAILED = ("failed", "updateFailed")
_TRANSIENT_STATUS = (429, 500, 502, 503, 504)


class HfEndpointError(Exception):
    """An Inference Endpoints operation failed; the message says what and what to do (never the token)."""


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


def hf_tags(tags: Mapping[str, str]) -> list[str]:
    """Our logical cost tags as the list of ``key:value`` strings the HF API takes, sorted."""
    return sorted(f"{key}:{value}" for key, value in tags.items())


def image_payload(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``custom_image`` for ``HfApi`` from our ``{engine, url, port, healthRoute}``; None = HF's image."""
    if not image:
        return None
    config = {"url": image["url"]}
    if image.get("healthRoute"):
        config["healthRoute"] = image["healthRoute"]
    if image.get("port") is not None:
        config["port"] = int(image["port"])
    engine = image.get("engine", "custom")
    # A flat dict is a custom container to HfApi; managed engines are keyed by their variant.
    return config if engine == "custom" else {ENGINE_VARIANTS[engine]: config}


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


_API_URL_LOCK = threading.RLock()
T = TypeVar("T")


@contextmanager
def _api_base(url: str) -> Iterator[None]:
    # HfApi reads the Endpoints API URL from a module constant on every call; swap it for the
    # duration of one call. The lock keeps concurrent resources with different URLs apart.
    with _API_URL_LOCK:
        previous = constants.INFERENCE_ENDPOINTS_ENDPOINT
        constants.INFERENCE_ENDPOINTS_ENDPOINT = url.rstrip("/")
        try:
            yield
        finally:
            constants.INFERENCE_ENDPOINTS_ENDPOINT = previous


def _retry_after(error: HfHubHTTPError) -> float | None:
    value = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _status(error: HfHubHTTPError) -> int | None:
    return error.response.status_code if error.response is not None else None


def _describe(error: Exception) -> str:
    if isinstance(error, HfHubHTTPError):
        detail = error.server_message or str(error).strip().splitlines()[0]
        return f"HTTP {_status(error)}: {detail}"
    return f"{type(error).__name__}: {error}"


def _live_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """In-place settings as the API reports them, for drift on refresh. Only values we always send
    and HF keeps verbatim (a field HF fills in, like revision, would diff forever), and none that
    replace: a renamed enum on HF's side must never replace a serving endpoint."""
    compute = raw.get("compute") or {}
    scaling = compute.get("scaling") or {}
    live = {
        "accelerator": compute.get("accelerator"), "instanceType": compute.get("instanceType"),
        "instanceSize": compute.get("instanceSize"), "minReplica": scaling.get("minReplica"),
        "maxReplica": scaling.get("maxReplica"),
    }
    return {key: value for key, value in live.items() if value is not None}


@dataclass(frozen=True)
class _Target:
    """Where one endpoint lives and how to reach the API (built per call from the properties)."""

    name: str
    namespace: str
    token: str
    api_url: str

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> _Target:
        return cls(name=props["endpointName"], namespace=props["namespace"], token=props["token"],
                   api_url=props.get("apiUrl") or default_api_url())

    def __repr__(self) -> str:  # never show the token
        return f"_Target({self.namespace}/{self.name} at {self.api_url})"


class InferenceEndpointProvider(ResourceProvider):
    """CRUD, diff and check of one HF Inference Endpoint. Holds only plain (picklable) settings."""

    def __init__(self, retry: RetryPolicy = RetryPolicy(), poll_seconds: float = 15.0):
        super().__init__()
        self.retry = retry
        self.poll_seconds = poll_seconds

    # -- API plumbing -------------------------------------------------------------------------

    def _call(self, target: _Target, what: str, fn: Callable[[HfApi], T]) -> T:
        """Run ``fn(api)`` against the target API, retrying transient failures within the policy."""
        api = HfApi(token=target.token)
        failures = 0
        while True:
            try:
                with _api_base(target.api_url):
                    return fn(api)
            except HfHubHTTPError as error:
                if _status(error) not in _TRANSIENT_STATUS:
                    raise
                failures += 1
                retry_after = _retry_after(error)
                last = error
            except httpx2.TransportError as error:
                failures += 1
                retry_after = None
                last = error
            if failures >= self.retry.attempts:
                raise HfEndpointError(
                    f"{what} {target.namespace}/{target.name}: gave up after {failures} attempts; last error "
                    f"{_describe(last)}. The Inference Endpoints API is unavailable or rate-limiting; retry later."
                ) from None
            delay = self.retry.delay(failures, retry_after)
            log.warning("%s %s/%s: %s; retrying in %.1fs (%d/%d)", what, target.namespace, target.name,
                        _describe(last), delay, failures, self.retry.attempts)
            time.sleep(delay)

    def _fail(self, what: str, target: _Target, error: HfHubHTTPError) -> HfEndpointError:
        return HfEndpointError(f"{what} {target.namespace}/{target.name} failed: {_describe(error)}")

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
                raise HfEndpointError(f"{what} {target.namespace}/{target.name}: endpoint is {state!r}: {message}. "
                                      "Check the endpoint logs at https://endpoints.huggingface.co")
            if time.monotonic() >= deadline:
                raise HfEndpointError(
                    f"{what} {target.namespace}/{target.name}: still {state!r} after {props['timeoutSeconds']}s "
                    "(timeoutSeconds). Large models load slowly: raise the timeout, or check the endpoint logs; "
                    "the endpoint is left as it is and the next update resumes waiting."
                )
            time.sleep(self.poll_seconds)
            raw = self._get(target)

    def _get(self, target: _Target) -> dict[str, Any]:
        return self._call(target, "get", lambda api: api.get_inference_endpoint(
            target.name, namespace=target.namespace).raw)

    @staticmethod
    def _outputs(props: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
        status = raw.get("status") or {}
        url = status.get("url")
        return {**props, "kind": KIND, "url": url, "status": status.get("state"),
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
        except (HfHubHTTPError, HfEndpointError) as error:
            # The static table already passed; the live list is a bonus, not a gate.
            log.warning("could not list Inference Endpoints hardware: %s", _describe(error))
            return []
        wanted = (news["vendor"], news["region"], news["accelerator"], news["instanceType"], news["instanceSize"])
        match = [h for h in hardware
                 if (h.vendor, h.region, h.accelerator, h.instance_type, h.instance_size) == wanted]
        if not match:
            return [CheckFailure("region", f"{'/'.join(wanted)} is not offered to namespace {target.namespace}")]
        if match[0].status not in ("available", "low_availability"):
            return [CheckFailure("instanceType", f"{match[0].id} is {match[0].status}; choose other hardware")]
        return []

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the endpoint and wait until it serves; failures carry the endpoint's status message."""
        target = _Target.of(props)
        scaling = props.get("scalingMetric")

        def create(api: HfApi) -> dict[str, Any]:
            private_link = props.get("privateLink") or {}
            return api.create_inference_endpoint(
                target.name, namespace=target.namespace,
                repository=props["repository"], revision=props.get("revision"), task=props.get("task"),
                framework=props["framework"], vendor=props["vendor"], region=props["region"],
                accelerator=props["accelerator"], instance_type=props["instanceType"],
                instance_size=props["instanceSize"], min_replica=int(props["minReplica"]),
                max_replica=int(props["maxReplica"]), scale_to_zero_timeout=props.get("scaleToZeroTimeout"),
                scaling_metric=scaling, scaling_threshold=props.get("scalingThreshold") if scaling else None,
                custom_image=image_payload(props.get("image")), container_args=props.get("args") or None,
                env=dict(props.get("env") or {}) or None, secrets=dict(props.get("secrets") or {}) or None,
                type=props["type"], tags=hf_tags(props.get("tags") or {}),
                private_link_account_id=private_link.get("accountId"),
                private_link_region=private_link.get("region"),
            ).raw

        try:
            raw = self._call(target, "create", create)
        except HfHubHTTPError as error:
            if _status(error) != 409:
                raise self._fail("create", target, error) from None
            # Never adopt an endpoint we did not create: it may belong to someone else.
            raise HfEndpointError(f"create {target.namespace}/{target.name} failed: an endpoint with this name "
                                  "already exists; import it (`pulumi import`) or choose another name") from None
        if props.get("paused"):
            raw = self._call(target, "pause", lambda api: api.pause_inference_endpoint(
                target.name, namespace=target.namespace).raw)
        raw = self._wait(target, props, raw, "create")
        return CreateResult(f"{target.namespace}/{target.name}", self._outputs(props, raw))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh status, URL and the settings changed outside Pulumi; a deleted endpoint reads as gone."""
        target = _Target.of(props)
        try:
            raw = self._get(target)
        except HfHubHTTPError as error:
            if _status(error) == 404:
                return ReadResult("", {})
            raise self._fail("read", target, error) from None
        return ReadResult(id_, self._outputs({**props, **_live_settings(raw)}, raw))

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
        """Send only what changed (compute, model, scaling, tags), pause/resume, then wait."""
        target = _Target.of(news)
        changed = {k for k in (*UPDATE_KEYS, "args") if olds.get(k) != news.get(k)} - {"paused"}
        kwargs: dict[str, Any] = {}
        simple = {"accelerator": "accelerator", "instanceType": "instance_type", "instanceSize": "instance_size",
                  "minReplica": "min_replica", "maxReplica": "max_replica",
                  "scaleToZeroTimeout": "scale_to_zero_timeout", "repository": "repository",
                  "revision": "revision", "task": "task", "framework": "framework", "args": "container_args"}
        for key, arg in simple.items():
            if key in changed:
                kwargs[arg] = news.get(key)
        if changed & {"scalingMetric", "scalingThreshold"} and news.get("scalingMetric"):
            kwargs.update(scaling_metric=news["scalingMetric"], scaling_threshold=news.get("scalingThreshold"))
        if "image" in changed:
            kwargs["custom_image"] = image_payload(news.get("image")) or {"huggingface": {}}
        if "env" in changed:
            kwargs["env"] = dict(news.get("env") or {})
        if "secrets" in changed:
            kwargs["secrets"] = dict(news.get("secrets") or {})
        if "tags" in changed:
            kwargs["tags"] = hf_tags(news.get("tags") or {})
        try:
            if kwargs:
                raw = self._call(target, "update", lambda api: api.update_inference_endpoint(
                    target.name, namespace=target.namespace, **kwargs).raw)
            if bool(olds.get("paused")) != bool(news.get("paused")):
                action = "pause" if news.get("paused") else "resume"
                raw = self._call(target, action, lambda api: getattr(api, f"{action}_inference_endpoint")(
                    target.name, namespace=target.namespace).raw)
            if not kwargs and bool(olds.get("paused")) == bool(news.get("paused")):
                raw = self._get(target)  # only provider settings (token, timeout, API URL) changed
        except HfHubHTTPError as error:
            raise self._fail("update", target, error) from None
        raw = self._wait(target, news, raw, "update")
        return UpdateResult(self._outputs(news, raw))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the endpoint; one that is already gone counts as deleted."""
        target = _Target.of(props)
        try:
            self._call(target, "delete", lambda api: api.delete_inference_endpoint(
                target.name, namespace=target.namespace))
        except HfHubHTTPError as error:
            if _status(error) == 404:
                log.info("delete %s/%s: already gone", target.namespace, target.name)
                return
            raise self._fail("delete", target, error) from None
