"""The notebook widgets, driven in code (``click()``, setting ``value``) against the emulator.

Each button's path has a test, error paths included. Outputs are read from ``Output.outputs``,
which the widgets write directly, so no kernel or browser is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from _support import retry_kernel_start

pytest.importorskip("ipywidgets")

import ipywidgets

from heygen_lab.cassettes import SecretLeak
from heygen_lab.client import VIAS, Asset
from heygen_lab.contracts import CaseResult, ContractError, load_contracts
from heygen_lab.emulator import Emulator
from heygen_lab.errors import APIError, AuthenticationError, ConfigurationError, MediaError
from heygen_lab.widgets import CassetteBrowser, PlanCheckWidget, UploadWidget
from heygen_lab.widgets._common import output_text, walk
from heygen_lab.widgets.cassette_browser import (
    describe_interaction,
    list_cassettes,
    redact_headers,
    redact_uri,
)
from heygen_lab.widgets.plan_check import VERDICT_COLOURS, report_paths, results_table
from heygen_lab.widgets.upload import (
    ACCEPT,
    PREVIEW_LIMIT,
    VIA_LABELS,
    preview_for,
    resolve_key,
)

SECRET = "sk-widget-test-0123456789abcdef"
DRIFT = {"payload_overrides": {"v1.asset_data_missing": {"message": "x"}}}


def _html(output: Any) -> str:
    return "\n".join(str(o.get("data", {}).get("text/html", "")) for o in output.outputs)


def _file(name: str, data: bytes, mime: str = "application/octet-stream") -> dict[str, Any]:
    """A FileUpload entry as ipywidgets 8 makes one in the browser."""
    return {"name": name, "type": mime, "size": len(data), "content": memoryview(data),
            "last_modified": datetime(2024, 1, 1, tzinfo=UTC)}


@pytest.fixture
def upload() -> Iterator[UploadWidget]:
    widget = UploadWidget()
    yield widget
    widget.close()


@pytest.fixture
def keyed_emulator() -> Iterator[Emulator]:
    """An emulator that accepts only SECRET: stands in for the live API in 'live' tests."""
    with Emulator(keys=(SECRET,)) as emu:
        yield emu


def _live_env(emu: Emulator, **extra: str) -> dict[str, str]:
    return {"HEYGEN_API_BASE": emu.api_base, "HEYGEN_UPLOAD_BASE": emu.upload_base, **extra}


# ====================================================================== UploadWidget
def test_upload_widget_offers_supported_types_and_every_route() -> None:
    widget = UploadWidget()
    try:
        assert widget.file_upload.accept == ACCEPT == ".png,.jpg,.jpeg,.mp3,.wav,.mp4,.webm,.pdf"
        assert [value for _label, value in widget.via.options] == list(VIAS)
        labels = dict((v, k) for k, v in widget.via.options)
        for mistake in ("v1-multipart-file", "v1-multipart-type-asset"):
            assert "reproduces the 40001 mistake on purpose" in labels[mistake]
        assert labels == {v: VIA_LABELS[v] for v in VIAS}
        assert widget.target.options == ("emulator", "live")
        assert widget._emu is None, "the emulator starts on the first upload, not before"
    finally:
        widget.close()


@pytest.mark.parametrize("via", ["v1-multipart-file", "v1-multipart-type-asset"])
def test_mistaken_encoding_shows_the_wrong_encoding_diagnosis(upload: UploadWidget, jpeg: Path,
                                                              via: str) -> None:
    upload.file_upload.value = (_file("tiny.jpg", jpeg.read_bytes(), "image/jpeg"),)
    upload.via.value = via
    upload.upload_button.click()
    assert isinstance(upload.result, APIError)
    assert upload.result.diagnosis is not None and upload.result.diagnosis.id == "wrong-encoding"
    text = output_text(upload.output)
    assert "tiny.jpg was refused: HTTP 400, code 40001 asset data must be provided" in text
    assert "What went wrong (wrong-encoding)" in text
    assert "NOT a plan or permission problem" in text
    assert "How to fix it: Send the raw file bytes" in text
    assert "wrong-encoding" in _html(upload.output)
    assert upload.progress.bar_style == "danger" and upload.preview is None
    assert upload.status.value == "tiny.jpg: refused"


@pytest.mark.parametrize("via", ["v1", "v3", "direct", "auto"])
def test_right_encoding_shows_the_asset_card_and_a_preview(upload: UploadWidget, jpeg: Path,
                                                           via: str) -> None:
    data = jpeg.read_bytes()
    upload.file_upload.value = (_file("tiny.jpg", data, "image/jpeg"),)
    upload.via.value = via
    upload.upload_button.click()
    asset = upload.result
    assert isinstance(asset, Asset) and asset.id and asset.mime_type == "image/jpeg"
    text = output_text(upload.output)
    assert f"Uploaded tiny.jpg to the emulator\n  asset id: {asset.id}\n  URL: {asset.url}" in text
    assert f"size: {len(data)} bytes" in text and "MIME type: image/jpeg" in text
    assert isinstance(upload.preview, ipywidgets.Image)
    assert upload.preview.value == data and upload.preview.format == "jpeg"
    views = [o["data"] for o in upload.output.outputs
             if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert views[0]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        upload.preview.model_id)
    assert upload.progress.value == 100 and upload.progress.bar_style == "success"
    assert upload.status.value == f"tiny.jpg: uploaded, asset {asset.id}"


@pytest.mark.parametrize(("name", "kind", "fmt"), [
    ("tiny.mp3", ipywidgets.Audio, "mp3"), ("tiny.wav", ipywidgets.Audio, "wav"),
    ("tiny.mp4", ipywidgets.Video, "mp4"), ("tiny.webm", ipywidgets.Video, "webm"),
    ("tiny.png", ipywidgets.Image, "png"),
])
def test_previews_follow_the_kind_of_file(upload: UploadWidget, media_dir: Path, name: str,
                                          kind: Any, fmt: str) -> None:
    data = (media_dir / name).read_bytes()
    assert isinstance(upload.upload_bytes(name, data), Asset)
    assert isinstance(upload.preview, kind) and upload.preview.format == fmt
    assert upload.preview.value == data


def test_a_pdf_uploads_without_a_preview(upload: UploadWidget, media_dir: Path) -> None:
    asset = upload.upload_bytes("tiny.pdf", (media_dir / "tiny.pdf").read_bytes())
    assert isinstance(asset, Asset) and asset.mime_type == "application/pdf"
    assert upload.preview is None
    assert "MIME type: application/pdf" in output_text(upload.output)


def test_preview_for_skips_what_it_cannot_show() -> None:
    assert preview_for(b"%PDF-1.4", "application/pdf") is None
    big = b"\xff\xd8\xff" + bytes(PREVIEW_LIMIT)
    assert preview_for(big, "image/jpeg") is None


@pytest.mark.parametrize(("name", "data", "says"), [
    ("tiny.gif", None, "image/gif is not accepted by"),
    ("notes.txt", b"just some text", "the bytes are not a recognised format"),
    ("empty.png", b"", "the file is empty"),
])
def test_unsupported_file_shows_the_media_error(upload: UploadWidget, media_dir: Path, name: str,
                                                data: bytes | None, says: str) -> None:
    payload = (media_dir / name).read_bytes() if data is None else data
    upload.file_upload.value = (_file(name, payload),)
    upload.upload_button.click()
    assert isinstance(upload.result, MediaError)
    text = output_text(upload.output)
    assert text.startswith(f"{name} was not sent\n  Why: ")
    assert says in text and "checked before any byte is sent" in text
    assert upload.status.value == f"{name}: not uploaded"


def test_upload_without_a_file_asks_for_one(upload: UploadWidget) -> None:
    upload.upload_button.click()
    assert upload.results == [] and upload.result is None
    assert upload.status.value.startswith("choose a file first (.png, .jpg")
    assert upload._emu is None


def test_several_files_get_one_card_each(upload: UploadWidget, jpeg: Path,
                                         media_dir: Path) -> None:
    upload.file_upload.value = (_file("tiny.jpg", jpeg.read_bytes()),
                                _file("tiny.gif", (media_dir / "tiny.gif").read_bytes()))
    upload.upload_button.click()
    assert [type(r) for r in upload.results] == [Asset, MediaError]
    assert upload.result is upload.results[-1]
    text = output_text(upload.output)
    assert "Uploaded tiny.jpg to the emulator" in text and "tiny.gif was not sent" in text
    assert upload.status.value == "file 2 of 2: tiny.gif: not uploaded"


def test_progress_bar_follows_the_body_as_it_streams(upload: UploadWidget) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(3 * 1024 * 1024)  # sniffed as JPEG; the v1 route streams
    seen: list[int] = []
    upload.progress.observe(lambda change: seen.append(change["new"]), names="value")
    upload.via.value = "v1"
    assert isinstance(upload.upload_bytes("big.jpg", data), Asset)
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 100


def test_live_without_a_key_says_so_and_sends_nothing(jpeg: Path) -> None:
    widget = UploadWidget(target="live", env={})
    widget.upload_bytes("tiny.jpg", jpeg.read_bytes())
    assert isinstance(widget.result, ConfigurationError)
    text = output_text(widget.output)
    assert "a live upload needs an API key: type it into the API key field or set " \
           "HEYGEN_API_KEY" in text
    assert widget._emu is None
    widget.close()


def test_live_key_from_the_password_field_is_used_and_never_shown(keyed_emulator: Emulator,
                                                                 jpeg: Path) -> None:
    widget = UploadWidget(target="live", env=_live_env(keyed_emulator))
    assert widget.api_key_field.layout.display is None
    widget.api_key_field.value = SECRET
    widget.via.value = "v1"
    asset = widget.upload_bytes("tiny.jpg", jpeg.read_bytes())
    assert isinstance(asset, Asset)
    assert "Uploaded tiny.jpg to the live" in output_text(widget.output)
    assert widget.api_key_field.value == "", "the field is emptied once the key is read"
    widget.via.value = "v1-multipart-file"  # the key is kept in the kernel for the next upload
    assert isinstance(widget.upload_bytes("tiny.jpg", jpeg.read_bytes()), APIError)
    shown = [output_text(widget.output), _html(widget.output), widget.status.value, repr(widget),
             json.dumps(widget._repr_mimebundle_())]
    assert not any(SECRET in s for s in shown)
    widget.close()


def _state_text(view: Any) -> str:
    """Every synced trait of every part of ``view``, as a frontend (or a saved notebook) has it."""
    return json.dumps([part.get_state() for part in walk(view)], default=repr)


def test_a_typed_key_leaves_widget_state_at_once(keyed_emulator: Emulator, jpeg: Path) -> None:
    """Issue 10: the key stayed in the Password's value (widget state) until Upload was clicked."""
    widget = UploadWidget(target="live", env=_live_env(keyed_emulator))
    widget.api_key_field.value = f" {SECRET} "  # what a frontend sends when the field loses focus
    assert widget.api_key_field.value == ""
    assert widget.api_key_field.placeholder == "key entered (kept in the kernel, not shown)"
    assert SECRET not in _state_text(widget.view)
    widget.via.value = "v1"
    assert isinstance(widget.upload_bytes("tiny.jpg", jpeg.read_bytes()), Asset), "key kept"
    assert SECRET not in _state_text(widget.view)
    widget.api_key_field.value = "   "  # blanks are dropped, the kept key stays
    assert widget.api_key_field.value == ""
    assert isinstance(widget.upload_bytes("tiny.jpg", jpeg.read_bytes()), Asset)
    widget.close()


