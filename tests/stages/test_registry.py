"""Every stage has a registry entry, and every entry's facts hold against the data they name."""

from __future__ import annotations

import dataclasses

import pytest

from components import catalog
from scalepath.cost import tables
from stacks.config import Stage
from stacks.stages import STAGES
from stacks.stages.entries import StageEntry
from tests.support import ROOT


def test_every_stage_has_an_entry() -> None:
    assert [s for s in Stage if s not in STAGES] == []


def test_entries_declare_every_fact_without_defaults() -> None:
    # A new fact gets no default, so an entry that lacks it fails at import, not in the advisor.
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(StageEntry))


@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_entry_facts_hold(stage: Stage) -> None:
    entry = STAGES.entry(stage)
    assert isinstance(entry.private, bool) and isinstance(entry.usage_priced, bool)
    # A stage is priced either per use or from its instance catalogue, never neither.
    assert (entry.catalog_family is None) == entry.usage_priced
    if entry.catalog_family is not None:
        assert catalog.load(entry.catalog_family).gpu_types(), entry.catalog_family
    prices = tables.service_prices()
    assert all(prices.fixed_monthly(t) > 0 for t in entry.fixed_cost_types), entry.fixed_cost_types
    assert STAGES[stage].settings.stage_value is stage, entry.module
    assert (ROOT / "docs" / "stages" / f"{stage.value}.md").is_file()
