"""Hostile inputs, one row each: every one gets a clear error (its type and a fragment naming
the problem), never a traceback, a hang or a half-written file, and leaves no temporary litter.

Rows go through public entry points only: the CLI's ``main()``, ``HeyGenClient(...)`` and
``upload_asset()``, ``load_contract``/``run_check``, ``load_plan``, ``parse_faults``, the YAML
loader, and raw sockets to a running emulator.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _support import bare_env
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab import HeyGenClient
from heygen_lab._yaml import YAMLInputError
from heygen_lab._yaml import load as load_yaml
from heygen_lab.cli import main
from heygen_lab.contracts import ContractError, load_contract, run_check
from heygen_lab.emulator import DEMO_KEY, Emulator, load_plan, parse_faults
from heygen_lab.errors import ConfigurationError, HeyGenError, MediaError
from heygen_lab.media import load_media

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "contracts" / "media"
CASSETTES = ROOT / "cassettes"
PREFIX = "heygen-lab: error:"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every row's temporary files go to a directory of its own, which must end up empty."""
    for name in ("HEYGEN_API_KEY", "HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE"):
        monkeypatch.delenv(name, raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert sorted(p.name for p in scratch.iterdir()) == [], "temporary litter left behind"


# ------------------------------------------------------------------------ the YAML loader
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=False))

YAML_ROWS = [
    ("duplicate-key", "a: 1\nb: 2\na: 3\n", "f.yaml:3: duplicate key 'a' (first given on line 1)"),
    ("duplicate-key-flow", "{a: 1, a: 2}", "duplicate key 'a'"),
    ("python-tag", "x: !!python/object/apply:os.system ['true']\n", "f.yaml:1: tag"),
    ("python-name-tag", "x: !!python/name:os.system ''\n", "is not allowed"),
    ("custom-tag", "x: !secret value\n", "tag !secret is not allowed"),
    ("alias-bomb", BOMB, "aliases expand to more than"),
    ("alias-cycle", "a: &a [*a]\n", "refers to its own anchor"),
    ("deep-nesting-30k", "[" * 30000 + "]" * 30000, "nested deeper than 100 levels"),
    ("deep-block-mapping", "".join(" " * i + "k:\n" for i in range(150)), "nested deeper"),
    ("unclosed-flow", "a: [1, 2\n", "f.yaml:2: not valid YAML"),
    ("tab-indent", "a:\n\t- b\n", "f.yaml:2: not valid YAML"),
    ("nul-byte", "a: \x00\n", "not valid YAML"),
    ("two-documents", "a: 1\n---\nb: 2\n", "expected a single document"),
    ("undefined-alias", "a: *nope\n", "undefined alias"),
    ("impossible-date", "d: 2024-13-45\n", "a value cannot be read"),
    ("huge-integer", "n: 1" + "0" * 5000 + "\n", "a value cannot be read"),
]


@pytest.mark.parametrize(("text", "fragment"), [r[1:] for r in YAML_ROWS],
                         ids=[r[0] for r in YAML_ROWS])
