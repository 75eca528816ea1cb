"""CassetteBrowser: list recorded cassettes and read each interaction, keys redacted.

Cassettes are read with plain ``yaml.safe_load`` (they are vcrpy files: ``interactions`` of
``request`` and ``response``). What is shown comes from :func:`describe_cassette`, a plain
function; the selector only picks which file it describes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from heygen_lab._yaml import YAMLInputError
from heygen_lab._yaml import load as load_yaml
from heygen_lab.cassettes.fingerprints import FINGERPRINT_PREFIX
from heygen_lab.cassettes.recorder import FILTERED_HEADERS
from heygen_lab.contracts import default_dir
from heygen_lab.widgets._common import REDACTED, View, esc, no_null_tooltips, redact, widgets

__all__ = [
    "BODY_LIMIT",
    "REDACTED_HEADERS",
    "REDACTED_QUERY",
    "CassetteBrowser",
    "describe_cassette",
    "describe_interaction",
    "list_cassettes",
    "read_cassette",
    "redact_headers",
    "redact_uri",
]

BODY_LIMIT = 1200
"""Response bodies longer than this many characters are cut (the rest is counted)."""

REDACTED_HEADERS = frozenset({h.lower() for h in FILTERED_HEADERS} | {"set-cookie"})
"""What recording filters, plus response cookies (shown cassettes may come from elsewhere)."""
REDACTED_QUERY = frozenset({"api_key", "key", "apikey", "access_token"})
_FINGERPRINT_PREFIX = FINGERPRINT_PREFIX.split("/", 1)[0] + "/"  # any fingerprint version
_QUERY_PAIR = re.compile(r"(^|[&;])([^=&;#]*)=([^&;#]*)")


def list_cassettes(directory: str | os.PathLike[str]) -> list[str]:
    """The cassettes under ``directory`` as ``contract/case`` names, sorted."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).with_suffix("").as_posix()
                  for p in root.rglob("*.yaml") if p.is_file())


