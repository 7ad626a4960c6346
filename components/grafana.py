"""Grafana dashboards as code: JSON of time series panels, in a ConfigMap a Grafana sidecar picks up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def dashboard(title: str, uid: str, panels: Sequence[tuple[str, str]], legend: str | None = None) -> dict[str, Any]:
    """One time series panel per (title, PromQL), two to a row, on a Prometheus data source picked
    at view time; ``legend`` names each series (``{{route}}``)."""
    def target(expr: str) -> dict[str, Any]:
        return {"refId": "A", "expr": expr, **({"legendFormat": legend} if legend else {})}

    return {
        "title": title, "uid": uid[:40], "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": [{
            "id": index + 1, "type": "timeseries", "title": panel_title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "targets": [target(expr)],
        } for index, (panel_title, expr) in enumerate(panels)],
    }


def config_map(name: str, namespace: str, labels: Mapping[str, str], file: str,
               board: dict[str, Any]) -> dict[str, Any]:
    """The dashboard as a ConfigMap a Grafana sidecar picks up (``grafana_dashboard: "1"``)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {**labels, "grafana_dashboard": "1"}},
            "data": {file: json.dumps(board, indent=1, sort_keys=True)}}
