"""The contract format: load YAML contract files, validate them, and say where a mistake is.

A contract file pins one endpoint family. Each case is either one request (``send`` +
``expect``) or a sequence of ``steps``; a step may ``capture`` values from its response and
later steps use them as ``${name}``. The format's JSON Schema is :data:`CONTRACT_SCHEMA`; a
file that breaks it fails with ``file:line: key: problem``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import jsonschema
import yaml

from heygen_lab import _yaml
from heygen_lab.contracts.match import validate_operators
from heygen_lab.errors import HeyGenError
from heygen_lab.routes import LEGACY_SUNSET, route

MODES = ("replay", "emulator", "live")
PROVENANCE_KINDS = ("documented", "reported", "emulator", "live")

MAX_GENERATED_BYTES = 256 * 1024 * 1024
_CAPTURED = {"type": "string", "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"}
"""A whole value taken from an earlier step's capture, such as ``"${upload_headers}"``."""

#: A route id: one of the table's (heygen_lab.routes) or ``v3-<operation>`` for any v3 operation;
#: the loader checks it names a known route (the spec loads only then).
_ROUTE_ID = r"^[a-z0-9][a-z0-9-]*$"

_SEND = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "route": {"type": "string", "pattern": _ROUTE_ID},
        "encoding": {"enum": ["raw", "multipart", "json", "empty", "none"]},
        "file": {"type": "string", "minLength": 1},
        "generate": {
            "type": "object", "additionalProperties": False, "required": ["from", "size"],
            "properties": {"from": {"type": "string", "minLength": 1},
                           "size": {"type": "integer", "minimum": 1,
                                    "maximum": MAX_GENERATED_BYTES}},
        },
        "file_field": {"type": "string", "minLength": 1},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "content_type": {"type": "string"},
        "json": {},
        "params": {"type": "object",
                   "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "path_params": {"type": "object", "additionalProperties": {"type": "string"}},
        "headers": {"oneOf": [
            {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            _CAPTURED]},
        "host": {"enum": ["api", "upload"]},
        "url": {"type": "string", "pattern": r"^(https?://|\$\{)"},
        "key": {"enum": ["valid", "invalid", "none"]},
    },
}
_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "body": {},
        "schema": {"type": "object"},
        "headers": {"type": "object"},
        "diagnosis": {"type": ["string", "null"]},
        "envelope": {"enum": ["v1", "v2", "v3", "none"]},
    },
}
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["send", "expect"],
    "properties": {
        "send": _SEND,
        "expect": _EXPECT,
        "capture": {"type": "object", "additionalProperties": {"type": "string"}},
        "repeat": {"type": "integer", "minimum": 1, "maximum": 20},
        "advance": {"type": "number", "minimum": 0},
    },
}
_PROVENANCE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "source"],
    "properties": {
        "kind": {"enum": list(PROVENANCE_KINDS)},
        "source": {"type": "string", "minLength": 1},
        "confidence": {"enum": ["doc", "many", "once", "conflict", "simulated"]},
        "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}"},
    },
    "if": {"properties": {"kind": {"const": "live"}}},
    "then": {"required": ["date"]},
}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_SUNSET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["date", "sources"],
    "properties": {
        "date": _DATE,
        "also_announced": {"type": "array", "items": _DATE, "uniqueItems": True},
        "sources": {"type": "array", "items": {"type": "string", "minLength": 1},
                    "minItems": 1},
        "note": {"type": "string"},
    },
}
"""The announced end of life of a legacy family: the date, other dates announced, the sources.
It must agree with the routes table (:data:`heygen_lab.routes.LEGACY_SUNSET`)."""
_CASE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "provenance"],
    "properties": {
        "summary": {"type": "string"},
        "plan": {"type": "string"},
        "faults": {"type": "string", "minLength": 1},
        "billed": {"type": "boolean"},
        "mutates": {"type": "boolean"},
        "modes": {"type": "array", "items": {"enum": list(MODES)}, "uniqueItems": True},
        "provenance": _PROVENANCE,
        "send": _SEND,
        "expect": _EXPECT,
        "capture": {"type": "object", "additionalProperties": {"type": "string"}},
        "steps": {"type": "array", "items": _STEP, "minItems": 1},
    },
    "oneOf": [{"required": ["send", "expect"], "not": {"required": ["steps"]}},
              {"required": ["steps"], "not": {"anyOf": [{"required": ["send"]},
                                                        {"required": ["expect"]}]}}],
}
CONTRACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["contract", "route", "cases"],
    "properties": {
        "contract": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "title": {"type": "string"},
        "route": {"type": "string", "pattern": _ROUTE_ID},
        "sunset": _SUNSET,
        "cases": {"type": "object", "minProperties": 1,
                  "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]*$"},
                  "additionalProperties": _CASE},
    },
}


