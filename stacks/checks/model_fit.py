"""Whether a replica can load its model: the weights fit its GPUs, the server can shard the
model's attention over them, its context is one the model takes, and it may download the weights
at all (gated models)."""

from __future__ import annotations

from components import model_facts
from components.model_facts import ModelFacts
from stacks import gpu_fit
from stacks.errors import NAMESPACE, ConfigIssue, format_loc
from stacks.needs import HubToken, Needs, WeightsFrom


def issues(needs: Needs, name: str, index: int, secrets: frozenset[str]) -> list[ConfigIssue]:
    """Problems of one kind of replica of ``deployments[index]`` (named ``name``)."""

    def at(key: str) -> str:
        return f"{format_loc(('deployments', index))}.{key}"

    found = []
    if needs.gpus and not needs.quantized:
        problem = gpu_fit.misfit(needs.model, needs.gpus, needs.gpu_memory_gib, needs.hardware, needs.params_b,
                                   adapters_gib=needs.extra_gib)
        if problem:
            found.append(ConfigIssue(at(needs.hardware_key), problem))
    if needs.weights is WeightsFrom.HUB and model_facts.gated(needs.model):
        found += _gated(needs, name, index, secrets)
    facts = model_facts.facts(needs.model)
    if facts is None:
        return found
    if needs.tensor_parallel > 1 and not shardable(facts, needs.tensor_parallel):
        valid = [size for size in range(1, needs.gpus + 1) if shardable(facts, size)]
        found.append(ConfigIssue(at(needs.tensor_parallel_key), (
            f"{needs.model} has {facts.attention_heads} attention heads and {facts.kv_heads} KV heads, which "
            f"{needs.tensor_parallel}-way tensor parallelism cannot split: vLLM needs the heads divisible by it and "
            "the KV heads divisible by it (or it by them), and stops at load otherwise; sizes that work here: "
            f"{', '.join(map(str, valid))}. {needs.tensor_parallel_fix}")))
    if needs.context is not None and needs.context > facts.context:
        found.append(ConfigIssue(at(needs.context_key), (
            f"{needs.context} tokens is longer than {needs.model} takes ({facts.context}, its "
            "max_position_embeddings): vLLM refuses it at start (\"User-specified max_model_len ... is greater "
            f"than the derived max_model_len\"); set at most {facts.context}")))
    return found


def shardable(facts: ModelFacts, size: int) -> bool:
    """vLLM's rule: ``ModelConfig.verify_with_parallel_config`` wants the attention heads divisible
    by the tensor-parallel size; ``QKVParallelLinear`` splits the KV heads over it, or replicates
    them when there are fewer, and asserts either division is exact."""
    kv = facts.kv_heads
    return facts.attention_heads % size == 0 and (kv % size == 0 if size <= kv else size % kv == 0)


def _gated(needs: Needs, name: str, index: int, secrets: frozenset[str]) -> list[ConfigIssue]:
    stage = (f"stage the weights away from the Hub and set deployments[{index}].{needs.weights_key}"
             if needs.weights_key else "")
    gated = (f"deployments[{index}] ({name}) downloads {needs.model} from the Hub at start, and the Hub serves "
             "it only to accounts that accepted its licence")
    if needs.hub_token is HubToken.STACK_SECRET and "hfToken" not in secrets:
        return [ConfigIssue(f"{NAMESPACE}:hfToken", (
            f"{gated}; set a token of such an account with `pulumi config set --secret {NAMESPACE}:hfToken "
            f"<token>`" + (f", or {stage}" if stage else "")))]
    if needs.hub_token is HubToken.NONE:
        key = (f"{format_loc(('deployments', index))}.{needs.weights_key}" if needs.weights_key
               else format_loc(("deployments", index, "model")))
        return [ConfigIssue(key, (
            f"{gated}, and this stage cannot hand its container a Hub token safely (its environment is "
            f"readable in clear); {stage or 'choose a model that is not gated'}"))]
    return []
