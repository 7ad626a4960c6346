"""Base class of our Pulumi dynamic resources: the SDK's provider serialisation without its leak.

``pulumi.dynamic.Resource`` serialises its provider with ``serialize_provider``, which patches
``pickle._Pickler._batch_setitems`` (to sort dicts) on every call and restores only
``pickle.Pickler``: each dynamic resource wraps the previous wrapper, and after about 970 of them
in one process every further one fails with ``RecursionError`` (pulumi 3.x; seen planning 1,000
SageMaker deployments, two dynamic resources each). Restoring the class attributes after each
construction keeps the chain at one link; the serialised provider is unchanged.
"""

from __future__ import annotations

import pickle
from typing import Any

import pulumi
import pulumi.dynamic

# The attributes serialize_provider replaces on pickle's pure-Python pickler (dill's base).
_PATCHED = ("_batch_setitems", "save_dict")


class DynamicResource(pulumi.dynamic.Resource):
    """A ``pulumi.dynamic.Resource`` whose construction leaves ``pickle`` as it found it."""

    def __init__(self, provider: pulumi.dynamic.ResourceProvider, name: str, props: Any,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        saved = {attr: pickle._Pickler.__dict__[attr] for attr in _PATCHED}  # noqa: SLF001 (see module doc)
        try:
            super().__init__(provider, name, props, opts)
        finally:
            for attr, value in saved.items():
                setattr(pickle._Pickler, attr, value)  # noqa: SLF001
