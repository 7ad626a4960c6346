"""The Inference Endpoints dynamic provider, driven over real HTTP against a local fake API.

Mocks never call dynamic providers, so create/read/update/delete/diff/check run here against
``tests.support.hf_api`` (shapes as ``huggingface_hub`` sends and parses them).
"""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import dill
import httpx2
import pytest
from huggingface_hub import constants
from huggingface_hub.utils import _http as hf_http
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from components.huggingface import endpoint_provider as hf_endpoint_provider
from components.huggingface.endpoint_provider import (
    API_URL_ENV,
    KIND,
    HfEndpointError,
    InferenceEndpointProvider,
    RetryPolicy,
    create_marker,
    default_api_url,
)
from tests.support.hf_api import RunningServer, Scripted
from tests.support.tls import Tls, make_tls

TOKEN = "hf_" + "T0kenValueThatMustNeverLeak" + "x" * 8
FAST = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=2.0)


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with RunningServer() as running:
        yield running


@pytest.fixture
def provider() -> InferenceEndpointProvider:
    return InferenceEndpointProvider(retry=FAST, poll_seconds=0.02)


@pytest.fixture(autouse=True)
def no_token_leaks(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Every test: the token appears in no log record and no captured output."""
    caplog.set_level(logging.DEBUG)
    yield
    records = caplog.get_records("call")  # in teardown, caplog.text would hold teardown's records only
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)
    out, err = capsys.readouterr()
    assert TOKEN not in logged
    assert TOKEN not in out + err


def props(server: RunningServer, **overrides: Any) -> dict[str, Any]:
    """Inputs as ``components.huggingface.endpoint.endpoint_props`` produces them.

    Secrets are in clear, as providers see them.
    """
    base = {
        "kind": KIND, "endpointName": "chat-dev", "namespace": "ml-team",
        "repository": "meta-llama/Llama-3.1-8B-Instruct", "task": "text-generation", "framework": "pytorch",
        "vendor": "aws", "region": "us-east-1", "accelerator": "gpu", "instanceType": "nvidia-a10g",
        "instanceSize": "x1", "minReplica": 0, "maxReplica": 2, "scaleToZeroTimeout": 15,
        "scalingMetric": "pendingRequests", "scalingThreshold": 4,
        "image": {"engine": "vllm", "url": "vllm/vllm-openai:v0.11.0", "port": 8000, "healthRoute": "/health"},
        "args": ["--max-model-len", "8192"], "env": {"LOG_LEVEL": "info"}, "secrets": {"HF_TOKEN": TOKEN},
        "type": "authenticated", "tags": {"team": "ml", "stack": "scalepath-dev"}, "paused": False,
        "timeoutSeconds": 5, "token": TOKEN, "apiUrl": server.base_url, "owner": "scalepath/dev/chat-endpoint",
    }
    return {**base, **overrides}


def test_create_sends_the_full_payload_with_auth_and_waits_until_running(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["pending", "initializing", "initializing", "running"])
    result = provider.create(props(server))

    assert result.id == "ml-team/chat-dev"
    assert result.outs["status"] == "running"
    assert result.outs["url"] == "https://chat-dev.us-east-1.aws.endpoints.huggingface.cloud"
    assert result.outs["openaiBaseUrl"] == "https://chat-dev.us-east-1.aws.endpoints.huggingface.cloud/v1/"
    assert result.outs["token"] == TOKEN  # kept for delete; the resource marks it secret
    (create,) = server.api.requests("POST", r"^/v2/endpoint/ml-team$")
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    body = create.body
    assert body["name"] == "chat-dev"
    assert body["provider"] == {"vendor": "aws", "region": "us-east-1"}
    assert body["compute"] == {"accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1",
                               "scaling": {"minReplica": 0, "maxReplica": 2, "scaleToZeroTimeout": 15,
                                           "measure": {"pendingRequests": 4}}}
    assert body["model"]["image"] == {"vLLM": {"url": "vllm/vllm-openai:v0.11.0", "port": 8000,
                                               "healthRoute": "/health"}}
    assert body["model"]["args"] == ["--max-model-len", "8192"]
    assert body["model"]["env"] == {"LOG_LEVEL": "info"}
    assert body["model"]["secrets"] == {"HF_TOKEN": TOKEN}
    assert body["model"]["repository"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert body["type"] == "authenticated"
    assert body["tags"][:2] == ["stack:scalepath-dev", "team:ml"]
    (marker,) = body["tags"][2:]
    assert marker.startswith("scalepath-create:") and result.outs["createMarker"] == marker
    assert result.outs["createdApiUrl"] == server.base_url
    assert len(server.api.requests("GET")) >= 3  # polled through pending/initializing
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in server.api.received)


def test_scale_to_zero_endpoint_counts_as_ready_when_scaled_to_zero(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing", "scaledToZero"])
    assert provider.create(props(server)).outs["status"] == "scaledToZero"


def test_always_on_endpoint_is_not_ready_when_scaled_to_zero(server, provider) -> None:
    # scaledToZero from the first response on: with a short timeout, an `initializing` first would
    # make the message depend on whether the first poll beat the deadline.
    server.api.states["chat-dev"] = deque(["scaledToZero"])
    with pytest.raises(HfEndpointError, match="still 'scaledToZero'"):
        provider.create(props(server, minReplica=1, scaleToZeroTimeout=None, timeoutSeconds=0.2))


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The provider's sleeps, recorded instead of slept: a wall clock proves nothing on a loaded
    machine, and real backoff would cost seconds per run."""
    calls: list[float] = []
    monkeypatch.setattr(hf_endpoint_provider, "time", SimpleNamespace(sleep=calls.append, monotonic=time.monotonic))
    return calls


def _throttled_create(server: RunningServer, *retry_after: str) -> InferenceEndpointProvider:
    """A provider (backoff 0.5 s doubling) and one 429 per ``Retry-After`` value before the create succeeds."""
    server.api.states["chat-dev"] = deque(["running"])
    for value in retry_after:
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 429, {"Retry-After": value},
                                   {"error": "Too many requests"}))
    return InferenceEndpointProvider(retry=RetryPolicy(attempts=4, base_seconds=0.5, max_seconds=5),
                                     poll_seconds=0.02)


def test_429_is_retried_after_retry_after_seconds(server, slept) -> None:
    provider = _throttled_create(server, "1")
    result = provider.create(props(server))
    assert result.outs["status"] == "running"
    first, second = server.api.requests("POST", r"^/v2/endpoint/ml-team$")
    assert slept == [1.0], "Retry-After: 1 was not honoured"
    assert first.body == second.body


