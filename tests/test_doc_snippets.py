"""Every config snippet in README.md and docs/ plans as shown: exit 0 of `scalepath plan` (no config
error, no mandatory violation).

Each ```yaml / ```diff block carries a marker comment on the line above it that says how it becomes
a stack config (a fragment alone is not one):

- ``<!-- plan: into FILE [+ PART ...] -->``: YAML merged into FILE's ``config:`` (a ``config:``
  mapping, config keys, or a list of deployments; a deployment replaces the one of the same name
  or is appended), after the PART files are merged into it the same way;
- ``<!-- plan: diff on FILE -->``: a diff applied to FILE's text; ``diff on previous``: to the text
  the page's previous snippet produced (then merged as that one was);
- ``<!-- plan: none, REASON -->``: not a stack config (said why).

Diffs apply by content, not by line numbers: ``-`` and context lines must follow each other in
the text, except after a context line ``...`` (lines skipped) and at the start; lines compare
without trailing whitespace and ``# comments``; ``+`` lines go in before the next line matched (or
at the end). A diff that does not apply fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalepath.plan import run_plan
from scalepath.policy_runner import check_plan
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>yaml|diff)\s*$")
COMMENT = re.compile(r"\s+#.*$")
MARKER = re.compile(r"<!-- plan: (?P<how>into|diff on|none)(?P<arg>[^>]*)-->")


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    lang: str
    how: str
    arg: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    """The page's yaml/diff blocks with their markers (a block without one is an error)."""
    lines = page.read_text().splitlines()
    found = []
    for index, line in enumerate(lines):
        if not (fence := FENCE.match(line)):
            continue
        indent = len(fence["indent"])
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        marker = MARKER.search(lines[index - 1]) if index else None
        where = f"{page.relative_to(ROOT)}:{index + 1}"
        assert marker, f"{where}: a {fence['lang']} block needs a <!-- plan: ... --> line above"
        body = "\n".join(text[indent:] for text in lines[index + 1:end]) + "\n"
        found.append(Snippet(page, index + 1, fence["lang"], marker["how"], marker["arg"].strip(" ,"), body))
    return found


ALL = [snippet for page in PAGES for snippet in snippets(page)]


def apply_diff(text: str, diff: str) -> str:
    """``text`` with ``diff`` applied by content (see the module docstring); AssertionError if it does not apply."""
    doc = text.splitlines()
    cursor, search, pending = 0, True, []

    def locate(wanted: str) -> int:
        candidates = range(cursor, len(doc)) if search else range(cursor, min(cursor + 1, len(doc)))
        found = next((i for i in candidates if COMMENT.sub("", doc[i]).rstrip() == wanted), None)
        assert found is not None, f"diff line {wanted!r} not found at line {cursor + 1} of the text it applies to"
        return found

    for line in diff.splitlines():
        mark, content = line[:1], COMMENT.sub("", line[1:]).rstrip()
        if mark == " " and content.strip() == "...":
            search = True
            continue
        if mark == "+":
            pending.append(line[1:])
            continue
        assert mark in " -", f"unexpected diff line {line!r}"
        at = locate(content)
        doc[at:at] = pending
        at += len(pending)
        pending, search = [], False
        if mark == "-":
            del doc[at]
            cursor = at
        else:
            cursor = at + 1
    doc[cursor:cursor] = pending
    return "\n".join(doc) + "\n"


def merge(base: dict[str, Any], fragment: Any) -> dict[str, Any]:
    """``base`` (a config mapping) with ``fragment``'s keys; deployments merged by name."""
    if isinstance(fragment, list):
        fragment = {"scalepath:deployments": fragment}
    fragment = fragment.get("config", fragment)
    merged = dict(base)
    for key, value in fragment.items():
        if key == "scalepath:deployments":
            new = {deployment["name"]: deployment for deployment in value}
            kept = [new.pop(deployment["name"], deployment) for deployment in base.get(key, [])]
            merged[key] = kept + list(new.values())
        else:
            merged[key] = value
    return merged


Base = tuple[Path, ...] | None
"""The files a snippet's text is merged into, in order (None: the text is a whole stack file)."""


def stack_file(snippet: Snippet, previous: dict[Path, tuple[str, Base]]) -> tuple[str, Base]:
    """(text, base): the snippet's resulting YAML text and what it merges into."""
    if snippet.how == "into":
        return snippet.text, tuple(ROOT / part.strip() for part in snippet.arg.split("+"))
    if snippet.arg == "previous":
        text, base = previous[snippet.page]
    else:
        text, base = (ROOT / snippet.arg).read_text(), None
    return apply_diff(text, snippet.text), base


def document(text: str, base: Base) -> dict[str, Any]:
    if base is None:
        return yaml.safe_load(text)
    first, *parts = base
    config = yaml.safe_load(first.read_text())["config"]
    for fragment in [*(yaml.safe_load(part.read_text()) for part in parts), yaml.safe_load(text)]:
        config = merge(config, fragment)
    return {"config": config}


def test_every_config_block_is_marked() -> None:
    assert len([s for s in ALL if s.how != "none"]) >= 8  # README's gateway path, SageMaker, cluster, promotion


PLANNED = [s for s in ALL if s.how != "none"]


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[str, Base] | AssertionError]:
    """Each snippet's (text, base), or why it did not apply, in page order (``diff on previous`` chains)."""
    previous: dict[Path, tuple[str, Base]] = {}
    out: dict[str, tuple[str, Base] | AssertionError] = {}
    for snippet in PLANNED:
        try:
            previous[snippet.page] = out[snippet.id] = stack_file(snippet, previous)
        except (AssertionError, KeyError) as error:
            out[snippet.id] = AssertionError(f"{snippet.id} does not apply: {error!r}")
            previous.pop(snippet.page, None)
    return out


@pytest.mark.parametrize("snippet", PLANNED, ids=lambda s: s.id)
def test_snippet_plans_as_shown(snippet: Snippet, results, tmp_path: Path) -> None:
    result = results[snippet.id]
    if isinstance(result, AssertionError):
        raise result
    path = tmp_path / "Pulumi.docs.yaml"
    path.write_text(yaml.safe_dump(document(*result), sort_keys=False))
    config = load_stack_config("docs", ROOT, path)
    plan = check_plan(run_plan(config), config, ROOT)
    assert [v for v in plan.violations if v["level"] == "mandatory"] == []


def test_apply_diff_by_content() -> None:
    base = "a:\n  b: 1\n  c: 2\nd: 3\n"
    assert apply_diff(base, "   c: 2\n+  e: 4\n") == "a:\n  b: 1\n  c: 2\n  e: 4\nd: 3\n"
    assert apply_diff(base, " a:\n   ...\n+  e: 4\n d: 3\n") == "a:\n  b: 1\n  c: 2\n  e: 4\nd: 3\n"
    assert apply_diff(base, "-  b: 1\n+  b: 5\n") == "a:\n  b: 5\n  c: 2\nd: 3\n"
    with pytest.raises(AssertionError, match="not found"):
        apply_diff(base, " a:\n   c: 2\n")  # c does not follow a directly, and no `...` says it may
