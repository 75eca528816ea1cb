"""HeyGen's v3 API as data: 85 operations from HeyGen's own command-line client.

``operations.json`` beside this module is the source of truth for v3 names and shapes (see
``PROVENANCE.md``: repository, commit, licence). This module loads it and answers the questions
the client, the emulator and the contracts all ask:

- which operation a request is (:meth:`Spec.find`; static segments win over ``{id}``),
- whether a request is well formed (:meth:`Operation.check_request`: path, query flags with
  required/enum/min/max, the JSON body against the request schema, the multipart ``file`` part),
- whether an answer has the documented shape (:meth:`Operation.check_response`).

The schemas are OpenAPI 3.0: ``nullable`` and ``discriminator`` are translated to JSON Schema
here, once per operation, so every caller validates the same way.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

if TYPE_CHECKING:  # jsonschema loads only when a request or answer is first checked
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = [
    "Flag",
    "Match",
    "Operation",
    "Spec",
    "SpecError",
    "Violation",
    "load_spec",
    "to_json_schema",
]

_FLAG_TYPES: Final = frozenset({"string", "int", "float64", "bool", "string-slice"})
_SOURCES: Final = frozenset({"query", "body", "file"})
_ENCODINGS: Final = frozenset({"json", "multipart", None})
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class SpecError(ValueError):
    """A spec file is missing, not JSON, or not shaped like ``operations.json``."""


@dataclass(frozen=True)
class Violation:
    """One reason a request breaks the spec: the offending ``param`` and what is wrong."""

    param: str
    message: str

    def __str__(self) -> str:
        return f"{self.param}: {self.message}"


@dataclass(frozen=True)
class Flag:
    """A query, body or file parameter as the official client exposes it."""

    name: str
    json_name: str
    source: str
    type: str
    required: bool
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, eq=False)
class Operation:
    """One v3 operation: ``method`` + ``endpoint`` template, its parameters and schemas."""

    name: str
    group: str
    command: str
    method: str
    endpoint: str
    body_encoding: str | None
    paginated: bool
    pollable: bool
    destructive: bool
    path_params: tuple[str, ...]
    flags: tuple[Flag, ...]
    request_schema: Mapping[str, Any] | None = field(repr=False)
    response_schema: Mapping[str, Any] | None = field(repr=False)

    @property
    def idempotent(self) -> bool:
        """Whether repeating the request cannot do anything twice (RFC 9110)."""
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

    def flags_in(self, source: str) -> tuple[Flag, ...]:
        """The flags sent in ``query``, ``body`` or ``file``."""
        return tuple(f for f in self.flags if f.source == source)

    def path(self, **params: str) -> str:
        """The endpoint with its path parameters filled in, each percent-encoded.

        ``delete_asset("x/../other")`` must address one asset named so, never another path.
        """
        missing = [p for p in self.path_params
                   if not (isinstance(params.get(p), str) and params[p])]
        if missing:
            raise ValueError(f"{self.name} needs the path parameter(s) {', '.join(missing)} "
                             f"(non-empty strings); got {sorted(params)}")
        extra = sorted(set(params) - set(self.path_params))
        if extra:
            raise ValueError(f"{self.name} has no path parameter(s) {', '.join(extra)}; "
                             f"its path is {self.endpoint}")
        return re.sub(r"\{(\w+)\}", lambda m: quote(params[m.group(1)], safe=""), self.endpoint)

    # ------------------------------------------------------------------ validation
    @cached_property
    def _request_validator(self) -> Draft202012Validator | None:
        from jsonschema import Draft202012Validator

        if self.request_schema is None or self.body_encoding != "json":
            return None
        schema = to_json_schema(self.request_schema)
        for flag in self.flags_in("body"):  # the client's flag limits are part of the contract
            _constrain(schema, flag)
        return Draft202012Validator(schema)

    @cached_property
    def _response_validator(self) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        # The schemas say ``required: []`` at the top, yet every success body is {"data": ...}:
        # without this, ``{}`` or an error envelope would pass as any operation's answer.
        schema = {**(self.response_schema or {"type": "object"}), "required": ["data"]}
        return Draft202012Validator(to_json_schema(schema))

    def check_request(self, *, path_params: Mapping[str, str] | None = None,
                      query: Mapping[str, str | Sequence[str]] | None = None,
                      body: Any = None, files: Iterable[str] = ()) -> list[Violation]:
        """Every way this request breaks the spec (empty when it is well formed).

        ``query`` maps names to a value or a list of values (repeated names); ``body`` is the
        decoded JSON body (``None`` when there is none); ``files`` names the multipart parts
        that carry a file. The first violation is what HeyGen's 400 ``param`` would name.
        """
        found: list[Violation] = []
        path_params = path_params or {}
        for name in self.path_params:
            if not path_params.get(name):
                found.append(Violation(name, "is required in the path"))
        query = query or {}
        for flag in self.flags_in("query"):
            raw = query.get(flag.json_name)
            value = raw[-1] if isinstance(raw, Sequence) and not isinstance(raw, str) and raw \
                else raw
            if value is None or value == "" or (not isinstance(value, str)):
                if flag.required:
                    found.append(Violation(flag.json_name, "is required"))
                continue
            problem = _check_scalar(flag, value)
            if problem:
                found.append(Violation(flag.json_name, problem))
        if self.body_encoding == "multipart":
            names = set(files)
            for flag in self.flags_in("file"):
                if flag.required and flag.json_name not in names:
                    found.append(Violation(flag.json_name,
                                           f"a multipart part named {flag.json_name!r} with the "
                                           "file is required"))
        elif self.body_encoding == "json":
            validator = self._request_validator
            if not isinstance(body, dict):
                found.append(Violation("body", "must be a JSON object"))
            elif validator is not None:
                from jsonschema.exceptions import best_match

                error = best_match(validator.iter_errors(body), key=_relevance)
                if error is not None:
                    found.append(_violation(error))
        return found

    def check_response(self, body: Any) -> list[str]:
        """Where a 2xx body departs from the response schema (empty when it conforms)."""
        return [f"{_where(e.absolute_path) or 'body'}: {e.message}"
                for e in self._response_validator.iter_errors(body)]


@dataclass(frozen=True)
class Match:
    """An operation found for a request, with its path parameters."""

    operation: Operation
    params: dict[str, str]


@dataclass(frozen=True)
class Spec:
    """A set of operations with where they came from."""

    operations: Mapping[str, Operation]
    source: Mapping[str, Any]

    def __getitem__(self, name: str) -> Operation:
        try:
            return self.operations[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.operations, n=5) or [
                n for n in self.operations if n.lower().startswith(name[:4].lower())]
            hint = f" (did you mean {', '.join(close[:5])}?)" if close else ""
            raise KeyError(f"no v3 operation named {name!r}{hint}; "
                           f"the {len(self.operations)} names are in heygen_lab.spec") from None

    def __iter__(self) -> Any:
        return iter(self.operations.values())

    def __len__(self) -> int:
        return len(self.operations)

    @cached_property
    def _templates(self) -> list[tuple[tuple[str | None, ...], Operation]]:
        out = []
        for op in self.operations.values():
            segments = tuple(None if s.startswith("{") else s for s in op.endpoint.split("/"))
            out.append((segments, op))
        # Static segments win over parameters, position by position.
        out.sort(key=lambda t: tuple(s is None for s in t[0]))
        return out

    def _candidates(self, path: str) -> Iterable[tuple[Operation, dict[str, str]]]:
        segments = path.rstrip("/").split("/") if path != "/" else [""]
        for template, op in self._templates:
            if len(template) != len(segments):
                continue
            if all(t is None or t == s for t, s in zip(template, segments, strict=True)):
                names = iter(op.path_params)
                params = {next(names): s for t, s in zip(template, segments, strict=True)
                          if t is None}
                yield op, params

    def find(self, method: str, path: str) -> Match | None:
        """The operation ``method path`` addresses (path without query, still percent-encoded
        segments decoded by the caller), or ``None``."""
        for op, params in self._candidates(path):
            if op.method == method.upper():
                return Match(op, params)
        return None

    def methods_at(self, path: str) -> set[str]:
        """Every method some operation answers at ``path`` (for a 405's ``Allow``)."""
        return {op.method for op, _ in self._candidates(path)}


# ---------------------------------------------------------------------- loading
def _flag(raw: Mapping[str, Any], where: str) -> Flag:
    for key in ("name", "json_name", "source", "type"):
        if not isinstance(raw.get(key), str):
            raise SpecError(f"{where}: flag needs a string {key!r}")
    if raw["source"] not in _SOURCES or raw["type"] not in _FLAG_TYPES:
        raise SpecError(f"{where}: flag {raw['name']!r} has source {raw['source']!r} / type "
                        f"{raw['type']!r}; expected one of {sorted(_SOURCES)} / "
                        f"{sorted(_FLAG_TYPES)}")
    enum = raw.get("enum")
    return Flag(raw["name"], raw["json_name"], raw["source"], raw["type"],
                bool(raw.get("required")), tuple(enum) if enum else None,
                raw.get("min"), raw.get("max"))


def _operation(name: str, raw: Any, where: str) -> Operation:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: operation {name!r} is not an object")
    method, endpoint = raw.get("method"), raw.get("endpoint")
    if method not in _METHODS or not (isinstance(endpoint, str) and endpoint.startswith("/")):
        raise SpecError(f"{where}: operation {name!r} needs a method in {sorted(_METHODS)} and "
                        f"an endpoint starting with '/'")
    if raw.get("body_encoding") not in _ENCODINGS:
        raise SpecError(f"{where}: operation {name!r} has body_encoding "
                        f"{raw.get('body_encoding')!r}")
    params = tuple(raw.get("path_params") or ())
    if params != tuple(re.findall(r"\{(\w+)\}", endpoint)):
        raise SpecError(f"{where}: operation {name!r}: path_params {list(params)} do not match "
                        f"the endpoint {endpoint}")
    for key in ("request_schema", "response_schema"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise SpecError(f"{where}: operation {name!r}: {key} is not an object")
    return Operation(
        name=name, group=str(raw.get("group", "")), command=str(raw.get("command", "")),
        method=method, endpoint=endpoint, body_encoding=raw.get("body_encoding"),
        paginated=bool(raw.get("paginated")), pollable=bool(raw.get("pollable")),
        destructive=bool(raw.get("destructive")), path_params=params,
        flags=tuple(_flag(f, f"{where}: {name}") for f in raw.get("flags") or ()),
        request_schema=raw.get("request_schema"), response_schema=raw.get("response_schema"))


def parse_spec(document: Any, where: str = "spec") -> Spec:
    """A :class:`Spec` from the decoded JSON of an ``operations.json``."""
    if not isinstance(document, dict) or not isinstance(document.get("operations"), dict):
        raise SpecError(f"{where}: expected an object with an 'operations' object "
                        "(the format of heygen_lab/spec/operations.json)")
    ops = {name: _operation(name, raw, where) for name, raw in document["operations"].items()}
    return Spec(ops, dict(document.get("source") or {}))


def load_spec(path: str | Path | None = None) -> Spec:
    """The packaged spec (cached), or the ``operations.json``-shaped file at ``path``."""
    if path is None:
        return _packaged()
    p = Path(path)
    try:
        document = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{p}: not a JSON spec ({exc})") from None
    return parse_spec(document, str(p))


@functools.cache
def _packaged() -> Spec:
    text = resources.files(__package__).joinpath("operations.json").read_text(encoding="utf-8")
    return parse_spec(json.loads(text), "heygen_lab/spec/operations.json")


# ---------------------------------------------------------------------- schemas
def _words(*texts: str) -> set[str]:
    out: set[str] = set()
    for text in texts:
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
        out.update(w for w in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if w)
    return out - {"create", "from", "request", "schema", "input", "config", "item", "type"}


def _pair_variants(node: Mapping[str, Any]) -> dict[str, Mapping[str, Any]] | None:
    """Pair each discriminator value with its inline variant, or ``None`` if unsure.

    The mapping's references do not resolve and its order is not the list's, so values are
    paired by names: a variant whose discriminator ``default`` is the value, else the variant
    whose property names share most words with the value and its schema name.
    """
    disc = node["discriminator"]
    prop, mapping, variants = disc["propertyName"], disc["mapping"], list(node["oneOf"])
    pairs: dict[str, Mapping[str, Any]] = {}
    for key in mapping:
        for v in variants:
            if v.get("properties", {}).get(prop, {}).get("default") == key:
                pairs[key] = v
    scored = []
    for key, ref in mapping.items():
        wanted = _words(key, ref.rsplit("/", 1)[-1])
        for i, v in enumerate(variants):
            required = [p for p in v.get("required") or () if p != prop]
            have = _words(*(required or [p for p in v.get("properties", {}) if p != prop]))
            if wanted & have:  # most alike first: shared words over all words (Jaccard)
                scored.append((len(wanted & have) / len(wanted | have), key, i))
    used = {id(v) for v in pairs.values()}
    for _, key, i in sorted(scored, reverse=True):
        if key not in pairs and id(variants[i]) not in used:
            pairs[key] = variants[i]
            used.add(id(variants[i]))
    left_keys = [k for k in mapping if k not in pairs]
    left = [v for v in variants if id(v) not in used]
    if len(left_keys) == len(left) and (len(left) == 1 or all(v == left[0] for v in left)):
        pairs.update(zip(left_keys, left, strict=True))  # by elimination, or alike anyway
    return pairs if len(pairs) == len(mapping) else None


def to_json_schema(node: Any) -> Any:
    """Translate an OpenAPI 3.0 schema (``nullable``, ``discriminator``) to JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"nullable", "discriminator", "oneOf", "description", "title", "example"}:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(s) for name, s in value.items()}
        else:
            out[key] = to_json_schema(value)
    if "oneOf" in node:
        disc = node.get("discriminator")
        pairs = _pair_variants(node) if disc else None
        if disc is not None:
            prop = disc["propertyName"]
            head = {"type": "object", "required": [prop],
                    "properties": {prop: {"enum": list(disc["mapping"])}}}
            if pairs is not None:
                out["allOf"] = [head] + [
                    {"if": {"properties": {prop: {"const": key}}},
                     "then": to_json_schema(variant)} for key, variant in pairs.items()]
            else:  # unsure which is which: any variant will do
                out["allOf"] = [head, {"anyOf": to_json_schema(node["oneOf"])}]
        else:
            out["oneOf"] = to_json_schema(node["oneOf"])
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str) and not any(k in out for k in ("allOf", "oneOf", "anyOf")):
            out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _constrain(schema: dict[str, Any], flag: Flag) -> None:
    prop = schema.get("properties", {}).get(flag.json_name)
    if not isinstance(prop, dict):
        return
    target = prop.get("items", prop) if flag.type == "string-slice" else prop
    if flag.enum and "enum" not in target:
        target["enum"] = list(flag.enum)
    if flag.minimum is not None:
        target.setdefault("minimum", flag.minimum)
    if flag.maximum is not None:
        target.setdefault("maximum", flag.maximum)


def _check_scalar(flag: Flag, value: str) -> str | None:
    number: float
    if flag.type == "int":
        if not re.fullmatch(r"-?\d{1,18}", value):
            return f"must be an integer, got {value!r}"
        number = int(value)
    elif flag.type == "float64":
        try:
            number = float(value)
        except ValueError:
            return f"must be a number, got {value!r}"
        if not math.isfinite(number):
            return f"must be a finite number, got {value!r}"
    elif flag.type == "bool":
        return None if value in {"true", "false"} else f"must be true or false, got {value!r}"
    else:
        if flag.enum and value not in flag.enum:
            return f"must be one of {', '.join(flag.enum)}; got {value!r}"
        return None
    if flag.minimum is not None and number < flag.minimum:
        return f"must be at least {flag.minimum:g}, got {value}"
    if flag.maximum is not None and number > flag.maximum:
        return f"must be at most {flag.maximum:g}, got {value}"
    return None


def _where(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _relevance(error: ValidationError) -> tuple[int, bool]:
    # best_match takes the largest: the shallowest error, a missing field before a wrong value.
    return (-len(error.absolute_path), error.validator == "required")


def _violation(error: ValidationError) -> Violation:
    where = _where(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return Violation(f"{where}.{name}" if where else name, "is required")
    return Violation(where or "body", error.message)
