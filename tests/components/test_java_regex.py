"""Java-dialect patterns (botocore's models) translated for Python's ``re``: each construct the
models use, with what Java's ``java.util.regex`` makes of it (reasoned in the module's notes)."""

from __future__ import annotations

import pytest

from components.aws.java_regex import compile_pattern, translate


def test_a_mid_pattern_flag_runs_to_the_end_of_its_group_later_alternatives_included() -> None:
    assert translate("(a|(?i)b|c)d") == "(a|(?i:b|c))d"
    assert translate("x(?i)y") == "x(?i:y)"  # top level: to the end of the pattern
    assert translate("(?i)xy") == "(?i)xy"  # at the start Python reads it as Java does
    pattern = compile_pattern("(a|(?i)b|c)d")
    assert [bool(pattern.fullmatch(v)) for v in ("ad", "Bd", "Cd", "Ad", "aD")] == [True, True, True, False, False]


def test_case_blind_matching_folds_ascii_only_as_java_does_without_the_u_flag() -> None:
    # U+212A KELVIN SIGN folds to 'k' in Unicode matching; Java's (?i) (no UNICODE_CASE) does not fold it.
    assert compile_pattern("x(?i)k").fullmatch("xK")
    assert not compile_pattern("x(?i)k").fullmatch("x\u212a")
    assert not compile_pattern(r"\d").fullmatch("\u0663")  # ARABIC-INDIC DIGIT THREE: Java's \d is [0-9]


def test_posix_classes_are_us_ascii_and_general_categories_are_unicode() -> None:
    alnum = compile_pattern(r"arn:[\p{Alnum}\-]+")
    assert alnum.fullmatch("arn:aws-cn") and not alnum.fullmatch("arn:é")
    control = compile_pattern(r"[^\p{Cntrl}\r\n]*")
    assert control.fullmatch("any text, é") and not control.fullmatch("a\x1fb") and not control.fullmatch("a\x7f")
    assert control.fullmatch("a\x80b"), "U+0080 is Unicode Cc but not Java's US-ASCII \\p{Cntrl}"
    tag = compile_pattern(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)")
    assert tag.fullmatch("Équipe 7 ٣") and not tag.fullmatch("a!b")
    letters = compile_pattern(r"\p{L}+")  # outside a class too
    assert letters.fullmatch("aé") and not letters.fullmatch("a1")
    assert compile_pattern(r"[\P{L}]+").fullmatch("1 !") and not compile_pattern(r"\P{L}").fullmatch("a")
    uri = compile_pattern(r"s3://b(/[^\s\p{Cc}\p{Cf}]*)?")
    assert uri.fullmatch("s3://b/k") and not uri.fullmatch("s3://b/k\u200b")  # U+200B is Cf


def test_a_surrogate_pair_of_escapes_is_one_code_point() -> None:
    glue = compile_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert glue.fullmatch("table 😀\t") and not glue.fullmatch("a\x01")


def test_a_quantified_anchor_is_the_anchor_or_nothing() -> None:
    assert translate("(a*)${1,128}") == "(a*)$" and translate("a$*") == "a" and translate("a$+") == "a$"
    assert compile_pattern(r"([\p{L}]*)${1,128}").fullmatch("ab")


@pytest.mark.parametrize("pattern", [r"\p{Foo}", r"[a[b]]", r"[a&&b]", r"x(?u)y", r"[ab"])
def test_what_has_no_translation_is_refused_not_guessed(pattern: str) -> None:
    with pytest.raises(ValueError):
        translate(pattern)