def test_503_every_time_gives_up_after_the_bounded_attempts(server, provider, caplog) -> None:
    for _ in range(5):
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 503, {}, {"error": "upstream unavailable"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    message = str(caught.value)
    assert "create ml-team/chat-dev: gave up after 3 attempts" in message
    assert "HTTP 503" in message and "upstream unavailable" in message
    assert TOKEN not in message and TOKEN not in repr(caught.value)
    assert len(server.api.requests("POST")) == 3
    assert server.api.endpoints == {}
    assert caplog.text.count("retrying in") == 2  # logged (and checked for the token by no_token_leaks)


def test_connection_errors_are_retried_then_reported(server, provider) -> None:
    # Hold the port bound but not listening for the whole test: connections are refused, and no
    # other process on the machine can take the port in between.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = {"apiUrl": f"http://127.0.0.1:{sock.getsockname()[1]}/v2"}
        with pytest.raises(HfEndpointError, match=r"gave up after 3 attempts; last error ConnectError"):
            provider.create(props(server, **closed))
    assert server.api.received == []


def test_failed_state_raises_with_the_endpoint_status_message(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing", "failed"])
    server.api.messages["chat-dev"] = "CUDA out of memory while loading weights"
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert "endpoint is 'failed': CUDA out of memory while loading weights" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_timeout_while_initializing_names_the_state_and_the_setting(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing"])
    with pytest.raises(HfEndpointError,
                       match=r"^create ml-team/chat-dev: still 'initializing' after 0.3s \(timeoutSeconds\)"):
        provider.create(props(server, timeoutSeconds=0.3))
    # Polling stopped at the deadline: each poll sleeps poll_seconds (0.02) first, so 0.3 s allow at
    # most 15 GETs however loaded the machine is (a wall-clock bound would be flaky).
    assert 1 <= len(server.api.requests("GET")) <= 15


def test_client_errors_fail_at_once_with_the_api_message(server, provider) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {},
                               {"error": "Instance nvidia-a10g x1 not available in us-east-1"}))
    with pytest.raises(HfEndpointError, match="HTTP 400: Instance nvidia-a10g x1 not available in us-east-1"):
        provider.create(props(server))
    assert len(server.api.requests("POST")) == 1


def test_existing_endpoint_name_is_not_adopted(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    provider.create(props(server))
    with pytest.raises(HfEndpointError, match="already exists and was not created by this deployment; import it"):
        provider.create(props(server, owner="scalepath/staging/chat-endpoint"))  # another stack, same name
    assert len(server.api.endpoints) == 1
    assert not server.api.requests("PUT"), "someone else's endpoint is never touched"


def test_delete_removes_the_endpoint_and_a_missing_one_is_fine(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    provider.delete(created.id, created.outs)
    assert server.api.endpoints == {}
    provider.delete(created.id, created.outs)  # already gone: no error
    deletes = server.api.requests("DELETE", r"^/v2/endpoint/ml-team/chat-dev$")
    assert len(deletes) == 2 and all(d.headers["authorization"] == f"Bearer {TOKEN}" for d in deletes)


def test_read_refreshes_status_and_reports_a_deleted_endpoint_as_gone(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.states["chat-dev"] = deque(["scaledToZero"])
    assert provider.read(created.id, created.outs).outs["status"] == "scaledToZero"
    del server.api.endpoints[("ml-team", "chat-dev")]
    assert provider.read(created.id, created.outs).id == ""


def test_refresh_reports_settings_changed_outside_pulumi_so_the_next_up_restores_them(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.endpoints[("ml-team", "chat-dev")]["compute"]["scaling"]["maxReplica"] = 5  # edited in the UI
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed["maxReplica"] == 5 and refreshed["scaleToZeroTimeout"] == 15
    drift = provider.diff(created.id, refreshed, props(server))
    assert drift.changes and drift.replaces == []
    refreshed = provider.read(created.id, created.outs).outs
    assert not provider.diff(created.id, refreshed, props(server, maxReplica=5)).changes


def test_diff_updates_in_place_or_replaces(server, provider) -> None:
    olds = props(server)
    in_place = provider.diff("ml-team/chat-dev", olds, props(server, maxReplica=4, env={"LOG_LEVEL": "debug"}))
    assert in_place.changes and in_place.replaces == []

    moved = provider.diff("ml-team/chat-dev", olds, props(server, vendor="gcp", region="us-east4"))
    assert moved.changes and sorted(moved.replaces) == ["region", "vendor"]
    assert moved.delete_before_replace, "same name in the namespace: the old one must go first"

    renamed = provider.diff("ml-team/chat-dev", olds, props(server, endpointName="chat-dev-2", region="eu-west-1"))
    assert sorted(renamed.replaces) == ["endpointName", "region"] and not renamed.delete_before_replace

    assert not provider.diff("ml-team/chat-dev", olds, props(server)).changes
    assert provider.diff("ml-team/chat-dev", olds, props(server, token="hf_" + "r" * 30)).replaces == []


def test_update_sends_only_what_changed_then_waits(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.states["chat-dev"] = deque(["updating", "updating", "running"])
    news = props(server, maxReplica=4, env={"LOG_LEVEL": "debug"},
                 image={"engine": "tgi", "url": "ghcr.io/huggingface/text-generation-inference:3.3.4"})
    result = provider.update(created.id, created.outs, news)

    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == {"compute": {"scaling": {"maxReplica": 4}},
                        "model": {"env": {"LOG_LEVEL": "debug"},
                                  "image": {"tgi": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.4"}}}}
    assert put.headers["authorization"] == f"Bearer {TOKEN}"
    assert result.outs["status"] == "running" and result.outs["maxReplica"] == 4
    assert server.api.endpoints[("ml-team", "chat-dev")]["compute"]["scaling"]["maxReplica"] == 4


def test_update_failed_state_carries_the_message(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.states["chat-dev"] = deque(["updating", "updateFailed"])
    server.api.messages["chat-dev"] = "image pull failed"
    with pytest.raises(HfEndpointError, match="endpoint is 'updateFailed': image pull failed"):
        provider.update(created.id, created.outs, props(server, maxReplica=3))


def test_pause_and_resume_follow_the_paused_input(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    paused = provider.update(created.id, created.outs, props(server, paused=True))
    assert paused.outs["status"] == "paused"
    assert len(server.api.requests("POST", "/pause$")) == 1 and not server.api.requests("PUT")
    server.api.states["chat-dev"] = deque(["initializing", "running"])
    resumed = provider.update(created.id, paused.outs, props(server))
    assert resumed.outs["status"] == "running" and len(server.api.requests("POST", "/resume$")) == 1


def test_token_rotation_updates_state_without_touching_the_endpoint(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    rotated = "hf_" + "R0tated" + "y" * 24
    result = provider.update(created.id, created.outs, props(server, token=rotated))
    assert result.outs["token"] == rotated
    assert not server.api.requests("PUT")
    assert server.api.received[-1].headers["authorization"] == f"Bearer {rotated}"


def test_check_rejects_hardware_missing_from_the_table_before_any_call(server, provider) -> None:
    result = provider.check({}, props(server, instanceType="nvidia-a10g", instanceSize="x2"))
    assert [f.property for f in result.failures] == ["instanceType"]
    assert "aws/nvidia-a10g/x2" in result.failures[0].reason and "aws/nvidia-a10g/x4" in result.failures[0].reason
    mismatch = provider.check({}, props(server, accelerator="cpu"))
    assert "is a 'gpu' instance, not 'cpu'" in mismatch.failures[0].reason
    assert server.api.received == []


def _compute(instance_type: str, size: str, status: str = "available") -> dict[str, Any]:
    return {"id": f"aws-us-east-1-{instance_type}-{size}", "accelerator": "gpu", "instanceType": instance_type,
            "instanceSize": size, "architecture": "NVIDIA A10G", "numAccelerators": 1, "numCpus": 4,
            "memoryGb": 16, "gpuMemoryGb": 24, "pricePerHour": 1.0, "status": status,
            "quota": {"maxAccelerators": 4, "usedAccelerators": 0}}


def test_check_consults_the_live_hardware_list_when_a_token_is_known(server, provider) -> None:
    server.api.hardware = [{"name": "aws", "regions": [{"name": "us-east-1", "computes": [
        _compute("nvidia-a10g", "x1"), _compute("nvidia-l4", "x1", status="not_available")]}]}]
    assert provider.check({}, props(server)).failures == []
    (listing,) = server.api.requests("GET", r"^/v2/provider/ml-team$")
    assert listing.headers["authorization"] == f"Bearer {TOKEN}"

    elsewhere = provider.check({}, props(server, region="eu-west-1"))
    assert [f.property for f in elsewhere.failures] == ["region"]
    unavailable = provider.check({}, props(server, instanceType="nvidia-l4"))
    assert "is not_available" in unavailable.failures[0].reason


def test_check_skips_what_preview_does_not_know_yet(server, provider) -> None:
    result = provider.check({}, props(server, token=rpc.UNKNOWN, instanceType=rpc.UNKNOWN))
    assert result.failures == [] and server.api.received == []


def test_api_url_defaults_to_env_then_huggingface_hub(monkeypatch) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert default_api_url() == constants.INFERENCE_ENDPOINTS_ENDPOINT == "https://api.endpoints.huggingface.cloud/v2"
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:1234/v2")
    assert default_api_url() == "http://127.0.0.1:1234/v2"


def test_env_api_url_is_used_when_the_resource_sets_none(server, provider, monkeypatch) -> None:
    monkeypatch.setenv(API_URL_ENV, server.base_url)
    server.api.states["chat-dev"] = deque(["running"])
    inputs = props(server)
    del inputs["apiUrl"]
    assert provider.create(inputs).outs["status"] == "running"
    assert constants.INFERENCE_ENDPOINTS_ENDPOINT == "https://api.endpoints.huggingface.cloud/v2", "override leaked"


def test_provider_survives_pulumi_serialization(server) -> None:
    provider = InferenceEndpointProvider(retry=FAST, poll_seconds=0.02)
    revived = dill.loads(base64.b64decode(serialize_provider(provider)))
    assert revived.retry == FAST and revived.poll_seconds == 0.02
    server.api.states["chat-dev"] = deque(["running"])
    assert revived.create(props(server)).outs["status"] == "running"


# -- Faults: secrets in API text, lost answers, the API URL of record, timeouts, odd answers ------


def test_an_api_that_echoes_the_authorization_header_gets_its_text_scrubbed(server, provider) -> None:
    # Echoed as a proxy would: the header, a token-shaped value elsewhere, and a container secret.
    opaque = "opaque-proxy-credential-1234"  # not token-shaped: only the exact-value rule catches it
    echo = {"error": f"bad request (headers: authorization: Bearer {opaque}; x-debug: {TOKEN}; "
                     f"env HF_TOKEN={TOKEN}; key sk-{'a' * 40})"}
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {}, echo))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, token=opaque))
    message = str(caught.value)
    assert "HTTP 400: bad request" in message and "[redacted]" in message
    for secret in (opaque, TOKEN, "sk-" + "a" * 40):
        assert secret not in message and secret not in repr(caught.value)
    # The library's exception holds the request and its Authorization header: it must not ride along.
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_retry_warnings_are_scrubbed_too(server, provider, caplog) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 429, {"Retry-After": "0"},
                               {"error": f"slow down, Bearer {TOKEN}"}))
    provider.create(props(server))
    assert "slow down, [redacted]" in caplog.text  # no_token_leaks checks the token itself


def test_a_create_whose_answer_is_lost_adopts_its_own_endpoint(server, provider) -> None:
    # The API created the endpoint, then the gateway answered 502: retrying would meet a 409.
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 502, {}, {"error": "bad gateway"}, commit=True))
    result = provider.create(props(server))
    assert result.outs["status"] == "running"
    assert len(server.api.requests("POST", r"^/v2/endpoint/ml-team$")) == 1, "read before retrying"
    assert list(server.api.endpoints) == [("ml-team", "chat-dev")]
    assert result.outs["createMarker"] in server.api.endpoints[("ml-team", "chat-dev")]["tags"]


def test_a_create_that_times_out_after_committing_adopts_its_own_endpoint(server) -> None:
    provider = InferenceEndpointProvider(retry=FAST, poll_seconds=0.02, request_timeout_seconds=0.2)
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 200, {}, {}, commit=True, hang=True))
    result = provider.create(props(server))
    assert result.outs["status"] == "running"
    assert len(server.api.requests("POST", r"^/v2/endpoint/ml-team$")) == 1
    assert len(server.api.endpoints) == 1


def test_a_lost_answer_then_409_adopts_only_with_our_marker(server, provider) -> None:
    # The read after the 500 misses the endpoint (committed later); the retry meets a 409; the
    # endpoint carries this create's marker, so it is ours.
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 500, {}, {"error": "oops"}),
                      Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 404, {}, {"error": "not found"}))
    original = server.api._route

    def commit_late(method: str, path: str, body: Any) -> Any:
        if method == "POST" and not server.api.endpoints:  # the first (failed) POST commits now
            original(method, path, body)
        return original(method, path, body)

    server.api._route = commit_late  # type: ignore[method-assign]
    result = provider.create(props(server))
    assert result.outs["status"] == "running" and len(server.api.endpoints) == 1
    assert len(server.api.requests("POST")) == 2


