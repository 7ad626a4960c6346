"""Cloud Monitoring helpers shared by GCP components (budgets, endpoint alerts).

Budgets and alert policies both notify the stack's ``budget.notify`` addresses through
e-mail notification channels; one helper creates those channels so the two never drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp


def email_channels(
    name: str,
    *,
    project: pulumi.Input[str],
    addresses: Sequence[str],
    labels: Mapping[str, str],
    purpose: str,
    parent: pulumi.Resource | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[gcp.monitoring.NotificationChannel]:
    """One e-mail notification channel per address, named ``f"{name}-notify-{i}"``.

    ``purpose`` goes into the display name ("scalepath budget a@b.c") so the console shows
    why a channel exists; ``labels`` are the resource's user labels (normalised GCP labels);
    ``depends_on`` is typically the ``monitoring.googleapis.com`` service.
    """
    return [
        gcp.monitoring.NotificationChannel(
            f"{name}-notify-{i}",
            project=project,
            display_name=f"scalepath {purpose} {address}",
            type="email",
            labels={"email_address": address},
            user_labels=dict(labels),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
        )
        for i, address in enumerate(addresses)
    ]