class ContractError(HeyGenError):
    """A contract file is malformed; the message says file, line and key."""


@dataclass(frozen=True)
class Step:
    send: Mapping[str, Any]
    expect: Mapping[str, Any]
    capture: Mapping[str, str] = field(default_factory=dict)
    repeat: int = 1
    advance: float = 0.0


@dataclass(frozen=True)
class Case:
    """One pinned behaviour: its steps, where its payloads came from, what running it costs."""

    contract: str
    name: str
    summary: str
    steps: tuple[Step, ...]
    provenance: Mapping[str, str]
    plan: str | None = None
    faults: str | None = None  # emulator fault spec; such a case runs in emulator/replay only
    billed: bool = False
    mutates: bool = False
    modes: tuple[str, ...] = MODES
    file: str = ""
    line: int = 0
    sunset: Mapping[str, Any] | None = None
    """The contract's ``sunset`` when one of the case's steps goes to a v1/v2 route."""

    @property
    def id(self) -> str:
        return f"{self.contract}/{self.name}"


@dataclass(frozen=True)
class Contract:
    name: str
    title: str
    route: str
    cases: tuple[Case, ...]
    path: Path
    sunset: Mapping[str, Any] | None = None


def load_contract(path: Path) -> Contract:
    """Load and validate one contract file.

    The file is read every time; what it says is parsed and validated once per process for the
    same path and text (a check, a widget's every run and a test suite load the same contracts
    again and again). A :class:`Contract` is frozen and nothing changes its steps: the runner
    substitutes captures into copies.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot be read ({exc})") from None
    return _parse_contract(path, text)


@functools.lru_cache(maxsize=256)
def _parse_contract(path: Path, text: str) -> Contract:
    try:  # safe, strict YAML: duplicate keys (and so duplicate case names) are refused here
        data, node = _yaml.load_with_node(text, str(path))
    except _yaml.YAMLInputError as exc:
        raise ContractError(str(exc)) from None
    validator = jsonschema.Draft202012Validator(CONTRACT_SCHEMA)
    errors = list(validator.iter_errors(data))
    if errors:  # the deepest error is the most specific one
        err = max(errors, key=lambda e: len(e.absolute_path))
        keys = list(err.absolute_path)
        message = err.message
        if keys and keys[-1] == "headers" and err.validator == "oneOf":
            message = (f"must be a mapping of header names to strings, or a whole captured "
                       f"value such as '${{upload_headers}}'; got {err.instance!r}")
        raise ContractError(
            f"{path}:{_line(node, keys)}: {'.'.join(map(str, keys)) or '<top>'}: {message}"
        )
    default_route = data["route"]
    sunset = data.get("sunset")
    if sunset is not None:
        _check_sunset(sunset, path, _line(node, ["sunset"]))
    cases = []
    for name, raw in data["cases"].items():
        line = _line(node, ["cases", name])
        raw_steps = raw.get("steps") or [
            {k: raw[k] for k in ("send", "expect", "capture") if k in raw}]
        steps = []
        for i, s in enumerate(raw_steps):
            send_keys = ["cases", name, *(["steps", i] if "steps" in raw else []), "send"]
            for key, value in (("file", s["send"].get("file")),
                               ("generate.from", (s["send"].get("generate") or {}).get("from"))):
                if value is not None and _escapes(value):
                    keys = [*send_keys, *key.split(".")]
                    raise ContractError(
                        f"{path}:{_line(node, keys)}: {'.'.join(map(str, keys))}: {value!r} "
                        "leaves the contracts directory; name a file under it, relatively "
                        "(e.g. media/tiny.jpg)")
            for problem in validate_operators(s["expect"].get("body"), "body"):
                keys = ["cases", name, *(["steps", i] if "steps" in raw else []), "expect"]
                raise ContractError(f"{path}:{_line(node, keys)}: {'.'.join(map(str, keys))}: "
                                    f"{problem}")
            send = {"route": default_route, **s["send"]}
            try:
                route(send["route"])
            except ValueError as exc:
                keys = [*send_keys, "route"] if "route" in s["send"] else ["route"]
                raise ContractError(f"{path}:{_line(node, keys)}: {'.'.join(map(str, keys))}: "
                                    f"{exc}") from None
            steps.append(Step(send=send, expect=s["expect"], capture=s.get("capture", {}),
                              repeat=s.get("repeat", 1), advance=float(s.get("advance", 0))))
        cases.append(Case(
            contract=data["contract"], name=name, summary=raw["summary"], steps=tuple(steps),
            provenance=raw["provenance"], plan=raw.get("plan"), faults=raw.get("faults"),
            billed=raw.get("billed", False),
            mutates=raw.get("mutates", False), modes=tuple(raw.get("modes", MODES)),
            file=str(path), line=line,
            sunset=sunset if any(route(s.send["route"]).sunset for s in steps) else None,
        ))
    return Contract(name=data["contract"], title=data.get("title", data["contract"]),
                    route=default_route, cases=tuple(cases), path=path, sunset=sunset)


def _check_sunset(sunset: Mapping[str, Any], path: Path, line: int) -> None:
    """A contract's announced dates must be the routes table's: one truth, checked here."""
    table = {"date": LEGACY_SUNSET.date.isoformat(),
             "also_announced": sorted(d.isoformat() for d in LEGACY_SUNSET.also_announced)}
    got = {"date": sunset["date"], "also_announced": sorted(sunset.get("also_announced", []))}
    if got != table:
        raise ContractError(
            f"{path}:{line}: sunset: {got} disagrees with the routes table's announced end of "
            f"life {table} (heygen_lab.routes.LEGACY_SUNSET); change both or neither")


def load_contracts(directory: Path, only: Iterable[str] = ()) -> list[Contract]:
    """Every ``*.yaml`` contract in ``directory`` (sorted); ``only`` keeps matching case ids
    (``contract/case``, ``contract`` or ``case``)."""
    if not directory.is_dir():
        raise ContractError(f"{directory}: no such contract directory; pass --contracts DIR")
    contracts = [load_contract(p) for p in sorted(directory.glob("*.yaml"))]
    names = [c.name for c in contracts]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ContractError(f"{directory}: contract name(s) {sorted(dupes)} used by two files")
    wanted = set(only)
    if not wanted:
        return contracts
    kept = []
    for c in contracts:
        cases = tuple(k for k in c.cases if {k.id, k.contract, k.name} & wanted)
        if cases:
            kept.append(Contract(c.name, c.title, c.route, cases, c.path, c.sunset))
    if not kept:
        raise ContractError(f"no case matches {sorted(wanted)}; case ids look like "
                            f"'upload-v1/raw-jpeg'")
    return kept


def _escapes(name: str) -> bool:
    """Whether a contract's file name is absolute or climbs out with ``..``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    return pure.is_absolute() or ".." in pure.parts or PureWindowsPath(name).anchor != ""


def _line(node: yaml.Node | None, keys: list[Any]) -> int:
    """The 1-based line of the deepest node along ``keys`` that exists."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for key in keys:
        child = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    child = k if not isinstance(v, yaml.MappingNode | yaml.SequenceNode) else v
                    line = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