def test_someone_elses_endpoint_met_after_a_lost_answer_is_not_adopted(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    provider.create(props(server))
    server.api.endpoints[("ml-team", "chat-dev")]["tags"] = ["team:other"]  # made by someone else
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 504, {}, {"error": "gateway timeout"}))
    with pytest.raises(HfEndpointError, match="not created by this deployment"):
        provider.create(props(server))
    assert server.api.endpoints[("ml-team", "chat-dev")]["tags"] == ["team:other"]


@pytest.fixture
def other_server() -> Iterator[RunningServer]:
    with RunningServer() as running:
        yield running


def test_read_update_delete_use_the_api_url_that_created_the_endpoint(server, other_server, provider,
                                                                     monkeypatch) -> None:
    monkeypatch.setenv(API_URL_ENV, server.base_url)
    server.api.states["chat-dev"] = deque(["running"])
    inputs = props(server)
    del inputs["apiUrl"]  # the URL comes from the environment...
    created = provider.create(inputs)
    assert created.outs["createdApiUrl"] == server.base_url

    monkeypatch.setenv(API_URL_ENV, other_server.base_url)  # ...which later points elsewhere
    assert provider.read(created.id, created.outs).outs["status"] == "running"
    provider.delete(created.id, created.outs)
    assert server.api.endpoints == {}, "the delete went to another API and counted its 404 as success"
    assert other_server.api.received == []


def test_an_update_that_points_the_endpoint_at_another_api_is_refused(server, other_server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    with pytest.raises(HfEndpointError, match=r"was created through .* apiUrl \(or .*\) now says"):
        provider.update(created.id, created.outs, props(other_server, maxReplica=3))
    assert other_server.api.received == [] and not server.api.requests("PUT")


def test_state_written_before_the_api_url_was_recorded_still_works(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    old_state = {k: v for k, v in created.outs.items() if k not in ("createdApiUrl", "createMarker")}
    assert provider.read(created.id, old_state).outs["status"] == "running"
    provider.delete(created.id, old_state)
    assert server.api.endpoints == {}


def test_every_call_has_a_client_timeout(server) -> None:
    provider = InferenceEndpointProvider(retry=FAST, poll_seconds=0.02, request_timeout_seconds=0.2)
    for _ in range(FAST.attempts):
        server.api.script(Scripted("DELETE", r"^/v2/endpoint/ml-team/chat-dev$", 200, {}, {}, hang=True))
    with pytest.raises(HfEndpointError, match=r"delete ml-team/chat-dev: gave up after 3 attempts; last error ReadTi"):
        provider.delete("ml-team/chat-dev", props(server))


def test_a_hanging_call_does_not_block_calls_to_another_endpoint(server, other_server) -> None:
    # No process-wide lock across network calls: while one read hangs, a create elsewhere completes.
    slow = InferenceEndpointProvider(retry=RetryPolicy(attempts=1), poll_seconds=0.02, request_timeout_seconds=60)
    fast = InferenceEndpointProvider(retry=FAST, poll_seconds=0.02)
    server.api.script(Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 404, {}, {"error": "gone"}, hang=True))
    results: list[Any] = []
    reader = threading.Thread(target=lambda: results.append(slow.read("ml-team/chat-dev", props(server))))
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not server.api.requests("GET"):  # the slow read is in flight
            assert time.monotonic() < deadline
            time.sleep(0.005)
        other_server.api.states["chat-dev"] = deque(["running"])
        assert fast.create(props(other_server)).outs["status"] == "running"
        assert reader.is_alive() and results == [], "the slow read should still be waiting"
    finally:
        server.api.release()
        reader.join(timeout=60)
    assert results and results[0].id == ""


@pytest.mark.parametrize(("retry_after", "expected"), [
    (("nan", "inf", "-3"), [0.5, 1.0, 2.0]),  # unreadable: our own backoff, no ValueError
    (("Wed, 21 Oct 2015 07:28:00 GMT",), [0.0]),  # an HTTP date in the past: at once
    (("3600", "5"), [5.0, 5.0]),  # an hour asked for: the 5 s cap wins; exactly the cap: as asked
], ids=["non-finite-or-negative", "http-date", "capped"])
def test_retry_after_that_is_not_plain_seconds(server, slept, retry_after, expected) -> None:
    provider = _throttled_create(server, *retry_after)
    assert provider.create(props(server)).outs["status"] == "running"
    assert slept == expected


def test_backoff_doubles_from_its_base_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, base_seconds=0.5, max_seconds=5)
    assert [policy.delay(failures, None) for failures in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert policy.delay(1, 3600.0) == 5.0 and policy.delay(3, 0.0) == 0.0 and policy.delay(2, 4.5) == 4.5


@pytest.mark.parametrize(("answer", "expected"), [
    (Scripted("GET", "", 200, {}, text="<html><body>Sign in to the proxy</body></html>", content_type="text/html"),
     "answered with something that is not JSON"),
    (Scripted("GET", "", 200, {}, {"name": "chat-dev", "status": None}), "not an Inference Endpoint"),
    (Scripted("GET", "", 200, {}, ["not", "an", "object"]), "not an Inference Endpoint"),
    (Scripted("GET", "", 500, {}, ["an", "error", "list"]), "not an Inference Endpoint"),
], ids=["html-200", "status-null", "json-list", "error-body-list"])
def test_odd_answers_are_api_faults_with_a_clear_message(server, provider, answer: Scripted, expected: str) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.script(Scripted(answer.method, r"^/v2/endpoint/ml-team/chat-dev$", answer.status, answer.headers,
                               answer.body, text=answer.text, content_type=answer.content_type))
    with pytest.raises(HfEndpointError, match=expected) as caught:
        provider.read(created.id, created.outs)
    message = str(caught.value)
    assert message.startswith(f"get ml-team/chat-dev: the API at {server.base_url} answered with ")
    if "JSON" in expected:
        assert message.endswith("(Expecting value at line 1). An HTML page usually means apiUrl points at a web page "
                                "or a proxy's login page, not the Inference Endpoints API (.../v2).")
    else:  # the library's own error, named by its type
        assert re.search(r"an Inference Endpoint \((TypeError|KeyError|AttributeError|ValueError): .*\); is apiUrl "
                         r"the Inference Endpoints API, and is huggingface_hub up to date\?$", message), message


# -- Hostile APIs: redirects elsewhere, secrets echoed in escaped forms (issue 27, item 2) ------------


def test_a_redirect_to_another_host_is_refused_before_the_body_is_sent_there(server, other_server,
                                                                             provider) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 307,
                               {"Location": f"{other_server.base_url}/endpoint/ml-team"}, {}))
    with pytest.raises(HfEndpointError, match=r"redirected the request to another origin \(http://127\.0\.0\.1:\d+\); "
                                              r"refused without following it") as caught:
        provider.create(props(server))
    assert str(caught.value).endswith(
        "refused without following it, because the request carries the endpoint's secrets. Point apiUrl (or "
        "$SCALEPATH_HF_ENDPOINTS_API) at the Inference Endpoints API itself.")
    assert other_server.api.received == [], "the create's body (container secrets) went to the other host"
    assert len(server.api.requests("POST")) == 1, "a refused redirect is not retried"
    assert TOKEN not in str(caught.value)


