"""The figures README.md prints for the shipped environments are what `scalepath plan` computes:
the table's resource counts and monthly cost at min / max replicas, and the text's estimates."""

from __future__ import annotations

import math
import re

import pytest

from tests.support import ROOT, SHIPPED

README = (ROOT / "README.md").read_text()
ROW = re.compile(r"^\| `(?P<stack>[a-z-]+)` \| .* \| (?P<resources>\d+) \| (?P<min>[\d,]+) / (?P<max>[\d,]+) \|$", re.M)
TEXT = re.compile(r"Monthly estimates at min\s+replicas: (?P<list>.*?)"
                  r"\(of which \$(?P<firewall>[\d,]+) is the Azure Firewall", re.S)


def usd(value: float) -> str:
    """Whole dollars, halves rounded up (as a reader rounds $912.50), with thousands separators."""
    return f"{math.floor(value + 0.5):,}"


def test_the_table_lists_every_shipped_stack() -> None:
    assert sorted(m["stack"] for m in ROW.finditer(README)) == SHIPPED


@pytest.mark.parametrize("row", list(ROW.finditer(README)), ids=lambda m: m["stack"])
def test_table_row_matches_the_plan(shipped_plan, row: re.Match) -> None:
    plan = shipped_plan(row["stack"])
    assert (row["resources"], row["min"], row["max"]) == (
        str(len(plan.resources)), usd(plan.cost["monthly_usd"]), usd(plan.cost["at_max_usd"]))


def test_text_estimates_match_the_plans(shipped_plan) -> None:
    found = TEXT.search(README)
    assert found, "README's 'Monthly estimates at min replicas' sentence moved"
    figures = dict(re.findall(r"`([a-z-]+)` \$(\d[\d,]*\d|\d)", found["list"]))
    assert len(figures) >= 6
    assert figures == {stack: usd(shipped_plan(stack).cost["monthly_usd"]) for stack in figures}
    firewall = [line["monthly_usd"] for line in shipped_plan("azure-prod").cost["lines"]
                if "Azure Firewall" in line["detail"]]
    assert [usd(value) for value in firewall] == [found["firewall"]]
