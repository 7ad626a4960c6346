"""Stack-dependent deployment checks (``check_in_stack``) run in ``parse_spec``, before any resource.

Each case is a config whose problem shows only with the rest of the stack (environment,
network mode, provider targets, other deployments). For each: ``parse_spec`` raises it,
``scalepath plan`` exits 2 naming the key, and the program stops before the budgets
(the first resources it would create), which a check left in a stage's ``build()`` would not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import stacks.program
from scalepath.cli import EXIT_CONFIG, app
from scalepath.plan import run_plan
from stacks import aws as aws_stack
from stacks.config import Environment, Network, StackFacts
from stacks.errors import ConfigError
from stacks.parse import parse_spec
from tests.support import ROOT, stack_config
from tests.support.clusters import aws_config, gcp_config

LLAMA = "Qwen/Qwen3-8B"  # not gated: these cases are about other keys


def eks(name: str = "llm", **settings: Any) -> dict[str, Any]:
    return {"name": name, "model": LLAMA, "stage": "eks-vllm", "scaling": {"min": 1, "max": 2},
            "vllm": {"modelCache": {"kind": "ephemeral"}}, **settings}


def gke(**settings: Any) -> dict[str, Any]:
    return {"name": "llm", "model": LLAMA, "stage": "gke-vllm", "scaling": {"min": 1, "max": 2},
            "vllm": {"modelCache": {"kind": "ephemeral"}}, **settings}


def sagemaker(**settings: Any) -> dict[str, Any]:
    return {"name": "chat", "model": LLAMA, "stage": "sagemaker", "instanceType": "ml.g5.2xlarge",
            "container": {"server": "tgi", "version": "3.3.6"}, **settings}


def vertex(**settings: Any) -> dict[str, Any]:
    return {"name": "gemma", "model": "Qwen/Qwen2.5-7B-Instruct", "stage": "vertex",
            "machineType": "g2-standard-12", **settings}


CIDRS = ["203.0.113.0/24"]
D = "scalepath:deployments[0]"

#: case -> (config, key path, text in the message)
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "eks public control plane without CIDRs": (
        aws_config("dev", "public", eks()), f"{D}.cluster.publicAccessCidrs", "network.mode is public"),
    "gke public control plane without CIDRs": (
        gcp_config("dev", "public", gke()), f"{D}.cluster.masterAuthorizedCidrs", "list the CIDRs"),
    "prod GPU node minimum 0": (
        aws_config("prod", "private", eks(cluster={"gpuNodes": {"min": 0}})), f"{D}.cluster.gpuNodes.min",
        "prod keeps at least one GPU node"),
    "vLLM scale to zero without a gateway route (nothing would wake it)": (
        gcp_config("staging", "private", gke(scaling={"min": 0, "max": 1})),
        f"{D}.scaling.min", "0 needs demand the cluster can see"),
    "vLLM scale to zero in prod": (
        gcp_config("prod", "private", gke(scaling={"min": 0, "max": 1})),
        f"{D}.scaling.min", "prod keeps its minimum"),
    "public LB in private mode": (
        aws_config("dev", "private", eks(vllm={"modelCache": {"kind": "ephemeral"},
                                        "service": {"exposure": "public-lb"}})),
        f"{D}.vllm.service.exposure", "public-lb is refused"),
    "namespace shared by two deployments": (
        aws_config("dev", "private", eks(vllm={"modelCache": {"kind": "ephemeral"}, "namespace": "serving"}),
            eks("llm2", vllm={"modelCache": {"kind": "ephemeral"}, "namespace": "serving"})),
        f"{D}.vllm.namespace", "also used by deployments[1]"),
    "sagemaker private without egress or S3 weights": (
        aws_config("dev", "private", sagemaker()), f"{D}.weightsS3Uri", "natGateway"),
    "sagemaker serverless in private mode": (
        aws_config("dev", "private", {"name": "embed", "model": "BAAI/bge-small-en-v1.5", "stage": "sagemaker",
                               "kind": "serverless", "container": {"server": "tei", "version": "1.8.2"}},
            aws={"natGateway": True}),
        f"{D}.kind", "cannot run in a VPC"),
    "sagemaker region without the container": (
        {**aws_config("dev", "public", sagemaker()), "aws:region": "xx-nowhere-1"}, f"{D}.container.version",
        "no container for region xx-nowhere-1"),
    "vertex accelerator not in gcp:region": (
        {**gcp_config("dev", "public", vertex(machineType="a3-highgpu-8g", model="Qwen/Qwen2.5-72B-Instruct")),
         "gcp:region": "europe-west9"},
        "gcp:region", "deployments[0] (gemma)"),
    "vertex KMS key outside gcp:region": (
        gcp_config("dev", "public", vertex(kmsKey="projects/sec/locations/global/keyRings/k/cryptoKeys/c")),
        f"{D}.kmsKey", "use a key ring in us-central1"),
}


def _issues(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    """Path -> its messages (joined: the cluster and the workload may both flag ``scaling.min``)."""
    found: dict[str, str] = {}
    for issue in error.value.issues:
        found[issue.path] = f"{found[issue.path]} | {issue.message}" if issue.path in found else issue.message
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_parse_spec_reports_the_stack_check(case: str) -> None:
    cfg, path, text = CASES[case]
    config = stack_config(cfg)
    with pytest.raises(ConfigError) as error:
        parse_spec(config.values, project="scalepath", stack="test")
    found = _issues(error)
    assert path in found, found
    assert text in found[path]


@pytest.mark.parametrize("case", sorted(CASES))
def test_program_stops_before_the_budgets(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    composed: list[object] = []
    original = stacks.program.compose_budgets
    monkeypatch.setattr(stacks.program, "compose_budgets", lambda ctx: composed.append(ctx) or original(ctx))
    cfg, path, _ = CASES[case]
    with pytest.raises(ConfigError) as error:
        run_plan(stack_config(cfg))
    assert path in _issues(error)
    assert composed == [], "a config error came after the budgets were composed"


@pytest.mark.parametrize("case", sorted(CASES))
def test_scalepath_plan_exits_2_naming_the_key(case: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cfg, path, text = CASES[case]
    file = tmp_path / "Pulumi.case.yaml"
    file.write_text(yaml.safe_dump({"config": cfg}))
    result = CliRunner().invoke(app, ["plan", "--stack", "case", "--config", str(file)])
    assert result.exit_code == EXIT_CONFIG, result.output
    assert f"{path}: " in result.stderr and text in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_spy_sees_the_budgets_of_a_valid_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spy of test_program_stops_before_the_budgets does see a stack that gets that far."""
    composed: list[object] = []
    original = stacks.program.compose_budgets
    monkeypatch.setattr(stacks.program, "compose_budgets", lambda ctx: composed.append(ctx) or original(ctx))
    plan = run_plan(stack_config(aws_config("dev", "public", eks(cluster={"publicAccessCidrs": CIDRS}))))
    assert len(composed) == 1
    assert any(r.type == "aws:budgets/budget:Budget" for r in plan.resources)


