"""Cloud Monitoring helpers shared by GCP components (budgets, endpoint alerts, dashboards).

Budgets and alert policies both notify the stack's ``budget.notify`` addresses through
e-mail notification channels; one helper creates those channels so the two never drift.
Dashboards of PromQL panels (the gateway's meter, a GKE cluster's GPUs) are rendered by one
helper too, from the same (title, PromQL) panels the Grafana dashboards read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

#: Width of a ``mosaicLayout`` grid (the API takes 1 to 48 columns); each chart is half of it.
MOSAIC_COLUMNS = 48


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


def dashboard_json(display_name: str, panels: Sequence[tuple[str, str]], labels: Mapping[str, str]) -> str:
    """A Cloud Monitoring dashboard (``mosaicLayout``): one line chart per (title, PromQL) panel,
    two to a row, its query in ``timeSeriesQuery.prometheusQuery`` (``timeSeriesQueryLanguage``
    is MQL). ``labels`` are the dashboard's own labels (the API's ``Dashboard.labels``; the
    resource has no labels argument, so they travel in the JSON)."""
    width, height = MOSAIC_COLUMNS // 2, 16
    tiles = [{"xPos": width * (index % 2), "yPos": height * (index // 2), "width": width, "height": height,
              "widget": {"title": title, "xyChart": {"dataSets": [
                  {"plotType": "LINE", "timeSeriesQuery": {"prometheusQuery": query}}]}}}
             for index, (title, query) in enumerate(panels)]
    return json.dumps({"displayName": display_name, "labels": dict(labels),
                       "mosaicLayout": {"columns": MOSAIC_COLUMNS, "tiles": tiles}}, sort_keys=True)


def dashboard(name: str, *, project: pulumi.Input[str] | None, display_name: str,
              panels: Sequence[tuple[str, str]], labels: Mapping[str, str],
              opts: pulumi.ResourceOptions) -> gcp.monitoring.Dashboard:
    """``f"{name}-dashboard"``: :func:`dashboard_json` as a ``gcp.monitoring.Dashboard``. The API
    names a dashboard itself (``projects/<p>/dashboards/<id>``), so ``display_name`` is what tells
    two apart in the console: callers make it unique per project (a stack's physical names)."""
    return gcp.monitoring.Dashboard(f"{name}-dashboard", project=project,
                                    dashboard_json=dashboard_json(display_name, panels, labels), opts=opts)
