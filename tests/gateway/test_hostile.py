"""Hostile input on ``scalepath gateway``: client keys the engine would not enforce, backend URLs
carrying credentials or no host. Fast checks without the engine; the engine's own behaviour for
these is pinned in ``test_serve.py``."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import app
from scalepath.gateway.engine import EngineSetupError, start_engine
from scalepath.gateway.render import parse_backend_overrides, render_gateway
from scalepath.gateway.serve import engine_env
from scalepath.stackconfig import load_stack_config
from stacks.errors import ConfigError
from tests.support import ROOT
from tests.support.openai_standin import Reply, StandIn

BACKENDS = ["chat-endpoint=http://127.0.0.1:9/v1", "chat-serverless=http://127.0.0.1:9/v1"]


def _backends():
    return render_gateway(load_stack_config("gateway-dev", ROOT), BACKENDS).backends


@pytest.mark.parametrize("key", [
    "os.environ/NOPE",  # the engine resolves it again: unset -> no master key -> open (issue 27)
    "os.environ/PATH",  # resolves to a value anyone can guess
    "false", " FALSE ", "True",  # get_secret turns these into booleans
    "sk-a key with spaces-0123456789", "sk-tab\tkey-0123456789", "sk-clé-non-ascii-0123456789",
    "Bearer sk-0123456789abcdef",  # the engine deletes "Bearer " inside a key
    "sk-short",
], ids=lambda key: repr(key))
def test_a_client_key_the_engine_would_not_enforce_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        engine_env(_backends(), {"SCALEPATH_GATEWAY_KEY": key})
    assert [i.path for i in caught.value.issues] == ["$SCALEPATH_GATEWAY_KEY"]
    with pytest.raises(EngineSetupError, match=r"\$SCALEPATH_GATEWAY_KEY "):
        start_engine("model_list: []\n", {"SCALEPATH_GATEWAY_KEY": key})


@pytest.mark.parametrize("key", ["sk-scalepath-test-key-0123456789", secrets.token_urlsafe(24), "x" * 16])
def test_usable_client_keys_pass(key: str) -> None:
    assert engine_env({}, {"SCALEPATH_GATEWAY_KEY": key}) == {"SCALEPATH_GATEWAY_KEY": key}


# -- --backend DEPLOYMENT=URL: one parser for `gateway config|serve` and `promote` -----------------

runner = CliRunner()
TOKEN = "hf_" + "B4ckendT0kenThatMustNeverPrint" + "q" * 6


@pytest.mark.parametrize(("url", "problem"), [
    (f"http://u:{TOKEN}@127.0.0.1:8000/v1", "carries credentials"),
    ("http://admin:hunter2-not-token-shaped@127.0.0.1:8000/v1", "carries credentials"),
    ("http://hunter2-user@127.0.0.1:8000/v1", "carries credentials"),
    ("http://127.0.0.1:8000/v1?api_key=hunter2-not-token-shaped", "query or fragment"),
    ("http://127.0.0.1:8000/v1#hunter2-not-token-shaped", "query or fragment"),
    (f"http://127.0.0.1:8000/{TOKEN}/v1", "token-shaped"),
    (f"http://127.0.0.1:8000/{TOKEN.replace('_', '%5F')}/v1", "token-shaped"),  # the server decodes it
    (f"http://127.0.0.1:8000/%68{TOKEN[1:]}/v1", "token-shaped"),
    ("http://127.0.0.1:8000/v1;api_key=hunter2-not-token-shaped", "query or fragment"),
    ("http://127.0.0.1:8000/v1\nmaster_key: hunter2-not-token-shaped", "whitespace or control"),
    ("http://127.0.0.1:8000/v1\r", "whitespace or control"),
    ("http:///v1", "with a host"),
    ("http://:8000/v1", "with a host"),
    ("ftp://127.0.0.1/v1", "with a host"),
    ("http://127.0.0.1:99999/v1", "cannot be parsed"),
], ids=lambda value: repr(value)[:40])
def test_gateway_config_refuses_a_backend_url_with_credentials_or_no_host(url: str, problem: str) -> None:
    result = runner.invoke(app, ["gateway", "config", "--stack", "gateway-dev", "--backend", f"chat-endpoint={url}"])
    assert result.exit_code == 2, result.output
    assert "--backend chat-endpoint" in result.output and problem in result.output
    assert "hunter2" not in result.output and TOKEN[3:] not in result.output, "the URL is never echoed"


def test_gateway_config_takes_a_plain_backend_url() -> None:
    result = runner.invoke(app, ["gateway", "config", "--stack", "gateway-dev",
                                 "--backend", "chat-endpoint=https://[::1]:8443/openai/v1/"])
    assert result.exit_code == 0, result.output
    assert "api_base: https://[::1]:8443/openai/v1\n" in result.output


@pytest.mark.parametrize(("pairs", "path", "problem"), [
    (["nope=http://127.0.0.1:9/v1"], "--backend nope", "not a deployment this command calls; it calls: a, b"),
    (["a=http://127.0.0.1:9/v1", "a=http://127.0.0.1:10/v1"], "--backend a", "given twice"),
    (["=http://127.0.0.1:9/v1"], "--backend ?", "expected DEPLOYMENT=URL"),
    (["a"], "--backend a", "expected DEPLOYMENT=URL"),
])
def test_the_shared_parser_refuses_unknown_repeated_or_malformed_pairs(pairs: list[str], path: str,
                                                                     problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_backend_overrides(pairs, ["a", "b"])
    assert [(i.path, problem in i.message) for i in caught.value.issues] == [(path, True)]


def test_promote_refuses_a_backend_for_a_deployment_it_does_not_call(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: promote ignored it (and ran the suite); gateway config refused it."""
    monkeypatch.chdir(ROOT)
    env = tmp_path / "Pulumi.dev.yaml"
    env.write_text((ROOT / "environments" / "Pulumi.dev.yaml").read_text() + yaml.safe_dump({"config": {
        "scalepath:gateway": {"runtime": "ecs", "routes": [
            {"name": "chat", "targets": [{"deployment": "chat-endpoint", "weight": 100}]}]}}})
        .removeprefix("config:\n"))
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps({"id": "q", "messages": [{"role": "user", "content": "hi"}],
                                 "expect": {"contains": "Paris"}}) + "\n")
    with StandIn("server", reply=lambda body: Reply("Paris.")) as server:
        result = runner.invoke(app, [
            "promote", "--stack", "dev", "--config", str(env), "--route", "chat", "--to", "chat-serverless",
            "--suite", str(suite), "--timeout", "30", "--backend", f"chat-endpoint={server.url}",
            "--backend", f"chat-serverless={server.url}", "--backend", f"chat-typo={server.url}"])
        assert server.requests == 0, "refused before any request"
    assert result.exit_code == 2, result.output
    assert "--backend chat-typo" in result.output and "chat-serverless, chat-endpoint" in result.output


def test_advise_refuses_a_token_for_a_model_without_printing_it() -> None:
    for model in (TOKEN, f"org/{TOKEN}-8B"):
        result = runner.invoke(app, ["advise", "--requests-per-month", "1000", "--input-tokens", "10",
                                     "--output-tokens", "10", "--model", model])
        assert result.exit_code == 2, result.output
        assert "token-shaped" in result.output and TOKEN not in result.output
