"""The docs point at files that exist: every relative link in the Markdown pages resolves."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT

PAGES = sorted([ROOT / "README.md", ROOT / "tests" / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    targets = [t.split("#", 1)[0] for t in LINK.findall(page.read_text())
               if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    missing = [t for t in targets if t and not (page.parent / t).exists()]
    assert missing == [], f"{page.relative_to(ROOT)} links to missing files"