def test_live_with_a_refused_key_shows_the_diagnosis_not_the_key(keyed_emulator: Emulator,
                                                                 jpeg: Path) -> None:
    wrong = "sk-not-the-right-key-42"
    widget = UploadWidget(target="live", api_key=wrong, env=_live_env(keyed_emulator))
    widget.via.value = "v1"
    widget.upload_bytes("tiny.jpg", jpeg.read_bytes())
    assert isinstance(widget.result, AuthenticationError)
    text = output_text(widget.output) + _html(widget.output)
    assert "What went wrong (invalid-key)" in text and wrong not in text
    widget.close()


def test_live_key_from_the_environment(keyed_emulator: Emulator, jpeg: Path) -> None:
    widget = UploadWidget(target="live", env=_live_env(keyed_emulator, HEYGEN_API_KEY=SECRET))
    assert isinstance(widget.upload_bytes("tiny.jpg", jpeg.read_bytes()), Asset)
    assert SECRET not in output_text(widget.output)
    widget.close()


def test_resolve_key_prefers_the_field_then_the_argument_then_the_environment() -> None:
    env = {"HEYGEN_API_KEY": "from-env"}
    assert resolve_key("typed ", "given", env) == "typed"
    assert resolve_key("", "given", env) == "given"
    assert resolve_key(" ", None, env) == "from-env"
    assert resolve_key(None, None, {}) is None


