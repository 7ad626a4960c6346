"""The hardware and price catalogue: one data file per instance family, read by components
(to validate instance types) and by the cost model (to price them) — one source of truth.

Files live in ``components/data/instances/<family>.yaml``::

    source: where the figures come from
    asOf: "YYYY-MM-DD"
    currency: USD
    instances:
      ml.g5.2xlarge: {gpu: A10G, gpuCount: 1, gpuMemoryGiB: 24, vcpu: 8, memoryGiB: 32,
                      usdPerHour: 1.515, regionalUsdPerHour: {eu-west-1: 1.69}}

``gpuCount: 0`` marks a CPU-only row. Prices are on-demand list prices in the reference
region (``regionalUsdPerHour`` overrides per region). Every row states ``usdPerHour``; a price
nobody has checked is written ``usdPerHour: null`` and reported as unknown, never as $0.
Spot capacity is priced as on-demand x (1 - the family's discount in ``data/spot.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import Field, NonNegativeFloat, NonNegativeInt

from components.config_model import ConfigModel
from components.files import load_data

DATA_DIR = Path(__file__).parent / "data" / "instances"
SPOT_FILE = Path(__file__).parent / "data" / "spot.yaml"
GPUS_FILE = Path(__file__).parent / "data" / "gpus.yaml"


class UnknownInstanceType(ValueError):
    """An instance type that the family's catalogue does not list."""

    def __init__(self, family: str, instance_type: str, known: list[str]):
        self.family, self.instance_type, self.known = family, instance_type, known
        super().__init__(
            f"unknown {family} instance type {instance_type!r}; known: {', '.join(known)}"
        )


class InstanceSpec(ConfigModel):
    """One instance type: its accelerators, size and hourly price."""

    name: str = ""
    accelerator: str | None = None
    """Accelerator class where the platform asks for one (HF Endpoints: ``cpu``, ``gpu``,
    ``neuron``); ``None`` where the instance type alone says it."""
    gpu: str | None = None
    """GPU model (``A10G``, ``L4``, ``H100``...), ``None`` for CPU-only rows."""
    gpu_count: NonNegativeInt = 0
    gpu_memory_gib: NonNegativeFloat = Field(0, alias="gpuMemoryGiB")
    """Memory of one GPU."""
    vcpu: NonNegativeInt = 0
    memory_gib: NonNegativeFloat = Field(0, alias="memoryGiB")
    max_pods: NonNegativeInt | None = None
    """Pods kubelet admits on the node where the cluster's networking caps it (EKS VPC CNI)."""
    usd_per_hour: NonNegativeFloat | None = None
    """On-demand price in the reference region; ``None`` when unknown (never 0)."""
    regional_usd_per_hour: dict[str, NonNegativeFloat] = Field(default_factory=dict)

    def price(self, region: str | None = None) -> float | None:
        """Hourly price in ``region`` (falls back to the reference price)."""
        if region and region in self.regional_usd_per_hour:
            return self.regional_usd_per_hour[region]
        return self.usd_per_hour


class Catalog(ConfigModel):
    """One family's table (``sagemaker``, ``ec2``, ``azureml``, ``gcp``, ``hf``...)."""

    family: str = ""
    source: str
    as_of: str
    currency: str = "USD"
    instances: dict[str, InstanceSpec]

    def get(self, instance_type: str) -> InstanceSpec:
        """The row for ``instance_type``; :class:`UnknownInstanceType` names the known ones."""
        try:
            return self.instances[instance_type]
        except KeyError:
            raise UnknownInstanceType(self.family, instance_type, sorted(self.instances)) from None

    @property
    def spot_discount(self) -> float | None:
        """Assumed spot discount off on-demand (0.6 = pay 40%); ``None``: no spot option."""
        return spot_discounts().get(self.family)

    def gpu_types(self) -> list[str]:
        """Instance types that carry at least one GPU."""
        return sorted(k for k, v in self.instances.items() if v.gpu_count > 0)


def families() -> list[str]:
    """Every family that has a data file."""
    return sorted(p.stem for p in DATA_DIR.glob("*.yaml"))


@cache
def load(family: str) -> Catalog:
    """Read (once) and validate ``data/instances/<family>.yaml``."""
    path = DATA_DIR / f"{family}.yaml"
    raw = load_data(path)
    rows = {k: {**v, "name": k} for k, v in raw.pop("instances").items()}
    return Catalog.model_validate({**raw, "family": family, "instances": rows})


@cache
def spot_discounts() -> dict[str, float]:
    """Family -> assumed spot discount, from ``data/spot.yaml``."""
    return {k: float(v) for k, v in load_data(SPOT_FILE)["discount"].items()}


@cache
def gpu_memory_bandwidth_gbs(gpu: str) -> float | None:
    """Peak memory bandwidth (GB/s) of one ``gpu`` from ``data/gpus.yaml`` (the table the cost
    model reads). A catalogue name without the memory suffix (``A100``) takes the slowest
    variant, so estimates built on it stay conservative; ``None`` for an unknown GPU."""
    table = load_data(GPUS_FILE)["gpus"]
    matches = [float(row["memoryBandwidthGBs"]) for name, row in table.items()
               if name == gpu or name.startswith(f"{gpu}-")]
    return min(matches) if matches else None


@dataclass(frozen=True)
class HourlyPrice:
    """The hourly price of one instance of a type, as priced (spot applied), with its basis."""

    usd: float
    note: str


def hourly_price(family: str, instance_type: str, region: str | None = None,
                 spot: bool = False) -> HourlyPrice | None:
    """Hourly price of ``instance_type`` from the ``family`` catalogue, or ``None`` if unknown.

    Raises :class:`UnknownInstanceType` (naming the known types) when the
    family does not list the type, and ``FileNotFoundError`` when the family has no table.
    """
    spec = load(family).get(instance_type)
    return _price_of(spec, family, region, spot)


def _price_of(spec: InstanceSpec, family: str, region: str | None, spot: bool) -> HourlyPrice | None:
    price = spec.price(region)
    if price is None:
        return None
    where = region if region in spec.regional_usd_per_hour else "reference region"
    if not spot:
        return HourlyPrice(price, f"${price:g}/h on-demand ({where})")
    discount = load(family).spot_discount
    if discount is None:
        return None
    spot_price = price * (1 - discount)
    return HourlyPrice(spot_price, f"${spot_price:.4g}/h spot (on-demand ${price:g} less the assumed "
                                   f"{discount:.0%} spot discount)")
