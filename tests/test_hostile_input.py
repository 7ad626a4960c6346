"""Hostile input (issue 18): what an attacker or a careless user feeds `scalepath plan` and `advise`.

One test per class of input; each holds the promise for the whole class, tried on several
variants: exit 2 naming the key, no traceback, nothing secret echoed, no file lost, no hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import EXIT_CONFIG, EXIT_OK, EXIT_VIOLATIONS, app
from scalepath.policy_runner import PolicyPackSession
from tests.support import ROOT
from tests.support.policy import TAGS, of, run
from tests.support.policy import resource as planned

runner = CliRunner()

#: Token-shaped strings, never real credentials.
HF = "hf_" + "Q7xLmN2pR8sT4vW6yZ1aB3cD5eF9gH0jK"
SK = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AKIA = "AKIA" + "Z7Q2X9W4V6T3R8P5"
GHP = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.fixture(autouse=True)
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _dev() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())["config"]


def _file(folder: Path, config: dict[str, Any] | str, name: str = "Pulumi.case.yaml") -> Path:
    path = folder / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump({"config": config}))
    return path


def _plan(*args: str):
    return runner.invoke(app, ["plan", *args])


def _assert_refused(result, key: str, *secrets: str) -> None:
    """Exit 2 naming ``key``, no traceback, no secret anywhere in what the user sees."""
    shown = result.output + result.stderr
    assert result.exit_code == EXIT_CONFIG, shown
    assert isinstance(result.exception, SystemExit), f"an exception escaped: {result.exception!r}"
    assert key in result.stderr, result.stderr
    for secret in secrets:
        assert secret not in shown, f"{secret[:6]}... echoed"


def _deployment(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in config["scalepath:deployments"] if d["name"] == name)


# --- Secrets -------------------------------------------------------------------------------------

TOKEN_INSIDE: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "tag value with a prefix glued by _": (
        lambda c: c["scalepath:tags"].update(ci=f"ci_{HF}"), "scalepath:tags.ci", HF),
    "label whose space became _": (
        lambda c: c["scalepath:tags"].update(owner=f"token_{HF}_rotated"), "scalepath:tags.owner", HF),
    "--hf-token= in container args": (
        lambda c: _deployment(c, "chat-endpoint").update(args=["--max-model-len", "8192", f"--hf-token={HF}"]),
        "scalepath:deployments[1].args[2]", HF),
    "OpenAI key after --api-key": (
        lambda c: _deployment(c, "chat-endpoint").update(args=[f"--api-key {SK}"]),
        "scalepath:deployments[1].args[0]", SK),
    "AWS key id inside a word": (
        lambda c: c["scalepath:tags"].update(owner=f"key{AKIA}x"), "scalepath:tags.owner", AKIA),
    "GitHub token in a provider key": (
        lambda c: c.update({"aws:profile": f"ci:{GHP}"}), "aws:profile", GHP),
    "token as a map key": (lambda c: c["scalepath:tags"].update({HF: "v"}), "scalepath:tags", HF),
    "token as a config key": (lambda c: c.update({f"ci:{HF}": "x"}), "ci:[redacted]", HF),
}


@pytest.mark.parametrize("case", sorted(TOKEN_INSIDE))
def test_token_inside_a_longer_value_is_refused_naming_the_key(tmp_path: Path, case: str) -> None:
    mutate, key, secret = TOKEN_INSIDE[case]
    config = _dev()
    mutate(config)
    result = _plan("--stack", "case", "--config", str(_file(tmp_path, config)))
    _assert_refused(result, f"{key}: holds a credential", secret)


@pytest.mark.parametrize("where", ["stage", "name", "model"])
def test_a_token_pasted_where_it_does_not_belong_is_not_echoed(tmp_path: Path, where: str) -> None:
    config = _dev()
    config["scalepath:deployments"][0][where] = HF
    result = _plan("--stack", "case", "--config", str(_file(tmp_path, config)), "--json")
    _assert_refused(result, f"scalepath:deployments[0].{where}", HF)


@pytest.mark.parametrize("value", [f"ci_{HF}", f"--token={HF}", f"x{AKIA}", f"--api-key_{SK}", f"a_{GHP}"])
def test_the_pack_finds_a_token_inside_a_longer_value(pack: PolicyPackSession, value: str) -> None:
    bucket = planned("aws:s3/bucketV2:BucketV2", {"tags": {**TAGS, "note": value}})
    found = of(run(pack, [bucket]), "no-plaintext-secrets")
    assert [v["urn"] for v in found] == [bucket.urn]
    assert value not in json.dumps(found)


@pytest.mark.parametrize("environment", ["[secret]", {"HF_MODEL_ID": "org/m", "HF_TOKEN": HF}],
                         ids=["offline (secret as a whole)", "decrypted by the engine"])
def test_a_secret_environment_gets_the_same_verdict_offline_and_decrypted(
        pack: PolicyPackSession, environment: Any) -> None:
    model = planned("aws:sagemaker/model:Model", {
        "executionRoleArn": "arn:aws:iam::123456789012:role/sm", "tags": dict(TAGS),
        "primaryContainer": {"image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tgi:3.0",
                             "environment": environment}})
    found = of(run(pack, [model]), "no-plaintext-secrets")
    assert found and {v["level"] for v in found} == {"mandatory"}


# --- Nothing lost: --out ---------------------------------------------------------------------------

def _cli(*args: str, fsize: int | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`scalepath plan ...` in its own process, optionally with a file-size limit (a full disk).

    The child sets the limit itself: a ``preexec_fn`` is unsafe in a process with threads (the
    gRPC threads of an earlier test) and crashed the fork."""
    limit = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "  # EFBIG, not a kill
             f"resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize})); ") if fsize is not None else ""
    return subprocess.run([sys.executable, "-c", f"{limit}from scalepath.cli import app; app()", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_out_is_written_whole_or_not_at_all_and_private(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    first = _cli("plan", "--stack", "dev", "--out", str(out))
    assert first.returncode == EXIT_OK, first.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    previous = out.read_text()
    # The disk fills up 4 KiB into the next write: the plan JSON is larger than that.
    failed = _cli("plan", "--stack", "dev", "--out", str(out), fsize=4096)
    assert failed.returncode == EXIT_CONFIG and "cannot write --out" in failed.stderr, failed.stderr
    assert out.read_text() == previous
    assert json.loads(previous)["stack"] == "dev"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temporary file left


def test_out_onto_a_device_writes_the_device_and_keeps_the_link(tmp_path: Path) -> None:
    # /dev/full takes no byte: the plan cannot be written, and the link must not be replaced.
    out = tmp_path / "plan.json"
    out.symlink_to("/dev/full")
    result = _cli("plan", "--stack", "dev", "--out", str(out))
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "cannot write --out" in result.stderr and "No space left on device" in result.stderr
    assert out.is_symlink() and os.readlink(out) == "/dev/full"


def test_out_into_a_folder_that_takes_no_file_says_so() -> None:
    result = _cli("plan", "--stack", "dev", "--out", "/proc/version")
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "cannot create a file in /proc" in " ".join(result.stderr.split())


def test_a_plot_on_a_full_disk_keeps_the_previous_image(tmp_path: Path) -> None:
    plot = tmp_path / "cost.png"
    args = ("advise", "--requests-per-month", "100000", "--input-tokens", "500", "--output-tokens", "200",
            "--model", "8B", "--plot", str(plot))
    first = _cli(*args)
    assert first.returncode == EXIT_OK, first.stderr
    previous = plot.read_bytes()
    assert len(previous) > 4096
    failed = _cli(*args, fsize=4096)
    assert failed.returncode == EXIT_CONFIG and "cannot write --plot" in failed.stderr, failed.stderr
    assert plot.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost.png"]


# --- Processes: config size and unreadable config files -------------------------------------------

def test_a_config_over_128_kib_plans(tmp_path: Path) -> None:
    config = _dev()
    # Another program's namespace, as a team shares one stack file: valid, and the engine passes it on.
    config["ops:runbook"] = "step: check the dashboard.\n" * 8000
    path = _file(tmp_path, config)
    assert path.stat().st_size > 128 * 1024
    result = _plan("--stack", "case", "--config", str(path), "--json")
    assert result.exit_code == EXIT_OK, result.output + result.stderr


@pytest.mark.parametrize("kind", ["fifo", "char device", "directory", "oversized"])
def test_config_must_be_a_regular_file_of_bounded_size(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "Pulumi.fifo.yaml"
        os.mkfifo(path)
    elif kind == "char device":
        path = Path("/dev/zero")
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "Pulumi.big.yaml"
        with path.open("wb") as handle:  # sparse: no disk used
            handle.truncate(65 * 1024 * 1024)
    for option in ("--config", "--policy-config"):
        args = ["plan", "--stack", "dev", option, str(path)]
        # A hang or an endless read is the failure: the subprocess timeout only stops a broken build.
        result = _cli(*args, timeout=300)
        assert result.returncode == EXIT_CONFIG, result.stderr
        assert str(path) in result.stderr and "Traceback" not in result.stderr, result.stderr


# --- Policy config ---------------------------------------------------------------------------------

POLICY_CONFIGS = {
    "unknown property (a typo)": ('{"budget-per-stack": {"maxMonthlyUSD": 10}}', "maxMonthlyUSD"),
    "regex that does not compile": ('{"no-plaintext-secrets": {"tokenPatterns": ["hf_[a-z"]}}', "tokenPatterns"),
    "name pattern that does not compile": ('{"no-plaintext-secrets": {"secretNamePattern": "(TOKEN"}}',
                                           "secretNamePattern"),
    "1e400": ('{"budget-per-stack": {"maxMonthlyUsd": 1e400}}', "maxMonthlyUsd"),
    "NaN": ('{"budget-per-stack": {"maxMonthlyUsd": NaN}}', "maxMonthlyUsd"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CONFIGS))
def test_bad_policy_config_exits_2_naming_the_field(tmp_path: Path, case: str) -> None:
    text, field = POLICY_CONFIGS[case]
    path = tmp_path / "policy.json"
    path.write_text(text)
    result = _plan("--stack", "dev", "--policy-config", str(path))
    _assert_refused(result, field)
    assert "policy pack failed" not in result.stderr


def test_a_huge_policy_value_is_not_echoed_in_full(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"required-tags": {"requiredKeys": [7] * 200_000}}))
    result = _plan("--stack", "dev", "--policy-config", str(path))
    _assert_refused(result, "requiredKeys")
    assert len(result.stderr) < 5_000 and "characters in all" in result.stderr


def test_a_policy_pattern_that_backtracks_without_end_is_reported_not_run_forever(tmp_path: Path) -> None:
    # Python's re takes about 2^80 steps for this pattern on this tag value: the plan never ended.
    config = _dev()
    config["scalepath:tags"]["note"] = "a" * 80 + "!"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"no-plaintext-secrets": {"tokenPatterns": ["(a|aa)+$"]}}))
    result = _cli("plan", "--stack", "case", "--config", str(_file(tmp_path, config)), "--policy-config",
                  str(policy), "--json", timeout=300)
    assert result.returncode == EXIT_VIOLATIONS, result.stderr
    slow = [v for v in json.loads(result.stdout)["violations"] if v["policy"] == "no-plaintext-secrets"]
    assert len(slow) == 1 and slow[0]["level"] == "mandatory"
    assert "`tokenPatterns[0]` took over 1s" in slow[0]["message"]


