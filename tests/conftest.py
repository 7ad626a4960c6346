"""Shared fixtures: Pulumi mocks for component tests and an offline plan runner for stack tests."""

from __future__ import annotations

import atexit
import copy
import ipaddress
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from huggingface_hub import constants as hf_constants
from hypothesis import settings

from components.disk_memo import CACHE_DIR_ENV
from scalepath.mocks import ScalepathMocks
from scalepath.plan import Plan, RecordingMonitor, run_plan
from scalepath.policy_runner import PolicyPackSession, start_pack
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT, profiles
from tests.support.policy import PACK

# huggingface_hub builds its User-Agent with a registry fetched from huggingface.co on the first
# request, so a provider test talking to the local fake API also resolved and dialled the Hub.
# Telemetry off skips that lookup (the env var for subprocesses, the constant for this process,
# which read it at import).
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
hf_constants.HF_HUB_DISABLE_TELEMETRY = True
# The SDK answers memo (components/disk_memo.py) lives in a folder of this run: tests never read a
# user's memo and CI writes nothing outside the clone. Subprocesses (CLI tests) inherit it.
os.environ[CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="scalepath-test-cache-")
atexit.register(shutil.rmtree, os.environ[CACHE_DIR_ENV], ignore_errors=True)

_NETWORK_ATTEMPTS: list[str] = []


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _record_network(event: str, args: tuple) -> None:
    # Libraries swallow connection errors (the Hub lookup above did), so record rather than raise.
    if event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        if not _is_loopback(args[1][0]):
            _NETWORK_ATTEMPTS.append(f"connect to {args[1][0]}")
    elif event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        _NETWORK_ATTEMPTS.append(f"name lookup of {args[0]!r}")


sys.addaudithook(_record_network)


@pytest.fixture(autouse=True)
def no_network_beyond_loopback() -> Iterator[None]:
    """Tests are offline: any lookup or connection beyond loopback fails the test that made it."""
    _NETWORK_ATTEMPTS.clear()
    yield
    attempts, _NETWORK_ATTEMPTS[:] = list(_NETWORK_ATTEMPTS), []
    assert attempts == [], f"network access beyond loopback: {attempts}"

# Property tests are never timed, and CI draws the same examples every run (tests/support/profiles.py).
profiles.register()
settings.load_profile(profiles.chosen(os.environ))


@pytest.fixture(autouse=True)
def recorder() -> RecordingMonitor:
    """Every test runs against the mocks ``scalepath plan`` uses; ``recorder.recorded`` lists
    what a component test registered, in the plan's wire form."""
    monitor = RecordingMonitor(ScalepathMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project="scalepath", stack="test", preview=True,
                             monitor=monitor)
    return monitor


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackSession]:
    """The shipped policy pack, started once per module as the engine starts it."""
    with start_pack(PACK, "scalepath", "test") as session:
        session.configure_stack("scalepath", "test", {}, [], {"pulumi:project": "scalepath"})
        yield session


@pytest.fixture(scope="session")
def _shipped_plans() -> dict[str, Plan]:
    return {}


@pytest.fixture
def shipped_plan(_shipped_plans: dict[str, Plan]) -> Callable[[str], Plan]:
    """Plan a shipped environment by stack name: each stack runs once per session (the files
    don't change during a run), and every caller gets its own copy to mutate."""
    def plan(stack: str) -> Plan:
        if stack not in _shipped_plans:
            _shipped_plans[stack] = run_plan(load_stack_config(stack, ROOT))
        return copy.deepcopy(_shipped_plans[stack])
    return plan


@pytest.fixture
def base_config() -> dict[str, Any]:
    """A minimal valid config (AWS budget, no deployments) that tests extend."""
    return {
        "aws:region": "us-east-1",
        "scalepath:environment": "dev",
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"], "aws": {}},
        "scalepath:deployments": [],
    }
