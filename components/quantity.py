"""Kubernetes resource quantities (``500m``, ``4``, ``32Gi``) as numbers, for fit checks."""

from __future__ import annotations

import math
import re
from decimal import Decimal

QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
"""The quantity forms scalepath accepts (no exponent notation)."""
_FACTOR = {None: Decimal(1), "m": Decimal("0.001"),
           **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
           **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")}}
_MIB = Decimal(1024 ** 2)


def quantity(value: str) -> Decimal:
    """A quantity as a number of base units (cores, bytes)."""
    match = QUANTITY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '4', '500m', '32Gi')")
    return Decimal(match.group(1)) * _FACTOR[match.group(2)]


def cpu_millis(value: str) -> int:
    """CPU quantity -> millicores (rounded up, as the scheduler counts a request)."""
    return math.ceil(quantity(value) * 1000)


def memory_mib(value: str) -> int:
    """Memory quantity -> MiB (rounded up)."""
    return math.ceil(quantity(value) / _MIB)