# --- Input that must be refused --------------------------------------------------------------------

DUPLICATES = {
    "top-level config key": ("config:\n  scalepath:environment: dev\n  scalepath:environment: prod\n",
                             "scalepath:environment"),
    "tag": ("config:\n  scalepath:tags:\n    team: a\n    cost-center: b\n    team: c\n", "scalepath:tags.team"),
    "in a deployment": ("config:\n  scalepath:deployments:\n    - name: a\n      stage: hf-serverless\n"
                        "      name: b\n", "scalepath:deployments[0].name"),
}


@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_duplicate_yaml_keys_are_refused(tmp_path: Path, case: str) -> None:
    text, key = DUPLICATES[case]
    result = _plan("--stack", "case", "--config", str(_file(tmp_path, text)))
    _assert_refused(result, key)
    assert "duplicate key" in result.stderr


def _dev_text(extra: str) -> str:
    """The dev stack's file with ``extra`` lines appended under ``config:``."""
    return (ROOT / "environments" / "Pulumi.dev.yaml").read_text().rstrip("\n") + "\n" + extra


_LAUGHS = "".join(f"  x-{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
YAML_SHAPES = {
    "alias bomb (billion laughs, 440 bytes)": ('  x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
                                               + _LAUGHS, "expand to more than 1,000,000 values"),
    "alias that contains itself": ("  x-loop: &loop [1, *loop]\n", "x-loop[1]: an alias refers to a value that "
                                                                 "contains it"),
    "500-deep flow map": ("  x-deep: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "nested too deeply"),
    "100-deep flow map": ("  x-deep: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "nested more than 64 levels"),
    "!!binary tag value": ("  x-tag: !!binary aGVsbG8=\n", "x-tag: `!!binary` is not a value"),
    "!!set tag value": ("  x-tag: !!set {a, b}\n", "x-tag: `!!set` is not a value"),
}


@pytest.mark.parametrize("case", sorted(YAML_SHAPES))
def test_yaml_that_is_no_config_is_refused_quickly_and_clearly(tmp_path: Path, case: str) -> None:
    extra, says = YAML_SHAPES[case]
    # In a process of its own, with a deadline: before the bound the alias bomb ran for minutes.
    result = _cli("plan", "--stack", "case", "--config", str(_file(tmp_path, _dev_text(extra))), timeout=120)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert says in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_an_unquoted_date_is_the_text_it_reads(tmp_path: Path) -> None:
    config = _dev_text("").replace("  scalepath:tags:\n", "  scalepath:tags:\n    owner-since: 2024-01-01\n")
    assert "owner-since: 2024-01-01" in config
    result = _plan("--stack", "case", "--config", str(_file(tmp_path, config)), "--json")
    assert result.exit_code == EXIT_OK, result.output
    tags = [r["inputs"].get("tags") for r in json.loads(result.stdout)["resources"] if r["inputs"].get("tags")]
    assert tags and all(t.get("owner-since") == "2024-01-01" for t in tags)


def test_a_deeply_nested_policy_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"required-tags": {"x": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}}")
    result = _plan("--stack", "dev", "--policy-config", str(path))
    _assert_refused(result, "nested more than 64 levels deep")


def test_policy_level_follows_the_environment_not_the_stack_name(tmp_path: Path) -> None:
    config = _dev()
    config["scalepath:environment"] = "prod"
    config["scalepath:budget"]["notify"] = ["a@example.com", "b@example.com"]
    endpoint = _deployment(config, "chat-endpoint")
    endpoint["scaling"] = {"min": 1, "max": 1}
    config["scalepath:deployments"] = [endpoint]
    # A public HF endpoint: private-endpoints-in-prod is mandatory in prod.json, disabled in dev.json.
    for stack in ("dev", "prod"):
        result = _plan("--stack", stack, "--config", str(_file(tmp_path, config)), "--json")
        assert result.exit_code == 1, result.output + result.stderr
        found = {v["policy"] for v in json.loads(result.stdout)["violations"] if v["level"] == "mandatory"}
        assert "private-endpoints-in-prod" in found, (stack, found)


def _prod() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "environments" / "Pulumi.prod.yaml").read_text())["config"]


