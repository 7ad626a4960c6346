"""The gateway engine (LiteLLM's proxy) on this machine: its own virtualenv, and running it on loopback.

The engine cannot share the project's virtualenv: every LiteLLM release in range needs
``importlib-metadata>=8`` and every ``sagemaker-core`` 2.x needs ``<7`` (docs/gateway.md,
"Gateway"). It runs as a subprocess anyway, so it lives in a virtualenv of its own, keyed on
its version: ``$SCALEPATH_GATEWAY_ENGINE``, else ``~/.cache/scalepath/gateway-engine/litellm-<v>``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from components.gateway.args import ENGINE_SETTINGS, HOOKS_MODULE, KEY_ENV, hooks_source
from scalepath import children

ENGINE_VERSION = "1.100.5"
#: What ``install-engine`` installs: the pinned proxy (see docs/gateway.md for the advisories)
#: and ``prisma``, which the proxy's auth-error path imports even without a database (without it
#: a request with a wrong key gets 500 instead of 401); upstream's image ships it too; and
#: ``prometheus-client``, without which the engine fails to start with ``callbacks: [prometheus]``
#: (the stack's config turns metrics on; upstream's image ships it as well); ``httptools``, the
#: HTTP parser uvicorn runs the engine with (``--http httptools``).
ENGINE_REQUIREMENTS = (f"litellm[proxy]=={ENGINE_VERSION}", "prisma==0.15.0", "prometheus-client==0.26.0",
                       "httptools==0.9.0")
_MARKER = "scalepath-engine.txt"
#: How much of the engine's log end :meth:`EngineProcess.log_tail` reads.
LOG_TAIL_BYTES = 64 * 1024
#: How long the engine finishes requests in flight once stopped (uvicorn's graceful shutdown).
GRACEFUL_SHUTDOWN_SECONDS = 5
#: Liveness route of the proxy (no auth).
LIVENESS_PATH = "/health/liveliness"
#: Run before uvicorn: the engine removes its temp config folder (the config and the hooks) when
#: it exits, however it is stopped short of SIGKILL, so a killed ``serve``/``promote`` leaves no
#: file behind.
#: SIGTERM exits through ``sys.exit`` so that the cleanup runs: uvicorn shuts down gracefully, puts
#: back the handler it found (this one) and raises the signal again.
#: The parent's death (``DEATH_SIGNAL``) ends the engine at once: nobody is left to answer, so
#: there is nothing to drain (with SIGTERM it drained its graceful period with PPID 1).
DEATH_SIGNAL = signal.SIGHUP
_CLEANUP = ("import atexit, os, shutil, signal, sys\n"
            "def _remove_config(path=os.environ['CONFIG_FILE_PATH']):\n"
            "    shutil.rmtree(os.path.dirname(path), ignore_errors=True)\n"
            "atexit.register(_remove_config)\n"
            f"signal.signal({int(DEATH_SIGNAL)}, lambda signum, frame: (_remove_config(), os._exit(128 + signum)))\n"
            "signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))\n")


#: Shortest client key accepted: the key is the gateway's only credential (the deployed one has 48).
MIN_KEY_LENGTH = 16
#: Values the engine's ``get_secret`` turns into booleans (``str_to_bool``: stripped, any case).
_BOOLEAN_WORDS = ("true", "false")
KEY_FIX = (f"export {KEY_ENV}=<a long random key> (letters, digits, punctuation; "
           "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")


def client_key_problem(key: str | None) -> str | None:
    """Why the engine could not use ``key`` as its master key; None when it can.

    LiteLLM 1.100.5 (``proxy_server.py``, ``load_config``) reads ``general_settings.master_key``
    through ``get_secret`` and, when the result starts with ``os.environ/``, resolves it once more:
    an unset variable leaves no master key, and the proxy then lets every request in. ``get_secret``
    also turns ``true``/``false`` into booleans (``False``: no master key either). A key a client
    cannot send as ``Authorization: Bearer <key>`` (whitespace, control or non-ASCII characters;
    the engine also deletes every ``Bearer `` inside a key) locks everyone out; a short one is guessable.
    """
    if not key:
        return "is not set: the gateway would accept unauthenticated requests"
    if key.startswith("os.environ/"):
        return ("is a reference (os.environ/...), which the engine resolves once more: an unset variable "
                "leaves the gateway open to anyone")
    if key.strip().lower() in _BOOLEAN_WORDS:
        return "reads as a boolean to the engine (false: no key at all)"
    if not all("!" <= c <= "~" for c in key):
        return ("holds whitespace, control or non-ASCII characters: no client could send it in an "
                "Authorization header")
    if len(key) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters: too easy to guess"
    return None


class EngineError(RuntimeError):
    """The engine did not start; the message says why (its log's last lines)."""


class EngineSetupError(EngineError):
    """Unusable setup (exit 2): no usable client key, or the port cannot be bound; the message names the fix."""


class EngineNotInstalled(EngineSetupError):
    """The engine's virtualenv is missing (or holds other versions); the message names the fix."""


def engine_dir() -> Path:
    """Where the engine's virtualenv is (or goes)."""
    configured = os.environ.get("SCALEPATH_GATEWAY_ENGINE")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "scalepath" / "gateway-engine" / f"litellm-{ENGINE_VERSION}"


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def engine_python() -> Path:
    """The engine virtualenv's interpreter; EngineError naming the fix when it is not installed."""
    venv = engine_dir()
    python = _python(venv)
    marker = venv / _MARKER
    if not python.is_file() or not marker.is_file() or marker.read_text().split() != list(ENGINE_REQUIREMENTS):
        raise EngineNotInstalled(f"the gateway engine ({' '.join(ENGINE_REQUIREMENTS)}) is not installed in {venv}; "
                          "run `scalepath gateway install-engine`")
    return python


def install_engine(say: Callable[[str], None]) -> Path:
    """Create the engine's virtualenv and install the pinned engine into it (idempotent).

    ``say`` gets a line before each step; pip's own output (a line per package it collects, then
    the install) goes to this process's stdout as it comes, so the minute it takes is never silent.
    """
    venv = engine_dir()
    if _python(venv).is_file():
        say(f"[1/2] engine virtualenv: {venv} (exists)")
    else:
        say(f"[1/2] creating the engine virtualenv: {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    say(f"[2/2] pip install {' '.join(ENGINE_REQUIREMENTS)} and their dependencies (about a minute on a fresh "
        "virtualenv; pip lists each package):")
    subprocess.run([str(_python(venv)), "-m", "pip", "install", "--disable-pip-version-check",
                    *ENGINE_REQUIREMENTS], check=True)
    (venv / _MARKER).write_text("\n".join(ENGINE_REQUIREMENTS) + "\n")
    return engine_python()


@dataclass
class EngineProcess:
    """A running engine: its process (own session, so the whole group can be stopped) and URL."""

    process: subprocess.Popen[bytes]
    port: int
    config_path: Path
    log: IO[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop the engine and what it started; remove its config folder, close its log."""
        children.stop(self.process, grace_seconds)
        shutil.rmtree(self.config_path.parent, ignore_errors=True)
        self.log.close()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the engine's output (for errors)."""
        # pread: the engine writes through the same open file, whose offset must not move.
        fd = self.log.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - LOG_TAIL_BYTES)
        text = os.pread(fd, size - start, start).decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def listening_socket(port: int) -> socket.socket:
    """The engine's listening socket on 127.0.0.1:``port``, with ``TCP_NODELAY`` for what it accepts.

    uvicorn (0.55.0, ``server.py``/``config.py``) opens a ``--fd`` as
    ``socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)``, so uvloop serves it as a Unix socket
    and never sets ``TCP_NODELAY`` on the connections it accepts (on ``--host``/``--port`` it does).
    A response goes out in two writes (head, then body): Nagle holds the body until the client's
    delayed ACK of the head, ~40 ms added to every answer (docs/performance.md, "Gateway").
    Linux copies the option from the listening socket to each accepted one.
    """
    sock = socket.create_server(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def start_engine(config_text: str, env: dict[str, str], port: int = 0, *,
                 startup_timeout: float = 180.0) -> EngineProcess:
    """Run the engine on 127.0.0.1:``port`` (0: any free port) with this config; return once it answers.

    The socket is bound here and handed to the engine (uvicorn ``--fd``), so port 0 is race-free.
    ``env`` must hold a usable client key (:data:`KEY_ENV`, :func:`client_key_problem`); without one
    the engine would accept anyone.
    """
    if problem := client_key_problem(env.get(KEY_ENV)):
        raise EngineSetupError(f"${KEY_ENV} {problem}; {KEY_FIX}")
    python = engine_python()
    # A private folder (mkdtemp: 0700): the config, and the gateway's hooks the config may name,
    # which the engine loads from the config's folder.
    folder = Path(tempfile.mkdtemp(prefix="scalepath-gateway-"))
    name = str(folder / "config.yaml")
    (folder / "config.yaml").write_text(config_text)
    (folder / f"{HOOKS_MODULE}.py").write_text(hooks_source())
    # No name on disk (Linux: O_TMPFILE): nothing is left behind, even when this process is killed.
    log = tempfile.TemporaryFile(prefix="scalepath-gateway-", suffix=".log")  # noqa: SIM115
    try:
        sock = listening_socket(port)
    except OSError as error:
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise EngineSetupError(f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}"
                               + (" (another gateway?)" if error.errno == errno.EADDRINUSE else "")
                               + "; pass another --port, or --port 0 for any free one") from None
    try:
        process = children.start(
            children.python_command(python, "uvicorn", [
                "litellm.proxy.proxy_server:app", "--fd", str(sock.fileno()),
                # uvloop and httptools: the event loop and HTTP parser in C (uvicorn's fastest pair);
                # no access log (a line per request; the engine's metrics count requests).
                "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)], prelude=_CLEANUP,
                death_signal=DEATH_SIGNAL),
            env={**_base_env(), **ENGINE_SETTINGS, **env, "CONFIG_FILE_PATH": name},
            pass_fds=(sock.fileno(),), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        engine = EngineProcess(process=process, port=sock.getsockname()[1], config_path=Path(name), log=log)
    finally:
        sock.close()
    try:
        _wait_until_live(engine, startup_timeout)
    except BaseException:
        engine.stop()
        raise
    return engine


def _base_env() -> dict[str, str]:
    # The engine gets a clean environment: PATH and locale, not this process's credentials.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _wait_until_live(engine: EngineProcess, timeout: float) -> None:
    """Poll the liveness route until it answers 200, the process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if engine.process.poll() is not None:
            raise EngineError(f"the engine exited with {engine.process.returncode} while starting:\n"
                              f"{engine.log_tail()}")
        try:
            if httpx.get(engine.url + LIVENESS_PATH, timeout=5.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise EngineError(f"the engine did not answer on {engine.url} within {timeout:.0f}s:\n{engine.log_tail()}")
        time.sleep(0.25)