def test_hostile_yaml_is_refused_with_file_and_line(text: str, fragment: str) -> None:
    with pytest.raises(YAMLInputError) as info:
        load_yaml(text, "f.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("f.yaml")


def test_anchors_and_merge_keys_still_work() -> None:
    text = "s: &s {x: 1}\nt: *s\nu: {<<: *s, y: 2}\nb: !!binary aGk=\n"
    assert load_yaml(text) == {"s": {"x": 1}, "t": {"x": 1}, "u": {"x": 1, "y": 2}, "b": b"hi"}


def test_alias_expansion_is_counted_exactly_at_the_limit() -> None:
    """A 1,000-item list under an anchor is 1,001 nodes: 99 aliases add 99,099 (read), 100 add
    100,100 (refused, at the line of the alias that crossed the limit)."""
    anchor = "a: &a [" + ", ".join(["x"] * 1000) + "]\n"
    within = anchor + "".join(f"k{i}: *a\n" for i in range(99))
    assert len(load_yaml(within)) == 100
    with pytest.raises(YAMLInputError, match=r"^f\.yaml:101: aliases expand to more than"):
        load_yaml(within + "k99: *a\n", "f.yaml")


def test_an_alias_counts_the_aliases_inside_what_it_names() -> None:
    # b's two aliases add 2 x 1,001; b is then 2,003 nodes, and each *b adds that much:
    # 2,002 + 48 x 2,003 = 98,146 is read, 2,002 + 49 x 2,003 = 100,149 is refused.
    head = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: &b [*a, *a]\n"
    assert len(load_yaml(head + "".join(f"k{i}: *b\n" for i in range(48)))) == 50
    with pytest.raises(YAMLInputError, match="aliases expand"):
        load_yaml(head + "".join(f"k{i}: *b\n" for i in range(49)))


def test_nesting_is_refused_past_exactly_the_limit() -> None:
    assert load_yaml("[" * 100 + "]" * 100) == functools.reduce(lambda v, _: [v], range(99), [])
    with pytest.raises(YAMLInputError, match="nested deeper than 100 levels"):
        load_yaml("[" * 101 + "]" * 101)


@given(st.text(max_size=300))
def test_yaml_loader_raises_only_its_own_error_on_any_text(text: str) -> None:
    try:
        load_yaml(text, "p.yaml")
    except YAMLInputError as exc:
        assert str(exc).startswith("p.yaml")


@given(st.lists(st.sampled_from(["[", "]", "{", "}", "&a ", "*a", ":", "- ", "\n", " ", "a",
                                 "!!python/x ", "'", '"', ",", "? ", "<<: ", "!!binary "]),
                max_size=80).map("".join))
def test_yaml_loader_survives_structural_noise(text: str) -> None:
    with contextlib.suppress(YAMLInputError):
        load_yaml(text, "p.yaml")


# ------------------------------------------------------------------------ contracts
GOOD_CASE = ("  ok:\n    summary: s\n    provenance: {kind: emulator, source: test}\n"
             "    send: {encoding: raw, file: media/tiny.jpg}\n    expect: {status: 200}\n")


def _contract(tmp_path: Path, cases: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"contract: c\nroute: v1-upload\ncases:\n{cases}")
    (tmp_path / "media").symlink_to(MEDIA)
    return path


def _case(send: str, extra: str = "") -> str:
    return ("  x:\n    summary: s\n    provenance: {kind: emulator, source: test}\n"
            f"    send: {send}\n    expect: {{status: 200}}\n{extra}")


CONTRACT_ROWS = [
    ("duplicate-case-name", GOOD_CASE + GOOD_CASE,
     "c.yaml:9: duplicate key 'ok' (first given on line 4)"),
    ("headers-as-string", _case("{encoding: raw, file: media/tiny.jpg, headers: 'X-A: 1'}"),
     "cases.x.send.headers: must be a mapping of header names"),
    ("headers-as-list", _case("{encoding: none, headers: [a, b]}"), "send.headers: must be"),
    ("header-value-a-mapping", _case("{encoding: none, headers: {X-A: {b: 1}}}"),
     "send.headers"),
    ("file-absolute", _case("{encoding: raw, file: /etc/passwd}"),
     "cases.x.send.file: '/etc/passwd' leaves the contracts directory"),
    ("file-dotdot", _case("{encoding: raw, file: ../../secret.jpg}"),
     "leaves the contracts directory"),
    ("generate-from-dotdot", _case("{encoding: raw, generate: {from: ../x.jpg, size: 10}}"),
     "send.generate.from: '../x.jpg' leaves"),
    ("generate-over-cap", _case("{encoding: raw, generate: {from: media/tiny.jpg, "
                                "size: 268435457}}"), "268435456"),
    ("params-nested", _case("{encoding: none, params: {a: {b: 1}}}"), "send.params.a"),
    ("url-not-http", _case("{encoding: none, url: 'file:///etc/passwd'}"), "send.url"),
    ("status-as-string", _case("{encoding: none}").replace("status: 200", "status: '200'"),
     "expect.status: '200' is not of type 'integer'"),
    ("repeat-as-string", "  x:\n    summary: s\n    provenance: {kind: emulator, source: t}\n"
                         "    steps:\n      - send: {encoding: none}\n        expect: "
                         "{status: 200}\n        repeat: 'many'\n", "repeat"),
    ("python-tag-in-contract", _case("{encoding: none, json: !!python/object/new:dict {}}"),
     "is not allowed"),
]


@pytest.mark.parametrize(("cases", "fragment"), [r[1:] for r in CONTRACT_ROWS],
                         ids=[r[0] for r in CONTRACT_ROWS])
def test_hostile_contract_fails_with_file_line_and_key(tmp_path: Path, cases: str,
                                                      fragment: str) -> None:
    path = _contract(tmp_path, cases)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{path}:")


def test_a_valid_key_is_never_sent_to_a_foreign_host(tmp_path: Path) -> None:
    hits: list[bytes] = []
    with socket.socket() as foreign:  # a listener that records whatever reaches it
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        foreign.settimeout(0)
        port = foreign.getsockname()[1]
        _contract(tmp_path, _case(f"{{route: v3-me, encoding: none, "
                                  f"url: 'http://127.0.0.1:{port}/steal'}}"))
        report = run_check(mode="emulator", contracts_dir=tmp_path)
        with contextlib.suppress(BlockingIOError):
            hits.append(foreign.accept()[0].recv(100))
    [result] = report.results
    assert result.verdict == "drift"
    assert "refusing to send the API key to 127.0.0.1" in result.explain()
    assert hits == []


def test_generated_media_is_private_and_removed(tmp_path: Path, private_tmp: Path) -> None:
    decoy = tmp_path / "victim.txt"
    decoy.write_text("keep me")
    shared = private_tmp / "heygen-lab-contract-media"
    shared.mkdir()
    (shared / "tiny-33554433.part").symlink_to(decoy)  # the old fixed path, booby-trapped
    report = run_check(mode="emulator", contracts_dir=ROOT / "contracts",
                       only=["upload-v3/over-32mb"])
    assert [r.verdict for r in report.results] == ["pass"]
    assert decoy.read_text() == "keep me"
    (shared / "tiny-33554433.part").unlink()
    shared.rmdir()


def test_a_corrupt_cassette_fails_its_case_not_the_run(tmp_path: Path) -> None:
    (tmp_path / "upload-v1").mkdir()
    (tmp_path / "upload-v1" / "raw-jpeg.yaml").write_text(
        "interactions:\n- request: {method: POST}\n  request: {method: GET}\n")
    (tmp_path / "upload-v1" / "raw-png.yaml").write_text("interactions: 5\n")
    report = run_check(mode="replay", contracts_dir=ROOT / "contracts", cassette_dir=tmp_path,
                       only=["upload-v1/raw-jpeg", "upload-v1/raw-png"])
    by_id = {r.case.id: r for r in report.results}
    assert by_id["upload-v1/raw-jpeg"].verdict == "error"
    assert "raw-jpeg.yaml:3: duplicate key 'request'" in by_id["upload-v1/raw-jpeg"].reason
    assert by_id["upload-v1/raw-png"].verdict == "error"
    assert "no 'interactions' list" in by_id["upload-v1/raw-png"].reason


# ------------------------------------------------------------------------ plan files
PLAN_ROWS = [
    ("duplicate-key", "p.yaml", "name: a\nname: b\n", "p.yaml:2: duplicate key 'name'"),
    ("python-tag", "p.yaml", "name: !!python/object/apply:os.getcwd []\n", "is not allowed"),
    ("not-a-mapping", "p.yaml", "- 1\n", "must hold a mapping"),
    ("features-an-int", "p.yaml", "name: a\ngated_features: 5\n", "gated_features must be"),
    ("provenance-a-list", "p.yaml", "name: a\nprovenance: [1]\n", "provenance must be"),
    ("credits-a-bool", "p.yaml", "name: a\ncredits: true\n", "credits must be an integer"),
    ("name-a-list", "p.yaml", "name: [a]\n", "name must be a string"),
    ("json-too-deep", "p.json", "[" * 100000 + "]" * 100000, "not valid JSON"),
    ("json-invalid", "p.json", "{name: a}", "not valid JSON"),
]


@pytest.mark.parametrize(("name", "text", "fragment"), [r[1:] for r in PLAN_ROWS],
                         ids=[r[0] for r in PLAN_ROWS])
def test_hostile_plan_file_is_a_value_error(tmp_path: Path, name: str, text: str,
                                           fragment: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_plan(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_a_plan_file_that_is_not_utf8_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ValueError, match="cannot be read"):
        load_plan(path)


# ------------------------------------------------------------------------ fault specs
FAULT_ROWS = [
    ("nan-seconds", "latency:seconds=nan", "seconds must be within 0..600"),
    ("inf-seconds", "latency:seconds=inf", "seconds must be within"),
    ("negative-seconds", "latency:seconds=-1", "seconds must be within"),
    ("a-day-of-latency", "latency:seconds=86400", "seconds must be within 0..600"),
    ("rate-above-one", "error:rate=1.5", "rate must be within 0..1"),
    ("rate-nan", "drop:rate=nan", "rate must be within 0..1"),
    ("rate-negative", "drop:rate=-0.1", "rate must be within"),
    ("status-4xx", "error:status=404", "status must be a server error within 500..599"),
    ("status-600", "error:status=600", "within 500..599"),
    ("status-not-int", "error:status=5e2", "expected int"),
    ("unknown-key", "error:colour=red", "unknown key 'colour'"),
    ("key-of-another-kind", "latency:status=503", "latency does not take 'status'"),
    ("repeated-key", "error:rate=0.1,rate=0.9", "'rate' is given twice"),
    ("retry-after-negative", "rate_limit:retry_after=-1", "retry_after must be within"),
    ("times-zero", "drop:times=0", "times must be >= 1"),
    ("route-no-slash", "drop:route=v3", "must be a path prefix"),
    ("route-with-space", "drop:route=/v3 x", "must be a path prefix"),
    ("unknown-kind", "meteor:rate=1", "unknown kind 'meteor'"),
]


@pytest.mark.parametrize(("spec", "fragment"), [r[1:] for r in FAULT_ROWS],
                         ids=[r[0] for r in FAULT_ROWS])
def test_hostile_fault_spec_names_the_token(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_faults(spec)
    assert fragment in str(info.value)
    assert repr(spec.split(",")[0].split(":")[0]) in str(info.value) or spec in str(info.value)


@given(st.text(alphabet=st.sampled_from(list("latencyerordpmi_:=,;.0123456789-/nfsx ")),
               max_size=60))
def test_fault_parsing_raises_only_value_error(spec: str) -> None:
    try:
        faults = parse_faults(spec)
    except ValueError:
        return
    for f in faults:  # whatever parses is within its documented ranges
        assert 0 <= f.rate <= 1 and 0 <= f.seconds <= 600 and 500 <= f.status <= 599


# ------------------------------------------------------------------------ client settings
SETTINGS_ROWS = [
    ("timeout-nan", {"timeout": float("nan")}, "finite, positive number of seconds"),
    ("timeout-inf", {"timeout": float("inf")}, "finite, positive"),
    ("timeout-negative", {"timeout": -1}, "finite, positive"),
    ("timeout-zero", {"timeout": 0}, "finite, positive"),
    ("timeout-bool", {"timeout": True}, "must be a number of seconds, got bool"),
    ("timeout-str", {"timeout": "5"}, "must be a number of seconds, got str"),
    ("base-ftp", {"api_base": "ftp://api.heygen.com"}, "api_base must be an http(s) URL"),
    ("base-port-out-of-range", {"upload_base": "http://127.0.0.1:99999"},
     "upload_base must be an http(s) URL"),
    ("base-with-space", {"api_base": "http://api heygen.com"}, "must be an http(s) URL"),
    ("base-with-credentials", {"api_base": "https://u:p@api.heygen.com"}, "credentials"),
    ("key-an-int", {"api_key": 12345}, "api_key must be a string, got int"),
    ("key-with-newline", {"api_key": "abc\ndef"}, "whitespace, control"),
    ("retries-bool", {"max_retries": True}, "max_retries must be an integer"),
    ("retries-huge", {"max_retries": 10**9}, "max_retries must be an integer from 0 to 10"),
]


@pytest.mark.parametrize(("kwargs", "fragment"), [r[1:] for r in SETTINGS_ROWS],
                         ids=[r[0] for r in SETTINGS_ROWS])
def test_hostile_client_settings_are_configuration_errors(kwargs: dict[str, object],
                                                         fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        HeyGenClient(**{"env": {}, **kwargs})  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert "abc" not in str(info.value) and "u:p" not in str(info.value)  # nothing echoed


def test_a_blank_key_in_the_environment_is_no_key() -> None:
    client = HeyGenClient(env={"HEYGEN_API_KEY": " \t "})
    assert client.settings.api_key is None


# ------------------------------------------------------------------------ media
def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    return path


def _socket_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.jpg"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jpg"
    path.touch()
    return path


def _text_jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "fake.jpg"
    path.write_text("not a jpeg at all")
    return path


MEDIA_ROWS: list[tuple[str, Callable[[Path], Path], str]] = [
    ("dev-zero", lambda _: Path("/dev/zero"), "is a character device (like /dev/zero)"),
    ("dev-null", lambda _: Path("/dev/null"), "character device"),
    ("fifo", _fifo, "is a FIFO (named pipe)"),
    ("unix-socket", _socket_file, "is a socket"),
    ("directory", lambda p: p, "is a directory"),
    ("missing", lambda p: p / "nope.jpg", "no such file"),
    ("empty", _empty, "the file is empty"),
    ("not-a-known-format", _text_jpeg, "not a recognised format"),
]


@pytest.mark.parametrize(("make", "fragment"), [r[1:] for r in MEDIA_ROWS],
                         ids=[r[0] for r in MEDIA_ROWS])
def test_hostile_upload_path_is_refused_before_reading(tmp_path: Path, make: Callable[[Path],
                                                       Path], fragment: str) -> None:
    path = make(tmp_path)
    with Emulator() as emu, emu.client() as client, pytest.raises(MediaError) as info:
        client.upload_asset(path)
    assert fragment in str(info.value)
    assert emu.state.assets == {} if hasattr(emu.state, "assets") else True


@pytest.mark.parametrize(("opener", "fragment"), [
    (lambda: open("/dev/zero", "rb"), "character device"),  # noqa: SIM115
    (lambda: open(MEDIA / "tiny.jpg"), "text mode"),  # noqa: SIM115
], ids=["dev-zero-file-object", "text-mode-file-object"])
def test_hostile_file_objects_are_refused(opener: Callable[[], io.IOBase], fragment: str) -> None:
    with opener() as fh, pytest.raises(MediaError, match=fragment):
        load_media(fh)  # type: ignore[arg-type]


def _copy(tmp_path: Path, name: str = "tiny.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes((MEDIA / name).read_bytes())
    return path


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda p: p.open("ab").write(b"\0" * 10), "grew while it was being sent"),
    (lambda p: os.truncate(p, 10), "changed size (223 -> 10 bytes) while it was being sent"),
    (lambda p: os.utime(p, ns=(1, 1)), "was modified while it was being sent"),
    (lambda p: (p.unlink(), p.write_bytes((MEDIA / "tiny.jpg").read_bytes())),
     "was replaced by another file while it was being sent"),
], ids=["grew", "shrank", "touched", "replaced"])
def test_a_file_changed_during_the_upload_stops_it(tmp_path: Path,
                                                   change: Callable[[Path], object],
                                                   fragment: str) -> None:
    path = _copy(tmp_path)
    media = load_media(path)
    with media.open() as stream:
        sent = stream.read(7)
        change(path)
        with pytest.raises(MediaError, match=re.escape(fragment)):
            while chunk := stream.read(7):
                sent += chunk
    assert len(sent) < media.size, "the last bytes are held back"


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda p: p.open("ab").write(b"\0"), "changed size (223 -> 224 bytes) after it was checked"),
    (lambda p: os.utime(p, ns=(1, 1)), "was modified after it was checked"),
], ids=["grew-between-attempts", "touched-between-attempts"])
def test_a_file_changed_between_attempts_is_not_resent(tmp_path: Path,
                                                      change: Callable[[Path], object],
                                                      fragment: str) -> None:
    path = _copy(tmp_path)
    media = load_media(path)
    change(path)
    with pytest.raises(MediaError, match=re.escape(fragment)), media.open():
        pass