def _refused(tmp_path: Path, config: dict[str, Any], key: str, stack: str = "case") -> None:
    result = _plan("--stack", stack, "--config", str(_file(tmp_path, config)))
    _assert_refused(result, f"{key}:")


NUMBERS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "budget .inf": (lambda c: c["scalepath:budget"].update(monthlyUsd=float("inf")), "scalepath:budget.monthlyUsd"),
    "budget .nan": (lambda c: c["scalepath:budget"].update(monthlyUsd=float("nan")), "scalepath:budget.monthlyUsd"),
    "budget true": (lambda c: c["scalepath:budget"].update(monthlyUsd=True), "scalepath:budget.monthlyUsd"),
    "threshold list with true": (lambda c: c["scalepath:budget"].update(alertThresholdsPct=[True, 80]),
                                 "scalepath:budget.alertThresholdsPct"),
    "scaling threshold .inf": (lambda c: _deployment(c, "chat-endpoint")["scaling"].update(threshold=float("inf")),
                               "scalepath:deployments[1].scaling.threshold"),
    "min true": (lambda c: _deployment(c, "chat-endpoint")["scaling"].update(min=True, max=1),
                 "scalepath:deployments[1].scaling.min"),
    "integer beyond a double": (lambda c: _deployment(c, "chat-endpoint")["scaling"].update(max=10**400),
                                "scalepath:deployments[1].scaling.max"),
    "expected usage true": (lambda c: _deployment(c, "chat-serverless")["expectedUsage"].update(requestsPerMonth=True),
                            "scalepath:deployments[0].expectedUsage.requestsPerMonth"),
}


