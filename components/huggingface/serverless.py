"""Stage ``hf-serverless``: a model served by HF Inference Providers through the HF router.

Nothing is provisioned at Hugging Face; what a real stack needs is the routing entry (model,
provider or ``auto``, billing organisation), the HF token in the cloud secret store the
application reads it from, and the values an OpenAI-compatible client is configured with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import get_args

import pulumi
from huggingface_hub import constants

from components.disk_memo import DiskMemo
from components.secret_store import CloudSecret, CloudSecretArgs, SecretStoreArgs

ROUTER_BASE_URL = "https://router.huggingface.co/v1"
"""OpenAI-compatible base URL of HF Inference Providers (the router picks or pins the provider)."""


#: The providers list, on disk per installed huggingface_hub (components/disk_memo.py).
_MEMO = DiskMemo("hf-providers", ("huggingface_hub",))


@cache
def providers() -> tuple[str, ...]:
    """Providers the router knows plus ``auto`` (router's choice), as ``huggingface_hub`` lists them."""
    known = _MEMO.strings("providers")
    if known is None:
        # Its inference package takes ~0.3-0.5 s to import: only a stack with a serverless route
        # whose answer is not remembered pays for it.
        from huggingface_hub.inference._providers import PROVIDER_OR_POLICY_T

        known = [name for literal in get_args(PROVIDER_OR_POLICY_T) for name in get_args(literal)]
        _MEMO.put("providers", known)
    return tuple(known)


def bill_to_headers(bill_to: str | None) -> dict[str, str]:
    """Headers every request must carry: ``X-HF-Bill-To`` when billing an organisation."""
    return {constants.HUGGINGFACE_HEADER_X_BILL_TO: bill_to} if bill_to else {}


def routed_model(model: str, provider: str) -> str:
    """Model name for the router: ``org/name:provider`` when a provider is pinned, else ``org/name``."""
    return model if provider == "auto" else f"{model}:{provider}"


@dataclass(frozen=True, kw_only=True)
class HfServerlessRouteArgs:
    """A model routed through HF Inference Providers, and where its token lives."""

    model: str
    """Model repository, ``org/name``."""
    token: pulumi.Input[str]
    """HF token (fine-grained, "Make calls to Inference Providers"); a Pulumi secret."""
    token_secret_name: str
    """Name of the secret holding the token in the store."""
    secret_store: SecretStoreArgs
    """Which cloud secret store holds the token."""
    tags: Mapping[str, str]
    """Logical cost tags of the secret."""
    provider: str = "auto"
    """Inference provider to pin (``together``, ``groq``...), or ``auto`` for the router's choice."""
    bill_to: str | None = None
    """HF organisation billed for the requests (sent as the ``X-HF-Bill-To`` header)."""


class HfServerlessRoute(pulumi.ComponentResource):
    """The routing entry of one model plus its token in a cloud secret store."""

    base_url: pulumi.Output[str]
    """OpenAI-compatible base URL (the HF router)."""
    model_name: pulumi.Output[str]
    """Model name for the OpenAI client (``:provider`` suffix when pinned)."""
    bill_to: pulumi.Output[str | None]
    """Organisation billed, if any."""
    default_headers: pulumi.Output[dict[str, str]]
    """Headers every request must carry (``X-HF-Bill-To`` when billing an organisation)."""
    token_secret_id: pulumi.Output[str]
    """Where the application reads its token (ARN / Key Vault id / Secret Manager name)."""

    def __init__(self, name: str, args: HfServerlessRouteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:HfServerlessRoute", name, None, opts)
        if args.provider not in providers():
            raise ValueError(f"unknown inference provider {args.provider!r}; allowed: {', '.join(providers())}")
        secret = CloudSecret(f"{name}-token", CloudSecretArgs(
            store=args.secret_store, secret_name=args.token_secret_name, value=args.token,
            description=f"Hugging Face token for {args.model} via HF Inference Providers", tags=args.tags,
        ), pulumi.ResourceOptions(parent=self))
        headers = bill_to_headers(args.bill_to)
        self.base_url = pulumi.Output.from_input(ROUTER_BASE_URL)
        self.model_name = pulumi.Output.from_input(routed_model(args.model, args.provider))
        self.bill_to = pulumi.Output.from_input(args.bill_to)
        self.default_headers = pulumi.Output.from_input(headers)
        self.token_secret_id = secret.secret_id
        self.register_outputs({"base_url": self.base_url, "model_name": self.model_name, "bill_to": self.bill_to,
                               "default_headers": self.default_headers, "token_secret_id": self.token_secret_id})
