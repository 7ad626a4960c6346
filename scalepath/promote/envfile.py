"""Writing a route's new weights into its environment file, changing nothing else.

ruamel.yaml's round-trip loader tells where each ``weight`` value stands; only those tokens are
rewritten in the original text (and, for a target new to the route, one entry is added in the
style of its siblings), so comments, quoting, order and layout stay byte for byte. The result is
parsed again and must equal the original document with exactly the new weights, and must pass the
stack's own parser, before it replaces the file (:func:`components.files.write_atomic`, owner,
group and mode kept). The file is read again just before the write and must still be what the run
started from, and still be there, unchanged, at the rename; a symlink is followed, so the file it
names is the one replaced and the link stays; a file with other hard links is refused. Targets
shared through a YAML anchor, alias or merge key are refused: an edit in one place would move
every route that shares them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.files import FileChanged, read_regular, write_atomic
from stacks.errors import ConfigError

GATEWAY_KEY = "scalepath:gateway"
_INTEGER = re.compile(r"[0-9]+")


class EnvFileError(Exception):
    """The environment file cannot be edited as asked; the message says where and why."""


def with_weights(text: str, route: str, weights: Mapping[str, int]) -> str:
    """``text`` (an environment file) with ``route``'s target weights set to ``weights``."""
    document = YAML().load(text)
    targets = _targets(document, route)
    lines = text.splitlines(keepends=True)
    known: set[str] = set()
    # Edit from the end backwards (by line, then column: a flow list may hold every target on one
    # line) so the positions still to edit stay valid.
    for target in sorted(targets, key=lambda t: tuple(t.lc.value("weight")), reverse=True):
        name = target["deployment"]
        known.add(name)
        line, col = target.lc.value("weight")
        match = _INTEGER.match(lines[line], col)
        if match is None:
            raise EnvFileError(f"{GATEWAY_KEY} route {route!r}: the weight of {name!r} is not a plain integer")
        lines[line] = lines[line][:col] + str(weights[name]) + lines[line][match.end():]
    added = [name for name in weights if name not in known]
    if added:
        lines = _append_targets(lines, targets, {name: weights[name] for name in added})
    result = "".join(lines)
    _check_only_weights_changed(text, result, route, weights)
    return result


def checked_edit(text: str, route: str, weights: Mapping[str, int], check: Callable[[str], object]) -> str:
    """:func:`with_weights`, then ``check`` (the stack parser) on the result: a file promote writes
    is one the next ``plan`` and ``promote`` accept. ``check`` raises ``ConfigError`` to refuse."""
    result = with_weights(text, route, weights)
    try:
        check(result)
    except ConfigError as error:
        raise EnvFileError(f"{GATEWAY_KEY} route {route!r}: with the new weights the file would not be a valid "
                           f"stack config, so it is left as it is; change the route by hand first:\n{error}") from None
    return result


def write_weights(path: Path, route: str, weights: Mapping[str, int], *, read_before: str,
                  check: Callable[[str], object]) -> None:
    """Rewrite ``path`` (the file a symlink names) with the new weights, atomically, with its mode,
    owner and group kept. ``read_before`` is the text the run started from: a file changed since, or
    while the new one is written, is not touched; nor is a file with other hard links."""
    real = Path(os.path.realpath(path))
    text, read = read_regular(real)
    if text != read_before:
        raise EnvFileError(f"{path} changed while the suite ran; nothing was written. Run promote again on the "
                           "file as it is now")
    if read.st_nlink > 1:
        raise EnvFileError(f"{path} has {read.st_nlink} hard links: replacing it would leave the other names with "
                           "the old weights, and writing it in place could leave it half-written; nothing was "
                           "written. Make it a file of its own (cp it aside and back) or use a symlink")
    edited = checked_edit(text, route, weights, check)
    try:
        write_atomic(real, edited, mode=stat.S_IMODE(read.st_mode), replaces=(read, text))
    except FileChanged:
        raise EnvFileError(f"{path} changed while the new weights were being written; nothing was written. Run "
                           "promote again on the file as it is now") from None
    except OSError as error:  # disk full, read-only folder, an owner we cannot give: the old file is whole
        raise EnvFileError(f"cannot write the new weights to {path}: {error.strerror or error}; the file is "
                           "unchanged") from None


