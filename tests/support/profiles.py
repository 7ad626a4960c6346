"""Hypothesis settings profiles (loaded by ``tests/conftest.py``; tests/README.md says why).

``ci`` draws the same examples on every run (``derandomize``: seeded from each test), so a
submission's CI result depends on its code, never on the day's draw. ``dev`` explores: local
runs draw fresh examples, and any failure they find is pinned as an ``@example`` on its test.
Neither is timed: on a loaded 2-core machine a per-example deadline or the too-slow health check
fails tests for the machine's sake, not the code's. ``mutation`` is ``ci`` without shrinking, for
``benchmarks/mutation.py``: a mutant is killed by any failing example, and shrinking one takes
minutes per mutant here (mutmut then counts a timeout, not a kill).
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, Phase, settings

DEV = "dev"
CI = "ci"
MUTATION = "mutation"


def register() -> None:
    """Register the profiles."""
    # derandomize stated, not inherited: with CI set, Hypothesis loads its own `ci` profile at import
    # (derandomized), and a profile registered without a parent inherits whatever is loaded.
    settings.register_profile(DEV, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
                              derandomize=False)
    settings.register_profile(CI, settings.get_profile(DEV), derandomize=True)
    settings.register_profile(MUTATION, settings.get_profile(CI), phases=[Phase.explicit, Phase.reuse, Phase.generate])


def chosen(environ: Mapping[str, str]) -> str:
    """``HYPOTHESIS_PROFILE`` when set, else ``ci`` under CI (GitHub Actions sets ``CI``), else ``dev``."""
    return environ.get("HYPOTHESIS_PROFILE") or (CI if environ.get("CI") else DEV)
