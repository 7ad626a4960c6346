"""The one redaction rule: every token in a string, keys of JSON objects too, nothing lost."""

from __future__ import annotations

from components.token_shapes import REDACTED, redact, redact_json

HF = "hf_" + "a1" * 15
SK = "sk-" + "b2" * 20


def test_a_string_with_two_tokens_loses_both() -> None:
    assert redact(f"key {HF}, then {SK}.") == f"key {REDACTED}, then {REDACTED}."
    assert redact(f"{HF}:{SK}") == f"{REDACTED}:{REDACTED}"


def test_json_keys_are_redacted_and_keys_that_redact_alike_keep_their_values() -> None:
    document = {HF: 1, SK: [{"id": f"ci_{HF}"}], "plain": "x"}
    assert redact_json(document) == {REDACTED: 1, f"{REDACTED} #2": [{"id": f"ci_{REDACTED}"}], "plain": "x"}
