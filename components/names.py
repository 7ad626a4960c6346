"""Physical names: fitted to a provider's length limit without losing what makes them unique, and
able to let a replacement be created next to the resource it replaces."""

from __future__ import annotations

import hashlib
import json


def replacement_suffix(*force_new: object) -> str:
    """Six hex digits of the values a provider cannot update in place (its ForceNew inputs, see
    ``data/replacements.yaml``). Put in a fixed physical name, a change of any of them also
    changes the name, so Pulumi creates the replacement first and deletes the old one after,
    instead of meeting the old name (a collision) or deleting first (a serving gap)."""
    text = json.dumps(force_new, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def fit_name(name: str, limit: int) -> str:
    """``name`` if it fits ``limit`` characters, else its head and a 6-hex hash of the whole name,
    so two long names that differ anywhere (not only in the kept part) stay different."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"
