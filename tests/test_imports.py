"""Imports run one way (scalepath -> stacks -> components, policies standalone, no module cycle),
and a plan imports only the stages its stack uses."""

from __future__ import annotations

import graphlib
import json
import os
import subprocess
import sys

import grimp
import pytest

from stacks.config import Stage
from stacks.stages import STAGES
from tests.support import ROOT

PACKAGES = ("components", "stacks", "scalepath", "policies")

_PLAN_AND_LIST_MODULES = """
import json, sys
from scalepath.plan import run_plan
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT
run_plan(load_stack_config(sys.argv[1], ROOT))
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str, *args: str, **env: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code`` (which prints them last)."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT), **env))
    return set(json.loads(done.stdout.splitlines()[-1]))


def _modules_after_planning(stack: str, **env: str) -> set[str]:
    return _modules_after(_PLAN_AND_LIST_MODULES, stack, **env)


def test_registry_keys_match_the_stages_their_modules_define() -> None:
    assert set(STAGES) == set(Stage)
    for stage in STAGES:
        assert STAGES[stage].settings.stage_value is stage, STAGES.module(stage)


def test_a_gke_plan_imports_neither_other_stages_nor_the_sagemaker_or_hub_inference_sdks() -> None:
    modules = _modules_after_planning("gke-staging")
    assert "stacks.stages.gke_vllm" in modules
    unused = {"stacks.stages.sagemaker", "stacks.stages.azureml", "stacks.stages.vertex", "stacks.stages.eks_vllm",
              "stacks.stages.hf_serverless", "stacks.stages.hf_endpoint", "sagemaker",
              "huggingface_hub.inference._providers"}
    assert not unused & modules


def test_the_cli_loads_neither_the_promotion_client_nor_the_sagemaker_sdk_until_asked() -> None:
    modules = _modules_after("import json, sys\nimport scalepath.cli\nprint(json.dumps(sorted(sys.modules)))")
    assert not {"scalepath.promote.runner", "httpx", "sagemaker"} & modules


def test_a_sagemaker_plan_with_its_images_remembered_never_imports_the_sdk(tmp_path) -> None:
    first = _modules_after_planning("staging", SCALEPATH_CACHE_DIR=str(tmp_path))
    assert "sagemaker" in first  # nothing remembered yet: the SDK answers
    again = _modules_after_planning("staging", SCALEPATH_CACHE_DIR=str(tmp_path))
    assert "stacks.stages.sagemaker" in again and "sagemaker" not in again


def test_an_hf_plan_imports_no_aws_sdk_and_remembers_the_providers_list(tmp_path) -> None:
    _modules_after_planning("dev", SCALEPATH_CACHE_DIR=str(tmp_path))
    again = _modules_after_planning("dev", SCALEPATH_CACHE_DIR=str(tmp_path))
    assert "stacks.stages.hf_serverless" in again
    # (pulumi_aws lists its submodules lazily in sys.modules: _inputs is loaded only when one is used.)
    assert not {"huggingface_hub.inference._providers", "pulumi_aws.sagemaker._inputs",
                "components.sagemaker.endpoint"} & again


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Imports under TYPE_CHECKING count: a cycle hidden behind them is still a cycle to read.
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_no_module_imports_itself_through_others(graph):
    sorter = graphlib.TopologicalSorter({m: graph.find_modules_directly_imported_by(m) for m in graph.modules})
    try:
        sorter.prepare()
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_layers_point_down(graph):
    illegal = graph.find_illegal_dependencies_for_layers(layers=["scalepath", "stacks", "components"])
    assert not illegal, [f"{d.importer} imports {d.imported}" for d in illegal]


@pytest.mark.parametrize("other", ["components", "stacks", "scalepath"])
def test_policy_pack_is_standalone(graph, other):
    assert not graph.chain_exists(importer="policies", imported=other, as_packages=True)
    assert not graph.chain_exists(importer=other, imported="policies", as_packages=True)
