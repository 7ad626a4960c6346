"""LoRA adapters on the stages that run TGI (``hf-endpoint``, ``sagemaker``, ``azureml``): which
adapters its launcher can load and the names requests send for them
(``components/huggingface/tgi_lora.py``)."""

from __future__ import annotations

import re

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


def image_version(url: str) -> str | None:
    """``ghcr.io/huggingface/text-generation-inference:3.3.6`` -> ``3.3.6`` (a leading ``v`` dropped);
    ``None`` for a digest, ``latest`` or any tag that is not a version."""
    if "@" in url:
        return None
    tag = url.rpartition("/")[2].partition(":")[2]
    match = re.fullmatch(r"v?(\d+\.\d+(?:\.\d+)?)", tag)
    return match.group(1) if match else None


def image_problem(url: str) -> str | None:
    """Why a TGI image cannot be trusted to read ``LORA_ADAPTERS`` as scalepath writes it, or None."""
    version = image_version(url)
    if version is not None and tgi_lora.supports(version):
        return None
    return (f"{url}: adapters need a TGI tag of {tgi_lora.data()['since']} or newer (what scalepath verified for "
            "LORA_ADAPTERS), pinned by version, not latest or a digest")


def served_adapters(deployment: DeploymentBase) -> tuple[ServedAdapter, ...]:
    """Each adapter answering to its repo id: TGI's chat route takes the request's ``model`` as the
    adapter id (``tgi_lora.served_id``)."""
    return tuple(ServedAdapter(name=a.name, model=tgi_lora.served_id(a)) for a in deployment.lora_adapters())
