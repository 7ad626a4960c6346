"""Stage ``hf-serverless``: HF Inference Providers through the router; the token in a cloud secret store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import StringConstraints, field_validator

from components.huggingface.serverless import (
    HfServerlessRoute,
    HfServerlessRouteArgs,
    bill_to_headers,
    providers,
    routed_model,
)
from stacks.config import Cloud, DeploymentBase, StackFacts, Stage
from stacks.context import StackContext
from stacks.contract import Access, AccessKind, Auth, Protocol, Reach, Scope, StageContract, UniqueName
from stacks.errors import ConfigIssue, format_loc
from stacks.needs import Needs
from stacks.secret_store import SecretStoreConfig
from stacks.stages.base import StageDef

HfNamespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,95}$")]
"""A Hugging Face user or organisation name."""


class HfServerlessDeployment(DeploymentBase):
    """A model served by HF Inference Providers (pay per use; nothing provisioned at HF)."""

    stage_value: ClassVar[Stage] = Stage.HF_SERVERLESS
    stage: Literal[Stage.HF_SERVERLESS]
    provider: str = "auto"
    """Inference provider to pin (``together``, ``groq``...) or ``auto`` (the router picks)."""
    bill_to: HfNamespace | None = None
    """HF organisation billed for the requests; the token owner when unset."""
    secret_store: SecretStoreConfig
    """Where the application reads the HF token."""

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in providers():
            raise ValueError(f"unknown inference provider {value!r}; allowed: {', '.join(providers())}")
        return value

    def clouds(self) -> set[Cloud]:
        return {self.secret_store.cloud}

    def required_secrets(self) -> set[str]:
        return {"hfToken"}

    def needs(self) -> tuple[Needs, ...]:
        return ()  # the provider's capacity runs the model

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """A private stack has no public inference path: this stage is one (requests cross the
        internet to HF's shared providers)."""
        if stack.network.mode != "private":
            return []
        return [ConfigIssue(format_loc(("deployments", index, "stage")),
                            "hf-serverless calls HF's shared providers over the internet, and network.mode is "
                            "private; use hf-endpoint with access: private (PrivateLink) or a cloud stage")]


def build(deployment: DeploymentBase, ctx: StackContext) -> Mapping[str, pulumi.Input[Any]]:
    """The route component; exports what an OpenAI client needs and where the token is."""
    assert isinstance(deployment, HfServerlessDeployment)
    store = deployment.secret_store
    route = HfServerlessRoute(deployment.name, HfServerlessRouteArgs(
        model=deployment.model,
        provider=deployment.provider,
        bill_to=deployment.bill_to,
        token=pulumi.Config("scalepath").require_secret("hfToken"),
        token_secret_name=store.name_for(ctx.spec.stack_tag, deployment.name, "hfToken"),
        secret_store=store.args(ctx.spec.targets),
        tags=ctx.tags(deployment),
    ))
    return {
        "openaiBaseUrl": route.base_url,
        "model": route.model_name,
        "billTo": route.bill_to,
        "defaultHeaders": route.default_headers,
        "tokenSecretId": route.token_secret_id,
    }


def contract(deployment: DeploymentBase, stack: StackFacts) -> StageContract:
    """The router's OpenAI-compatible chat route, over the internet, with the HF token."""
    assert isinstance(deployment, HfServerlessDeployment)
    return StageContract(
        deployment=deployment.name, protocols=frozenset({Protocol.CHAT}),
        access=Access(kind=AccessKind.OPENAI, address="openaiBaseUrl",
                      served_model=routed_model(deployment.model, deployment.provider),
                      headers=tuple(bill_to_headers(deployment.bill_to).items())),
        auth=Auth(secret="hfToken"), reach=Reach(scope=Scope.PUBLIC),
        names=(token_secret_name(deployment.secret_store, stack.stack_tag, deployment.name),))


def token_secret_name(store: SecretStoreConfig, stack_tag: str, deployment: str) -> UniqueName:
    """The secret the HF token is kept in, unique per store."""
    return UniqueName(what="secret", scope=store.cloud.value, name=store.name_for(stack_tag, deployment, "hfToken"),
                      key="secretStore.secretName")


DEFINITION = StageDef(settings=HfServerlessDeployment, build=build, contract=contract)
