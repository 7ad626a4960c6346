"""Kubeconfigs for the GPU clusters: no credential inside, a cloud CLI plugin fetches tokens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def exec_kubeconfig(cluster_name: str, server: str, ca_data: str, command: str,
                    exec_options: Mapping[str, Any]) -> str:
    """A one-cluster kubeconfig whose user runs ``command`` (with ``exec_options``) for tokens."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server,
                                                       "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": command,
            **exec_options,
            "interactiveMode": "Never",
        }}}],
    })
