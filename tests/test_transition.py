"""``scalepath plan --base``: the transition between two configurations, judged (issue 23).

Each numbered finding of the issue has a test here that fails on the code before the fix: the
common moves (rollback on/off, realtime to serverless, a new GPU instance type or machine) now
replace under a new name, created first, and the judgement refuses what would fail at ``up``."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import EXIT_CONFIG, EXIT_OK, app
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import StackConfig, load_stack_config
from scalepath.transition import Transition, transition
from scalepath.wire import PlannedResource
from tests.support import ROOT, one

runner = CliRunner()


def shipped(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "environments" / f"Pulumi.{stack}.yaml").read_text())


def deployment(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in document["config"]["scalepath:deployments"] if d["name"] == name)


def write(tmp_path: Path, document: dict[str, Any], name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def config_of(stack: str, path: Path) -> StackConfig:
    return load_stack_config(stack, ROOT, path)


def moved(stack: str, base: dict[str, Any], new: dict[str, Any], tmp_path: Path,
          accepted: tuple[str, ...] = ()) -> tuple[Transition, Plan, Plan]:
    """Plan both documents and judge the transition between them."""
    base_config = config_of(stack, write(tmp_path, base, "base"))
    new_config = config_of(stack, write(tmp_path, new, "new"))
    base_plan, new_plan = run_plan(base_config), run_plan(new_config)
    environment = new["config"]["scalepath:environment"]
    return (transition("base", base_config, base_plan, new_config, new_plan, environment, accepted),
            base_plan, new_plan)


def change(moved_: Transition, type_: str, name: str | None = None):
    found = [c for c in moved_.changes if c.type == type_ and (name is None or c.name == name)]
    assert len(found) == 1, [(c.type, c.name, c.action) for c in moved_.changes]
    return found[0]


# --- finding 1: SageMaker endpoint replaced under a fixed name ------------------------------------

def test_rollback_off_renames_the_endpoint(tmp_path: Path) -> None:
    base = shipped("staging")
    new = copy.deepcopy(base)
    deployment(new, "chat")["rollout"]["autoRollback"] = False
    result, base_plan, new_plan = moved("staging", base, new, tmp_path)
    old_name = one(base_plan, "aws:sagemaker/endpoint:Endpoint").inputs["name"]
    new_name = one(new_plan, "aws:sagemaker/endpoint:Endpoint").inputs["name"]
    assert old_name == "scalepath-staging-chat" and new_name != old_name
    endpoint = change(result, "aws:sagemaker/endpoint:Endpoint")
    assert endpoint.action == "replace" and endpoint.order == "create-first"
    assert "deploymentConfig.autoRollbackConfiguration" in endpoint.forced_by
    assert result.safe and not result.refusals and not result.gaps


def test_realtime_to_serverless_renames_the_endpoint(tmp_path: Path) -> None:
    base = shipped("staging")
    base["config"]["scalepath:deployments"] = [{
        "name": "embed", "model": "BAAI/bge-large-en-v1.5", "stage": "sagemaker", "kind": "realtime",
        "instanceType": "ml.g5.xlarge", "container": {"server": "tei", "version": "1.8.2"},
        "scaling": {"min": 1, "max": 1}}]
    new = copy.deepcopy(base)
    serverless = deployment(new, "embed")
    serverless.update(kind="serverless", serverless={"memorySizeMb": 4096, "maxConcurrency": 2})
    serverless.pop("instanceType")
    serverless.pop("scaling")
    result, _, _ = moved("staging", base, new, tmp_path)
    endpoint = change(result, "aws:sagemaker/endpoint:Endpoint")
    assert (endpoint.action, endpoint.order) == ("replace", "create-first")
    assert "deploymentConfig.autoRollbackConfiguration" in endpoint.forced_by
    assert result.safe, [c.refused for c in result.refusals]


# --- findings 3 and 4: GPU node groups and pools ---------------------------------------------------

def test_eks_gpu_instance_type_change_replaces_the_groups_under_new_names(tmp_path: Path) -> None:
    base = shipped("prod")
    new = copy.deepcopy(base)
    eks = deployment(new, "chat-eks")
    eks["cluster"]["gpuNodes"]["instanceTypes"] = ["g6.2xlarge"]
    result, base_plan, new_plan = moved("prod", base, new, tmp_path)
    for role in ("gpu-spot", "gpu-ondemand"):
        group = change(result, "aws:eks/nodeGroup:NodeGroup", f"chat-eks-eks-{role}")
        assert group.action == "replace" and group.order == "create-first", group
        assert "instanceTypes" in group.forced_by
    names = {r.inputs["nodeGroupName"] for r in base_plan.resources if r.type == "aws:eks/nodeGroup:NodeGroup"}
    assert not names & {r.inputs["nodeGroupName"] for r in new_plan.resources
                        if r.type == "aws:eks/nodeGroup:NodeGroup" and "gpu" in r.name}
    assert result.safe, [c.refused for c in result.refusals] + [c.gap for c in result.gaps]


def test_gke_machine_with_more_gpus_replaces_the_pools_under_new_names(tmp_path: Path) -> None:
    base = shipped("gke-staging")
    new = copy.deepcopy(base)
    gke = next(d for d in new["config"]["scalepath:deployments"] if d["stage"] == "gke-vllm")
    assert gke["cluster"]["gpuNodes"]["machineType"] == "g2-standard-8"
    gke["cluster"]["gpuNodes"]["machineType"] = "g2-standard-24"  # 2 L4s instead of 1
    result, _, _ = moved("gke-staging", base, new, tmp_path)
    pools = [c for c in result.changes if c.type == "gcp:container/nodePool:NodePool" and "gpu" in c.name]
    assert pools and all(c.action == "replace" and c.order == "create-first" for c in pools), pools
    assert all(any(f.startswith("nodeConfig.guestAccelerators") for f in c.forced_by) for c in pools)
    assert result.safe, [c.refused for c in result.refusals]


# --- the judgement -----------------------------------------------------------------------------------

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


def _plan(*resources: PlannedResource, cost: float = 0.0) -> Plan:
    return Plan(stack="s", project="p", resources=list(resources), cost={"monthly_usd": cost, "lines": []})


def _endpoint(rollback: bool, name: str = "p-s-chat", **options: Any) -> PlannedResource:
    config = {"blueGreenUpdatePolicy": {"terminationWaitInSeconds": 0}}
    if rollback:
        config["autoRollbackConfiguration"] = {"alarms": [{"alarmName": "a"}]}
    return PlannedResource(urn=f"urn:pulumi:s::p::scalepath:index:SageMakerEndpoint${ENDPOINT}::chat-endpoint",
                           type=ENDPOINT, name="chat-endpoint", custom=True,
                           parent="urn:pulumi:s::p::scalepath:index:SageMakerEndpoint::chat",
                           inputs={"name": name, "deploymentConfig": config}, options=options)


def _component() -> PlannedResource:
    return PlannedResource(urn="urn:pulumi:s::p::scalepath:index:SageMakerEndpoint::chat",
                           type="scalepath:index:SageMakerEndpoint", name="chat",
                           parent="urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", custom=False, inputs={})


def _config(rollback: bool, environment: str = "dev") -> StackConfig:
    deployments = [{"name": "chat", "rollout": {"autoRollback": rollback}}]
    return StackConfig(project="p", stack="s", values={"scalepath:environment": environment,
                                                       "scalepath:deployments": json.dumps(deployments)})


def test_a_fixed_name_replaced_create_first_is_refused_naming_the_key() -> None:
    result = transition("base", _config(True), _plan(_component(), _endpoint(True)),
                        _config(False), _plan(_component(), _endpoint(False)), "dev")
    (refused,) = result.refusals
    assert "fixed name 'p-s-chat'" in (refused.refused or "")
    assert refused.keys == ["scalepath:deployments[0].rollout.autoRollback"]
    assert not result.safe


def test_delete_first_is_a_serving_gap_prod_refuses_unless_accepted() -> None:
    base, new = _plan(_component(), _endpoint(True)), _plan(_component(), _endpoint(False, deleteBeforeReplace=True))
    dev = transition("base", _config(True), base, _config(False), new, "dev")
    assert dev.safe and not dev.refusals
    (gap,) = dev.gaps
    assert gap.order == "delete-first" and gap.gap and gap.gap.minutes == 60  # the provider's wait
    prod = transition("base", _config(True, "prod"), base, _config(False, "prod"), new, "prod")
    assert not prod.safe and prod.unaccepted_gaps()
    for accepted in ("chat", "chat-endpoint", "all"):
        assert transition("base", _config(True, "prod"), base, _config(False, "prod"), new, "prod",
                          [accepted]).safe


def test_cost_delta_and_json() -> None:
    result = transition("base", _config(True), _plan(_component(), _endpoint(True), cost=10.0),
                        _config(True), _plan(_component(), _endpoint(True), cost=25.5), "dev")
    document = result.to_json()
    assert document["costDeltaUsd"] == 15.5 and document["changes"] == [] and document["safe"] is True
    assert document["counts"] == {"create": 0, "update": 0, "replace": 0, "delete": 0}


# --- the command -------------------------------------------------------------------------------------

@pytest.fixture
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_plan_base_git_ref_of_an_unchanged_stack_is_no_change(in_project: None) -> None:
    out = runner.invoke(app, ["plan", "--stack", "staging", "--base", "HEAD", "--json"])
    assert out.exit_code == EXIT_OK, out.output
    moved_ = json.loads(out.stdout)["transition"]
    assert moved_["changes"] == [] and moved_["safe"] is True
    assert moved_["base"] == "HEAD:environments/Pulumi.staging.yaml"


def test_plan_base_names_an_unusable_ref(in_project: None) -> None:
    out = runner.invoke(app, ["plan", "--stack", "staging", "--base", "no-such-ref-xyz"])
    assert out.exit_code == EXIT_CONFIG
    assert "no-such-ref-xyz" in out.output and "Traceback" not in out.output


def test_plan_base_prints_the_transition(in_project: None, tmp_path: Path) -> None:
    new = shipped("staging")
    deployment(new, "chat")["rollout"]["autoRollback"] = False
    out = runner.invoke(app, ["plan", "--stack", "staging", "--config", str(write(tmp_path, new, "new")),
                              "--base", str(ROOT / "environments" / "Pulumi.staging.yaml")])
    assert out.exit_code == EXIT_OK, out.output
    assert "Transition from" in out.output and "replace" in out.output and "create-first" in out.output


# --- finding 5: fields a controller owns ---------------------------------------------------------------

def test_no_replicas_on_a_deployment_an_autoscaler_owns() -> None:
    from tests.gateway.test_runtimes import STACKS  # noqa: PLC0415 (the gateway runtimes' stacks)

    checked = 0
    for stack in ("kubernetes-eks", "kubernetes-gke"):
        plan = run_plan(STACKS[stack])
        scaled = {(r.inputs["metadata"].get("namespace"), r.inputs["spec"]["scaleTargetRef"]["name"])
                  for r in plan.resources if r.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"}
        scaled |= {(r.inputs["metadata"].get("namespace"), r.inputs["spec"]["scaleTargetRef"]["name"])
                   for r in plan.resources if r.type == "kubernetes:keda.sh/v1alpha1:ScaledObject"}
        for r in plan.resources:
            if r.type == "kubernetes:apps/v1:Deployment":
                key = (r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"])
                if key in scaled:
                    checked += 1
                    assert "replicas" not in r.inputs["spec"], (stack, r.name)
    assert checked >= 2  # the gateway's Deployment on both clusters (and vLLM's where scaled)


def test_removing_an_hf_scaling_metric_is_refused_before_up(tmp_path: Path) -> None:
    base = shipped("dev")
    new = copy.deepcopy(base)
    scaling = deployment(new, "chat-endpoint")["scaling"]
    scaling.pop("metric")
    scaling.pop("threshold")
    result, _, _ = moved("dev", base, new, tmp_path)
    (refused,) = result.refusals
    assert "scalingMetric" in (refused.refused or "")
    assert "scalepath:deployments[1].scaling.metric" in refused.keys


def test_the_pr_comment_names_replacements_gaps_and_the_cost_delta() -> None:
    from scalepath.transition import markdown  # noqa: PLC0415

    base, new = _plan(_component(), _endpoint(True), cost=100.0), _plan(
        _component(), _endpoint(False, deleteBeforeReplace=True), cost=80.0)
    document = {"stack": "s", "transition": transition(
        "main:environments/Pulumi.s.yaml", _config(True, "prod"), base, _config(False, "prod"), new, "prod").to_json()}
    text = markdown(document)
    assert "not safe" in text and "1 to replace" in text and "-$20.00" in text
    assert "replace `aws:sagemaker/endpoint:Endpoint` **chat-endpoint** (delete-first)" in text
    assert "serving gap: the SageMaker endpoint (chat) down about 60 min" in text
    assert "no base" in markdown({"stack": "s"})
    # The program's warnings reach the pull request too, with or without a base.
    warned = {"warnings": ["gateway sizing: more than max carries"]}
    assert markdown({**document, **warned}).endswith("\n- :warning: gateway sizing: more than max carries\n")
    assert "- :warning: gateway sizing: more than max carries" in markdown({"stack": "s", **warned})


def test_removing_the_gateway_declares_its_serving_gap(tmp_path: Path) -> None:
    base = shipped("gateway-dev")
    new = copy.deepcopy(base)
    del new["config"]["scalepath:gateway"]
    result, _, _ = moved("gateway-dev", base, new, tmp_path)
    down = {c.type for c in result.gaps}
    assert {"aws:ecs/service:Service", "aws:lb/loadBalancer:LoadBalancer"} <= down, down
    assert result.safe  # a dev stack: reported, not refused


# --- facts read from provider source (issue 23: every declared type) ---------------------------------

def _one(type_: str, inputs: dict[str, Any]) -> PlannedResource:
    return PlannedResource(urn=f"urn:pulumi:s::p::{type_}::r", type=type_, name="r", custom=True,
                           parent="urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", inputs=inputs)


def _moved_one(type_: str, old: dict[str, Any], new: dict[str, Any]):
    result = transition("base", _config(True), _plan(_one(type_, old)), _config(True), _plan(_one(type_, new)), "dev")
    (only,) = result.changes
    return only


def test_a_fixed_name_moved_to_another_location_is_no_collision() -> None:
    # terraform-provider-google: Cloud Run v2 `location` is ForceNew; the id is
    # projects/{project}/locations/{location}/services/{name}, so the same name elsewhere is free.
    run = "gcp:cloudrunv2/service:Service"
    moved_ = _moved_one(run, {"name": "gw", "location": "us-central1", "project": "x"},
                        {"name": "gw", "location": "europe-west4", "project": "x"})
    assert (moved_.action, moved_.forced_by, moved_.order, moved_.refused) == (
        "replace", ["location"], "create-first", None)


def test_a_secret_whose_replication_changes_keeps_its_id_and_is_refused() -> None:
    # `replication` is ForceNew and `secretId` is unique within the project.
    secret = "gcp:secretmanager/secret:Secret"
    replicas = lambda region: {"userManaged": {"replicas": [{"location": region}]}}  # noqa: E731
    moved_ = _moved_one(secret, {"secretId": "hf", "project": "x", "replication": replicas("us-central1")},
                        {"secretId": "hf", "project": "x", "replication": replicas("us-east1")})
    assert moved_.action == "replace" and "fixed name 'hf'" in (moved_.refused or "")


def test_an_incompletely_read_type_says_what_else_may_replace() -> None:
    # azure-native: the PUT path's parameters replace (read); the private endpoint's own spec at the SDK's API
    # version (2024-05-01 privateEndpoint.json) is not in the index, so its other inputs may still replace.
    endpoint = "azure-native:network:PrivateEndpoint"
    base = {"resourceGroupName": "rg", "privateEndpointName": "pe", "customNetworkInterfaceName": "a"}
    updated = _moved_one(endpoint, base, {**base, "customNetworkInterfaceName": "b"})
    assert (updated.action, updated.may_replace) == ("update", True)
    renamed = _moved_one(endpoint, base, {**base, "resourceGroupName": "rg2"})
    assert (renamed.action, renamed.forced_by, renamed.refused) == ("replace", ["resourceGroupName"], None)


# --- the rest of the AWS types, the Helm release and the Kubernetes provider (read for issue 23) -----

SECRETS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def index_of(document: dict[str, Any], name: str) -> int:
    return next(i for i, d in enumerate(document["config"]["scalepath:deployments"]) if d["name"] == name)


def test_a_new_eks_secrets_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    # terraform-provider-aws internal/service/eks/cluster.go (00555dc5): encryption_config is not ForceNew
    # (CustomizeDiff replaces only on its removal) and Update only calls AssociateEncryptionConfig when
    # there was none, so a new key would reach the state only, while the cluster keeps the created key
    # that this run schedules for deletion.
    base = shipped("prod")
    new = copy.deepcopy(base)
    deployment(new, "chat-eks")["cluster"]["kmsKeyArn"] = SECRETS_KEY
    result, _, _ = moved("prod", base, new, tmp_path)
    cluster = change(result, "aws:eks/cluster:Cluster")
    assert cluster.action == "update" and "encryptionConfig.provider.keyArn" in (cluster.refused or "")
    assert f"scalepath:deployments[{index_of(new, 'chat-eks')}].cluster.kmsKeyArn" in cluster.keys
    assert change(result, "aws:kms/key:Key", "chat-eks-eks-secrets-key").action == "delete"
    assert not result.safe


def test_an_eks_version_upgrade_updates_the_cluster_in_place(tmp_path: Path) -> None:
    # cluster.go: version is Optional+Computed, not ForceNew; Update calls UpdateClusterVersion first.
    base = shipped("prod")
    deployment(base, "chat-eks")["cluster"].update(kubernetesVersion="1.34", supportType="EXTENDED")
    new = shipped("prod")
    assert "kubernetesVersion" not in deployment(new, "chat-eks")["cluster"]  # the default, 1.35
    result, _, _ = moved("prod", base, new, tmp_path)
    cluster = change(result, "aws:eks/cluster:Cluster")
    assert (cluster.action, cluster.may_replace, cluster.refused) == ("update", False, None)
    assert {"version", "upgradePolicy.supportType"} <= set(cluster.properties)
    assert result.safe


def test_a_new_vpc_cidr_block_is_refused_where_eks_cannot_follow(tmp_path: Path) -> None:
    # vpc_.go: cidr_block is ForceNew, so every subnet moves to a new VPC; cluster.go updates
    # vpcConfig.subnetIds in place (UpdateClusterConfig), which botocore's eks model documents as
    # "You can't change which VPC the subnets are from". node_group.go: subnetIds is ForceNew and the
    # group keeps its name: a second refusal.
    base = shipped("prod")
    new = copy.deepcopy(base)
    new["config"]["scalepath:network"].setdefault("aws", {})["cidrBlock"] = "10.41.0.0/16"
    result, _, _ = moved("prod", base, new, tmp_path)
    vpc = change(result, "aws:ec2/vpc:Vpc")
    assert (vpc.action, vpc.forced_by, vpc.order) == ("replace", ["cidrBlock"], "create-first")
    cluster = change(result, "aws:eks/cluster:Cluster")
    assert cluster.action == "update" and "vpcConfig.subnetIds" in (cluster.refused or "")
    assert "scalepath:network.aws.cidrBlock" in cluster.keys
    # Routes move with their replaced tables: a new table is no name clash for 0.0.0.0/0.
    routes = [c for c in result.changes if c.type == "aws:ec2/route:Route"]
    assert routes and all(c.action == "replace" and c.refused is None for c in routes)
    assert not result.safe


def _k8s(type_: str, name: str, inputs: dict[str, Any], provider: str | None = None, **deps: list[str]):
    return PlannedResource(urn=f"urn:pulumi:s::p::{type_}::{name}", type=type_, name=name, custom=True,
                           parent=None, inputs=inputs, property_dependencies=deps,
                           options={"provider": f"{provider}::id-1"} if provider else {})


def _cluster_and_workload(cluster_name: str) -> Plan:
    cluster = _k8s("aws:eks/cluster:Cluster", "c", {"name": cluster_name, "roleArn": "r"})
    provider = _k8s("pulumi:providers:kubernetes", "k8s", {"kubeconfig": f"server for {cluster_name}"},
                    kubeconfig=[cluster.urn])
    return _plan(cluster, provider,
                 _k8s("kubernetes:apps/v1:Deployment", "vllm", {"metadata": {"name": "vllm", "namespace": "llm"}},
                      provider=provider.urn),
                 _k8s("kubernetes:helm.sh/v3:Release", "keda", {"name": "keda", "namespace": "keda", "chart": "keda"},
                      provider=provider.urn))


def test_a_replaced_cluster_replaces_what_its_kubernetes_provider_manages() -> None:
    # pulumi-kubernetes provider.go DiffConfig: an unknown kubeconfig (the new cluster's endpoint)
    # replaces the provider, and the engine re-creates its resources with it: on the new cluster,
    # where their names are free.
    result = transition("base", _config(True), _cluster_and_workload("a"), _config(True),
                        _cluster_and_workload("b"), "prod")
    by_name = {c.name: c for c in result.changes}
    assert (by_name["c"].action, by_name["c"].forced_by) == ("replace", ["name"])
    assert (by_name["k8s"].action, by_name["k8s"].forced_by) == ("replace", ["kubeconfig"])
    for workload in ("vllm", "keda"):
        assert (by_name[workload].action, by_name[workload].forced_by, by_name[workload].order,
                by_name[workload].refused) == ("replace", ["(provider)"], "create-first", None)
    assert result.safe


@pytest.mark.parametrize(("namespace", "refused"), [("keda", True), ("autoscaling", False)])
def test_a_helm_release_name_is_unique_within_its_namespace(namespace: str, refused: bool) -> None:
    # helm_release.go: Create installs <namespace>/<name>; a release deleted in the same run still holds
    # its name while the new one installs (Pulumi creates before it deletes), in that namespace only.
    release = "kubernetes:helm.sh/v3:Release"
    old = _k8s(release, "keda-old", {"name": "keda", "namespace": "keda", "chart": "keda"})
    new = _k8s(release, "keda-new", {"name": "keda", "namespace": namespace, "chart": "keda"})
    result = transition("base", _config(True), _plan(old), _config(True), _plan(new), "dev")
    created = next(c for c in result.changes if c.action == "create")
    assert bool(created.refused) is refused


def test_a_container_app_moved_to_another_environment_is_replaced_and_refused() -> None:
    # azure-rest-api-specs Microsoft.App 2025-02-02-preview ContainerApps.json (the SDK's version): the
    # flattened properties.managedEnvironmentId is x-ms-mutability [create, read], so azure-native replaces
    # the app, and its name stays taken in the resource group until the old one is deleted.
    app = "azure-native:app:ContainerApp"
    base = {"resourceGroupName": "rg", "containerAppName": "gw", "location": "westeurope",
            "managedEnvironmentId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/a"}
    moved_ = _moved_one(app, base, {**base, "managedEnvironmentId": base["managedEnvironmentId"][:-1] + "b"})
    assert (moved_.action, moved_.forced_by) == ("replace", ["managedEnvironmentId"])
    assert "fixed name 'gw'" in (moved_.refused or "")
    scaled = _moved_one(app, {**base, "template": {"scale": {"maxReplicas": 2}}},
                        {**base, "template": {"scale": {"maxReplicas": 4}}})
    # CommonDefinitions.json (Template, Scale, Container, ...) carries no create-only mark: a new revision in place.
    assert (scaled.action, scaled.may_replace) == ("update", False)


@pytest.mark.parametrize(("type_", "names"), [
    # Read from each type's REST spec at the SDK's API version (replacements.yaml cites file and commit):
    # `location` is [read, create] (a TrackedResource, or the spec's own Resource), nothing else the
    # type takes carries a create-only mark, so the entries are complete.
    ("azure-native:managedidentity:UserAssignedIdentity", {"resourceName": "id"}),
    ("azure-native:privatedns:PrivateZone", {"privateZoneName": "privatelink.api.azureml.ms"}),
    ("azure-native:privatedns:VirtualNetworkLink", {"privateZoneName": "z", "virtualNetworkLinkName": "l"}),
    ("azure-native:monitor:MetricAlert", {"ruleName": "p95"}),
    ("azure-native:monitor:AutoscaleSetting", {"autoscaleSettingName": "as"}),
    ("azure-native:monitor:ActionGroup", {"actionGroupName": "ag"}),
    ("azure-native:operationalinsights:Workspace", {"workspaceName": "logs"}),
    ("azure-native:applicationinsights:Component", {"resourceName": "ai", "applicationType": "web"}),
    # mfe.json 2025-12-01: OnlineEndpoint/OnlineDeploymentTrackedResource extend common-types v3 TrackedResource.
    ("azure-native:machinelearningservices:OnlineEndpoint", {"workspaceName": "ws", "endpointName": "e"}),
    ("azure-native:machinelearningservices:OnlineDeployment",
     {"workspaceName": "ws", "endpointName": "e", "deploymentName": "blue"}),
    # Read in this round (replacements.yaml cites each file and commit): TrackedResource or the spec's own
    # location [read, create], or azure-native's forceNewMap location (VNet, resource group, storage account).
    ("azure-native:app:ContainerApp", {"containerAppName": "gw"}),
    ("azure-native:app:ManagedEnvironment", {"environmentName": "env"}),
    ("azure-native:network:VirtualNetwork", {"virtualNetworkName": "vnet"}),
    ("azure-native:resources:ResourceGroup", {}),
    ("azure-native:storage:StorageAccount", {"accountName": "st"}),
    ("azure-native:containerregistry:Registry", {"registryName": "acr"}),
    ("azure-native:monitor:AzureMonitorWorkspace", {"azureMonitorWorkspaceName": "amw"}),
    ("azure-native:monitor:DataCollectionEndpoint", {"dataCollectionEndpointName": "dce"}),
    ("azure-native:monitor:DataCollectionRule", {"dataCollectionRuleName": "dcr"}),
    ("azure-native:alertsmanagement:PrometheusRuleGroup", {"ruleGroupName": "rules"}),
    ("azure-native:applicationinsights:Workbook", {"resourceName": "wb"}),
])
def test_a_completely_read_azure_type_replaces_on_location_and_updates_the_rest(type_: str, names: dict) -> None:
    base = {"resourceGroupName": "rg", "location": "westeurope", "tags": {"team": "a"}, **names}
    moved_ = _moved_one(type_, base, {**base, "location": "northeurope"})
    assert (moved_.action, moved_.forced_by) == ("replace", ["location"])
    assert "fixed name" in (moved_.refused or "")  # same group, same name: the create meets the old one
    retagged = _moved_one(type_, base, {**base, "tags": {"team": "b"}})
    assert (retagged.action, retagged.may_replace, retagged.refused) == ("update", False, None)


def test_a_role_assignment_keeps_its_assignment_on_a_new_principal_type() -> None:
    # authorization-RoleAssignmentsCalls.json 2022-04-01: no x-ms-mutability anywhere; azure-native's
    # forceNewMap replaces on principalId and scope only.
    role = "azure-native:authorization:RoleAssignment"
    base = {"scope": "/subscriptions/s", "roleAssignmentName": "g", "principalId": "p", "roleDefinitionId": "r",
            "principalType": "User"}
    typed = _moved_one(role, base, {**base, "principalType": "ServicePrincipal"})
    assert (typed.action, typed.may_replace) == ("update", False)
    moved_ = _moved_one(role, base, {**base, "principalId": "q"})
    assert (moved_.action, moved_.forced_by) == ("replace", ["principalId"])


def test_an_application_insights_type_change_replaces_the_component() -> None:
    # components_API.json 2020-02-02: the flattened Application_Type is [create, read].
    component = "azure-native:applicationinsights:Component"
    base = {"resourceGroupName": "rg", "resourceName": "ai", "location": "westeurope", "applicationType": "web"}
    moved_ = _moved_one(component, base, {**base, "applicationType": "other"})
    assert (moved_.action, moved_.forced_by) == ("replace", ["applicationType"])


def _subnet(zone: str, vpc_replaced: bool = False) -> PlannedResource:
    return PlannedResource(urn="urn:pulumi:s::p::aws:ec2/subnet:Subnet::private-a", type="aws:ec2/subnet:Subnet",
                           name="private-a", custom=True, parent=None,
                           inputs={"vpcId": "vpc-1", "cidrBlock": "10.40.0.0/20", "availabilityZone": zone},
                           property_dependencies={"vpcId": ["urn:pulumi:s::p::aws:ec2/vpc:Vpc::vpc"]})


@pytest.mark.parametrize(("vpc_cidr", "refused"), [("10.40.0.0/16", True), ("10.41.0.0/16", False)])
def test_a_subnet_replaced_in_its_vpc_keeps_its_range_and_is_refused(vpc_cidr: str, refused: bool) -> None:
    # vpc_subnet.go: availabilityZone is ForceNew; the create-first replacement asks CreateSubnet for the
    # old subnet's range in the same VPC (InvalidSubnet.Conflict). In a replaced VPC (vpc_.go: cidrBlock
    # is ForceNew) the range is free: the vpcId is the new VPC's, unknown offline.
    def vpc(cidr: str) -> PlannedResource:
        return PlannedResource(urn="urn:pulumi:s::p::aws:ec2/vpc:Vpc::vpc", type="aws:ec2/vpc:Vpc", name="vpc",
                               custom=True, parent=None, inputs={"cidrBlock": cidr})
    result = transition("base", _config(True), _plan(vpc("10.40.0.0/16"), _subnet("us-east-1a")),
                        _config(True), _plan(vpc(vpc_cidr), _subnet("us-east-1b")), "dev")
    subnet = next(c for c in result.changes if c.type == "aws:ec2/subnet:Subnet")
    assert subnet.action == "replace" and "availabilityZone" in subnet.forced_by
    assert bool(subnet.refused and "overlaps" in subnet.refused) is refused, subnet.refused


def test_a_key_vault_secret_takes_a_new_value_in_place() -> None:
    # secrets.json 2024-11-01: `properties` is not flattened and carries no x-ms-mutability mark.
    secret = "azure-native:keyvault:Secret"
    base = {"resourceGroupName": "rg", "vaultName": "kv", "secretName": "hf-token",
            "properties": {"value": "[secret]", "contentType": "text/plain"}}
    updated = _moved_one(secret, base, {**base, "properties": {"value": "[secret]", "contentType": "application/json"}})
    assert (updated.action, updated.may_replace) == ("update", False)


# --- Azure ML: create-only fields inside the unflattened `properties` ---------------------------------
# azure-rest-api-specs machinelearningservices stable/2025-12-01/mfe.json (the SDK's API version), commit
# 5485d5f88025b6e8d21545e8bbfb09435730adc6: OnlineDeployment.instanceType is x-ms-mutability
# [create, read]; EnvironmentVersion's image, inferenceConfig and osType too. azure-native replaces only on
# top-level create-only marks (gen/properties.go: one inside a referenced type sets
# ForceNewInferredFromReferencedTypes, not ForceNew), so a change is a PUT that Azure refuses.

ML = "azure-native:machinelearningservices"


def _deployments(plan: Plan) -> dict[str, PlannedResource]:
    return {r.name: r for r in plan.resources if r.type == f"{ML}:OnlineDeployment"}


def test_an_azureml_instance_type_change_deploys_new_deployments_first(tmp_path: Path) -> None:
    base = shipped("azure-prod")
    new = copy.deepcopy(base)
    deployment(new, "mistral-chat")["instanceType"] = "Standard_NC48ads_A100_v4"
    result, base_plan, new_plan = moved("azure-prod", base, new, tmp_path)
    before, after = _deployments(base_plan), _deployments(new_plan)
    assert set(before) == set(after) == {"mistral-chat-blue", "mistral-chat-green"}
    for name, resource in after.items():
        old_name, new_name = before[name].inputs["deploymentName"], resource.inputs["deploymentName"]
        assert old_name != new_name and new_name.startswith(resource.name.removeprefix("mistral-chat-") + "-")
        assert len(new_name) <= 32
        moved_ = change(result, f"{ML}:OnlineDeployment", name)
        assert (moved_.action, moved_.order, moved_.refused) == ("replace", "create-first", None), moved_
        assert "deploymentName" in moved_.forced_by
    # The split follows the new deployments (the old ones get no traffic and are deleted after).
    template = next(r for r in new_plan.resources if r.type == "azure-native:resources:Deployment")
    endpoint = template.inputs["properties"]["template"]["resources"][0]
    names = {r.name.removeprefix("mistral-chat-"): r.inputs["deploymentName"] for r in after.values()}
    assert endpoint["properties"]["traffic"] == {names["blue"]: 90, names["green"]: 10}
    assert result.safe, [c.refused for c in result.refusals] + [c.gap for c in result.gaps]


def test_a_variant_image_change_keeps_the_deployment_name(tmp_path: Path) -> None:
    # The image is the environment version's (a new version, by its hash), not the deployment's.
    base = shipped("azure-prod")
    new = copy.deepcopy(base)
    deployment(new, "mistral-chat")["variants"][1]["image"] = "ghcr.io/huggingface/text-generation-inference:3.3.6"
    result, base_plan, new_plan = moved("azure-prod", base, new, tmp_path)
    assert ({n: r.inputs["deploymentName"] for n, r in _deployments(base_plan).items()}
            == {n: r.inputs["deploymentName"] for n, r in _deployments(new_plan).items()})
    assert change(result, f"{ML}:EnvironmentVersion", "mistral-chat-green-env").action == "replace"
    assert result.safe


@pytest.mark.parametrize(("type_", "names", "path", "values"), [
    (f"{ML}:OnlineDeployment", {"workspaceName": "ws", "endpointName": "e", "deploymentName": "blue"},
     "instanceType", ("Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4")),
    (f"{ML}:EnvironmentVersion", {"workspaceName": "ws", "name": "env", "version": "1"},
     "image", ("ghcr.io/a:1", "ghcr.io/a:2")),
])
def test_a_create_only_field_inside_properties_is_refused_before_up(type_: str, names: dict, path: str,
                                                                     values: tuple[str, str]) -> None:
    base = {"resourceGroupName": "rg", **names}
    moved_ = _moved_one(type_, {**base, "properties": {path: values[0]}}, {**base, "properties": {path: values[1]}})
    assert moved_.action == "update" and f"properties.{path}" in (moved_.refused or ""), moved_
    assert "refuses" in (moved_.refused or "")


# --- the rest of the azure-native types, read in their own REST specs at the SDK's API versions ---------
# (replacements.yaml cites each file and commit; "sources: azure-native" for what diff.go and forceNewMap add)

@pytest.mark.parametrize(("type_", "old", "new"), [
    # consumption.json 2024-08-01: a ProxyResource (no location) whose flattened BudgetProperties carry no mark.
    ("azure-native:consumption:Budget", {"scope": "/subscriptions/s", "budgetName": "b", "amount": 100},
     {"scope": "/subscriptions/s", "budgetName": "b", "amount": 200}),
    # deployments.json 2024-03-01: DeploymentProperties carries no mark (a new template is a new run).
    ("azure-native:resources:Deployment", {"resourceGroupName": "rg", "deploymentName": "t",
                                           "properties": {"mode": "Incremental", "template": {"a": 1}}},
     {"resourceGroupName": "rg", "deploymentName": "t", "properties": {"mode": "Incremental", "template": {"a": 2}}}),
    # virtualNetwork.json 2024-05-01: SubnetPropertiesFormat carries no mark; forceNewMap's Subnet entry is empty.
    ("azure-native:network:Subnet", {"resourceGroupName": "rg", "virtualNetworkName": "v", "subnetName": "s",
                                     "addressPrefix": "10.60.0.0/24"},
     {"resourceGroupName": "rg", "virtualNetworkName": "v", "subnetName": "s", "addressPrefix": "10.60.1.0/24"}),
])
def test_an_azure_type_without_create_only_inputs_updates_in_place(type_: str, old: dict, new: dict) -> None:
    moved_ = _moved_one(type_, old, new)
    assert (moved_.action, moved_.forced_by, moved_.may_replace, moved_.refused) == ("update", [], False, None)


@pytest.mark.parametrize(("type_", "names"), [
    # workspaceRP.json 2025-12-01 and keyvault.json 2024-11-01 declare their own `location` with no
    # x-ms-mutability: azure-native sends a new one as a PUT, and what the service does with it was not read.
    ("azure-native:machinelearningservices:Workspace", {"workspaceName": "ws"}),
    ("azure-native:keyvault:Vault", {"vaultName": "kv"}),
])
def test_an_unmarked_azure_location_may_replace_and_the_rest_updates(type_: str, names: dict) -> None:
    base = {"resourceGroupName": "rg", "location": "westeurope", "tags": {"team": "a"}, **names}
    moved_ = _moved_one(type_, base, {**base, "location": "northeurope"})
    assert (moved_.action, moved_.forced_by, moved_.may_replace) == ("update", [], True)
    retagged = _moved_one(type_, base, {**base, "tags": {"team": "b"}})
    assert (retagged.action, retagged.may_replace, retagged.refused) == ("update", False, None)


@pytest.mark.parametrize(("type_", "names", "old", "new", "refused"), [
    # workspaceRP.json: storageAccount "cannot be changed once the workspace has been created".
    ("azure-native:machinelearningservices:Workspace", {"resourceGroupName": "rg", "workspaceName": "ws"},
     {"storageAccount": "/s/st1"}, {"storageAccount": "/s/st2"}, "storageAccount"),
    # virtualNetwork.json: defaultOutboundAccess "can only be set at the time of subnet creation".
    ("azure-native:network:Subnet", {"resourceGroupName": "rg", "virtualNetworkName": "v", "subnetName": "s"},
     {"defaultOutboundAccess": False}, {"defaultOutboundAccess": True}, "defaultOutboundAccess"),
    # ManagedEnvironments.json: VnetConfiguration.infrastructureSubnetId is [create, read] inside a referenced type.
    ("azure-native:app:ManagedEnvironment", {"resourceGroupName": "rg", "environmentName": "env"},
     {"vnetConfiguration": {"infrastructureSubnetId": "/a"}}, {"vnetConfiguration": {"infrastructureSubnetId": "/b"}},
     "vnetConfiguration.infrastructureSubnetId"),
])
def test_an_azure_input_the_api_cannot_update_is_refused_before_up(type_: str, names: dict, old: dict, new: dict,
                                                                    refused: str) -> None:
    moved_ = _moved_one(type_, {**names, **old}, {**names, **new})
    assert moved_.action == "update" and f"{refused} is create-only" in (moved_.refused or ""), moved_


def _azure_change(result: Transition, type_: str):
    moved_ = change(result, type_)
    return moved_.action, moved_.may_replace, moved_.refused


def test_an_azure_budget_and_network_ranges_update_in_place(tmp_path: Path) -> None:
    # scalepath:budget.monthlyUsd reaches the Budget's amount, network.azure's ranges the VNet's address space and
    # the subnet's prefix: none is marked in their specs, so each is an update (not "may replace" any more).
    base = shipped("azure-prod")
    new = copy.deepcopy(base)
    new["config"]["scalepath:budget"]["monthlyUsd"] = 25000
    new["config"]["scalepath:network"]["azure"] = {"vnetCidr": "10.60.0.0/15", "subnetCidr": "10.60.1.0/24"}
    result, _, _ = moved("azure-prod", base, new, tmp_path)
    for type_, path in (("azure-native:consumption:Budget", "amount"),
                        ("azure-native:network:VirtualNetwork", "addressSpace.addressPrefixes"),
                        ("azure-native:network:Subnet", "addressPrefix")):
        assert _azure_change(result, type_) == ("update", False, None), type_
        assert path in change(result, type_).properties
    assert result.safe, [c.refused for c in result.refusals]


def test_an_azure_ml_stack_going_public_updates_its_workspace_side_in_place(tmp_path: Path) -> None:
    # network.mode private -> public: the registry's sku (Premium -> Standard) and every publicNetworkAccess are
    # unmarked, so the workspace, its registry, storage account and Key Vault update in place.
    base = shipped("azure-prod")
    new = copy.deepcopy(base)
    new["config"]["scalepath:network"] = {"mode": "public"}
    result, _, _ = moved("azure-prod", base, new, tmp_path)
    assert "sku.name" in change(result, "azure-native:containerregistry:Registry").properties
    for type_ in ("azure-native:machinelearningservices:Workspace", "azure-native:containerregistry:Registry",
                  "azure-native:storage:StorageAccount", "azure-native:keyvault:Vault"):
        assert _azure_change(result, type_) == ("update", False, None), type_


def test_plan_base_names_the_bases_own_program_warnings(in_project: None, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    # The same program runs for the base: its warnings (here the gateway sizing one, a peak of
    # 137.3 req/s over what 2 replicas of 1 vCPU carry at 70 %: 137.2) must not read as the plan's own.
    busy = shipped("gateway-dev")
    busy["config"]["scalepath:gateway"]["routes"][0]["peakRequestsPerSecond"] = 137.3
    base, new = write(tmp_path, busy, "base"), write(tmp_path, busy, "new")
    caplog.set_level(logging.WARNING, logger="scalepath.plan")
    out = runner.invoke(app, ["plan", "--stack", "gateway-dev", "--config", str(new), "--base", str(base), "--json"])
    assert out.exit_code == EXIT_OK, out.output
    sizing = [m for r in caplog.records if r.name == "scalepath.plan" and "gateway sizing" in (m := r.getMessage())]
    assert len(sizing) == 2
    assert sizing[0].startswith("gateway sizing")
    assert sizing[1].startswith(f"--base {base}: gateway sizing")
    # The JSON carries the new plan's own warning (not the base's); stderr shows both, each once.
    (warning,) = json.loads(out.stdout)["warnings"]
    assert warning == sizing[0]
    assert out.stderr.count("warning: gateway sizing") == 1
    assert out.stderr.count(f"warning: --base {base}: gateway sizing") == 1
