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


LAYOUT_COLUMN = 20  # the description starts at the 21st column of the layout block
LAYOUT_NAMES = re.compile(r"(?:[\w.<>-]+/?, )*[\w.<>/-]+")


def layout_paths(text: str) -> list[str]:
    """Paths named by the layout block of docs/architecture.md: names (a comma-separated list) at
    the start of a line, indented two spaces per folder level under the last folder named; a line
    blank in the first column continues the description above."""
    block = text.split("## Layout and imports", 1)[1].split("```", 2)[1]
    folders: list[str] = []
    paths = []
    for line in block.splitlines():
        if not line[:LAYOUT_COLUMN].strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        names = LAYOUT_NAMES.match(line.lstrip()).group()
        del folders[depth:]
        paths += ["".join(folders) + name for name in names.split(", ")]
        if names.endswith("/") and "," not in names:
            folders.append(names)
    return paths


def test_layout_parser_reads_nesting_and_lists():
    text = ("## Layout and imports\n```\nstacks/             the program\n"
            "  a.py, b.py        two files\n                    more words\n  d.py, e.py, f.py, g.py\n"
            "  stages/           stage modules\n    base.py         types\n"
            "  c.py              back one level\ndocs/               pages\n```\n")
    assert layout_paths(text) == ["stacks/", "stacks/a.py", "stacks/b.py", "stacks/d.py", "stacks/e.py", "stacks/f.py",
                                  "stacks/g.py", "stacks/stages/", "stacks/stages/base.py", "stacks/c.py", "docs/"]


def test_every_path_the_layout_names_exists():
    paths = layout_paths((ROOT / "docs" / "architecture.md").read_text())
    assert len(paths) > 30  # the block was read, not skipped
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == [], "docs/architecture.md's layout names paths that do not exist"


def test_architecture_is_a_map():
    """The map stays short; design notes live on their parts' pages (aim: 300 lines)."""
    assert len((ROOT / "docs" / "architecture.md").read_text().splitlines()) <= 300
