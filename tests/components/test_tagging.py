"""Tag/label normalisation always yields what each platform accepts (property tests)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from components.tagging import aws_tags, azure_tags, cost_tags, gcp_labels, k8s_labels

text = st.text(min_size=1, max_size=300)
tag_maps = st.dictionaries(text, st.text(max_size=300), max_size=8)

GCP_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
GCP_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
K8S = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")


@settings(max_examples=200, deadline=None)
@given(tag_maps)
def test_gcp_labels_are_valid(tags: dict[str, str]) -> None:
    for key, value in gcp_labels(tags).items():
        assert GCP_KEY.match(key), key
        assert GCP_VALUE.match(value), value


@settings(max_examples=200, deadline=None)
@given(tag_maps)
def test_k8s_labels_are_valid(tags: dict[str, str]) -> None:
    for key, value in k8s_labels(tags).items():
        assert K8S.match(value), value
        assert len(key) <= 63 and K8S.match(key), key


@settings(max_examples=200, deadline=None)
@given(tag_maps)
def test_aws_and_azure_limits(tags: dict[str, str]) -> None:
    for key, value in aws_tags(tags).items():
        assert len(key) <= 128 and len(value) <= 256
    for key, value in azure_tags(tags).items():
        assert len(key) <= 512 and len(value) <= 256 and not set(key) & set("<>%&\\?/")


def test_cost_tags_system_keys_win_and_shared_resources_have_no_deployment() -> None:
    tags = cost_tags({"team": "ml", "environment": "fake"}, environment="prod", stack="p-prod")
    assert tags == {"team": "ml", "environment": "prod", "stack": "p-prod", "managed-by": "scalepath"}
    tags = cost_tags({}, environment="dev", stack="s", deployment="llama", stage="sagemaker")
    assert tags["deployment"] == "llama" and tags["stage"] == "sagemaker"


def test_known_values_normalise_readably() -> None:
    assert gcp_labels({"Cost-Center": "CC 1234", "1st": "x"}) == {"cost-center": "cc_1234", "k1st": "x"}
    assert k8s_labels({"owner": "ml-platform@example.com"}) == {"owner": "ml-platform_example.com"}
