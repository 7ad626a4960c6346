"""Non-instance resources: every type the stages create is classified; per-count and per-SKU
rules hand-computed; the rules table rejects inconsistent entries."""

from __future__ import annotations

import ast
import importlib
import inspect
import re

import pulumi
import pytest
from pydantic import ValidationError

from scalepath.cost import tables
from scalepath.cost.lines import Basis
from scalepath.cost.resources import PricingContext, price_resource
from tests.support import ROOT, SHIPPED
from tests.support.cost import planned

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def price(type_: str, inputs: dict) -> object:
    resource = planned(type_, "r", inputs)
    return price_resource(resource, PricingContext(resources=[resource]))


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_resource_of_every_shipped_plan_has_a_known_basis(shipped_plan, stack):
    plan = shipped_plan(stack)
    unknown = [(line["type"], line["name"], line["detail"])
               for line in plan.cost["lines"] if line["basis"] == "unknown"]
    assert unknown == [], f"{stack}: price these in components/data/service_prices.yaml"
    assert plan.cost["complete"] is True and plan.cost["unpriced"] == []
    # the test sees every custom resource: one line each (plus usage lines of serverless deployments)
    assert {r.urn for r in plan.resources if r.custom} <= {line["urn"] for line in plan.cost["lines"]}


def _constructed_resource_types() -> dict[str, set[str]]:
    """Type token -> modules, for every provider resource class that ``components/`` and ``stacks/``
    reference (``aws.ec2.VpcEndpoint(...)``, ``network.PrivateEndpoint(...)``), read from the
    installed SDK classes; so a stage that isn't in a shipped environment is covered too."""
    found: dict[str, set[str]] = {}
    sources = [*(ROOT / "components").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]
    for path in sources:
        tree = ast.parse(path.read_text())
        aliases = {}  # local name -> module, from the file's own imports of pulumi_* packages
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases |= {a.asname or a.name: a.name for a in node.names if a.name.startswith("pulumi_")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi_"):
                aliases |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr[:1].isupper()):
                continue
            parts, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if not (isinstance(value, ast.Name) and value.id in aliases):
                continue
            module, *rest = [aliases[value.id], *reversed(parts)]
            try:
                obj = importlib.import_module(".".join([module, *rest[:-1]]))
                cls = getattr(obj, rest[-1])
            except (ImportError, AttributeError):
                continue
            if not (inspect.isclass(cls) and issubclass(cls, pulumi.CustomResource)):
                continue
            tokens = re.findall(r"__init__\(\s*['\"]([a-z0-9-]+:[^'\"]+:[^'\"]+)['\"]", inspect.getsource(cls))
            if issubclass(cls, pulumi.ProviderResource):
                tokens = [f"pulumi:providers:{module.removeprefix('pulumi_').replace('_', '-')}"]
            for token in tokens[:1]:
                found.setdefault(token, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_resource_type_the_code_constructs_has_a_rule():
    found = _constructed_resource_types()
    assert "aws:ec2/vpcEndpoint:VpcEndpoint" in found and "azure-native:network:PrivateEndpoint" in found
    table = tables.service_prices()
    from scalepath.cost.resources import PRICERS
    missing = {t: sorted(m) for t, m in found.items() if t not in PRICERS and table.rule_for(t) is None}
    assert missing == {}, "add these types to components/data/service_prices.yaml"


@pytest.mark.parametrize(("subnets", "monthly"), [
    (["subnet-a"], 0.01 * 730),
    (["subnet-a", "subnet-b", "subnet-c"], 3 * 0.01 * 730),  # $21.90: one ENI per AZ
])
def test_interface_vpc_endpoint_is_priced_per_subnet(subnets, monthly):
    line = price(VPC_ENDPOINT, {"vpcEndpointType": "Interface", "serviceName": "com.amazonaws.us-east-1.sts",
                                "subnetIds": subnets})
    assert line.basis is Basis.FIXED
    assert line.monthly_usd == pytest.approx(monthly) and line.at_max_usd == line.monthly_usd
    assert f"{len(subnets)} AZ" in line.detail


def test_three_az_interface_endpoint_hand_computed():
    line = price(VPC_ENDPOINT, {"vpcEndpointType": "Interface", "subnetIds": ["a", "b", "c"]})
    assert line.monthly_usd == pytest.approx(21.90)


@pytest.mark.parametrize("inputs", [{"vpcEndpointType": "Gateway", "serviceName": "com.amazonaws.us-east-1.s3"},
                                    {"serviceName": "com.amazonaws.us-east-1.s3"}])  # AWS defaults to Gateway
def test_gateway_vpc_endpoint_is_free(inputs):
    line = price(VPC_ENDPOINT, inputs)
    assert (line.basis, line.monthly_usd) == (Basis.NO_CHARGE, 0.0)


def test_interface_endpoint_without_known_subnets_is_unknown_not_zero():
    line = price(VPC_ENDPOINT, {"vpcEndpointType": "Interface"})
    assert line.basis is Basis.UNKNOWN and line.monthly_usd is None and "subnetIds" in line.detail


def test_unlisted_case_is_unknown_naming_the_known_cases():
    line = price("azure-native:containerregistry:Registry", {"sku": {"name": "Enterprise"}})
    assert line.basis is Basis.UNKNOWN and "Premium" in line.detail


def test_azure_private_endpoint_hand_computed():
    line = price("azure-native:network:PrivateEndpoint", {"location": "westeurope"})
    assert (line.basis, line.monthly_usd) == (Basis.FIXED, pytest.approx(0.01 * 730))
    assert line.monthly_usd == pytest.approx(7.30)


def test_azure_registry_daily_fee_by_sku():
    premium = price("azure-native:containerregistry:Registry", {"sku": {"name": "Premium"}})
    basic = price("azure-native:containerregistry:Registry", {"sku": {"name": "Basic"}})
    assert premium.monthly_usd == pytest.approx(1.667 * 730 / 24) == pytest.approx(50.70, abs=0.01)
    assert basic.monthly_usd == pytest.approx(0.167 * 730 / 24)


def test_azure_metric_alert_per_monitored_time_series():
    criteria = [{"metricName": "RequestLatency_P95"}, {"metricName": "RequestsPerMinute"}]
    line = price("azure-native:monitor:MetricAlert", {"scopes": ["/a", "/b"], "criteria": {"allOf": criteria}})
    assert line.monthly_usd == pytest.approx(2 * 2 * 0.10)


def test_aml_workspace_bills_its_managed_network_firewall():
    free = price("azure-native:machinelearningservices:Workspace", {"sku": {"name": "Basic"}})
    firewalled = price("azure-native:machinelearningservices:Workspace",
                       {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "firewallSku": "Standard"}})
    assert (free.basis, free.monthly_usd) == (Basis.NO_CHARGE, 0.0)
    assert firewalled.monthly_usd == pytest.approx(1.25 * 730)


