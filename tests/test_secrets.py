"""`secure:` values that are placeholders, not ciphertext: `plan` names them (text and JSON) and
`scalepath secrets` prints the Pulumi command that sets each, never taking a value itself."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import EXIT_OK, EXIT_VIOLATIONS, app
from scalepath.stackconfig import is_ciphertext, load_stack_config
from tests.support import ROOT, SHIPPED

runner = CliRunner()
#: Read by hand from environments/: the stacks that ship `scalepath:hfToken: {secure: ...}` placeholders.
PLACEHOLDER_STACKS = {"dev", "gateway-dev", "azure-prod", "gcp-prod"}


def _b64(size: int) -> str:
    return base64.b64encode(bytes(range(size))).decode()


def passphrase_ciphertext(nonce: int = 12, sealed: int = 16) -> str:
    """Shaped as Pulumi's passphrase provider writes: v1:<base64 nonce>:<base64 sealed value>."""
    return f"v1:{_b64(nonce)}:{_b64(sealed)}"


@pytest.mark.parametrize(("value", "expected"), [
    (passphrase_ciphertext(), True),                  # 12-byte nonce, bare 16-byte GCM tag (empty secret)
    (passphrase_ciphertext(nonce=11), False),         # AES-GCM nonce is exactly 12 bytes
    (passphrase_ciphertext(nonce=13), False),
    (passphrase_ciphertext(sealed=15), False),        # shorter than the tag alone
    (_b64(40), True),                                 # Pulumi Cloud: one base64 string
    ("v1:c2NhbGVwYXRoLWRldi1wbGFjZWhvbGRlcg==", False),  # the dev placeholder: no nonce part
    ("v1:offline-placeholder-set-with-pulumi-config-set-secret", False),
    ("AAABAJpWmJ3mzbXnGcz5aB3b0ulwmQ6w9uI0pNy+scalepath-offline-example", False),  # not base64
    ("", False),
])
def test_ciphertext_shape(value: str, expected: bool) -> None:
    assert is_ciphertext(value) is expected


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_placeholders_are_found(stack: str) -> None:
    expected = {"scalepath:hfToken"} if stack in PLACEHOLDER_STACKS else set()
    assert load_stack_config(stack, ROOT).placeholder_keys == expected


def _with_token(tmp_path: Path, value: str) -> Path:
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    document["config"]["scalepath:hfToken"] = {"secure": value}
    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_secrets_prints_the_command_and_fails_while_a_placeholder_is_left(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["secrets", "--stack", "dev"])
    assert result.exit_code == EXIT_VIOLATIONS, result.output
    assert "  pulumi config set --secret --stack dev scalepath:hfToken\n" in result.stdout
    assert "c2NhbGVwYXRo" not in result.stdout  # the stored value is never echoed


def test_secrets_passes_once_every_value_is_ciphertext(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["secrets", "--stack", "dev", "--config",
                                 str(_with_token(tmp_path, passphrase_ciphertext(sealed=40)))])
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == "scalepath:hfToken: ciphertext\n"


def test_plan_names_placeholders_in_text_and_json(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    text = runner.invoke(app, ["plan", "--stack", "dev"])
    assert text.exit_code == EXIT_OK, text.output
    assert "warning: not ciphertext yet: scalepath:hfToken;" in " ".join(text.stdout.split())
    document = json.loads(runner.invoke(app, ["plan", "--stack", "dev", "--json"]).stdout)
    assert document["placeholder_secrets"] == ["scalepath:hfToken"]
    real = runner.invoke(app, ["plan", "--stack", "dev", "--json", "--config",
                               str(_with_token(tmp_path, passphrase_ciphertext(sealed=40)))])
    assert json.loads(real.stdout)["placeholder_secrets"] == []
