"""SageMaker limits stated only in prose, and what the serving containers read.

Read from ``components/data/sagemaker_limits.yaml`` (each entry with its source). Ranges that
botocore's service model states as ``min``/``max``/``pattern``/``enum`` are not here: they come
from :mod:`components.aws.api_model` at check time.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from components import catalog
from components.config_model import ConfigModel
from components.files import load_data

DATA_FILE = Path(__file__).parent.parent / "data" / "sagemaker_limits.yaml"


class _Data(ConfigModel):
    # The file carries notes and quotes for readers beside the figures.
    model_config = ConfigDict(extra="ignore")


class BotocoreDoc(_Data):
    """Where botocore's model says it in prose (a test checks it still does)."""

    shape: str
    member: str
    says: str


class PercentRange(_Data):
    """A percentage range documented in prose."""

    min: int = 1
    max: int = 100
    botocore_doc: BotocoreDoc


class Rollout(_Data):
    linear_step_percent: PercentRange
    canary_percent: PercentRange
    maximum_execution_timeout: dict[str, Any]


class Invocation(_Data):
    realtime_response_seconds: int
    async_response_seconds: int
    source: str


class Serverless(_Data):
    unsupported: dict[str, str]
    source: str


class Decode(_Data):
    bandwidth_efficiency: float = Field(gt=0, le=1)
    alarm_headroom: float = Field(ge=1)
    weight_bytes_per_param: dict[str, float]
    source: str

    def bytes_per_param(self, quantize: str | None) -> float:
        """Weight bytes per parameter under ``quantize`` (16-bit when None or unlisted)."""
        table = self.weight_bytes_per_param
        return table.get(quantize or "default", table["default"])


class MessagesApiFlag(_Data):
    since: str
    until: str
    env: str


class Tgi(_Data):
    quantize: tuple[str, ...]
    max_input_tokens_since: str
    unshardable_quantize: tuple[str, ...]
    messages_api_flag: MessagesApiFlag
    source: str


class Containers(_Data):
    tgi: Tgi


class Limits(_Data):
    """The whole file."""

    source: str
    as_of: str
    rollout: Rollout
    invocation: Invocation
    serverless: Serverless
    decode: Decode
    containers: Containers


@cache
def load() -> Limits:
    """Read (once) and validate the limits file."""
    return Limits.model_validate(load_data(DATA_FILE))


def decimal(value: float) -> Fraction:
    """The decimal a data file or a config wrote, exactly: YAML reads ``18.9`` as the nearest
    float, whose ``repr`` is the shortest decimal that reads back the same, i.e. the text."""
    return Fraction(repr(value))


def decode_tokens_per_second(gpu: str | None, gpu_count: int, params_b: float | None,
                             quantize: str | None) -> Fraction | None:
    """Tokens per second one sequence gets on this hardware (bandwidth roofline x the file's
    efficiency); ``None`` when the GPU or the model size is unknown. Exact, so an answer budget
    that holds N tokens to the digit is floored to N, not N - 1 (issue 29: 50 tokens/s x 18.9 s)."""
    bandwidth = catalog.gpu_memory_bandwidth_gbs(gpu) if gpu else None
    if bandwidth is None or params_b is None or gpu_count == 0:
        return None
    decode = load().decode
    weight_bytes = decimal(params_b) * 10**9 * decimal(decode.bytes_per_param(quantize))
    return decimal(decode.bandwidth_efficiency) * gpu_count * decimal(bandwidth) * 10**9 / weight_bytes


def version_key(version: str) -> tuple[int, ...]:
    """``"2.3.1"`` -> ``(2, 3, 1)``; ``"3.3"`` -> ``(3, 3)``, which sorts just before ``(3, 3, 0)``:
    compare against a floor with :func:`at_least`, which counts missing parts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def at_least(version: str, floor: str) -> bool:
    """Whether container ``version`` is ``floor`` or newer; missing parts count as 0, so
    ``"3.3"`` is ``"3.3.0"`` (tuples alone would put ``(3, 3)`` before ``(3, 3, 0)``)."""
    have, need = version_key(version), version_key(floor)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))