def test_target_toggle_shows_the_key_field_only_for_live(upload: UploadWidget) -> None:
    assert upload.api_key_field.layout.display == "none"
    upload.target.value = "live"
    assert upload.api_key_field.layout.display is None
    upload.target.value = "emulator"
    assert upload.api_key_field.layout.display == "none"


def test_the_chosen_files_are_named_beside_the_chooser(upload: UploadWidget, jpeg: Path,
                                                       media_dir: Path) -> None:
    assert upload.chosen.value == "no file chosen"
    assert upload.file_upload.layout.width == "auto", "'Choose file(s)' is not cut off"
    upload.file_upload.value = (_file("tiny.jpg", jpeg.read_bytes(), "image/jpeg"),)
    assert upload.chosen.value == "tiny.jpg (223 bytes)"
    big = b"\xff\xd8\xff" + bytes(3 * 1024 * 1024)
    upload.file_upload.value = (_file("big.jpg", big), _file("tiny.png", b"x" * 2048))
    assert upload.chosen.value == ("big.jpg (3.0 MiB (3,145,731 bytes)), tiny.png (2.0 KiB "
                                   "(2,048 bytes))")
    upload.file_upload.value = ()
    assert upload.chosen.value == "no file chosen"


@pytest.mark.parametrize("make", [UploadWidget, PlanCheckWidget, CassetteBrowser])
def test_no_part_shows_a_null_tooltip(make: Any) -> None:
    """An unset tooltip is synced as null, which the browser shows as a tooltip "null"."""
    widget = make()
    try:
        nulls = [type(part).__name__ for part in walk(widget.view)
                 if "tooltip" in part.keys and part.get_state().get("tooltip") is None]
        assert nulls == []
    finally:
        widget.close()


