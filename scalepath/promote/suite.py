"""Held-out evaluation suites: JSON Lines, one case a line, and the checks an answer must pass.

A case is ``{"messages": [...], "expect": {...}, "maxTokens": N, "id": "..."}``; ``expect`` takes
any of ``contains`` (a string or a list; every one must occur), ``regex`` (``re.search``),
``equals`` (the whole answer, surrounding white space ignored) and ``jsonSchema`` (the answer,
optionally inside one Markdown code fence, parsed as JSON and validated). A case passes when
every check it names passes. The format is documented in docs/promotion.md.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import referencing.exceptions
from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator
from referencing import Registry

from components.config_model import ConfigModel
from stacks.errors import clip, listing, unprintable

#: A suite larger than this is not a held-out set but a benchmark; refuse rather than read it all.
MAX_SUITE_BYTES = 16 * 1024 * 1024
#: Longest case id: a name for a report line.
MAX_ID = 200
_REFERENCE_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
_NO_RETRIEVAL: Registry = Registry()
"""Schemas resolve references only inside themselves: an empty registry with no ``retrieve`` means
no URL (``http:``, ``file:``) is ever fetched, whatever the suite says."""
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


class SuiteError(Exception):
    """The suite file cannot be used; the message names the file, the line and the field."""


class Message(ConfigModel):
    """One chat message, as the OpenAI chat API takes it."""

    role: Literal["system", "user", "assistant"]
    content: str


class Expect(ConfigModel):
    """What a correct answer looks like; at least one check."""

    contains: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    """Substrings that must all occur in the answer (a single string is one substring). Neither the
    list nor a substring may be empty: a check that no answer can fail would pass any candidate."""
    regex: Annotated[str, Field(min_length=1)] | None = None
    """A Python regular expression that must match somewhere in the answer."""
    equals: str | None = None
    """The whole answer, ignoring white space at both ends."""
    json_schema: dict[str, Any] | None = None
    """A JSON Schema the answer, parsed as JSON, must satisfy."""

    @field_validator("contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as error:
                raise ValueError(f"not a valid JSON Schema: {error.message}") from None
            for pointer, key, target in _references(value, ""):
                if not target.startswith("#"):
                    raise ValueError(f"{pointer}/{key} is {target!r}: a schema must be self-contained; only "
                                     "references inside it (#/$defs/...) are allowed, none to URLs or files")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> Expect:
        if all(v is None for v in (self.contains, self.regex, self.equals, self.json_schema)):
            raise ValueError("name at least one check: contains, regex, equals or jsonSchema")
        return self

    def failures(self, answer: str) -> list[str]:
        """Why ``answer`` fails this expectation (empty when it passes)."""
        # Quoted (repr: control characters escaped, never sent to the terminal) and clipped.
        failed = [f"does not contain {clip(needle)!r}" for needle in self.contains or () if needle not in answer]
        if self.regex is not None and not re.search(self.regex, answer):
            failed.append(f"does not match {clip(self.regex)!r}")
        if self.equals is not None and answer.strip() != self.equals.strip():
            failed.append(f"is not equal to {clip(self.equals)!r}")
        if self.json_schema is not None:
            failed.extend(_schema_failures(self.json_schema, answer))
        return failed


def _schema_failures(schema: dict[str, Any], answer: str) -> list[str]:
    fenced = _FENCE.match(answer)
    try:
        document = json.loads(fenced.group("body") if fenced else answer)
    except json.JSONDecodeError as error:
        return [f"is not JSON ({error.msg} at line {error.lineno}, column {error.colno})"]
    validator = jsonschema.validators.validator_for(schema)(schema, registry=_NO_RETRIEVAL)
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    except referencing.exceptions.Unresolvable as problem:
        return [f"jsonSchema cannot be evaluated: {problem}"]
    except RecursionError:
        return ["jsonSchema cannot be evaluated: it refers to itself without end (a $ref loop) or nests too deep"]
    if error is None:
        return []
    # The message repeats the answer's value: clipped, a long answer must not fill the report.
    return [f"fails jsonSchema at /{'/'.join(map(str, error.absolute_path))}: {clip(error.message)}"]


def _references(schema: Any, pointer: str) -> Iterator[tuple[str, str, str]]:
    """Every reference keyword in ``schema``: (JSON pointer of its object, keyword, target)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in _REFERENCE_KEYS and isinstance(value, str):
                yield pointer, key, value
            else:
                yield from _references(value, f"{pointer}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _references(item, f"{pointer}/{index}")


class Case(ConfigModel):
    """One suite line."""

    messages: Annotated[list[Message], Field(min_length=1)]
    expect: Expect
    max_tokens: PositiveInt | None = None
    """Cap on generated tokens for this case (the request's ``max_tokens``)."""
    id: Annotated[str, Field(min_length=1, max_length=MAX_ID)] | None = None
    """A name for reports; defaults to ``line N``. Printed as it is, so short and printable: no
    control or format characters (an escape sequence would drive the reader's terminal)."""

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (bad := unprintable(value)):
            raise ValueError(f"contains control/format character(s) {', '.join(bad)}; use printable text")
        return value


def load_suite(path: Path) -> list[Case]:
    """Read and validate a JSON Lines suite; blank lines are skipped. Raises :class:`SuiteError`."""
    try:
        info = path.stat()
    except OSError as error:
        raise SuiteError(f"--suite {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SuiteError(f"--suite {path}: not a regular file; give a .jsonl file")
    if info.st_size > MAX_SUITE_BYTES:
        raise SuiteError(f"--suite {path}: {info.st_size} bytes is over the {MAX_SUITE_BYTES}-byte limit; "
                         "a promotion suite is a held-out sample, keep it small")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SuiteError(f"--suite {path}: not UTF-8 text") from None
    except OSError as error:
        raise SuiteError(f"--suite {path}: {error.strerror or error}") from None
    cases: list[Case] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            case = Case.model_validate(raw)
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not JSON ({error.msg} at column {error.colno})")
            continue
        except ValidationError as error:
            problems.extend(f"line {number}: {_where(e['loc'])}: {_message(e)}" for e in error.errors())
            continue
        cases.append(case if case.id else case.model_copy(update={"id": f"line {number}"}))
    if problems:
        raise SuiteError(f"--suite {path}:\n{listing(problems)}")
    if not cases:
        raise SuiteError(f"--suite {path}: no cases; write one JSON object a line: "
                         '{"messages": [{"role": "user", "content": "..."}], "expect": {"contains": "..."}}')
    return cases


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(the line)"


def _message(error: dict[str, Any]) -> str:
    # Pydantic's own words, minus the "Value error, " prefix our validators get; the value itself
    # is never echoed (a suite may hold prompts that are not for logs).
    return str(error["msg"]).removeprefix("Value error, ")
