"""Issue 26, wake from zero: ``scaling.min: 0`` on eks-vllm/gke-vllm outside prod, woken by the
gateway's request count, with a fallback on every route that sends to it, a cold-start estimate in
the plan and idle hours priced by the rule ``advise`` uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from components.gateway.kubernetes import NAMESPACE as GATEWAY_NAMESPACE
from components.gateway.meter import EXPORTED, REQUESTS, SCOPE_LABEL
from components.vllm.cold_start import estimate
from scalepath.cli import app
from scalepath.cost.advisor import Workload, billed_hours
from scalepath.cost.throughput import resolve_model
from scalepath.plan import Plan, run_plan
from stacks.config import Stage
from stacks.errors import ConfigError
from stacks.gateway.backends import backends_for
from stacks.gateway.engine_config import engine_config
from stacks.stages import STAGES
from tests.support import stack_config
from tests.support.clusters import MODEL, gke_config, wake_stack
from tests.support.k8s import manifests, validate

TOKEN = "hf_" + "y" * 34
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"


def objects(planned: Plan) -> list[dict[str, Any]]:
    """The plan's Kubernetes objects (Helm releases are not objects of their own)."""
    return [m for m in manifests(planned.resources) if "apiVersion" in m and "kind" in m]


def with_token(cfg: dict[str, Any]) -> dict[str, Any]:
    return {**cfg, "scalepath:hfToken": TOKEN}


def plan(cfg: dict[str, Any]) -> Plan:
    return run_plan(stack_config(with_token(cfg), secret_keys={"scalepath:hfToken"}))


