"""Physical names a plan builds from the project and stack (``<project>-<stack>``, the ``stack``
tag): what ``tests/data/shipped_names.json`` holds for every shipped environment, so a change to
a name builder that would rename (replace) a shipped resource fails a test."""

from __future__ import annotations

import re
from typing import Any

NAMES_FILE = "shipped_names.json"
_NOT_A_NAME = re.compile(r"[\s{}\"]")


def physical_names(plan_json: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{urn: {input: value}}``: every top-level string input holding the stack tag and shaped like
    a name (no spaces or braces: descriptions, documents and queries aside)."""
    tag = f"{plan_json['project']}-{plan_json['stack']}"
    found: dict[str, dict[str, str]] = {}
    for resource in plan_json["resources"]:
        names = {key: value for key, value in (resource["inputs"] or {}).items()
                 if isinstance(value, str) and tag in value and not _NOT_A_NAME.search(value)}
        if names:
            found[resource["urn"]] = names
    return found
