"""Every metric a scaler or alert reads, and every controller an annotation needs, is deployed by
the stack: a replica's ``uses`` must be among what its platform ``provides``."""

from __future__ import annotations

from stacks.errors import ConfigIssue, format_loc
from stacks.needs import Needs


def issues(needs: Needs, index: int) -> list[ConfigIssue]:
    """What ``needs`` relies on that the stack does not run, at the setting that relies on it."""
    return [ConfigIssue(f"{format_loc(('deployments', index))}.{use.key}", (
        f"{use.what} needs {use.capability.value}, which the stack does not install: nothing would act on it. "
        f"{use.fix}")) for use in needs.uses if use.capability not in needs.provides]
