"""Routes to LoRA adapters (issue 26, item 4): ``deployment:adapter`` targets through the real engine
(``scalepath gateway serve``) in front of one stand-in vLLM server that answers to two adapter names;
limits, cost and metrics per adapter target as per deployment (issue 25, item 3)."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import app
from scalepath.gateway.render import render_gateway
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT, issues
from tests.support.gateway_serve import (
    KEY,
    Served,
    alive,
    charged_answer,
    chat,
    metric_reaches,
    refused_after_limit,
    serving,
    start_serve,
)
from tests.support.openai_standin import Reply, StandIn

MODEL = "Qwen/Qwen2.5-7B-Instruct"
#: n=200 at p=0.7: sd 6.5; +-5 sd (+-33) fails by chance about once in 1.7 million runs.
REQUESTS, TOLERANCE = 200, 33
FLEET = {"name": "fleet", "model": MODEL, "stage": "eks-vllm", "scaling": {"min": 1, "max": 2},
         "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]}, "vllm": {"modelCache": {"kind": "ephemeral"}},
         "adapters": [{"name": "sql", "source": "acme/qwen-sql-lora", "rank": 16},
                      {"name": "support", "source": "acme/qwen-support-lora", "rank": 16}]}
GATEWAY = {"runtime": "kubernetes", "routes": [
    {"name": "assist", "targets": [{"deployment": "fleet:sql", "weight": 70},
                                   {"deployment": "fleet:support", "weight": 30}],
     "fallbacks": ["fleet"], "retries": 0}]}


def stack(path: Path, gateway: dict = GATEWAY) -> Path:
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    document["config"]["scalepath:deployments"] = [FLEET]
    document["config"]["scalepath:gateway"] = gateway
    path.write_text(yaml.safe_dump(document))
    return path


def test_each_adapter_target_is_sent_its_own_model_name(tmp_path: Path) -> None:
    rendered = render_gateway(load_stack_config("dev", ROOT, stack(tmp_path / "Pulumi.dev.yaml")), ["fleet=http://x"])
    models = {name: b.params["model"] for name, b in rendered.backends.items()}
    assert models == {"fleet:sql": "openai/sql", "fleet:support": "openai/support", "fleet": f"openai/{MODEL}"}
    # One server: every target calls the same URL.
    assert {b.params["api_base"] for b in rendered.backends.values()} == {"http://x"}


def test_an_adapter_the_deployment_does_not_serve_is_refused_with_the_key() -> None:
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    plain = {k: v for k, v in document["config"].items() if k != "scalepath:hfToken"}  # secure: in the file
    config = {**plain, "scalepath:deployments": [FLEET], "scalepath:gateway": {
        "runtime": "kubernetes", "routes": [{"name": "r", "targets": [{"deployment": "fleet:legal", "weight": 100}]}]}}
    found = issues(config)
    assert "serves no adapter 'legal'; its adapters: sql, support" in \
        found["scalepath:gateway.routes[0].targets[0].deployment"]


@pytest.fixture(scope="module")
def fleet() -> Iterator[StandIn]:
    with StandIn("fleet") as server:
        yield server


@pytest.fixture(scope="module")
def gateway(fleet: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(stack(tmp_path_factory.mktemp("adapters") / "Pulumi.dev.yaml"), {"fleet": fleet.url})
    try:
        yield served
        assert served.signal_and_wait(signal.SIGTERM) == 0
    finally:
        if served.process.poll() is None or alive(served.engine_pid):
            served.kill()


def test_route_weights_hold_per_adapter(gateway: Served, fleet: StandIn) -> None:
    before = len(fleet.bodies)

    def chat(_: int) -> int:
        return httpx.post(f"{gateway.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                          timeout=120, json={"model": "assist", "messages": [{"role": "user", "content": "hi"}]}
                          ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(chat, range(REQUESTS))) == {200}
    sent = Counter(body["model"] for body in fleet.bodies[before:])
    assert sum(sent.values()) == REQUESTS and set(sent) == {"sql", "support"}
    assert abs(sent["sql"] - 0.7 * REQUESTS) <= TOLERANCE, sent


PROMOTE_GATEWAY = """\
  scalepath:gateway:
    runtime: kubernetes
    routes:
      - name: assist
        targets:
          - {deployment: "fleet:sql", weight: 100}   # today's adapter
        gate: {minPassRate: 0.9, p95LatencyMs: 60000}
