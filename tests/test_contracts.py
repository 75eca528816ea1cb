"""Contracts: the format, the matcher, the runner on the emulator, drift, reports, the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import emulator_threads
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.cli import main
from heygen_lab.contracts import (
    ContractError,
    compare,
    compare_reports,
    load_contract,
    load_contracts,
    run_check,
)
from heygen_lab.contracts.match import validate_operators
from heygen_lab.contracts.model import Case
from heygen_lab.contracts.runner import emulator_target, select

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
OVERRIDE = {"payload_overrides": {"v1.asset_data_missing": {"message": "asset data is required"}}}


# ---------------------------------------------------------------- the format
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


GOOD_CASE = """\
contract: demo
route: v1-upload
cases:
  one:
    summary: s
    send: {encoding: raw, file: media/tiny.jpg}
    expect: {status: 200}
    provenance: {kind: documented, source: here}
"""


def test_every_shipped_contract_loads() -> None:
    contracts = load_contracts(CONTRACTS)
    ids = [c.id for k in contracts for c in k.cases]
    assert len(ids) == len(set(ids)) >= 30
    for contract in contracts:
        for case in contract.cases:
            assert case.provenance["kind"] in {"documented", "reported", "emulator", "live"}
            for step in case.steps:
                media = step.send.get("file")
                assert media is None or (CONTRACTS / media).is_file(), case.id


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD_CASE.replace("status: 200", "status: 99"), "c.yaml:7: cases.one.expect.status"),
        (GOOD_CASE.replace("route: v1-upload", "route: v9-upload"), "c.yaml:2: route"),
        (GOOD_CASE.replace("    provenance: {kind: documented, source: here}\n", ""),
         "c.yaml:4: cases.one: 'provenance' is a required property"),
        (GOOD_CASE.replace("kind: documented", "kind: live"), "'date' is a required property"),
        (GOOD_CASE.replace("{status: 200}", "{status: 200, body: {id: {$typ: string}}}"),
         "unknown operator"),
        (GOOD_CASE.replace("{status: 200}", "{status: 200, body: {id: {$pattern: '('}}}"),
         "not a valid regular expression"),
        (GOOD_CASE.replace("encoding: raw", "encoding: base64"), "cases.one.send.encoding"),
        ("contract: demo\nroute: [unclosed\n", "c.yaml:3: not valid YAML"),
    ],
)
def test_bad_contract_names_file_line_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ContractError) as info:
        load_contract(_write(tmp_path, text))
    assert fragment in str(info.value)


def test_a_contract_is_parsed_once_per_text_and_a_run_leaves_it_as_loaded(
        tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_CASE)
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "tiny.jpg").write_bytes((CONTRACTS / "media" / "tiny.jpg").read_bytes())
    first = load_contract(path)
    assert load_contract(path) is first, "the same text is not parsed again"
    snapshot = copy.deepcopy(first)
    report = run_check(mode="emulator", contracts_dir=tmp_path)
    assert report.counts == {"pass": 1}
    assert load_contract(path) == snapshot, "running a case changes nothing it was loaded from"

    path.write_text(GOOD_CASE.replace("summary: s", "summary: edited"))
    edited = load_contract(path)
    assert edited is not first and edited.cases[0].summary == "edited"
    path.write_text(GOOD_CASE.replace("status: 200", "status: [200]"))
    with pytest.raises(ContractError, match=r"expect\.status"):  # an edit is validated again
        load_contract(path)


def _case(name: str, plan: str | None = None) -> Case:
    return Case(contract="t", name=name, summary="", steps=(), provenance={"kind": "emulator"},
                plan=plan)


def test_cases_with_the_same_plan_share_an_emulator_reset_between_them() -> None:
    serving = emulator_threads()
    target = emulator_target("pro")
    jpeg = CONTRACTS / "media" / "tiny.jpg"
    with target(_case("a")) as first:
        first_id = first.client("valid").upload_asset(jpeg, via="v3").id
    with target(_case("b")) as second:
        assert second.api_base == first.api_base, "the same emulator"
        client = second.client("valid")
        assert client.upload_asset(jpeg, via="v3").id == first_id, "its ids started over"
        assert [a["id"] for a in client.iter_assets()] == [first_id], "nothing of case a is left"
    with pytest.raises(RuntimeError, match="kaput"), target(_case("c")):
        raise RuntimeError("kaput")  # a case that breaks: its emulator is not used again
    with target(_case("d")) as after_error:
        assert after_error.api_base != first.api_base
    with target(_case("e", plan="trial")) as other_plan:
        assert other_plan.api_base != after_error.api_base, "another plan, another emulator"
    target.close()
    assert emulator_threads() == serving
    with pytest.raises(requests.ConnectionError):
        requests.get(other_plan.api_base, timeout=5)


def test_a_check_leaves_no_emulator_running() -> None:
    serving = emulator_threads()
    assert run_check(mode="emulator", contracts_dir=CONTRACTS, only=["upload-v3"]).counts
    assert emulator_threads() == serving


def test_only_filters_cases_and_rejects_unknown() -> None:
    kept = load_contracts(CONTRACTS, only=["upload-v1/raw-jpeg", "video"])
    ids = {c.id for k in kept for c in k.cases}
    assert "upload-v1/raw-jpeg" in ids and "video/avatar-not-found" in ids
    assert not any(i.startswith("upload-v3") for i in ids)
    with pytest.raises(ContractError, match="no case matches"):
        load_contracts(CONTRACTS, only=["nope"])


# ---------------------------------------------------------------- the matcher
def test_compare_reports_each_field() -> None:
    expected = {"code": 40001, "data": {"id": {"$type": "string"}, "url": {"$pattern": "^https"}},
                "gone": {"$absent": True}}
    observed = {"code": 40002, "data": {"id": 7, "url": "http://x"}, "gone": 1}
    problems = {d.path: d.problem for d in compare(expected, observed)}
    assert problems == {
        "code": "expected 40001, got 40002",
        "data.id": "expected string, got integer 7",
        "data.url": "expected to match /^https/, got 'http://x'",
        "gone": "should be absent, got 1",
    }
    assert compare({"a": 1}, {"a": True}) != [], "True is not 1 in a contract"
    assert compare([1, 2], [1]) and compare({"a": {"$any": True}}, {}) != []


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(st.characters(categories=["L"]), min_size=1, max_size=5), inner, max_size=3),
    max_leaves=10)


@given(json_value)
def test_a_value_matches_itself(value: Any) -> None:
    assert compare(value, value) == []
    assert validate_operators(value) == [] or isinstance(value, dict | list)


@given(st.dictionaries(st.text(min_size=1, max_size=5), json_leaf, min_size=1, max_size=5),
       st.data())
def test_subset_matches_and_any_leaf_change_is_caught(full: dict[str, Any], data: Any) -> None:
    keys = data.draw(st.lists(st.sampled_from(sorted(full)), unique=True))
    subset = {k: full[k] for k in keys}
    assert compare(subset, full) == []
    key = data.draw(st.sampled_from(sorted(full)))
    changed = dict(full, **{key: ["changed", full[key]]})
    diffs = compare(full, changed)
    assert [d.path for d in diffs] == [key]


# ---------------------------------------------------------------- running
@pytest.fixture(scope="module")
def emulator_report() -> Any:
    return run_check(mode="emulator", contracts_dir=CONTRACTS)


def test_emulator_passes_every_contract(emulator_report: Any) -> None:
    failing = [r.explain() for r in emulator_report.results if r.verdict != "pass"]
    assert failing == []
    assert len(emulator_report.results) >= 30


def test_changing_one_pinned_payload_is_reported_as_drift() -> None:
    report = run_check(mode="emulator", contracts_dir=CONTRACTS, emulator_options=OVERRIDE,
                       only=["upload-v1", "upload-v3"])
    drifted = {r.case.id for r in report.results if r.verdict == "drift"}
    assert drifted == {"upload-v1/multipart-file", "upload-v1/multipart-type-asset",
                       "upload-v1/empty-body"}
    result = next(r for r in report.results if r.case.id == "upload-v1/multipart-file")
    [diff] = result.differences
    assert diff.path == "body.message"
    assert diff.expected == "asset data must be provided"
    assert diff.observed == "asset data is required"
    text = result.explain()
    assert "body.message: expected 'asset data must be provided', got 'asset data is required'" \
        in text
    assert "pinned from: reported" in text and "upload_v1.yaml:" in text


def test_live_selection_skips_billed_and_plan_cases() -> None:
    contracts = load_contracts(CONTRACTS)
    reasons = {c.id: r for c, r in select(contracts, mode="live", plan=None, allow_billed=False)}
    assert "pass --allow-billed" in (reasons["upload-v1/raw-jpeg"] or "")
    assert reasons["upload-v1/multipart-file"] is None
    assert "not runnable in live mode" in (reasons["account/trial-daily-cap"] or "")
    allowed = {c.id: r for c, r in select(contracts, mode="live", plan=None, allow_billed=True)}
    assert allowed["upload-v1/raw-jpeg"] is None


def test_live_mode_without_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    assert main(["check", "--mode", "live"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["heygen-lab: error: live mode needs HEYGEN_API_KEY; without a key use "
                   "--mode emulator or --mode replay"]


# ---------------------------------------------------------------- reports and the CLI
def test_check_writes_reports_and_compares_with_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    monkeypatch.chdir(ROOT)
    base = tmp_path / "base.json"
    assert main(["check", "--only", "upload-v1", "--report", str(base)]) == 0
    out = capsys.readouterr()
    assert "embedded emulator" in out.err
    assert "pass   upload-v1/multipart-file" in out.out
    data = json.loads(base.read_text())
    assert data["summary"] == {"pass": 12} and data["mode"] == "emulator"
    markdown = base.with_suffix(".md").read_text()
    assert "| `upload-v1/multipart-file` | pass | 400 40001 'asset data must be provided' |" \
        in markdown

    from heygen_lab.emulator import payloads

    monkeypatch.setitem(payloads.PAYLOADS, "v1.asset_data_missing",  # type: ignore[index]
                        payloads.ErrorPayload(400, "v1", 40001, "asset data is required",
                                              "reported"))
    now = tmp_path / "now.json"
    code = main(["check", "--only", "upload-v1", "--report", str(now), "--baseline", str(base)])
    assert code == 1
    out = capsys.readouterr().out
    assert "drift  upload-v1/empty-body" in out
    assert ("upload-v1/empty-body: was 400 40001 'asset data must be provided', "
            "now 400 40001 'asset data is required'") in out
    changes = compare_reports(json.loads(base.read_text()), json.loads(now.read_text()))
    assert len(changes) == 3


def test_baseline_that_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["check", "--baseline", str(bad)]) == 1
    assert "not a heygen-lab report" in capsys.readouterr().err


# ---------------------------------------------------------------- replay
CASSETTES = ROOT / "cassettes"


def test_every_case_replays_from_its_cassette_offline() -> None:
    report = run_check(mode="replay", contracts_dir=CONTRACTS, cassette_dir=CASSETTES)
    assert [r.explain() for r in report.results if r.verdict != "pass"] == []


def test_replay_names_what_changed_in_the_request(tmp_path: Path) -> None:
    text = (CONTRACTS / "upload_v1.yaml").read_text()
    changed = text.replace("fields: {type: image}, file_field: asset",
                           "fields: {type: image}, file_field: file")
    (tmp_path / "upload_v1.yaml").write_text(changed)
    (tmp_path / "media").symlink_to(CONTRACTS / "media")
    report = run_check(mode="replay", contracts_dir=tmp_path, cassette_dir=CASSETTES,
                       only=["upload-v1/multipart-type-asset"])
    [result] = report.results
    assert result.verdict == "drift"
    assert "the cassette holds no request like this one" in result.explain()
    assert "parts[1].name: this request 'file', recorded 'asset'" in result.explain()


def test_replay_without_cassette_is_skipped_with_the_fix(tmp_path: Path) -> None:
    report = run_check(mode="replay", contracts_dir=CONTRACTS, cassette_dir=tmp_path,
                       only=["upload-v1/raw-jpeg"])
    [result] = report.results
    assert result.verdict == "skip"
    assert "heygen-lab record --only upload-v1/raw-jpeg" in result.reason


def test_record_rewrites_a_cassette_from_the_emulator(tmp_path: Path) -> None:
    from heygen_lab.cassettes import read_provenance

    run_check(record="emulator", contracts_dir=CONTRACTS, cassette_dir=tmp_path,
              only=["upload-v1/multipart-file"])
    path = tmp_path / "upload-v1" / "multipart-file.yaml"
    provenance = read_provenance(path)
    assert provenance is not None and provenance["kind"] == "emulator"
    data = yaml_safe_load(path)
    assert data["interactions"][0]["request"]["uri"] == "https://upload.heygen.com/v1/asset"
    replay = run_check(mode="replay", contracts_dir=CONTRACTS, cassette_dir=tmp_path,
                       only=["upload-v1/multipart-file"])
    assert replay.counts == {"pass": 1}


def yaml_safe_load(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


# ---------------------------------------------------------------- robustness of the loader
yaml_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
yaml_docs = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["contract", "route", "cases", "send", "expect", "status", "summary",
                     "provenance", "kind", "source", "steps", "body", "x"]) | st.integers(),
    inner, max_size=4), max_leaves=15)


@given(doc=yaml_docs)
def test_loader_reports_never_crashes_on_arbitrary_yaml(tmp_path_factory: Any, doc: Any) -> None:
    import yaml

    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_contract(path)
    except ContractError as exc:
        assert str(path) in str(exc)


@given(text=st.text(max_size=200))
def test_loader_reports_on_arbitrary_text(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(text)
    with pytest.raises(ContractError):
        load_contract(path)


# ---------------------------------------------------------------- the shipped cassettes
@pytest.mark.parametrize("path", sorted(CASSETTES.rglob("*.yaml")),
                         ids=lambda p: str(p.relative_to(CASSETTES)))
def test_shipped_cassette_is_safe_honest_and_keyless(path: Path) -> None:
    import yaml

    from heygen_lab.emulator import DEMO_KEY

    text = path.read_text()
    data = yaml.safe_load(text)
    assert "!!python" not in text
    assert data["metadata"]["provenance"]["kind"] == "emulator", "no emulator payload passed off"
    assert DEMO_KEY not in text and "x-api-key" not in text.lower()
    for interaction in data["interactions"]:
        assert interaction["request"]["uri"].startswith(("https://api.heygen.com",
                                                         "https://upload.heygen.com"))


def test_plain_vcrpy_replays_a_shipped_multipart_cassette() -> None:
    import vcr

    from heygen_lab import uploads
    from heygen_lab.cassettes import MATCHER_NAME, body_matcher, fingerprint_request
    from heygen_lab.client import HeyGenClient
    from heygen_lab.media import load_media

    plain = vcr.VCR(before_record_request=fingerprint_request, record_mode="none",
                    match_on=["method", "scheme", "host", "port", "path", "query", MATCHER_NAME])
    plain.register_matcher(MATCHER_NAME, body_matcher)
    with plain.use_cassette(str(CASSETTES / "upload-v1" / "multipart-type-asset.yaml")):
        ex = HeyGenClient("any-key", env={}, max_retries=0).exchange(
            "v1-upload", payload=uploads.multipart(load_media(CONTRACTS / "media" / "tiny.jpg"),
                                                   file_field="asset", fields={"type": "image"}))
    assert ex.status == 400
    assert ex.body == {"code": 40001, "message": "asset data must be provided"}
    assert ex.diagnosis is not None and ex.diagnosis.id == "wrong-encoding"


def test_live_mode_code_path_against_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live mode is the client with HEYGEN_* settings; pointed at an emulator it runs offline."""
    from heygen_lab.emulator import DEMO_KEY, Emulator

    with Emulator() as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", DEMO_KEY)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        report = run_check(mode="live", contracts_dir=CONTRACTS, only=["upload-v1", "account"])
    verdicts = {r.case.id: r.verdict for r in report.results}
    assert verdicts["upload-v1/multipart-type-asset"] == "pass"
    assert verdicts["account/quota-bad-key"] == "pass"
    assert verdicts["upload-v1/raw-jpeg"] == "skip"        # mutates: needs --allow-billed
    assert verdicts["account/trial-daily-cap"] == "skip"   # emulator-only
    assert set(verdicts.values()) == {"pass", "skip"}
