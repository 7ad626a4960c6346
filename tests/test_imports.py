"""A plan imports only the stages (and so the provider SDKs) its stack uses; the registry is
consistent with its modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from stacks.config import Stage
from stacks.stages import STAGES
from tests.support import ROOT

_PLAN_AND_LIST_MODULES = """
import json, sys
from scalepath.plan import run_plan
from scalepath.stackconfig import load_stack_config
from tests.support import ROOT
run_plan(load_stack_config(sys.argv[1], ROOT))
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_planning(stack: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PLAN_AND_LIST_MODULES, stack], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return set(json.loads(done.stdout.splitlines()[-1]))


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
