"""Per-token list prices of serverless inference (``components/data/token_prices.yaml``).

One reader for the two places that price a token: the cost model (``scalepath advise`` and the
plan's usage lines, :mod:`scalepath.cost.tables`) and the gateway, which hands the same price to
its engine per deployment so every response carries what it cost (``x-litellm-response-cost``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydantic import Field, NonNegativeFloat, PositiveFloat

from components.catalog import DATA_DIR as INSTANCES_DIR
from components.config_model import ConfigModel
from components.files import load_data
from components.model_facts import params_from_model_id

#: The price list of HF Inference Providers (the default list of per-token stages).
DEFAULT_LIST = "token_prices.yaml"
TOKENS_PER_M = 1_000_000


class TokenPrice(ConfigModel):
    """One provider's serverless price for a model, USD per million tokens."""

    provider: str
    input_usd_per_m_tok: NonNegativeFloat = Field(alias="inputUsdPerMTok")
    output_usd_per_m_tok: NonNegativeFloat = Field(alias="outputUsdPerMTok")


class SizeTier(TokenPrice):
    """Price of any model up to ``max_params_b`` billion parameters."""

    max_params_b: PositiveFloat = Field(alias="maxParamsB")


class TokenPriceTable(ConfigModel):
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


def price_list(name: str = DEFAULT_LIST) -> TokenPriceTable:
    """A per-token price list from ``components/data/<name>`` (read once per name)."""
    return _load(name)


@cache
def _load(name: str) -> TokenPriceTable:
    return TokenPriceTable.model_validate(load_data(INSTANCES_DIR.parent / name))


@dataclass(frozen=True)
class RequestPrice:
    """What one token of a deployment costs, in USD (the engine's ``input_cost_per_token`` units)."""

    input_usd_per_token: float
    output_usd_per_token: float
    note: str
    """Which list price applied (provider, or the size tier)."""


def request_price(model: str, provider: str = "auto", params_b: float | None = None,
                  list_name: str = DEFAULT_LIST) -> RequestPrice | None:
    """The per-token price of ``model`` served by ``provider``: that provider's list price when the
    list has one, else the price the cost model assumes (the cheapest listed provider, or the size
    tier of the model's parameter count, from ``params_b`` or its id). ``None``: no price is known."""
    table = price_list(list_name)
    listed = {p.provider: p for p in table.models.get(model, [])}
    if provider in listed:
        price, note = listed[provider], f"{provider} list price for {model}"
    else:
        size = params_b if params_b is not None else params_from_model_id(model)
        if not listed and size is None:
            return None
        try:
            price, note = table.cheapest(model, size or 0.0)
        except ValueError:
            return None
    return RequestPrice(_per_token(price.input_usd_per_m_tok), _per_token(price.output_usd_per_m_tok),
                        f"{note} ({table.source}, as of {table.as_of})")


def _per_token(usd_per_m_tok: float) -> float:
    # Rounded to 15 decimals so 0.05 per million renders as 5e-08, not 5.0000000000000004e-08.
    return round(usd_per_m_tok / TOKENS_PER_M, 15)
