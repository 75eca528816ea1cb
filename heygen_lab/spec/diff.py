"""What moved between two versions of the v3 spec: operations, flags and schema fields.

Each :class:`Change` names its operation and a dotted place in it:

- ``endpoint``, ``method``, ``body_encoding``, ``paginated``, ``path_params``, ...
- ``flags.limit.max``, ``flags.mode.enum`` (one change per enum value added or removed)
- ``request.avatar_id``, ``response.data.items.status.enum``: schema property names joined by
  dots (the ``properties`` keyword left out), ``items`` for an array's items, ``oneOf[avatar]``
  for the variant a discriminator value selects (``oneOf[2]`` when no value can be paired).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from heygen_lab.spec import Flag, Operation, Spec, _pair_variants

__all__ = ["Change", "changes_to_json", "diff_specs", "render_changes"]

Kind = Literal["added", "removed", "changed"]

_OPERATION_FIELDS: Final = ("method", "endpoint", "body_encoding", "paginated", "pollable",
                            "destructive", "path_params")
_FLAG_FIELDS: Final = (("source", "source"), ("json_name", "json_name"), ("type", "type"),
                       ("required", "required"), ("minimum", "min"), ("maximum", "max"))
# Single-valued schema keywords worth a "changed" line (besides type, enum and required).
_SCHEMA_SCALARS: Final = ("format", "pattern", "minimum", "maximum", "exclusiveMinimum",
                          "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
                          "default")
_VARIANT_LISTS: Final = ("oneOf", "anyOf", "allOf")


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` of change to ``operation`` at ``where``, from ``old`` to
    ``new`` (``old`` is ``None`` for an addition, ``new`` for a removal)."""

    kind: Kind
    operation: str
    where: str
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        """The change as one line, without its operation."""
        place = f" {self.where}" if self.where else " the operation"
        if self.kind == "changed":
            return f"changed{place}: {_show(self.old)} -> {_show(self.new)}"
        value = self.new if self.kind == "added" else self.old
        return f"{self.kind}{place}: {_show(value)}"


def _show(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


def diff_specs(old: Spec, new: Spec) -> list[Change]:
    """Every change from ``old`` to ``new``, operations in name order."""
    out: list[Change] = []
    for name in sorted(set(old.operations) | set(new.operations)):
        before, after = old.operations.get(name), new.operations.get(name)
        if before is None and after is not None:
            out.append(Change("added", name, "", None, f"{after.method} {after.endpoint}"))
        elif after is None and before is not None:
            out.append(Change("removed", name, "", f"{before.method} {before.endpoint}", None))
        elif before is not None and after is not None:
            out.extend(_diff_operation(name, before, after))
    return out


def _diff_operation(name: str, old: Operation, new: Operation) -> Iterator[Change]:
    for attr in _OPERATION_FIELDS:
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            yield Change("changed", name, attr, a, b)
    yield from _diff_flags(name, old.flags, new.flags)
    for label, a, b in (("request", old.request_schema, new.request_schema),
                        ("response", old.response_schema, new.response_schema)):
        if a is None and b is not None:
            yield Change("added", name, label, None, _type_label(b))
        elif b is None and a is not None:
            yield Change("removed", name, label, _type_label(a), None)
        elif a is not None and b is not None:
            yield from _diff_schema(name, label, a, b)


def _flag_label(flag: Flag) -> str:
    return f"{flag.type} in {flag.source}" + (", required" if flag.required else "")


def _diff_flags(name: str, old: Sequence[Flag], new: Sequence[Flag]) -> Iterator[Change]:
    before, after = {f.name: f for f in old}, {f.name: f for f in new}
    for flag in old:
        if flag.name not in after:
            yield Change("removed", name, f"flags.{flag.name}", _flag_label(flag), None)
    for flag in new:
        prior = before.get(flag.name)
        if prior is None:
            yield Change("added", name, f"flags.{flag.name}", None, _flag_label(flag))
            continue
        where = f"flags.{flag.name}"
        for attr, key in _FLAG_FIELDS:
            a, b = getattr(prior, attr), getattr(flag, attr)
            if a != b:
                yield Change("changed", name, f"{where}.{key}", a, b)
        yield from _diff_values(name, f"{where}.enum", prior.enum, flag.enum)


def _diff_values(name: str, where: str, old: Sequence[Any] | None,
                 new: Sequence[Any] | None) -> Iterator[Change]:
    """Values of a set-like keyword (``enum``, ``required``) added or removed, one by one."""
    a, b = (list(v) if isinstance(v, (list, tuple)) else [] for v in (old, new))
    for value in a:
        if value not in b:
            yield Change("removed", name, where, value, None)
    for value in b:
        if value not in a:
            yield Change("added", name, where, None, value)


def _type_label(node: Any) -> str:
    """``string``, ``integer|null``, ``oneOf``, ... : what a schema node accepts, in a word."""
    if not isinstance(node, Mapping):
        return "any"
    kind = node.get("type")
    if isinstance(kind, list):
        label = "|".join(map(str, kind))
    elif kind is not None:
        label = str(kind)
    else:
        label = next((k for k in _VARIANT_LISTS if k in node), "any")
    return f"{label}|null" if node.get("nullable") else label


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}"


