"""`scalepath plan` end to end: exit codes, key-path messages, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scalepath.cli import EXIT_CONFIG, EXIT_OK, app
from tests.support import ROOT

runner = CliRunner()


@pytest.fixture(autouse=True)
def in_project(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def _plan(*args: str):
    return runner.invoke(app, ["plan", *args])


def test_dev_plan_json(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = _plan("--stack", "dev", "--json", "--out", str(out))
    assert result.exit_code == EXIT_OK, result.output
    document = json.loads(result.stdout)
    assert document["stack"] == "dev" and document["project"] == "scalepath"
    assert document["resources"]
    assert json.loads(out.read_text()) == document


def test_readable_plan_shows_the_tree() -> None:
    result = _plan("--stack", "dev")
    assert result.exit_code == EXIT_OK, result.output
    assert "scalepath/dev" in result.stdout and "aws:budgets/budget:Budget" in result.stdout


def _base() -> dict:
    return yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())["config"]


BAD_CASES = {
    "unknown stage": (lambda c: c.update({"scalepath:deployments": [
        {"name": "m", "model": "org/m", "stage": "lambda"}]}),
        "scalepath:deployments[0].stage", "allowed: hf-serverless"),
    "missing tag key": (lambda c: c["scalepath:tags"].pop("cost-center"),
                        "scalepath:tags", "'cost-center'"),
    "unknown key": (lambda c: c["scalepath:budget"].update({"monthlyUSD": 5}),
                    "scalepath:budget.monthlyUSD", "allowed keys: alertThresholdsPct"),
    "wrong type": (lambda c: c["scalepath:budget"].update({"monthlyUsd": "lots"}),
                   "scalepath:budget.monthlyUsd", "valid number"),
    "bad environment": (lambda c: c.update({"scalepath:environment": "qa"}),
                        "scalepath:environment", "'dev', 'staging' or 'prod'"),
    "plain token": (lambda c: c.update({"scalepath:hfToken": "hf_" + "x" * 34}),
                    "scalepath:hfToken", "--secret"),
    "missing region": (lambda c: c.pop("aws:region"), "aws:region", "pulumi config set aws:region"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, case: str) -> None:
    mutate, path, hint = BAD_CASES[case]
    config = _base()
    mutate(config)
    result = _plan("--stack", "case", "--config", str(_write(tmp_path, config)))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert f"{path}:" in result.stderr and hint in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "x" * 34 not in result.output + result.stderr


def test_malformed_yaml_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  scalepath:tags: {team: [x\n")
    result = _plan("--stack", "bad", "--config", str(path))
    assert result.exit_code == EXIT_CONFIG
    assert "malformed YAML at line" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_missing_stack_file_exits_2() -> None:
    result = _plan("--stack", "nonexistent")
    assert result.exit_code == EXIT_CONFIG
    assert "Pulumi.nonexistent.yaml" in result.stderr and "not found" in result.stderr


BAD_FILES = {
    "a directory": (lambda d: d, "is a directory"),
    "an empty file": (lambda d: _text(d, ""), "scalepath:environment: required key is missing"),
    "a YAML list": (lambda d: _text(d, "- config\n- x\n"), "expected a mapping with a `config:` mapping"),
    "a list under config": (lambda d: _text(d, "config: [1]\n"), "expected a mapping with a `config:` mapping"),
    "a number as key": (lambda d: _text(d, "config:\n  1: 2\n"), "config keys are names"),
    "binary bytes": (lambda d: _text(d, b"\xff\xfe\x00"), "is not UTF-8 text"),
}


def _text(folder: Path, content: str | bytes) -> Path:
    path = folder / "Pulumi.case.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unusable_config_file_exits_2_without_traceback(tmp_path: Path, case: str) -> None:
    make, message = BAD_FILES[case]
    result = _plan("--stack", "case", "--config", str(make(tmp_path)))
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit), "an exception escaped: the user would see a traceback"


def test_outside_a_project_exits_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _plan("--stack", "dev")
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    assert "no Pulumi.yaml" in result.stderr


def test_unusable_policy_config_and_out_paths_exit_2(tmp_path: Path) -> None:
    result = _plan("--stack", "dev", "--policy-config", str(tmp_path))
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    assert "cannot read" in result.stderr
    result = _plan("--stack", "dev", "--json", "--out", str(tmp_path))
    assert result.exit_code == EXIT_CONFIG, (result.output, result.exception)
    assert f"cannot write --out {tmp_path}" in result.stderr