def test_gcp_alert_policy_per_condition():
    line = price("gcp:monitoring/alertPolicy:AlertPolicy", {"conditions": [{}, {}, {}]})
    assert line.monthly_usd == pytest.approx(3 * 1.50)


def test_cloudwatch_dashboard_counted_in_full():
    line = price("aws:cloudwatch/dashboard:Dashboard", {"dashboardBody": "{}"})
    assert line.monthly_usd == pytest.approx(3.0) and "first 3" in line.detail


@pytest.mark.parametrize("rule", [
    {"usdPerHour": 1, "usdPerMonth": 1, "reason": "two prices"},
    {"basis": "no-charge", "usdPerHour": 1, "reason": "free with a price"},
    {"basis": "metered", "per": ["x"], "reason": "count of nothing"},
    {"by": "sku.name", "reason": "no cases"},
    {"by": "sku.name", "absent": "Gold", "cases": {"Basic": {"usdPerDay": 1, "reason": "r"}}, "reason": "bad absent"},
    {"usdPerHour": 1},  # no reason
])
def test_inconsistent_rules_are_rejected(rule):
    with pytest.raises(ValidationError):
        tables.PriceRule.model_validate(rule)


def test_every_rule_states_a_reason():
    def walk(rule: tables.PriceRule):
        yield rule
        for case in rule.cases.values():
            yield from walk(case)

    for key, rule in tables.service_prices().resources.items():
        assert all(r.reason.strip() for r in walk(rule)), key


