"""Hypothesis settings profiles (loaded by ``tests/conftest.py``; tests/README.md says why).

``ci`` draws the same examples on every run (``derandomize``: seeded from each test), so a
submission's CI result depends on its code, never on the day's draw. ``dev`` explores: local
runs draw fresh examples, and any failure they find is pinned as an ``@example`` on its test.
Neither is timed: on a loaded 2-core machine a per-example deadline or the too-slow health check
fails tests for the machine's sake, not the code's.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, settings

DEV = "dev"
CI = "ci"


def register() -> None:
    """Register both profiles."""
    # derandomize stated, not inherited: with CI set, Hypothesis loads its own `ci` profile at import
    # (derandomized), and a profile registered without a parent inherits whatever is loaded.
    settings.register_profile(DEV, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
                              derandomize=False)
    settings.register_profile(CI, settings.get_profile(DEV), derandomize=True)


def chosen(environ: Mapping[str, str]) -> str:
    """``HYPOTHESIS_PROFILE`` when set, else ``ci`` under CI (GitHub Actions sets ``CI``), else ``dev``."""
    return environ.get("HYPOTHESIS_PROFILE") or (CI if environ.get("CI") else DEV)
