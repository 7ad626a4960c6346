"""The advisor: throughput model, cost curves, crossovers, recommendation and the CLI."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scalepath.cli import app
from scalepath.cost import tables
from scalepath.cost.advisor import (
    Compliance,
    StageUnavailable,
    Workload,
    advise,
    cheapest_switches,
    first_change,
    stage_curve,
    unknown_instances,
)
from scalepath.cost.lines import HOURS_PER_MONTH
from scalepath.cost.throughput import replica_throughput, replicas_needed, resolve_model, weights_gib
from stacks.config import Stage
from stacks.stages import STAGES

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def workload(model: str = LLAMA_8B, volume: int = 200_000, **kw) -> Workload:
    return Workload(resolve_model(model), volume, kw.pop("input_tokens", 500), kw.pop("output_tokens", 250), **kw)


# --- throughput model ----------------------------------------------------------------------

@pytest.mark.parametrize("benchmark", tables.gpus().benchmarks, ids=lambda b: f"{b.model}@{b.gpu}")
def test_roofline_within_2x_of_published_measurements(benchmark):
    precision = {"fp16": "fp16", "fp8": "int8"}[benchmark.precision]
    point = replica_throughput(resolve_model(benchmark.model), tables.gpus().gpus[benchmark.gpu],
                               benchmark.gpu_count, precision, benchmark.input_tokens, benchmark.output_tokens,
                               max_batch=benchmark.concurrency)
    assert 0.5 <= point.output_tokens_per_second / benchmark.output_tokens_per_second <= 2


def test_model_geometry_and_sizes():
    llama = resolve_model(LLAMA_8B)
    assert llama.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2  # 128 KiB per token
    assert weights_gib(llama, "fp16") == pytest.approx(8.03e9 * 2 / 2**30)
    assert weights_gib(llama, "int4") == pytest.approx(weights_gib(llama, "fp16") / 4)
    assert resolve_model("70B").params_b == 70 and resolve_model("7e9").params_b == 7
    assert resolve_model("500M").params_b == 0.5
    assert resolve_model("acme/support-13B-chat").params_b == 13


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError) as error:
        resolve_model("acme/mystery-model")
    assert "acme/mystery-model" in str(error.value) and LLAMA_8B in str(error.value)


def test_a_model_that_does_not_fit_has_no_throughput():
    a10g = tables.gpus().gpus["A10G"]
    assert replica_throughput(resolve_model("70B"), a10g, 1, "fp16", 500, 250) is None
    assert replica_throughput(resolve_model("70B"), a10g, 4, "int8", 500, 250) is not None


def test_latency_target_caps_the_batch():
    a10g, model = tables.gpus().gpus["A10G"], resolve_model(LLAMA_8B)
    free = replica_throughput(model, a10g, 1, "fp16", 500, 250)
    single = replica_throughput(model, a10g, 1, "fp16", 500, 250, max_batch=1)
    target = (single.latency_ms + free.latency_ms) / 2
    capped = replica_throughput(model, a10g, 1, "fp16", 500, 250, latency_p95_ms=target)
    assert single.batch < capped.batch < free.batch and capped.latency_ms <= target
    assert single.requests_per_second < capped.requests_per_second < free.requests_per_second
    assert replica_throughput(model, a10g, 1, "fp16", 500, 250, latency_p95_ms=1) is None


@settings(max_examples=50, deadline=None)
@given(volume=st.integers(0, 10**9), more=st.integers(0, 10**9), rps=st.floats(0.01, 100))
def test_replicas_monotonic_in_volume_and_at_least_one(volume, more, rps):
    assert 1 <= replicas_needed(volume, rps, 2) <= replicas_needed(volume + more, rps, 2)


# --- cost curves ---------------------------------------------------------------------------

def test_dedicated_curve_hand_computed(fake_catalogs):
    # 8B fp16 on the cheapest GPU that holds it: one replica, always on; the T4 is too small at fp16
    # with these sequences but holds it at int8 — fp16 on the A10G costs more, so int8 on the T4 wins.
    fake_catalogs(sagemaker={
        "ml.g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.408},
        "ml.g4dn.xlarge": {"gpu": "T4", "gpuCount": 1, "gpuMemoryGiB": 16, "usdPerHour": 0.736},
        "ml.m5.large": {"vcpu": 2, "memoryGiB": 8, "usdPerHour": 0.115},
    })
    estimate = stage_curve(Stage.SAGEMAKER, workload())(200_000)
    assert (estimate.instance, estimate.precision, estimate.replicas) == ("ml.g4dn.xlarge", "int8", 1)
    assert estimate.monthly_usd == pytest.approx(0.736 * HOURS_PER_MONTH)
    small_model = stage_curve(Stage.SAGEMAKER, workload(model="3B"))(200_000)
    assert small_model.monthly_usd == pytest.approx(0.736 * HOURS_PER_MONTH)  # a 3B fits the T4 at fp16
    assert small_model.precision == "fp16"


def test_eks_curve_adds_the_control_plane(fake_catalogs):
    fake_catalogs(ec2={"g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.006}})
    estimate = stage_curve(Stage.EKS_VLLM, workload())(200_000)
    assert estimate.monthly_usd == pytest.approx((1.006 + 0.10) * HOURS_PER_MONTH)


SAGEMAKER_ROWS = {
    "ml.g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.408},
    "ml.g4dn.xlarge": {"gpu": "T4", "gpuCount": 1, "gpuMemoryGiB": 16, "usdPerHour": 0.736},
    "ml.m5.large": {"vcpu": 2, "memoryGiB": 8, "usdPerHour": 0.115},
}


def test_precision_is_the_users_when_given(fake_catalogs):
    # 8B at fp16 is 14.96 GiB of weights; a T4 holds 16 x 0.9 - 1.5 = 12.9 GiB: fp16 needs the A10G.
    fake_catalogs(sagemaker=SAGEMAKER_ROWS)
    fp16 = stage_curve(Stage.SAGEMAKER, workload(precision="fp16"))(200_000)
    assert (fp16.instance, fp16.precision) == ("ml.g5.xlarge", "fp16")
    assert fp16.monthly_usd == pytest.approx(1.408 * HOURS_PER_MONTH)
    int4 = stage_curve(Stage.SAGEMAKER, workload(precision="int4"))(200_000)
    assert (int4.instance, int4.precision) == ("ml.g4dn.xlarge", "int4")


def test_instance_pins_the_stage_that_lists_it(fake_catalogs):
    fake_catalogs(sagemaker=SAGEMAKER_ROWS)
    pinned = stage_curve(Stage.SAGEMAKER, workload(instances=frozenset({"ml.g5.xlarge"})))(200_000)
    assert pinned.instance == "ml.g5.xlarge"  # int8 on the T4 would be cheaper
    with pytest.raises(StageUnavailable, match="no of ml.m5.large holds"):
        stage_curve(Stage.SAGEMAKER, workload(instances=frozenset({"ml.m5.large"})))
    # A stage whose catalogue does not list the type keeps its own choice.
    assert stage_curve(Stage.EKS_VLLM, workload(instances=frozenset({"ml.g5.xlarge"})))(200_000).instance
    assert unknown_instances(["ml.g5.xlarge", "g5.xlarge", "nope"]) == ["nope"]


def test_spot_prices_where_the_stage_offers_it(fake_catalogs):
    # ec2's assumed discount is 60% (components/data/spot.yaml): the GPU costs 40%, the control plane does not change.
    fake_catalogs(ec2={"g5.xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.006}},
                  sagemaker=SAGEMAKER_ROWS)
    estimate = stage_curve(Stage.EKS_VLLM, workload(spot=True))(200_000)
    assert estimate.monthly_usd == pytest.approx((1.006 * 0.4 + 0.10) * HOURS_PER_MONTH)
    assert "spot" in estimate.detail
    # SageMaker has no spot option: the same price as on-demand.
    assert stage_curve(Stage.SAGEMAKER, workload(spot=True))(200_000).monthly_usd == pytest.approx(
        0.736 * HOURS_PER_MONTH)


def test_scale_to_zero_bills_the_busy_hours(fake_catalogs):
    fake_catalogs(hf={"aws/nvidia-a10g/x1": {"accelerator": "gpu", "gpu": "A10G", "gpuCount": 1,
                                             "gpuMemoryGiB": 24, "usdPerHour": 1.0}},
                  sagemaker=SAGEMAKER_ROWS)
    busy = workload(busy_hours_per_day=8)
    # 730 h / 24 = 30.42 days x (8 busy hours + 15 idle minutes before scale-down) = 250.94 h.
    endpoint = stage_curve(Stage.HF_ENDPOINT, busy)(200_000)
    assert endpoint.monthly_usd == pytest.approx(730 / 24 * 8.25 * 1.0)
    assert stage_curve(Stage.HF_ENDPOINT, workload())(200_000).monthly_usd == pytest.approx(730 * 1.0)
    # Always-on stages bill every hour; all are sized for the busy hours' rate (3x the 24 h average).
    assert stage_curve(Stage.SAGEMAKER, busy)(200_000).monthly_usd == pytest.approx(0.736 * HOURS_PER_MONTH)
    for volume in (2_000_000, 5_000_000, 9_000_000):
        assert (stage_curve(Stage.SAGEMAKER, busy)(volume).replicas
                == stage_curve(Stage.SAGEMAKER, workload())(3 * volume).replicas)


@settings(max_examples=50, deadline=None)
@given(volume=st.integers(1, 10**8), more=st.integers(1, 10**8),
       stage=st.sampled_from([Stage.HF_SERVERLESS, Stage.SAGEMAKER]),
       model=st.sampled_from([LLAMA_8B, "70B", "3B"]), tokens_in=st.integers(1, 4000), tokens_out=st.integers(1, 2000))
def test_stage_cost_is_monotonic_in_volume(volume, more, stage, model, tokens_in, tokens_out):
    curve = stage_curve(stage, Workload(resolve_model(model), volume, tokens_in, tokens_out))
    assert curve(volume).monthly_usd <= curve(volume + more).monthly_usd


# --- crossovers ----------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(fixed=st.floats(1, 10_000), slope=st.floats(1e-4, 1))
def test_crossover_found_where_the_lines_cross(fixed, slope):
    dedicated = lambda v: fixed  # noqa: E731
    per_use = lambda v: slope * v  # noqa: E731
    assume(per_use(1) < fixed)
    at = first_change(lambda v: per_use(v) < dedicated(v), 1, 10**9)
    if per_use(10**9) < fixed:
        assert at is None
        return
    assert per_use(at - 1) < fixed <= per_use(at)


def test_no_crossover_between_parallel_lines():
    assert first_change(lambda v: v + 10 < v, 1, 10**6) is None


def test_crossover_of_a_step_function():
    steps = lambda v: 1000 * -(-v // 10_000)  # noqa: E731 (1000 per started 10k)
    linear = lambda v: 0.15 * v  # noqa: E731
    assert first_change(lambda v: linear(v) < steps(v), 1, 9_999) == 6_667  # 0.15 x 6667 > 1000


def test_cheapest_switches_marks_where_the_cheapest_changes():
    class Line:
        def __init__(self, fixed, slope):
            self.fixed, self.slope = fixed, slope

        def __call__(self, v):
            return type("E", (), {"monthly_usd": self.fixed + self.slope * v})()

    curves = {Stage.HF_SERVERLESS: Line(0, 0.01), Stage.HF_ENDPOINT: Line(500, 0.001),
              Stage.EKS_VLLM: Line(2000, 0.0001)}
    switches = cheapest_switches(curves, 1, 10**8)
    assert [(s.from_stage, s.to_stage) for s in switches] == [
        ("hf-serverless", "hf-endpoint"), ("hf-endpoint", "eks-vllm")]
    assert switches[0].requests_per_month == pytest.approx(500 / 0.009, rel=1e-3)
    assert switches[1].requests_per_month == pytest.approx(1500 / 0.0009, rel=1e-3)


def test_near_tie_detours_of_step_functions_are_dropped_real_switches_kept():
    class Curve:
        def __init__(self, cost):
            self.cost = cost

        def __call__(self, v):
            return type("E", (), {"monthly_usd": self.cost(v)})()

    # A: $1000 + $100 per started 10k requests; B: $1050 + $100 per started 10.5k. B is cheapest
    # just after each of A's steps, by less than 10%: A -> B -> A blips, no decision in them.
    a = Curve(lambda v: 1000 + 100 * -(-v // 10_000))
    b = Curve(lambda v: 1050 + 100 * -(-v // 10_500))
    assert b(10_001).monthly_usd < a(10_001).monthly_usd <= b(10_001).monthly_usd * 1.1  # a real blip
    assert cheapest_switches({Stage.SAGEMAKER: a, Stage.AZUREML: b}, 1, 60_000, points=400) == []
    # C is 30% cheaper per step from 30k on: that switch is kept, where the lines cross.
    c = Curve(lambda v: a(v).monthly_usd * (1 if v < 30_000 else 0.7))
    switches = cheapest_switches({Stage.SAGEMAKER: a, Stage.EKS_VLLM: c}, 1, 60_000, points=400)
    assert [(s.from_stage, s.to_stage, s.requests_per_month) for s in switches] == [("sagemaker", "eks-vllm", 30_000)]


# --- recommendation ------------------------------------------------------------------------

def test_low_volume_recommends_serverless_with_reasons():
    advice = advise(workload(volume=50_000))
    assert advice.recommendation == "hf-serverless"
    assert advice.volumes == [50_000, 250_000, 500_000]
    assert advice.reasons[0].startswith("hf-serverless: $")
    # Every stage is priced (hf-endpoint from hf.yaml), so the runner-up is named with its price.
    assert all(s.available for s in advice.stages) and not any("not priced" in r for r in advice.reasons)
    assert "; next: hf-endpoint at $" in advice.reasons[0]


def test_private_compliance_excludes_shared_stages():
    advice = advise(workload(compliance=Compliance.PRIVATE))
    excluded = {s.stage for s in advice.stages if s.available and not s.eligible}
    assert "hf-serverless" in excluded and advice.recommendation in {s.value for s in STAGES if STAGES.entry(s).private}
    assert any("compliance private" in r for r in advice.reasons)


def test_latency_target_excludes_serverless_and_is_reported():
    advice = advise(workload(latency_p95_ms=20_000))
    assert advice.recommendation not in (None, "hf-serverless")
    assert any("p95" in r for r in advice.reasons)


def test_dedicated_wins_at_volume_when_it_is_cheaper(fake_catalogs):
    # A cheap dedicated GPU (stand-in HF endpoint table) against per-token billing: the advisor must
    # find the switch and recommend by volume.
    fake_catalogs(hf={"aws/nvidia-l4/x1": {"gpu": "L4", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 0.20}})
    low = advise(workload(model="acme/support-8B-chat", volume=20_000))
    assert low.recommendation == "hf-serverless"
    switch = next(s for s in low.switches if s.to_stage == "hf-endpoint")
    high = advise(workload(model="acme/support-8B-chat", volume=switch.requests_per_month * 2))
    assert high.recommendation == "hf-endpoint"
    serverless = stage_curve(Stage.HF_SERVERLESS, low.workload)
    endpoint = stage_curve(Stage.HF_ENDPOINT, low.workload)
    v = switch.requests_per_month
    assert serverless(v - 1).monthly_usd < endpoint(v - 1).monthly_usd
    assert serverless(v).monthly_usd >= endpoint(v).monthly_usd


# --- CLI -----------------------------------------------------------------------------------

ARGS = ["advise", "--requests-per-month", "300000", "--input-tokens", "800", "--output-tokens", "300",
        "--model", LLAMA_8B]


def test_cli_json():
    result = CliRunner().invoke(app, [*ARGS, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["volumes"] == [300_000, 1_500_000, 3_000_000]
    assert document["recommendation"]["stage"] == "hf-serverless"
    sagemaker = next(s for s in document["stages"] if s["stage"] == "sagemaker")
    assert [e["requests_per_month"] for e in sagemaker["estimates"]] == document["volumes"]


def test_cli_says_what_it_assumed():
    text = " ".join(CliRunner().invoke(app, ARGS).stdout.split())
    assert "Assumed: - precision: the cheaper of fp16 and int8" in text
    assert "quantized weights chosen for hf-endpoint, sagemaker" in text  # int8 on T4s at this size
    assert "prices: on-demand list prices" in text and "--spot prices vertex, eks-vllm, gke-vllm" in text
    assert "--busy-hours-per-day" in text and "--instance pins one" in text
    pinned = CliRunner().invoke(app, [*ARGS, "--precision", "fp16", "--spot", "--instance", "ml.g5.2xlarge",
                                      "--json"])
    document = json.loads(pinned.stdout)
    assumptions = document["assumptions"]
    assert (assumptions["precisions"], assumptions["pricing"], assumptions["instances"]) == (
        ["fp16"], "spot where offered, else on-demand", ["ml.g5.2xlarge"])
    sagemaker = next(s for s in document["stages"] if s["stage"] == "sagemaker")
    assert {(e["instance"], e["precision"]) for e in sagemaker["estimates"]} == {("ml.g5.2xlarge", "fp16")}


def test_cli_unknown_instance_exits_2():
    result = CliRunner().invoke(app, [*ARGS, "--instance", "ml.nope.xlarge"])
    assert result.exit_code == 2 and "ml.nope.xlarge" in result.output


def test_cli_plot_writes_a_png(tmp_path):
    out = tmp_path / "advice.png"
    result = CliRunner().invoke(app, [*ARGS, "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5_000
    assert "Recommended: hf-serverless" in result.output


def test_cli_unknown_model_exits_2_naming_known_models():
    result = CliRunner().invoke(app, [*ARGS[:-1], "acme/mystery"])
    assert result.exit_code == 2
    assert "acme/mystery" in result.output and "Llama-3.1-8B" in result.output
