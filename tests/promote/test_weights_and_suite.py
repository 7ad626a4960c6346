"""Promotion building blocks: weight shifts, suite parsing and answer checks."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalepath.promote.suite import Expect, SuiteError, load_suite
from scalepath.promote.weights import shift


def test_step_moves_to_the_candidate_in_proportion() -> None:
    assert shift({"a": 90, "b": 10}, "b", 10) == {"a": 80, "b": 20}
    assert shift({"a": 60, "b": 30, "c": 10}, "c", 10) == {"a": 53, "b": 27, "c": 20}
    assert shift({"a": 100}, "new", 10) == {"a": 90, "new": 10}
    assert shift({"a": 5, "b": 95}, "b", 10) == {"a": 0, "b": 100}


def test_the_one_percent_left_goes_to_the_largest_remainder() -> None:
    # 10 points from a (1) and b (10): shares 10/11 = 0.91 and 100/11 = 9.09; floors 0 and 9 give 9,
    # and the tenth goes to a, whose remainder (0.91) is the larger, though its share is the smaller.
    assert shift({"a": 1, "b": 10, "c": 89}, "c", 10) == {"a": 0, "b": 1, "c": 99}


def test_nothing_to_take_from_leaves_the_weights_alone() -> None:
    # The candidate holds everything already; the other target has 0 to give (no division by zero).
    assert shift({"a": 0, "b": 100}, "b", 10) == {"a": 0, "b": 100}


def test_weights_must_sum_to_100() -> None:
    with pytest.raises(ValueError, match="^weights sum to 90, not 100$"):
        shift({"a": 80, "b": 10}, "b", 10)


@given(st.lists(st.integers(0, 100), min_size=1, max_size=5).filter(lambda ws: sum(ws) <= 100),
       st.integers(1, 100), st.booleans())
def test_weights_stay_whole_percents_summing_to_100(raw: list[int], step: int, candidate_is_new: bool) -> None:
    weights = {f"t{i}": w for i, w in enumerate(raw)}
    weights["t0"] += 100 - sum(raw)
    to = "new" if candidate_is_new else f"t{len(raw) - 1}"
    result = shift(weights, to, step)
    assert sum(result.values()) == 100
    assert all(0 <= w <= 100 for w in result.values())
    assert result[to] == min(100, weights.get(to, 0) + step)
    assert all(result[name] <= weights[name] for name in weights if name != to)
    assert list(result)[: len(weights)] == list(weights)


def write_suite(tmp_path: Path, *cases: object) -> Path:
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join(c if isinstance(c, str) else json.dumps(c) for c in cases) + "\n")
    return path


def test_suite_cases_and_every_check_kind(tmp_path: Path) -> None:
    user = [{"role": "user", "content": "q"}]
    cases = load_suite(write_suite(
        tmp_path,
        {"messages": user, "expect": {"contains": ["Paris", "France"]}},
        "",
        {"messages": user, "expect": {"regex": r"\b4\b"}, "maxTokens": 8, "id": "math"},
        {"messages": user, "expect": {"equals": "yes"}},
        {"messages": user, "expect": {"jsonSchema": {"type": "object", "required": ["city"]}}},
    ))
    assert [c.id for c in cases] == ["line 1", "math", "line 4", "line 5"]
    assert cases[1].max_tokens == 8
    assert cases[0].expect.failures("Paris is in France") == []
    assert cases[0].expect.failures("Paris") == ["does not contain 'France'"]
    assert cases[1].expect.failures("2+2 is 4.") == [] and cases[1].expect.failures("44") != []
    assert cases[2].expect.failures("  yes\n") == [] and cases[2].expect.failures("yes!") != []
    schema = cases[3].expect
    assert schema.failures('```json\n{"city": "Paris"}\n```') == []
    assert "is not JSON" in schema.failures("Paris")[0]
    assert "city" in schema.failures('{"town": "Paris"}')[0]


def case_line(expect: dict, **extra: object) -> str:
    return json.dumps({"messages": [{"role": "user", "content": "q"}], "expect": expect, **extra})


@pytest.mark.parametrize(("line", "says"), [
    ("{not json", "line 1: not JSON"),
    (json.dumps({"messages": [], "expect": {"contains": "x"}}), "line 1: messages"),
    (case_line({}), "at least one check"),
    (case_line({"regex": "("}), "regular expression"),
    (case_line({"jsonSchema": {"type": 5}}), "JSON Schema"),
    (case_line({"contain": "x"}), "expect.contain"),
    (case_line({"equals": "x"}, maxTokens=0), "maxTokens"),
    (case_line({"contains": []}), "expect.contains: List should have at least 1 item"),
    (case_line({"contains": ""}), "expect.contains.0: String should have at least 1 character"),
    (case_line({"contains": ["Paris", ""]}), "expect.contains.1: String should have at least 1 character"),
    (case_line({"regex": ""}), "expect.regex: String should have at least 1 character"),
])
def test_bad_suites_name_the_line_and_field(tmp_path: Path, line: str, says: str) -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(write_suite(tmp_path, line))
    assert says in str(caught.value)


def test_suite_must_be_a_regular_nonempty_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no cases"):
        load_suite(write_suite(tmp_path, ""))
    with pytest.raises(SuiteError, match="not a regular file"):
        load_suite(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SuiteError, match="not a regular file"):
        load_suite(fifo)
    with pytest.raises(SuiteError, match="No such file"):
        load_suite(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/internal/metadata", "file:///etc/hostname",
                                    "other.json#/x", "https://json-schema.org/draft/2020-12/schema"])
def test_a_schema_that_refers_outside_itself_is_refused_at_load(tmp_path: Path, target: str) -> None:
    schema = {"type": "object", "properties": {"city": {"$ref": target}}}
    with pytest.raises(SuiteError) as caught:
        load_suite(write_suite(tmp_path, case_line({"jsonSchema": schema}, id="leak")))
    message = str(caught.value)
    assert "line 1: expect.jsonSchema" in message and "/properties/city/$ref" in message
    assert "self-contained" in message


def test_schema_checks_fetch_nothing_even_if_a_reference_slipped_past_load() -> None:
    # Built without validation, as a stand-in for any reference the load check might miss.
    hits: list[str] = []

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"type": "string"}')

        def log_message(self, *args: object) -> None:
            return

    with ThreadingHTTPServer(("127.0.0.1", 0), Metadata) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/internal/metadata"
        failures = Expect.model_construct(json_schema={"$ref": url}).failures('"x"')
        server.shutdown()
    assert hits == []
    assert failures == [f"jsonSchema cannot be evaluated: Unresolvable: {url}"]


def test_a_schema_whose_refs_loop_fails_its_case_instead_of_crashing(tmp_path: Path) -> None:
    loop = {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}
    cases = load_suite(write_suite(tmp_path, case_line({"jsonSchema": loop})))
    assert cases[0].expect.failures('{"city": "Paris"}') == [
        "jsonSchema cannot be evaluated: it refers to itself without end (a $ref loop) or nests too deep"]


def _case(**fields: object) -> str:
    return json.dumps({"messages": [{"role": "user", "content": "q"}], "expect": {"contains": "Paris"}, **fields})


@pytest.mark.parametrize("case_id, problem", [
    ("\x1b[2J\x1b]0;pwned\x07q1", "control/format character(s) U+0007, U+001B"),  # would drive the terminal
    ("q1\u202egnp.exe", "control/format character(s) U+202E"),  # right-to-left override
    ("q" * 201, "at most 200 characters"),
])
def test_a_case_id_the_report_cannot_print_as_it_is_is_refused(tmp_path: Path, case_id: str, problem: str) -> None:
    """The report prints ids as they are: an escape sequence in a suite reached the reader's terminal
    and a 100,000-character id filled the report (issue 27, classes 11 and 13)."""
    path = tmp_path / "suite.jsonl"
    path.write_text(_case(id=case_id) + "\n")
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    assert "line 1: id:" in str(caught.value) and problem in str(caught.value)
    assert case_id not in str(caught.value)


def test_a_failure_quotes_the_expectation_escaped_and_clipped() -> None:
    """``does not match /<regex>/`` printed the suite's regex raw and whole."""
    regex = "\x1b\\[31m" + "a" * 100_000
    failures = Expect(regex=regex, equals=regex, contains=[regex]).failures("b")
    assert len(failures) == 3
    for failure in failures:
        assert "\x1b" not in failure and "characters in all" in failure and len(failure) < 400, failure[:100]


def test_a_suite_with_many_bad_lines_lists_fifty_of_them(tmp_path: Path) -> None:
    path = tmp_path / "suite.jsonl"
    path.write_text("{}\n" * 10_000)
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    assert "line 25: expect" in str(caught.value) and "line 26:" not in str(caught.value)  # two problems a line
    assert str(caught.value).count("\n") == 51 and "and 19,950 more" in str(caught.value)