def test_close_stops_the_embedded_emulator(jpeg: Path) -> None:
    widget = UploadWidget()
    widget.upload_bytes("tiny.jpg", jpeg.read_bytes())
    emu = widget._emu
    assert emu is not None
    requests.get(emu.api_base + "/v3/users/me", timeout=5)  # serving
    widget.close()
    assert widget._emu is None
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.api_base + "/v3/users/me", timeout=5)


def test_the_widget_displays_as_its_container_with_a_safe_text_form() -> None:
    widget = UploadWidget(target="live", api_key=SECRET)
    bundle = widget._repr_mimebundle_()
    assert bundle is not None
    assert bundle["text/plain"] == "UploadWidget(target='live', via='auto')"
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == widget.view.model_id
    widget.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="target must be"):
        UploadWidget(target="staging")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="via must be one of"):
        UploadWidget(via="v2")


# ====================================================================== PlanCheckWidget
def _rows(table: str) -> list[str]:
    return table.split("<tbody>", 1)[1].split("</tr>")[:-1]


def test_run_fills_the_table_one_row_per_case_as_results_arrive() -> None:
    widget = PlanCheckWidget(only=["upload-v1"])
    snapshots: list[str] = []
    widget.table.observe(lambda change: snapshots.append(change["new"]), names="value")
    widget.run_button.click()
    report = widget.report
    assert report is not None and widget.error is None
    n = len(report.results)
    assert n == 12 and report.counts == {"pass": 12}
    rows = _rows(widget.table.value)
    assert len(rows) == n and all("verdict-pass" in r for r in rows)
    assert [len(_rows(s)) for s in snapshots if s] == list(range(1, n + 1)), "row by row"
    assert widget.summary.value.startswith("<b>12 cases: 12 pass</b>")
    assert widget.progress.value == widget.progress.max == n
    assert widget.progress.bar_style == "success"
    assert len(widget.case_select.options) == n
    assert widget.case_select.value == "upload-v1/raw-jpeg"
    assert widget.explanation.value.startswith("<pre")
    assert "upload-v1/raw-jpeg: pass" in widget.explanation.value


def test_a_drift_is_red_selected_and_explained() -> None:
    widget = PlanCheckWidget(only=["upload-v1/raw-jpeg", "upload-v1/multipart-file"],
                             emulator_options=DRIFT)
    report = widget.run()
    assert report is not None
    assert report.counts == {"pass": 1, "drift": 1}
    assert widget.summary.value.startswith("<b>2 cases: 1 pass, 1 drift</b>")
    drift_row = next(r for r in _rows(widget.table.value) if "multipart-file" in r)
    assert "verdict-drift" in drift_row and VERDICT_COLOURS["drift"][0] in drift_row
    assert "400 40001 &#x27;x&#x27;" in drift_row
    assert widget.case_select.value == "upload-v1/multipart-file"
    text = widget.show_case("upload-v1/multipart-file")
    assert "body.message: expected 'asset data must be provided', got 'x'" in text
    assert "body.message" in widget.explanation.value
    assert widget.progress.bar_style == "danger"