@pytest.fixture
def tls(tmp_path) -> Iterator[Tls]:
    """A CA that ``huggingface_hub``'s client trusts (its documented ``set_client_factory``, as behind a
    company proxy), for API servers that speak TLS and plain HTTP on one port."""
    made, previous = make_tls(tmp_path), hf_http._GLOBAL_CLIENT_FACTORY
    hf_http.set_client_factory(lambda: httpx2.Client(verify=made.client(), follow_redirects=True, timeout=None,
                                                     event_hooks={"request": [hf_http.hf_request_event_hook]}))
    yield made
    hf_http.set_client_factory(previous)  # closes the session built with this CA


#: Location -> the origin the refusal names; ``{port}`` is the API's own port, ``{other}`` another server's.
AWAY = {
    "https-to-http": ("http://127.0.0.1:{port}/v2/endpoint/ml-team", "http://127.0.0.1:{port}"),
    "other-port": ("https://127.0.0.1:{other}/v2/endpoint/ml-team", "https://127.0.0.1:{other}"),
    "other-host": ("https://localhost:{other}/v2/endpoint/ml-team", "https://localhost:{other}"),
    "metadata": ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://169.254.169.254"),
    "scheme-relative": ("//localhost:{other}/v2/endpoint/ml-team", "https://localhost:{other}"),
    "user-info": ("http://user:pass@127.0.0.1:{other}/v2/endpoint/ml-team", "http://127.0.0.1:{other}"),
    "user-info-trick": ("https://127.0.0.1:{port}@localhost:{other}/v2/endpoint/ml-team", "https://localhost:{other}"),
    "no-host": ("http:///v2/endpoint/ml-team", "http://127.0.0.1"),  # httpx keeps the host, not the scheme
    "unreadable": ("https:x", "an unreadable Location"),  # httpx cannot follow it: not a transport fault to retry
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("case", list(AWAY))
def test_a_redirect_to_another_origin_sends_nothing_there(tls, provider, status: int, case: str) -> None:
    """Issue 27's probe "not tried": HTTPS to HTTP on the same host and port, another port or host, a
    metadata address, user-info and scheme-relative Locations. The other origin receives nothing
    (both servers speak TLS and plain HTTP, so either scheme would be seen), the API port gets no
    plain-HTTP request, and the call is not retried. A connection to the metadata address, which no
    test can listen on, would fail the test through the autouse network guard (tests/conftest.py)."""
    with RunningServer(tls=tls) as server, RunningServer(tls=tls) as other:
        location, origin = (text.format(port=server.port, other=other.port) for text in AWAY[case])
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", status, {"Location": location}, {}))
        with pytest.raises(HfEndpointError) as caught:
            provider.create(props(server))
    message = str(caught.value)
    assert (f"the API at {server.base_url} redirected the request to another origin ({origin}); refused without "
            "following it") in message, message
    assert other.api.received == [], "the create (token, container secrets) reached the other origin"
    assert len(server.api.requests("POST")) == 1, "a refused redirect is not retried"
    assert all(r.tls for r in server.api.received), "a request went over plain HTTP"
    assert TOKEN not in message and "pass" not in message


def test_a_same_origin_redirect_is_followed_over_tls_with_the_token(tls, provider) -> None:
    """The refusal is about origins, not redirects: ``..`` that resolves back to the API is followed."""
    with RunningServer(tls=tls) as server:
        server.api.states["chat-dev"] = deque(["running"])
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 307,
                                   {"Location": "../../v2/endpoint/ml-team"}, {}))
        assert provider.create(props(server)).outs["status"] == "running"
    posts = server.api.requests("POST")
    assert len(posts) == 2 and all(r.tls for r in server.api.received)
    assert posts[1].body["model"]["secrets"] == {"HF_TOKEN": TOKEN}
    assert posts[1].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_percent_encoded_crlf_in_a_location_injects_no_header(tls, provider) -> None:
    with RunningServer(tls=tls) as server:
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 307,
                                   {"Location": "/v2/endpoint/ml-team%0d%0aX-Injected:%201"}, {}),
                          Scripted("POST", "X-Injected", 400, {}, {"error": "no such namespace"}))
        with pytest.raises(HfEndpointError, match="HTTP 400"):
            provider.create(props(server))
    assert [r.path for r in server.api.received] == ["/v2/endpoint/ml-team",
                                                      "/v2/endpoint/ml-team%0d%0aX-Injected:%201"]
    assert all("x-injected" not in r.headers for r in server.api.received)


def test_a_redirect_loop_is_one_clear_error_not_retried(tls, provider) -> None:
    """httpx2 stops after 20 redirects (the first request and 20 more); a loop is no transient fault:
    retried, it cost every attempt's backoff and ended in "unavailable or rate-limiting"."""
    with RunningServer(tls=tls) as server:
        server.api.script(*[Scripted("POST", r"^/v2/endpoint/ml-team$", 307, {"Location": "/v2/endpoint/ml-team"},
                                     {})] * 100)
        with pytest.raises(HfEndpointError) as caught:
            provider.create(props(server))
    assert str(caught.value) == (
        f"create ml-team/chat-dev: the API at {server.base_url} redirected the request more than 20 times (a "
        "redirect loop); not retried. Point apiUrl (or $SCALEPATH_HF_ENDPOINTS_API) at the Inference Endpoints API "
        "itself.")
    assert len(server.api.requests("POST")) == 21


@pytest.mark.parametrize("secret", [
    'opaque"pass\\word-1234',  # a quote and a backslash: \" and \\ in JSON
    "opaque-pässwörd-1234",  # non-ASCII: \u00e4 with ensure_ascii
    "opaque_secret_value",  # an API may escape any character: \u005f
], ids=["quote-backslash", "non-ascii", "escaped-underscore"])
def test_a_secret_echoed_json_escaped_is_scrubbed(server, provider, secret: str) -> None:
    echoed = json.dumps({"DB_PASSWORD": secret}).replace("_", "\\u005f")  # as the API saw the request
    also = json.dumps(json.dumps(secret))  # escaped twice, as a log line inside JSON would be
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {},
                               {"error": f"invalid secrets {echoed}; raw {also}; {secret.upper()}"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, secrets={"DB_PASSWORD": secret}))
    message = str(caught.value)
    assert "invalid secrets" in message and message.count("[redacted]") >= 2, message
    for fragment in ("pass", "p\\u00e4", "pässwörd", "secret\\u005fvalue", "secret_value"):
        assert fragment not in message.replace(secret.upper(), ""), message
    assert secret.upper() in message, "only the secret itself, not every similar text, is scrubbed"


def test_a_secret_echoed_html_escaped_is_scrubbed(server, provider) -> None:
    """A proxy's HTML error page escapes what it echoes: named entities, decimal and hex character
    references, and an ampersand escaped twice (issue 27, class 2, a variant JSON escaping missed)."""
    secret = "opaque<pass>&word's_1234"
    once = html.escape(secret)  # &lt; &gt; &amp; &#x27;
    numeric = "".join(f"&#{ord(c)};" for c in secret)
    twice = html.escape(once).replace("_", "&#x5F;")
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {},
                               {"error": f"<p>bad secret {once}</p> {numeric} {twice}"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, secrets={"DB_PASSWORD": secret}))
    message = str(caught.value)
    assert "bad secret" in message and message.count("[redacted]") == 3, message
    assert "opaque" not in message and "&#111;" not in message, message


# -- A failed create leaves an endpoint the next `up` adopts (issue 27, item 6) --------------------


def _adopted_by_the_next_up(server: RunningServer, provider: InferenceEndpointProvider, **changes: Any) -> Any:
    """The next `up`: the same resource creates again (Pulumi recorded nothing), maybe with changed
    settings; it must adopt the endpoint the failed create left, not refuse it."""
    server.api.states["chat-dev"] = deque(["initializing", "running"])
    result = provider.create(props(server, **changes))
    assert result.outs["status"] == "running"
    assert list(server.api.endpoints) == [("ml-team", "chat-dev")], "one endpoint, adopted"
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")  # made to match this up
    assert put.body["model"]["secrets"] == {"HF_TOKEN": TOKEN}
    assert result.outs["createMarker"] in server.api.endpoints[("ml-team", "chat-dev")]["tags"]
    return put


