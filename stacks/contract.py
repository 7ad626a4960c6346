"""The stage contract: what a deployment offers the rest of the stack, computed before anything exists.

Every stage module returns one :class:`StageContract` per deployment from its validated settings and
the stack's facts (``StageDef.contract``). The gateway, its grants and its checks read contracts, never
a stage's name: a new stage that fills one in is routed, granted and checked like the others.

Values that exist only once the deployment is deployed (an endpoint's URL or id) are named here as
export keys of the stage's ``build`` (camelCase, like every stack output); the gateway reads them from
the exports when it builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from components.catalog import HourlyPrice
from stacks.config import Cloud


class Protocol(str, Enum):
    """What a client can ask the deployment for."""

    CHAT = "chat"
    """OpenAI ``/v1/chat/completions`` (or a cloud API that takes the same body)."""
    COMPLETIONS = "completions"
    """OpenAI ``/v1/completions``."""
    EMBEDDINGS = "embeddings"
    """Embedding vectors only (TEI); no generated text."""
    ASYNC_INVOKE = "async-invoke"
    """A queued invocation that reads its input from storage and answers later (SageMaker async)."""


class AccessKind(str, Enum):
    """How a client calls the deployment: an OpenAI-compatible base URL or a cloud's invoke API."""

    OPENAI = "openai"
    """An OpenAI-compatible server at a base URL (``address`` names the export holding it)."""
    AZURE_ENTRA = "azure-entra"
    """An OpenAI-compatible Azure route called with Microsoft Entra tokens (base URL in ``address``)."""
    SAGEMAKER_INVOKE = "sagemaker-invoke"
    """SageMaker ``InvokeEndpoint`` with a Messages API body, SigV4-signed (endpoint name in ``address``)."""
    VERTEX_OPENAI = "vertex-openai"
    """Vertex AI's OpenAI-compatible route of an endpoint, Google credentials (endpoint id in ``address``)."""


@dataclass(frozen=True, kw_only=True)
class ServedAdapter:
    """A LoRA adapter the deployment serves: the stack's name for it and the ``model`` a request sends."""

    name: str
    """``deployments[].adapters[].name``: what a route target names (``deployment:name``)."""
    model: str
    """What the server answers to: the name itself on vLLM, the Hub repo id on TGI (its adapter id)."""


@dataclass(frozen=True, kw_only=True)
class Access:
    """How a client reaches the deployment."""

    kind: AccessKind
    address: str
    """Export key of the deployment's base URL, endpoint name or endpoint id."""
    served_model: str
    """The ``model`` the server answers to (a server refuses other names, vLLM with a 404)."""
    adapters: tuple[ServedAdapter, ...] = ()
    """Its LoRA adapters, each answering to its own ``model``."""
    headers: tuple[tuple[str, str], ...] = ()
    """Headers every request must carry (HF's ``X-HF-Bill-To``), known before deploy."""

    def served_models(self) -> tuple[str, ...]:
        """Every model name the deployment serves: the base model's, then each adapter's."""
        return (self.served_model, *(a.model for a in self.adapters))

    def adapter(self, name: str) -> ServedAdapter:
        """The adapter the stack calls ``name`` (``KeyError`` if it serves none by that name)."""
        for adapter in self.adapters:
            if adapter.name == name:
                return adapter
        raise KeyError(name)


class GrantKind(str, Enum):
    """A cloud permission the caller's identity needs on one resource."""

    AWS_POLICY = "aws-policy"
    """Attach the IAM policy whose ARN the export holds (it allows invoking exactly this endpoint)."""
    GCP_ENDPOINT_USER = "gcp-endpoint-user"
    """``roles/aiplatform.user`` on the Vertex endpoint whose id the export holds."""
    AZURE_ENDPOINT_ROLE = "azure-endpoint-role"
    """A data-plane role on the Azure ML online endpoint whose ARM id the export holds."""


@dataclass(frozen=True, kw_only=True)
class Grant:
    """An IAM/identity grant: what kind, and the export that identifies the resource."""

    kind: GrantKind
    export: str


@dataclass(frozen=True, kw_only=True)
class Fix:
    """Why a caller cannot use the deployment as configured, and what to change.

    ``key`` is relative to the deployment (``authMode``) or, starting with ``/``, a top-level key
    (``/network.mode``)."""

    key: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Auth:
    """What a caller presents. Exactly one of ``secret``, ``grant``, ``unusable`` or none (no auth)."""

    secret: str | None = None
    """Top-level secret key whose value is the bearer token (``hfToken``)."""
    grant: Grant | None = None
    """An identity grant the caller's cloud identity needs."""
    unusable: Fix | None = None
    """The credential is one a gateway cannot hold (platform-generated keys): how to switch."""


