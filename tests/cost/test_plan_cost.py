"""Plan cost: resources priced from their recorded inputs, hand-computed; totals, budget, the CLI."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from components import catalog
from scalepath.cli import app
from scalepath.cost.lines import Basis, CostLine, instance_monthly_usd, usage_monthly_usd
from scalepath.cost.plan_cost import estimate, serverless_usage_line, summarise
from scalepath.cost.resources import PricingContext, price_resource
from scalepath.report import render_cost
from stacks.config import DeploymentBase, ExpectedUsage, Stage
from tests.support import stack_config
from tests.support.cost import planned

G5_2XL = catalog.load("sagemaker").get("ml.g5.2xlarge").usd_per_hour

SM_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def price(resource, *others, **ctx) -> CostLine:
    return price_resource(resource, PricingContext(resources=[resource, *others], **ctx))


def sagemaker_config(*variants, name="chat-config", tags=None):
    return planned(SM_CONFIG, name, {"productionVariants": list(variants),
                                     "tags": tags or {"deployment": "chat", "stage": "sagemaker"}})


def test_two_g5_2xlarge_for_730_hours(fake_catalogs):
    fake_catalogs(sagemaker={"ml.g5.2xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.515}})
    line = price(sagemaker_config({"variantName": "AllTraffic", "instanceType": "ml.g5.2xlarge",
                                   "initialInstanceCount": 2, "modelName": "chat-model"}))
    assert line.basis is Basis.INSTANCES and line.deployment == "chat"
    assert line.monthly_usd == pytest.approx(2 * 1.515 * 730) == pytest.approx(2211.90)
    assert line.at_max_usd == line.monthly_usd
    assert instance_monthly_usd(1.515, 2) == pytest.approx(2211.90)


def test_autoscaling_target_sets_min_and_max():
    config = sagemaker_config({"variantName": "AllTraffic", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 2})
    endpoint = planned("aws:sagemaker/endpoint:Endpoint", "chat-endpoint",
                       {"name": "chat-ep", "endpointConfigName": "chat-config-1a2b3c"}, dependencies=[config.urn])
    target = planned("aws:appautoscaling/target:Target", "chat-scaling",
                     {"resourceId": "endpoint/chat-ep/variant/AllTraffic", "minCapacity": 1, "maxCapacity": 4,
                      "scalableDimension": "sagemaker:variant:DesiredInstanceCount", "serviceNamespace": "sagemaker"})
    line = price(config, endpoint, target)
    assert line.monthly_usd == pytest.approx(1 * G5_2XL * 730)
    assert line.at_max_usd == pytest.approx(4 * G5_2XL * 730)


def test_managed_instance_scaling_sets_min_and_max():
    line = price(sagemaker_config({"variantName": "AllTraffic", "instanceType": "ml.g5.2xlarge",
                                   "initialInstanceCount": 1,
                                   "managedInstanceScaling": {"status": "ENABLED", "minInstanceCount": 1,
                                                              "maxInstanceCount": 3}}))
    assert (line.monthly_usd, line.at_max_usd) == pytest.approx((G5_2XL * 730, 3 * G5_2XL * 730))


def test_autoscaling_target_of_another_endpoint_is_ignored():
    config = sagemaker_config({"variantName": "AllTraffic", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 2})
    target = planned("aws:appautoscaling/target:Target", "other-scaling",
                     {"resourceId": "endpoint/other-ep/variant/AllTraffic", "minCapacity": 1, "maxCapacity": 9})
    assert price(config, target).at_max_usd == pytest.approx(2 * G5_2XL * 730)


def test_serverless_variant_is_priced_per_use_from_expected_usage():
    config = sagemaker_config({"variantName": "AllTraffic",
                               "serverlessConfig": {"memorySizeInMb": 4096, "maxConcurrency": 5}})
    usage = ExpectedUsage(requests_per_month=100_000, input_tokens_per_request=100, output_tokens_per_request=20)
    line = price(config, usage={"chat": usage})
    # 100k requests x (0.2 s + 20 x 0.05 s) x 4 GB x $0.00002/GB-s (service_prices.yaml)
    assert line.basis is Basis.USAGE
    assert line.monthly_usd == pytest.approx(100_000 * 1.2 * 4 * 0.00002) == pytest.approx(9.60)


def test_provisioned_concurrency_is_billed_every_second_of_the_month():
    # Issue 29: a mutant without the * 3600 priced this at $0.03. By hand from service_prices.yaml:
    # 2 provisioned x 4 GB x $0.0000048/GB-s x 3600 s/h x 730 h = $100.9152 a month, plus use:
    # 100k requests x (0.2 s + 20 x 0.05 s) x 4 GB x $0.00002/GB-s = $9.60.
    config = sagemaker_config({"variantName": "AllTraffic", "serverlessConfig": {
        "memorySizeInMb": 4096, "maxConcurrency": 5, "provisionedConcurrency": 2}})
    usage = ExpectedUsage(requests_per_month=100_000, input_tokens_per_request=100, output_tokens_per_request=20)
    line = price(config, usage={"chat": usage})
    assert line.monthly_usd == pytest.approx(100.9152 + 9.60)
    assert "+ 2 provisioned" in line.detail


def test_serverless_variant_without_expected_usage_is_unknown_not_zero():
    line = price(sagemaker_config({"variantName": "AllTraffic", "serverlessConfig": {"memorySizeInMb": 2048}}))
    assert line.basis is Basis.UNKNOWN and line.monthly_usd is None and "expectedUsage" in line.detail


def test_unknown_instance_type_line_names_the_known_types():
    line = price(sagemaker_config({"variantName": "A", "instanceType": "ml.p9.huge", "initialInstanceCount": 1}))
    assert line.basis is Basis.UNKNOWN and line.monthly_usd is None
    assert "ml.p9.huge" in line.detail and "ml.g5.2xlarge" in line.detail


def test_eks_spot_node_group(fake_catalogs):
    fake_catalogs(ec2={"g5.2xlarge": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.212}})
    group = planned("aws:eks/nodeGroup:NodeGroup", "gpu-nodes", {
        "instanceTypes": ["g5.2xlarge"], "capacityType": "SPOT",
        "scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 3}})
    line = price(group, default_region={"aws": "us-east-1"})
    assert line.monthly_usd == pytest.approx(1 * 1.212 * 0.4 * 730)
    assert line.at_max_usd == pytest.approx(3 * 1.212 * 0.4 * 730)
    on_demand = planned("aws:eks/nodeGroup:NodeGroup", "gpu-nodes", {
        "instanceTypes": ["g5.2xlarge"], "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 2}})
    assert price(on_demand).monthly_usd == pytest.approx(2 * 1.212 * 730)


def test_gke_node_pool_with_attached_gpus_and_zones(fake_catalogs):
    fake_catalogs(gce={
        "n1-standard-8": {"vcpu": 8, "memoryGiB": 30, "usdPerHour": 0.38},
        "nvidia-tesla-t4": {"gpu": "T4", "gpuCount": 1, "gpuMemoryGiB": 16, "usdPerHour": 0.35},
        "g2-standard-8": {"gpu": "L4", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 0.85},
    })
    attached = planned("gcp:container/nodePool:NodePool", "t4-pool", {
        "location": "us-central1", "autoscaling": {"minNodeCount": 1, "maxNodeCount": 2},
        "nodeConfig": {"machineType": "n1-standard-8", "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 2}]}})
    line = price(attached)
    # regional pool without nodeLocations: min/max are per zone, three zones
    assert line.monthly_usd == pytest.approx(3 * (0.38 + 2 * 0.35) * 730)
    assert line.at_max_usd == pytest.approx(6 * (0.38 + 2 * 0.35) * 730)
    included = planned("gcp:container/nodePool:NodePool", "l4-pool", {
        "location": "us-central1-a", "nodeCount": 2,
        "nodeConfig": {"machineType": "g2-standard-8", "spot": True,
                       "guestAccelerators": [{"type": "nvidia-l4", "count": 1}]}})
    assert price(included).monthly_usd == pytest.approx(2 * 0.85 * 0.4 * 730)  # GPU in the G2 price
    totals = planned("gcp:container/nodePool:NodePool", "l4-pool", {
        "location": "us-central1", "nodeLocations": ["us-central1-a", "us-central1-b"],
        "autoscaling": {"totalMinNodeCount": 1, "totalMaxNodeCount": 5},
        "nodeConfig": {"machineType": "g2-standard-8"}})
    assert (price(totals).monthly_usd, price(totals).at_max_usd) == pytest.approx((0.85 * 730, 5 * 0.85 * 730))


def test_azure_online_deployment(fake_catalogs):
    fake_catalogs(azureml={"Standard_NC24ads_A100_v4": {"gpu": "A100", "gpuCount": 1, "gpuMemoryGiB": 80,
                                                        "usdPerHour": 3.67}})
    deployment = planned("azure-native:machinelearningservices:OnlineDeployment", "chat-blue", {
        "sku": {"name": "Default", "capacity": 2},
        "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_NC24ads_A100_v4",
                       "scaleSettings": {"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 3}}})
    line = price(deployment)
    assert (line.monthly_usd, line.at_max_usd) == pytest.approx((3.67 * 730, 3 * 3.67 * 730))


def test_vertex_model_garden_deployment(fake_catalogs):
    fake_catalogs(vertex={"g2-standard-12": {"gpu": "L4", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.15}})
    endpoint = planned("gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment", "chat", {
        "location": "us-central1", "deployConfig": {"dedicatedResources": {
            "machineSpec": {"machineType": "g2-standard-12", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
            "minReplicaCount": 1, "maxReplicaCount": 2}}})
    line = price(endpoint)
    assert (line.monthly_usd, line.at_max_usd) == pytest.approx((1.15 * 730, 2 * 1.15 * 730))


HF_INPUTS = {"kind": "huggingface:InferenceEndpoint", "vendor": "aws", "region": "us-east-1",
             "accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1",
             "minReplica": 0, "maxReplica": 2}


def test_hf_endpoint_on_an_unlisted_instance_is_unknown():
    inputs = {**HF_INPUTS, "instanceType": "nvidia-unlisted"}
    line = price(planned("pulumi-python:dynamic:Resource", "chat-endpoint", inputs))
    assert line.basis is Basis.UNKNOWN and line.monthly_usd is None and "hf" in line.detail


def test_hf_endpoint_scale_to_zero(fake_catalogs):
    fake_catalogs(hf={"aws/nvidia-a10g/x1": {"gpu": "A10G", "gpuCount": 1, "gpuMemoryGiB": 24, "usdPerHour": 1.0}})
    line = price(planned("pulumi-python:dynamic:Resource", "chat-endpoint", HF_INPUTS))
    assert (line.monthly_usd, line.at_max_usd) == pytest.approx((0.0, 2 * 730.0))


def test_other_dynamic_resources_are_unknown():
    assert price(planned("pulumi-python:dynamic:Resource", "x", {"kind": "other"})).basis is Basis.UNKNOWN


@pytest.mark.parametrize(("type_", "basis", "monthly"), [
    ("aws:eks/cluster:Cluster", Basis.FIXED, 73.0),
    ("aws:kms/key:Key", Basis.FIXED, 1.0),
    ("aws:iam/role:Role", Basis.NO_CHARGE, 0.0),
    ("kubernetes:apps/v1:Deployment", Basis.NO_CHARGE, 0.0),
    ("aws:s3/bucketV2:BucketV2", Basis.METERED, None),
    ("aws:opensearch/domain:Domain", Basis.UNKNOWN, None),
])
def test_non_instance_resources(type_, basis, monthly):
    line = price(planned(type_, "r", {}))
    assert line.basis is basis
    assert line.monthly_usd == (pytest.approx(monthly) if monthly is not None else None)


class ServerlessDeployment(DeploymentBase):
    """A stand-in for the hf-serverless stage's model (that stage is built elsewhere)."""

    stage_value = Stage.HF_SERVERLESS