def _variants(node: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    """The variants under ``key``, labelled by discriminator value when they can be paired."""
    variants = [v for v in node.get(key) or () if isinstance(v, Mapping)]
    if key == "oneOf" and isinstance(node.get("discriminator"), Mapping):
        try:
            pairs = _pair_variants(node)
        except (KeyError, TypeError, AttributeError):  # a malformed discriminator: by position
            pairs = None
        if pairs is not None:
            return {f"{key}[{value}]": variant for value, variant in pairs.items()}
    return {f"{key}[{i}]": v for i, v in enumerate(variants)}


def _mapping_keys(node: Mapping[str, Any]) -> list[str]:
    return list(_mapping(_mapping(node.get("discriminator")).get("mapping")))


def _shape(node: Mapping[str, Any]) -> set[str]:
    return {*_mapping(node.get("properties")), f"type:{node.get('type')}"}


def _matched_variants(old: Mapping[str, Any], new: Mapping[str, Any], key: str,
                      ) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """Old and new variants under ``key``, a new one labelled as the old one it continues.

    Pairing by discriminator value uses the required fields, which are what a diff is about:
    so each new variant takes the label of the old variant whose property names it shares
    most (at least half), and only the rest are labelled on their own.
    """
    before = _variants(old, key)
    own = {id(v): label for label, v in _variants(new, key).items()}
    after_list = [v for v in new.get(key) or () if isinstance(v, Mapping)]
    scored = []
    for label, a in before.items():
        for j, b in enumerate(after_list):
            shared, every = _shape(a) & _shape(b), _shape(a) | _shape(b)
            # An unchanged variant first, then the most alike, then the same label on both sides.
            rank = (a != b, -len(shared) / len(every), own.get(id(b)) != label)
            scored.append((rank, label, j))
    after: dict[str, Mapping[str, Any]] = {}
    used: set[int] = set()
    for (_, alike, _), label, j in sorted(scored, key=lambda t: t[0]):
        if -alike >= 0.5 and label not in after and j not in used:
            after[label] = after_list[j]
            used.add(j)
    for j, b in enumerate(after_list):
        if j not in used:
            label = own.get(id(b), f"{key}[{j}]")
            after[label if label not in before else f"{key}[new {j}]"] = b
    return before, after


def _diff_schema(name: str, path: str, old: Mapping[str, Any],
                 new: Mapping[str, Any]) -> Iterator[Change]:
    a, b = _type_label(old), _type_label(new)
    if a != b:
        yield Change("changed", name, _join(path, "type"), a, b)
    for keyword in _SCHEMA_SCALARS:
        if old.get(keyword) != new.get(keyword):
            yield Change("changed", name, _join(path, keyword), old.get(keyword),
                         new.get(keyword))
    yield from _diff_values(name, _join(path, "enum"), old.get("enum"), new.get("enum"))
    yield from _diff_values(name, _join(path, "required"), old.get("required"),
                            new.get("required"))
    before, after = _mapping(old.get("properties")), _mapping(new.get("properties"))
    yield from _diff_children(name, path, before, after)
    yield from _diff_children(name, path, {"items": old.get("items")},
                              {"items": new.get("items")})
    yield from _diff_values(name, _join(path, "discriminator"), _mapping_keys(old),
                            _mapping_keys(new))
    for key in _VARIANT_LISTS:
        yield from _diff_children(name, path, *_matched_variants(old, new, key))


def _diff_children(name: str, path: str, old: Mapping[str, Any],
                   new: Mapping[str, Any]) -> Iterator[Change]:
    for label in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(label), new.get(label)
        a = a if isinstance(a, Mapping) else None
        b = b if isinstance(b, Mapping) else None
        where = _join(path, label)
        if a is not None and b is None:
            yield Change("removed", name, where, _type_label(a), None)
        elif b is not None and a is None:
            yield Change("added", name, where, None, _type_label(b))
        elif a is not None and b is not None:
            yield from _diff_schema(name, where, a, b)


def render_changes(changes: Sequence[Change]) -> list[str]:
    """Text lines: each operation's name, then one indented line per change to it."""
    lines: list[str] = []
    current: str | None = None
    for change in sorted(changes, key=lambda c: c.operation):  # stable: keeps each op's order
        if change.operation != current:
            current = change.operation
            lines.append(current)
        lines.append(f"  {change.describe()}")
    return lines


def changes_to_json(changes: Sequence[Change]) -> str:
    """The changes as a JSON array of objects (kind, operation, where, old, new)."""
    rows = [{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(c).items()}
            for c in changes]
    return json.dumps(rows, indent=2, ensure_ascii=False)