def read_cassette(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A cassette file as data (``yaml.safe_load``); ValueError says why it can't be read."""
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"), Path(path).name)
    except YAMLInputError as exc:
        raise ValueError(f"{Path(path).name}: not a readable cassette ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{Path(path).name}: not a readable cassette ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError(f"{Path(path).name}: not a cassette (no 'interactions' list)")
    return data


def redact_uri(uri: str) -> str:
    """``uri`` with the values of key-like query parameters (``api_key``, ``key``...) hidden."""
    base, sep, rest = uri.partition("?")
    if not sep:
        return uri
    query, hash_sep, fragment = rest.partition("#")

    def hide(m: re.Match[str]) -> str:
        name = m.group(2)
        return f"{m.group(1)}{name}={REDACTED}" if name.lower() in REDACTED_QUERY else m.group(0)

    return f"{base}?{_QUERY_PAIR.sub(hide, query)}{hash_sep}{fragment}"


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Headers as name -> values, with keys, tokens and cookies hidden."""
    out: dict[str, list[str]] = {}
    for name, value in (headers or {}).items():
        values = value if isinstance(value, list) else [value]
        out[str(name)] = ([REDACTED] * len(values) if str(name).lower() in REDACTED_HEADERS
                          else [str(v) for v in values])
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters)"


def _request_body(body: Any) -> list[str]:
    text = _text(body.get("string") if isinstance(body, Mapping) else body)
    if not text:
        return ["  body: (none)"]
    if text.startswith(_FINGERPRINT_PREFIX):
        version, _, payload = text.partition(" ")
        lines = [f"  body fingerprint ({version}; the bytes themselves were not stored):"]
        return lines + [f"    {line}" for line in _pretty(payload).splitlines()]
    return ["  body:"] + [f"    {line}" for line in _cut(_pretty(text), BODY_LIMIT).splitlines()]


def _header_lines(headers: Mapping[str, Any] | None) -> list[str]:
    return [f"    {name}: {', '.join(values)}"
            for name, values in sorted(redact_headers(headers).items(), key=lambda kv: kv[0])]


def describe_interaction(index: int, interaction: Mapping[str, Any],
                         body_limit: int = BODY_LIMIT) -> str:
    """One request and its response as text: method + URI, headers, body (or its fingerprint),
    status, response headers and body (cut at ``body_limit``)."""
    request = interaction.get("request") or {}
    response = interaction.get("response") or {}
    status = response.get("status") or {}
    lines = [f"#{index + 1} {request.get('method', '?')} {redact_uri(str(request.get('uri', '')))}"]
    if request.get("headers"):
        lines += ["  headers:", *_header_lines(request.get("headers"))]
    lines += _request_body(request.get("body"))
    lines.append(f"  -> {status.get('code', '?')} {status.get('message', '')}".rstrip())
    if response.get("headers"):
        lines += ["  response headers:", *_header_lines(response.get("headers"))]
    body = response.get("body") or {}
    text = _text(body.get("string") if isinstance(body, Mapping) else body)
    if text:
        lines += ["  response body:",
                  *(f"    {line}" for line in _cut(_pretty(text), body_limit).splitlines())]
    else:
        lines.append("  response body: (empty)")
    return "\n".join(lines)


def describe_cassette(data: Mapping[str, Any], body_limit: int = BODY_LIMIT) -> str:
    """A whole cassette as text: provenance, then every interaction."""
    interactions = data.get("interactions") or []
    provenance = (data.get("metadata") or {}).get("provenance") or {}
    head = ", ".join(f"{k} {v}" for k, v in provenance.items()) if provenance else "none recorded"
    noun = "interaction" if len(interactions) == 1 else "interactions"
    lines = [f"{len(interactions)} {noun}; provenance: {head}"]
    for i, interaction in enumerate(interactions):
        lines += ["", describe_interaction(i, interaction, body_limit)]
    return redact("\n".join(lines))


class CassetteBrowser(View):
    """Pick a cassette, read its interactions (``directory`` defaults to ``./cassettes``)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *,
                 body_limit: int = BODY_LIMIT) -> None:
        self.directory = Path(directory) if directory is not None else default_dir("cassettes")
        self.body_limit = body_limit
        self.text = ""
        """What the detail pane shows, as plain text."""
        self.select = widgets.Select(options=[], rows=12, description="Cassette",
                                     layout=widgets.Layout(width="auto"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.message = widgets.HTML(value="")
        self.detail = widgets.HTML(value="")
        self.select.observe(lambda _c: self.show(self.select.value), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.view = widgets.VBox([widgets.HBox([self.select, self.refresh_button]),
                                  self.message, self.detail])
        no_null_tooltips(self.view)
        self.refresh()

    def __repr__(self) -> str:
        return f"CassetteBrowser({len(self.select.options)} cassettes)"

    @property
    def names(self) -> list[str]:
        return list(self.select.options)

    def refresh(self) -> list[str]:
        """Re-read the directory (what the Refresh button calls)."""
        names = list_cassettes(self.directory)
        self.select.options = names
        if not names:
            self.text = (f"no cassettes in {self.directory}; record them with "
                         "`heygen-lab record`")
            self.message.value = esc(self.text)
            self.detail.value = ""
            return names
        self.message.value = esc(f"{len(names)} cassette(s) in {self.directory}")
        self.select.value = names[0]
        self.show(names[0])
        return names

    def show(self, name: str | None) -> str:
        """Describe one cassette (``contract/case``) in the detail pane; returns the text."""
        if not name:
            self.text, self.detail.value = "", ""
            return ""
        try:
            data = read_cassette(self.directory / f"{name}.yaml")
        except ValueError as exc:
            self.text = str(exc)
        else:
            self.text = describe_cassette(data, self.body_limit)
        self.detail.value = (f"<b>{esc(name)}</b><pre style='white-space:pre-wrap'>"
                             f"{esc(self.text)}</pre>")
        return self.text
