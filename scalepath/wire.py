"""Resources and property values as the engine sends them, and back.

The plan records what the program registers (:class:`PlannedResource`, inputs decoded by
:func:`from_wire`); the policy runner sends it to the pack the way the engine would
(:func:`to_wire`). Both sides, and the cost model that prices the records, import this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc

SECRET = "[secret]"
"""What a secret value is recorded as: the value itself is never kept."""
UNKNOWN = "[unknown]"
"""What a value known only after deployment (an output during preview) is recorded as."""

# The engine's wire signatures (sdk/go/common/resource/sig), as the Python SDK defines them.
SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig
RESOURCE_SIG = rpc._special_resource_sig
OUTPUT_SIG = rpc._special_output_value_sig
UNKNOWN_VALUE = rpc.UNKNOWN


@dataclass(frozen=True)
class PlannedResource:
    """One registered resource, as the plan JSON lists it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Lifecycle options the engine would apply (``deleteBeforeReplace``, ``retainOnDelete``,
    ``replacementTrigger``, ``ignoreChanges``, ``aliases``) and the explicit ``provider`` reference;
    not part of the plan JSON contract."""

    def to_json(self) -> dict[str, Any]:
        """The contract shape: urn, type, name, parent, custom, inputs."""
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent,
                "custom": self.custom, "inputs": self.inputs}


def from_wire(value: Any) -> Any:
    """A wire-format property value as plain JSON: secrets redacted, integral floats as ints."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return SECRET
        if sig == RESOURCE_SIG:
            return value.get("urn")
        if sig == OUTPUT_SIG:
            if value.get("secret"):
                return SECRET
            return from_wire(value["value"]) if "value" in value else UNKNOWN
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN_VALUE:
        return UNKNOWN
    return value


def to_wire(value: Any) -> Any:
    """A recorded input as the engine marshals it: secrets as secret objects, unknowns as sentinels."""
    if value == SECRET:
        return {SIG_KEY: SECRET_SIG, "value": SECRET}
    if value == UNKNOWN:
        return UNKNOWN_VALUE
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value
