"""A loopback HTTP server whose answers are raw bytes written by a test: for the answers no
well-behaved server sends (a body that trickles, never ends, or is not what it claims to be)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from types import TracebackType

Respond = Callable[[socket.socket, threading.Event], None]
"""Writes the whole answer to the socket; stops early once the event is set (the server closes)."""


class RawServer:
    """Reads each request (headers and Content-Length body), then hands the socket to ``respond``."""

    def __init__(self, respond: Respond):
        self.requests = 0
        self.closing = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
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
                try:
                    respond(self.request, server.closing)
                except OSError:  # the client hung up: what these tests expect of it
                    pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

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
