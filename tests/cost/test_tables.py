"""The price and hardware tables: every catalogue row priced explicitly, sources, spot semantics."""

from __future__ import annotations

import pytest
import yaml

from components import catalog, model_facts
from components.catalog import Catalog, HourlyPrice, UnknownInstanceType, hourly_price
from scalepath.cost import tables
from scalepath.cost.advisor import _gpu_of


@pytest.mark.parametrize("family", catalog.families())
def test_every_catalogue_row_states_a_price_and_never_zero(family):
    raw = yaml.safe_load((catalog.DATA_DIR / f"{family}.yaml").read_text())
    assert raw["source"] and raw["asOf"]
    for name, row in raw["instances"].items():
        # Unknown must be explicit (`usdPerHour: null`), so a forgotten price is a failure here.
        assert "usdPerHour" in row, f"{family} {name}: no usdPerHour (write null if unknown)"
        assert row["usdPerHour"] is None or row["usdPerHour"] > 0, f"{family} {name}: a $0 price"
        for region, price in (row.get("regionalUsdPerHour") or {}).items():
            assert price > 0, f"{family} {name} in {region}: a $0 price"


@pytest.mark.parametrize("family", catalog.families())
def test_every_gpu_row_names_a_gpu_the_throughput_model_knows(family):
    table = catalog.load(family)
    unknown = [n for n in table.gpu_types() if _gpu_of(table.get(n)) is None]
    assert not unknown, f"{family}: GPU models missing from components/data/gpus.yaml: {unknown}"


def test_data_tables_carry_source_and_date():
    for table in (tables.gpus(), tables.token_prices(), tables.service_prices()):
        assert table.source and table.as_of[:2] == "20"
    table = model_facts.table()
    assert all(row.source and row.as_of[:2] == "20" for row in [*table.models.values(), *table.gated_prefixes])
    assert all(g.source for g in tables.gpus().gpus.values())


def test_size_tiers_cover_any_model_and_rise_with_size():
    tiers = tables.token_prices().size_tiers
    assert [t.max_params_b for t in tiers] == sorted(t.max_params_b for t in tiers)
    assert [t.output_usd_per_m_tok for t in tiers] == sorted(t.output_usd_per_m_tok for t in tiers)
    price, note = tables.token_prices().cheapest("someone/custom-13b", 13)
    assert price.output_usd_per_m_tok == 0.20 and "up to 16B" in note


def test_listed_model_uses_its_cheapest_provider():
    price, note = tables.token_prices().cheapest("meta-llama/Llama-3.1-8B-Instruct", 8)
    assert price.provider == "groq" and "groq" in note


def test_unknown_instance_type_is_an_error_naming_the_known_ones():
    with pytest.raises(UnknownInstanceType) as error:
        hourly_price("sagemaker", "ml.g5.3xlarge")
    assert "ml.g5.3xlarge" in str(error.value)
    assert "ml.g5.2xlarge" in str(error.value) and "ml.g5.48xlarge" in str(error.value)


def test_regional_price_overrides_the_reference_price(fake_catalogs):
    fake_catalogs(ec2={"g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24,
                                     "usdPerHour": 1.006, "regionalUsdPerHour": {"eu-west-1": 1.123}}})
    assert hourly_price("ec2", "g5.xlarge", "eu-west-1") == HourlyPrice(1.123, "$1.123/h on-demand (eu-west-1)")
    assert hourly_price("ec2", "g5.xlarge", "us-west-2") == HourlyPrice(1.006, "$1.006/h on-demand (reference region)")


def test_spot_price_applies_the_family_discount(fake_catalogs):
    fake_catalogs(ec2={"g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.0}})
    assert catalog.spot_discounts()["ec2"] == 0.6
    assert hourly_price("ec2", "g5.xlarge", spot=True).usd == pytest.approx(0.4)


def test_no_spot_option_and_unknown_price_are_none_not_zero(fake_catalogs):
    fake_catalogs(azureml={"Standard_NC24ads_A100_v4": {"gpu": "A100", "gpuCount": 1, "gpuMemoryGiB": 80,
                                                        "usdPerHour": None}})
    assert hourly_price("azureml", "Standard_NC24ads_A100_v4") is None
    assert hourly_price("sagemaker", "ml.g5.xlarge", spot=True) is None  # SageMaker endpoints have no spot
    assert all(0 < d < 1 for d in catalog.spot_discounts().values())


def test_fake_catalogue_is_a_real_catalogue(fake_catalogs):
    fake_catalogs(gce={"g2-standard-8": {"gpu": "L4", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 0.85}})
    assert isinstance(catalog.load("gce"), Catalog) and catalog.load("gce").spot_discount == 0.6


def test_the_tables_read_again_from_disk_are_the_ones_in_use() -> None:
    # Read past the cache: the cached tables were read before any test (or mutant) ran.
    assert tables.gpus.__wrapped__() == tables.gpus()
    assert tables.service_prices.__wrapped__() == tables.service_prices()