def test_a_stream_that_ends_early_is_a_media_error() -> None:
    data = (MEDIA / "tiny.jpg").read_bytes()
    source = io.BytesIO(data)
    media = load_media(source)
    source.truncate(50)  # the caller's stream lost bytes after the check
    with media.open() as stream, pytest.raises(MediaError, match="shrank while it was being sent"):
        stream.read()


def test_every_attempt_streams_exactly_the_checked_bytes(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    media = load_media(path)
    for _ in range(2):
        with media.open() as stream:
            assert stream.read() == path.read_bytes()


def test_a_file_deleted_before_a_retry_is_a_media_error(tmp_path: Path) -> None:
    path = _copy(tmp_path)

    def sleep_and_delete(_seconds: float) -> None:
        path.unlink()

    with Emulator(faults="error:status=503,times=1,route=/v3/assets") as emu, \
            emu.client(sleep=sleep_and_delete) as client, \
            pytest.raises(MediaError, match="was deleted after it was checked"):
        client.upload_asset(path, via="v3")


def test_a_file_that_grows_mid_upload_is_not_sent_past_its_length(tmp_path: Path) -> None:
    path = tmp_path / "long.mp3"
    path.write_bytes(b"ID3" + b"\0" * 300_000)

    def grow(done: int, total: int) -> None:
        with path.open("ab") as fh:
            fh.write(b"\0" * 4096)

    with Emulator() as emu, emu.client() as client, \
            pytest.raises(MediaError, match="grew while it was being sent"):
        client.upload_asset(path, via="v1", on_progress=grow)


# ------------------------------------------------------------------------ the CLI
def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), lines
    return lines[0]


