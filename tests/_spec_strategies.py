"""Hypothesis strategies for requests that HeyGen's v3 spec calls valid.

Built from the spec's own (OpenAPI 3.0) schemas: ``nullable`` may give ``None``, a
discriminated ``oneOf`` picks a variant and sets its discriminator value, optional properties
come and go. hypothesis-jsonschema would be the library for this, but its current release does
not run with the pinned hypothesis.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from heygen_lab.spec import Flag, Operation, _pair_variants

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _with(prop: str, key: str) -> Any:
    return lambda obj: {**obj, prop: key}


def value_for(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid under one (OpenAPI 3.0) schema of the spec."""
    if not isinstance(schema, dict) or depth > 6:
        return st.none()
    base = _non_null(schema, depth)
    return st.one_of(st.none(), base) if schema.get("nullable") else base


def _non_null(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "oneOf" in schema:
        disc = schema.get("discriminator")
        variants = schema["oneOf"]
        if not disc:
            return st.one_of([value_for(v, depth + 1) for v in variants])
        prop, keys = disc["propertyName"], list(disc["mapping"])
        pairs = _pair_variants(schema)
        if pairs is not None:
            return st.one_of([value_for(v, depth + 1).map(_with(prop, k))
                              for k, v in pairs.items()])
        return st.tuples(st.one_of([value_for(v, depth + 1) for v in variants]),
                         st.sampled_from(keys)).map(lambda t: {**t[0], prop: t[1]})
    if "enum" in schema:
        return st.sampled_from([e for e in schema["enum"] if e is not None])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required") or ())
        return st.fixed_dictionaries(
            {k: value_for(v, depth + 1) for k, v in props.items() if k in required},
            optional={k: value_for(v, depth + 1) for k, v in props.items()
                      if k not in required})
    if kind == "array":
        return st.lists(value_for(schema.get("items", {}), depth + 1), max_size=2)
    if kind == "integer":
        return st.integers(int(schema.get("minimum", -10)), int(schema.get("maximum", 1000)))
    if kind == "number":
        return st.floats(schema.get("minimum", -10.0), schema.get("maximum", 1000.0),
                         allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return _TEXT


def query_value(flag: Flag) -> st.SearchStrategy[str]:
    """A valid query-string value for a flag."""
    if flag.enum:
        return st.sampled_from(flag.enum)
    if flag.type == "int":
        lo = int(flag.minimum) if flag.minimum is not None else 0
        hi = int(flag.maximum) if flag.maximum is not None else 1000
        return st.integers(lo, hi).map(str)
    if flag.type == "float64":
        lo = flag.minimum if flag.minimum is not None else 0.0
        hi = flag.maximum if flag.maximum is not None else 1000.0
        return st.floats(lo, hi, allow_nan=False).map(lambda f: f"{f:.3f}")
    if flag.type == "bool":
        return st.sampled_from(["true", "false"])
    return st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=8)


def query_for(op: Operation) -> st.SearchStrategy[dict[str, str]]:
    """Valid query parameters: every required flag, some optional ones."""
    flags = op.flags_in("query")
    return st.fixed_dictionaries(
        {f.json_name: query_value(f) for f in flags if f.required},
        optional={f.json_name: query_value(f) for f in flags if not f.required})


def body_for(op: Operation) -> st.SearchStrategy[Any]:
    """A JSON body the spec accepts (None for operations without one)."""
    if op.body_encoding != "json":
        return st.none()
    query_names = {f.json_name for f in op.flags_in("query")}

    def valid(body: Any) -> bool:
        found = op.check_request(path_params=dict.fromkeys(op.path_params, "x"), body=body)
        return isinstance(body, dict) and all(v.param in query_names for v in found)

    # The flags' limits (min/max/enum) are not in the schemas: a few draws are filtered out.
    return value_for(op.request_schema or {"type": "object"}).filter(valid)


def minimal(schema: Any) -> Any:
    """The smallest value valid under a schema: required fields only, first choices."""
    if not isinstance(schema, dict):
        return None
    if "oneOf" in schema:
        disc = schema.get("discriminator")
        pairs = _pair_variants(schema) if disc else None
        if disc and pairs:
            key, variant = next(iter(pairs.items()))
            return {**minimal(variant), disc["propertyName"]: key}
        value = minimal(schema["oneOf"][0])
        return {**value, disc["propertyName"]: next(iter(disc["mapping"]))} if disc else value
    if "enum" in schema:
        return next(e for e in schema["enum"] if e is not None)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal(props.get(k, {})) for k in schema.get("required") or ()}
    return {"array": [], "integer": int(schema.get("minimum", 1)),
            "number": float(schema.get("minimum", 1)), "boolean": True,
            "string": "x"}.get(str(kind), "x")
