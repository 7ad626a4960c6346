"""What every part knows about a model: its size, attention shape, context and whether the Hub
gates it. One table (``components/data/models.yaml``, a ``source`` and ``asOf`` per row) read by
the GPU-fit, tensor-parallel and gated-model checks and by the cost advisor; a model not in the
table is sized from its Hub id (``...-70B``) or not at all.

It lives with the components: stages size timeouts with it under a bare ``pulumi up``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt

from components.config_model import ConfigModel
from components.files import load_data

DATA_FILE = Path(__file__).parent / "data" / "models.yaml"


class ModelFacts(ConfigModel):
    """One model of the table."""

    params_b: PositiveFloat = Field(alias="paramsB")
    """Parameters loaded, in billions (every expert of a mixture of experts)."""
    active_params_b: PositiveFloat | None = Field(None, alias="activeParamsB")
    """Parameters one token runs through (mixture of experts); ``params_b`` when unset."""
    layers: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    context: PositiveInt
    """Longest sequence the model takes (``max_position_embeddings``)."""
    gated: bool
    """The Hub serves the weights only to accounts that accepted the licence."""
    source: str
    as_of: str

    @property
    def active_b(self) -> float:
        """Parameters per token, in billions."""
        return self.active_params_b if self.active_params_b is not None else self.params_b


class GatedPrefix(ConfigModel):
    """Repositories the Hub gates as a family (``meta-llama/``)."""

    prefix: str
    source: str
    as_of: str


class ModelTable(ConfigModel):
    """``data/models.yaml``."""

    gated_prefixes: tuple[GatedPrefix, ...]
    models: dict[str, ModelFacts]


@cache
def table() -> ModelTable:
    """The model table."""
    return ModelTable.model_validate(load_data(DATA_FILE))


def facts(model_id: str) -> ModelFacts | None:
    """The table's row for a Hub id, if it has one."""
    return table().models.get(model_id)


def gated(model_id: str) -> bool:
    """Whether the Hub serves the weights only to accounts that accepted a licence: the table's
    row, else the family's prefix."""
    row = facts(model_id)
    if row is not None:
        return row.gated
    return any(model_id.startswith(family.prefix) for family in table().gated_prefixes)


def params_from_model_id(model_id: str) -> float | None:
    """Parameter count in billions read from a Hub id (``Llama-3.1-70B`` -> 70), if it says.

    Mixture-of-experts names (``8x7B``) count every expert: an upper bound, as all are loaded
    (the table has the true count of the models it lists)."""
    sizes = [float(experts or 1) * float(size) for experts, size in
             re.findall(r"(?<![\d.])(?:(\d+)x)?(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", model_id.split("/")[-1])]
    return max(sizes) if sizes else None


def model_size_b(model_id: str, params_b: float | None = None) -> float | None:
    """Parameters loaded, in billions: the configured count, else the table's, else the id's."""
    if params_b is not None:
        return params_b
    row = facts(model_id)
    return row.params_b if row is not None else params_from_model_id(model_id)
