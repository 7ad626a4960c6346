"""The SageMaker limits' arithmetic, by hand (figures from components/data/sagemaker_limits.yaml and
components/data/gpus.yaml: efficiency 0.5, 16-bit 2 bytes, 4-bit 0.5 bytes; A10G 600 GB/s)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from components.sagemaker import limits


def test_decimals_are_the_digits_written() -> None:
    assert (limits.decimal(18.9), limits.decimal(0.1), limits.decimal(2.0)) == (Fraction(189, 10), Fraction(1, 10), 2)


def test_decode_rate_is_the_bandwidth_roofline() -> None:
    # 0.5 x 1 x 600e9 B/s / (8e9 params x 2 B) = 18.75 tokens/s; two GPUs twice that; 4-bit weights four times.
    assert limits.decode_tokens_per_second("A10G", 1, 8.0, None) == Fraction(75, 4)
    assert limits.decode_tokens_per_second("A10G", 2, 8.0, None) == Fraction(75, 2)
    assert limits.decode_tokens_per_second("A10G", 1, 8.0, "awq") == 75
    assert limits.decode_tokens_per_second("A10G", 1, 8.0, "no-such-scheme") == Fraction(75, 4)  # 16-bit


def test_decode_rate_is_unknown_without_a_gpu_a_size_or_any_gpu() -> None:
    assert limits.decode_tokens_per_second(None, 1, 8.0, None) is None
    assert limits.decode_tokens_per_second("no-such-gpu", 1, 8.0, None) is None
    assert limits.decode_tokens_per_second("A10G", 1, None, None) is None
    assert limits.decode_tokens_per_second("A10G", 0, 8.0, None) is None


def test_versions_compare_part_by_part() -> None:
    assert limits.version_key("2.3.1") == (2, 3, 1) and limits.version_key("3.3") == (3, 3)
    assert limits.version_key("1.4.5-rc1") == (1, 4, 0)  # a part that is not a number counts as 0
    assert limits.at_least("2.2.0", "2.2.0")  # exactly the floor
    assert limits.at_least("2.10.0", "2.2.0") and not limits.at_least("2.1.9", "2.2.0")


@pytest.mark.parametrize(("version", "floor", "expected"), [
    ("3.3", "3.3.0", True), ("3.3.0", "3.3", True),  # a major.minor alias is its .0, both ways
    ("3", "3.0.0", True), ("3.0.0", "3", True),
    ("3.3", "3.3.1", False), ("3.3.1", "3.3", True),  # one patch either side of the alias
    ("3.2.9", "3.3", False), ("3.2", "3.3.0", False), ("3.4", "3.3.9", True)])
def test_an_alias_compares_as_its_dot_zero(version: str, floor: str, expected: bool) -> None:
    assert limits.at_least(version, floor) is expected