def issues(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        plan(cfg)
    return {i.path: i.message for i in caught.value.issues}


@pytest.fixture(scope="module")
def eks_plan() -> Plan:
    return plan(wake_stack())


def test_the_server_scales_to_zero_and_the_gateway_request_count_wakes_it(eks_plan: Plan) -> None:
    rendered = objects(eks_plan)
    assert rendered
    for manifest in rendered:  # the Kubernetes schema checks, ScaledObject included
        validate(manifest)
    (scaled,) = [r.inputs for r in eks_plan.resources if r.type == SCALED_OBJECT]
    assert scaled["spec"]["minReplicaCount"] == 0
    wake = next(t for t in scaled["spec"]["triggers"] if t["name"] == "wake")
    # Active above activationThreshold 0: one replica while the query says 1.
    assert (wake["metadata"]["threshold"], wake["metadata"]["activationThreshold"]) == ("1", "0")
    # The series and label the gateway's engine exports (components/gateway/meter.py; the engine run
    # of tests/gateway/test_serve_meter.py reads the same constant), stamped by every scrape with this
    # stack's gateway (<project>-<stack>-gateway: scalepath-test-gateway), for the route that sends to
    # this deployment, over the keep-alive window.
    assert REQUESTS in EXPORTED
    series = f'{REQUESTS}{{{SCOPE_LABEL}="scalepath-test-gateway",requested_model=~"chat"}}'
    assert wake["metadata"]["query"] == (
        f"(((sum(increase({series}[10m])) > 0) or count({series} unless {series} offset 10m)) > bool 0) "
        "or vector(0)")
    # The Prometheus KEDA queries is the one that scrapes the gateway's ServiceMonitor.
    monitors = [m for m in rendered if m["kind"] == "ServiceMonitor"
                and m["metadata"]["namespace"] == GATEWAY_NAMESPACE]
    assert len(monitors) == 1
    assert wake["metadata"]["serverAddress"].startswith("http://kps-prometheus.monitoring.svc")


def test_the_gpu_node_groups_may_hold_zero_nodes(eks_plan: Plan) -> None:
    groups = {r.name: r.inputs["scalingConfig"] for r in eks_plan.resources
              if r.type == "aws:eks/nodeGroup:NodeGroup" and "-gpu-" in r.name}
    assert groups == {"llm-eks-gpu-spot": {"minSize": 0, "maxSize": 1, "desiredSize": 0},
                      "llm-eks-gpu-ondemand": {"minSize": 0, "maxSize": 1, "desiredSize": 0}}


def test_a_gke_node_pool_may_hold_zero_nodes() -> None:
    # GKE node pools take min 0 (the pool of a min-1 stack, with gpuNodes.min 0 as dev allows).
    pools = {r.name: r.inputs["autoscaling"] for r in plan(gke_config(
        "staging", cluster={"masterAuthorizedCidrs": ["203.0.113.0/24"], "gpuNodes": {"min": 0}})).resources
        if r.type == "gcp:container/nodePool:NodePool" and "-gpu-" in r.name}
    assert pools and all(p["totalMinNodeCount"] == 0 for p in pools.values())


def test_the_wake_rule_knows_where_the_plan_scrapes_the_gateway() -> None:
    # stacks.gateway.config.GatewayConfig.scraped_in says: the kubernetes runtime's cluster (EKS's
    # Prometheus, GKE's Managed Prometheus); the plans must agree, so a runtime that stops scraping
    # the gateway fails here until the rule says so too.
    def gateway_scrapes(cfg: dict[str, Any]) -> list[str]:
        return [m["kind"] for m in objects(plan(cfg))
                if m["kind"] in ("ServiceMonitor", "PodMonitoring", "ClusterPodMonitoring")
                and m["metadata"].get("namespace") == GATEWAY_NAMESPACE]

    warm = {"scaling": {"min": 1, "max": 1}}
    assert gateway_scrapes(wake_stack(**warm)) == ["ServiceMonitor"]
    assert gateway_scrapes(wake_stack(cloud="gcp", **warm)) == ["PodMonitoring"]


def test_on_gke_the_wake_query_reads_managed_prometheus_scoped_to_this_stacks_gateway() -> None:
    # Managed Prometheus answers for the whole project: the scope label keeps another stack's
    # gateway (same namespace, another cluster) from waking this server.
    planned = plan(wake_stack(cloud="gcp"))
    (scaled,) = [r.inputs for r in planned.resources if r.type == SCALED_OBJECT]
    assert scaled["spec"]["minReplicaCount"] == 0
    wake = next(t for t in scaled["spec"]["triggers"] if t["name"] == "wake")
    assert f'{SCOPE_LABEL}="scalepath-test-gateway"' in wake["metadata"]["query"]
    assert wake["metadata"]["serverAddress"].startswith("https://monitoring.googleapis.com/v1/projects/")
    (monitor,) = [m for m in objects(planned) if m["kind"] == "PodMonitoring"
                  and m["metadata"]["namespace"] == GATEWAY_NAMESPACE]
    stamped = [r for r in monitor["spec"]["endpoints"][0]["metricRelabeling"] if r.get("targetLabel") == SCOPE_LABEL]
    assert stamped == [{"targetLabel": SCOPE_LABEL, "replacement": "scalepath-test-gateway"}]


def test_the_first_request_after_idle_goes_to_the_fallback_at_once(eks_plan: Plan) -> None:
    cfg = wake_stack()
    spec = stack_config(with_token(cfg), secret_keys={"scalepath:hfToken"}).spec()
    assert spec.gateway is not None
    backends = backends_for(spec.gateway.engine_deployments(), STAGES.contracts(spec.facts()), spec.targets)
    entries = {e["model_info"]["id"]: e["litellm_params"] for e in engine_config(spec.gateway, backends)["model_list"]}
    # The route's default retries (1) stay on the fallback; the target at zero is not retried.
    assert entries["chat/llm"]["num_retries"] == 0
    assert entries["chat@chat-serverless"]["num_retries"] == 1
    assert entries["chat/llm"]["timeout"] == 60


@pytest.mark.parametrize(("cfg", "path", "text"), [
    (wake_stack("prod"), "scalepath:deployments[0].scaling.min", "prod keeps its minimum"),
    (wake_stack(fallbacks=()), "scalepath:gateway.routes[0].fallbacks", "list a fallback deployment that stays up"),
    (wake_stack(vllm={"modelCache": {"kind": "ephemeral"}, "keda": {"enabled": False}}),
     "scalepath:deployments[0].scaling.min", "needs mode keda (an HPA cannot scale to zero)"),
], ids=["prod", "no-fallback", "no-keda"])
def test_refusals(cfg: dict[str, Any], path: str, text: str) -> None:
    found = issues(cfg)
    assert text in found[path], found


def test_a_fallback_that_also_scales_to_zero_does_not_count() -> None:
    cfg = wake_stack(fallbacks=("llm2",))
    second = {**cfg["scalepath:deployments"][0], "name": "llm2"}
    second["cluster"] = {**second["cluster"]}
    cfg["scalepath:deployments"].append(second)
    cfg["scalepath:gateway"]["routes"].append(
        {"name": "other", "targets": [{"deployment": "llm2", "weight": 100}], "fallbacks": ["chat-serverless"]})
    found = issues(cfg)
    assert "list a fallback deployment that stays up" in found["scalepath:gateway.routes[0].fallbacks"]
    assert "scalepath:gateway.routes[1].fallbacks" not in found


def test_awake_hours_only_with_min_zero() -> None:
    found = issues(wake_stack(scaling={"min": 1, "max": 1, "awakeHoursPerDay": 4}))
    assert "applies only with min 0" in found["scalepath:deployments[0].scaling"]
    # 4 awake hours: 730 / 24 x (4 + 2,382.4 / 3,600) = 141.79 h.
    assert plan(wake_stack(scaling={"min": 0, "max": 1, "awakeHoursPerDay": 4})).wake[0][
        "billedHoursPerMonth"] == round(730 / 24 * (4 + 2382.4 / 3600), 1)


def test_an_unrouted_deployment_at_zero_is_refused() -> None:
    cfg = wake_stack()
    cfg["scalepath:gateway"]["routes"][0]["targets"] = [{"deployment": "chat-serverless", "weight": 100}]
    cfg["scalepath:gateway"]["routes"][0]["fallbacks"] = []
    assert "0 needs demand the cluster can see" in issues(cfg)["scalepath:deployments[0].scaling.min"]


def stack_file(path: Path, cfg: dict[str, Any]) -> Path:
    """``cfg`` as an environment file, the HF token a ``secure:`` placeholder (as shipped)."""
    path.write_text(yaml.safe_dump({"config": {**cfg, "scalepath:hfToken": {"secure": "v1:cGxhY2Vob2xkZXI="}}}))
    return path


def test_plan_exits_2_naming_the_key_in_prod(tmp_path: Path) -> None:
    config = stack_file(tmp_path / "Pulumi.wake.yaml", wake_stack("prod"))
    result = CliRunner().invoke(app, ["plan", "--stack", "wake", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "scalepath:deployments[0].scaling.min" in result.output
    assert "set scaling.min to 1 or more" in result.output
    assert "Traceback" not in result.output


# Cold start by hand from components/data/cold_start.yaml: image 10 GB at 100 MB/s = 100 s, engine 90 s;
# Qwen2.5-7B has 7.62B parameters (models.yaml), 2 bytes each = 15.24 GB.
@pytest.mark.parametrize(("cloud", "kind", "quantization", "expected"), [
    # AWS node 240 s; the Hub at 100 MB/s: 15.24 GB -> 152.4 s.
    ("aws", "ephemeral", None, 240 + 100 + 152.4 + 90),
    # GCP node 300 s; a pd-balanced volume at 140 MB/s: 15,240 / 140 = 108.857 s.
    ("gcp", "pvc", None, 300 + 100 + 15240 / 140 + 90),
    # AWQ: half a byte a parameter, 3.81 GB from S3 at 200 MB/s = 19.05 s.
    ("aws", "s3", "awq", 240 + 100 + 19.05 + 90),
])
def test_cold_start_by_hand(cloud: str, kind: str, quantization: str | None, expected: float) -> None:
    assert estimate(cloud, kind, 7.62, quantization).total_seconds == pytest.approx(expected, abs=1e-9)


def test_unknown_model_size_is_a_stated_lower_bound() -> None:
    cold = estimate("aws", "pvc", None, None)
    assert cold.total_seconds == 240 + 100 + 90
    assert cold.to_json()["complete"] is False and cold.to_json()["weightsLoadSeconds"] is None


def test_plan_prints_the_cold_start_and_bills_awake_hours(eks_plan: Plan) -> None:
    (wake,) = eks_plan.to_json()["wake"]
    assert wake["deployment"] == "llm"
    # ephemeral cache (tests/support/clusters.py) on AWS: 582.4 s, rounded.
    assert wake["coldStart"] == {"totalSeconds": 582, "nodeProvisionSeconds": 240, "imagePullSeconds": 100,
                                 "weightsLoadSeconds": 152, "engineStartSeconds": 90, "weightsGB": 15.2,
                                 "complete": True}
    # Idle tail: keep-alive 10 min + KEDA cooldown 600 s + autoscaler scale-down 600 s = 1,800 s.
    assert wake["idleTailSeconds"] == 1800
    # 730 / 24 days x (8 h awake + (582.4 + 1,800) s / 3,600 a wake) = 30.4167 x 8.66178 = 263.46 h.
    assert wake["billedHoursPerMonth"] == 263.5
    (line,) = [line for line in eks_plan.cost["lines"] if line["type"] == "wake:eks-vllm"]
    # One g6.xlarge spot node: $0.8048/h on-demand less the 60% spot discount = $0.32192/h x 263.46 h.
    assert line["monthly_usd"] == pytest.approx(round(0.8048 * 0.4 * 730 / 24 * (8 + 2382.4 / 3600), 2))
    assert line["at_max_usd"] == 0.0  # at max the node group lines bill every hour already


def test_advise_bills_idle_hours_by_the_same_rule() -> None:
    # advise assumes vLLM's defaults (a pvc cache on AWS): 240 + 100 + 15,240 / 131 + 90 = 546.34 s cold
    # start, 1,800 s idle tail; 8 busy hours: 730 / 24 x (8 + 2,346.34 / 3,600) = 263.16 h.
    workload = Workload(model=resolve_model(MODEL), requests_per_month=100_000, input_tokens=500,
                        output_tokens=200, busy_hours_per_day=8)
    expected = 730 / 24 * (8 + (240 + 100 + 15240 / 131 + 90 + 1800) / 3600)
    assert billed_hours(Stage.EKS_VLLM, workload) == pytest.approx(expected, abs=1e-9)
    # And plan, for a deployment with those same settings, bills the same hours.
    pvc = plan(wake_stack(vllm={"modelCache": {"kind": "pvc"}}))
    assert pvc.wake[0]["billedHoursPerMonth"] == round(expected, 1)
    # A busy day of 24 h bills the whole month on every dedicated stage.
    assert billed_hours(Stage.EKS_VLLM, Workload(
        model=resolve_model(MODEL), requests_per_month=1, input_tokens=1, output_tokens=1)) == 730


def test_plan_text_names_the_cold_start(tmp_path: Path) -> None:
    config = stack_file(tmp_path / "Pulumi.wake.yaml", wake_stack())
    result = CliRunner().invoke(app, ["plan", "--stack", "wake", "--config", str(config)])
    assert result.exit_code in (0, 1), result.output
    assert re.search(r"llm scales to zero: cold start ~10 min \(node 240 s, image 100 s, weights 152 s for "
                     r"15\.2 GB, engine 90 s\)", " ".join(result.output.split())), result.output
    out = tmp_path / "plan.json"
    CliRunner().invoke(app, ["plan", "--stack", "wake", "--config", str(config), "--json", "--out", str(out)])
    assert json.loads(out.read_text())["wake"][0]["coldStart"]["totalSeconds"] == 582
