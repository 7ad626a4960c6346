"""One config base (issue 22, finding 12): every model a stage's config reaches derives from
:class:`components.config_model.ConfigModel`, so ``true`` is never read as the number 1."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel

from stacks.config import Stage
from stacks.errors import ConfigError
from stacks.model import ConfigModel
from stacks.parse import model_in, parse_spec
from stacks.stages import STAGES
from tests.support import stack_config
from tests.support.clusters import aws_config


def _reached(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """``model`` and every model its fields hold (through lists, dicts, unions)."""
    if model in seen:
        return seen
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _annotations(field.annotation):
            inner = model_in(arg)
            if inner is not None:
                _reached(inner, seen)
    return seen


def _annotations(annotation: Any) -> list[Any]:
    return [annotation, *[a for arg in get_args(annotation) for a in _annotations(arg)]]


@pytest.mark.parametrize("stage", list(STAGES), ids=lambda s: s.value)
def test_every_model_of_a_stage_config_has_the_one_base(stage: Stage) -> None:
    models = _reached(STAGES[stage].settings, set())
    others = sorted(m.__qualname__ for m in models if not issubclass(m, ConfigModel))
    assert others == [], f"{stage.value} config reaches models outside the one base: {others}"


def test_a_boolean_is_not_a_canary_percentage() -> None:
    deployment = {"name": "chat", "model": "meta-llama/Llama-3.1-8B-Instruct", "stage": "sagemaker",
                  "instanceType": "ml.g5.2xlarge", "container": {"server": "tgi", "version": "3.3.6"},
                  "rollout": {"strategy": "canary", "canaryPercent": True}}
    with pytest.raises(ConfigError) as error:
        parse_spec(stack_config(aws_config("dev", "public", deployment)).values, project="scalepath", stack="test")
    found = {i.path: i.message for i in error.value.issues}
    assert "expected a number, not true/false" in found["scalepath:deployments[0].rollout.canaryPercent"], found
