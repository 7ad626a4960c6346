"""The one redaction rule: every token in a string, keys of JSON objects too, nothing lost."""

from __future__ import annotations

from components.token_shapes import REDACTED, has_token, redact, redact_json

# Shapes from policies/data/token_patterns.json, made up here (no real credential).
HF = "hf_" + "a1B2c3D4e5F6g7H8i9J0k"
SK = "sk-" + "b2" * 20
GITHUB = "ghp_" + "Z9y8X7w6" * 5
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"


def test_a_string_holding_two_tokens_loses_both() -> None:
    assert redact(f"key {HF}, then {SK}.") == f"key {REDACTED}, then {REDACTED}."
    assert redact(f"{HF}:{SK}") == f"{REDACTED}:{REDACTED}"
    text = f"--token={HF} then GITHUB_TOKEN={GITHUB}."
    assert redact(text) == f"--token={REDACTED} then GITHUB_TOKEN={REDACTED}."
    assert redact(f"{HF}{HF}") != HF  # adjacent tokens: no token survives
    assert not has_token(redact(f"{HF} {AWS} {GITHUB}"))


def test_text_without_a_token_is_untouched() -> None:
    text = "task-12345678901234567890123456789012 and hf_short"  # `task-` is no `sk-`; hf_ needs 20
    assert not has_token(text) and redact(text) == text


def test_json_keys_are_redacted_and_keys_that_redact_alike_keep_their_values() -> None:
    document = {HF: 1, SK: [{"id": f"ci_{HF}"}], "plain": "x"}
    assert redact_json(document) == {REDACTED: 1, f"{REDACTED} #2": [{"id": f"ci_{REDACTED}"}], "plain": "x"}


def test_json_keys_and_values_are_redacted_at_every_depth() -> None:
    value = {HF: {"args": [f"--key {AWS}", (GITHUB, 3)], "ok": "plain"}, "count": 2, "none": None}
    assert redact_json(value) == {REDACTED: {"args": [f"--key {REDACTED}", [REDACTED, 3]], "ok": "plain"},
                                  "count": 2, "none": None}
    assert redact_json(f"{HF}") == REDACTED and redact_json(7) == 7
