"""UploadWidget: choose a file, a route and a target, upload, and see the asset or the diagnosis.

The button calls :meth:`UploadWidget.upload_bytes`, which calls
:meth:`heygen_lab.client.HeyGenClient.upload_asset`, the same method the CLI uses. The cards it
shows are built by :func:`asset_card` and :func:`failure_card`, plain functions.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any, Literal

from heygen_lab.client import VIAS, Asset, HeyGenClient
from heygen_lab.errors import (
    APIError,
    ConfigurationError,
    MediaError,
    TransportError,
)
from heygen_lab.widgets._common import (
    View,
    append_html,
    append_widget,
    clear,
    esc,
    no_null_tooltips,
    redact,
    widgets,
)

__all__ = [
    "ACCEPT",
    "PREVIEW_LIMIT",
    "VIA_LABELS",
    "UploadWidget",
    "asset_card",
    "failure_card",
    "preview_for",
    "resolve_key",
]

Target = Literal["emulator", "live"]

ACCEPT = ".png,.jpg,.jpeg,.mp3,.wav,.mp4,.webm,.pdf"
"""What the file chooser offers. The bytes decide the type; this only narrows the dialog."""

PREVIEW_LIMIT = 16 * 1024 * 1024
"""Larger files get no preview: the bytes would travel to the browser a second time."""

VIA_LABELS: Mapping[str, str] = {
    "auto": "auto: v3 up to 32 MB, direct upload above",
    "v3": "v3: multipart, one part named 'file' (POST /v3/assets)",
    "direct": "direct: signed URL, PUT the bytes, complete (v3)",
    "v1": "v1: the raw bytes as the body (POST upload host /v1/asset)",
    "v1-multipart-file": "v1 multipart 'file': reproduces the 40001 mistake on purpose",
    "v1-multipart-type-asset": "v1 multipart 'type' + 'asset': reproduces the 40001 mistake "
                               "on purpose",
}

_PREVIEW_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "audio/mpeg": "mp3",
                    "audio/wav": "wav", "video/mp4": "mp4", "video/webm": "webm"}
_OK, _BAD = "#2e7d32", "#c62828"
NO_FILE = "no file chosen"


def resolve_key(typed: str | None, given: str | None, env: Mapping[str, str]) -> str | None:
    """The key for a live upload: the password field, else the argument, else the environment."""
    for value in (typed, given, env.get("HEYGEN_API_KEY")):
        if value and value.strip():
            return value.strip()
    return None


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({n:,} bytes)"


def asset_card(name: str, asset: Asset, target: str) -> tuple[str, str]:
    """The result card of an upload that worked, as (HTML, plain text)."""
    rows = [("asset id", asset.id), ("URL", asset.url or "(none in the response)"),
            ("size", _size(asset.size)), ("MIME type", asset.mime_type),
            ("file type", asset.file_type), ("route", asset.via)]
    if asset.image_key:
        rows.append(("image key", asset.image_key))
    title = f"Uploaded {name} to the {target}"
    text = "\n".join([title, *(f"  {k}: {v}" for k, v in rows)])
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
                    f"<td><code>{esc(v)}</code></td></tr>" for k, v in rows)
    body = (f"<div style='border-left:4px solid {_OK};padding:4px 10px;margin:4px 0'>"
            f"<b>{esc(title)}</b><table>{cells}</table></div>")
    return body, text


def failure_card(name: str, exc: BaseException, secrets: tuple[str | None, ...] = ()
                 ) -> tuple[str, str]:
    """What went wrong, in plain words, as (HTML, plain text).

    A refused upload shows its diagnosis (cause, fix, evidence); a file refused before sending
    shows the MediaError message; anything else its message. The key never appears.
    """
    paragraphs: list[tuple[str, str]] = []
    evidence: tuple[str, ...] = ()
    if isinstance(exc, APIError):
        record = exc.record
        said = record.describe()
        title = f"{name} was refused: HTTP {record.status}, {said}"
        if exc.diagnosis is not None:
            d = exc.diagnosis
            paragraphs += [(f"What went wrong ({d.id})", d.cause), ("How to fix it", d.remedy)]
            evidence = d.evidence
        else:
            paragraphs.append(("What went wrong", "no rule in the diagnosis table matches this "
                                                  f"answer. The full message: {exc}"))
    elif isinstance(exc, MediaError):
        title = f"{name} was not sent"
        paragraphs.append(("Why", f"{exc} (the file is checked before any byte is sent)"))
    elif isinstance(exc, ConfigurationError):
        title = f"{name} was not sent"
        paragraphs.append(("Why", str(exc)))
    elif isinstance(exc, TransportError):
        title = f"{name}: no response arrived"
        paragraphs.append(("Why", str(exc)))
    else:
        title = f"{name}: the upload failed"
        paragraphs.append(("Why", f"{type(exc).__name__}: {exc}"))
    title = redact(title, secrets)
    paragraphs = [(h, redact(p, secrets)) for h, p in paragraphs]
    evidence = tuple(redact(e, secrets) for e in evidence)
    lines = [title, *(f"  {h}: {p}" for h, p in paragraphs)]
    if evidence:
        lines += ["  Evidence:", *(f"    - {e}" for e in evidence)]
    parts = "".join(f"<p style='margin:4px 0'><b>{esc(h)}:</b> {esc(p)}</p>"
                    for h, p in paragraphs)
    if evidence:
        parts += ("<details><summary>Evidence</summary><ul>"
                  + "".join(f"<li><code>{esc(e)}</code></li>" for e in evidence)
                  + "</ul></details>")
    body = (f"<div style='border-left:4px solid {_BAD};padding:4px 10px;margin:4px 0'>"
            f"<b>{esc(title)}</b>{parts}</div>")
    return body, "\n".join(lines)


def preview_for(data: bytes, mime_type: str) -> Any | None:
    """An ipywidgets Image, Audio or Video showing ``data``, or None (PDF, or too large)."""
    fmt = _PREVIEW_FORMATS.get(mime_type)
    if fmt is None or len(data) > PREVIEW_LIMIT:
        return None
    kind = mime_type.split("/", 1)[0]
    if kind == "image":
        return widgets.Image(value=data, format=fmt, layout=widgets.Layout(max_width="360px"))
    if kind == "audio":
        return widgets.Audio(value=data, format=fmt, autoplay=False, loop=False)
    return widgets.Video(value=data, format=fmt, autoplay=False, loop=False,
                         layout=widgets.Layout(max_width="480px"))


class UploadWidget(View):
    """Upload files to the emulator or to HeyGen, by any route, and read what came back.

    ``UploadWidget()`` targets an embedded emulator, started on the first upload and stopped
    by :meth:`close`, or else when the widget is collected or the interpreter exits (a kernel
    shut down or restarted), so a notebook can leave its widgets open.
    ``UploadWidget(target="live")`` uses the key typed into the password field, else
    ``api_key``, else ``HEYGEN_API_KEY``. ``emulator_options`` go to
    :class:`~heygen_lab.emulator.Emulator` (``plan``, ``faults``, ...).
    """

    def __init__(self, target: Target = "emulator", api_key: str | None = None, *,
                 via: str = "auto", emulator_options: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        if target not in ("emulator", "live"):
            raise ConfigurationError(f"target must be 'emulator' or 'live'; got {target!r}")
        if via not in VIAS:
            raise ConfigurationError(f"via must be one of {', '.join(VIAS)}; got {via!r}")
        self._api_key = api_key
        self._env = env if env is not None else os.environ
        self._emulator_options = dict(emulator_options or {})
        self._emu: Any = None
        self.result: Asset | BaseException | None = None
        """The last upload's Asset, or the exception that stopped it."""
        self.results: list[Asset | BaseException] = []
        """One entry per file of the last click."""
        self.preview: Any = None

        self.file_upload = widgets.FileUpload(accept=ACCEPT, multiple=True,
                                              description="Choose file(s)",
                                              tooltip="pick one or more files: " + ACCEPT,
                                              layout=widgets.Layout(width="auto"))
        self.chosen = widgets.Label(value=NO_FILE, tooltip="the file(s) Upload will send")
        self.via = widgets.Dropdown(options=[(VIA_LABELS.get(v, v), v) for v in VIAS], value=via,
                                    description="Route",
                                    layout=widgets.Layout(width="auto"))
        self.target = widgets.ToggleButtons(options=["emulator", "live"], value=target,
                                            description="Target",
                                            tooltips=["an embedded emulator: no key, no network",
                                                      "api.heygen.com with your key"])
        self.api_key_field = widgets.Password(
            description="API key", placeholder="or set HEYGEN_API_KEY",
            continuous_update=False)
        self.upload_button = widgets.Button(description="Upload", button_style="primary",
                                            icon="upload")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="Progress")
        self.status = widgets.Label(value="choose a file, a route and a target")
        self.output = widgets.Output()
        self.upload_button.on_click(lambda _b: self.upload_selected())
        self.target.observe(lambda _c: self._show_key_field(), names="value")
        self.file_upload.observe(lambda _c: self._show_chosen(), names="value")
        self.api_key_field.observe(lambda _c: self._take_key(), names="value")
        self._show_key_field()
        self.view = widgets.VBox([
            widgets.HBox([self.file_upload, self.chosen]), self.target, self.via,
            self.api_key_field, widgets.HBox([self.upload_button, self.progress]), self.status,
            self.output,
        ])
        no_null_tooltips(self.view)

    def __repr__(self) -> str:
        return f"UploadWidget(target={self.target.value!r}, via={self.via.value!r})"

    # ------------------------------------------------------------------ what the button does
    def upload_selected(self) -> list[Asset | BaseException]:
        """Upload every chosen file (what the Upload button calls)."""
        clear(self.output)
        self.results = []
        files = list(self.file_upload.value or ())
        if not files:
            self.status.value = "choose a file first (" + ACCEPT.replace(",", ", ") + ")"
            return []
        for i, f in enumerate(files, 1):
            label = f"file {i} of {len(files)}: " if len(files) > 1 else ""
            self._upload_one(str(f["name"]), bytes(f["content"]), label)
        return self.results

    def upload_bytes(self, name: str, data: bytes | bytearray | memoryview
                     ) -> Asset | BaseException:
        """Upload one file's bytes by the chosen route; show the card and return the result."""
        clear(self.output)
        self.results = []
        return self._upload_one(name, bytes(data), "")

    def stop_emulator(self) -> None:
        """Stop the embedded emulator now and remove its storage; the widget stays, and the
        next upload to the emulator starts a new one. (A notebook's last cell calls this: a
        kernel killed outright, as some runners do, gets no chance to clean up.)"""
        if self._emu is not None:
            self._emu.stop()
            self._emu = None

    def close(self) -> None:
        """Stop the embedded emulator (if one was started) and close the views."""
        self.stop_emulator()
        super().close()

    # ------------------------------------------------------------------ internals
    def _upload_one(self, name: str, data: bytes, label: str) -> Asset | BaseException:
        target, via = self.target.value, self.via.value
        self.progress.value, self.progress.bar_style = 0, ""
        self.status.value = f"{label}uploading {name} ({len(data):,} bytes) via {via} to the " \
                            f"{target}..."
        result: Asset | BaseException
        try:
            with self._client() as client:
                result = client.upload_asset(data, via=via, name=name,
                                             on_progress=self._on_progress)
            if self._emu is not None:
                self._emu.check()  # an emulator-side failure is shown, not lost in its thread
        except Exception as exc:  # shown in the card, kept in .result
            result = exc
        self.result = result
        self.results.append(result)
        if isinstance(result, Asset):
            self.progress.value, self.progress.bar_style = 100, "success"
            self.status.value = f"{label}{name}: uploaded, asset {result.id}"
            append_html(self.output, *asset_card(name, result, target))
            self.preview = preview_for(data, result.mime_type)
            if self.preview is not None:
                append_widget(self.output, self.preview, f"preview of {name}")
        else:
            self.progress.bar_style = "danger"
            self.preview = None
            kind = "refused" if isinstance(result, APIError) else "not uploaded"
            self.status.value = f"{label}{name}: {kind}"
            append_html(self.output, *failure_card(name, result, self._secrets()))
        return result

    def _client(self) -> HeyGenClient:
        if self.target.value == "emulator":
            client: HeyGenClient = self._emulator().client()
            return client
        self._take_key()
        key = resolve_key(None, self._api_key, self._env)
        if key is None:
            raise ConfigurationError(
                "a live upload needs an API key: type it into the API key field or set "
                "HEYGEN_API_KEY, or switch the target to the emulator (no key needed)")
        return HeyGenClient(api_key=key, env=self._env)

    def _emulator(self) -> Any:
        if self._emu is None:
            from heygen_lab.emulator import Emulator

            emu = Emulator(**self._emulator_options).start()
            weakref.finalize(self, emu.stop)
            self._emu = emu
        return self._emu

    def _on_progress(self, sent: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, sent * 100 // total)
        if percent != self.progress.value:
            self.progress.value = percent

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key, self._env.get("HEYGEN_API_KEY"))

    def _take_key(self) -> None:
        """Move a typed key into the kernel and empty the field at once.

        The field's value is widget state: a frontend keeps it, and a notebook saved with widget
        state would hold it. Emptied the moment it arrives, the key lives only in this object.
        """
        typed = self.api_key_field.value
        if not typed:
            return
        self.api_key_field.value = ""
        if typed.strip():
            self._api_key = typed.strip()
            self.api_key_field.placeholder = "key entered (kept in the kernel, not shown)"

    def _show_chosen(self) -> None:
        files = list(self.file_upload.value or ())
        parts = [f"{f['name']} ({_size(len(f['content']))})" for f in files]
        self.chosen.value = ", ".join(parts) if parts else NO_FILE

    def _show_key_field(self) -> None:
        live = self.target.value == "live"
        self.api_key_field.layout.display = None if live else "none"

