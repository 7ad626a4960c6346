"""``scalepath gateway serve``: the real engine on 127.0.0.1 with the stack's rendered config.

Variables the config references come from this process's environment: the client key
(``$SCALEPATH_GATEWAY_KEY``), the HF token when an HF deployment is not overridden, and each
non-overridden deployment's ``SCALEPATH_<DEPLOYMENT>_*`` values (its URL or id once deployed).
SIGTERM/SIGINT stop the engine's whole process group, then this process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType

from components.gateway.args import KEY_ENV
from scalepath.gateway.engine import KEY_FIX, EngineProcess, client_key_problem, start_engine
from scalepath.gateway.render import RenderedGateway
from stacks.errors import ConfigError, ConfigIssue
from stacks.gateway.backends import Backend, secret_env


def engine_env(backends: Mapping[str, Backend], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the engine needs, from ``environ``; ConfigError listing each missing one (and a
    client key the engine could not use) with its fix."""
    needed = {KEY_ENV: "the gateway's client key: export it (any long random string locally)"}
    for deployment, backend in backends.items():
        for name in backend.env:
            needed[name] = (f"{deployment}'s deployed value; pass --backend {deployment}=URL instead "
                            "to use a local server")
    for name in secret_env(backends):
        needed[name] = "secret read by a routed deployment; export it, or --backend the deployments that need it"
    issues = [ConfigIssue(f"${name}", why) for name, why in needed.items() if not environ.get(name)]
    if environ.get(KEY_ENV) and (problem := client_key_problem(environ[KEY_ENV])):
        issues.append(ConfigIssue(f"${KEY_ENV}", f"{problem}; {KEY_FIX}"))
    if issues:
        raise ConfigError(issues)
    return {name: environ[name] for name in needed}


def serve(rendered: RenderedGateway, port: int, echo: Callable[[str], None]) -> int:
    """Run the engine until it exits or a signal arrives; the exit code for the CLI."""
    env = engine_env(rendered.backends, os.environ)
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # Only flag it: waiting on the engine inside a handler would deadlock with the main wait.
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    engine: EngineProcess | None = None
    try:
        engine = start_engine(rendered.text, env, port)
        echo(f"gateway: {engine.url}/v1 (engine pid {engine.process.pid}); stop with Ctrl-C")
        while engine.process.poll() is None and not stopping.wait(0.2):
            pass
        if stopping.is_set():
            return 0
        print(f"the engine exited with {engine.process.returncode}:\n{engine.log_tail()}", file=sys.stderr)
        return 1
    finally:
        if engine is not None:
            engine.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
