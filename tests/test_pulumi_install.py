"""What `pulumi install` / `pulumi up` / `pulumi preview --policy-pack policies` install on a fresh
clone, reproduced from Pulumi's Python language host (pulumi/pulumi `sdk/python/toolchain/pip.go`,
`pkg/engine` `getPwdMain`): the program folder is ``main:`` when it is a folder (the project root
otherwise), the virtualenv is resolved against the folder holding the project file, and the pip
toolchain runs ``python -m venv <venv>``, ``python -m pip install --upgrade pip setuptools wheel``
and, only if ``requirements.txt`` exists in the program folder, ``python -m pip install -r
requirements.txt`` there. Without that file the venv is created empty.

What this proves: each requirements file Pulumi reads exists where Pulumi looks, and pip's own
requirements parser (run from the folder Pulumi runs pip in) resolves every line to an editable
install of this repository's ``pyproject.toml`` project, whose dependencies are the ones the quick
start installs. It does not download the dependencies (the tests are offline). Run by hand once
with a package index: a new virtualenv, Pulumi's two pip commands from ``stacks/``, then
``import stacks.program, policies, pulumi_policy`` from another folder: all installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import parse_requirements

from tests.support import ROOT

PROJECT_FILES = [ROOT / "Pulumi.yaml", ROOT / "policies" / "PulumiPolicy.yaml"]


def _program_dir(project_file: Path) -> Path:
    """Pulumi's program folder: ``main`` when it names a folder, else the project file's folder."""
    root = project_file.parent
    main = (yaml.safe_load(project_file.read_text()) or {}).get("main")
    return (root / main).resolve() if main and (root / main).is_dir() else root.resolve()


def _runtime_options(project_file: Path) -> dict:
    runtime = yaml.safe_load(project_file.read_text())["runtime"]
    assert runtime["name"] == "python"
    return runtime.get("options") or {}


def _project_name(folder: Path) -> str | None:
    """``[project] name`` of ``folder/pyproject.toml`` (tomllib is 3.11+; the project supports 3.10)."""
    pyproject = folder / "pyproject.toml"
    found = re.search(r'(?ms)^\[project\]$.*?^name = "([^"]+)"', pyproject.read_text()) if pyproject.is_file() else None
    return found.group(1) if found else None


@pytest.mark.parametrize("project_file", PROJECT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pulumi_pip_toolchain_installs_this_project(project_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = _runtime_options(project_file)
    # pip is the toolchain these rules are for (and Pulumi's default when none is named).
    assert options.get("toolchain", "pip") == "pip"
    program_dir = _program_dir(project_file)
    requirements = program_dir / "requirements.txt"
    assert requirements.is_file(), f"Pulumi's pip toolchain reads {requirements.relative_to(ROOT)}; it is missing"

    monkeypatch.chdir(program_dir)  # pip runs there, and resolves relative paths against it
    parsed = [install_req_from_parsed_requirement(line)
              for line in parse_requirements(str(requirements), session=PipSession())]
    assert parsed, f"{requirements.relative_to(ROOT)} installs nothing"
    for requirement in parsed:
        assert requirement.editable and requirement.link is not None and requirement.link.is_file
        assert Path(requirement.link.file_path).resolve() == ROOT.resolve()
    assert _project_name(ROOT) == "scalepath"


def test_the_pack_shares_the_project_virtualenv() -> None:
    """The pack's ``virtualenv`` and the project's name one folder, so either install fills it."""
    venvs = {(project_file.parent / _runtime_options(project_file)["virtualenv"]).resolve()
             for project_file in PROJECT_FILES}
    assert venvs == {(ROOT / ".venv").resolve()}