def test_skips_are_grey_and_errors_orange(tmp_path: Path, media_dir: Path) -> None:
    widget = PlanCheckWidget(mode="replay", only=["upload-v1/raw-jpeg"], cassette_dir=tmp_path)
    report = widget.run()
    assert report is not None and report.counts == {"skip": 1}
    row = _rows(widget.table.value)[0]
    assert "verdict-skip" in row and VERDICT_COLOURS["skip"][0] in row and "no cassette" in row
    case = load_contracts(media_dir.parent, ["upload-v1/raw-jpeg"])[0].cases[0]
    table = results_table([CaseResult(case, "error", reason="no response: boom")])
    assert "verdict-error" in table and VERDICT_COLOURS["error"][0] in table
    assert "no response: boom" in table


def test_live_mode_without_a_key_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    widget = PlanCheckWidget(only=["account/me"])
    widget.mode.value = "live"
    widget.run_button.click()
    assert widget.report is None and isinstance(widget.error, ConfigurationError)
    assert "the check did not run: live mode needs HEYGEN_API_KEY" in output_text(widget.output)
    assert widget.progress.bar_style == "danger"


def test_live_mode_without_a_key_speaks_of_the_widget_not_the_command_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    widget = PlanCheckWidget(only=["account/me"], mode="live")
    assert widget.run() is None
    text = output_text(widget.output)
    assert "pick 'emulator' or 'replay' as the mode above" in text
    assert "--mode" not in text and widget.progress.max == 1


def test_replay_disables_the_plan_it_ignores() -> None:
    widget = PlanCheckWidget()
    assert widget.plan.disabled is False
    widget.mode.value = "replay"
    assert widget.plan.disabled is True
    widget.mode.value = "live"
    assert widget.plan.disabled is False
    assert PlanCheckWidget(mode="replay").plan.disabled is True


def test_an_unknown_case_id_is_reported() -> None:
    widget = PlanCheckWidget()
    widget.only.value = "upload-v9/nothing"
    assert widget.run() is None
    assert isinstance(widget.error, ContractError)
    assert "no case matches ['upload-v9/nothing']" in output_text(widget.output)


def test_export_writes_json_and_markdown(tmp_path: Path) -> None:
    widget = PlanCheckWidget(only=["upload-v1/multipart-file"])
    widget.run()
    widget.report_path.value = str(tmp_path / "reports" / "plan.json")
    widget.export_button.click()
    data = json.loads((tmp_path / "reports" / "plan.json").read_text())
    assert data["tool"] == "heygen-lab" and data["summary"] == {"pass": 1}
    markdown = (tmp_path / "reports" / "plan.md").read_text()
    assert markdown.startswith("# heygen-lab plan report (emulator)")
    assert "| `upload-v1/multipart-file` | pass |" in markdown
    assert output_text(widget.output) == (f"wrote {tmp_path}/reports/plan.json and "
                                          f"{tmp_path}/reports/plan.md")
    assert widget.error is None


def test_export_refuses_to_write_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", SECRET)
    echo = {"payload_overrides": {"v1.asset_data_missing": {"message": f"bad key {SECRET}"}}}
    widget = PlanCheckWidget(only=["upload-v1/multipart-file"], emulator_options=echo)
    widget.run()
    assert widget.export(tmp_path / "plan.json") is None
    assert isinstance(widget.error, SecretLeak)
    assert list(tmp_path.iterdir()) == [], "neither file is written"
    text = output_text(widget.output)
    assert "the report was not written: refusing to write" in text and "API key" in text
    shown = [text, _html(widget.output), widget.table.value, widget.explanation.value,
             widget.status.value]
    assert not any(SECRET in s for s in shown)


def test_export_and_compare_need_a_run_and_a_path(tmp_path: Path) -> None:
    widget = PlanCheckWidget(only=["upload-v1/raw-jpeg"])
    widget.export_button.click()
    assert "nothing to export: run the check first" in output_text(widget.output)
    widget.compare_button.click()
    assert "nothing to compare: run the check first" in output_text(widget.output)
    widget.run()
    widget.report_path.value = "  "
    widget.export_button.click()
    assert "nothing exported: type a report path first" in output_text(widget.output)
    widget.compare_button.click()
    assert "nothing compared: type a baseline report path" in output_text(widget.output)
    widget.compare(tmp_path / "missing.json")
    assert isinstance(widget.error, Exception)
    assert "the baseline was not read" in output_text(widget.output)
    assert "not a readable JSON report" in output_text(widget.output)


