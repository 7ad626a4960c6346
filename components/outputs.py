"""JSON documents with a few Output leaves, built with one Output instead of one per value.

``pulumi.Output.json_dumps(doc)`` lifts every dict, list and value of ``doc`` into an Output of
its own (``Output.from_input`` recurses: two ``Output.all`` per dict, one per list, an Output per
scalar), each with its futures and asyncio tasks. A policy document or a dashboard body made
hundreds of them per resource: a fifth of a SageMaker plan's CPU. :func:`json_document` waits for
the Outputs in ``doc`` only: the same text, secret or unknown exactly when one of them is, with the
same resource dependencies; and a plain string when ``doc`` holds no Output at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi


def json_document(doc: Any) -> pulumi.Input[str]:
    """``doc`` (dicts, lists, JSON values and Outputs of them) as JSON text once its Outputs resolve."""
    outputs = list(_outputs(doc))
    if not outputs:
        return json.dumps(doc)
    return pulumi.Output.all(*outputs).apply(lambda values: json.dumps(_filled(doc, iter(values))))


def _outputs(doc: Any) -> Iterator[pulumi.Output[Any]]:
    if isinstance(doc, pulumi.Output):
        yield doc
    elif isinstance(doc, dict):
        for value in doc.values():
            yield from _outputs(value)
    elif isinstance(doc, list | tuple):
        for value in doc:
            yield from _outputs(value)


def _filled(doc: Any, values: Iterator[Any]) -> Any:
    """``doc`` with each Output replaced by the next of ``values`` (in :func:`_outputs`' order)."""
    if isinstance(doc, pulumi.Output):
        return next(values)
    if isinstance(doc, dict):
        return {key: _filled(value, values) for key, value in doc.items()}
    if isinstance(doc, list | tuple):
        return [_filled(value, values) for value in doc]
    return doc
