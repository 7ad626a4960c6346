"""Helpers for the cost tests: resources as the plan records them."""

from __future__ import annotations

from typing import Any

from scalepath.wire import PlannedResource


def planned(type_: str, name: str, inputs: dict[str, Any], *, dependencies: list[str] = (),
            parent: str | None = None) -> PlannedResource:
    """A resource as the plan's recording monitor stores it (camelCase inputs, engine URN)."""
    return PlannedResource(urn=f"urn:pulumi:test::scalepath::{type_}::{name}", type=type_, name=name,
                           parent=parent, custom=True, inputs=inputs, dependencies=list(dependencies))
