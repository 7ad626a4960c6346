"""How the engine calls each routed deployment, derived from its contract's access and auth.

Values known only once the deployment exists (a base URL, an endpoint name or id) are
``os.environ/NAME`` references in the engine's config; :class:`Backend` says which export of the
deployment feeds each such variable, and which secrets it references.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from components.catalog import HourlyPrice
from components.token_prices import RequestPrice, request_price
from stacks.config import CloudTargets, DeploymentBase
from stacks.contract import AccessKind, CostKind, StageContract
from stacks.gateway.config import split_target, target_contract
from stacks.stages.entries import ENTRIES

#: Entra scope of Azure ML online endpoints in ``aadToken`` mode.
AZUREML_SCOPE = "https://ml.azure.com/.default"
#: Stand-in API key for OpenAI-compatible servers that take none (vLLM in the cluster, ``--backend``).
NO_KEY = "unused"

Exports = Mapping[str, Any]
"""What a stage's ``build`` returned for a deployment (its stack outputs)."""


@dataclass(frozen=True)
class Backend:
    """How the engine calls one deployment."""

    params: dict[str, Any]
    """``litellm_params`` without the route's settings (timeouts, retries, weight)."""
    env: dict[str, Callable[[Exports], Any]] = field(default_factory=dict)
    """Environment variables the params reference, each computed from the deployment's exports."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret environment variables the params reference -> the top-level secret key holding the
    value (``HF_TOKEN`` -> ``hfToken``); set from a secret store."""
    max_new_tokens: int | None = None
    """Longest answer the deployment is sized for (its contract's limit); the route caps to it."""
    price: RequestPrice | None = None
    """What a token of this deployment costs (per-token stages); the engine prices each answer with it."""
    cold_start_seconds: float | None = None
    """Set when the deployment scales to zero (its contract's ``wake``): the engine does not retry it."""
    replica_price: HourlyPrice | None = None
    """What one of its replicas costs per hour (per-instance-hour stages): each answer is charged it
    for the seconds the backend took."""


def env_prefix(deployment: str) -> str:
    """``chat-endpoint`` -> ``SCALEPATH_CHAT_ENDPOINT``: prefix of a deployment's variables."""
    return "SCALEPATH_" + deployment.upper().replace("-", "_")


def secret_env_name(key: str) -> str:
    """The engine's variable for a top-level secret key: ``hfToken`` -> ``HF_TOKEN``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def ref(name: str) -> str:
    """An engine config value read from the environment at start."""
    return f"os.environ/{name}"


def _concat(prefix: str, key: str) -> Callable[[Exports], Any]:
    """An env value ``prefix + exports[key]``: an Output in the program, plain text when the exports
    are read back from a deployed stack (``scalepath promote --outputs``)."""
    def value(exports: Exports) -> Any:
        if isinstance(exports[key], str):
            return prefix + exports[key]
        return pulumi.Output.concat(prefix, exports[key])
    return value


def _export(key: str) -> Callable[[Exports], Any]:
    return lambda exports: exports[key]


def backend(contract: StageContract, targets: CloudTargets) -> Backend:
    """The engine's view of a deployment, from its contract: the provider of its access kind, its
    served model name, and its credential (the runtime's identity for a grant, a secret's value for a
    key, none for a server that takes none). The gateway's checks refused a contract without access."""
    access = contract.access
    if access is None:
        raise ValueError(f"{contract.deployment} takes no synchronous request (its contract has no access)")
    p = env_prefix(contract.deployment)
    model, base = f"{p}_MODEL", f"{p}_API_BASE"
    secret = contract.auth.secret
    secrets = {secret_env_name(secret): secret} if secret else {}
    key = ref(secret_env_name(secret)) if secret else NO_KEY
    cap = contract.limits.max_new_tokens
    if access.kind is AccessKind.OPENAI:
        params = {"model": f"openai/{access.served_model}", "api_base": ref(base), "api_key": key}
        if access.headers:
            params["extra_headers"] = dict(access.headers)
        return Backend(params, env={base: _export(access.address)}, secrets=secrets, max_new_tokens=cap)
    if access.kind is AccessKind.AZURE_ENTRA:
        # Entra token of the runtime's managed identity.
        return Backend({"model": f"azure_ai/{access.served_model}", "api_base": ref(base),
                        "azure_scope": AZUREML_SCOPE}, env={base: _export(access.address)}, max_new_tokens=cap)
    if access.kind is AccessKind.SAGEMAKER_INVOKE:
        # The containers' Messages API, SigV4 with the task/pod role's credentials. The engine sends
        # the endpoint name as the body's `model` unless `hf_model_name` names the served model
        # (litellm/llms/sagemaker/chat/transformation.py); vLLM answers 404 to any other name.
        return Backend({"model": ref(model), "aws_region_name": targets.aws_region,
                        "hf_model_name": access.served_model},
                       env={model: _concat("sagemaker_chat/", access.address)}, max_new_tokens=cap)
    # VERTEX_OPENAI: Model Garden's OpenAI-compatible route; the service account's ADC credentials.
    return Backend({"model": ref(model), "vertex_project": targets.gcp_project, "vertex_location": targets.gcp_region},
                   env={model: _concat("vertex_ai/openai/", access.address)}, max_new_tokens=cap)


