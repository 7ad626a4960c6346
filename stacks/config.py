"""Config models shared by every stage: environment, tags, budget, network, deployment base.

Keys are camelCase in ``environments/Pulumi.<stack>.yaml`` (aliases) and snake_case in code.
Every model forbids unknown keys, so a typo is an error rather than a silently ignored key.
Stage-specific deployment models subclass :class:`DeploymentBase` in ``stacks/stages/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from components import clock
from components.vllm.cold_start import WakeProfile
from components.vllm.lora import LoraAdapter
from stacks.adapters import Adapter, duplicate_names
from stacks.aws_network import AwsNetworkConfig
from stacks.azure_network import AzureNetwork
from stacks.errors import ConfigIssue
from stacks.gcp_network import GcpNetworkConfig
from stacks.model import ConfigModel
from stacks.needs import Needs


class Environment(str, Enum):
    """Deployment environments; policy caps and defaults differ per environment."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Stage(str, Enum):
    """The scaling path, cheapest and least controlled first."""

    HF_SERVERLESS = "hf-serverless"
    HF_ENDPOINT = "hf-endpoint"
    SAGEMAKER = "sagemaker"
    AZUREML = "azureml"
    VERTEX = "vertex"
    EKS_VLLM = "eks-vllm"
    GKE_VLLM = "gke-vllm"


class Cloud(str, Enum):
    """Clouds a stack can create resources (and so a budget) in."""

    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"


#: Tag keys every environment must set in ``scalepath:tags`` (cost reports group by them).
REQUIRED_TAG_KEYS = ("team", "cost-center")

DnsName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
]
"""Lowercase letters, digits and ``-``, 2..32 characters: valid as a resource name on every cloud."""

HfRepoId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", max_length=96)
]
"""A Hugging Face Hub repository id, ``org/name``."""

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Scaling(ConfigModel):
    """Replica bounds; stages add their own metric and threshold settings."""

    min: NonNegativeInt = 1
    """Fewest replicas/instances. 0 means scale to zero where the stage supports it."""
    max: PositiveInt = 1
    """Most replicas/instances; policy ``scaling-caps`` bounds it per environment."""

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Scaling:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class AwsBudgetConfig(ConfigModel):
    """AWS budget settings (none needed beyond the common ones yet)."""


