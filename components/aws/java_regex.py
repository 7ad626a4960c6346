"""AWS API patterns (botocore's ``pattern``) as Python ``re`` patterns with the same meaning.

AWS validates a member's ``pattern`` with Java's ``java.util.regex``: the models use Java-only
syntax (``\\p{Alnum}``, ``\\p{Cntrl}``, a global flag in mid-pattern), which Python's ``re``
refuses or reads otherwise. :func:`compile_pattern` translates what the models use, meaning for
meaning, and compiles the result with ``re.ASCII``: Java's ``\\d``, ``\\w``, ``\\s`` and ``(?i)``
are US-ASCII unless a pattern asks otherwise, where Python's default is Unicode.

- A global flag group after the start (budgets ``BudgetName``:
  ``^(?![^:\\\\]*/action/|(?i).*<script>.*</script>.*)[^:\\\\]+$``): Java switches the flag on at
  that point until the end of the enclosing group (``Pattern.group0`` restores the flags only
  when a group closes), later alternatives of that group included. Python takes global flags
  only at the very start, so the rest of the enclosing group becomes a scoped group ``(?i:...)``:
  ``(a|(?i)b|c)`` -> ``(a|(?i:b|c))``. Moving the flag to the front instead would also make the
  part before it case-insensitive, and dropping it would let ``<SCRIPT>`` through.
- ``\\p{X}`` / ``\\P{X}``: a Unicode general category (``L``, ``Cc``, ...) becomes the ranges of
  code points Python's ``unicodedata`` puts in it (Unicode version of the running Python); a Java
  POSIX class (``Alnum``, ``Cntrl``) its US-ASCII set, as ``java.util.regex.Pattern`` defines it.
- ``\\uD800\\uDC00``: Java reads a UTF-16 surrogate pair of escapes as one code point (U+10000).
- A quantifier on an anchor (``${1,128}``): Java repeats the zero-width anchor, so one or more
  is the anchor itself and zero or more matches anywhere (no anchor).

Anything else Java-only (nested classes, ``&&``) is refused with ``ValueError``, never guessed:
``tests/components/test_java_regex.py`` compiles every pattern of the models scalepath reads.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

#: Java's POSIX classes that the models use, US-ASCII only (java.util.regex.Pattern).
_POSIX = {"Alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)), "Cntrl": ((0x00, 0x1F), (0x7F, 0x7F))}
#: Inline flags Java and Python read alike.
_FLAGS = frozenset("ims")
_QUANTIFIER = re.compile(r"(\*|\+|\?|\{(\d+)(,\d*)?\})[?+]?")
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]+)\)")
_PROPERTY = re.compile(r"\{(\w+)\}")
_SURROGATES = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` (Java dialect, as in botocore's models) compiled for Python's ``re``."""
    return re.compile(translate(pattern), re.ASCII)


def translate(pattern: str) -> str:
    """``pattern`` rewritten in Python's ``re`` syntax, same meaning (see the module's notes)."""
    out: list[str] = []
    scoped = [0]  # per open group: the scoped flag groups opened in it, closed with it
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            piece, i = _escape(pattern, i, in_class=False)
            out.append(piece)
            continue
        if char == "[":
            piece, i = _char_class(pattern, i)
            out.append(piece)
            continue
        flags = _FLAG_GROUP.match(pattern, i)
        if flags and (i > 0 or len(scoped) > 1):
            unknown = set(flags.group(1)) - _FLAGS
            if unknown:
                raise ValueError(f"inline flag(s) {''.join(sorted(unknown))} in {pattern!r} have no translation")
            out.append(f"(?{flags.group(1)}:")
            scoped[-1] += 1
            i = flags.end()
            continue
        if char == "(":
            scoped.append(0)
        elif char == ")":
            out.append(")" * scoped.pop())
        elif char in "^$":
            quantifier = _QUANTIFIER.match(pattern, i + 1)
            if quantifier:
                least = int(quantifier.group(2)) if quantifier.group(2) else (1 if quantifier.group(1) == "+" else 0)
                out.append(char if least else "")
                i = quantifier.end()
                continue
        out.append(char)
        i += 1
    out.append(")" * scoped.pop())
    return "".join(out)


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    out = ["["]
    i = start + 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    if pattern[i : i + 1] == "]":  # a leading ']' is a literal in both dialects
        out.append("\\]")
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        if pattern[i] == "\\":
            piece, i = _escape(pattern, i, in_class=True)
            out.append(piece)
        elif pattern[i] == "[" or pattern.startswith("&&", i):
            raise ValueError(f"Java class syntax at {i} in {pattern!r} (nested class or '&&') has no translation")
        else:
            out.append(pattern[i])
            i += 1
    if i >= len(pattern):
        raise ValueError(f"unterminated character class in {pattern!r}")
    out.append("]")
    return "".join(out), i + 1


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str, int]:
    """The escape at ``pattern[i]`` (a backslash) in Python's syntax, and where the pattern goes on."""
    kind = pattern[i + 1 : i + 2]
    if kind in ("p", "P"):
        name = _PROPERTY.match(pattern, i + 2)
        if not name:
            raise ValueError(f"\\{kind} without {{Name}} at {i} in {pattern!r}")
        ranges = _ranges(name.group(1), negate=kind == "P")
        return (ranges if in_class else f"[{ranges}]"), name.end()
    pair = _SURROGATES.match(pattern, i)
    if pair:
        high, low = (int(unit, 16) for unit in pair.groups())
        return _code(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)), pair.end()
    return pattern[i : i + 2], i + 2


def _ranges(name: str, *, negate: bool) -> str:
    if name in _POSIX:
        spans = _POSIX[name]
    elif name in _categories() or (len(name) == 1 and any(c.startswith(name) for c in _categories())):
        spans = _merge(sorted(span for category, found in _categories().items()
                              if category.startswith(name) for span in found))
    else:
        raise ValueError(f"\\p{{{name}}} is neither a Unicode general category nor a known Java POSIX class")
    if negate:
        spans = _complement(spans)
    return "".join(_code(a) if a == b else f"{_code(a)}-{_code(b)}" for a, b in spans)


@cache
def _categories() -> dict[str, tuple[tuple[int, int], ...]]:
    """Every general category (``Lu``, ``Cc``...) as ranges of code points (one pass, ~0.3 s)."""
    found: dict[str, list[list[int]]] = {}
    for point in range(sys.maxunicode + 1):
        spans = found.setdefault(unicodedata.category(chr(point)), [])
        if spans and spans[-1][1] == point - 1:
            spans[-1][1] = point
        else:
            spans.append([point, point])
    return {category: tuple((a, b) for a, b in spans) for category, spans in found.items()}


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


def _complement(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    gaps, start = [], 0
    for a, b in spans:
        if a > start:
            gaps.append((start, a - 1))
        start = b + 1
    if start <= sys.maxunicode:
        gaps.append((start, sys.maxunicode))
    return tuple(gaps)


def _code(point: int) -> str:
    return f"\\U{point:08x}"
