"""The stage advisor: monthly cost of each stage at a volume, the crossovers, a recommendation.

Serverless is priced per token; every dedicated stage is priced as the cheapest GPU instance of
its catalogue (and precision) that holds the model, times the replicas the throughput model
says the peak traffic needs, plus the stage's fixed charges (a Kubernetes control plane).
Replicas run 730 h a month, except on a stage that scales to zero, which bills the hours with
traffic (``busy_hours_per_day``) plus one wake a day (idle minutes before the scale-down; on a cluster
stage the GPU node's cold start too: the rule ``plan`` prices ``scaling.min: 0`` by). On-demand prices,
or spot where the stage's catalogue has a spot discount (``spot``). What was assumed is stated
in :meth:`Advice.assumptions`. See docs/cost.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from itertools import pairwise

from components import catalog
from components.catalog import InstanceSpec, hourly_price
from components.vllm import lora
from components.vllm.args import AutoscalingArgs, ModelCacheArgs
from components.vllm.cold_start import duration_seconds, idle_tail_seconds
from components.vllm.cold_start import estimate as estimate_cold_start
from scalepath.cost import tables
from scalepath.cost.lines import (
    HOURS_PER_MONTH,
    awake_hours_per_month,
    instance_monthly_usd,
    usage_monthly_usd,
)
from scalepath.cost.throughput import ModelSize, replica_throughput, replicas_needed
from stacks.config import Stage
from stacks.stages import STAGES

PEAK_TO_AVERAGE = 2.0
"""Dedicated capacity is sized for twice the average request rate (daily peaks)."""
SCALES = (1, 5, 10)
"""Volumes the advisor reports, as multiples of the given one."""
NEAR_TIE = 0.10
"""An earlier stage within 10% of the cheapest is preferred: less to operate."""
PRECISIONS = ("fp16", "int8")
"""Weight precisions considered; int4 only when the model fits nowhere at int8 (it costs quality)."""
ALL_PRECISIONS = (*PRECISIONS, "int4")
SCALE_DOWN_IDLE_MINUTES = 15
"""Idle minutes a scale-to-zero replica still bills before it stops, once a day (the shipped dev
endpoint's ``scaleToZeroTimeout``)."""


class Precision(str, Enum):
    """``advise --precision``: auto, or one of :data:`ALL_PRECISIONS`."""

    AUTO = "auto"
    FP16 = "fp16"
    INT8 = "int8"
    INT4 = "int4"


class Compliance(str, Enum):
    """Where requests may be processed."""

    NONE = "none"
    PRIVATE = "private"
    """Only in the user's own cloud account and private network."""


@dataclass(frozen=True)
class Workload:
    """What the user serves."""

    model: ModelSize
    requests_per_month: int
    input_tokens: int
    output_tokens: int
    latency_p95_ms: float | None = None
    compliance: Compliance = Compliance.NONE
    precision: str | None = None
    """One of :data:`ALL_PRECISIONS`, or None: the cheaper of fp16 and int8 (int4 if neither fits)."""
    instances: frozenset[str] = frozenset()
    """Instance types to price on: a stage whose catalogue holds any of them uses only those."""
    spot: bool = False
    """Price replicas at spot where the stage's catalogue has a spot discount (on-demand otherwise)."""
    adapters: int = 0
    """LoRA adapters served beside the model: only stages that serve them are priced, at no extra
    GPU-hours, their slots taken from each replica's KV cache."""
    adapter_rank: int = lora.DEFAULT_MAX_LORA_RANK
    """Their ``--max-lora-rank``."""
    busy_hours_per_day: float = 24.0
    """Hours a day the traffic arrives in (0 < h <= 24): replicas are sized for its rate then, and a
    stage that scales to zero bills only those hours (plus :data:`SCALE_DOWN_IDLE_MINUTES`)."""

    def always_on_volume(self, volume: int) -> float:
        """The month's volume as if spread over all 24 hours at the busy hours' rate (for sizing)."""
        return volume * 24 / self.busy_hours_per_day


@dataclass(frozen=True)
class Estimate:
    """One stage at one volume."""

    requests_per_month: int
    monthly_usd: float
    detail: str
    replicas: int | None = None
    instance: str | None = None
    precision: str | None = None
    latency_ms: float | None = None


class StageUnavailable(Exception):
    """The stage cannot serve this workload (or has no price table); the message says why."""


def _gpu_of(spec: InstanceSpec) -> tables.Gpu | None:
    """The GPU model of a catalogue row (``A100`` + 80 GiB -> ``A100-80GB``), with the row's own
    GPU memory when it states one (variants of a model differ in memory)."""
    table = tables.gpus().gpus
    name = spec.gpu or ""
    gpu = table.get(name) or table.get(f"{name}-{round(spec.gpu_memory_gib)}GB")
    if gpu is not None and spec.gpu_memory_gib > 0:
        return gpu.model_copy(update={"memory_gib": spec.gpu_memory_gib})
    return gpu


def _serverless(workload: Workload, volume: int, price_list: str) -> Estimate:
    price, source = tables.token_prices(price_list).cheapest(workload.model.name, workload.model.params_b)
    cost = usage_monthly_usd(volume, workload.input_tokens, workload.output_tokens,
                             price.input_usd_per_m_tok, price.output_usd_per_m_tok)
    return Estimate(volume, cost, f"per token: ${price.input_usd_per_m_tok:g} in / "
                                  f"${price.output_usd_per_m_tok:g} out per M tokens ({source})")


@dataclass(frozen=True)
class _Config:
    instance: str
    usd_per_hour: float
    price_note: str
    precision: str
    rps: float
    latency_ms: float
    batch: int


def _precision_rounds(workload: Workload) -> tuple[tuple[str, ...], ...]:
    return ((workload.precision,),) if workload.precision else (PRECISIONS, ("int4",))


def _instance_names(family: str, workload: Workload) -> list[str]:
    """The catalogue's GPU types, or those of ``workload.instances`` it holds when it holds any."""
    table = catalog.load(family)
    pinned = sorted(workload.instances & set(table.instances))
    return [name for name in pinned if name in table.gpu_types()] if pinned else table.gpu_types()


def _configs(stage: Stage, workload: Workload) -> list[_Config]:
    """Every (instance, precision) of the stage's catalogue that holds the model and meets the latency."""
    family = STAGES.entry(stage).catalog_family
    if family is None:
        raise StageUnavailable(f"{stage.value} provisions no instances to price")
    reserved = lora.slot_gib(workload.model.params_b, workload.model.layers, workload.adapters,
                             workload.adapter_rank) if workload.adapters else 0.0
    try:
        table = catalog.load(family)
    except FileNotFoundError:
        raise StageUnavailable(f"no {family} price table yet (components/data/instances/{family}.yaml)") from None
    names = _instance_names(family, workload)
    spot = workload.spot and table.spot_discount is not None
    found: list[_Config] = []
    for precisions in _precision_rounds(workload):
        for name in names:
            spec = table.get(name)
            gpu = _gpu_of(spec)
            price = hourly_price(family, name, spot=spot)
            if gpu is None or price is None:
                continue
            for precision in precisions:
                point = replica_throughput(workload.model, gpu, spec.gpu_count, precision, workload.input_tokens,
                                           workload.output_tokens, workload.latency_p95_ms, reserved_gib=reserved)
                if point is not None:
                    found.append(_Config(name, price.usd, price.note, precision, point.requests_per_second,
                                         point.latency_ms, point.batch))
        if found:
            return found
    target = f" within p95 {workload.latency_p95_ms:g} ms" if workload.latency_p95_ms else ""
    which = f"of {', '.join(sorted(workload.instances & set(table.instances)))}" if names != table.gpu_types() \
        else f"{family} GPU instance"
    at = f" at {workload.precision}" if workload.precision else ""
    raise StageUnavailable(f"no {which} holds a {workload.model.params_b:g}B model{at}{target}")


def wake_overhead_minutes(stage: Stage, workload: Workload) -> float:
    """Minutes a replica bills around each day's wake beyond the busy hours: the idle minutes before
    it stops; on a cluster stage also the GPU node's cold start and scale-down, as ``plan`` counts
    them for ``scaling.min: 0`` (``components/vllm/cold_start.py`` at the vLLM defaults: a ``pvc``
    cache, the KEDA keep-alive window and cooldown, weights at 2 bytes a parameter)."""
    cloud = STAGES.entry(stage).cluster
    if cloud is None:
        return SCALE_DOWN_IDLE_MINUTES
    keda, cache = AutoscalingArgs(), ModelCacheArgs()
    cold = estimate_cold_start(cloud.value, cache.kind.value, workload.model.params_b, None)
    tail = idle_tail_seconds(cloud.value, duration_seconds(keda.keep_alive_window), keda.cooldown_period_seconds)
    return (cold.total_seconds + tail) / 60


def billed_hours(stage: Stage, workload: Workload) -> float:
    """Hours a month one replica bills: all of them, or on a stage that scales to zero the busy
    hours plus one wake's overhead a day (:func:`wake_overhead_minutes`; the rule ``plan`` uses)."""
    if not STAGES.entry(stage).scales_to_zero or workload.busy_hours_per_day >= 24:
        return HOURS_PER_MONTH
    return awake_hours_per_month(workload.busy_hours_per_day, wake_overhead_minutes(stage, workload))


def _fixed_monthly(stage: Stage) -> float:
    prices = tables.service_prices()
    return sum(prices.fixed_monthly(t) for t in STAGES.entry(stage).fixed_cost_types)


def stage_curve(stage: Stage, workload: Workload) -> Callable[[int], Estimate]:
    """Monthly cost of ``stage`` as a function of requests/month (:class:`StageUnavailable` if it can't serve)."""
    if workload.adapters and not STAGES.entry(stage).serves_adapters:
        raise StageUnavailable(f"{stage.value} cannot serve LoRA adapters")
    if STAGES.entry(stage).usage_priced:
        price_list = STAGES.entry(stage).cost.token_prices
        if price_list is None:  # an unknown price stays unknown, never another stage's list
            raise StageUnavailable(f"billed per token, and stage {stage.value} names no price list")
        try:
            tables.token_prices(price_list).cheapest(workload.model.name, workload.model.params_b)
        except ValueError as why:  # bigger than every serverless size tier: no provider serves it
            raise StageUnavailable(str(why)) from None
        return lambda volume: _serverless(workload, volume, price_list)
    configs = _configs(stage, workload)
    fixed = _fixed_monthly(stage)
    hours = billed_hours(stage, workload)

    def at(volume: int) -> Estimate:
        def cost(c: _Config) -> tuple[float, int]:
            replicas = replicas_needed(workload.always_on_volume(volume), c.rps, PEAK_TO_AVERAGE)
            return instance_monthly_usd(c.usd_per_hour, replicas, hours) + fixed, replicas

        best = min(configs, key=lambda c: (cost(c)[0], ALL_PRECISIONS.index(c.precision)))
        monthly, replicas = cost(best)
        scaled = " (scales to zero outside the busy hours)" if hours < HOURS_PER_MONTH else ""
        detail = (f"{replicas} x {best.instance} ({best.precision}, batch {best.batch}, "
                  f"~{best.rps * 3600:,.0f} requests/h each) x {best.price_note} x {hours:,.0f} h{scaled}"
                  + (f" + ${fixed:,.0f} control plane" if fixed else ""))
        return Estimate(volume, monthly, detail, replicas, best.instance, best.precision, best.latency_ms)

    return at


def first_change(predicate: Callable[[int], object], lo: int, hi: int) -> int | None:
    """The smallest volume in ``(lo, hi]`` where ``predicate`` differs from its value at ``lo``,
    or ``None``. Integer bisection, so cost lines may be step functions (whole replicas);
    assumes one change in the range (``cheapest_switches`` searches a grid first)."""
    start = predicate(lo)
    if predicate(hi) == start:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if predicate(mid) == start else (lo, mid)
    return hi


@dataclass(frozen=True)
class Switch:
    """Where the cheapest stage changes."""

    requests_per_month: int
    from_stage: str
    to_stage: str


def cheapest_switches(curves: dict[Stage, Callable[[int], Estimate]], lo: int, hi: int,
                      points: int = 60) -> list[Switch]:
    """Volumes in ``[lo, hi]`` where the cheapest stage changes (log grid, then bisection).

    Dedicated stages are step functions (whole replicas): two stages with near-equal cost per
    replica-hour take turns being cheapest by a few dollars. Such a detour -- A to B and back to
    A with A within :data:`NEAR_TIE` of B all the way -- is dropped, as is the recommendation's
    rule: the switches left are the ones worth acting on.
    """
    def cheapest(volume: int) -> Stage:
        return min(curves, key=lambda s: curves[s](volume).monthly_usd)

    grid = sorted({round(lo * (hi / lo) ** (i / (points - 1))) for i in range(points)})
    switches = []
    for a, b in pairwise(grid):
        first = cheapest(a)
        if cheapest(b) is first:
            continue
        at = first_change(lambda v, s=first: cheapest(v) is s, a, b) or b
        switches.append(Switch(at, first.value, cheapest(at).value))
    return _without_near_tie_detours(switches, curves, grid)


def _without_near_tie_detours(switches: list[Switch], curves: dict[Stage, Callable[[int], Estimate]],
                              grid: Sequence[int]) -> list[Switch]:
    def near_tie(base: Stage, detour: Stage, start: int, end: int) -> bool:
        volumes = [start, *(v for v in grid if start < v < end), end - 1]
        return all(curves[base](v).monthly_usd <= curves[detour](v).monthly_usd * (1 + NEAR_TIE) for v in volumes)

    result = list(switches)
    i = 0
    while i + 1 < len(result):
        into, back = result[i], result[i + 1]
        if (into.from_stage == back.to_stage and into.to_stage == back.from_stage
                and near_tie(Stage(into.from_stage), Stage(into.to_stage),
                             into.requests_per_month, back.requests_per_month)):
            del result[i:i + 2]
            i = max(i - 1, 0)  # the merge may join two switches of the same pair
            continue
        i += 1
    return result


@dataclass
class StageReport:
    """One stage across the reported volumes."""

    stage: str
    available: bool
    reason: str = ""
    eligible: bool = True
    estimates: list[Estimate] = field(default_factory=list)


@dataclass
class Advice:
    """What ``scalepath advise`` reports."""

    workload: Workload
    volumes: list[int]
    stages: list[StageReport]
    switches: list[Switch]
    recommendation: str | None
    reasons: list[str]

    def to_json(self) -> dict:
        """The ``--json`` document."""
        w = self.workload
        return {
            "workload": {"model": asdict(w.model), "requests_per_month": w.requests_per_month,
                         "input_tokens": w.input_tokens, "output_tokens": w.output_tokens,
                         "latency_p95_ms": w.latency_p95_ms, "compliance": w.compliance.value},
            "volumes": self.volumes,
            "stages": [asdict(s) for s in self.stages],
            "crossovers": [asdict(s) for s in self.switches],
            "recommendation": {"stage": self.recommendation, "reasons": self.reasons},
            "assumptions": {"hours_per_month": HOURS_PER_MONTH, "peak_to_average": PEAK_TO_AVERAGE,
                            "precisions": [w.precision] if w.precision else list(ALL_PRECISIONS),
                            "pricing": "spot where offered, else on-demand" if w.spot else "on-demand",
                            "region": "reference region of each catalogue",
                            "busy_hours_per_day": w.busy_hours_per_day, "instances": sorted(w.instances),
                            "fixed_charges": "GPU instances and the cluster control plane only; networking "
                                             "(NAT, endpoints, firewalls), registries and monitoring are "
                                             "priced by `scalepath plan`",
                            "stated": self.assumptions()},
        }

    def assumptions(self) -> list[str]:
        """What the estimates assumed that the user did not say, each with the option that changes it."""
        w = self.workload
        priced = [s for s in self.stages if s.available and s.estimates]
        int8 = [s.stage for s in priced if s.estimates[0].precision in ("int8", "int4")]
        if w.precision:
            precision = f"precision: {w.precision} everywhere (--precision)"
        else:
            precision = ("precision: the cheaper of fp16 and int8 per instance, int4 only where neither fits"
                         + (f"; quantized weights chosen for {', '.join(int8)} (a quantized checkpoint, which "
                            "can cost quality; --precision fp16 rules it out)" if int8 else ""))
        spot_stages = [s.value for s in STAGES if _spot_offered(s)]
        if w.spot:
            pricing = (f"prices: spot for {', '.join(spot_stages)} (the assumed discount of "
                       "components/data/spot.yaml; spot capacity can be reclaimed), on-demand elsewhere")
        else:
            pricing = (f"prices: on-demand list prices in each catalogue's reference region (--spot prices "
                       f"{', '.join(spot_stages)} at the assumed spot discount)")
        zero = [s for s in STAGES if STAGES.entry(s).scales_to_zero and STAGES.entry(s).catalog_family]
        clusters = [s.value for s in zero if STAGES.entry(s).cluster is not None]
        outside_prod = f" ({', '.join(clusters)} outside prod only)" if clusters else ""
        if w.busy_hours_per_day < 24:
            billed = ", ".join(f"{s.value} ~{billed_hours(s, w):,.0f} h" for s in zero)
            hours = (f"traffic: in {w.busy_hours_per_day:g} h a day, replicas sized for {PEAK_TO_AVERAGE:g}x its "
                     f"rate then; where they scale to zero{outside_prod} replicas bill those hours plus one wake a "
                     f"day ({billed}/month), {HOURS_PER_MONTH} h on the other dedicated stages")
        else:
            hours = (f"traffic: spread over 24 h a day, replicas sized for {PEAK_TO_AVERAGE:g}x the average rate and "
                     f"running {HOURS_PER_MONTH} h/month ({', '.join(s.value for s in zero)} could scale to zero "
                     f"outside busy hours{outside_prod}: --busy-hours-per-day)")
        if w.instances:
            pinned = [s.stage for s in priced if s.estimates[0].instance in w.instances]
            instances = (f"instances: {', '.join(sorted(w.instances))} (--instance) for "
                         f"{', '.join(pinned) or 'no stage it fits'}; the cheapest that holds the model elsewhere")
        else:
            instances = "instances: the cheapest of each stage's catalogue that holds the model (--instance pins one)"
        stated = [precision, pricing, hours, instances]
        if w.adapters:
            gib = lora.slot_gib(w.model.params_b, w.model.layers, w.adapters, w.adapter_rank)
            stated.append(f"adapters: {w.adapters} LoRA adapters at rank {w.adapter_rank} (--adapters, "
                          f"--adapter-rank) on {', '.join(s.value for s in STAGES.adapter_stages())} only, "
                          f"at no extra GPU-hours; their slots take ~{gib:.2f} GiB per replica from the KV cache")
        return stated


def unknown_instances(names: Sequence[str]) -> list[str]:
    """The names no dedicated stage's catalogue lists (for ``--instance``)."""
    known = {name for stage in STAGES if (family := STAGES.entry(stage).catalog_family)
             for name in catalog.load(family).instances}
    return sorted(set(names) - known)


def _spot_offered(stage: Stage) -> bool:
    family = STAGES.entry(stage).catalog_family
    return family is not None and catalog.spot_discounts().get(family) is not None


def _eligibility(stage: Stage, workload: Workload) -> str:
    """Why ``stage`` can't be recommended for this workload ('' when it can)."""
    if workload.compliance is Compliance.PRIVATE and not STAGES.entry(stage).private:
        return "compliance private: requests would be processed outside your cloud account"
    if workload.latency_p95_ms is not None and STAGES.entry(stage).usage_priced:
        return "shared serverless providers give no p95 latency guarantee"
    return ""


def volume_range(requests_per_month: int) -> tuple[int, int]:
    """Volumes searched for crossovers (and plotted): 1/1000x to 1000x the given one."""
    return max(1, requests_per_month // 1000), max(1000, requests_per_month * 1000)


def advise(workload: Workload, stages: Sequence[Stage] | None = None) -> Advice:
    """Cost every stage (default: every registered one) at 1x/5x/10x the volume, find where the
    cheapest stage changes, recommend."""
    stages = tuple(STAGES) if stages is None else stages
    volumes = [workload.requests_per_month * k for k in SCALES]
    reports, curves = [], {}
    for stage in stages:
        try:
            curve = stage_curve(stage, workload)
        except StageUnavailable as why:
            reports.append(StageReport(stage.value, False, str(why), eligible=False))
            continue
        reason = _eligibility(stage, workload)
        reports.append(StageReport(stage.value, True, reason, not reason, [curve(v) for v in volumes]))
        if not reason:
            curves[stage] = curve
    lo, hi = volume_range(workload.requests_per_month)
    switches = cheapest_switches(curves, lo, hi) if len(curves) > 1 else []
    recommendation, reasons = _recommend(workload, reports, curves, switches)
    return Advice(workload, volumes, reports, switches, recommendation, reasons)


def _preferred(costs: dict[Stage, float]) -> Stage:
    """The cheapest stage, or one earlier on the scaling path within :data:`NEAR_TIE` of it
    (less to operate)."""
    cheapest = min(costs.values())
    return min((s for s in costs if costs[s] <= cheapest * (1 + NEAR_TIE)), key=list(Stage).index)


def _recommend(workload: Workload, reports: list[StageReport], curves: dict[Stage, Callable[[int], Estimate]],
               switches: list[Switch]) -> tuple[str | None, list[str]]:
    reasons = [f"{r.stage} excluded: {r.reason}" for r in reports if r.available and not r.eligible]
    reasons += [f"{r.stage} not priced: {r.reason}" for r in reports if not r.available]
    if not curves:
        return None, reasons + ["no stage can serve this workload with the known price tables"]
    volume = workload.requests_per_month
    costs = {s: curves[s](volume).monthly_usd for s in curves}
    cheapest = min(costs, key=costs.get)
    pick = _preferred(costs)
    estimate = curves[pick](volume)
    lead = f"{pick.value}: ${estimate.monthly_usd:,.0f}/month at {volume:,} requests/month ({estimate.detail})"
    if pick is not cheapest:
        lead += f"; within {NEAR_TIE:.0%} of {cheapest.value} (${costs[cheapest]:,.0f}) and less to operate"
    ranked = sorted(costs, key=costs.get)
    if len(ranked) > 1:
        runner = next(s for s in ranked if s is not pick)
        lead += f"; next: {runner.value} at ${costs[runner]:,.0f}"
    reasons.insert(0, lead)
    for switch in switches:
        reasons.append(f"cheapest stage changes from {switch.from_stage} to {switch.to_stage} at "
                       f"~{switch.requests_per_month:,} requests/month")
    at_top = max(SCALES) * volume
    top = _preferred({s: curves[s](at_top).monthly_usd for s in curves})
    if top is not pick:
        reasons.append(f"at {max(SCALES)}x the volume ({at_top:,}/month) {top.value} is the pick "
                       f"(${curves[top](at_top).monthly_usd:,.0f} vs ${curves[pick](at_top).monthly_usd:,.0f} "
                       f"for {pick.value}): plan the move")
    if workload.latency_p95_ms is not None and estimate.latency_ms is not None:
        reasons.append(f"estimated request latency {estimate.latency_ms:,.0f} ms at the chosen batch (no queueing), "
                       f"within the {workload.latency_p95_ms:g} ms p95 target")
    return pick.value, reasons