CLI_ROWS: list[tuple[str, list[str], int, str]] = [
    ("api-port-too-big", ["serve", "--api-port", "70000"], 2, "--api-port 70000 is not a TCP"),
    ("upload-port-negative", ["serve", "--upload-port", "-1"], 2, "--upload-port -1"),
    ("blank-key", ["serve", "--key", "  "], 2, "--key must not be blank"),
    ("fault-nan", ["serve", "--fault", "latency:seconds=nan"], 2, "seconds must be within"),
    ("fault-rate", ["serve", "--fault", "error:rate=2"], 2, "rate must be within 0..1"),
    ("fault-status", ["serve", "--fault", "error:status=200"], 2, "500..599"),
    ("report-dir-missing", ["check", "--mode", "replay", "--report", "NOPE/sub/r.json"], 2,
     "no directory"),
    ("report-parent-is-a-file", ["check", "--mode", "replay", "--report", "FILE/r.json"], 2,
     "no directory"),
    ("report-is-a-directory", ["check", "--mode", "replay", "--report", "DIR.json"], 2,
     "is a directory"),
    ("baseline-without-ids", ["check", "--mode", "replay", "--baseline", "NOIDS"], 1,
     "cases[0] has no 'id'"),
    ("baseline-not-json", ["check", "--mode", "replay", "--baseline", "FILE"], 1,
     "not a readable JSON report"),
    ("diagnose-2mib", ["diagnose", '"' + "a" * (2 << 20) + '"'], 2, "over 1048576 characters"),
    ("lint-age-nan", ["cassettes", "lint", "--max-age-days", "nan"], 2, "--max-age-days"),
    ("lint-bytes-zero", ["cassettes", "lint", "--max-bytes", "0"], 2, "--max-bytes must be"),
    ("upload-dev-zero", ["upload", "/dev/zero", "--quiet"], 1, "character device"),
    ("upload-directory", ["upload", "DIR.json", "--quiet"], 1, "is a directory"),
    ("plan-dotdot", ["check", "--mode", "emulator", "--plan", "../../etc/passwd"], 1,
     "unknown plan"),
]


