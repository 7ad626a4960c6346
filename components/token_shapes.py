"""Token-shaped substrings: the one rule for finding and redacting credentials in text.

The patterns live with the policy pack (``policies/data/token_patterns.json``) because the pack
is standalone and may import nothing from here; the stack program reads the same file, so the
parser refuses exactly what the pack's ``no-plaintext-secrets`` rule refuses. It lives in
``components`` (the bottom of the import chain) so that the HF endpoint provider scrubs API text
with the same rule. Each pattern matches anywhere inside a longer string (``ci_hf_<token>``,
``--api-key=sk-<key>``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

PATTERNS_FILE = Path(__file__).resolve().parents[1] / "policies" / "data" / "token_patterns.json"

REDACTED = "[redacted]"
"""What a token-shaped substring is replaced with in messages, plan JSON and logs."""


@cache
def token_shape() -> re.Pattern[str]:
    """Every credential shape of the shared data file as one compiled alternation."""
    patterns = json.loads(PATTERNS_FILE.read_text())["patterns"]
    return re.compile("|".join(f"(?:{p})" for p in patterns.values()))


def has_token(text: str) -> bool:
    """True when ``text`` holds a token-shaped substring anywhere."""
    return token_shape().search(text) is not None


def redact(text: str) -> str:
    """``text`` with every token-shaped substring replaced by :data:`REDACTED`."""
    return token_shape().sub(REDACTED, text)


def redact_json(value: Any) -> Any:
    """A JSON-like value with every string (keys too) redacted. Keys that redact alike are numbered
    (``[redacted]``, ``[redacted] #2``) so that no value is lost to a collision."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            name = redact(str(key))
            unique, count = name, 1
            while unique in result:
                count += 1
                unique = f"{name} #{count}"
            result[unique] = redact_json(item)
        return result
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value