@pytest.mark.parametrize("case", sorted(NUMBERS))
def test_non_finite_numbers_and_booleans_for_numbers_are_refused(tmp_path: Path, case: str) -> None:
    mutate, key = NUMBERS[case]
    config = _dev()
    mutate(config)
    _refused(tmp_path, config, key)


@pytest.mark.parametrize("value", ["ml\x07team", "line\nbreak", "zero\u200bwidth", "--", "@@@", "...", "_"])
def test_tag_values_with_control_characters_or_empty_labels_are_one_error_on_the_key(
        tmp_path: Path, value: str) -> None:
    config = _dev()
    config["scalepath:tags"]["owner"] = value
    result = _plan("--stack", "case", "--config", str(_file(tmp_path, config)))
    _assert_refused(result, "scalepath:tags.owner:")
    assert result.stderr.count("scalepath:tags") == 1, result.stderr


@pytest.mark.parametrize("stack", ["Prod_EU.v2", "prod.eu", "PROD", "team_a", "-x", "x-", "a" * 64])
def test_stack_names_clouds_do_not_take_are_refused(tmp_path: Path, stack: str) -> None:
    result = _plan("--stack", stack, "--config", str(_file(tmp_path, _dev())))
    _assert_refused(result, "stack:")


def test_long_stack_names_give_distinct_cloud_names() -> None:
    from scalepath.plan import run_plan  # noqa: PLC0415
    from tests.support import stack_config  # noqa: PLC0415

    config = yaml.safe_load((ROOT / "environments" / "Pulumi.staging.yaml").read_text())["config"]
    names = set()
    for first in "ab":  # differ only in the first character, which a cut to 63 characters drops
        plan = run_plan(stack_config(config, stack=first + "-very-long-stack-name" * 2 + "-x" * 9))
        names |= {r.inputs["name"] for r in plan.resources if r.type == "aws:sagemaker/endpoint:Endpoint"}
    assert len(names) == 2 and all(len(n) <= 63 for n in names), names


COLLISIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "HF endpoint names": (
        lambda c: c["scalepath:deployments"].extend([
            {**_deployment(c, "chat-endpoint"), "name": "chat-b", "endpointName": "shared"},
            {**_deployment(c, "chat-endpoint"), "name": "chat-c", "endpointName": "shared"}]),
        "scalepath:deployments[3].endpointName"),
    "secret names": (
        lambda c: c["scalepath:deployments"].extend([
            {**_deployment(c, "chat-serverless"), "name": f"s-{n}", "secretStore": {"cloud": "aws", "secretName": "t"}}
            for n in "bc"]),
        "scalepath:deployments[3].secretStore.secretName"),
}


@pytest.mark.parametrize("case", sorted(COLLISIONS))
def test_deployments_whose_cloud_names_collide_are_refused(tmp_path: Path, case: str) -> None:
    mutate, key = COLLISIONS[case]
    config = _dev()
    mutate(config)
    _refused(tmp_path, config, key)


def _private(config: dict[str, Any], environment: str) -> dict[str, Any]:
    config["scalepath:environment"] = environment
    config["scalepath:network"] = {"mode": "private"}
    return config


PUBLIC_PATHS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "hf-serverless in private prod": (
        lambda: {**_private(_dev(), "prod"), "scalepath:deployments": [_deployment(_dev(), "chat-serverless")]},
        "scalepath:deployments[0].stage"),
    "authenticated HF endpoint in private prod": (
        lambda: {**_private(_dev(), "prod"), "scalepath:deployments": [
            {**_deployment(_dev(), "chat-endpoint"), "scaling": {"min": 1, "max": 1}}]},
        "scalepath:deployments[0].access"),
    "HF endpoint scaling to zero in prod": (
        lambda: {**_dev(), "scalepath:environment": "prod", "scalepath:deployments": [
            {**_deployment(_dev(), "chat-endpoint"), "access": "public"}]},
        "scalepath:deployments[0].scaling.min"),
    "SageMaker async scaling to zero in prod": (
        lambda: {**_prod(), "scalepath:deployments": [
            {**_prod()["scalepath:deployments"][0], "kind": "async",
             "scaling": {"min": 0, "max": 2, "metric": "backlog-per-instance", "targetValue": 4}}]},
        "scalepath:deployments[0].scaling.min"),
    "internal LB flipped internet-facing in private staging": (
        lambda: {**_private(_prod(), "staging"), "scalepath:deployments": [
            {**_prod()["scalepath:deployments"][1], "vllm": {
                **_prod()["scalepath:deployments"][1]["vllm"], "service": {
                    "exposure": "internal-lb",
                    "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}}}}]},
        "scalepath:deployments[0].vllm.service.annotations"),
}


@pytest.mark.parametrize("case", sorted(PUBLIC_PATHS))
def test_private_or_prod_stacks_refuse_a_public_path_or_scale_to_zero(tmp_path: Path, case: str) -> None:
    build, key = PUBLIC_PATHS[case]
    _refused(tmp_path, build(), key)


def _eks(config: dict[str, Any]) -> dict[str, Any]:
    return _deployment(config, "chat-eks")


WILDCARDS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "SageMaker kmsKeyArn key/*": (
        lambda c: _deployment(c, "chat").update(kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/*"),
        "scalepath:deployments[0].kmsKeyArn"),
    "weights S3 URI with *": (
        lambda c: _deployment(c, "chat").update(weightsS3Uri="s3://ml-platform-model-weights/*"),
        "scalepath:deployments[0].weightsS3Uri"),
    "EKS secrets key *": (
        lambda c: _eks(c)["cluster"].update(kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/*"),
        "scalepath:deployments[1].cluster.kmsKeyArn"),
    "model cache URI with ?": (
        lambda c: _eks(c)["vllm"].update(modelCache={"kind": "s3", "uri": "s3://weights/models/?"}),
        "scalepath:deployments[1].vllm.modelCache.uri"),
}


@pytest.mark.parametrize("case", sorted(WILDCARDS))
def test_wildcards_where_the_code_builds_iam_are_refused(tmp_path: Path, case: str) -> None:
    mutate, key = WILDCARDS[case]
    config = _prod()
    mutate(config)
    _refused(tmp_path, config, key)


@pytest.mark.parametrize("arg", ["--max_model_len=4096", "--max_model_len", "--gpu_memory_utilization=0.5",
                                 "--max-model=4096", "-tp", "--tensor_parallel_size.x=2", "--served_model_name=x"])
def test_vllm_extra_args_cannot_override_managed_flags_in_any_spelling(tmp_path: Path, arg: str) -> None:
    config = _prod()
    _eks(config)["vllm"]["extraArgs"] = [arg, "4096"] if "=" not in arg and arg != "-tp" else [arg]
    _refused(tmp_path, config, "scalepath:deployments[1].vllm.extraArgs")


ADVISE = {
    "--model 1e15": (["--model", "1e15"], "--model"),
    "--model 0B": (["--model", "0B"], "--model"),
    "--model 0": (["--model", "0"], "--model"),
    "--model=-8B (a sign is no model name)": (["--model=-8B"], "--model"),
    "--model +8B": (["--model", "+8B"], "--model"),
    "--model 1e400": (["--model", "1e400"], "--model"),
    "--plot into a missing folder": (["--model", "8B", "--plot", "{tmp}/missing/cost.png"], "--plot"),
    "--plot with an unknown extension": (["--model", "8B", "--plot", "{tmp}/cost.xyz"], "--plot"),
    "--latency-p95-ms inf": (["--model", "8B", "--latency-p95-ms", "inf"], "--latency-p95-ms"),
}


@pytest.mark.parametrize("case", sorted(ADVISE))
def test_advise_refuses_unusable_input_clearly(tmp_path: Path, case: str) -> None:
    extra, option = ADVISE[case]
    args = ["advise", "--requests-per-month", "100000", "--input-tokens", "500", "--output-tokens", "200",
            *(a.format(tmp=tmp_path) for a in extra)]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), f"an exception escaped: {result.exception!r}"
    assert option in result.output + result.stderr
    assert list(tmp_path.iterdir()) == []


def _gke() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "environments" / "Pulumi.gke-staging.yaml").read_text())["config"]


MISFITS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "405B on one L4 (eks-vllm)": (
        lambda: {**_prod(), "scalepath:deployments": [
            {**_prod()["scalepath:deployments"][1], "model": "meta-llama/Llama-3.1-405B-Instruct",
             "cluster": {**_prod()["scalepath:deployments"][1]["cluster"],
                         "gpuNodes": {"instanceTypes": ["g6.xlarge"]}}}]},
        "scalepath:deployments[0].vllm.gpusPerReplica"),
    "70B beside a fitting type (eks-vllm)": (
        lambda: {**_prod(), "scalepath:deployments": [
            {**_prod()["scalepath:deployments"][1], "model": "meta-llama/Llama-3.1-70B-Instruct"}]},
        "scalepath:deployments[0].vllm.gpusPerReplica"),
    "70B on gke-vllm's default L4 machine": (
        lambda: {**_gke(), "scalepath:deployments": [
            {**_gke()["scalepath:deployments"][0], "model": "meta-llama/Llama-3.1-70B-Instruct"}]},
        "scalepath:deployments[0].vllm.gpusPerReplica"),
    "70B on one A10G (hf-endpoint)": (
        lambda: {**_dev(), "scalepath:deployments": [
            {**_deployment(_dev(), "chat-endpoint"), "model": "meta-llama/Llama-3.1-70B-Instruct"}]},
        "scalepath:deployments[0].instanceSize"),
}


@pytest.mark.parametrize("case", sorted(MISFITS))
def test_models_that_fit_no_gpu_are_refused_on_self_hosted_and_hf_stages(tmp_path: Path, case: str) -> None:
    build, key = MISFITS[case]
    _refused(tmp_path, build(), key)


# --- Exit codes: a crash is never a verdict ---------------------------------------------------------

def test_a_crash_in_any_command_exits_70_in_one_line_never_0_1_or_2() -> None:
    # A bug stands in as an exception from inside plan; CI must not read it as "violations" (1).
    boot = ("import scalepath.cli as cli\n"
            "def bug(*args, **kwargs):\n    raise ZeroDivisionError('division by zero')\n"
            "cli.run_plan = bug\ncli.app()\n")
    result = subprocess.run([sys.executable, "-c", boot, "plan", "--stack", "dev"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 70, result.stderr
    assert "internal error, the command did not complete (ZeroDivisionError: division by zero)" in " ".join(
        result.stderr.split())
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- Exit codes: a result stdout cannot take --------------------------------------------------------

_GATEWAY_CONFIG = ("gateway", "config", "--stack", "gateway-dev")


def _program(stdout: int | Any, *, close_stdout: bool = False) -> tuple[int, str]:
    """`scalepath gateway config` as a program writing to ``stdout``; with ``close_stdout`` its fd 1
    is closed when it starts (a shell's ``>&-``). Exit code and stderr."""
    shell = ["sh", "-c", 'exec "$@" >&-', "sh"] if close_stdout else []
    process = subprocess.Popen([*shell, sys.executable, "-c", "from scalepath.__main__ import main; main()",
                                *_GATEWAY_CONFIG], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    if stdout is subprocess.PIPE:
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before anything is written (`| head -c0`)
    _, stderr = process.communicate(timeout=600)
    return process.returncode, stderr


def test_a_reader_that_went_away_ends_the_command_with_141_not_a_verdict() -> None:
    """Click turned EPIPE into exit 1, a gate's refusal (issue 27, class 10). 141 is what a shell
    shows for a process SIGPIPE ended; the reader is gone, so nothing more is said."""
    code, stderr = _program(subprocess.PIPE)
    assert (code, stderr) == (141, "")


@pytest.mark.parametrize("where", ["/dev/full", "closed"])
def test_a_stdout_that_takes_no_result_is_exit_2_saying_so(where: str) -> None:
    """``>/dev/full`` crashed (exit 70, "please report it"); ``>&-`` printed a traceback and
    exited 1 after the result vanished."""
    if where == "closed":
        code, stderr = _program(subprocess.DEVNULL, close_stdout=True)
        said = "standard output is closed"
    else:
        with open(where, "w") as full:
            code, stderr = _program(full)
        said = "cannot write the result to standard output: No space left on device"
    assert code == EXIT_CONFIG, stderr
    assert said in stderr and "Traceback" not in stderr


# --- Echoes are bounded, in every error -------------------------------------------------------------

_HUGE = "a" * 100_000
ECHOES = {
    "--stack": ["plan", "--stack", _HUGE],
    "--out": ["plan", "--stack", "dev", "--out", f"/nonexistent/{_HUGE}"],
    "--backend name": ["gateway", "config", "--stack", "gateway-dev", "--backend", f"{_HUGE}=http://127.0.0.1/v1"],
    "advise --model": ["advise", "--model", _HUGE, "--requests-per-month", "1", "--input-tokens", "1",
                       "--output-tokens", "1"],
    "advise --instance": ["advise", "--model", "8B", "--instance", _HUGE, "--requests-per-month", "1",
                          "--input-tokens", "1", "--output-tokens", "1"],
    "an unknown option": ["plan", f"--{_HUGE}"],
}


@pytest.mark.parametrize("case", sorted(ECHOES))
def test_a_huge_argument_is_not_echoed_in_full(case: str) -> None:
    """A 100,000-character argument was repeated whole in the error (class 13): at most
    300 characters of it now, and how long it was."""
    result = runner.invoke(app, ECHOES[case])
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    said = result.output + result.stderr
    assert "characters in all" in said and len(said) < 5_000, said[:500]
    assert _HUGE[:301] not in said


def test_a_key_path_is_printed_as_written_never_as_an_emoji(tmp_path: Path) -> None:
    """``scalepath:x: unknown key`` printed as ``scalepath❌ unknown key`` (rich's emoji codes)."""
    config = _file(tmp_path, _dev_text("  scalepath:x: 1\n  scalepath:up: 2\n"))
    result = _plan("--stack", "dev", "--config", str(config))
    assert result.exit_code == EXIT_CONFIG, result.output
    said = result.output + result.stderr
    assert "scalepath:x: unknown key" in said and "scalepath:up: unknown key" in said, said
