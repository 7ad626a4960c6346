"""docs/configuration.md and the config models agree: every key a model accepts is documented,
and every key the tables document is accepted.

Keys are compared by name segment: the tables spell paths relative to their section
(``natGateway`` under ``network.aws``, ``.e2eLatencyP95Seconds`` after ``vllm.alerts.ttftP95Seconds``),
so a segment counts as documented when it appears in any backticked key of the page.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from stacks.parse import model_in
from stacks.spec import StackSpec
from stacks.stages import STAGES, entries
from tests.support import ROOT

DOC = (ROOT / "docs" / "configuration.md").read_text()
#: StackSpec fields the parser fills from elsewhere (the stack name, provider keys, secret flags).
NOT_CONFIG = {"project", "stack", "targets", "secrets"}


def _keys(model: type[BaseModel], seen: set[type[BaseModel]], out: set[str], skip: set[str] = frozenset()) -> set[str]:
    if model not in seen:
        seen.add(model)
        for name, field in model.model_fields.items():
            if name in skip:
                continue
            out.add(field.alias or name)
            if (sub := model_in(field.annotation)) is not None:
                _keys(sub, seen, out)
    return out


def accepted_keys() -> set[str]:
    seen: set[type[BaseModel]] = set()
    keys = _keys(StackSpec, seen, set(), skip=NOT_CONFIG)
    for stage in STAGES:
        _keys(STAGES[stage].settings, seen, keys)
    return keys | set(entries.secret_keys())


def test_every_accepted_key_is_documented() -> None:
    documented = {seg for key in re.findall(r"`\.?([A-Za-z0-9_.\[\]]+)`", DOC)
                  for seg in key.replace("[]", "").split(".")}
    assert sorted(accepted_keys() - documented) == []


def test_every_documented_key_is_accepted() -> None:
    tables = DOC.split("## Policy configuration")[0]  # the pack's config is checked by its schemas
    rows = [key.replace("[]", "") for key in re.findall(r"(?m)^\| `\.?([^`]+)`", tables)
            if not key.startswith(("aws:", "gcp:", "azure-native:"))]
    assert rows, "no key rows found in docs/configuration.md"
    accepted = accepted_keys()
    assert [row for row in rows if not set(row.split(".")) <= accepted] == []