def test_compare_with_a_baseline_lists_what_moved(tmp_path: Path) -> None:
    only = ["upload-v1/multipart-file", "upload-v1/raw-png"]
    before = PlanCheckWidget(only=only)
    before.run()
    assert before.export(tmp_path / "baseline.json") is not None
    after = PlanCheckWidget(only=only, emulator_options=DRIFT)
    after.run()
    after.baseline_path.value = str(tmp_path / "baseline.json")
    after.compare_button.click()
    assert after.changes == ["upload-v1/multipart-file: was 400 40001 'asset data must be "
                             "provided', now 400 40001 'x'"]
    text = output_text(after.output)
    assert text.startswith(f"Compared with {tmp_path}/baseline.json:\n  upload-v1/multipart-file")
    after.export(tmp_path / "after.json")
    assert "## Compared with the baseline" in (tmp_path / "after.md").read_text()
    assert before.compare(tmp_path / "baseline.json") == []
    assert "no behaviour changed since the baseline" in output_text(before.output)


def test_report_paths() -> None:
    assert report_paths("r.json") == (Path("r.json"), Path("r.md"))
    assert report_paths("r.md") == (Path("r.json"), Path("r.md"))
    assert report_paths("out/r") == (Path("out/r.json"), Path("out/r.md"))
    assert report_paths("r.2024") == (Path("r.2024.json"), Path("r.2024.md"))


def test_plan_check_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="mode must be one of"):
        PlanCheckWidget(mode="cassette")
    with pytest.raises(ConfigurationError, match="plan must be one of"):
        PlanCheckWidget(plan="enterprise")
    widget = PlanCheckWidget(plan="trial")
    assert widget.plan.options == ("trial", "pro", "payg")
    assert repr(widget) == "PlanCheckWidget(mode='emulator', plan='trial')"


# ====================================================================== CassetteBrowser
FINGERPRINT = ("heygen-lab-fingerprint/1 " + json.dumps({
    "encoding": "multipart", "content_type": "multipart/form-data", "parts": [
        {"name": "type", "filename": None, "content_type": None, "size": 5, "sha256": "ab",
         "value": "image"},
        {"name": "asset", "filename": "tiny.jpg", "content_type": "image/jpeg", "size": 223,
         "sha256": "cd"}]}, sort_keys=True, separators=(",", ":")))


def _cassette(path: Path, interactions: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "version": 1, "metadata": {"provenance": {"kind": "emulator", "tool": "heygen-lab"}},
        "interactions": interactions}, sort_keys=False))
    return path


def _interaction(method: str, uri: str, body: str | None, status: int, reply: str,
                 headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"request": {"method": method, "uri": uri, "body": body, "headers": headers or {}},
            "response": {"status": {"code": status, "message": "Bad Request" if status == 400
                                    else "OK"},
                         "headers": {"Content-Type": ["application/json"]},
                         "body": {"string": reply}}}


def test_browser_without_cassettes_says_how_to_record_them(tmp_path: Path) -> None:
    browser = CassetteBrowser(tmp_path)
    assert browser.names == []
    assert browser.text == f"no cassettes in {tmp_path}; record them with `heygen-lab record`"
    assert "heygen-lab record" in browser.message.value and browser.detail.value == ""
    missing = CassetteBrowser(tmp_path / "nowhere")
    assert missing.text.startswith(f"no cassettes in {tmp_path / 'nowhere'};")


