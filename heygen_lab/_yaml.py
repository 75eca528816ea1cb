"""The one way heygen_lab reads YAML: PyYAML's safe loader, made strict.

Everything the toolkit reads as YAML (contracts, plan files, cassettes) goes through
:func:`load` / :func:`load_with_node`. On top of ``yaml.safe_load`` they refuse:

- a key given twice in one mapping (PyYAML silently keeps the last one), naming key and line;
- any tag outside the safe YAML 1.1 types (``!!python/object``, ``!custom``...);
- alias bombs: anchors and aliases are fine (contracts reuse steps with ``&step`` / ``*step``),
  but a document whose aliases expand to more than :data:`MAX_EXPANDED_NODES` nodes beyond its
  own, or that refers to itself, or that nests deeper than :data:`MAX_DEPTH`, is refused;
- text that is not YAML at all.

Every refusal is a :class:`YAMLInputError` (a ``HeyGenError`` and a ``ValueError``) whose
message reads ``file:line: problem``; nothing else escapes, whatever the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

from heygen_lab.errors import HeyGenError

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "YAMLInputError", "load", "load_file",
           "load_with_node"]

MAX_DEPTH: Final = 100
"""Deepest nesting of mappings and sequences accepted (contracts use about 8)."""
MAX_EXPANDED_NODES: Final = 100_000
"""How many nodes aliases may add when expanded (the billion-laughs guard)."""

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it


class YAMLInputError(HeyGenError, ValueError):
    """YAML that heygen_lab refuses to read; the message says ``file:line: problem``."""


class _StrictLoader(_Base):  # type: ignore[misc]
    """The safe loader, refusing duplicate keys (merge keys ``<<`` still work)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class refuses it with its own error
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first})",
                    key_node.start_mark)
            seen[key] = line
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def _check_events(text: str, where: str) -> None:
    """Refuse deep nesting, alias bombs and self-referring aliases from the parser's events,
    before any node exists: libyaml's composer recurses in C (a few thousand ``[`` would crash
    the interpreter, not raise), and an alias bomb is small until it is expanded.

    One pass: each collection counts its nodes as they close, aliases counted at the size of
    the node they name, so what the aliases add is known without building anything.
    """
    frames: list[list[Any]] = [[None, 0]]  # [anchor, nodes so far] of each open collection
    sizes: dict[str, int] = {}             # anchor -> nodes its value expands to
    added = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, yaml.AliasEvent):
            size = sizes.get(event.anchor)  # type: ignore[arg-type]
            if size is None:
                if any(anchor == event.anchor for anchor, _ in frames):
                    raise YAMLInputError(f"{where}:{_mark_line(event)}: an alias refers to its "
                                         "own anchor (a cycle)")
                continue  # an undefined alias: the composer says so, with its line
            frames[-1][1] += size
            added += size
            if added > MAX_EXPANDED_NODES:
                raise YAMLInputError(
                    f"{where}:{_mark_line(event)}: aliases expand to more than "
                    f"{MAX_EXPANDED_NODES} extra nodes (an alias bomb?); write the values out "
                    "or use fewer aliases")
        elif isinstance(event, yaml.ScalarEvent):
            frames[-1][1] += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(frames) > MAX_DEPTH:
                raise YAMLInputError(f"{where}:{_mark_line(event)}: nested deeper than "
                                     f"{MAX_DEPTH} levels; flatten the document")
            frames.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = frames.pop()
            frames[-1][1] += size
            if anchor is not None:
                sizes[anchor] = size


def _mark_line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 1


def load_with_node(text: str, where: str = "<yaml>") -> tuple[Any, yaml.Node | None]:
    """The data of a single-document YAML ``text`` and its node tree (for line numbers).

    ``where`` names the source in errors (a file path). Raises :class:`YAMLInputError` only.
    """
    try:
        _check_events(text, where)
    except yaml.MarkedYAMLError as exc:
        raise YAMLInputError(f"{where}:{_line(exc)}: {_describe(exc)}") from None
    except yaml.YAMLError as exc:
        raise YAMLInputError(f"{where}: not valid YAML ({' '.join(str(exc).split())})") from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        return loader.construct_document(node), node
    except yaml.MarkedYAMLError as exc:
        raise YAMLInputError(f"{where}:{_line(exc)}: {_describe(exc)}") from None
    except yaml.YAMLError as exc:
        raise YAMLInputError(f"{where}: not valid YAML ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise YAMLInputError(f"{where}: nested too deeply to read; flatten the document") from None
    except YAMLInputError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors let a few of these through (a timestamp out of range...).
        raise YAMLInputError(f"{where}: a value cannot be read ({exc})") from None
    finally:
        loader.dispose()


def load(text: str, where: str = "<yaml>") -> Any:
    """The data of a single-document YAML ``text``; :class:`YAMLInputError` says why not."""
    return load_with_node(text, where)[0]


def load_file(path: str | Path) -> Any:
    """The data of a YAML file; unreadable, non-UTF-8 or refused text is a YAMLInputError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YAMLInputError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise YAMLInputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    return load(text, str(p))


def _line(exc: yaml.MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else 1


def _describe(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "not valid YAML"
    if "could not determine a constructor for the tag" in problem:
        tag = problem.rsplit("tag", 1)[-1].strip().strip("'")
        return (f"tag {tag} is not allowed; only plain YAML values (strings, numbers, lists, "
                "mappings, !!binary, timestamps) are read")
    if problem.startswith("duplicate key"):
        return problem + "; remove one of them"
    if problem == "exceeded maximum nesting depth":
        # libyaml 0.2.6 (PyYAML 6.0.4) stops at 1,000 levels of its own: in flow style its
        # scanner reads that far ahead before the events that count MAX_DEPTH are parsed.
        return f"nested deeper than {MAX_DEPTH} levels; flatten the document"
    context = f"{exc.context}: " if exc.context else ""
    return f"not valid YAML ({context}{problem})"