def test_a_create_that_timed_out_waiting_is_adopted_by_the_next_up(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing"])
    with pytest.raises(HfEndpointError, match="still 'initializing'"):
        provider.create(props(server, timeoutSeconds=0.1))
    put = _adopted_by_the_next_up(server, provider, maxReplica=3)
    assert put.body["compute"]["scaling"]["maxReplica"] == 3, "this up's settings, not the failed one's"


def test_an_endpoint_that_failed_is_adopted_and_redeployed_by_the_next_up(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing", "failed"])
    with pytest.raises(HfEndpointError, match="endpoint is 'failed'"):
        provider.create(props(server))
    put = _adopted_by_the_next_up(server, provider, image={"engine": "vllm", "url": "vllm/vllm-openai:v0.11.1"})
    assert put.body["model"]["image"] == {"vLLM": {"url": "vllm/vllm-openai:v0.11.1"}}


@pytest.mark.parametrize("answer", [
    Scripted("POST", r"^/v2/endpoint/ml-team$", 200, {}, text="<html>proxy</html>", content_type="text/html",
             commit=True),
    Scripted("POST", r"^/v2/endpoint/ml-team$", 200, {}, {"name": "chat-dev", "status": None}, commit=True),
], ids=["html-200", "wrong-schema-200"])
def test_an_unreadable_answer_after_the_create_committed_adopts_the_endpoint(server, provider,
                                                                             answer: Scripted) -> None:
    server.api.script(answer)
    _adopted_by_the_next_up(server, provider)  # the same create looks before giving up
    assert len(server.api.requests("POST", r"^/v2/endpoint/ml-team$")) == 1


def test_a_5xx_after_commit_and_a_failing_read_still_end_with_the_endpoint_adopted(server, provider,
                                                                                    caplog) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 502, {}, {"error": "bad gateway"}, commit=True),
                      *[Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 500, {}, {"error": "down"})] * 3)
    _adopted_by_the_next_up(server, provider)  # the read failed; the retried POST met a 409 and looked again
    assert len(server.api.requests("GET", r"^/v2/endpoint/ml-team/chat-dev$")) >= 4
    assert ("create ml-team/chat-dev: could not check for an endpoint the last attempt may have created (get "
            "ml-team/chat-dev: gave up after 3 attempts; last error HTTP 500: down. The Inference Endpoints API is "
            "unavailable or rate-limiting; retry later.); going on") in [r.getMessage() for r in caplog.records]


def test_an_endpoint_left_in_another_region_is_not_adopted_into_a_state_that_lies(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["failed"])
    with pytest.raises(HfEndpointError, match="endpoint is 'failed'"):
        provider.create(props(server))
    with pytest.raises(HfEndpointError, match=r"has region 'us-east-1' \(asked: 'eu-west-1'\), which an update "
                                              r"cannot change; delete that endpoint"):
        provider.create(props(server, region="eu-west-1"))
    assert not server.api.requests("PUT")


def test_the_marker_is_the_same_for_the_next_up_and_differs_per_stack_resource_and_name(server) -> None:
    base = props(server)
    assert create_marker(base) == create_marker(props(server, maxReplica=4, token="hf_" + "r" * 30))
    others = [props(server, owner="scalepath/prod/chat-endpoint"), props(server, owner="scalepath/dev/other"),
              props(server, endpointName="chat-dev-2"), props(server, namespace="other-team")]
    assert len({create_marker(base), *map(create_marker, others)}) == 5
    assert create_marker(base).startswith("scalepath-create:")


def test_removing_the_revision_sends_an_explicit_reset(server, provider) -> None:
    # issue 23, finding 6: huggingface_hub drops None, so the endpoint kept the pinned revision.
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server, revision="0e9e39f249a16976918f6564b8830bc894c89659"))
    server.api.states["chat-dev"] = deque(["running"])
    provider.update(created.id, created.outs, props(server))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == {"model": {"revision": constants.DEFAULT_REVISION}}


def test_removing_the_scaling_metric_is_refused_before_any_call(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    with pytest.raises(HfEndpointError, match="scalingMetric was removed"):
        provider.update(created.id, created.outs, props(server, scalingMetric=None, scalingThreshold=None))
    assert not server.api.requests("PUT")


def test_refresh_reports_a_changed_revision_and_scaling_measure(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    pinned = "0e9e39f249a16976918f6564b8830bc894c89659"
    created = provider.create(props(server, revision=pinned))
    live = server.api.endpoints[("ml-team", "chat-dev")]
    live["model"]["revision"] = "main"  # changed outside Pulumi
    live["compute"]["scaling"]["measure"] = {"hardwareUsage": 80}
    refreshed = provider.read(created.id, created.outs).outs
    assert (refreshed["revision"], refreshed["scalingMetric"], refreshed["scalingThreshold"]) == (
        "main", "hardwareUsage", 80)
    assert provider.diff(created.id, refreshed, props(server, revision=pinned)).changes


# -- Retry and adopt at their edges (issue 29: each test kills mutants of the retry/adopt logic) -----


@pytest.mark.parametrize(("retry_after", "expected"), [
    (("0",), [0.0]),  # exactly zero: honoured (retry at once), not read as unreadable
    (("soon", "Wed, 21 Oct 2015 07:28:00"), [0.5, 1.0]),  # not a number, a date without a zone: our backoff
], ids=["zero", "unparsable-or-zoneless"])
def test_retry_after_at_its_edges(server, slept, retry_after, expected) -> None:
    provider = _throttled_create(server, *retry_after)
    assert provider.create(props(server)).outs["status"] == "running"
    assert slept == expected
    assert not server.api.requests("GET"), "a 429 is a refusal, not a lost answer: nothing to look for"


def test_an_unreadable_retry_after_is_logged_clipped(server, slept, caplog) -> None:
    value = "x" * 50
    provider = _throttled_create(server, value)
    provider.create(props(server))
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("ignoring")]
    assert warning.getMessage() == f"ignoring an unreadable Retry-After header {'x' * 40!r}; using our own backoff"


def test_giving_up_on_a_create_says_it_may_have_reached_the_api_and_keeps_the_status(server, provider,
                                                                                    caplog) -> None:
    for _ in range(3):
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 503, {}, {"error": "upstream unavailable"}))
    with pytest.raises(hf_endpoint_provider.ApiError) as caught:
        provider.create(props(server))
    assert caught.value.status == 503
    assert str(caught.value) == (
        "create ml-team/chat-dev: gave up after 3 attempts; last error HTTP 503: upstream unavailable. The Inference "
        "Endpoints API is unavailable or rate-limiting; retry later. The last attempt may have reached the API: "
        "check whether the endpoint exists before retrying.")
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries == ["create ml-team/chat-dev: HTTP 503: upstream unavailable; retrying in 0.0s (1/3)",
                       "create ml-team/chat-dev: HTTP 503: upstream unavailable; retrying in 0.0s (2/3)"]


def test_giving_up_after_429s_does_not_suggest_the_api_acted(server, provider) -> None:
    for _ in range(3):
        server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 429, {"Retry-After": "0"},
                                   {"error": "slow down"}))
    with pytest.raises(hf_endpoint_provider.ApiError) as caught:
        provider.create(props(server))
    assert caught.value.status == 429
    assert str(caught.value) == (
        "create ml-team/chat-dev: gave up after 3 attempts; last error HTTP 429: slow down. The Inference Endpoints "
        "API is unavailable or rate-limiting; retry later.")
    assert not server.api.requests("GET")


def test_an_http_error_without_a_message_names_the_status_line(server, provider) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {}, {}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    # No message in the body: huggingface_hub's own first line ("Bad request:" for a 400) stands in.
    assert str(caught.value) == "create ml-team/chat-dev failed: HTTP 400: Bad request:"


def test_a_paused_create_pauses_the_new_endpoint(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    result = provider.create(props(server, paused=True))
    assert result.outs["status"] == "paused"
    (pause,) = server.api.requests("POST", r"^/v2/endpoint/ml-team/chat-dev/pause$")
    assert pause.headers["authorization"] == f"Bearer {TOKEN}"


def test_an_adopted_endpoint_someone_paused_is_resumed(server, provider, caplog) -> None:
    server.api.states["chat-dev"] = deque(["initializing"])
    with pytest.raises(HfEndpointError, match="still 'initializing'"):
        provider.create(props(server, timeoutSeconds=0.1))
    # The adopting read and the update find it paused; resumed, it initializes, then runs.
    server.api.states["chat-dev"] = deque(["paused", "paused", "initializing", "running"])
    result = provider.create(props(server))
    assert result.outs["status"] == "running"
    assert len(server.api.requests("POST", r"^/v2/endpoint/ml-team/chat-dev/resume$")) == 1
    marker = result.outs["createMarker"]
    assert (f"create ml-team/chat-dev: the endpoint a failed attempt created is ours (tag {marker}); adopting it"
            in [r.getMessage() for r in caplog.records])


def test_an_adopted_endpoint_meant_to_be_paused_stays_paused(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["initializing"])
    with pytest.raises(HfEndpointError, match="still 'initializing'"):
        provider.create(props(server, timeoutSeconds=0.1))
    server.api.states["chat-dev"] = deque(["paused"])
    assert provider.create(props(server, paused=True)).outs["status"] == "paused"
    assert not server.api.requests("POST", "/resume$")


def test_a_create_retried_after_a_5xx_that_changed_nothing_adopts_nothing(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 500, {}, {"error": "oops"}))
    assert provider.create(props(server)).outs["status"] == "running"
    assert len(server.api.requests("POST", r"^/v2/endpoint/ml-team$")) == 2
    assert not server.api.requests("PUT"), "nothing was adopted: nothing to update"