def override_backend(contract: StageContract, url: str) -> Backend:
    """``--backend DEPLOYMENT=URL``: the deployment is an OpenAI-compatible server at URL that
    answers to the deployment's served model name."""
    served = contract.access.served_model if contract.access else contract.deployment
    return Backend({"model": f"openai/{served}", "api_base": url, "api_key": NO_KEY},
                   max_new_tokens=contract.limits.max_new_tokens)


def backends_for(names: list[str], contracts: Mapping[str, StageContract], targets: CloudTargets,
                 overrides: Mapping[str, str] | None = None,
                 prices: Mapping[str, RequestPrice] | None = None) -> dict[str, Backend]:
    """A backend per route target (``names``, in route order: deployments, or ``deployment:adapter``);
    ``overrides`` maps deployment -> URL, ``prices`` deployment -> its per-token price
    (:func:`deployment_prices`); a replica's hourly price comes from the target's contract. An
    overridden deployment keeps its prices: the cost is the deployment's, wherever the test server runs."""
    overrides, prices = overrides or {}, prices or {}

    def one(name: str) -> Backend:
        # A ``deployment:adapter`` target is its deployment's server answering to the adapter's name.
        deployment = split_target(name)[0]
        contract = target_contract(contracts, name)
        made = (override_backend(contract, overrides[deployment]) if deployment in overrides
                else backend(contract, targets))
        wake = contract.wake
        return replace(made, price=prices.get(deployment), replica_price=contract.replica_price,
                       cold_start_seconds=wake.cold_start_seconds if wake is not None else None)

    return {name: one(name) for name in names}


def deployment_prices(deployments: list[DeploymentBase] | tuple[DeploymentBase, ...],
                      contracts: Mapping[str, StageContract]) -> dict[str, RequestPrice]:
    """The plan's per-token price of each deployment its stage bills per token (the registry's cost
    basis names the price list; the cost model reads the same list): the served model's
    ``org/name[:provider]`` (HF's router form) picks the row. Stages billed per instance-hour get
    none (docs/gateway.md, "The gateway as the meter")."""
    out = {}
    for d in deployments:
        basis, contract = ENTRIES[d.stage].cost, contracts.get(d.name)
        if basis.kind is not CostKind.PER_TOKEN or basis.token_prices is None or contract is None \
                or contract.access is None:
            continue
        model, _, provider = contract.access.served_model.partition(":")
        price = request_price(model, provider or "auto", list_name=basis.token_prices)
        if price is not None:
            out[d.name] = price
    return out


def backend_env(backends: Mapping[str, Backend], exports: Mapping[str, Exports]) -> dict[str, Any]:
    """Non-secret environment for the engine: each backend's variables from its deployment's exports."""
    return {name: value(exports[split_target(target)[0]]) for target, b in backends.items()
            for name, value in b.env.items()}


def secret_env(backends: Mapping[str, Backend]) -> dict[str, str]:
    """Secret variables the config references besides the client key -> their top-level secret keys."""
    return {name: key for b in backends.values() for name, key in b.secrets.items()}