"""


def test_promote_moves_weight_from_one_adapter_to_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    document["config"]["scalepath:deployments"] = [FLEET]
    document["config"].pop("scalepath:gateway", None)
    env = tmp_path / "Pulumi.dev.yaml"
    env.write_text(yaml.safe_dump(document) + PROMOTE_GATEWAY)
    suite = tmp_path / "suite.jsonl"
    suite.write_text("".join(json.dumps({"id": f"q{i}", "messages": [{"role": "user", "content": f"capital {i}"}],
                                        "expect": {"contains": "Paris"}}) + "\n" for i in range(10)))
    before = env.read_text()
    # One server, two adapters: each answer names the adapter the request asked for.
    with StandIn("fleet", reply=lambda body: Reply(f"Paris ({body['model']})")) as server:
        result = CliRunner().invoke(app, [
            "promote", "--stack", "dev", "--config", str(env), "--route", "assist", "--to", "fleet:support",
            "--suite", str(suite), "--timeout", "30", "--backend", f"fleet={server.url}", "--write", "--step", "25"])
    assert result.exit_code == 0, result.output
    assert env.read_text() == before.replace(
        '          - {deployment: "fleet:sql", weight: 100}   # today\'s adapter\n',
        '          - {deployment: "fleet:sql", weight: 75}   # today\'s adapter\n'
        '          - {deployment: fleet:support, weight: 25}\n')
    assert Counter(body["model"] for body in server.bodies) == {"sql": 10, "support": 10}


#: Requests per minute of the ``sql`` adapter's route in the metered gateway.
ADAPTER_LIMIT = 2
#: How long the metered fleet stand-in takes to answer.
ANSWER_SECONDS = 1.0
#: FLEET's replica price: the default GPU node g6.xlarge (1 L4) of components/data/instances/ec2.yaml
#: at 0.8048 USD/h on demand, spot (the default) at 60 % off per spot.yaml, one replica per node:
#: 0.8048 x 0.4 = 0.32192 USD per replica-hour, / 3600 per second. Adapters share the replica.
USD_PER_SECOND = 0.8048 * 0.4 / 3600
METERED = {"runtime": "kubernetes", "routes": [
    {"name": "sql", "targets": [{"deployment": "fleet:sql", "weight": 100}], "retries": 0,
     "limits": {"requestsPerMinute": ADAPTER_LIMIT}},
    {"name": "support", "targets": [{"deployment": "fleet:support", "weight": 100}], "retries": 0}]}


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway in front of a fleet that takes ANSWER_SECONDS per answer: one limited adapter route."""
    with StandIn("fleet", reply=lambda body: Reply(delay_s=ANSWER_SECONDS)) as server:
        config = stack(tmp_path_factory.mktemp("metered") / "Pulumi.dev.yaml", METERED)
        with serving(config, {"fleet": server}) as served:
            yield served


def test_an_adapter_targets_limit_is_its_own(metered: Served) -> None:
    refused = refused_after_limit(metered, "sql", ADAPTER_LIMIT)
    assert f"RPM limit={ADAPTER_LIMIT}" in refused.text
    # The other adapter of the same server counts apart: answered in the same minute.
    assert chat(metered, "support").status_code == 200


def test_an_adapter_target_is_charged_and_metered_per_adapter(metered: Served) -> None:
    cost = charged_answer(metered, "support", USD_PER_SECOND, ANSWER_SECONDS)
    # Spend is labelled per adapter target.
    assert metric_reaches(metered, "litellm_spend_metric_total", cost, requested_model="support",
                          model_id="support/fleet:support") >= cost
