"""What the three widgets share: writing to an Output without a kernel, escaping, redaction."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from heygen_lab.cassettes.gate import known_secrets

try:
    import ipywidgets as widgets
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "heygen_lab.widgets needs ipywidgets 8: pip install 'heygen-lab[notebook]'"
    ) from exc

__all__ = ["View", "append_html", "append_widget", "clear", "esc", "no_null_tooltips",
           "output_text", "redact", "walk", "widgets"]

REDACTED = "[redacted]"


def esc(value: object) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value), quote=True)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret (and ``HEYGEN_API_KEY`` from the environment) replaced.

    Messages from the client never hold the key; this is the second line of defence for text
    that came from elsewhere (a response body that echoed it, an exception from a library).
    """
    for secret in sorted({s for s in known_secrets(secrets) if len(s) >= 4}, key=len,
                         reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def walk(widget: Any) -> list[Any]:
    """``widget`` and every widget inside it (children of boxes), depth first."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += walk(child)
    return found


def no_null_tooltips(widget: Any) -> None:
    """Give every part of ``widget`` without a tooltip an empty one.

    ipywidgets 8 syncs an unset ``tooltip`` as null, and the browser side writes it into a
    ``title`` attribute as is: hovering over a description ("Target", "Progress") or over the
    file chooser then shows a tooltip reading "null". An empty tooltip shows nothing.
    """
    for part in walk(widget):
        if getattr(part, "tooltip", "") is None:
            part.tooltip = ""


def _display(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def append_html(output: Any, html_text: str, text: str) -> None:
    """Show ``html_text`` in an ``ipywidgets.Output``, with ``text`` as its plain-text form.

    Written straight into ``output.outputs`` (as ``Output.append_stdout`` does), so it works
    the same inside a kernel, in a button callback and in a test without one.
    """
    output.outputs = (*output.outputs, _display({"text/html": html_text, "text/plain": text}))


def append_widget(output: Any, widget: Any, text: str) -> None:
    """Show a widget (an Image, Audio or Video preview) in an ``ipywidgets.Output``."""
    view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    output.outputs = (*output.outputs, _display({
        "application/vnd.jupyter.widget-view+json": view, "text/plain": text}))


def clear(output: Any) -> None:
    output.outputs = ()


def output_text(output: Any) -> str:
    """Everything an Output shows, as plain text (what tests and notebooks read)."""
    lines = []
    for item in output.outputs:
        if item.get("output_type") == "stream":
            lines.append(str(item.get("text", "")))
        else:
            lines.append(str(item.get("data", {}).get("text/plain", "")))
    return "\n".join(lines)


class View:
    """A widget built from ipywidgets parts; ``view`` is the container Jupyter displays.

    Composition rather than subclassing a container keeps the widget's own names apart from
    ipywidgets' traits. The plain-text form is the widget's repr, never the children's reprs
    (a Password child's repr would show what was typed into it).
    """

    view: Any

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.view._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle

    def close(self) -> None:
        """Close the widget's views (and release what it started)."""
        _close_tree(self.view)


def _close_tree(widget: Any) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
