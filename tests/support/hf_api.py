"""A local HTTP server speaking the Inference Endpoints API JSON the way ``huggingface_hub`` expects.

Shapes follow ``HfApi.create_inference_endpoint`` (request payload) and
``InferenceEndpoint.from_raw`` / ``InferenceEndpointHardware.from_raw`` (responses). Tests
script failures (status codes with headers, bodies that are not JSON, answers lost after the
request took effect, requests that hang until released) and the sequence of states GETs report.
With ``tls`` the port speaks both TLS and plain HTTP, and each request records which it came over.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.tls import Tls, accept


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    tls: bool = False
    """Whether it came over TLS (on a server started with ``tls``)."""


@dataclass
class Scripted:
    """A canned response for the next request matching ``method`` and ``path`` (regex)."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    """JSON-encoded into the answer, unless ``text`` is set."""
    text: str | None = None
    """A body sent as it is (with ``content_type``): an HTML page where JSON belongs."""
    content_type: str = "application/json"
    commit: bool = False
    """Carry the request out as usual first, then answer with this instead (the real answer is lost)."""
    hang: bool = False
    """Hold the answer until :meth:`FakeEndpointsApi.release` (a request that outlives the client's timeout)."""


@dataclass
class Answer:
    """What the handler sends back."""

    status: int
    headers: dict[str, str]
    data: bytes
    content_type: str = "application/json"
    hang: bool = False


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key not in ("image", "env", "secrets"):
            _merge(into[key], value)
        else:
            into[key] = value


class FakeEndpointsApi:
    """State and behaviour behind the HTTP handler (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.endpoints: dict[tuple[str, str], dict[str, Any]] = {}
        self.states: dict[str, deque[str]] = {}
        """Per endpoint name: states successive GETs report (the last one sticks)."""
        self.messages: dict[str, str] = {}
        self.scripted: list[Scripted] = []
        self.received: list[Received] = []
        self.hardware: list[dict[str, Any]] = []
        """``vendors`` of ``GET /v2/provider/{namespace}``."""
        self.released = threading.Event()
        """Set to let hanging requests answer (set at server shutdown at the latest)."""

    def release(self) -> None:
        """Let every hanging request answer."""
        self.released.set()

    def script(self, *responses: Scripted) -> None:
        """Queue canned responses (each used once, in order, for matching requests)."""
        with self.lock:
            self.scripted.extend(responses)

    def requests(self, method: str, path_pattern: str = ".*") -> list[Received]:
        """What the server received for this method and path."""
        return [r for r in self.received if r.method == method and re.search(path_pattern, r.path)]

    def _raw(self, key: tuple[str, str]) -> dict[str, Any]:
        endpoint = self.endpoints[key]
        state = endpoint["status"]["state"]
        url = f"https://{key[1]}.us-east-1.aws.endpoints.huggingface.cloud"
        endpoint["status"]["url"] = url if state in ("running", "scaledToZero") else None
        endpoint["status"]["message"] = self.messages.get(key[1], f"Endpoint is {state}")
        return endpoint

    def _next_state(self, name: str, default: str) -> str:
        queue = self.states.get(name)
        if not queue:
            return default
        return queue.popleft() if len(queue) > 1 else queue[0]

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any, tls: bool = False) -> Answer:
        with self.lock:
            self.received.append(Received(method, path, headers, body, tls))
            for index, canned in enumerate(self.scripted):
                if canned.method == method and re.search(canned.path, path):
                    del self.scripted[index]
                    if canned.commit:
                        self._route(method, path, body)
                    data = canned.text.encode() if canned.text is not None else _encode(canned.body)
                    return Answer(canned.status, canned.headers, data, canned.content_type, canned.hang)
            status, extra, payload = self._route(method, path, body)
            return Answer(status, extra, _encode(payload))

    def _route(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and (m := re.fullmatch(r"/v2/provider/([^/]+)", path)):
            return 200, {}, {"vendors": self.hardware}
        if method == "POST" and (m := re.fullmatch(r"/v2/endpoint/([^/]+)", path)):
            key = (m.group(1), body["name"])
            if key in self.endpoints:
                return 409, {}, {"error": f"Endpoint {key[1]} already exists"}
            model = {"task": None, "revision": None, **body["model"]}
            self.endpoints[key] = {
                **body, "model": model, "healthRoute": "/health",
                "status": {"state": "pending", "createdAt": "2026-11-24T10:00:00.000Z",
                           "updatedAt": "2026-11-24T10:00:00.000Z"},
            }
            self.endpoints[key]["status"]["state"] = self._next_state(key[1], "pending")
            return 200, {}, self._raw(key)
        m = re.fullmatch(r"/v2/endpoint/([^/]+)/([^/]+)(/[a-z-]+)?", path)
        if not m:
            return 404, {}, {"error": "no such route"}
        key, action = (m.group(1), m.group(2)), m.group(3)
        if key not in self.endpoints:
            return 404, {}, {"error": f"Endpoint {key[1]} not found"}
        endpoint = self.endpoints[key]
        if method == "GET" and action is None:
            endpoint["status"]["state"] = self._next_state(key[1], endpoint["status"]["state"])
        elif method == "PUT" and action is None:
            _merge(endpoint, body)
            endpoint["status"]["state"] = self._next_state(key[1], "updating")
        elif method == "DELETE" and action is None:
            del self.endpoints[key]
            return 200, {}, {}
        elif method == "POST" and action == "/pause":
            endpoint["status"]["state"] = "paused"
        elif method == "POST" and action == "/resume":
            endpoint["status"]["state"] = self._next_state(key[1], "initializing")
        else:
            return 405, {}, {"error": "method not allowed"}
        return 200, {}, self._raw(key)


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode() if payload is not None else b""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.api.handle(self.command, self.path, headers, body, _connection.tls)
        if answer.hang:  # outside the API's lock: other requests go on meanwhile
            self.server.api.released.wait(timeout=60)
        try:
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.data)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(answer.data)
        except OSError:
            pass  # the client gave up on a hanging request and closed the connection

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass  # keep test output clean


_connection = threading.local()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeEndpointsApi, tls: Tls | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request, _connection.tls = accept(request, self.tls)
        except OSError:  # a client that gave up on our certificate
            return
        super().finish_request(request, client_address)


class RunningServer:
    """The fake API on a loopback port, in a background thread."""

    def __init__(self, tls: Tls | None = None) -> None:
        self.api = FakeEndpointsApi()
        self._server = _Server(self.api, tls)
        # shutdown() returns once serve_forever notices, at most one poll interval later; the
        # default 0.5 s made every test's teardown wait half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        """What ``apiUrl`` points at (the ``/v2`` API root)."""
        host, port = self._server.server_address[:2]
        return f"{'https' if self._server.tls else 'http'}://{host}:{port}/v2"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> RunningServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
