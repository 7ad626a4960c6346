"""What an AWS API accepts, read from botocore's service models (installed, offline).

botocore ships every service's model (``botocore/data/<service>/<date>/service-2.json``) with
the constraints the API enforces on each request member: ``min``/``max`` (numbers, string
lengths, list sizes), ``pattern`` and ``enum``. Config values that end up in an AWS request are
checked against *that* model at parse time, so a range is never a copied number that drifts
from the API. Limits the model only states in prose (``LinearStepSize`` "must be 10-50%") live
in data files with their ``source``, next to a test that the prose still says so. Patterns are
written for Java's regex engine, which AWS validates with: :mod:`components.aws.java_regex`
translates them for Python's ``re``.

Use :func:`api_constraint` as a pydantic ``Annotated`` validator on a config field::

    wait_seconds: Annotated[int, api_constraint("sagemaker", "TrafficRoutingConfig", "WaitIntervalInSeconds")]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from pydantic import AfterValidator

from components.aws.java_regex import compile_pattern
from components.disk_memo import DiskMemo

#: Member constraints read from the model, on disk per installed botocore (loading the
#: SageMaker model takes ~0.2 s; a plan needs a handful of its members).
_MEMO = DiskMemo("botocore-constraints", ("botocore",))


@dataclass(frozen=True)
class MemberConstraints:
    """The constraints botocore's model states for one member of one request shape."""

    service: str
    shape: str
    member: str
    type_name: str
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    documentation: str = ""

    @property
    def where(self) -> str:
        """``sagemaker TrafficRoutingConfig.WaitIntervalInSeconds`` (for messages)."""
        return f"{self.service} {self.shape}.{self.member}"

    def problem(self, value: Any) -> str | None:
        """Why the API would reject ``value`` for this member, or None when it accepts it."""
        problem = self._problem(value)
        return f"{problem} (AWS API {self.where}, botocore {metadata.version('botocore')})" if problem else None

    def _problem(self, value: Any) -> str | None:
        if self.enum and value not in self.enum:
            return f"{value!r} is not accepted by the API"
        size = len(value) if isinstance(value, (str, list, tuple)) else value
        kind = "length" if isinstance(value, (str, list, tuple)) else "value"
        if isinstance(size, (int, float)) and not isinstance(size, bool):
            if self.min is not None and size < self.min:
                return f"{kind} {size!r} is below the API minimum {self.min:g}"
            if self.max is not None and size > self.max:
                return f"{kind} {size!r} is above the API maximum {self.max:g}"
        if self.pattern and isinstance(value, str) and not compile_pattern(self.pattern).fullmatch(value):
            return f"{value!r} does not match the API pattern {self.pattern!r}"
        return None


@cache
def _service_model(service: str) -> Any:
    # A plain session reads the JSON files shipped in the botocore wheel: no network, no
    # credentials. Loading the SageMaker model takes a moment, so it is done once and only
    # for stacks that use the service.
    import botocore.session  # noqa: PLC0415

    return botocore.session.Session().get_service_model(service)


@cache
def constraints(service: str, shape: str, member: str) -> MemberConstraints:
    """The constraints of ``shape.member`` in ``service``'s installed model.

    Raises ``KeyError`` when the model has no such shape or member (a wrong reference here
    is a programming error, caught by the tests that resolve every reference)."""
    key = f"{service}/{shape}/{member}"
    remembered = _MEMO.get(key)
    if isinstance(remembered, dict):
        try:
            return MemberConstraints(**{**remembered, "enum": tuple(remembered.get("enum", ()))})
        except TypeError:  # written by another version of this class: ask botocore again
            pass
    structure = _service_model(service).shape_for(shape)
    if member not in structure.members:
        raise KeyError(f"botocore {service} shape {shape} has no member {member}")
    target = structure.members[member]
    meta = target.metadata
    found = MemberConstraints(
        service=service, shape=shape, member=member, type_name=target.type_name,
        min=meta.get("min"), max=meta.get("max"), pattern=meta.get("pattern"),
        enum=tuple(getattr(target, "enum", None) or ()),
        documentation=structure.members[member].documentation or "",
    )
    _MEMO.put(key, dataclasses.asdict(found))
    return found


def api_constraint(service: str, shape: str, member: str) -> AfterValidator:
    """A pydantic validator refusing values that ``service``'s ``shape.member`` would reject."""

    def check(value: Any) -> Any:
        if value is not None:
            problem = constraints(service, shape, member).problem(value)
            if problem:
                raise ValueError(problem)
        return value

    check.api_member = (service, shape, member)  # type: ignore[attr-defined]  # found by tests
    return AfterValidator(check)
