"""A local OpenAI-compatible chat server for tests: scripted answers, statuses and delays.

It speaks ``POST /v1/chat/completions`` (non-streaming) on 127.0.0.1 with an ephemeral port and
records every request it got, so tests assert on what the client really sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0


@dataclass
class StandIn:
    """A running stand-in: its base URL (ends in ``/v1``) and the requests it received."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _completion(model: str, content: str) -> dict[str, Any]:
    return {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@contextmanager
def openai_standin(answer: Callable[[dict[str, Any]], Reply]) -> Iterator[StandIn]:
    """Serve ``answer(request_json)`` for every chat completion until the block exits."""
    state = StandIn(base_url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with lock:
                state.requests.append({"path": self.path, "body": body,
                                       "authorization": self.headers.get("Authorization")})
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = answer(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": "stand-in failure", "code": reply.status}})
            else:
                self._send(200, _completion(body.get("model", ""), reply.content))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
