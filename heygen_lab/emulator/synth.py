"""Schema-valid answers from HeyGen's response schemas, filled with the emulator's real fields.

:func:`shape` builds a value for a JSON Schema (as :func:`heygen_lab.spec.to_json_schema` makes
it): every property is present; a value that may be ``null`` is ``null`` (the honest "not known
yet"), else the schema's ``default``, its first ``enum`` value, or a placeholder derived from the
property name and a seed (ids, URLs and timestamps look like ids, URLs and timestamps; the same
seed gives the same value). A discriminated union takes the variant named by the real value of
its discriminator, else the first. Where ``real`` (a stored record, an echoed request) has a value
for a property and that value fits the property's schema, the real value wins; a value that does
not fit (a request field of the same name but another shape) is ignored, so the result is always
valid. Everything synthesized here is [sim].
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from heygen_lab.spec import Operation, to_json_schema

from .clock import DEFAULT_EPOCH

__all__ = ["MISSING", "body", "data_schema", "item", "shape"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: "No real value": synthesize one.
MISSING: Final = _Missing()
_NO_SCHEMA: Final = {"type": "object", "required": ["data"]}


def _token(seed: str, name: str) -> str:
    return hashlib.sha256(f"{seed}\0{name}".encode()).hexdigest()[:12]


def _valid(schema: Mapping[str, Any], value: Any) -> bool:
    from jsonschema import Draft202012Validator  # when first needed: a costly import

    return bool(Draft202012Validator(schema).is_valid(value))


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return (kind == "null" or (isinstance(kind, list) and "null" in kind)
            or any(_allows_null(s) for s in schema.get("anyOf", ())))


def _kind(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and ("properties" in schema or "allOf" in schema):
        return "object"
    return kind if isinstance(kind, str) else None


def _branch(schema: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The part of ``schema`` (itself or one ``anyOf``/``oneOf`` branch) of type ``kind``."""
    if _kind(schema) == kind:
        return schema
    for sub in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        found = _branch(sub, kind)
        if found is not None:
            return found
    return None


def _flatten(schema: Mapping[str, Any], real: Mapping[str, Any]) -> dict[str, Any]:
    """One plain object schema: a discriminated ``allOf`` resolved for ``real``'s variant."""
    out: dict[str, Any] = {"properties": dict(schema.get("properties", {})),
                           "required": list(schema.get("required", ()))}
    parts = list(schema.get("allOf", ()))
    heads = [p for p in parts if "if" not in p and "anyOf" not in p]
    chosen: dict[str, Any] = {}
    for head in heads:  # the discriminator: {"required": [prop], "properties": {prop: {enum}}}
        for prop, sub in head.get("properties", {}).items():
            options = list(sub.get("enum", ()))
            value = real.get(prop, MISSING)
            chosen[prop] = value if value in options else options[0]
        out["required"] += head.get("required", [])
    for part in parts:
        branch: Mapping[str, Any] | None = None
        if "if" in part:
            cond = part["if"].get("properties", {})
            if all(chosen.get(p) == c.get("const") for p, c in cond.items()):
                branch = part["then"]
        elif "anyOf" in part:
            branch = part["anyOf"][0]
        if branch is not None:
            inner = _flatten(branch, real)
            out["properties"].update(inner["properties"])
            out["required"] += inner["required"]
    for prop, value in chosen.items():
        out["properties"][prop] = {"const": value}
    return out


def _placeholder(kind: str | None, name: str, seed: str) -> Any:
    tok = _token(seed, name)
    if kind == "string":
        if name == "url" or name.endswith("_url"):
            return f"https://files.emulator.invalid/{tok}/{name}"
        if name.endswith("_at"):
            return datetime.fromtimestamp(DEFAULT_EPOCH, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if name == "id" or name.endswith("_id"):
            return f"emu_{tok}"
        return f"{name or 'value'}-{tok[:6]}"
    if kind == "integer":
        return int(DEFAULT_EPOCH) if name.endswith("_at") else 0
    if kind == "number":
        return 0.0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return {} if kind == "object" else f"{name or 'value'}-{tok[:6]}"


def _object(schema: Mapping[str, Any], real: Mapping[str, Any], seed: str) -> dict[str, Any]:
    flat = _flatten(schema, real)
    props: dict[str, Any] = flat["properties"]
    out = {name: shape(sub, real.get(name, MISSING), seed, name) for name, sub in props.items()}
    for name in flat["required"]:  # required but undeclared (a quirk of a few schemas)
        if name not in out:
            out[name] = real.get(name, _placeholder("string", name, seed))
    return out


def shape(schema: Mapping[str, Any], real: Any = MISSING, seed: str = "emu",
          name: str = "") -> Any:
    """A value valid for ``schema``: ``real`` (or its fitting parts) where given, else
    synthesized deterministically from ``seed`` and the property ``name``."""
    if isinstance(real, Mapping) and (obj := _branch(schema, "object")) is not None:
        if not obj.get("properties") and "allOf" not in obj and _valid(obj, real):
            return dict(real)  # a free-form object: the real one as it is
        return _object(obj, real, seed)
    if isinstance(real, list) and (arr := _branch(schema, "array")) is not None:
        items = [shape(arr.get("items", {}), r, f"{seed}[{i}]", name) for i, r in enumerate(real)]
        if _valid(arr, items):
            return items
    elif real is not MISSING and _valid(schema, real):
        return real
    if "const" in schema:
        return schema["const"]
    if _allows_null(schema):
        return None
    if "default" in schema and _valid(schema, schema["default"]):
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = _kind(schema)
    if kind == "object":
        return _object(schema, {}, seed)
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [shape(schema.get("items", {}), MISSING, f"{seed}[{i}]", name)
                for i in range(count)]
    for sub in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        return shape(sub, MISSING, seed, name)
    return _placeholder(kind, name, seed)


@functools.cache
def _response(op: Operation) -> Mapping[str, Any]:
    return to_json_schema(op.response_schema or _NO_SCHEMA)  # type: ignore[no-any-return]


def data_schema(op: Operation) -> Mapping[str, Any]:
    """The JSON Schema of ``data`` in the operation's answer (any value if it has none)."""
    return _response(op).get("properties", {}).get("data", {})  # type: ignore[no-any-return]


def item(op: Operation, real: Any = MISSING, seed: str = "emu") -> Any:
    """The ``data`` of ``op``'s answer -- or, for a list, one element of it -- shaped from
    ``real``."""
    schema = data_schema(op)
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    return shape(schema, real, seed)


def body(op: Operation, seed: str = "emu") -> Any:
    """A whole synthesized answer of ``op`` (``{"data": ...}``, lists with ``has_more`` and
    ``next_token``)."""
    return shape(_response(op), MISSING, seed)