def test_a_name_taken_then_gone_asks_to_run_again(server, provider) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 409, {},
                               {"error": "Endpoint chat-dev already exists"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert str(caught.value) == ("create ml-team/chat-dev failed: the API reported the name taken, then not found; "
                                 "run again")


def test_an_adopted_endpoint_gets_this_ups_container_args(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["failed"])
    with pytest.raises(HfEndpointError, match="endpoint is 'failed'"):
        provider.create(props(server))
    put = _adopted_by_the_next_up(server, provider, args=["--max-model-len", "4096"])
    assert put.body["model"]["args"] == ["--max-model-len", "4096"]


def test_a_failing_update_of_an_adopted_endpoint_says_so(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["failed"])
    with pytest.raises(HfEndpointError, match="endpoint is 'failed'"):
        provider.create(props(server))
    server.api.script(Scripted("PUT", r"^/v2/endpoint/ml-team/chat-dev$", 400, {}, {"error": "bad image"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert str(caught.value) == "update adopted ml-team/chat-dev failed: HTTP 400: bad image"


def test_an_unreadable_create_answer_and_a_failing_read_fail_with_the_answer(server, provider, caplog) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 200, {}, text="<html>proxy</html>",
                               content_type="text/html", commit=True),
                      *[Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 500, {}, {"error": "down"})] * 3)
    with pytest.raises(HfEndpointError, match="answered with something that is not JSON"):
        provider.create(props(server))
    (looked,) = [r.getMessage() for r in caplog.records if "could not check" in r.getMessage()]
    assert looked == ("create ml-team/chat-dev: could not check for an endpoint the last attempt may have created "
                      "(get ml-team/chat-dev: gave up after 3 attempts; last error HTTP 500: down. The Inference "
                      "Endpoints API is unavailable or rate-limiting; retry later.); going on")


def test_a_private_endpoint_is_created_with_its_private_link(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    provider.create(props(server, type="private", privateLink={"accountId": "123456789012", "region": "us-east-1"},
                          revision="0e9e39f249a16976918f6564b8830bc894c89659"))
    (create,) = server.api.requests("POST", r"^/v2/endpoint/ml-team$")
    assert create.body["type"] == "private"
    assert create.body["privateService"] == {"accountId": "123456789012", "region": "us-east-1"}
    model = create.body["model"]
    assert (model["revision"], model["task"], model["framework"]) == (
        "0e9e39f249a16976918f6564b8830bc894c89659", "text-generation", "pytorch")


# -- check at its edges -----------------------------------------------------------------------------


def _failures(result: Any) -> list[tuple[str, str]]:
    return [(f.property, f.reason) for f in result.failures]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"minReplica": 2, "maxReplica": 2}, []),  # exactly at the bound
    ({"minReplica": 3, "maxReplica": 2}, [("minReplica", "must be <= maxReplica")]),
    ({"minReplica": 2, "maxReplica": None}, [("minReplica", "must be <= maxReplica")]),  # maxReplica unset: 1
    ({"minReplica": None, "maxReplica": 1}, []),  # minReplica unset: 1
    ({"type": "secret"}, [("type", "must be one of public, authenticated, private")]),
    ({"scalingMetric": "requests"}, [("scalingMetric", "must be one of pendingRequests, hardwareUsage")]),
    ({"scalingMetric": None}, []),
], ids=["min-equals-max", "min-above-max", "max-unset", "min-unset", "access-type", "metric", "no-metric"])
def test_check_refuses_what_the_api_would_at_its_edges(server, provider, changes, expected) -> None:
    news = {k: v for k, v in props(server, token="", **changes).items() if v is not None}  # no token: no live list
    assert _failures(provider.check({}, news)) == expected
    assert server.api.received == []


def test_check_takes_low_availability_and_names_what_is_not_offered(server, provider, caplog) -> None:
    server.api.hardware = [{"name": "aws", "regions": [{"name": "us-east-1", "computes": [
        _compute("nvidia-a10g", "x1", status="low_availability"),
        _compute("nvidia-l4", "x1", status="not_available")]}]}]
    assert provider.check({}, props(server)).failures == []
    assert _failures(provider.check({}, props(server, region="eu-west-1"))) == [
        ("region", "aws/eu-west-1/gpu/nvidia-a10g/x1 is not offered to namespace ml-team")]
    assert _failures(provider.check({}, props(server, instanceType="nvidia-l4"))) == [
        ("instanceType", "aws-us-east-1-nvidia-l4-x1 is not_available; choose other hardware")]
    server.api.script(Scripted("GET", r"^/v2/provider/ml-team$", 403, {}, {"error": "no access"}))
    assert provider.check({}, props(server)).failures == [], "the static table passed: the live list is a bonus"
    assert ("could not list Inference Endpoints hardware: list hardware for ml-team/chat-dev failed: HTTP 403: "
            "no access") in [r.getMessage() for r in caplog.records]


# -- update and refresh, field by field ----------------------------------------------------------------


@pytest.mark.parametrize(("changes", "expected"), [
    ({"scalingThreshold": 8}, {"compute": {"scaling": {"measure": {"pendingRequests": 8}}}}),
    ({"scalingMetric": "hardwareUsage", "scalingThreshold": 80},
     {"compute": {"scaling": {"measure": {"hardwareUsage": 80}}}}),
    ({"image": None}, {"model": {"image": {"huggingface": {}}}}),  # back to HF's own image
    ({"revision": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"},
     {"model": {"revision": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"}}),
], ids=["threshold", "metric", "image-removed", "revision"])
def test_an_update_sends_the_changed_field(server, provider, changes, expected) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server, revision="0e9e39f249a16976918f6564b8830bc894c89659"))
    server.api.states["chat-dev"] = deque(["running"])
    provider.update(created.id, created.outs,
                    props(server, **{"revision": "0e9e39f249a16976918f6564b8830bc894c89659", **changes}))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == expected


def test_an_update_of_the_tags_keeps_the_create_marker(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    server.api.states["chat-dev"] = deque(["running"])
    provider.update(created.id, created.outs, props(server, tags={"team": "ml", "stack": "scalepath-dev", "x": "y"}))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == {"tags": ["stack:scalepath-dev", "team:ml", "x:y", created.outs["createMarker"]]}


def test_refresh_reports_every_compute_setting_changed_outside_pulumi(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server))
    compute = server.api.endpoints[("ml-team", "chat-dev")]["compute"]
    compute.update(accelerator="cpu", instanceType="intel-spr", instanceSize="x4")
    compute["scaling"]["minReplica"] = 1
    refreshed = provider.read(created.id, created.outs).outs
    assert [refreshed[k] for k in ("accelerator", "instanceType", "instanceSize", "minReplica", "maxReplica")] == [
        "cpu", "intel-spr", "x4", 1, 2]


def test_refresh_ignores_a_measure_hf_chose_when_the_inputs_set_none(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server, scalingMetric=None, scalingThreshold=None))
    scaling = server.api.endpoints[("ml-team", "chat-dev")]["compute"]["scaling"]
    for measure in ({"pendingRequests": 4}, None):
        scaling["measure"] = measure
        refreshed = provider.read(created.id, created.outs).outs
        assert refreshed["scalingMetric"] is None and refreshed["scalingThreshold"] is None


def test_a_negative_retry_after_is_logged_clipped(server, slept, caplog) -> None:
    value = "-" + "1" * 49  # a number, but a negative one: our own backoff
    provider = _throttled_create(server, value)
    provider.create(props(server))
    assert slept == [0.5]
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("ignoring")]
    assert warning.getMessage() == f"ignoring an unreadable Retry-After header {value[:40]!r}; using our own backoff"


