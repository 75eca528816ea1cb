"""Compare an observed value with a pinned expectation, field by field.

An expectation is a *subset*: every key it names must be present and match; keys it does not
name are free. Lists match element by element and must have the same length. Volatile values
(ids, timestamps, signed URLs) are pinned by shape with an operator instead of a literal:

- ``{$type: string}`` (or integer, number, boolean, null, object, array; a list means any of them)
- ``{$pattern: "^https?://"}``: a string matching the regular expression (``re.search``)
- ``{$absent: true}``: the key must not be there
- ``{$any: true}``: present, any value
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "object": (dict,), "array": (list,),
}
OPERATORS = frozenset({"$type", "$pattern", "$absent", "$any"})


@dataclass(frozen=True)
class Difference:
    """One field that differs: where, what was pinned, what was seen."""

    path: str
    expected: Any
    observed: Any
    problem: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path or "<root>", "expected": self.expected,
                "observed": self.observed, "problem": self.problem}


MISSING = object()
"""Stands for a key or header that is not there."""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name in ("string", "integer", "number", "null", "object", "array"):
        if isinstance(value, _TYPES[name]):
            return name
    return type(value).__name__


def _is_operator(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= OPERATORS


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(expected: Any, observed: Any, path: str = "") -> list[Difference]:
    """Every difference between ``expected`` (a subset with operators) and ``observed``."""
    if _is_operator(expected):
        return _operator(expected, observed, path)
    if observed is MISSING:
        return [Difference(path, expected, None, f"missing, expected {_short(expected)}")]
    if isinstance(expected, dict):
        if not isinstance(observed, dict):
            return [Difference(path, expected, observed,
                               f"expected an object, got {_type_name(observed)} "
                               f"{_short(observed)}")]
        diffs: list[Difference] = []
        for key, want in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            diffs += compare(want, observed.get(key, MISSING), sub)
        return diffs
    if isinstance(expected, list):
        if not isinstance(observed, list):
            return [Difference(path, expected, observed,
                               f"expected an array, got {_type_name(observed)}")]
        if len(expected) != len(observed):
            return [Difference(path, expected, observed,
                               f"expected {len(expected)} items, got {len(observed)}")]
        out: list[Difference] = []
        for i, (want, got) in enumerate(zip(expected, observed, strict=True)):
            out += compare(want, got, f"{path}[{i}]")
        return out
    same = expected == observed and _type_name(expected) == _type_name(observed)
    if same or (isinstance(expected, float | int) and isinstance(observed, float | int)
                and not isinstance(expected, bool) and not isinstance(observed, bool)
                and expected == observed):
        return []
    return [Difference(path, expected, observed,
                       f"expected {_short(expected)}, got {_short(observed)}")]


def _operator(spec: dict[str, Any], observed: Any, path: str) -> list[Difference]:
    if spec.get("$absent"):
        if observed is MISSING:
            return []
        return [Difference(path, spec, observed, f"should be absent, got {_short(observed)}")]
    if observed is MISSING:
        return [Difference(path, spec, None, f"missing, expected {_describe(spec)}")]
    if "$type" in spec:
        names = spec["$type"] if isinstance(spec["$type"], list) else [spec["$type"]]
        if _type_name(observed) not in names and not (
            "number" in names and _type_name(observed) == "integer"
        ):
            return [Difference(path, spec, observed,
                               f"expected {' or '.join(names)}, got {_type_name(observed)} "
                               f"{_short(observed)}")]
    if "$pattern" in spec and (
        not isinstance(observed, str) or re.search(spec["$pattern"], observed) is None
    ):
        return [Difference(path, spec, observed,
                           f"expected to match /{spec['$pattern']}/, got {_short(observed)}")]
    return []


def _describe(spec: dict[str, Any]) -> str:
    if "$type" in spec:
        return f"a {spec['$type']}"
    if "$pattern" in spec:
        return f"a string matching /{spec['$pattern']}/"
    return "a value"


def validate_operators(expected: Any, path: str = "") -> list[str]:
    """Problems in an expectation's operators (unknown $-keys, bad types, bad regexes)."""
    problems: list[str] = []
    if isinstance(expected, dict):
        dollar = {k for k in expected if isinstance(k, str) and k.startswith("$")}
        if dollar - OPERATORS:
            problems.append(f"{path or '<root>'}: unknown operator(s) {sorted(dollar - OPERATORS)};"
                            f" use {sorted(OPERATORS)}")
        elif dollar and dollar != set(expected):
            problems.append(f"{path or '<root>'}: operators cannot be mixed with plain keys")
        if "$type" in expected:
            names = expected["$type"]
            names = names if isinstance(names, list) else [names]
            bad = [n for n in names if n not in _TYPES]
            if bad:
                problems.append(f"{path}: unknown $type {bad}; use one of {sorted(_TYPES)}")
        if "$pattern" in expected:
            try:
                re.compile(str(expected["$pattern"]))
            except re.error as exc:
                problems.append(f"{path}: $pattern is not a valid regular expression ({exc})")
        if not dollar:
            for key, value in expected.items():
                problems += validate_operators(value, f"{path}.{key}" if path else str(key))
    elif isinstance(expected, list):
        for i, value in enumerate(expected):
            problems += validate_operators(value, f"{path}[{i}]")
    return problems
