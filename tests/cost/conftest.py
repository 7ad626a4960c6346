"""Fixtures for the cost tests: stand-in instance catalogues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import catalog
from components.catalog import Catalog


@pytest.fixture
def fake_catalogs(monkeypatch) -> Callable[..., None]:
    """Add catalogue families for one test (``family={type: row}``), e.g. tables other stages own.

    The stand-ins are validated :class:`Catalog` objects; families not given load from disk.
    """
    original = catalog.load
    fakes: dict[str, Catalog] = {}
    monkeypatch.setattr(catalog, "load", lambda family: fakes[family] if family in fakes else original(family))

    def add(**families: dict[str, dict[str, Any]]) -> None:
        for family, rows in families.items():
            fakes[family] = Catalog.model_validate({
                "family": family, "source": "test", "asOf": "2025-01-01",
                "instances": {name: {**row, "name": name} for name, row in rows.items()},
            })

    return add
