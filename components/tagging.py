"""Cost-attribution tags and labels, normalised for each cloud.

Mocks never run stack transforms and provider ``default_tags`` are applied only by the real
provider (Azure has none at all), so every component passes the result of these helpers
explicitly to each taggable child. One function builds the logical tag set; the others
translate it into what each platform accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MANAGED_BY = "scalepath"


def cost_tags(
    base: Mapping[str, str],
    *,
    environment: str,
    stack: str,
    deployment: str | None = None,
    stage: str | None = None,
) -> dict[str, str]:
    """The logical tag set of one resource group: the environment's tags plus system keys.

    ``deployment`` and ``stage`` are left out for shared resources (budgets, networks).
    System keys win over user tags of the same name so cost reports can trust them.
    """
    tags = dict(base)
    tags.update({"environment": environment, "stack": stack, "managed-by": MANAGED_BY})
    if deployment is not None:
        tags["deployment"] = deployment
    if stage is not None:
        tags["stage"] = stage
    return tags


_AWS_KEY_MAX, _AWS_VALUE_MAX = 128, 256
_AWS_BAD = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)


def aws_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """AWS tags: keys <=128, values <=256 characters of ``[\\w\\s.:/=+-@]``."""
    return {
        _AWS_BAD.sub("_", k)[:_AWS_KEY_MAX]: _AWS_BAD.sub("_", v)[:_AWS_VALUE_MAX]
        for k, v in tags.items()
    }


_AZURE_KEY_BAD = re.compile(r"[<>%&\\?/]")


def azure_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Azure tags: keys <=512 without ``<>%&\\?/``, values <=256 characters."""
    return {_AZURE_KEY_BAD.sub("_", k)[:512]: v[:256] for k, v in tags.items()}


_GCP_BAD = re.compile(r"[^a-z0-9_-]")
_LABEL_MAX = 63


def _gcp_part(text: str) -> str:
    return _GCP_BAD.sub("_", text.lower())[:_LABEL_MAX]


def gcp_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """GCP labels: lowercase ``[a-z0-9_-]``, <=63 characters, keys start with a letter."""
    labels = {}
    for key, value in tags.items():
        k = _gcp_part(key)
        if not k[:1].isalpha():
            k = ("k" + k)[:_LABEL_MAX]
        labels[k] = _gcp_part(value)
    return labels


_K8S_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_K8S_EDGE = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def _k8s_part(text: str) -> str:
    return _K8S_EDGE.sub("", _K8S_BAD.sub("_", text)[:_LABEL_MAX])


def k8s_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Kubernetes labels: names and values <=63 of ``[A-Za-z0-9_.-]``, alphanumeric at both ends."""
    return {_k8s_part(k): _k8s_part(v) for k, v in tags.items()}
