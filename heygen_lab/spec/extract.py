"""Re-create ``operations.json`` from a checkout of HeyGen's CLI (``heygen-com/heygen-cli``).

That repository generates ``gen/*.go`` from HeyGen's OpenAPI document: one
``var Name = &command.Spec{...}`` literal per operation, its schemas as JSON inside Go strings.
This module reads those literals with a small Go tokenizer and parser (never by running Go),
keeps only the structural facts and drops all prose, so a newer checkout can be compared with
the shipped file (``heygen-lab spec diff``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from heygen_lab.spec import SpecError

__all__ = ["ExtractError", "dump_operations", "extract_operations", "parse_go_specs"]

REPOSITORY: Final = "heygen-com/heygen-cli"
SOURCE: Final[Mapping[str, str]] = {
    "files": "gen/*.go",
    "license": "Apache-2.0",
    "note": "structural facts only: prose (descriptions, examples, titles) removed",
}
# Schema keywords whose values are prose, never structure.
_PROSE: Final = frozenset({"description", "title", "example", "examples"})
# Schema keywords whose values are schemas (or lists / maps of them) to walk into.
_SCHEMA_LISTS: Final = frozenset({"oneOf", "anyOf", "allOf", "prefixItems"})
_SCHEMA_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_ONE: Final = frozenset({"items", "additionalProperties", "not"})

_ESCAPES: Final = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
                   "'": 39, '"': 34}
_TOKEN: Final = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>[0-9][0-9a-zA-Z_.]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}()\[\],:=&.*+;])
""", re.VERBOSE | re.DOTALL)


