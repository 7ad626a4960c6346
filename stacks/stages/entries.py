"""The stage registry's entries: what is known of each stage without importing its module.

The cost model, the advisor, CI and the gateway's config read these facts; importing a stage's
module (its components, provider SDKs and SageMaker's SDK) waits until a stack uses the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config import Cloud, Stage
from stacks.contract import CostBasis, CostKind


@dataclass(frozen=True)
class StageEntry:
    """A stage's registry entry: where its definition lives and the facts other parts read
    (cost model, advisor, docs) without importing the stage's module and its provider SDKs."""

    module: str
    """Module that defines ``DEFINITION`` (imported on the stage's first lookup)."""
    catalog_family: str | None
    """Instance catalogue (``components/data/instances/<family>.yaml``) its replicas are priced
    from; ``None`` for a stage that provisions no instances."""
    private: bool
    """Requests stay inside the user's own cloud account and network (``advise --compliance private``)."""
    cost: CostBasis
    """How its deployments bill: per instance-hour, or per token from a named price list."""
    fixed_cost_types: tuple[str, ...]
    """Resource types the stage always adds whatever the traffic (a cluster control plane),
    priced from ``components/data/service_prices.yaml``."""
    secrets: tuple[str, ...]
    """Top-level ``scalepath:`` keys its deployments may read, each set with
    ``pulumi config set --secret`` (``hfToken``); the parser refuses them in plain text."""
    cluster: Cloud | None
    """The cloud whose Kubernetes cluster each deployment creates in the stack's network (the
    gateway's ``kubernetes`` runtime runs there; CI logs in to it); ``None``: no cluster."""
    scales_to_zero: bool
    """Its replicas stop when idle and start on the next request, so idle hours are not billed
    (``advise --busy-hours-per-day``); on a cluster stage outside prod only (``scaling.min: 0``)."""
    serves_adapters: bool
    """Its server loads ``deployments[].adapters`` (LoRA) beside the base model; every other
    stage refuses the key (why, per stage: docs/configuration.md, *LoRA adapters*)."""
    adapters_with: str
    """The settings under which it serves them, when not every deployment of the stage does (the
    deployment's ``adapter_problems`` refuses the others; empty: every deployment does, or none);
    named in the refusal on other stages."""

    @property
    def usage_priced(self) -> bool:
        """Billed per use on shared capacity (per token): priced from ``expectedUsage``, no p95 guarantee."""
        return self.cost.kind is CostKind.PER_TOKEN


# One entry per landed stage, in scaling-path order.
_BY_INSTANCE = CostBasis(kind=CostKind.PER_INSTANCE_HOUR)
ENTRIES: dict[Stage, StageEntry] = {
    Stage.HF_SERVERLESS: StageEntry("stacks.stages.hf_serverless", catalog_family=None, private=False,
                                    cost=CostBasis(kind=CostKind.PER_TOKEN, token_prices="token_prices.yaml"),
                                    fixed_cost_types=(), secrets=("hfToken",), cluster=None,
                                    scales_to_zero=False, serves_adapters=False, adapters_with=""),
    Stage.HF_ENDPOINT: StageEntry("stacks.stages.hf_endpoint", catalog_family="hf", private=False,
                                  cost=_BY_INSTANCE, fixed_cost_types=(), secrets=("hfToken",), cluster=None,
                                  scales_to_zero=True, serves_adapters=True,
                                  adapters_with="image.engine tgi, a pinned TGI 3.0.0 or newer"),
    Stage.SAGEMAKER: StageEntry("stacks.stages.sagemaker", catalog_family="sagemaker", private=True,
                                cost=_BY_INSTANCE, fixed_cost_types=(), secrets=("hfToken",), cluster=None,
                                scales_to_zero=False, serves_adapters=True,
                                adapters_with="container.server tgi, 3.0.0 or newer"),
    Stage.AZUREML: StageEntry("stacks.stages.azureml", catalog_family="azureml", private=True,
                              cost=_BY_INSTANCE, fixed_cost_types=(), secrets=("hfToken",), cluster=None,
                              scales_to_zero=False, serves_adapters=True,
                              adapters_with="container.server tgi, a pinned TGI 3.0.0 or newer"),
    Stage.VERTEX: StageEntry("stacks.stages.vertex", catalog_family="vertex", private=True,
                             cost=_BY_INSTANCE, fixed_cost_types=(), secrets=("hfToken",), cluster=None,
                                    scales_to_zero=False, serves_adapters=False, adapters_with=""),
    Stage.EKS_VLLM: StageEntry("stacks.stages.eks_vllm", catalog_family="ec2", private=True,
                               cost=_BY_INSTANCE, fixed_cost_types=("aws:eks/cluster:Cluster",),
                               secrets=("hfToken",), cluster=Cloud.AWS, scales_to_zero=True,
                               serves_adapters=True, adapters_with=""),
    Stage.GKE_VLLM: StageEntry("stacks.stages.gke_vllm", catalog_family="gce", private=True,
                               cost=_BY_INSTANCE, fixed_cost_types=("gcp:container/cluster:Cluster",),
                               secrets=("hfToken",), cluster=Cloud.GCP, scales_to_zero=True,
                               serves_adapters=True, adapters_with=""),
}


def cluster_cloud(stage: Stage) -> Cloud | None:
    """The cloud of the Kubernetes cluster a deployment of ``stage`` creates, if it creates one."""
    entry = ENTRIES.get(stage)
    return entry.cluster if entry else None


def secret_keys() -> tuple[str, ...]:
    """Every top-level secret key some registered stage reads, in registry order."""
    return tuple(dict.fromkeys(key for entry in ENTRIES.values() for key in entry.secrets))
