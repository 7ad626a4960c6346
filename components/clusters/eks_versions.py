"""EKS Kubernetes versions: support windows and the add-on pins that move with each version,
from ``components/data/eks_versions.yaml``.

A cluster whose version is past end of standard support is billed the extended-support rate;
past end of extended support EKS upgrades the control plane on its own. :func:`support_problem`
says what is wrong with a version on a date, for the config parser.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from functools import cache
from pathlib import Path

from components.config_model import ConfigModel
from components.files import load_data

DATA_FILE = Path(__file__).parent.parent / "data" / "eks_versions.yaml"


class SupportType(str, Enum):
    """``upgradePolicy.supportType`` of an EKS cluster."""

    STANDARD = "STANDARD"
    """EKS upgrades the cluster at end of standard support; no extended-support charge."""
    EXTENDED = "EXTENDED"
    """The cluster may stay on its version for the extended window, at the extended rate."""


class EksVersion(ConfigModel):
    """One Kubernetes minor on EKS."""

    released: dt.date
    end_of_standard_support: dt.date
    end_of_extended_support: dt.date
    cluster_autoscaler_chart: str
    """kubernetes/autoscaler chart version running the Cluster Autoscaler of this minor."""
    addons: dict[str, str]
    """EKS managed add-on name -> pinned ``addonVersion``."""


class EksVersionTable(ConfigModel):
    source: str
    as_of: dt.date
    versions: dict[str, EksVersion]


@cache
def table() -> EksVersionTable:
    """The version table, read once."""
    return EksVersionTable.model_validate(load_data(DATA_FILE))


def version(name: str) -> EksVersion:
    """The table row of ``name`` (``1.NN``); KeyError names the known versions."""
    try:
        return table().versions[name]
    except KeyError:
        raise KeyError(f"EKS version {name!r} is not in the support table; known: "
                       f"{', '.join(table().versions)}") from None


def newest_in_standard_support(on: dt.date) -> str:
    """The newest version released by ``on`` and still in standard support then."""
    candidates = [name for name, row in table().versions.items()
                  if row.released <= on < row.end_of_standard_support]
    if not candidates:
        raise LookupError(f"no EKS version of the table is in standard support on {on}; "
                          f"update {DATA_FILE.name}")
    return max(candidates, key=lambda name: tuple(int(p) for p in name.split(".")))


def support_problem(name: str, support_type: SupportType, on: dt.date) -> str | None:
    """Why ``name`` cannot be planned with ``support_type`` on ``on``; ``None`` when it can."""
    if name not in table().versions:
        return f"{name} is not in the EKS support table; known: {', '.join(table().versions)}"
    row = table().versions[name]
    if on < row.released:
        return f"{name} is not released on EKS until {row.released}"
    if on >= row.end_of_extended_support:
        return (f"{name} left extended support on {row.end_of_extended_support} (EKS upgrades such "
                f"clusters itself); use {newest_in_standard_support(on)}")
    if on >= row.end_of_standard_support and support_type is SupportType.STANDARD:
        return (f"{name} left standard support on {row.end_of_standard_support}: with supportType "
                f"STANDARD EKS would upgrade it under you. Use {newest_in_standard_support(on)}, or set "
                f"cluster.supportType: EXTENDED to stay (extended-support rate, until "
                f"{row.end_of_extended_support})")
    return None


def in_extended_support(name: str, on: dt.date) -> bool:
    """True when ``name`` is past standard support on ``on`` (billed at the extended rate)."""
    return on >= version(name).end_of_standard_support