def test_a_failing_pause_or_resume_names_the_step(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team/chat-dev/pause$", 400, {}, {"error": "busy"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, paused=True))
    assert str(caught.value) == "pause ml-team/chat-dev failed: HTTP 400: busy"
    server.api.states["chat-dev"] = deque(["paused"])  # the endpoint that create left, found paused
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team/chat-dev/resume$", 400, {}, {"error": "no quota"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert str(caught.value) == "resume adopted ml-team/chat-dev failed: HTTP 400: no quota"


def test_an_endpoint_left_with_another_vendor_and_access_type_names_both(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["failed"])
    with pytest.raises(HfEndpointError, match="endpoint is 'failed'"):
        provider.create(props(server))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, vendor="gcp", type="public"))
    assert str(caught.value) == (
        "create ml-team/chat-dev: the endpoint an earlier failed create left behind has vendor 'aws' (asked: 'gcp'), "
        "type 'authenticated' (asked: 'public'), which an update cannot change; delete that endpoint (or set these "
        "back) and run again")
    assert not server.api.requests("PUT")


# -- Outside retry and adopt (the mutation survivors classified in tests/README.md) -------------------


def _created(server: RunningServer, provider: InferenceEndpointProvider, **changes: Any) -> Any:
    """A running endpoint created from ``props(server, **changes)``; later GETs and PUTs find it running."""
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server, **changes))
    server.api.states["chat-dev"] = deque(["running"])
    return created


def test_outputs_are_the_inputs_plus_what_the_api_reports_and_a_gone_endpoint_reads_empty(server, provider) -> None:
    inputs = props(server)
    created = _created(server, provider)
    reported = {"createdApiUrl", "createMarker", "url", "status", "openaiBaseUrl"}
    assert set(created.outs) == set(inputs) | reported
    assert {key: created.outs[key] for key in inputs} == inputs
    read = provider.read(created.id, created.outs)
    assert read.id == "ml-team/chat-dev" and read.outs == created.outs
    del server.api.endpoints[("ml-team", "chat-dev")]
    gone = provider.read(created.id, created.outs)
    # An empty id tells Pulumi the resource is gone; the outputs must still be a map (the dynamic
    # provider host adds its own key to them).
    assert gone.id == "" and gone.outs == {}


def test_the_openai_base_url_has_one_slash_whatever_url_the_api_reports(server, provider) -> None:
    created = _created(server, provider)
    endpoint = copy.deepcopy(server.api.endpoints[("ml-team", "chat-dev")])
    endpoint["status"]["url"] = "https://chat-dev.us-east-1.aws.endpoints.huggingface.cloud/"
    server.api.script(Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 200, {}, endpoint))
    outs = provider.read(created.id, created.outs).outs
    assert outs["openaiBaseUrl"] == "https://chat-dev.us-east-1.aws.endpoints.huggingface.cloud/v1/"


def test_an_image_without_an_engine_is_a_custom_container(server, provider) -> None:
    created = _created(server, provider, image={"url": "ghcr.io/acme/server:1.0", "port": 8080})
    (create,) = server.api.requests("POST", r"^/v2/endpoint/ml-team$")
    assert create.body["model"]["image"] == {"custom": {"url": "ghcr.io/acme/server:1.0", "port": 8080}}
    assert created.outs["openaiBaseUrl"] is None  # a plain container: no OpenAI API promised


def test_diff_reports_changed_args_and_a_namespace_move_that_keeps_the_name(server, provider) -> None:
    olds = props(server)
    args = provider.diff("ml-team/chat-dev", olds, props(server, args=["--max-model-len", "4096"]))
    assert args.changes and args.replaces == []
    moved = provider.diff("ml-team/chat-dev", olds, props(server, namespace="other-team"))
    assert moved.replaces == ["namespace"]
    assert not moved.delete_before_replace, "names are unique per namespace: the new one can come first"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"args": ["--max-model-len", "4096"]}, {"model": {"args": ["--max-model-len", "4096"]}}),
    ({"scalingMetric": "hardwareUsage"}, {"compute": {"scaling": {"measure": {"hardwareUsage": 4}}}}),
], ids=["args", "metric-only"])
def test_an_update_sends_args_and_a_metric_changed_alone(server, provider, changes, expected) -> None:
    created = _created(server, provider)
    provider.update(created.id, created.outs, props(server, **changes))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == expected


def test_an_api_url_with_a_trailing_slash_is_the_same_api(server, provider) -> None:
    created = _created(server, provider, apiUrl=server.base_url + "/")
    assert created.outs["createdApiUrl"] == server.base_url
    provider.update(created.id, created.outs, props(server, apiUrl=server.base_url + "/", maxReplica=3))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == {"compute": {"scaling": {"maxReplica": 3}}}


def test_rotating_the_token_of_a_paused_endpoint_touches_nothing(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["running"])
    created = provider.create(props(server, paused=True))
    server.api.states["chat-dev"] = deque(["paused"])  # what GETs report from now on
    rotated = "hf_" + "R0tated" + "y" * 24
    result = provider.update(created.id, created.outs, props(server, paused=True, token=rotated))
    assert result.outs["status"] == "paused" and result.outs["token"] == rotated
    assert not server.api.requests("PUT") and len(server.api.requests("POST", "/pause$")) == 1  # the create's
    assert server.api.received[-1].method == "GET"


def test_a_tags_update_of_state_without_a_create_marker_sends_only_the_tags(server, provider) -> None:
    created = _created(server, provider)
    old_state = {k: v for k, v in created.outs.items() if k != "createMarker"}  # written before the marker
    provider.update(created.id, old_state, props(server, tags={"team": "ml", "stack": "scalepath-dev", "x": "y"}))
    (put,) = server.api.requests("PUT", r"^/v2/endpoint/ml-team/chat-dev$")
    assert put.body == {"tags": ["stack:scalepath-dev", "team:ml", "x:y"]}


def test_update_errors_name_the_step_and_what_to_do(server, provider, other_server) -> None:
    created = _created(server, provider)
    server.api.script(Scripted("PUT", r"^/v2/endpoint/ml-team/chat-dev$", 400, {}, {"error": "bad image"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.update(created.id, created.outs, props(server, maxReplica=3))
    assert str(caught.value) == "update ml-team/chat-dev failed: HTTP 400: bad image"

    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team/chat-dev/pause$", 400, {}, {"error": "busy"}))
    with pytest.raises(HfEndpointError) as caught:
        provider.update(created.id, created.outs, props(server, paused=True))
    assert str(caught.value) == "pause ml-team/chat-dev failed: HTTP 400: busy"

    server.api.states["chat-dev"] = deque(["updating", "updateFailed"])
    server.api.messages["chat-dev"] = "image pull failed"
    with pytest.raises(HfEndpointError) as caught:
        provider.update(created.id, created.outs, props(server, maxReplica=3))
    assert str(caught.value) == ("update ml-team/chat-dev: endpoint is 'updateFailed': image pull failed. Check the "
                                 "endpoint logs at https://endpoints.huggingface.co")

    with pytest.raises(HfEndpointError) as caught:
        provider.update(created.id, created.outs, props(server, scalingMetric=None, scalingThreshold=None))
    assert str(caught.value) == (
        "update ml-team/chat-dev: scalingMetric was removed, but the API has no way to clear an endpoint's scaling "
        "measure (it would keep 'pendingRequests' while the state said otherwise); set scalingMetric and "
        "scalingThreshold to what the endpoint should scale on")

    with pytest.raises(HfEndpointError) as caught:
        provider.update(created.id, created.outs, props(other_server, maxReplica=3))
    assert str(caught.value) == (
        f"update ml-team/chat-dev: the endpoint was created through {server.base_url}, but apiUrl (or "
        f"$SCALEPATH_HF_ENDPOINTS_API) now says {other_server.base_url}. Set apiUrl back to manage this endpoint; "
        "to move it, give it a new endpointName (a new endpoint is created there, the old one deleted).")


def test_a_failed_endpoint_without_a_status_message_says_so(server, provider) -> None:
    server.api.states["chat-dev"] = deque(["failed"])
    server.api.messages["chat-dev"] = ""
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert str(caught.value) == ("create ml-team/chat-dev: endpoint is 'failed': no status message. Check the "
                                 "endpoint logs at https://endpoints.huggingface.co")


def test_waiting_stops_when_timeout_seconds_have_passed_exactly(server, monkeypatch) -> None:
    clock = [100.0]  # a clock that moves only when the provider sleeps: polls at exact instants
    monkeypatch.setattr(hf_endpoint_provider, "time", SimpleNamespace(
        sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds), monotonic=lambda: clock[0]))
    provider = InferenceEndpointProvider(retry=FAST, poll_seconds=1.0)
    server.api.states["chat-dev"] = deque(["initializing"])
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, timeoutSeconds=3))
    assert str(caught.value) == (
        "create ml-team/chat-dev: still 'initializing' after 3s (timeoutSeconds). Large models load slowly: raise "
        "the timeout, or check the endpoint logs; the endpoint is left as it is and the next update resumes waiting.")
    assert len(server.api.requests("GET")) == 3  # polls 1, 2 and 3 s after the create; at 3 s the time is up


