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


@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_cost_basis_and_secrets_hold(stage: Stage) -> None:
    """A per-token stage's price list loads (or is None: unknown); every secret key a stage reads is
    refused in plain text by the parser, which learns the keys from the entries."""
    from stacks.errors import ConfigError
    from stacks.parse import parse_spec
    from tests.support.contracts import samples

    entry = STAGES.entry(stage)
    if entry.cost.token_prices is not None:
        assert tables.token_prices(entry.cost.token_prices).models
    sample = samples()[stage]
    spec = parse_spec(sample.config.values, project=sample.config.project, stack=sample.config.stack,
                      secret_keys=sample.config.secret_keys)
    assert spec.deployments[sample.index].required_secrets() <= set(entry.secrets)
    for key in entry.secrets:
        plain = {**sample.config.values, f"scalepath:{key}": "plain"}
        with pytest.raises(ConfigError) as caught:
            parse_spec(plain, project=sample.config.project, stack=sample.config.stack, secret_keys=set())
        assert f"scalepath:{key}" in {i.path for i in caught.value.issues}