def test_browser_shows_each_interaction_with_keys_redacted(tmp_path: Path) -> None:
    _cassette(tmp_path / "upload-v1" / "multipart-type-asset.yaml", [
        _interaction("POST", f"https://upload.heygen.com/v1/asset?api_key={SECRET}&x=1",
                     FINGERPRINT, 400,
                     '{"code": 40001, "message": "asset data must be provided"}',
                     {"X-Api-Key": [SECRET], "Authorization": [f"Bearer {SECRET}"],
                      "Content-Type": ["multipart/form-data; boundary=abc"]}),
        _interaction("GET", f"https://api.heygen.com/v3/assets?key={SECRET}&limit=2", None, 200,
                     json.dumps({"data": ["y" * 3000]})),
    ])
    browser = CassetteBrowser(tmp_path)
    assert browser.names == ["upload-v1/multipart-type-asset"]
    text = browser.text
    assert SECRET not in text and SECRET not in browser.detail.value
    assert text.startswith("2 interactions; provenance: kind emulator, tool heygen-lab\n")
    assert "#1 POST https://upload.heygen.com/v1/asset?api_key=[redacted]&x=1" in text
    assert ("  headers:\n    Authorization: [redacted]\n"
            "    Content-Type: multipart/form-data; boundary=abc\n"
            "    X-Api-Key: [redacted]\n") in text
    assert "body fingerprint (heygen-lab-fingerprint/1; the bytes themselves were not stored)" \
        in text
    assert '"name": "asset"' in text and '"filename": "tiny.jpg"' in text
    assert '"value": "image"' in text
    assert "  -> 400 Bad Request" in text and '"code": 40001' in text
    assert "#2 GET https://api.heygen.com/v3/assets?key=[redacted]&limit=2" in text
    assert "  body: (none)" in text
    assert "more characters)" in text and "y" * 3000 not in text
    assert "&lt;" not in text and "<pre" in browser.detail.value


def test_browser_selects_and_refreshes(tmp_path: Path) -> None:
    ok = '{"data": {"id": "a"}}'
    _cassette(tmp_path / "account" / "me.yaml",
              [_interaction("GET", "https://api.heygen.com/v3/users/me", None, 200, ok)])
    _cassette(tmp_path / "upload-v3" / "ok-jpeg.yaml",
              [_interaction("POST", "https://api.heygen.com/v3/assets", FINGERPRINT, 200, ok)])
    browser = CassetteBrowser(tmp_path)
    assert browser.names == ["account/me", "upload-v3/ok-jpeg"]
    assert "GET https://api.heygen.com/v3/users/me" in browser.text
    browser.select.value = "upload-v3/ok-jpeg"
    assert "#1 POST https://api.heygen.com/v3/assets" in browser.text
    assert "upload-v3/ok-jpeg" in browser.detail.value
    _cassette(tmp_path / "video" / "generate-ok.yaml", [])
    browser.refresh_button.click()
    assert browser.names == ["account/me", "upload-v3/ok-jpeg", "video/generate-ok"]
    assert browser.show("video/generate-ok").startswith("0 interactions; provenance")


@pytest.mark.parametrize(("text", "says"), [
    ("interactions: [\n", "not a readable cassette (bad.yaml:2: not valid YAML"),
    ("interactions:\n- !!python/object/new:_io.BytesIO {}\n", "not a readable cassette"),
    ("- 1\n", "not a cassette (no 'interactions' list)"),
])
def test_browser_explains_an_unreadable_cassette(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "bad.yaml").write_text(text)
    browser = CassetteBrowser(tmp_path)
    assert browser.text.startswith("bad.yaml: ") and says in browser.text


@pytest.mark.parametrize(("uri", "shown"), [
    ("https://h/p?api_key=s&x=1", "https://h/p?api_key=[redacted]&x=1"),
    ("https://h/p?x=1&KEY=s#frag", "https://h/p?x=1&KEY=[redacted]#frag"),
    ("https://h/p?monkey=1&token=t", "https://h/p?monkey=1&token=t"),
    ("https://h/p", "https://h/p"),
    ("https://h/p?apikey=&access_token=z", "https://h/p?apikey=[redacted]&access_token=[redacted]"),
])
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_redact_headers_and_plain_bodies() -> None:
    assert redact_headers({"x-api-key": "s", "Cookie": ["a", "b"], "Accept": "*/*"}) == {
        "x-api-key": ["[redacted]"], "Cookie": ["[redacted]", "[redacted]"], "Accept": ["*/*"]}
    text = describe_interaction(0, _interaction("POST", "https://h/v2/video/generate",
                                                '{"a": 1}', 200, ""))
    assert '  body:\n    {\n      "a": 1\n    }' in text and "response body: (empty)" in text