def test_serverless_usage_line_hand_computed():
    deployment = ServerlessDeployment(name="chat", model="meta-llama/Llama-3.1-8B-Instruct", stage="hf-serverless",
                                      expectedUsage={"requestsPerMonth": 100_000, "inputTokensPerRequest": 500,
                                                     "outputTokensPerRequest": 250})
    line = serverless_usage_line(deployment)
    # groq: $0.05 in / $0.08 out per million tokens (token_prices.yaml)
    assert line.monthly_usd == pytest.approx(100_000 * (500 * 0.05 + 250 * 0.08) / 1e6) == pytest.approx(4.50)
    missing = serverless_usage_line(ServerlessDeployment(name="xy", model="org/mystery", stage="hf-serverless"))
    assert missing.basis is Basis.UNKNOWN and missing.monthly_usd is None


def test_estimate_adds_usage_lines_and_budget(base_config):
    spec = stack_config(base_config).spec()
    deployment = ServerlessDeployment(name="chat", model="acme/support-8B-chat", stage="hf-serverless",
                                      expectedUsage={"requestsPerMonth": 1_000_000})
    spec = spec.model_copy(update={"deployments": [deployment]})
    config = sagemaker_config({"variantName": "A", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 2})
    cost = estimate([config, planned("aws:opensearch/domain:Domain", "search", {})], spec)
    usage = 1_000_000 * (500 * 0.20 + 250 * 0.20) / 1e6  # 8B: the <=16B size tier
    assert cost["monthly_usd"] == pytest.approx(2 * G5_2XL * 730 + usage)
    assert [line["basis"] for line in cost["lines"]] == ["instances", "unknown", "usage"]
    assert cost["complete"] is False
    assert cost["unpriced"] == ["urn:pulumi:test::scalepath::aws:opensearch/domain:Domain::search"]
    assert cost["budget"]["headroom_usd"] == pytest.approx(100 - 2 * G5_2XL * 730 - usage, abs=0.01)
    assert any("exceeds the budget" in w for w in cost["warnings"])
    assert any("lower bounds" in w for w in cost["warnings"])


