"""The base of every config model: the stack config's and the components' settings and data tables.

It lives with the components (which never import ``stacks``) so that settings that are both stack
config and component args (``components/sagemaker/settings.py``) use the very same rules."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type admits ``true``/``false`` anywhere (``bool``, ``bool | None``, ``Any``)."""
    if annotation is bool or annotation is Any:
        return True
    if get_origin(annotation) in (Union, types.UnionType, typing.Annotated):
        return any(_takes_bool(arg) for arg in get_args(annotation))
    return False


def _numbers_in(annotation: Any) -> bool:
    """Whether a field's type is, or is a list/union of, ``int``/``float`` (Annotated constraints included)."""
    if annotation in (int, float):
        return True
    return any(_numbers_in(arg) for arg in get_args(annotation))


MAX_EXACT_INT = 2**53
"""Largest integer a 64-bit float (how Pulumi and JSON carry numbers) holds exactly."""


class ConfigModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable; numbers are
    finite (``.inf``/``.nan`` refused) and never booleans (``min: true`` is not one replica)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads true as 1 for int and float fields.
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if _takes_bool(annotation) or not _numbers_in(annotation):
            return value
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, bool) for v in values):
            raise ValueError("expected a number, not true/false")
        if any(isinstance(v, int) and abs(v) > MAX_EXACT_INT for v in values):
            raise ValueError(f"numbers beyond ±{MAX_EXACT_INT} do not survive Pulumi's wire format (64-bit floats)")
        return value
