"""One source of model facts (issue 22, finding 11): the GPU-fit check and the cost advisor read
a model's size from the same table and the same id parser, so they cannot disagree."""

from __future__ import annotations

import pytest

from components import model_facts
from components.model_facts import model_size_b
from scalepath.cost.throughput import resolve_model

MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def test_mixtral_is_46_7b_loaded_and_12_9b_per_token_for_both() -> None:
    # Mistral's announcement: "46.7B total parameters but only uses 12.9B parameters per token".
    assert model_size_b(MIXTRAL) == 46.7
    size = resolve_model(MIXTRAL)
    assert size.params_b == 46.7 and size.flops_params_b == 12.9


@pytest.mark.parametrize("model", [*sorted(model_facts.table().models), "acme/Mega-8x7B-chat", "acme/support-13B"])
def test_fit_check_and_advisor_read_the_same_size(model: str) -> None:
    assert model_size_b(model) == resolve_model(model).params_b


def test_an_unlisted_mixture_of_experts_counts_every_expert_in_both() -> None:
    assert model_size_b("acme/Mega-8x7B-chat") == resolve_model("acme/Mega-8x7B-chat").params_b == 56


def test_the_configured_count_wins() -> None:
    assert model_size_b(MIXTRAL, 40.0) == 40.0
