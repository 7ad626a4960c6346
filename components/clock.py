"""The current billing month, read in one place (tests replace :func:`current_month`)."""

from __future__ import annotations

from datetime import UTC, datetime


def current_month() -> str:
    """The current month in UTC, ``YYYY-MM`` (Azure's and AWS's billing periods are UTC months)."""
    return datetime.now(UTC).strftime("%Y-%m")
