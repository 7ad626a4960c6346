"""Replacement facts per resource type (``components/data/replacements.yaml``): which input changes
make a provider replace a resource, its physical-name input, what stops serving while it is
re-created, and ranges a provider accepts where narrower than the API model.

Read by ``scalepath plan --base`` (which judges a transition) and by config models
(:func:`provider_constraint`), so a provider's narrower range is refused before ``up``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components.files import load_data

DATA_FILE = Path(__file__).parent / "data" / "replacements.yaml"
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
"""Every dynamic resource has this type; the ``kind`` input tells them apart."""


class TypeFacts(BaseModel):
    """What the provider of one resource type does on a change (see the data file's header)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    read: bool = True
    complete: bool = True
    """False: only the listed replacement keys were read (e.g. an azure-native type whose own API spec was
    not opened); any other change may still replace, and ``plan --base`` says so."""
    unread: tuple[str, ...] = ()
    """Inputs the source read does not have (newer than the version read): a change of one may replace."""
    source: Any = None
    force_new: tuple[str, ...] = ()
    force_new_block: tuple[str, ...] = ()
    force_new_if_shrunk: tuple[str, ...] = ()
    """CIDR inputs that replace the resource when the new range does not contain the old one."""
    immutable: bool = False
    except_: tuple[str, ...] = Field((), alias="except")
    name: str | None = None
    name_scope: tuple[str, ...] = ()
    """Inputs the physical name is unique within (project, location, cluster, parent resource): when
    one of them changes, the replacement's name does not meet the old resource's."""
    disjoint_ranges: tuple[str, ...] = ()
    """CIDR inputs that may not overlap another range within ``disjoint_scope`` (a network): the old
    resource's ranges are still there while a create-first replacement is created."""
    disjoint_scope: tuple[str, ...] = ()
    delete_first_when_name_kept: bool = False
    unresettable: tuple[str, ...] = ()
    """Inputs the provider cannot clear once set: removing one would leave the old value live."""
    update_ignored: tuple[str, ...] = ()
    """Inputs whose change the provider's Update neither sends nor replaces on: the state would say
    the new value while the live resource keeps the old one (an EKS cluster's secrets key)."""
    update_refused: tuple[str, ...] = ()
    """Inputs the API marks create-only but the provider sends as an update, not a replacement (an
    azure-native create-only field inside an unflattened ``properties``): a change is refused."""
    same_vpc: tuple[str, ...] = ()
    """Subnet inputs that update in place only to subnets of the VPC the resource was created in:
    subnets of a replaced or new VPC are refused."""
    serving: str | None = None
    create_wait_minutes: int | None = None
    update_wait_minutes: int | None = None
    ranges: Mapping[str, tuple[int, int]] = Field(default_factory=dict)


class Replacements(BaseModel):
    """The whole data file."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    as_of: str
    sources: Mapping[str, Any]
    types: Mapping[str, TypeFacts]


@cache
def load() -> Replacements:
    """The data file, parsed once."""
    return Replacements.model_validate(load_data(DATA_FILE))


def type_key(type_: str, inputs: Mapping[str, Any]) -> str:
    """The data file's key for a resource: its type, plus ``:<kind>`` for a dynamic resource."""
    return f"{type_}:{inputs.get('kind')}" if type_ == DYNAMIC_TYPE else type_


def facts(type_: str, inputs: Mapping[str, Any]) -> TypeFacts | None:
    """The facts for a resource of ``type_`` with ``inputs``; None when the file has no entry."""
    return load().types.get(type_key(type_, inputs))


def provider_range(type_: str, path: str) -> tuple[int, int]:
    """The range the provider of ``type_`` accepts at ``path`` (KeyError when none is recorded)."""
    return load().types[type_].ranges[path]


def provider_constraint(type_: str, path: str) -> AfterValidator:
    """A pydantic validator refusing values outside the provider's recorded range for ``path``."""

    def check(value: Any) -> Any:
        if value is not None:
            low, high = provider_range(type_, path)
            if not low <= value <= high:
                entry = load().types[type_].source or {}
                raise ValueError(f"{value} is outside {low}..{high}, the range the provider accepts for {type_} "
                                 f"{path} ({entry.get('repository', '?')} {entry.get('path', '')}), narrower "
                                 "than the API model's")
        return value

    check.provider_member = (type_, path)  # type: ignore[attr-defined]  # found by tests
    return AfterValidator(check)