class Scope(str, Enum):
    """Where a caller must be to reach the deployment."""

    PUBLIC = "public"
    """Anywhere with internet access (authentication still applies)."""
    NETWORK = "network"
    """Inside the stack's network of ``Reach.cloud``; the service's usual hostname resolves to a
    private endpoint there, so a client needs no special address."""
    CLUSTER = "cluster"
    """Pods of the deployment's own Kubernetes cluster only (a cluster-local DNS name)."""
    PRIVATE_ADDRESS = "private-address"
    """Inside the network, at a private address or service a caller must create or be configured
    with (Private Service Connect, an AWS PrivateLink interface endpoint)."""


@dataclass(frozen=True, kw_only=True)
class Reach:
    """Where the deployment is reachable from."""

    scope: Scope
    cloud: Cloud | None = None
    """The cloud whose network (``NETWORK``, ``PRIVATE_ADDRESS``) or cluster (``CLUSTER``) it is in."""
    caller_needs: str = ""
    """What a caller must create or be inside of (empty for ``PUBLIC``)."""
    fix: Fix | None = None
    """For ``PRIVATE_ADDRESS``: what to change so the gateway can call it."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one request may take."""

    response_seconds: float | None = None
    """The platform ends a request after this long (``None``: no platform limit)."""
    max_new_tokens: int | None = None
    """Longest answer the deployment is sized for; a gateway caps a caller's ``max_tokens`` to it."""


@dataclass(frozen=True, kw_only=True)
class Wake:
    """The deployment scales to zero between bursts and is woken by the gateway's requests for it: the
    first request after idle finds no server, so a route sending to it needs a fallback that stays up."""

    cold_start_seconds: float
    """How long until it answers again (node, image, weights, engine: ``components/vllm/cold_start.py``)."""


@dataclass(frozen=True, kw_only=True)
class UniqueName:
    """A name the deployment creates that no other deployment of the stack may create too (the
    second would take over, or fail on, the first one's resource)."""

    what: str
    """What it names (``secret``, ``hf-endpoint``)."""
    scope: str
    """Where it must be unique (a cloud's secret store, an HF namespace)."""
    name: str
    key: str
    """The deployment's key that sets it (``secretStore.secretName``)."""


class CostKind(str, Enum):
    """How a stage bills."""

    PER_TOKEN = "per-token"
    """Per use on shared capacity, priced from ``expectedUsage`` and a per-token price list."""
    PER_INSTANCE_HOUR = "per-instance-hour"
    """Per provisioned replica-hour (and the resources the plan records)."""


@dataclass(frozen=True, kw_only=True)
class CostBasis:
    """How a stage's deployments are priced. The same for every deployment of a stage, so it is a
    registry fact (``StageEntry.cost``): the cost model and the advisor read it without importing
    the stage's module."""

    kind: CostKind
    token_prices: str | None = None
    """``PER_TOKEN``: the price list in ``components/data/`` that bills it (``token_prices.yaml``:
    HF Inference Providers' list prices). ``None`` there: no known price, the estimate says so."""


@dataclass(frozen=True, kw_only=True)
class StageContract:
    """One deployment as the rest of the stack sees it (see the module docstring). Its cost basis is
    the stage's (:class:`CostBasis`, in the registry entry).

    What a deployment *needs* (GPUs, memory, model access) is the checks' side
    (``stacks/needs.py``); it joins here as a ``needs`` field, keyword-only like the rest.
    """

    deployment: str
    protocols: frozenset[Protocol]
    access: Access | None
    """``None``: nothing a client can call synchronously (e.g. async only)."""
    auth: Auth
    reach: Reach
    limits: Limits = Limits()
    names: tuple[UniqueName, ...] = ()
    wake: Wake | None = None
    """Set when the deployment scales to zero (``scaling.min: 0``) and waits for demand to wake it."""
    replica_price: HourlyPrice | None = None
    """What one replica costs per hour, for stages billed per instance-hour: its row of the instance
    catalogue the plan prices it from (region and spot as the plan applies them; a replica's share of
    a node that holds several). ``None``: billed per token, or no known price. The gateway charges
    each request this price for the seconds the backend took (docs/gateway.md, "Cost per request")."""
