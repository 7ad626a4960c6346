"""``deployments[].adapters``: LoRA adapters a deployment serves beside its base model.

The model is stage-neutral; whether a stage serves adapters is a fact of its registry entry
(``StageEntry.serves_adapters``), and ``stacks.parse`` refuses ``adapters`` on every other stage.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from stacks.model import ConfigModel

AdapterName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
"""What clients send as ``model`` for the adapter (no ``/``, so it never equals a repo id)."""
ADAPTER_SOURCE = r"^([A-Za-z0-9][\w.-]*/[\w.-]+|(s3|gs)://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^*?\s]*)?)$"
"""A Hub repo id (``org/name``) or an ``s3://`` / ``gs://`` prefix holding the adapter's files."""


class Adapter(ConfigModel):
    """One LoRA adapter of the deployment's model."""

    name: AdapterName
    source: Annotated[str, StringConstraints(pattern=ADAPTER_SOURCE, max_length=1024)]
    revision: Annotated[str, StringConstraints(pattern=r"^[\w./-]{1,128}$")] | None = None
    """Hub revision (branch, tag or commit) of a Hub ``source``."""
    rank: Annotated[int, Field(ge=1)] | None = None
    """The adapter's LoRA rank (``r`` in its ``adapter_config.json``); the server's maximum
    rank is derived from the largest (the server's default when none is declared)."""

    @property
    def from_hub(self) -> bool:
        """The source is a Hub repository (not an object-store prefix)."""
        return "://" not in self.source

    @model_validator(mode="after")
    def _revision_on_hub_only(self) -> Adapter:
        if self.revision is not None and not self.from_hub:
            raise ValueError("revision applies to a Hub source only; an s3:// or gs:// prefix is "
                             "pinned by its own contents (use a versioned prefix)")
        return self


def duplicate_names(adapters: list[Adapter]) -> list[str]:
    """Adapter names listed more than once."""
    names = [a.name for a in adapters]
    return sorted({name for name in names if names.count(name) > 1})