class AzureBudgetConfig(ConfigModel):
    """Azure budget scope and start."""

    resource_group: str | None = None
    """Scope the budget to this resource group; the subscription when unset."""
    start_month: Annotated[str, StringConstraints(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")] | None = None
    """First month of the budget, ``YYYY-MM`` (Azure budgets start on the first of a month); unset:
    the month of the first ``up``, kept afterwards (what the shipped files do, so they never rot)."""

    @field_validator("start_month")
    @classmethod
    def _not_past(cls, month: str | None) -> str | None:
        now = clock.current_month()
        if month is not None and month < now:  # YYYY-MM compares as text
            raise ValueError(f"{month} is before the current month ({now}, UTC): Azure refuses a budget that "
                             "starts before the current period. Remove startMonth (the budget then starts in "
                             "the month of its first `up` and keeps that date), or set this or a later month")
        return month


class GcpBudgetConfig(ConfigModel):
    """GCP budgets live on a billing account."""

    billing_account: Annotated[
        str, StringConstraints(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
    ]
    """Billing account id, ``XXXXXX-XXXXXX-XXXXXX``."""


class Budget(ConfigModel):
    """``scalepath:budget``: the monthly amount and who hears about it."""

    monthly_usd: PositiveFloat
    alert_thresholds_pct: Annotated[
        list[Annotated[int, Field(gt=0, le=1000)]], Field(min_length=1)
    ] = [50, 80, 100]
    notify: Annotated[list[Email], Field(min_length=1)]
    aws: AwsBudgetConfig | None = None
    """Create an AWS budget even when no deployment runs on AWS (e.g. for shared secrets)."""
    azure: AzureBudgetConfig | None = None
    gcp: GcpBudgetConfig | None = None

    @field_validator("alert_thresholds_pct")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("thresholds must not repeat")
        return sorted(value)

    def clouds(self) -> set[Cloud]:
        """Clouds named in the budget config."""
        return {c for c in Cloud if getattr(self, c.value) is not None}


class Network(ConfigModel):
    """``scalepath:network``: public or private serving, and per-cloud network details."""

    mode: Literal["public", "private"] = "public"
    aws: AwsNetworkConfig | None = None
    """VPC settings for AWS stages."""
    gcp: GcpNetworkConfig | None = None
    """GCP VPC details (``stacks/gcp_network.py``); defaults create a VPC when one is needed."""
    azure: AzureNetwork | None = None
    """Azure VNet/subnet for private endpoints (``stacks/azure_network.py``)."""


class ExpectedUsage(ConfigModel):
    """Traffic a deployment is sized and costed for (usage-priced stages are billed by it)."""

    requests_per_month: NonNegativeInt
    input_tokens_per_request: NonNegativeInt = 500
    output_tokens_per_request: NonNegativeInt = 250


class CloudTargets(ConfigModel):
    """Where each cloud's resources go, read from the providers' own config keys."""

    aws_region: str | None = None
    """``aws:region``"""
    gcp_project: str | None = None
    """``gcp:project``"""
    gcp_region: str | None = None
    """``gcp:region``"""
    azure_location: str | None = None
    """``azure-native:location``"""
    azure_subscription_id: str | None = None
    """``azure-native:subscriptionId``"""


class DeploymentBase(ConfigModel):
    """What every deployment has. Stage modules subclass this with their settings."""

    stage_value: ClassVar[Stage]
    """The stage this model configures (set by each subclass)."""

    name: DnsName
    """Unique within the stack; becomes part of every child resource name."""
    model: HfRepoId
    """Hugging Face Hub model id served by this deployment."""
    stage: Stage
    expected_usage: ExpectedUsage | None = None
    """Assumed traffic, for cost estimates of usage-priced stages; optional elsewhere."""
    adapters: list[Adapter] = []
    """LoRA adapters of ``model`` served beside it (stages whose entry serves adapters only)."""

    @field_validator("adapters")
    @classmethod
    def _unique_adapters(cls, adapters: list[Adapter]) -> list[Adapter]:
        repeated = duplicate_names(adapters)
        if repeated:
            raise ValueError(f"adapter names must be unique: {', '.join(repeated)} listed more than once")
        return adapters

    def lora_adapters(self) -> tuple[LoraAdapter, ...]:
        """``adapters`` as the serving components take them."""
        return tuple(LoraAdapter(name=a.name, source=a.source, revision=a.revision, rank=a.rank)
                     for a in self.adapters)

    def adapter_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Why this deployment's server cannot load its ``adapters`` as configured: (key path under
        the deployment, message), empty when it can. ``stacks.parse`` asks every deployment with
        adapters on a stage whose registry entry serves them; a stage that serves them only with
        some settings (a server, an image) says which here."""
        return []

    def clouds(self) -> set[Cloud]:
        """Clouds this deployment creates resources in (its budget follows)."""
        raise NotImplementedError

    def check_in_stack(self, stack: StackFacts, index: int) -> list[ConfigIssue]:
        """Problems that show only with the rest of the stack: provider targets (a GPU not
        offered in ``gcp:region``), environment (scale to zero in prod), network mode, other
        deployments. ``parse_spec`` calls it for ``deployments[index]`` once the model and the
        targets are valid, before any resource exists; ``build()`` raises no config errors."""
        return []

    def required_secrets(self) -> set[str]:
        """Top-level secret keys (``hfToken``...) this deployment reads; the parser checks they are set."""
        return set()

    def wake_profile(self) -> WakeProfile | None:
        """How the deployment bills when it scales to zero and wakes on demand (cold start, awake hours,
        GPU node); ``None`` for a deployment that does not (the default)."""
        return None

    def needs(self) -> tuple[Needs, ...]:
        """What each kind of replica needs to load its model (GPUs, sharding, weights, Hub token);
        empty for a stage that runs no model of its own. The checks of ``stacks/checks/`` read it."""
        raise NotImplementedError


@dataclass(frozen=True)
class StackFacts:
    """What a deployment's :meth:`DeploymentBase.check_in_stack` may know about its stack,
    all validated. Built once by ``parse_spec`` from the ``StackSpec`` (a subset of it, so a check
    reads only what the parser has validated when it runs)."""

    stack: str
    """The stack's name (``dev``); resource names are derived from it."""
    stack_tag: str
    """``<project>-<stack>``: the ``stack`` tag, and the prefix of derived names (secrets...)."""
    environment: Environment
    network: Network
    """``scalepath:network``: mode and per-cloud details."""
    targets: CloudTargets
    """Provider targets (``aws:region``, ``gcp:region``...); set for every cloud the stack uses."""
    deployments: tuple[DeploymentBase, ...]
    """Every deployment of the stack in config order; ``deployments[index]`` is the one checked."""
    gateway_in_aws_vpc: bool = False
    """The stack's gateway runs on ECS in the stack's AWS VPC (it needs NAT egress and public subnets)."""
    gateway_routes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Deployment -> the gateway routes that send it a weighted share (itself or one of its adapters),
    in route order: where demand for a deployment at zero replicas shows."""
    gateway_scraped_in: Cloud | None = None
    """The cloud whose cluster Prometheus scrapes the gateway's metrics (None: no cluster does)."""

    def routes_to(self, deployment: str) -> tuple[str, ...]:
        """The gateway routes sending ``deployment`` a weighted share (none without a gateway)."""
        return dict(self.gateway_routes).get(deployment, ())

