"""LoRA adapters on TGI (issue 26): SageMaker's TGI container and HF Inference Endpoints with a
pinned TGI image read ``LORA_ADAPTERS``; requests pick an adapter by its repo id as ``model``; every
other server, source kind or setting is refused naming the key (components/data/tgi_lora.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from components.azure import azureml as azureml_component
from components.huggingface import tgi_lora
from scalepath.cli import app
from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import SECRET_PLACEHOLDER
from stacks.config import CloudTargets, Stage
from stacks.errors import ConfigError
from stacks.gateway.backends import backend, backends_for
from stacks.gateway.config import target_contract
from stacks.gateway.engine_config import engine_config
from stacks.parse import parse_spec
from stacks.stages import STAGES
from stacks.stages.shared import tgi
from tests.support import one, stack_config
from tests.support.clusters import MODEL, aws_config
from tests.support.stages import STACKS

D = "scalepath:deployments[0]"
SQL = {"name": "sql", "source": "acme/qwen-sql-lora", "revision": "v1", "rank": 16}
SUPPORT = {"name": "support", "source": "acme/qwen-support-lora"}
TGI_IMAGE = {"engine": "tgi", "url": "ghcr.io/huggingface/text-generation-inference:3.3.6"}


def sagemaker(**overrides: Any) -> dict[str, Any]:
    return aws_config("dev", "public", {
        "name": "chat", "model": MODEL, "stage": "sagemaker", "instanceType": "ml.g5.2xlarge",
        "container": {"server": "tgi", "version": "3.3.6"}, "adapters": [SQL, SUPPORT], **overrides})


def endpoint(**overrides: Any) -> dict[str, Any]:
    cfg = aws_config("dev", "public", {
        "name": "chat", "model": MODEL, "stage": "hf-endpoint", "namespace": "acme-ml",
        "instanceType": "nvidia-a10g", "instanceSize": "x1", "image": TGI_IMAGE, "adapters": [SQL, SUPPORT],
        **overrides})
    return {**cfg, "scalepath:hfToken": SECRET_PLACEHOLDER}


def planned(cfg: dict[str, Any]) -> Plan:
    return run_plan(stack_config(cfg, secret_keys={"scalepath:hfToken"} & cfg.keys()))


def refused(cfg: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        planned(cfg)
    return {i.path: i.message for i in caught.value.issues}


def contract(cfg: dict[str, Any]):
    spec = parse_spec(cfg, project="scalepath", stack="test", secret_keys={"scalepath:hfToken"} & cfg.keys())
    return STAGES.contract(spec.deployments[0], spec.facts())


# The launcher's item form is `adapter_id[@revision]` for a Hub id it downloads (launcher/src/main.rs).
LORA_ADAPTERS = "acme/qwen-sql-lora@v1,acme/qwen-support-lora"


def test_sagemaker_tgi_gets_lora_adapters() -> None:
    env = one(planned(sagemaker()), "aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
    assert env["LORA_ADAPTERS"] == LORA_ADAPTERS
    assert env["HF_MODEL_ID"] == MODEL


def test_hf_endpoint_tgi_image_gets_lora_adapters() -> None:
    resource = one(planned(endpoint(env={"MAX_TOTAL_TOKENS": "8192"})), "pulumi-python:dynamic:Resource")
    assert resource.inputs["env"] == {"MAX_TOTAL_TOKENS": "8192", "LORA_ADAPTERS": LORA_ADAPTERS}


def test_no_adapters_no_variable() -> None:
    env = one(planned(sagemaker(adapters=[])), "aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
    assert "LORA_ADAPTERS" not in env


@pytest.mark.parametrize("make", [sagemaker, endpoint], ids=["sagemaker", "hf-endpoint"])
def test_requests_name_an_adapter_by_its_repo_id(make) -> None:
    # TGI's chat route: adapter_id = the body's `model` unless "tgi" (router/src/lib.rs).
    c = make()
    assert c is not None
    access = contract(c).access
    assert access.served_models() == (MODEL, "acme/qwen-sql-lora", "acme/qwen-support-lora")
    routed = target_contract({"chat": contract(c)}, "chat:sql")
    assert routed.access.served_model == "acme/qwen-sql-lora"
    assert routed.access.address == access.address and routed.auth == contract(c).auth


def test_the_gateway_sends_the_adapter_id_as_the_sagemaker_body_model() -> None:
    routed = target_contract({"chat": contract(sagemaker())}, "chat:support")
    made = backend(routed, CloudTargets(aws_region="us-east-1"))
    # LiteLLM's sagemaker_chat sends hf_model_name as the body's `model`.
    assert made.params["hf_model_name"] == "acme/qwen-support-lora"


@pytest.mark.parametrize("cfg, key, fragment", [
    (sagemaker(container={"server": "vllm", "version": "0.30.0"}), "container.server", "one --lora-modules item"),
    (sagemaker(container={"server": "tgi", "version": "2.4.0"}), "container.version", "3.0.0 or newer"),
    (sagemaker(adapters=[SQL, {"name": "s3", "source": "s3://acme-adapters/support/v3"}]), "adapters[1].source",
     "Hub adapters only"),
    (sagemaker(adapters=[SQL, {**SQL, "name": "again"}]), "adapters[1].source", "listed twice"),
    (sagemaker(weightsS3Uri="s3://acme-weights/qwen/"), "networkIsolation", "networkIsolation: false"),
    (endpoint(image=None), "image", "HF's default image"),
    (endpoint(image={"engine": "vllm", "url": "vllm/vllm-openai:v0.11.0"}), "image.engine", "LORA_ADAPTERS"),
    (endpoint(image={**TGI_IMAGE, "url": "ghcr.io/huggingface/text-generation-inference:latest"}), "image.url",
     "pinned by version"),
    (endpoint(image={**TGI_IMAGE, "url": "ghcr.io/huggingface/text-generation-inference:2.4.1"}), "image.url",
     "3.0.0 or newer"),
    (endpoint(env={"LORA_ADAPTERS": "x/y"}), "env.LORA_ADAPTERS", "set by the stage"),
    (endpoint(adapters=[{"name": "gs", "source": "gs://acme-adapters/sql"}]), "adapters[0].source",
     "neither s3:// nor gs://"),
], ids=["sm-vllm", "sm-old-tgi", "sm-s3", "sm-twice", "sm-isolated", "ep-default-image", "ep-vllm", "ep-latest",
        "ep-old-tgi", "ep-env", "ep-gs"])
def test_what_tgi_cannot_load_is_refused_naming_the_key(cfg: dict[str, Any], key: str, fragment: str) -> None:
    if cfg["scalepath:deployments"][0].get("image", "") is None:
        del cfg["scalepath:deployments"][0]["image"]
    found = refused(cfg)
    assert fragment in found[f"{D}.{key}"], found


def test_private_sagemaker_needs_egress_for_hub_adapters() -> None:
    cfg = aws_config("dev", "private", {
        "name": "chat", "model": MODEL, "stage": "sagemaker", "instanceType": "ml.g5.2xlarge",
        "container": {"server": "tgi", "version": "3.3.6"}, "weightsS3Uri": "s3://acme-weights/qwen/",
        "networkIsolation": False, "adapters": [SQL]})
    assert "no internet egress" in refused(cfg)[f"{D}.adapters"]


def test_a_refusal_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": sagemaker(container={"server": "tei", "version": "1.8.2"})}))
    result = CliRunner().invoke(app, ["plan", "--stack", "dev", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{D}.container.server" in result.output and "TEI serves embeddings" in result.output


@pytest.mark.parametrize("rank, shards, kept", [
    (None, 1, 16),  # undeclared: counted at assumedRank
    (4, 1, 8), (8, 1, 8), (9, 1, 16), (16, 1, 16), (17, 1, 32), (64, 1, 64),
    (16, 4, 32), (32, 4, 32), (33, 4, 48),  # floor 8 x 4 shards = 32, then multiples of 16
])
def test_tgi_pads_ranks_as_its_sgmv_kernels_do(rank: int | None, shards: int, kept: int) -> None:
    assert tgi_lora.padded_rank(rank, shards) == kept


@pytest.mark.parametrize("make, key", [(sagemaker, "instanceType"), (endpoint, "instanceSize")],
                         ids=["sagemaker", "hf-endpoint"])
def test_gpu_memory_check_counts_every_loaded_adapter(make, key) -> None:
    # Qwen2.5-7B: 7.62B x 2 B = 15.24 GiB of weights; one A10G (ml.g5.2xlarge, HF nvidia-a10g x1:
    # 24 GiB) allows 80 %: 19.2 GiB. One rank-512 adapter: 512 x 28 layers x 20 x hidden
    # (sqrt(7.62e9/28/12) = 4762.2) x 2 B / 2**30 = 2.54 GiB: one fits (17.78), two do not (20.33).
    big = {"name": "a", "source": "acme/a", "rank": 512}
    assert planned(make(adapters=[big]))
    found = refused(make(adapters=[big, {**big, "name": "b", "source": "acme/b"}]))
    assert "LoRA adapter" in found[f"{D}.{key}"]


def test_adapter_targets_on_tgi_get_their_own_limits_and_model() -> None:
    # Item 4: `limits` under a deployment:adapter target cap that target's engine entry, which sends
    # the adapter's repo id; the route's limit is shared by weight (engine_config.entry_limits).
    cfg = {**sagemaker(), "scalepath:gateway": {"runtime": "ecs", "routes": [{
        "name": "assist", "limits": {"requestsPerMinute": 20, "tokensPerMinute": 10000},
        "targets": [{"deployment": "chat:sql", "weight": 70, "limits": {"requestsPerMinute": 5}},
                    {"deployment": "chat:support", "weight": 30}],
        "fallbacks": ["chat"]}]}}
    spec = parse_spec(cfg, project="scalepath", stack="test")
    contracts = STAGES.contracts(spec.facts())
    backends = backends_for(spec.gateway.engine_deployments(), contracts, spec.targets)
    entries = {e["model_info"]["id"]: e["litellm_params"] for e in engine_config(spec.gateway, backends)["model_list"]}
    sql, support, base = entries["assist/chat:sql"], entries["assist/chat:support"], entries["assist@chat"]
    # rpm: min(5, 20 x 70 // 100 = 14) = 5; tpm 10000 x 70 // 100 = 7000; support 6 and 3000; the fallback all.
    assert (sql["rpm"], sql["tpm"], sql["hf_model_name"]) == (5, 7000, "acme/qwen-sql-lora")
    assert (support["rpm"], support["tpm"], support["hf_model_name"]) == (6, 3000, "acme/qwen-support-lora")
    assert (base["rpm"], base["tpm"], base["hf_model_name"]) == (20, 10000, MODEL)


def azureml(**container: Any) -> dict[str, Any]:
    return {**STACKS[Stage.AZUREML](MODEL, 1), "scalepath:deployments": [{
        "name": "chat", "stage": "azureml", "model": MODEL, "instanceType": "Standard_NC24ads_A100_v4",
        "container": {"image": "ghcr.io/huggingface/text-generation-inference:3.3.4", **container},
        "adapters": [SQL, SUPPORT]}]}


def test_azureml_tgi_gets_lora_adapters_and_answers_to_their_repo_ids() -> None:
    cfg = azureml()
    props = one(planned(cfg), "azure-native:machinelearningservices:OnlineDeployment").inputs["properties"]
    assert props["environmentVariables"]["LORA_ADAPTERS"] == LORA_ADAPTERS
    assert contract(cfg).access.served_models() == (MODEL, "acme/qwen-sql-lora", "acme/qwen-support-lora")
    routed = target_contract({"chat": contract(cfg)}, "chat:sql")
    # LiteLLM's azure_ai/<model> sends <model> as the body's `model`.
    assert backend(routed, CloudTargets()).params["model"] == "azure_ai/acme/qwen-sql-lora"


def test_private_azureml_approves_the_hub_for_adapters_when_weights_are_a_model_asset() -> None:
    cfg = azureml(image="mlregistry.azurecr.io/tgi:3.3.4")
    cfg["scalepath:network"] = {"mode": "private", "azure": {"vnetCidr": "10.70.0.0/16", "subnetCidr": "10.70.1.0/24"}}
    cfg["scalepath:deployments"][0]["variants"] = [
        {"name": "blue", "traffic": 100, "registeredModel": "azureml:qwen-7b-instruct:3"}]
    network = one(planned(cfg), "azure-native:machinelearningservices:Workspace").inputs["managedNetwork"]
    destinations = {rule["destination"] for rule in network["outboundRules"].values()}
    assert set(azureml_component.hf_hub_hosts()) <= destinations
    # Without adapters the same stack approves nothing (tests/stages/test_azureml.py).
    cfg["scalepath:deployments"][0]["adapters"] = []
    assert "outboundRules" not in one(planned(cfg), "azure-native:machinelearningservices:Workspace"
                                      ).inputs["managedNetwork"]


@pytest.mark.parametrize("change, key, fragment", [
    ({"container": {"server": "vllm", "image": "acme.azurecr.io/vllm-azureml:0.11.0"}}, "container.server",
     "server: tgi"),
    ({"container": {"image": "ghcr.io/huggingface/text-generation-inference@sha256:" + "a" * 64}},
     "container.image", "pinned by version"),
    ({"variants": [{"name": "blue", "traffic": 100},
                   {"name": "green", "traffic": 0, "image": "ghcr.io/huggingface/text-generation-inference:2.4.1"}]},
     "variants[1].image", "3.0.0 or newer"),
    ({"variants": [{"name": "blue", "traffic": 100}, {"name": "green", "traffic": 0, "model": "Qwen/Qwen3-8B"}]},
     "variants[1].model", "wrong base"),
    ({"container": {"image": "ghcr.io/huggingface/text-generation-inference:3.3.4", "env": {"LORA_ADAPTERS": "a/b"}}},
     "container.env.LORA_ADAPTERS", "set by the stage"),
    ({"adapters": [{"name": "s3", "source": "s3://acme-adapters/sql"}]}, "adapters[0].source", "Hub adapters only"),
], ids=["vllm", "digest", "old-variant-image", "variant-model", "env", "s3"])
def test_what_azureml_cannot_load_is_refused_naming_the_key(change: dict[str, Any], key: str, fragment: str) -> None:
    cfg = azureml()
    cfg["scalepath:deployments"][0].update(change)
    found = refused(cfg)
    assert fragment in found[f"{D}.{key}"], found


@pytest.mark.parametrize("url, version", [
    ("ghcr.io/huggingface/text-generation-inference:3.3.6", "3.3.6"),
    ("localhost:5000/tgi:v3.0", "3.0"),  # a registry port is not a tag
    ("ghcr.io/huggingface/text-generation-inference:latest", None),
    ("ghcr.io/huggingface/text-generation-inference:3.3.6-intel-xpu", None),
    ("ghcr.io/huggingface/text-generation-inference@sha256:" + "a" * 64, None),
])
def test_a_tgi_image_is_versioned_by_its_tag(url: str, version: str | None) -> None:
    assert tgi.image_version(url) == version


def test_the_registry_names_the_tgi_version_the_data_file_asks_for() -> None:
    since = tgi_lora.data()["since"]
    for stage in (Stage.HF_ENDPOINT, Stage.SAGEMAKER, Stage.AZUREML):
        assert since in STAGES.entry(stage).adapters_with
