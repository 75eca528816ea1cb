"""Issue 9, part 1: v1/v2 past their announced end of life.

The routes and contracts carry the dates; a legacy case that answers as removed after the date
is ``retired`` (not drift) in live mode, the report, the CLI and the widget; the emulator plays
the removal with ``legacy="retired"``; ``diagnose()`` names the v3 replacement. "After the date"
is always judged against an injected day, never the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import v3_call

from heygen_lab import routes
from heygen_lab.cli import main
from heygen_lab.contracts import ContractError, compare_reports, load_contract, run_check
from heygen_lab.diagnose import Sent, diagnose
from heygen_lab.emulator import DEMO_KEY, Emulator
from heygen_lab.envelopes import decode_body
from heygen_lab.routes import LEGACY_SUNSET, ROUTES

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
AFTER = date(2026, 11, 24)
BEFORE = date(2026, 10, 31)  # the last day announced as working
KEY = {"X-Api-Key": DEMO_KEY}


@pytest.fixture
def after_sunset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today is after the end of life, for code that asks routes.today() (CLI, widget)."""
    monkeypatch.setattr(routes, "today", lambda: AFTER)


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator with legacy='retired' playing HeyGen for the live code path."""
    with Emulator(legacy="retired") as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", DEMO_KEY)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        yield emu


# ---------------------------------------------------------------- the dates, as data
def test_every_legacy_route_has_the_announced_sunset_and_a_v3_successor() -> None:
    for r in ROUTES.values():
        if r.style in ("v1", "v2"):
            assert r.sunset is LEGACY_SUNSET and "/v3/" in r.successor, r.id
        else:
            assert r.sunset is None and r.successor == "", r.id
    assert LEGACY_SUNSET.label == "2026-10-31; also announced: 2026-10-01"
    assert not LEGACY_SUNSET.passed(BEFORE) and LEGACY_SUNSET.passed(date(2026, 11, 1))
    assert any("endpoint-version-comparison" in s for s in LEGACY_SUNSET.sources)


def test_legacy_contracts_carry_the_sunset_of_the_routes_table() -> None:
    for name in ("upload_v1.yaml", "video.yaml", "account.yaml"):
        contract = load_contract(CONTRACTS / name)
        assert contract.sunset is not None, name
        assert contract.sunset["date"] == "2026-10-31"
        assert contract.sunset["also_announced"] == ["2026-10-01"]
    account = {c.name: c for c in load_contract(CONTRACTS / "account.yaml").cases}
    assert account["me"].sunset is None, "a v3 case has no sunset"
    assert account["remaining-quota"].sunset is not None


def test_a_contract_whose_sunset_disagrees_with_the_routes_fails_with_file_and_line(
        tmp_path: Path) -> None:
    text = (CONTRACTS / "account.yaml").read_text().replace('date: "2026-10-31"',
                                                             'date: "2026-12-31"')
    (tmp_path / "account.yaml").write_text(text)
    with pytest.raises(ContractError, match=r"account.yaml:4: sunset: .*2026-12-31.*disagrees"):
        load_contract(tmp_path / "account.yaml")


# ---------------------------------------------------------------- diagnose
GONE_V1 = {"code": 410, "message": "This v1 endpoint is Legacy and was removed on 2026-10-31"}


@pytest.mark.parametrize(("route_id", "status", "body", "names"), [
    ("v1-upload", 410, GONE_V1, ['via="v3"', 'via="direct"', "POST /v3/assets"]),
    ("v2-video-generate", 404, None, ["create_video", "POST /v3/videos"]),
    ("v1-video-status", 410, GONE_V1, ["GET /v3/videos/{video_id}"]),
    ("v2-quota", 400, {"error": {"code": "internal_error", "message": "this endpoint is "
                                 "retired"}, "data": None}, ["GET /v3/users/me"]),
])
def test_diagnose_says_end_of_life_and_names_the_v3_replacement(
        route_id: str, status: int, body: Any, names: list[str]) -> None:
    record = decode_body(status, body).error
    assert record is not None
    d = diagnose(record, Sent(route=route_id), today=AFTER)
    assert d is not None and d.id == "endpoint-retired"
    assert "end of life" in d.cause and "2026-10-31" in d.cause and not d.retryable
    for name in names:
        assert name in d.remedy
    before = diagnose(record, Sent(route=route_id), today=BEFORE)
    assert before is None or before.id != "endpoint-retired"


def test_a_specific_not_found_stays_itself_after_the_date() -> None:
    record = decode_body(404, {"code": 40104, "message": "Video not found"}).error
    assert record is not None
    d = diagnose(record, Sent(route="v1-video-status"), today=AFTER)
    assert d is not None and d.id == "video-not-found"
    wrong_host = decode_body(404, {"code": 404, "message": "Not Found"}).error
    assert wrong_host is not None
    d = diagnose(wrong_host, Sent(route="v1-upload", host="api", path="/v1/asset"), today=AFTER)
    assert d is not None and d.id == "wrong-host"


# ---------------------------------------------------------------- the emulator plays the removal
def test_retired_emulator_answers_every_legacy_path_410_in_its_envelope() -> None:
    with Emulator(legacy="retired") as emu:
        v1 = requests.get(f"{emu.api_base}/v1/video_status.get?video_id=x", headers=KEY,
                          timeout=30)
        assert v1.status_code == 410 and v1.json()["code"] == 410
        assert "removed on 2026-10-31" in v1.json()["message"]
        up = requests.post(f"{emu.upload_base}/v1/asset", data=b"x", timeout=30,
                           headers={**KEY, "Content-Type": "image/png"})
        assert up.status_code == 410
        v2 = requests.get(f"{emu.api_base}/v2/voices", headers=KEY, timeout=30)
        assert v2.status_code == 410 and v2.json()["data"] is None
        assert "v2 endpoint is Legacy and was removed" in v2.json()["error"]["message"]
        assert v3_call(emu, "GET", "/v3/users/me")["data"]["username"]
    with Emulator() as emu:  # the default stays available
        assert requests.get(f"{emu.api_base}/v2/voices", headers=KEY, timeout=30).ok
    with pytest.raises(ValueError, match="legacy must be one of available, retired"):
        Emulator(legacy="gone")


def test_new_legacy_shapes() -> None:
    with Emulator() as emu:
        me = requests.get(f"{emu.api_base}/v1/user/me", headers=KEY, timeout=30).json()
        assert me["code"] == 100 and me["message"] is None and me["msg"] is None
        assert set(me["data"]) == {"username", "email", "first_name", "last_name"}
        quota = v3_call(emu, "GET", "/v2/user/remaining_quota")["data"]
        assert quota["details"] == {"api": quota["remaining_quota"], "seat": 0}
        voice = v3_call(emu, "GET", "/v2/voices")["data"]["voices"][0]
        assert voice["preview_audio"].startswith("http")
        assert isinstance(voice["support_interactive_avatar"], bool)
        own = v3_call(emu, "GET", "/v2/avatar_group.list")["data"]["avatar_group_list"]
        public = v3_call(emu, "GET", "/v2/avatar_group.list?include_public=true")["data"]
        assert own == [] and {"id", "name", "group_type", "train_status"} <= set(
            public["avatar_group_list"][0])


# ---------------------------------------------------------------- live mode, after the date
def test_live_check_after_the_sunset_reports_removed_legacy_endpoints_as_retired(
        live_env: Emulator) -> None:
    report = run_check(mode="live", contracts_dir=CONTRACTS, only=["upload-v1", "account",
                                                                    "video"], today=AFTER)
    verdicts = {r.case.id: r.verdict for r in report.results}
    assert verdicts["upload-v1/multipart-type-asset"] == "retired"
    assert verdicts["account/quota-bad-key"] == "retired"
    assert verdicts["video/status-unknown-video"] == "retired"
    assert verdicts["account/me"] == "pass", "v3 is untouched"
    assert "drift" not in verdicts.values() and report.drifted == []
    retired = next(r for r in report.results if r.case.id == "account/remaining-quota")
    assert retired.reason == "announced 2026-10-31" and retired.steps[-1].status == 410
    n = report.counts["retired"]
    assert f"{n} retired" in report.headline and "end of life HeyGen announced (2026-10-31)" \
        in report.headline
    data = report.to_dict()
    case = next(c for c in data["cases"] if c["id"] == "account/remaining-quota")
    assert case["verdict"] == "retired" and case["sunset"]["date"] == "2026-10-31"
    assert data["summary"]["retired"] == n and data["headline"] == report.headline
    markdown = report.to_markdown()
    assert "| `account/remaining-quota` | retired (announced 2026-10-31) |" in markdown
    assert "## Retired (past the announced end of life)" in markdown
    assert "GET /v2/user/remaining_quota retired (announced 2026-10-31; also announced: " \
        "2026-10-01); use GET /v3/users/me" in markdown


def test_the_same_answers_before_the_date_are_drift(live_env: Emulator) -> None:
    report = run_check(mode="live", contracts_dir=CONTRACTS, only=["account/remaining-quota"],
                       today=BEFORE)
    assert report.counts == {"drift": 1}, "removed before the announced date: that is drift"


def test_baseline_says_retired_since_last_report() -> None:
    only = ["account/remaining-quota", "account/me"]
    old = run_check(mode="emulator", contracts_dir=CONTRACTS, only=only, today=AFTER).to_dict()
    new = run_check(mode="emulator", contracts_dir=CONTRACTS, only=only, today=AFTER,
                    emulator_options={"legacy": "retired"}).to_dict()
    changes = compare_reports(old, new)
    assert changes == ["account/remaining-quota: retired since last report (announced "
                       "2026-10-31): was 200, now 410 internal_error 'This v2 endpoint is "
                       "Legacy and was removed on 2026-10-31; use the v3 API'"]
    assert compare_reports(new, new) == [], "still retired is not a change"


# ---------------------------------------------------------------- end to end: CLI, widget
def test_cli_check_with_retired_legacy_end_to_end(
        tmp_path: Path, after_sunset: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    only = ["--only", "account/remaining-quota", "--only", "account/me"]
    base = tmp_path / "base.json"
    assert main(["check", "--mode", "emulator", *only, "--report", str(base)]) == 0
    capsys.readouterr()
    now = tmp_path / "now.json"
    code = main(["check", "--mode", "emulator", "--legacy", "retired", *only,
                 "--report", str(now), "--baseline", str(base)])
    out = capsys.readouterr().out
    assert code == 1, "a newly retired case is a change against the baseline"
    assert "retired account/remaining-quota" in out and "announced 2026-10-31" in out
    assert "account/remaining-quota: retired since last report (announced 2026-10-31)" in out
    assert "1 pass, 1 retired; 1 retired: their v1/v2 endpoints are past the end of life " \
        "HeyGen announced (2026-10-31)" in out
    assert json.loads(now.read_text())["summary"] == {"pass": 1, "retired": 1}
    assert "retired since last report" in now.with_suffix(".md").read_text()
    # retired alone (no baseline) is not a failure
    assert main(["check", "--mode", "emulator", "--legacy", "retired", *only]) == 0


def test_cli_legacy_option_only_for_emulator_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--mode", "replay", "--legacy", "retired"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["heygen-lab: error: --legacy only applies to --mode emulator (this run is "
                   "replay)"]


def test_widget_shows_retired(after_sunset: None) -> None:
    pytest.importorskip("ipywidgets")
    from heygen_lab.widgets.plan_check import VERDICT_COLOURS, PlanCheckWidget, counts_line

    widget = PlanCheckWidget(only=["account/voices", "account/me"],
                             emulator_options={"legacy": "retired"})
    report = widget.run()
    assert report is not None and report.counts == {"pass": 1, "retired": 1}
    assert counts_line(report.results) == "2 cases: 1 pass, 1 retired"
    assert "verdict-retired" in widget.table.value
    assert VERDICT_COLOURS["retired"][0] in widget.table.value
    assert "retired (announced 2026-10-31)" in widget.table.value
    assert "1 retired</b>: v1/v2 endpoints past" in widget.summary.value
    assert "GET /v2/voices retired" in widget.summary.value
    assert widget.progress.bar_style == "warning"


# ---------------------------------------------------------------- uploads
def test_upload_via_v1_after_the_date_warns_on_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], jpeg: Path) -> None:
    for name in ("HEYGEN_API_KEY", "HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(routes, "today", lambda: AFTER)
    assert main(["upload", str(jpeg), "--via", "v1", "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["heygen-lab: warning: POST /v1/asset is past its announced end of life "
                   "(2026-10-31) and may answer 404/410; use --via v3 (or auto; direct above "
                   "32 MB)"]
    monkeypatch.setattr(routes, "today", lambda: BEFORE)
    assert main(["upload", str(jpeg), "--via", "v1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(routes, "today", lambda: AFTER)
    assert main(["upload", str(jpeg), "--quiet"]) == 0, "auto: no warning"
    assert capsys.readouterr().err == ""


def test_auto_never_picks_v1_even_with_legacy_retired(jpeg: Path) -> None:
    from heygen_lab.client import AUTO_DIRECT_ABOVE

    with Emulator(legacy="retired") as emu, emu.client() as client:
        assert client.upload_asset(jpeg).via == "v3"
        big = b"\xff\xd8\xff\xe0" + bytes(AUTO_DIRECT_ABOVE)
        assert client.upload_asset(big, name="big.jpg").via == "direct"
