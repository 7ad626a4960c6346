"""LoRA adapters on the stages that run TGI (``hf-endpoint``, ``sagemaker``): which adapters its
launcher can load and the names requests send for them (``components/huggingface/tgi_lora.py``)."""

from __future__ import annotations

from components.huggingface import tgi_lora
from stacks.config import DeploymentBase
from stacks.contract import ServedAdapter

Problem = tuple[tuple[str | int, ...], str]
"""(key path under the deployment, message)."""


def source_problems(deployment: DeploymentBase, object_store: str) -> list[Problem]:
    """TGI downloads Hub adapters only and serves each under its repo id: an ``s3://``/``gs://``
    source is refused (``object_store`` says why on this stage and what to do), and so is one repo listed twice."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, adapter in enumerate(deployment.adapters):
        if not adapter.from_hub:
            problems.append((("adapters", index, "source"), f"{adapter.source}: {object_store}"))
        elif adapter.source in seen:
            problems.append((("adapters", index, "source"), (
                f"{adapter.source} is listed twice: TGI serves a Hub adapter under its repo id, so one repo "
                "is one adapter")))
        seen.add(adapter.source)
    return problems


def served_adapters(deployment: DeploymentBase) -> tuple[ServedAdapter, ...]:
    """Each adapter answering to its repo id: TGI's chat route takes the request's ``model`` as the
    adapter id (``tgi_lora.served_id``)."""
    return tuple(ServedAdapter(name=a.name, model=tgi_lora.served_id(a)) for a in deployment.lora_adapters())
