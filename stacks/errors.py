"""Errors the stack program raises before any resource exists."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pulumi

from components.token_shapes import redact

NAMESPACE = "scalepath"
"""Config namespace of every ``scalepath:`` key."""


def format_loc(loc: tuple[Any, ...], prefix: str = f"{NAMESPACE}:") -> str:
    """``('deployments', 1, 'scaling', 'max')`` -> ``scalepath:deployments[1].scaling.max``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return prefix + out


MAX_ECHO = 300
"""Longest piece of a value an error message repeats: enough to recognise it, never a megabyte."""


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text``, cut to ``limit`` characters and saying how long it was when it is longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters in all)"


def unprintable(text: str) -> list[str]:
    """The control and format characters (Unicode category C) in ``text``, as sorted ``U+XXXX``:
    what a terminal or a cloud API would act on or drop instead of showing."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c).startswith("C")})


_LONG_WORD = re.compile(rf"\S{{{MAX_ECHO + 1},}}")


def clip_words(text: str) -> str:
    """``text`` with every run of non-space characters longer than :data:`MAX_ECHO` clipped: a
    message that quotes a flag's value, a path or an option name never repeats megabytes of it."""
    return _LONG_WORD.sub(lambda match: clip(match.group()), text)


MAX_LISTED = 50
"""Most problems an error lists: a 200,000-item value with a wrong type in each is one mistake."""


def listing(problems: list[str]) -> str:
    """``problems`` as indented bullet lines, the first :data:`MAX_LISTED` of them and a count of the rest."""
    lines = [f"  - {p}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED:,} more")
    return "\n".join(lines)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a stack's config: where it is and what to do about it."""

    path: str
    """Key path as a user writes it, e.g. ``scalepath:deployments[1].scaling.max``."""
    message: str

    def __post_init__(self) -> None:
        # A token pasted in the wrong place (`stage: hf_...`) must not come back in the error.
        object.__setattr__(self, "path", redact(self.path))
        object.__setattr__(self, "message", redact(self.message))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class KeyedValueError(ValueError):
    """A model validator's error about one key below the model (``vllm.extraArgs``): the parser
    reports it at that key's path rather than at the model's."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


class ConfigError(pulumi.RunError):
    """The stack config is invalid. ``RunError`` makes ``pulumi up`` print it without a traceback."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__(f"invalid stack config ({len(issues)} problem(s)):\n{listing([str(i) for i in issues])}")