def _targets(document: Any, route: str) -> CommentedSeq:
    try:
        routes = document["config"][GATEWAY_KEY]["routes"]
        found = [r for r in routes if r.get("name") == route]
    except (KeyError, TypeError, AttributeError):
        raise EnvFileError(f"no config.{GATEWAY_KEY}.routes in the environment file") from None
    if len(found) != 1:
        raise EnvFileError(f"{GATEWAY_KEY}: route {route!r} is not in the environment file")
    targets = found[0].get("targets")
    if not isinstance(targets, CommentedSeq) or not all(isinstance(t, CommentedMap) for t in targets) or not targets:
        raise EnvFileError(f"{GATEWAY_KEY} route {route!r}: targets must be a list of {{deployment, weight}} maps")
    shared = [targets, *targets, *(v for t in targets for v in t.values())]
    if any(_anchor(node) for node in shared) or any(t.merge for t in targets):
        raise EnvFileError(f"{GATEWAY_KEY} route {route!r}: its targets are shared through a YAML anchor, alias or "
                           "merge key (&, *, <<), so new weights would move every route that shares them; write "
                           "this route's targets out in full, then promote")
    return targets


def _anchor(node: Any) -> str | None:
    anchor = getattr(node, "anchor", None)
    return getattr(anchor, "value", None)


def _append_targets(lines: list[str], targets: CommentedSeq, new: Mapping[str, int]) -> list[str]:
    last = targets[-1]
    if targets.fa.flow_style():  # [{...}, {...}]: the new entries go after the last one's closing brace
        line, col = max(last.lc.value(key) for key in last)
        close = lines[line].find("}", col)
        if close < 0 or not last.fa.flow_style():
            raise EnvFileError("the route's targets are a flow list this edit cannot extend; add the new target "
                               "by hand or write the list in block style")
        added = "".join(f", {{deployment: {name}, weight: {weight}}}" for name, weight in new.items())
        return [*lines[:line], lines[line][:close + 1] + added + lines[line][close + 1:], *lines[line + 1:]]
    end = max(last.lc.value(key)[0] for key in last)
    item_col = last.lc.col
    dash = " " * (item_col - 2) + "- "  # a list item's content starts 2 columns after its dash
    if last.fa.flow_style():
        entries = [f"{dash}{{deployment: {name}, weight: {weight}}}\n" for name, weight in new.items()]
    else:
        pad = " " * item_col
        entries = [f"{dash}deployment: {name}\n{pad}weight: {weight}\n" for name, weight in new.items()]
    if not lines[end].endswith("\n"):
        lines[end] += "\n"
    return lines[: end + 1] + entries + lines[end + 1:]


def _check_only_weights_changed(before: str, after: str, route: str, weights: Mapping[str, int]) -> None:
    expected = yaml.safe_load(before)  # a fresh parse, free to change
    for entry in expected["config"][GATEWAY_KEY]["routes"]:
        if entry.get("name") == route:
            listed = {t["deployment"] for t in entry["targets"]}
            for target in entry["targets"]:
                target["weight"] = weights[target["deployment"]]
            entry["targets"].extend({"deployment": name, "weight": weight}
                                    for name, weight in weights.items() if name not in listed)
    try:
        same = yaml.safe_load(after) == expected
    except yaml.YAMLError:
        same = False
    if not same:
        raise EnvFileError(f"{GATEWAY_KEY} route {route!r}: could not rewrite the weights in place without "
                           "changing anything else; edit the file by hand")