@pytest.mark.parametrize(("argv", "code", "fragment"), [r[1:] for r in CLI_ROWS],
                         ids=[r[0] for r in CLI_ROWS])
def test_hostile_command_line_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
        fragment: str) -> None:
    (tmp_path / "FILE").write_text("not json")
    (tmp_path / "DIR.json").mkdir()
    (tmp_path / "NOIDS").write_text(json.dumps({"tool": "heygen-lab", "cases": [{"x": 1}]}))
    before = sorted(p.name for p in tmp_path.iterdir())
    swap = {"NOPE/sub/r.json": tmp_path / "NOPE" / "sub" / "r.json",
            "FILE/r.json": tmp_path / "FILE" / "r.json"}
    argv = [str(swap.get(a, tmp_path / a if a in {"FILE", "DIR.json", "NOIDS"} else a))
            for a in argv]
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert fragment in _one_line(err)
    assert "PASS" not in out.upper(), "no case may run before the input is checked"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing written"


def test_diagnose_reads_a_30k_deep_body_as_not_heygen(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["diagnose", "[" * 30000 + "]" * 30000]) == 1
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("no rule matches") and out.count("\n") == 1


def test_a_blank_key_does_not_send_the_cli_live(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", "   ")
    assert main(["upload", str(MEDIA / "tiny.jpg"), "--via", "v1"]) == 0
    assert "embedded emulator" in capsys.readouterr().err


def test_a_malformed_base_in_the_environment_is_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", "k")
    monkeypatch.setenv("HEYGEN_API_BASE", "ftp://nowhere")
    assert main(["upload", str(MEDIA / "tiny.jpg"), "--quiet"]) == 1
    assert "api_base must be an http(s) URL" in _one_line(capsys.readouterr().err)


ENTRY = "import sys; from heygen_lab.cli import main; sys.exit(main(sys.argv[1:]))"


def test_output_piped_to_a_closed_reader_ends_quietly(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "check", "--mode", "replay"],
                            cwd=ROOT, env=bare_env(TMPDIR=str(tmp_path)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert err.strip() == "" or err.startswith("no --mode") or "Exception" not in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_serve_stops_and_removes_its_storage_on_a_signal(tmp_path: Path, sig: int) -> None:
    from _support import read_lines

    scratch = tmp_path / "t"
    scratch.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "serve"], cwd=ROOT,
                            env=bare_env(TMPDIR=str(scratch)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        read_lines(proc.stdout, 3)
        assert next(p.name for p in scratch.iterdir()).startswith("heygen-emulator-")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err
    assert list(scratch.iterdir()) == []


# ------------------------------------------------------------------------ the emulator
def _raw(base: str, data: bytes) -> bytes:
    host, port = base.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # answered (431, 413) and closed before reading it all: a race, and the
            pass         # answer is still here to read
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:  # the close of a server that left bytes unread
            pass
    return out


KEY = f"X-Api-Key: {DEMO_KEY}\r\n".encode()
JSON_POST = b"POST /v3/videos HTTP/1.1\r\nHost: x\r\n" + KEY + b"Content-Type: application/json\r\n"
EMULATOR_ROWS = [
    ("content-length-not-a-number", "api", JSON_POST + b"Content-Length: abc\r\n\r\n{}",
     b" 400 "),
    ("content-length-negative", "api", JSON_POST + b"Content-Length: -5\r\n\r\n{}", b" 400 "),
    ("body-shorter-than-declared", "api", JSON_POST + b"Content-Length: 100\r\n\r\n{}",
     b" 400 "),
    ("json-nested-30k-deep", "api",
     JSON_POST + b"Content-Length: 60000\r\n\r\n" + b"[" * 30000 + b"]" * 30000, b" 400 "),
    ("json-not-utf8", "api", JSON_POST + b"Content-Length: 4\r\n\r\n{\xff\xfe}", b" 400 "),
    ("header-of-200-kb", "api",
     b"GET /v3/users/me HTTP/1.1\r\nHost: x\r\n" + KEY + b"X-Big: " + b"a" * 200_000
     + b"\r\n\r\n", b" 431 "),
    ("500-headers", "api", b"GET /v3/users/me HTTP/1.1\r\nHost: x\r\n" + KEY
     + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n", b" 431 "),
    ("upload-of-10-to-the-20-bytes", "upload",
     b"POST /v1/asset HTTP/1.1\r\nHost: x\r\n" + KEY + b"Content-Type: image/jpeg\r\n"
     b"Content-Length: 99999999999999999999\r\n\r\n\xff\xd8\xff", b" 413 "),
    ("not-http-at-all", "api", b"\x16\x03\x01\x00\xa5garbage\r\n\r\n", b"400"),
]


@pytest.mark.parametrize(("host", "request_bytes", "status"), [r[1:] for r in EMULATOR_ROWS],
                         ids=[r[0] for r in EMULATOR_ROWS])
def test_hostile_http_gets_a_client_error_and_the_emulator_lives_on(
        host: str, request_bytes: bytes, status: bytes) -> None:
    import requests

    with Emulator() as emu:
        answer = _raw(emu.api_base if host == "api" else emu.upload_base, request_bytes)
        assert status in answer.split(b"\r\n", 1)[0] or status in answer[:400]
        ok = requests.get(f"{emu.api_base}/v3/users/me", headers={"X-Api-Key": DEMO_KEY},
                          timeout=30)
        assert ok.status_code == 200
        emu.check()  # no handler raised


def test_the_table_has_at_least_sixty_hostile_inputs() -> None:
    rows = (YAML_ROWS, CONTRACT_ROWS, PLAN_ROWS, FAULT_ROWS, SETTINGS_ROWS, MEDIA_ROWS,
            CLI_ROWS, EMULATOR_ROWS)
    assert sum(len(r) for r in rows) >= 60


def test_errors_are_heygen_errors() -> None:
    assert issubclass(YAMLInputError, HeyGenError) and issubclass(ContractError, HeyGenError)


def test_a_contract_whose_generate_source_is_missing_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "big.yaml").write_text(
        "contract: big\nroute: v3-upload\ncases:\n  large:\n    summary: a large file\n"
        "    send: {encoding: multipart, generate: {from: media/gone.jpg, size: 2000}}\n"
        "    expect: {status: 413}\n"
        "    provenance: {kind: emulator, confidence: once, source: test}\n")
    code = main(["check", "--mode", "emulator", "--contracts", str(contracts)])
    out, err = capsys.readouterr()
    assert code != 0 or "media/gone.jpg" in out
    assert "Traceback" not in err + out and "media/gone.jpg" in err + out
