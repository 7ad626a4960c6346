"""Readers for the price and hardware tables that live with the components (``components/data``).

The instance catalogue has its own reader (:mod:`components.catalog`); this module reads the
tables only the cost model needs: GPU models, model geometry, per-token prices of managed
APIs and prices of non-instance resources. Each file carries ``source`` and ``asOf``; the
figures are read here, never copied into code.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt
from pydantic.alias_generators import to_camel

from components.catalog import DATA_DIR as INSTANCES_DIR

DATA_DIR: Path = INSTANCES_DIR.parent


class _Table(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class Gpu(_Table):
    """One GPU model's datasheet peaks."""

    memory_gib: PositiveFloat = Field(alias="memoryGiB")
    memory_bandwidth_gbs: PositiveFloat = Field(alias="memoryBandwidthGBs")
    """Peak memory bandwidth, GB/s (decimal)."""
    fp16_tflops: PositiveFloat
    """Peak dense FP16/BF16 tensor throughput."""
    source: str


class Benchmark(_Table):
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


class GpuTable(_Table):
    """``data/gpus.yaml``."""

    source: str
    as_of: str
    gpus: dict[str, Gpu]
    benchmarks: list[Benchmark] = []


class ModelGeometry(_Table):
    """What sizes a model's weights and KV cache."""

    params_b: PositiveFloat = Field(alias="paramsB")
    layers: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt


class ModelTable(_Table):
    """``data/models.yaml``."""

    source: str
    as_of: str
    models: dict[str, ModelGeometry]


class TokenPrice(_Table):
    """One provider's serverless price for a model, USD per million tokens."""

    provider: str
    input_usd_per_m_tok: NonNegativeFloat = Field(alias="inputUsdPerMTok")
    output_usd_per_m_tok: NonNegativeFloat = Field(alias="outputUsdPerMTok")


class SizeTier(TokenPrice):
    """Price of any model up to ``max_params_b`` billion parameters."""

    max_params_b: PositiveFloat = Field(alias="maxParamsB")


class TokenPriceTable(_Table):
    """``data/token_prices.yaml``."""

    source: str
    as_of: str
    models: dict[str, list[TokenPrice]]
    size_tiers: list[SizeTier]

    def cheapest(self, model: str | None, params_b: float) -> tuple[TokenPrice, str]:
        """The cheapest listed price for ``model`` (by a blended 2:1 input:output mix), else the
        size tier for ``params_b``; with a note saying which applied."""
        listed = self.models.get(model or "")
        if listed:
            best = min(listed, key=lambda p: 2 * p.input_usd_per_m_tok + p.output_usd_per_m_tok)
            return best, f"{best.provider} list price for {model}"
        for tier in self.size_tiers:
            if params_b <= tier.max_params_b:
                return tier, f"{tier.provider} serverless tier for models up to {tier.max_params_b:g}B"
        raise ValueError(f"no token price tier covers {params_b:g}B parameters")


class SageMakerServerlessRates(_Table):
    """SageMaker Serverless Inference rates and the assumed duration of one request."""

    usd_per_gb_second: PositiveFloat
    provisioned_usd_per_gb_second: PositiveFloat
    assumed_seconds_per_request: NonNegativeFloat
    assumed_seconds_per_output_token: NonNegativeFloat


class ServicePriceTable(_Table):
    """``data/service_prices.yaml``: non-instance resources by Pulumi type (globs allowed in lists)."""

    source: str
    as_of: str
    usd_per_hour: dict[str, NonNegativeFloat]
    usd_per_month: dict[str, NonNegativeFloat]
    no_charge: list[str]
    metered: list[str]
    sagemaker_serverless: SageMakerServerlessRates

    def no_charge_for(self, type_: str) -> bool:
        """True when resources of ``type_`` bill nothing by themselves."""
        return any(fnmatch.fnmatchcase(type_, p) for p in self.no_charge)

    def is_metered(self, type_: str) -> bool:
        """True when ``type_`` bills only by use (storage, requests, data)."""
        return any(fnmatch.fnmatchcase(type_, p) for p in self.metered)


def _read(name: str) -> dict:
    return yaml.safe_load((DATA_DIR / name).read_text())


@cache
def gpus() -> GpuTable:
    """The GPU table."""
    return GpuTable.model_validate(_read("gpus.yaml"))


@cache
def models() -> ModelTable:
    """The model geometry table."""
    return ModelTable.model_validate(_read("models.yaml"))


@cache
def token_prices() -> TokenPriceTable:
    """The serverless per-token price table."""
    return TokenPriceTable.model_validate(_read("token_prices.yaml"))


@cache
def service_prices() -> ServicePriceTable:
    """The non-instance resource price table."""
    return ServicePriceTable.model_validate(_read("service_prices.yaml"))