def test_deleting_an_endpoint_already_gone_logs_where_it_looked(server, provider, caplog) -> None:
    provider.delete("ml-team/chat-dev", props(server))
    assert f"delete ml-team/chat-dev at {server.base_url}: already gone" in [r.getMessage() for r in caplog.records]


def test_check_returns_the_inputs_it_checked_and_skips_the_live_list_without_a_token(server, provider,
                                                                                     caplog) -> None:
    news = props(server, token="")
    result = provider.check({}, news)
    assert result.inputs == news and result.failures == []
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING], "no call without a token"


def test_unknown_hardware_lists_the_vendors_choices_or_every_choice(server, provider) -> None:
    # Keys from components/data/instances/hf.yaml, written out by hand.
    (failure,) = provider.check({}, props(server, token="", vendor="azure", accelerator="cpu",
                                           instanceType="intel-xeon", instanceSize="x16")).failures
    assert failure.reason == ("unknown Inference Endpoints hardware 'azure/intel-xeon/x16' (vendor/instanceType/"
                              "instanceSize); known: azure/intel-xeon/x1, azure/intel-xeon/x2, azure/intel-xeon/x4, "
                              "azure/intel-xeon/x8")
    (failure,) = provider.check({}, props(server, token="", vendor="oracle")).failures
    assert failure.reason.startswith("unknown Inference Endpoints hardware 'oracle/nvidia-a10g/x1' (vendor/"
                                     "instanceType/instanceSize); known: aws/inf2/x1, aws/inf2/x12, ")
    assert ", azure/intel-xeon/x1, " in failure.reason and failure.reason.endswith(", gcp/nvidia-t4/x1")


def test_the_create_marker_is_a_fixed_hash_of_owner_namespace_and_name(server) -> None:
    # What an earlier version wrote must be recognised by this one: the value is pinned, computed with
    # `printf 'scalepath/dev/chat-endpoint\nml-team\nchat-dev' | sha256sum` (first 32 hex digits).
    assert create_marker(props(server)) == "scalepath-create:ea68a201187440d5c6299261e8de6691"
    inputs = props(server)
    del inputs["owner"]  # an owner missing counts as empty: `printf '\nml-team\nchat-dev' | sha256sum`
    assert create_marker(inputs) == "scalepath-create:09ab44d1493de659d247a1640247c15a"


def _rejected_with(server: RunningServer, provider: InferenceEndpointProvider, error: str,
                   **changes: Any) -> str:
    """The message of a create the API refuses with a 400 carrying ``error``."""
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 400, {}, {"error": error}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, **changes))
    return str(caught.value)


def test_a_secret_containing_another_is_scrubbed_whole(server, provider) -> None:
    inner = "opaque-pass-1234"
    outer = "Xtra-opaque-pass-1234-more"  # sorts before the inner one: only longest-first scrubs it whole
    message = _rejected_with(server, provider, f"bad secrets {outer} and {inner}", secrets={"A": inner, "B": outer})
    assert message == "create ml-team/chat-dev failed: HTTP 400: bad secrets [redacted] and [redacted]"


def test_secrets_shorter_than_four_characters_are_not_scrubbed(server, provider) -> None:
    # A two- or three-letter value would blank every word that contains it; four is the threshold.
    message = _rejected_with(server, provider, "flag abc, pin wxyz", secrets={"FLAG": "abc", "PIN": "wxyz"})
    assert message == "create ml-team/chat-dev failed: HTTP 400: flag abc, pin [redacted]"


def test_a_secret_beyond_the_basic_plane_or_percent_encoded_is_scrubbed(server, provider) -> None:
    # U+FFFF is the last character JSON escapes as one \uXXXX; U+10000 and the emoji take a surrogate pair.
    secret = "opaque-\uffff-\U00010000-\U0001f600-pässwörd-1234"
    echoed = json.dumps(secret)  # "opaque-\uffff-\ud800\udc00-\ud83d\ude00-p\u00e4ssw\u00f6rd-1234"
    assert "\\ud800\\udc00" in echoed and "\\ud83d\\ude00" in echoed and "\\uffff" in echoed
    message = _rejected_with(server, provider, f"json {echoed} url {urllib.parse.quote(secret, safe='')}",
                             secrets={"DB_PASSWORD": secret})
    assert message == 'create ml-team/chat-dev failed: HTTP 400: json "[redacted]" url [redacted]'


def test_a_multiline_secret_echoed_as_html_hex_references_is_scrubbed(server, provider) -> None:
    secret = "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"  # a newline is &#xa; in an HTML page
    echoed = secret.replace("\n", "&#xa;")
    message = _rejected_with(server, provider, f"<pre>{echoed}</pre>", secrets={"TLS_KEY": secret})
    assert message == "create ml-team/chat-dev failed: HTTP 400: <pre>[redacted]</pre>"


def test_requests_carry_the_api_hosts_name(server, provider) -> None:
    _created(server, provider)
    host = server.base_url.removeprefix("http://").split("/")[0]
    assert {r.headers["host"] for r in server.api.received} == {host}


def test_a_same_origin_redirect_is_followed(server, provider) -> None:
    created = _created(server, provider)
    gets = len(server.api.requests("GET"))
    server.api.script(Scripted("GET", r"^/v2/endpoint/ml-team/chat-dev$", 307,
                               {"Location": "/v2/endpoint/ml-team/chat-dev"}, {}))  # the same URL, once
    assert provider.read(created.id, created.outs).outs["status"] == "running"
    assert len(server.api.requests("GET", r"^/v2/endpoint/ml-team/chat-dev$")) == gets + 2


@pytest.mark.parametrize(("location", "named"), [
    ("https://elsewhere.example/v2/endpoint/ml-team", "https://elsewhere.example"),  # default port: none shown
    ("http://[::1", "an unreadable Location"),
], ids=["no-port", "unreadable"])
def test_a_refused_redirect_names_where_it_pointed(server, provider, location, named) -> None:
    server.api.script(Scripted("POST", r"^/v2/endpoint/ml-team$", 307, {"Location": location}, {}))
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server))
    assert f"redirected the request to another origin ({named}); refused without following it" in str(caught.value)


def test_the_route_hooks_join_a_configured_client_factory_once(server, provider, monkeypatch) -> None:
    """What a fresh process does: the first call wraps whatever client factory is configured (here
    one with hooks of its own, which keep running) and later calls leave it wrapped once."""
    seen: list[str] = []

    def configured() -> Any:
        client = hf_http.default_client_factory()
        client.event_hooks = {"request": [*client.event_hooks["request"], lambda request: seen.append("request")],
                              "response": [lambda response: seen.append("response")]}
        return client

    monkeypatch.setattr(hf_http, "_GLOBAL_CLIENT_FACTORY", configured)  # restored after the test
    hf_http.close_session()
    try:
        created = _created(server, provider)  # routed to the local API: the request hook is in place
        provider.read(created.id, created.outs)
        hooks = hf_http.get_session().event_hooks
        assert hooks["request"].count(hf_endpoint_provider._route_request) == 1
        assert hooks["response"].count(hf_endpoint_provider._refuse_cross_origin_redirect) == 1
        assert "request" in seen and "response" in seen, "the configured factory's own hooks were dropped"
    finally:
        hf_http.close_session()  # the next test's client comes from the restored factory


def test_an_endpoint_without_container_secrets_is_created_without_them(server, provider) -> None:
    inputs = props(server)
    del inputs["secrets"]
    server.api.states["chat-dev"] = deque(["running"])
    assert provider.create(inputs).outs["status"] == "running"
    (create,) = server.api.requests("POST", r"^/v2/endpoint/ml-team$")
    assert "secrets" not in create.body["model"]


def test_the_provider_defaults_are_the_documented_ones() -> None:
    # docs/stages/hf-endpoint.md: 6 tries, 1 s doubling, capped at 60 s; polled every 15 s; 60 s per request.
    default = InferenceEndpointProvider()
    assert default.retry == RetryPolicy(attempts=6, base_seconds=1.0, max_seconds=60.0)
    assert (default.poll_seconds, default.request_timeout_seconds) == (15.0, 60.0)


@pytest.mark.parametrize("token", ["", TOKEN + "\n", "hf_two words"], ids=["empty", "trailing-newline", "space"])
def test_a_token_no_header_can_carry_fails_at_once_without_a_request(server, provider, slept, token) -> None:
    # A bearer token is visible characters without spaces (RFC 6750's b64token). httpx refused an empty
    # one or a line break only when sending, as a transport error the provider retried for half a
    # minute (and httpcore's debug log held the token); a space went out and came back a 401.
    with pytest.raises(HfEndpointError) as caught:
        provider.create(props(server, token=token))
    assert slept == [] and server.api.received == []
    assert str(caught.value) == (
        "create ml-team/chat-dev: the token is empty or holds a space, a line break or another character an HTTP "
        "header cannot carry; nothing was sent. Set the HF token again without them (scalepath:hfToken for the "
        "shipped stacks).")