def test_every_deployment_is_checked_and_all_issues_come_together() -> None:
    cfg = aws_config("prod", "public", eks(cluster={"gpuNodes": {"min": 0}}), sagemaker())
    cfg["aws:region"] = "xx-nowhere-1"
    with pytest.raises(ConfigError) as error:
        parse_spec(stack_config(cfg).values, project="scalepath", stack="test")
    assert {f"{D}.cluster.publicAccessCidrs", f"{D}.cluster.gpuNodes.min",
            "scalepath:deployments[1].container.version"} <= set(_issues(error))


def test_stack_checks_wait_for_valid_targets() -> None:
    """Hooks read validated targets: a missing ``aws:region`` is reported alone."""
    cfg = aws_config("dev", "private", sagemaker())
    del cfg["aws:region"]
    with pytest.raises(ConfigError) as error:
        parse_spec(stack_config(cfg).values, project="scalepath", stack="test")
    assert list(_issues(error)) == ["aws:region"]


def test_an_eks_deployment_gives_sagemaker_nat_egress_for_hub_weights() -> None:
    """The NAT rule is read from the facts: private SageMaker with Hub weights is valid when the
    stack also runs EKS (NAT on), and invalid when NAT is forced off."""
    cfg = aws_config("dev", "private", sagemaker(), eks())
    spec = parse_spec(stack_config(cfg).values, project="scalepath", stack="test")
    assert aws_stack.nat_egress(spec.facts())
    off = aws_config("dev", "private", sagemaker(), eks(), aws={"natGateway": False})
    with pytest.raises(ConfigError) as error:
        parse_spec(stack_config(off).values, project="scalepath", stack="test")
    assert "natGateway" in _issues(error)[f"{D}.weightsS3Uri"]


def test_facts_hold_the_validated_stack() -> None:
    config = stack_config(aws_config("staging", "private", sagemaker(weightsS3Uri="s3://weights-bucket/llama/"), eks()))
    spec = parse_spec(config.values, project="scalepath", stack="test")
    facts = spec.facts()
    assert facts == StackFacts(stack="test", stack_tag="scalepath-test", environment=Environment.STAGING,
                               network=Network(mode="private"),
                               targets=spec.targets, deployments=tuple(spec.deployments))
    assert [d.name for d in facts.deployments] == ["chat", "llm"]
    with pytest.raises(AttributeError):
        facts.environment = Environment.PROD  # type: ignore[misc]


def test_build_functions_raise_no_config_errors() -> None:
    """Stage builds create resources only; every config check is a ``check_in_stack`` hook."""
    modules = list((ROOT / "stacks" / "stages").glob("*.py"))
    assert len(modules) >= 7, "one module per stage"
    for module in modules:
        source = module.read_text()
        assert "ConfigError" not in source, f"{module.name} raises ConfigError outside parse_spec"