def test_budget_warning_at_max_only():
    lines = [CostLine("u", "t", "n", Basis.INSTANCES, 50.0, 500.0, "")]
    cost = summarise(lines, 100)
    assert cost["budget"] == {"monthly_usd": 100, "headroom_usd": 50.0, "headroom_at_max_usd": -400.0}
    assert cost["warnings"] == ["at max replicas the estimate ($500.00/month) exceeds the budget ($100.00/month)"]
    assert summarise(lines, 1000)["warnings"] == []


@settings(max_examples=50, deadline=None)
@given(low=st.integers(0, 50), extra=st.integers(0, 50), more=st.integers(1, 50))
def test_cost_is_monotonic_in_replicas(low, extra, more):
    def line(count: int) -> float:
        return price(sagemaker_config({"variantName": "A", "instanceType": "ml.g5.2xlarge",
                                       "initialInstanceCount": count})).monthly_usd
    assert line(low) <= line(low + extra) < line(low + extra + more)
    assert line(low) == pytest.approx(low * G5_2XL * 730)


@settings(max_examples=50, deadline=None)
@given(requests=st.integers(0, 10**9), more=st.integers(1, 10**9), tokens_in=st.integers(0, 8000),
       tokens_out=st.integers(1, 4000))
def test_usage_cost_is_monotonic_in_volume(requests, more, tokens_in, tokens_out):
    assert usage_monthly_usd(requests, tokens_in, tokens_out, 0.2, 0.6) < \
        usage_monthly_usd(requests + more, tokens_in, tokens_out, 0.2, 0.6)


