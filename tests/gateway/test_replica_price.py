"""What a replica of a dedicated deployment costs per hour (issue 25, item 2): every stage billed per
instance-hour names it in its contract, from the instance catalogue the plan prices it from, and
the gateway hands it to its engine as a price per second of backend time."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.gateway.args import COST_PER_SECOND_KEY, DEADLINE_KEY, TOKEN_CAP_KEY, hooks_source
from scalepath.gateway.render import render_gateway
from scalepath.stackconfig import SECRET_PLACEHOLDER, load_stack_config
from stacks.config import Stage
from stacks.contract import StageContract
from stacks.gateway.engine_config import engine_config
from stacks.parse import parse_spec
from stacks.stages import STAGES
from tests.support import ROOT, stack_config
from tests.support.stages import STACKS

#: Ungated, so every stage serves it without a Hub token.
MODEL = "Qwen/Qwen2.5-7B-Instruct"


def _contract(config: dict[str, Any]) -> StageContract:
    values = {**config, "scalepath:hfToken": SECRET_PLACEHOLDER}
    spec = parse_spec(stack_config(values, secret_keys={"scalepath:hfToken"}).values, project="scalepath",
                      stack="test", secret_keys={"scalepath:hfToken"})
    (contract,) = STAGES.contracts(spec.facts()).values()
    return contract


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_stages_billed_per_instance_hour_name_a_replica_price(stage) -> None:
    contract = _contract(STACKS[stage](MODEL, 1))
    if STAGES.entry(stage).usage_priced:
        assert contract.replica_price is None  # priced per token (components/token_prices.py)
    else:
        assert contract.replica_price is not None and contract.replica_price.usd > 0


def test_replica_prices_are_the_catalogue_rows_the_plan_prices() -> None:
    # components/data/instances/hf.yaml: aws/nvidia-a10g/x4 at $5.0/h.
    assert _contract(STACKS[Stage("hf-endpoint")](MODEL, 4)).replica_price.usd == 5.0
    # sagemaker.yaml: ml.g5.2xlarge at $1.515/h (us-east-1 is its reference region).
    sagemaker = _contract(STACKS[Stage("sagemaker")](MODEL, 1))
    assert sagemaker.replica_price.usd == 1.515


def test_a_vllm_replica_pays_its_share_of_a_spot_node() -> None:
    # ec2.yaml: g6.12xlarge (4 L4) at $4.6016/h on demand; spot.yaml: ec2 spot at 60 % off, the
    # plan's price of the spot group; one GPU per replica: 4 replicas per node.
    # 4.6016 x 0.4 / 4 = 0.46016 $/h.
    config = STACKS[Stage("eks-vllm")](MODEL, 4)
    config["scalepath:deployments"][0]["vllm"]["gpusPerReplica"] = 1
    price = _contract(config).replica_price
    assert price is not None and price.usd == pytest.approx(0.46016, rel=1e-12)
    assert "4 replicas per node" in price.note
    config["scalepath:deployments"][0]["cluster"]["gpuNodes"]["spot"] = False
    assert _contract(config).replica_price.usd == pytest.approx(4.6016 / 4, rel=1e-12)


def test_the_engine_config_carries_the_price_per_second_and_names_the_hooks() -> None:
    rendered = render_gateway(load_stack_config("gateway-dev", ROOT), [])
    config = engine_config(rendered.spec.gateway, rendered.backends)
    info = {m["model_info"]["id"]: m["model_info"] for m in config["model_list"]}
    # gateway-dev's chat-endpoint: hf.yaml aws/nvidia-a10g/x1 at $1.0/h -> 1/3600 USD per second.
    assert info["chat/chat-endpoint"][COST_PER_SECOND_KEY] == pytest.approx(1.0 / 3600, rel=1e-12)
    # The serverless target is priced per token by the engine itself, not per second.
    assert COST_PER_SECOND_KEY not in info["chat/chat-serverless"]
    assert "scalepath_hooks.hooks" in config["litellm_settings"]["callbacks"]
    # The hooks run inside the engine and cannot import the keys: the same literals.
    assert f'CAP_KEY, COST_KEY = "{TOKEN_CAP_KEY}", "{COST_PER_SECOND_KEY}"' in hooks_source()


def test_the_hooks_run_on_every_route_for_its_deadline(tmp_path) -> None:
    """A route with no cap, price per second or limit still needs the hooks: they bound each
    attempt by the route's timeoutSeconds (issue 27, item 9)."""
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.gateway-dev.yaml").read_text())
    document["config"]["scalepath:gateway"]["routes"] = [
        {"name": "chat", "targets": [{"deployment": "chat-serverless", "weight": 100}]}]
    path = tmp_path / "Pulumi.gateway-dev.yaml"
    path.write_text(yaml.safe_dump(document))
    rendered = render_gateway(load_stack_config("gateway-dev", ROOT, path), [])
    config = engine_config(rendered.spec.gateway, rendered.backends)
    assert "scalepath_hooks.hooks" in config["litellm_settings"]["callbacks"]
    assert [m["model_info"][DEADLINE_KEY] for m in config["model_list"]] == [60]  # timeoutSeconds' default
    assert f'DEADLINE_KEY = "{DEADLINE_KEY}"' in hooks_source()
