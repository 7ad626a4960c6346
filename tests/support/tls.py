"""TLS for the loopback test servers: a throwaway CA (``trustme``) and one port that speaks both
TLS and plain HTTP, so a test can see whether a client that was redirected from ``https://host:port``
to ``http://host:port`` sent its request, and its token, in clear."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

#: The first byte of a TLS record carrying a handshake (RFC 8446 5.1, ContentType.handshake).
_HANDSHAKE = 0x16


@dataclass(frozen=True)
class Tls:
    """A CA the client trusts and the server context it signed for 127.0.0.1."""

    server: ssl.SSLContext
    ca_file: Path

    def client(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (the client's ``verify`` setting)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls(folder: Path) -> Tls:
    """A fresh CA (its PEM written to ``folder``) and a server context for ``127.0.0.1``."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(server, ca_file)


def accept(sock: socket.socket, tls: Tls | None) -> tuple[socket.socket, bool]:
    """The connection to serve and whether it is encrypted: a connection that opens with a TLS
    handshake is wrapped, any other is served in clear (the port speaks both)."""
    if tls is None:
        return sock, False
    sock.settimeout(10)
    first = sock.recv(1, socket.MSG_PEEK)
    if first and first[0] == _HANDSHAKE:
        return tls.server.wrap_socket(sock, server_side=True), True
    return sock, False