def test_browser_reads_the_environment_key_out_of_bodies(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", SECRET)
    _cassette(tmp_path / "c" / "echo.yaml", [
        _interaction("GET", "https://h/x", None, 200, json.dumps({"echo": SECRET}))])
    assert list_cassettes(tmp_path) == ["c/echo"]
    assert SECRET not in CassetteBrowser(tmp_path).text


# ====================================================================== in a real kernel
class Kernels:
    """Python kernels for the tests below, one at a time: starting one (ipykernel, then the
    widgets' imports in it) costs seconds, so a test takes the running one when it can; a test
    that shuts its kernel down takes it out (the file order puts that test last)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.running: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any]:
        """(KernelManager, its BlockingKernelClient), alive."""
        if self.running is None or not self.running[0].is_alive():
            self.close()
            manager = pytest.importorskip("jupyter_client.manager")
            start = retry_kernel_start(manager.start_new_kernel)  # a port taken: start again
            self.running = start(kernel_name="python3", cwd=str(self.cwd))
        return self.running

    def take(self) -> tuple[Any, Any]:
        """The kernel to own: the caller shuts it down."""
        km_kc = self.get()
        self.running = None
        return km_kc

    def close(self) -> None:
        if self.running is not None:
            km, kc = self.running
            self.running = None
            kc.stop_channels()
            km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernels(media_dir: Path) -> Iterator[Kernels]:
    kernels = Kernels(cwd=media_dir)
    yield kernels
    kernels.close()


def test_a_frontend_can_choose_a_file_and_click_upload_in_a_kernel(kernels: Kernels,
                                                                   media_dir: Path) -> None:
    """What JupyterLab does, as comm messages: set FileUpload's value, click Upload.

    The kernel handles shell messages in order, so the print after the click sees its result.
    """
    _, kc = kernels.get()

    def execute(code: str) -> list[dict[str, Any]]:
        msg_id = kc.execute(code)
        seen = []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            seen.append(msg)
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                return seen

    def comm(comm_id: str, data: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        kc.session.send(kc.shell_channel.socket, msg, buffers=buffers or [])

    opened = execute("from heygen_lab.widgets import UploadWidget\n"
                     "w = UploadWidget()\ndisplay(w)")
    models: dict[str, str] = {}
    for msg in opened:
        if msg["msg_type"] == "comm_open":
            name = msg["content"]["data"]["state"]["_model_name"]
            models.setdefault(name, msg["content"]["comm_id"])
    data = (media_dir / "tiny.jpg").read_bytes()
    entry = {"name": "tiny.jpg", "type": "image/jpeg", "size": len(data),
             "last_modified": 1_700_000_000_000}
    comm(models["FileUploadModel"], {"method": "update", "state": {"value": [entry]},
                                     "buffer_paths": [["value", 0, "content"]]}, [data])
    comm(models["ButtonModel"], {"method": "custom", "content": {"event": "click"}})
    after = execute("print(type(w.result).__name__, w.result.mime_type, w.progress.value)\n"
                    "w.close()")
    printed = "".join(m["content"]["text"] for m in after if m["msg_type"] == "stream"
                      and m["content"]["name"] == "stdout")
    assert printed == "Asset image/jpeg 100\n"
    cards = [json.dumps(m["content"]["data"]["state"]["outputs"]) for m in after
             if m["msg_type"] == "comm_msg"
             and "outputs" in m["content"]["data"].get("state", {})]
    assert any("Uploaded tiny.jpg to the emulator" in card for card in cards)


def test_the_emulator_stops_when_the_kernel_shuts_down(kernels: Kernels, jpeg: Path) -> None:
    """A notebook leaves its widgets open; the widget's emulator (and its storage) still goes
    when the kernel ends."""
    printed: list[str] = []

    def on_output(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    km, kc = kernels.take()  # this test shuts it down
    try:
        code = ("from heygen_lab.widgets import UploadWidget\n"
                f"w = UploadWidget()\nw.upload_bytes('tiny.jpg', {jpeg.read_bytes()!r})\n"
                "print(w._emu.storage_dir, w._emu.api_base)")
        reply = kc.execute_interactive(code, timeout=60, output_hook=on_output)
        assert reply["content"]["status"] == "ok"
        storage, api_base = "".join(printed).split()
        assert Path(storage).is_dir()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # a shutdown request, as JupyterLab sends one
    assert not Path(storage).exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(api_base + "/v3/users/me", timeout=5)


def test_stop_emulator_removes_its_storage_and_the_next_upload_starts_anew(
        upload: UploadWidget, jpeg: Path) -> None:
    upload.file_upload.value = (_file("tiny.jpg", jpeg.read_bytes(), "image/jpeg"),)
    upload.upload_button.click()
    first = upload.result
    emu = upload._emu
    assert isinstance(first, Asset) and emu is not None and emu.storage_dir.is_dir()
    upload.stop_emulator()
    assert upload._emu is None and not emu.storage_dir.exists()
    upload.upload_button.click()
    assert isinstance(upload.result, Asset) and upload._emu is not None
    assert upload._emu.storage_dir != emu.storage_dir
