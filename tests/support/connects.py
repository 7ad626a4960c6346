"""Which addresses this process connects to: for a redirect to an address no test can listen on
(a cloud's metadata service, ``169.254.169.254``), the only honest observation is that no socket
tried it. A ``socket.connect`` audit hook (PEP 578) sees every connection attempt, whatever library."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_listeners: list[list[str]] = []
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _listeners:
        address = args[1]
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        with _lock:
            for listener in _listeners:
                listener.append(host)


@contextmanager
def connects() -> Iterator[list[str]]:
    """The hosts connected to while the block runs (an audit hook cannot be removed, so one is
    installed once per process and records only while a block listens)."""
    global _installed
    seen: list[str] = []
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
        _listeners.append(seen)
    try:
        yield seen
    finally:
        with _lock:
            _listeners.remove(seen)