def test_shipped_plan_has_a_line_per_resource_and_prices_the_endpoint(shipped_plan):
    plan = shipped_plan("prod")
    custom = [r for r in plan.resources if r.custom]
    assert [line["urn"] for line in plan.cost["lines"]] == [r.urn for r in custom]
    by_type = {line["type"]: line for line in plan.cost["lines"]}
    assert by_type["aws:budgets/budget:Budget"]["basis"] == "no-charge"
    endpoint = by_type["aws:sagemaker/endpointConfiguration:EndpointConfiguration"]
    # prod ships 2..6 x ml.g5.2xlarge at $1.515/h for 730 h
    assert endpoint["monthly_usd"] == pytest.approx(2 * 1.515 * 730)
    assert endpoint["at_max_usd"] == pytest.approx(6 * 1.515 * 730)
    total = plan.cost["monthly_usd"]
    assert total >= endpoint["monthly_usd"]
    assert plan.cost["budget"]["headroom_usd"] == pytest.approx(25000 - total)


def test_plan_json_carries_cost_lines_and_total():
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--json"])
    assert result.exit_code == 0, result.output
    cost = json.loads(result.output)["cost"]
    assert cost["monthly_usd"] > 0 and cost["lines"]
    assert {"urn", "type", "basis", "monthly_usd", "at_max_usd", "detail"} <= set(cost["lines"][0])



def test_text_report_shows_billed_unknown_and_metered_lines_and_warnings():
    lines = [CostLine("u1", "t", "gpu", Basis.INSTANCES, 1105.95, 4423.8, "1..4 x ml.g5.2xlarge"),
             CostLine("u2", "t", "search", Basis.UNKNOWN, None, None, "no price known"),
             CostLine("u3", "t", "bucket", Basis.METERED, None, None, "billed by use"),
             CostLine("u4", "t", "role", Basis.NO_CHARGE, 0.0, 0.0, "no charge by itself")]
    console = Console(record=True, width=200)
    render_cost(summarise(lines, 1000), console)
    text = console.export_text()
    assert "1,105.95" in text and "4,423.80" in text and "unknown" in text and "by use" in text
    assert "role" not in text and "(1 resource(s) bill nothing by themselves)" in text
    assert "exceeds the budget" in text and "lower bounds" in text
