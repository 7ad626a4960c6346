"""Whether each Hub adapter is a LoRA of its deployment's model: its ``adapter_config.json``
``base_model_name_or_path`` read from the Hub at plan time, when a token is at hand.

The plan is otherwise offline: without a token (or for s3/gs sources, which the plan never
reads) the declared base is reported as unchecked, never assumed checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from huggingface_hub import hf_hub_url
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from stacks.errors import ConfigIssue, format_loc
from stacks.spec import StackSpec

CONFIG_FILE = "adapter_config.json"
TIMEOUT_SECONDS = 10.0


@dataclass
class BaseCheck:
    """What the check found: adapters of another model (config issues) and what it could not check."""

    issues: list[ConfigIssue] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    """One line per adapter whose base model stays as declared, with the reason."""


def check(spec: StackSpec, token: str | None, endpoint: str | None = None) -> BaseCheck:
    """Read each Hub adapter's ``adapter_config.json`` (with ``token``; ``endpoint`` defaults to
    the Hub's) and compare its base model with the deployment's ``model``."""
    found = BaseCheck()
    for index, deployment in enumerate(spec.deployments):
        for position, adapter in enumerate(deployment.adapters):
            where = f"{deployment.name}/{adapter.name}"
            if not adapter.from_hub:
                found.unchecked.append(f"{where}: base model not checked ({adapter.source} is not read at plan time)")
                continue
            if token is None:
                found.unchecked.append(f"{where}: base model not checked (no HF_TOKEN at plan time)")
                continue
            url = hf_hub_url(adapter.source, CONFIG_FILE, revision=adapter.revision, endpoint=endpoint)
            try:
                response = get_session().get(url, headers=build_hf_headers(token=token), timeout=TIMEOUT_SECONDS)
                hf_raise_for_status(response)
                base = response.json().get("base_model_name_or_path")
            except (HfHubHTTPError, OSError, ValueError, AttributeError) as error:
                found.unchecked.append(f"{where}: base model not checked ({CONFIG_FILE}: {type(error).__name__})")
                continue
            if base != deployment.model:
                found.issues.append(ConfigIssue(
                    format_loc(("deployments", index, "adapters", position, "source")),
                    f"{adapter.source} is a LoRA of {base!r} ({CONFIG_FILE}), not of the deployment's "
                    f"model {deployment.model}: list it under a deployment of that model"))
    return found
