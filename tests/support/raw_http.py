"""A loopback HTTP server whose answers are raw bytes written by a test: for the answers no
well-behaved server sends (a body that trickles, never ends, or is not what it claims to be, a
redirect anywhere). It records the head of every request it reads (a redirect test asks whether a
token arrived), and with ``tls`` its port speaks both TLS and plain HTTP (:mod:`tests.support.tls`)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from tests.support.tls import Tls, accept

Respond = Callable[[socket.socket, threading.Event], None]
"""Writes the whole answer to the socket; stops early once the event is set (the server closes)."""


@dataclass(frozen=True)
class Head:
    """One request as it arrived: its head (request line and headers) and whether it came over TLS."""

    raw: bytes
    tls: bool

    @property
    def path(self) -> str:
        return self.raw.split(b" ", 2)[1].decode("latin-1")


_current = threading.local()


def current_head() -> Head:
    """The request being answered, for a ``respond`` that answers by path (called in its thread)."""
    return _current.head


class RawServer:
    """Reads each request (headers and Content-Length body), then hands the socket to ``respond``."""

    def __init__(self, respond: Respond, tls: Tls | None = None):
        self.requests = 0
        self.heads: list[Head] = []
        self.closing = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    self.request, encrypted = accept(self.request, tls)
                except OSError:  # a client that gave up on our certificate
                    return
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += self.request.recv(65536)
                server.requests += 1
                _current.head = Head(head, encrypted)
                server.heads.append(_current.head)
                try:
                    respond(self.request, server.closing)
                except OSError:  # the client hung up: what these tests expect of it
                    pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


def answer(status: str, content_type: str, body: bytes) -> Respond:
    """A complete answer with this status line, type and body."""
    def respond(sock: socket.socket, closing: threading.Event) -> None:
        sock.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
    return respond


def redirect(status: str, location: Callable[[str], str]) -> Respond:
    """A redirect with this status line to ``location(request path)``."""
    def respond(sock: socket.socket, closing: threading.Event) -> None:
        sock.sendall(f"HTTP/1.1 {status}\r\nLocation: {location(current_head().path)}\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
    return respond
