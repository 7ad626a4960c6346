"""Errors the stack program raises before any resource exists."""

from __future__ import annotations

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
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid stack config ({len(issues)} problem(s)):\n{lines}")
