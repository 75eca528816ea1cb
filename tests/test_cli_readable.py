"""The CLI as a person reads it: where requests go, one line when live cannot start, baseline
news that is not a change, URLs diagnosed as given, a table that fits, a fast ``--help``."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from heygen_lab.cli import VIAS, ResultTable, main
from heygen_lab.emulator import Emulator

PREFIX = "heygen-lab: error:"
HEAVY = ("requests", "jsonschema", "werkzeug", "vcr", "yaml")


@pytest.fixture(autouse=True)
def no_live_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEYGEN_API_KEY", "HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE", "NO_COLOR",
                 "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    from datetime import date

    from heygen_lab import routes

    monkeypatch.setattr(routes, "today", lambda: date(2026, 9, 1))


def closed_port_base() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# ---------------------------------------------------------------- --help is light
@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["record", "--help"]])
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    code = ("import runpy, sys\n"
            f"sys.argv = ['heygen-lab', *{argv!r}]\n"
            "try:\n    runpy.run_module('heygen_lab', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "usage: heygen-lab" in done.stdout
    assert done.stderr.strip() == "[]", done.stderr


def test_the_parser_offers_the_clients_routes() -> None:
    from heygen_lab.client import VIAS as CLIENT_VIAS

    assert VIAS == CLIENT_VIAS


# ---------------------------------------------------------------- where requests go
def test_a_configured_base_is_shown_as_it_is(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(keys=["k" * 24]) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", "k" * 24)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        assert main(["whoami"]) == 0
    target = json.loads(capsys.readouterr().out)["target"]
    assert target == f"API at {emu.api_base.removeprefix('http://')} (HEYGEN_API_BASE)"


def test_live_where_for_heygen_itself() -> None:
    from heygen_lab.cli import live_where
    from heygen_lab.settings import Settings

    assert live_where(Settings.resolve(env={"HEYGEN_API_KEY": "k" * 24})) == (
        "live HeyGen API (api.heygen.com)")


# ---------------------------------------------------------------- live cannot start
def test_live_check_against_an_unreachable_host_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    base = closed_port_base()
    monkeypatch.setenv("HEYGEN_API_KEY", "k" * 24)
    monkeypatch.setenv("HEYGEN_API_BASE", base)
    assert main(["check", "--mode", "live"]) == 1
    out, err = capsys.readouterr()
    assert out == "", "no rows, no header: nothing ran"
    [line] = err.splitlines()
    assert line.startswith(f"{PREFIX} cannot reach the API host "
                           f"{base.removeprefix('http://')} (HEYGEN_API_BASE)")


def test_live_check_with_a_refused_key_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(keys=["the-right-key-0123456789"]) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", "a-wrong-key-0123456789")
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        assert main(["check", "--mode", "live"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"{PREFIX} the API host 127.0.0.1:")
    assert "refused the key (HTTP 401" in line and "HEYGEN_API_KEY" in line


def test_live_check_with_a_good_key_runs(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(keys=["the-right-key-0123456789"]) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", "the-right-key-0123456789")
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        main(["check", "--mode", "live", "--only", "account-v3/me"])
    out = capsys.readouterr().out
    assert "account-v3/me" in out
    assert f"(API at {emu.api_base.removeprefix('http://')} (HEYGEN_API_BASE)" in out


# ---------------------------------------------------------------- baseline news
def test_cases_new_since_the_baseline_are_news_not_changes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.json"
    assert main(["check", "--mode", "emulator", "--only", "upload-v1/raw-jpeg",
                 "--only", "upload-v1/bad-key", "--report", str(base)]) == 0
    # Last time upload-v1/bad-key was skipped, and account/me was not there at all.
    data = json.loads(base.read_text())
    for case in data["cases"]:
        if case["id"] == "upload-v1/bad-key":
            case.update(verdict="skip", reason="not runnable", observed=[])
    base.write_text(json.dumps(data))
    capsys.readouterr()
    now = tmp_path / "now.json"
    code = main(["check", "--mode", "emulator", "--only", "upload-v1/raw-jpeg",
                 "--only", "upload-v1/bad-key", "--only", "account/me",
                 "--baseline", str(base), "--report", str(now)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no behaviour changed" in out
    assert ("upload-v1/bad-key: new since last report (not run last time); now 401 400112 "
            "'Unauthorized'") in out
    assert "account/me: new since last report (not in the baseline); now 200" in out
    markdown = now.with_suffix(".md").read_text()
    assert "- no behaviour changed" in markdown
    assert "account/me: new since last report" in markdown


def test_a_case_not_run_this_time_is_news_too(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.json"
    assert main(["check", "--mode", "emulator", "--only", "upload-v1/raw-jpeg",
                 "--only", "upload-v1/raw-png", "--report", str(base)]) == 0
    capsys.readouterr()
    assert main(["check", "--mode", "emulator", "--only", "upload-v1/raw-jpeg",
                 "--baseline", str(base)]) == 0
    assert "upload-v1/raw-png: not in this run (was 200)" in capsys.readouterr().out


# ---------------------------------------------------------------- diagnose --url
def test_diagnose_a_loopback_url_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diagnose", "--url", "http://127.0.0.1:8001/v1/asset", "--status", "400",
                 '{"code":40001,"message":"asset data must be provided"}'])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("wrong-encoding:"), "the path still names the endpoint"
    assert "sent to http://127.0.0.1:8001/v1/asset (as given: not a HeyGen host)" in out
    assert "heygen.com/v1/asset" not in out


def test_diagnose_a_404_from_another_host_is_not_the_wrong_heygen_host(
        capsys: pytest.CaptureFixture[str]) -> None:
    main(["diagnose", "--url", "http://localhost:9000/v1/asset", "--status", "404",
          '{"code":404,"message":"Not Found"}', "--json"])
    out = capsys.readouterr().out
    result = json.loads(out) if out.startswith("{") else {"id": None, "evidence": []}
    assert result["id"] != "wrong-host"
    assert "api.heygen.com" not in out


@pytest.mark.parametrize("url, shown", [
    ("https://api.heygen.com/v1/asset", "sent to https://api.heygen.com/v1/asset"),
    ("https://upload.heygen.com/v1/asset", "sent to https://upload.heygen.com/v1/asset"),
])
def test_diagnose_heygen_urls_keep_their_host(capsys: pytest.CaptureFixture[str], url: str,
                                              shown: str) -> None:
    main(["diagnose", "--url", url, "--status", "400",
          '{"code":40001,"message":"asset data must be provided"}'])
    assert shown in capsys.readouterr().out


# ---------------------------------------------------------------- the table
class _Result:
    def __init__(self, verdict: str, case_id: str, message: str) -> None:
        from heygen_lab.contracts.runner import StepResult

        self.verdict, self.reason = verdict, ""
        self.case = type("C", (), {
            "id": case_id, "provenance": {"kind": "reported"},
            "steps": [type("S", (), {"expect": {"status": 400, "body": {
                "code": 40001, "message": message}}})()]})()
        self.steps = [StepResult(index=0, route="v1-upload", status=400,
                                 body={"code": 40001, "message": message})]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_table_has_a_header_and_fits_the_width() -> None:
    out = io.StringIO()
    table = ResultTable(out, width=70, colour=False)
    table.header()
    table.row(_Result("drift", "upload-v1/a-very-long-case-name-that-does-not-fit",
                      "asset data must be provided"))
    header, row = out.getvalue().splitlines()
    assert header.split() == ["result", "case", "expected", "observed", "source"]
    assert len(row) <= 70 and len(header) <= 70
    assert "\u2026" in row and row.startswith("drift  upload-v1/a-very")
    assert row.index("400 40001") == header.index("expected")


def test_the_table_keeps_cells_whole_when_not_a_terminal() -> None:
    out = io.StringIO()
    ResultTable(out).row(_Result("pass", "upload-v1/x", "asset data must be provided"))
    assert "'asset data must be provided'" in out.getvalue()
    assert "\033[" not in out.getvalue()


def test_colour_follows_the_terminal_and_the_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    def row(stream: io.StringIO) -> str:
        ResultTable(stream).row(_Result("drift", "upload-v1/x", "m"))
        return stream.getvalue()

    assert "\033[31mdrift\033[0m" in row(_Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in row(_Tty())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\033[" not in row(_Tty()), "NO_COLOR wins"
    monkeypatch.delenv("NO_COLOR")
    assert "\033[31mdrift\033[0m" in row(io.StringIO()), "FORCE_COLOR colours a pipe"


def test_check_prints_a_header_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--mode", "replay", "--only", "upload-v1/raw-jpeg"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["result", "case", "expected", "observed", "source"]
    assert lines[1].startswith("pass   upload-v1/raw-jpeg")


# ---------------------------------------------------------------- record says what changed
def test_re_recording_says_nothing_changed(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = ["record", "--only", "upload-v1/raw-jpeg", "--cassettes", str(tmp_path)]
    assert main(args) == 0
    assert "recorded 1 cassette(s), 1 with new content" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "recorded 1 cassette(s), 0 with new content" in out and "changed:" not in out
