"""Readers for the price and hardware tables that live with the components (``components/data``).

The instance catalogue has its own reader (:mod:`components.catalog`); this module reads the
tables only the cost model needs: GPU models, per-token prices of managed
APIs and prices of non-instance resources. Each file carries ``source`` and ``asOf``; the
figures are read here, never copied into code.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from components.catalog import DATA_DIR as INSTANCES_DIR
from components.config_model import ConfigModel
from components.files import load_data
from components.token_prices import TokenPriceTable, price_list
from scalepath.cost.lines import HOURS_PER_MONTH

DATA_DIR: Path = INSTANCES_DIR.parent


class Gpu(ConfigModel):
    """One GPU model's datasheet peaks."""

    memory_gib: PositiveFloat = Field(alias="memoryGiB")
    memory_bandwidth_gbs: PositiveFloat = Field(alias="memoryBandwidthGBs")
    """Peak memory bandwidth, GB/s (decimal)."""
    fp16_tflops: PositiveFloat
    """Peak dense FP16/BF16 tensor throughput."""
    source: str


class Benchmark(ConfigModel):
    """A published serving measurement: output tokens/s of one replica."""

    model: str
    gpu: str
    gpu_count: PositiveInt
    precision: str
    concurrency: PositiveInt
    input_tokens: PositiveInt
    output_tokens: PositiveInt
    output_tokens_per_second: PositiveFloat
    source: str


class GpuTable(ConfigModel):
    """``data/gpus.yaml``."""

    source: str
    as_of: str
    gpus: dict[str, Gpu]
    benchmarks: list[Benchmark] = []


class SageMakerServerlessRates(ConfigModel):
    """SageMaker Serverless Inference rates and the assumed duration of one request."""

    usd_per_gb_second: PositiveFloat
    provisioned_usd_per_gb_second: PositiveFloat
    assumed_seconds_per_request: NonNegativeFloat
    assumed_seconds_per_output_token: NonNegativeFloat


class ContainerRate(ConfigModel):
    """Serverless container compute: price of a vCPU-hour and a GiB-hour of one replica."""

    usd_per_vcpu_hour: PositiveFloat
    usd_per_gib_hour: PositiveFloat
    reason: str
    source: str


class PriceRule(ConfigModel):
    """How resources of one Pulumi type bill (``service_prices.yaml``, under ``resources``).

    A rule is ``fixed`` (one of ``usdPerHour`` / ``usdPerDay`` / ``usdPerMonth``, times the
    lengths of the input lists named in ``per``), ``no-charge`` or ``metered``; or it picks a
    case by the value of one input (``by``, e.g. an endpoint type or a SKU name), with
    ``absent`` naming the case when the input is not set. ``reason`` says why, ``source`` where
    the figure comes from.
    """

    basis: Literal["fixed", "no-charge", "metered"] | None = None
    usd_per_hour: NonNegativeFloat | None = None
    usd_per_day: NonNegativeFloat | None = None
    usd_per_month: NonNegativeFloat | None = None
    per: list[str] = []
    """Dotted input paths; the charge is multiplied by the product of their list lengths."""
    per_gib: str | None = Field(default=None, alias="perGiB")
    """Dotted input path of a Kubernetes quantity (``200Gi``); the charge is per GiB of it."""
    unit: str = "resource"
    """What one counted item is, for the line's detail (``AZ (subnet ENI)``, ``condition``)."""
    by: str | None = None
    cases: dict[str, PriceRule] = {}
    absent: str | None = None
    reason: str
    source: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PriceRule:
        prices = [p for p in (self.usd_per_hour, self.usd_per_day, self.usd_per_month) if p is not None]
        if self.by is not None:
            if not self.cases or prices or self.basis is not None:
                raise ValueError("a rule with `by` has `cases` and no price or basis of its own")
            if self.absent is not None and self.absent not in self.cases:
                raise ValueError(f"absent case {self.absent!r} is not one of the cases")
            return self
        if self.cases:
            raise ValueError("`cases` needs `by`")
        if len(prices) > 1:
            raise ValueError("give one of usdPerHour, usdPerDay, usdPerMonth")
        basis = self.basis or ("fixed" if prices else None)
        if basis is None:
            raise ValueError("give a price (fixed) or basis: no-charge / metered")
        if (basis == "fixed") != bool(prices):
            raise ValueError("a fixed rule needs a price; no-charge and metered rules have none")
        if (self.per or self.per_gib) and basis != "fixed":
            raise ValueError("`per` / `perGiB` count priced items: only for fixed rules")
        object.__setattr__(self, "basis", basis)
        return self

    @property
    def usd_per_unit_month(self) -> float | None:
        """Monthly charge of one counted item (730 h; a day is 24 of them)."""
        if self.usd_per_hour is not None:
            return self.usd_per_hour * HOURS_PER_MONTH
        if self.usd_per_day is not None:
            return self.usd_per_day * HOURS_PER_MONTH / 24
        return self.usd_per_month

    @property
    def price_note(self) -> str:
        """The rate as written (``$0.01/h``)."""
        if self.usd_per_hour is not None:
            return f"${self.usd_per_hour:g}/h x {HOURS_PER_MONTH} h"
        if self.usd_per_day is not None:
            return f"${self.usd_per_day:g}/day x {HOURS_PER_MONTH / 24:g} days"
        return f"${self.usd_per_month:g}/month"


class ServicePriceTable(ConfigModel):
    """``data/service_prices.yaml``: non-instance resources by Pulumi type (keys may be globs)."""

    source: str
    as_of: str
    resources: dict[str, PriceRule]
    sagemaker_serverless: SageMakerServerlessRates
    containers: dict[str, ContainerRate]
    """``fargate``, ``cloudRun``, ``containerApps``: per-replica compute rates (the gateway's runtimes)."""

    def rule_for(self, type_: str) -> PriceRule | None:
        """The rule of ``type_``: its own key, else the first glob key that matches it."""
        if type_ in self.resources:
            return self.resources[type_]
        return next((rule for key, rule in self.resources.items()
                     if any(c in key for c in "*?[") and fnmatch.fnmatchcase(type_, key)), None)

    def fixed_monthly(self, type_: str) -> float:
        """Monthly charge of one resource of a plainly fixed type (no counts, no cases)."""
        rule = self.rule_for(type_)
        if rule is None or rule.basis != "fixed" or rule.per:
            raise KeyError(f"{type_} has no plain fixed price in service_prices.yaml")
        return rule.usd_per_unit_month or 0.0


def _read(name: str) -> dict:
    return load_data(DATA_DIR / name)


@cache
def gpus() -> GpuTable:
    """The GPU table."""
    return GpuTable.model_validate(_read("gpus.yaml"))


@cache
def token_prices(name: str = "token_prices.yaml") -> TokenPriceTable:
    """A per-token price list (``components/data/<name>``; default: HF Inference Providers'), read by
    :mod:`components.token_prices`, which the gateway prices responses with too."""
    return price_list(name)


@cache
def service_prices() -> ServicePriceTable:
    """The non-instance resource price table."""
    return ServicePriceTable.model_validate(_read("service_prices.yaml"))
