"""Physical names: fitted to a provider's length limit without losing what makes them unique, and
able to let a replacement be created next to the resource it replaces."""

from __future__ import annotations

import hashlib
import json
import re


def replacement_suffix(*force_new: object) -> str:
    """Six hex digits of the values a provider cannot update in place (its ForceNew inputs, see
    ``data/replacements.yaml``). Put in a fixed physical name, a change of any of them also
    changes the name, so Pulumi creates the replacement first and deletes the old one after,
    instead of meeting the old name (a collision) or deleting first (a serving gap)."""
    text = json.dumps(force_new, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def fit_name(name: str, limit: int) -> str:
    """``name`` if it fits ``limit`` characters, else its head and a 6-hex hash of the whole name,
    so two long names that differ anywhere (not only in the kept part) stay different."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


def cloud_name(name: str, limit: int, allowed: str = "A-Za-z0-9-", *, trim: str | None = None) -> str:
    """``name`` as an API takes it: each character outside the class ``[allowed]`` becomes ``-``, a
    longer name is fitted to ``limit`` (:func:`fit_name`), and with ``trim`` the characters outside
    ``[trim]`` go from both ends (APIs that want a letter or digit there). A name the API already
    takes comes back as it is: a renamed resource is a replaced one."""
    fitted = fit_name(re.sub(f"[^{allowed}]", "-", name), limit)
    return re.sub(f"^[^{trim}]+|[^{trim}]+$", "", fitted) if trim else fitted


def dns_label(name: str, limit: int) -> str:
    """``name`` as an RFC 1035 label, the form of GCP resource ids, Cloud Run services, GKE clusters
    and Cloud DNS zones: lowercase letters, digits and ``-``, a letter first, a letter or digit last."""
    return re.sub(r"^[^a-z]+", "", cloud_name(name.lower(), limit, "a-z0-9-", trim="a-z0-9"))
