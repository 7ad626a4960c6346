"""Physical names that let a replacement be created next to the resource it replaces."""

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