class ExtractError(SpecError):
    """A checkout or a Go file that cannot be read as HeyGen CLI specs."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # ident, string, number, punct
    value: Any
    line: int


# ---------------------------------------------------------------------- tokenizer
def _go_string(body: str, where: str) -> str:
    """Decode the inside of a Go interpreted string literal (bytes, then UTF-8)."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "uU":
            width = 4 if e == "u" else 8
            digits = body[i + 2:i + 2 + width]
            if not re.fullmatch(rf"[0-9a-fA-F]{{{width}}}", digits):
                raise ExtractError(f"{where}: bad \\{e} escape {body[i:i + 2 + width]!r}")
            out += chr(int(digits, 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif re.fullmatch(r"[0-3][0-7]{2}", body[i + 1:i + 4]):
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            raise ExtractError(f"{where}: unknown escape {body[i:i + 2]!r} in a Go string")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{where}: a Go string is not UTF-8 ({exc})") from None


def _number(text: str, where: str) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        pass
    try:
        return float(clean)
    except ValueError:
        raise ExtractError(f"{where}: {text!r} is not a Go number") from None


def _tokens(text: str, name: str) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        where = f"{name}:{line}"
        if m is None:
            raise ExtractError(f"{where}: unexpected {text[pos:pos + 10]!r}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "raw":  # Go drops carriage returns from raw strings
            yield _Tok("string", raw[1:-1].replace("\r", ""), line)
        elif kind == "string":
            yield _Tok("string", _go_string(raw[1:-1], where), line)
        elif kind == "number":
            yield _Tok("number", _number(raw, where), line)
        elif kind in ("ident", "punct"):
            yield _Tok(kind, raw, line)
        line += raw.count("\n")
        pos = m.end()


# ---------------------------------------------------------------------- parser
class _Parser:
    """Go composite literals made of strings, numbers, booleans, nil and ``f(x)`` calls."""

    def __init__(self, text: str, name: str) -> None:
        self.toks = list(_tokens(text, name))
        self.i = 0
        self.name = name

    def _fail(self, wanted: str) -> ExtractError:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        got = f"{tok.value!r} at line {tok.line}" if tok else "the end of the file"
        return ExtractError(f"{self.name}: expected {wanted}, got {got}")

    def _peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def _is(self, value: str, offset: int = 0) -> bool:
        tok = self._peek(offset)
        return tok is not None and tok.kind in ("punct", "ident") and tok.value == value

    def _expect(self, value: str) -> None:
        if not self._is(value):
            raise self._fail(repr(value))
        self.i += 1

    def specs(self) -> Iterator[tuple[str, dict[str, Any], int]]:
        """Every ``var Name = &command.Spec{...}`` in the file (other declarations skipped)."""
        pattern = ("var", None, "=", "&", "command", ".", "Spec", "{")
        while self.i < len(self.toks):
            if all(want is None or self._is(want, k) for k, want in enumerate(pattern)):
                ident, line = self.toks[self.i + 1], self.toks[self.i].line
                if ident.kind != "ident":
                    raise self._fail("a variable name")
                self.i += 4
                value = self._value()
                if not isinstance(value, dict):
                    raise ExtractError(f"{self.name}:{line}: {ident.value} is not a keyed "
                                       "command.Spec literal")
                yield ident.value, value, line
            else:
                self.i += 1

    def _value(self) -> Any:
        if self._is("&"):
            self.i += 1
        tok = self._peek()
        if tok is None:
            raise self._fail("a value")
        if tok.kind == "string":
            self.i += 1
            text = tok.value
            while self._is("+"):  # "a" + "b"
                self.i += 1
                nxt = self._peek()
                if nxt is None or nxt.kind != "string":
                    raise self._fail("a string after '+'")
                text += nxt.value
                self.i += 1
            return text
        if tok.kind == "number":
            self.i += 1
            return tok.value
        if tok.kind == "ident" and tok.value in ("true", "false", "nil"):
            self.i += 1
            return {"true": True, "false": False, "nil": None}[tok.value]
        if tok.kind == "ident" and self._is("(", 1):  # intPtr(1), floatPtr(0.5)
            self.i += 2
            inner = self._value()
            self._expect(")")
            return inner
        if self._is("{"):
            return self._composite(slice_type=None)
        if tok.kind != "ident" and not self._is("["):
            raise self._fail("a value")
        return self._typed_composite()

    def _typed_composite(self) -> Any:
        is_slice = False
        if self._is("["):
            self._expect("[")
            self._expect("]")
            is_slice = True
        while (tok := self._peek()) is not None and (
                tok.kind == "ident" or (tok.kind == "punct" and tok.value in (".", "*"))):
            self.i += 1
        if not self._is("{"):
            raise self._fail("a composite literal")
        return self._composite(slice_type=is_slice)

    def _composite(self, slice_type: bool | None) -> Any:
        self._expect("{")
        keyed: dict[str, Any] = {}
        items: list[Any] = []
        while not self._is("}"):
            tok = self._peek()
            if tok is not None and tok.kind in ("ident", "string") and self._is(":", 1):
                self.i += 2
                keyed[str(tok.value)] = self._value()
            else:
                items.append(self._value())
            if not self._is("}"):
                self._expect(",")
        self._expect("}")
        if keyed and items:
            raise self._fail("a literal that is either all keyed or all positional")
        if slice_type or items or (slice_type is None and not keyed):
            return items
        return keyed


def parse_go_specs(text: str, name: str = "<go>") -> dict[str, tuple[dict[str, Any], int]]:
    """The ``command.Spec`` literals of one Go file: variable name -> (fields, line)."""
    return {var: (fields, line) for var, fields, line in _Parser(text, name).specs()}


# ---------------------------------------------------------------------- conversion
def _strip(schema: Any) -> Any:
    """A JSON Schema without its prose keywords (property *names* such as ``title`` stay)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _PROSE:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_strip(sub) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = [_strip(s) for s in value] if isinstance(value, list) else _strip(value)
        else:
            out[key] = value
    return out


def _schema(raw: Any, where: str) -> Any:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ExtractError(f"{where}: expected a JSON schema in a Go string")
    try:
        return _strip(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise ExtractError(f"{where}: the schema is not JSON ({exc})") from None


def _flag(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ExtractError(f"{where}: a flag is not a keyed FlagSpec literal")
    out: dict[str, Any] = {"name": raw.get("Name"), "type": raw.get("Type"),
                           "source": raw.get("Source"), "json_name": raw.get("JSONName"),
                           "required": bool(raw.get("Required"))}
    for go, key in (("Enum", "enum"), ("Min", "min"), ("Max", "max")):
        if raw.get(go) not in (None, []):
            out[key] = raw[go]
    return out


def _operation(name: str, fields: Mapping[str, Any], where: str) -> dict[str, Any]:
    endpoint = fields.get("Endpoint")
    if not isinstance(endpoint, str):
        raise ExtractError(f"{where}: {name} has no Endpoint string")
    args = fields.get("Args") or []
    params = {str(a.get("Param")) for a in args if isinstance(a, dict)}
    in_path = re.findall(r"\{(\w+)\}", endpoint)
    if params != set(in_path):
        raise ExtractError(f"{where}: {name}: Args name the path parameters {sorted(params)} "
                           f"but the endpoint {endpoint} has {in_path}")
    return {
        "group": fields.get("Group"),
        "command": fields.get("Name"),
        "method": fields.get("Method"),
        "endpoint": endpoint,
        "body_encoding": fields.get("BodyEncoding") or None,
        "paginated": bool(fields.get("Paginated")),
        "pollable": bool(fields.get("Pollable")),
        "destructive": bool(fields.get("Destructive")),
        "path_params": in_path,
        "flags": [_flag(f, f"{where}: {name}") for f in fields.get("Flags") or []],
        "request_schema": _schema(fields.get("RequestSchema"), f"{where}: {name}.RequestSchema"),
        "response_schema": _schema(fields.get("ResponseSchema"),
                                   f"{where}: {name}.ResponseSchema"),
    }


def _commit(checkout: Path) -> str:
    """HEAD of ``checkout`` when it is the top of a git work tree, else ``"unknown"``."""
    try:
        top = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--show-toplevel", "HEAD"],
                             capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = top.stdout.split()
    # A directory inside some other repository must not borrow that repository's commit.
    if len(lines) == 2 and Path(lines[0]).resolve() == checkout.resolve():
        return lines[1]
    return "unknown"


def extract_operations(checkout: Path) -> dict[str, Any]:
    """An ``operations.json``-shaped document from ``checkout/gen/*.go`` (operations by name)."""
    checkout = Path(checkout)
    files = sorted((checkout / "gen").glob("*.go"))
    operations: dict[str, Any] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExtractError(f"{path}: cannot read it ({exc})") from None
        for name, (fields, line) in parse_go_specs(text, str(path)).items():
            if name in operations:
                raise ExtractError(f"{path}:{line}: {name} is defined twice")
            operations[name] = _operation(name, fields, f"{path}:{line}")
    if not operations:
        found = "no gen/ directory" if not (checkout / "gen").is_dir() else (
            f"{len(files)} gen/*.go file(s) without any command.Spec")
        raise ExtractError(f"{checkout}: {found}; pass the root of a heygen-com/heygen-cli "
                           "checkout (the directory that holds gen/*.go)")
    source = {"repository": REPOSITORY, "commit": _commit(checkout), **SOURCE}
    return {"source": source, "operations": dict(sorted(operations.items()))}


def dump_operations(document: Mapping[str, Any]) -> str:
    """The document as text, in the shipped file's layout (one-space indent)."""
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