def test_model_cache_pvc_priced_per_gib_of_its_class():
    labels = {"stage": "eks-vllm", "deployment": "chat"}
    eks = price("kubernetes:core/v1:PersistentVolumeClaim",
                {"metadata": {"labels": labels}, "spec": {"resources": {"requests": {"storage": "200Gi"}}}})
    assert (eks.basis, eks.monthly_usd, eks.deployment) == (Basis.FIXED, pytest.approx(200 * 0.08), "chat")
    ssd = price("kubernetes:core/v1:PersistentVolumeClaim",
                {"spec": {"storageClassName": "premium-rwo", "resources": {"requests": {"storage": "1Ti"}}}})
    assert ssd.monthly_usd == pytest.approx(1024 * 0.17)
    decimal = price("kubernetes:core/v1:PersistentVolumeClaim",
                    {"spec": {"storageClassName": "standard-rwo", "resources": {"requests": {"storage": "500G"}}}})
    assert decimal.monthly_usd == pytest.approx(500e9 / 2**30 * 0.10)
    custom = price("kubernetes:core/v1:PersistentVolumeClaim",
                   {"spec": {"storageClassName": "my-nvme", "resources": {"requests": {"storage": "200Gi"}}}})
    assert custom.basis is Basis.UNKNOWN


@pytest.mark.parametrize(("spec", "labels", "basis", "monthly"), [
    ({"type": "ClusterIP"}, {}, Basis.NO_CHARGE, 0.0),
    ({}, {}, Basis.NO_CHARGE, 0.0),  # ClusterIP is the default
    ({"type": "LoadBalancer"}, {"stage": "eks-vllm"}, Basis.FIXED, 0.0225 * 730),
    ({"type": "LoadBalancer"}, {"stage": "gke-vllm"}, Basis.FIXED, 0.025 * 730),
    ({"type": "LoadBalancer"}, {}, Basis.UNKNOWN, None),  # which cloud's load balancer is not known
])
def test_kubernetes_service_bills_only_as_a_load_balancer(spec, labels, basis, monthly):
    line = price("kubernetes:core/v1:Service", {"metadata": {"labels": labels}, "spec": spec})
    assert line.basis is basis
    assert line.monthly_usd == (pytest.approx(monthly) if monthly is not None else None)


def _table(resources: dict) -> tables.ServicePriceTable:
    """The shipped table with only ``resources`` (the other sections as shipped)."""
    shipped = tables.service_prices()
    return tables.ServicePriceTable.model_validate({
        "source": "test", "asOf": "2026-12-07", "resources": resources,
        "sagemakerServerless": shipped.sagemaker_serverless.model_dump(by_alias=True),
        "containers": {k: v.model_dump(by_alias=True) for k, v in shipped.containers.items()}})


def test_a_glob_key_with_every_wildcard_matches_and_an_exact_key_wins() -> None:
    table = _table({"aws:x/[ab]?*": {"usdPerMonth": 3, "reason": "glob"},
                    "aws:x/a1z": {"usdPerMonth": 5, "reason": "exact"}})
    assert table.rule_for("aws:x/b2").usd_per_month == 3  # [ab] b, ? 2, * nothing
    assert table.rule_for("aws:x/a1z").usd_per_month == 5
    assert table.rule_for("aws:x/c1") is None


def test_fixed_monthly_is_for_plainly_fixed_types_only() -> None:
    table = _table({"aws:free/thing:Thing": {"usdPerMonth": 0, "reason": "free tier"},
                    "aws:day/thing:Thing": {"usdPerDay": 2.4, "reason": "daily"},
                    "aws:counted/thing:Thing": {"usdPerHour": 0.01, "per": ["subnetIds"], "reason": "per subnet"},
                    "aws:none/thing:Thing": {"basis": "no-charge", "reason": "free"}})
    assert table.fixed_monthly("aws:free/thing:Thing") == 0.0  # a fixed price of zero is zero, not unknown
    assert table.fixed_monthly("aws:day/thing:Thing") == pytest.approx(73.0)  # 2.4 / 24 h x 730 h
    for type_ in ("aws:counted/thing:Thing", "aws:none/thing:Thing", "aws:unlisted/thing:Thing"):
        with pytest.raises(KeyError, match=f"^'{re.escape(type_)} has no plain fixed price in service_prices.yaml'$"):
            table.fixed_monthly(type_)
