"""A local OpenAI-compatible chat server for tests: answers, fails with 5xx, stalls, or trickles.

Each server runs on 127.0.0.1 at a port the OS picks, in a daemon thread, and records the
requests it receives. Its answers name it (``"served by <name>"``), so a client can tell who
answered; ``stream: true`` gets Server-Sent Events chunk by chunk, ending in ``data: [DONE]``.
A ``reply`` function scripts each non-streamed answer instead (content, status, delay), for
tests that judge answers (``scalepath promote``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal["ok", "error", "stall", "trickle"]
#: The event that ends a stream.
_DONE = b"data: [DONE]\n\n"


def _event(chunk: dict) -> bytes:
    return f"data: {json.dumps(chunk)}\n\n".encode()


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one request."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    """Further response headers (a 429's ``Retry-After``)."""


class StandIn:
    """One stand-in server. ``mode``: ``ok`` answers, ``error`` returns 500, ``stall`` sleeps ``stall_seconds``,
    ``trickle`` sends its headers at once, then its answer (JSON, or the whole event stream) one byte a
    second: no read ever waits long, the answer takes minutes (:meth:`trickled`)."""

    def __init__(self, name: str, mode: Mode = "ok", stall_seconds: float = 30.0,
                 reply: Callable[[dict], Reply] | None = None):
        self.name = name
        self.mode: Mode = mode
        self.stall_seconds = stall_seconds
        self.reply = reply
        self.requests = 0
        self.authorization: list[str | None] = []
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def handle(self) -> None:
                # The gateway hangs up on a stalled answer once its timeout passes: expected here.
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with standin._lock:
                    standin.requests += 1
                    standin.authorization.append(self.headers.get("Authorization"))
                    standin.bodies.append(body)
                if standin.reply is not None and not body.get("stream"):
                    self._scripted(standin.reply(body), body)
                    return
                if standin.mode == "error":
                    self._send(500, {"error": {"message": f"{standin.name} is broken", "type": "server_error"}})
                    return
                if standin.mode == "stall":
                    standin._stop.wait(standin.stall_seconds)
                    self._send(200, standin._completion(body))
                    return
                if standin.mode == "trickle":
                    self._trickle(body)
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._send(200, standin._completion(body))

            def _scripted(self, reply: Reply, body: dict) -> None:
                if reply.delay_s:
                    standin._stop.wait(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": f"{standin.name}: scripted {reply.status}"}},
                               reply.headers)
                else:
                    self._send(200, standin._completion(body, reply.content), reply.headers)

            def _send(self, status: int, payload: dict, headers: tuple[tuple[str, str], ...] = ()) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _trickle(self, body: dict) -> None:
                data = standin.trickled(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream" if body.get("stream") else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                for i in range(len(data)):
                    if standin._stop.wait(1.0):
                        return
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()

            def _stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for event in [*map(_event, standin.chunks(body)), _DONE]:
                    self.wfile.write(event)
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """OpenAI base URL, ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    #: The words a streamed answer is sent in, one chunk each.
    WORDS = ("streamed", "answer", "from")

    def answer(self) -> str:
        """The full answer text this server gives."""
        return f"served by {self.name}"

    def chunks(self, body: dict) -> list[dict]:
        """The stream's chunks: a role chunk, one per word of the answer, then a stop chunk."""
        base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "standin")}
        words = [*self.WORDS, self.name]
        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        return [chunk({"role": "assistant", "content": ""}),
                *(chunk({"content": w if i == 0 else f" {w}"}) for i, w in enumerate(words)),
                chunk({}, "stop")]

    def events(self, body: dict) -> bytes:
        """The whole event stream of a streamed answer: each chunk as an event, then ``[DONE]``."""
        return b"".join(map(_event, self.chunks(body))) + _DONE

    def trickled(self, body: dict) -> bytes:
        """What ``trickle`` sends for ``body``, a byte a second: its length is the seconds it takes."""
        return self.events(body) if body.get("stream") else json.dumps(self._completion(body)).encode()

    def _completion(self, body: dict, content: str | None = None) -> dict:
        return {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content or self.answer()},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
