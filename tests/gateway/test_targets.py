"""The gateway reads what each stage returns (its contract), never its name: every registered
stage is routed or refused with the key to change, and issue 22's findings 1-3 stay fixed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scalepath.plan import Plan, run_plan
from scalepath.stackconfig import StackConfig, load_stack_config
from stacks.contract import AccessKind, Protocol, StageContract
from stacks.errors import ConfigError
from stacks.parse import parse_spec
from stacks.stages import STAGES
from tests.support import ROOT, of_type
from tests.support.contracts import deployments_of, samples, with_values

#: An ACM certificate: a public ecs gateway outside dev serves HTTPS.
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000"
ENGINE_PYTHON = Path(os.environ.get("SCALEPATH_GATEWAY_ENGINE", "/work/main/.venv-engine")) / "bin" / "python"


def _route(*targets: tuple[str, int], fallbacks: tuple[str, ...] = (), **gateway: Any) -> dict[str, Any]:
    return {**gateway, "routes": [{"name": "chat", "targets": [{"deployment": d, "weight": w} for d, w in targets],
                                   "fallbacks": list(fallbacks)}]}


def _engine_config(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gateway's rendered engine config and its plain environment, whatever the runtime."""
    for task in of_type(plan, "aws:ecs/taskDefinition:TaskDefinition"):
        container = json.loads(task.inputs["containerDefinitions"])[0]  # then the metrics sidecar
        env = {e["name"]: e["value"] for e in container["environment"]}
        return yaml.safe_load(env["SCALEPATH_GATEWAY_CONFIG"]), env
    for deployment in of_type(plan, "kubernetes:apps/v1:Deployment"):
        if deployment.name == "gateway-deployment":
            (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
            env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
            return yaml.safe_load(env["SCALEPATH_GATEWAY_CONFIG"]), env
    for service in of_type(plan, "gcp:cloudrunv2/service:Service"):
        env = {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"] if "value" in e}
        return yaml.safe_load(env["SCALEPATH_GATEWAY_CONFIG"]), env
    (app,) = of_type(plan, "azure-native:app:ContainerApp")
    env = {e["name"]: e.get("value") for e in app.inputs["template"]["containers"][0]["env"] if "value" in e}
    return yaml.safe_load(env["SCALEPATH_GATEWAY_CONFIG"]), env


def _issues(config: StackConfig) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        run_plan(config)
    return {i.path: i.message for i in caught.value.issues}


def _contract(config: StackConfig, name: str) -> StageContract:
    spec = parse_spec(config.values, project=config.project, stack=config.stack, secret_keys=config.secret_keys)
    return STAGES.contracts(spec.facts())[name]


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_every_stage_is_routed_or_refused_by_key(stage) -> None:
    """Routing the gateway to any registered stage plans (the engine entry calls the served model,
    with every variable it references set from the deployment's exports) or is refused with
    config-key issues, never an exception (issue 22: a new stage crashed the plan with exit 1)."""
    sample = samples().get(stage)
    assert sample is not None, f"no shipped environment deploys {stage.value}: add one to environments/"
    gateway = _route((sample.name, 100))
    if "azure-native:location" in sample.config.values:
        gateway["secretStore"] = {"cloud": "azure", "azure": {"vaultName": "kv-ml", "resourceGroup": "rg-ml"}}
    config = with_values(sample.config, scalepath__gateway=gateway)
    contract = _contract(sample.config, sample.name)
    try:
        plan = run_plan(config)
    except ConfigError as refused:
        assert refused.issues and all(i.path.startswith(("scalepath:", "aws:", "gcp:")) for i in refused.issues)
        return
    document, env = _engine_config(plan)
    (entry,) = [m for m in document["model_list"] if m["model_name"] == "chat"]
    params = entry["litellm_params"]
    assert contract.access is not None and Protocol.CHAT in contract.protocols
    served = params.get("hf_model_name") or params["model"].split("/", 1)[1]
    if contract.access.kind in (AccessKind.OPENAI, AccessKind.AZURE_ENTRA, AccessKind.SAGEMAKER_INVOKE):
        assert served == contract.access.served_model
    for value in params.values():
        if isinstance(value, str) and value.startswith("os.environ/") and value != "os.environ/HF_TOKEN":
            assert env[value.removeprefix("os.environ/")], value  # from the deployment's exports


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_every_contract_names_exports_its_build_returns(stage, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export keys a contract names (where the gateway reads a URL, a name, an id) are keys of
    what the stage's build returns, camelCase like every stack output."""
    import pulumi

    sample = samples()[stage]
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    run_plan(sample.config)
    contract = _contract(sample.config, sample.name)
    keys = set(exported[sample.name])
    named = {contract.access.address} if contract.access else set()
    named |= {contract.auth.grant.export} if contract.auth.grant else set()
    assert named <= keys, named - keys
    assert all(key[:1].islower() and "_" not in key for key in keys), sorted(keys)


def test_vllm_on_sagemaker_is_called_with_the_name_it_serves(tmp_path: Path) -> None:
    """Finding 1: the engine puts the endpoint name in the body's `model` unless `hf_model_name`
    names the served model; vLLM answers 404 to any name it does not serve. Run the installed
    engine's SageMaker chat call against a stand-in endpoint and read the body it sends."""
    config = load_stack_config("prod", ROOT)
    deployments = deployments_of(config)
    chat = next(d for d in deployments if d["name"] == "chat")
    chat["container"] = {"server": "vllm", "version": "0.30.0"}
    chat.pop("generation", None)
    config = with_values(config, scalepath__deployments=deployments,
                         scalepath__gateway=_route(("chat", 100), runtime="ecs"))
    plan = run_plan(config)
    document, env = _engine_config(plan)
    (params,) = [m["litellm_params"] for m in document["model_list"]]
    model_env = next(r for r in of_type(plan, "aws:sagemaker/model:Model"))
    served = json.loads(json.dumps(model_env.inputs))["primaryContainer"]["environment"]["SM_VLLM_SERVED_MODEL_NAME"]
    assert params["hf_model_name"] == served == chat["model"]
    endpoint = env[params["model"].removeprefix("os.environ/")].removeprefix("sagemaker_chat/")
    body = _engine_sagemaker_body(tmp_path, endpoint, params)
    assert body["model"] == served


def _engine_sagemaker_body(tmp_path: Path, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body the installed engine posts for one chat request to ``endpoint`` with ``params``
    (SigV4 with stand-in credentials; the request goes to a loopback server)."""
    script = tmp_path / "call.py"
    script.write_text('''
import json, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import litellm

seen = {}
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "ok"}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer))); self.end_headers(); self.wfile.write(answer)
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
params = json.loads(sys.argv[1])
litellm.completion(messages=[{"role": "user", "content": "hi"}], num_retries=0,
                   sagemaker_base_url=f"http://127.0.0.1:{server.server_port}/invocations", **params)
print(json.dumps(seen["body"]))
''')
    call = {k: v for k, v in params.items() if k not in ("timeout", "stream_timeout", "num_retries", "weight")}
    call["model"] = f"sagemaker_chat/{endpoint}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDSTANDIN", "AWS_SECRET_ACCESS_KEY": "standin-secret",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("AWS_PROFILE", None)
    out = subprocess.run([str(ENGINE_PYTHON), str(script), json.dumps(call)], capture_output=True, text=True,
                         env=env, timeout=240, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("change, offers", [
    ({"kind": "async", "scaling": {"min": 0, "max": 1, "metric": "backlog-per-instance"}}, "async-invoke"),
    ({"container": {"server": "tei", "version": "1.8.2"}, "generation": None}, "embeddings"),
])
def test_a_target_that_cannot_answer_chat_is_refused(change: dict[str, Any], offers: str) -> None:
    """Finding 2: async SageMaker (InvokeEndpointAsync with an S3 input) and TEI embeddings."""
    config = load_stack_config("staging", ROOT)
    deployments = deployments_of(config)
    target = next(d for d in deployments if d["stage"] == "sagemaker")
    for key, value in change.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    issues = _issues(with_values(config, scalepath__deployments=deployments,
                                 scalepath__gateway=_route((target["name"], 100), runtime="ecs",
                                                           tlsCertificateArn=CERT)))
    assert issues == {"scalepath:gateway.routes[0].targets[0].deployment": (
        f"deployment {target['name']!r} answers {offers}, and a route serves chat completions; "
        "route to a deployment that answers chat")}


def test_an_hf_embeddings_endpoint_is_refused_as_a_fallback() -> None:
    config = load_stack_config("dev", ROOT)
    deployments = deployments_of(config)
    endpoint = next(d for d in deployments if d["stage"] == "hf-endpoint")
    endpoint["task"] = "feature-extraction"
    serverless = next(d for d in deployments if d["stage"] == "hf-serverless")
    issues = _issues(with_values(config, scalepath__deployments=deployments, scalepath__gateway=_route(
        (serverless["name"], 100), fallbacks=(endpoint["name"],), runtime="ecs")))
    assert list(issues) == ["scalepath:gateway.routes[0].fallbacks[0]"]
    assert "answers embeddings" in issues["scalepath:gateway.routes[0].fallbacks[0]"]


def test_private_vertex_is_refused_on_cloud_run_and_gke() -> None:
    """Finding 3: PSC endpoints take private traffic to their PSC address only; the engine calls the
    public aiplatform URL from any runtime."""
    config = load_stack_config("gcp-prod", ROOT)
    issues = _issues(with_values(config, scalepath__gateway=_route(("llama-8b", 100), runtime="cloudrun")))
    assert list(issues) == ["scalepath:network.mode"]
    assert "Private Service Connect" in issues["scalepath:network.mode"]
    gke = load_stack_config("gke-staging", ROOT)
    deployments = deployments_of(gke) + [{**next(d for d in deployments_of(config) if d["name"] == "llama-8b")}]
    values = {"gcp:region": config.values["gcp:region"]} if "gcp:region" in config.values else {}
    issues = _issues(with_values(gke, scalepath__deployments=deployments, scalepath__network={"mode": "private"},
                                 scalepath__gateway=_route(("llama-8b", 100)), **values))
    assert "Private Service Connect" in issues.get("scalepath:network.mode", ""), issues


def test_private_azure_ml_is_unreachable_from_container_apps() -> None:
    """Finding 3: the Container Apps environment has no VNet integration; nothing else runs in the VNet."""
    config = load_stack_config("azure-prod", ROOT)
    issues = _issues(with_values(config, scalepath__gateway=_route(("mistral-chat", 100), secretStore={
        "cloud": "azure", "azure": {"vaultName": "kv-ml", "resourceGroup": "rg-ml"}})))
    assert issues == {"scalepath:gateway.runtime": (
        "deployment 'mistral-chat' is reachable only from the stack's Azure VNet: the workspace takes requests only "
        "through its private endpoint, resolved by the VNet's private DNS zones, and the containerapps gateway runs "
        "elsewhere: no gateway runtime runs there; leave it out of the gateway's routes, or use network.mode: public")}


def test_a_private_hf_endpoint_is_refused_at_its_access_key() -> None:
    """Finding 3: no interface endpoint for the endpoint's PrivateLink service exists, and the engine
    would call the public URL."""
    config = load_stack_config("dev", ROOT)
    deployments = deployments_of(config)
    endpoint = next(d for d in deployments if d["stage"] == "hf-endpoint")
    endpoint.update({"access": "private", "privateLink": {"accountId": "123456789012", "region": "us-east-1"}})
    issues = _issues(with_values(config, scalepath__deployments=deployments,
                                 scalepath__gateway=_route((endpoint["name"], 100), runtime="ecs")))
    index = deployments.index(endpoint)
    assert list(issues) == [f"scalepath:deployments[{index}].access"]
    assert "PrivateLink interface endpoint" in issues[f"scalepath:deployments[{index}].access"]


def test_a_cluster_service_is_reached_only_from_its_own_cluster() -> None:
    config = load_stack_config("prod", ROOT)
    issues = _issues(with_values(config, scalepath__gateway=_route(("chat-eks", 100), runtime="ecs")))
    assert list(issues) == ["scalepath:gateway.runtime"]
    assert issues["scalepath:gateway.runtime"].endswith("choose gateway.runtime: kubernetes")


def test_the_gateway_caps_max_tokens_to_what_the_target_is_sized_for(tmp_path: Path) -> None:
    """Finding 4: the engine passes a caller's `max_tokens` through; the rendered config names the
    contract's cap per entry and the engine's token-cap hook applies it. The real engine, the
    SageMaker deployment of `prod` (a 60 s real-time limit) standing in as a local server."""
    from components.gateway.args import TOKEN_CAP_KEY, hooks_source
    from tests.support.gateway_serve import KEY, start_serve
    from tests.support.openai_standin import StandIn

    assert f'CAP_KEY, COST_KEY = "{TOKEN_CAP_KEY}", ' in hooks_source()  # the hook cannot import the constant
    config = load_stack_config("prod", ROOT)
    cap = _contract(config, "chat").limits.max_new_tokens
    assert cap is not None and 32 <= cap < 4000
    document = yaml.safe_load(Path(ROOT / "environments" / "Pulumi.prod.yaml").read_text())
    document["config"]["scalepath:gateway"] = _route(("chat", 100), runtime="ecs")
    path = tmp_path / "Pulumi.capped.yaml"
    path.write_text(yaml.safe_dump(document))
    with StandIn("chat") as standin:
        served = start_serve(path, {"chat": standin.url})
        try:
            for asked in (4000, cap + 1, cap, 10, None):
                body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
                if asked is not None:
                    body["max_tokens"] = asked
                answer = httpx.post(f"{served.base_url}/chat/completions", json=body, timeout=60,
                                    headers={"Authorization": f"Bearer {KEY}"})
                assert answer.status_code == 200, answer.text
            assert [b.get("max_tokens") for b in standin.bodies] == [cap, cap, cap, 10, cap]
        finally:
            served.kill()
