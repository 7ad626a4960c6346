"""Answers of slow-to-load libraries kept on disk between runs, keyed by those libraries' versions.

The SageMaker SDK takes 2-5 s to import, and a plan needs only a handful of its answers (image
URIs, known container versions), which are a pure function of the installed packages' data. A
memo file holds them per set of installed versions, so the next plan with the same packages
never imports the SDK; upgrading either package starts a new file.

The folder is ``$SCALEPATH_CACHE_DIR``, else ``$XDG_CACHE_HOME/scalepath``, else
``~/.cache/scalepath``; ``SCALEPATH_CACHE_DIR=""`` turns the memo off. A missing, unreadable or
malformed file is an empty memo and a failed write is ignored: the memo only ever saves time.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from components.files import read_regular_file, write_atomic

CACHE_DIR_ENV = "SCALEPATH_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where memo files live; None when turned off."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scalepath"


class DiskMemo:
    """JSON answers by key, in ``<cache>/<name>-<dist><version>-....json`` (read on first use)."""

    def __init__(self, name: str, distributions: tuple[str, ...]):
        self._name, self._distributions = name, distributions
        self._entries: dict[str, Any] | None = None

    def _path(self) -> Path | None:
        folder = cache_dir()
        if folder is None:
            return None
        try:
            versions = "-".join(f"{d}{metadata.version(d)}" for d in self._distributions)
        except metadata.PackageNotFoundError:  # the answering package is not installed: nothing to key on
            return None
        return folder / f"{self._name}-{versions}.json"

    def _read(self, path: Path | None) -> dict[str, Any]:
        if path is None:
            return {}
        try:
            entries = json.loads(read_regular_file(path))
        except (OSError, ValueError):  # missing, unreadable, not UTF-8 or not JSON: start afresh
            return {}
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Any | None:
        """The remembered answer for ``key``, or None."""
        if self._entries is None:
            self._entries = self._read(self._path())
        return self._entries.get(key)

    def strings(self, key: str) -> list[str] | None:
        """The remembered non-empty list of strings for ``key``; None if absent or of another shape."""
        value = self.get(key)
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return value
        return None

    def put(self, key: str, value: Any) -> None:
        """Remember ``value`` (JSON) for ``key``, merged with what other runs wrote meanwhile."""
        path = self._path()
        entries = {**self._read(path), **(self._entries or {}), key: value}
        self._entries = entries
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(entries, sort_keys=True) + "\n")
        except OSError:  # read-only home, full disk: the next run asks the library again
            pass
