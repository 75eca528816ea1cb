"""The ``heygen-lab`` command line: in-process through ``main()``, and as a child process.

Without ``HEYGEN_API_KEY`` every command that needs a server runs against an embedded emulator
on loopback, so nothing here needs a network or a key.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _support import bare_env, one_error_line, read_lines
from _support import run_cli as run

from heygen_lab.cli import main
from heygen_lab.emulator import DEMO_KEY

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from heygen_lab.cli import main; sys.exit(main(sys.argv[1:]))")
PREFIX = "heygen-lab: error:"


@pytest.fixture(autouse=True)
def no_live_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEYGEN_API_KEY", "HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE"):
        monkeypatch.delenv(name, raising=False)
    # Before the v1/v2 end of life, whatever the clock says: the sunset warning has its own
    # tests (test_legacy_sunset.py), these are about the commands.
    from datetime import date

    from heygen_lab import routes

    monkeypatch.setattr(routes, "today", lambda: date(2026, 9, 1))





# ---------------------------------------------------------------- upload
@pytest.mark.parametrize("via", ["auto", "v3", "direct", "v1"])
@pytest.mark.parametrize("name", ["tiny.jpg", "tiny.mp3"])
def test_upload_prints_the_asset_as_json(capsys: pytest.CaptureFixture[str], media_dir: Path,
                                         via: str, name: str) -> None:
    code, out, err = run(capsys, "upload", str(media_dir / name), "--via", via, "--quiet")
    assert code == 0, err
    assert err == "", "--quiet prints nothing but the result"
    asset = json.loads(out)
    assert asset["id"]
    assert asset["via"] == ("v3" if via == "auto" else via)
    assert asset["size"] == (media_dir / name).stat().st_size
    assert asset["mime_type"] == ("image/jpeg" if name == "tiny.jpg" else "audio/mpeg")
    assert (asset["image_key"] is not None) == (via == "v1" and name == "tiny.jpg")


def test_upload_with_progress_says_where_it_goes(capsys: pytest.CaptureFixture[str],
                                                 jpeg: Path) -> None:
    code, out, err = run(capsys, "upload", str(jpeg))
    assert code == 0
    assert json.loads(out)["id"]
    assert "uploading" in err and "embedded emulator" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("via", ["v1-multipart-file", "v1-multipart-type-asset"])
def test_upload_probes_fail_with_the_diagnosis_on_one_line(capsys: pytest.CaptureFixture[str],
                                                           jpeg: Path, via: str) -> None:
    code, out, err = run(capsys, "upload", str(jpeg), "--via", via, "--quiet")
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert "40001" in line and "asset data must be provided" in line
    assert "NOT a plan or permission problem" in line
    assert "raw file bytes" in line


def test_upload_of_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    code, out, err = run(capsys, "upload", str(missing))
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert str(missing) in line and "no such file" in line


@pytest.mark.parametrize("case", ["directory", "empty", "gif", "contradicting type"])
def test_upload_preflight_failures_are_one_line(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, media_dir: Path,
                                                case: str) -> None:
    args: list[str]
    if case == "directory":
        args = [str(tmp_path)]
    elif case == "empty":
        (tmp_path / "empty.png").write_bytes(b"")
        args = [str(tmp_path / "empty.png")]
    elif case == "gif":
        (tmp_path / "photo.jpg").write_bytes((media_dir / "tiny.gif").read_bytes())
        args = [str(tmp_path / "photo.jpg")]
    else:
        args = [str(media_dir / "tiny.png"), "--content-type", "image/jpeg"]
    code, out, err = run(capsys, "upload", *args)
    assert code == 1 and out == ""
    one_error_line(err)


def test_upload_over_the_v3_limit_names_the_fix(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, jpeg: Path) -> None:
    big = tmp_path / "big.jpg"
    with big.open("wb") as fh:
        fh.write(jpeg.read_bytes())
        fh.truncate(33 * 1024 * 1024)
    code, _, err = run(capsys, "upload", str(big), "--via", "v3", "--quiet")
    assert code == 1
    assert "via='direct'" in one_error_line(err)


def test_upload_with_an_unknown_plan_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                      jpeg: Path) -> None:
    code, _, err = run(capsys, "upload", str(jpeg), "--plan", "platinum", "--quiet")
    assert code == 2
    assert "unknown plan 'platinum'" in one_error_line(err)


def test_upload_trial_plan_cannot_use_direct(capsys: pytest.CaptureFixture[str],
                                             jpeg: Path) -> None:
    code, _, err = run(capsys, "upload", str(jpeg), "--via", "direct", "--plan", "trial",
                       "--quiet")
    assert code == 1
    assert "HTTP 403" in one_error_line(err)


@pytest.mark.parametrize("argv", [["whoami", "--target", "live"],
                                  ["upload", "FILE", "--target", "live", "--quiet"]])
def test_live_target_without_a_key_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                    jpeg: Path, argv: list[str]) -> None:
    argv = [str(jpeg) if a == "FILE" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "HEYGEN_API_KEY" in one_error_line(err)


def test_bad_usage_exits_2_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["upload", "x.jpg", "--via", "carrier-pigeon"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "Traceback" not in err


# ---------------------------------------------------------------- diagnose
PAYLOAD_40001 = '{"code":40001,"message":"asset data must be provided"}'


def test_diagnose_names_the_wrong_encoding_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diagnose", PAYLOAD_40001, "--endpoint", "v1-upload")
    assert code == 0 and err == ""
    assert out.startswith("wrong-encoding:")
    assert "NOT a plan or permission problem" in out
    assert "raw file bytes" in out and "MIME type" in out
    assert "Fix:" in out


def test_diagnose_reads_the_payload_from_stdin(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PAYLOAD_40001 + "\n"))
    code, out, _ = run(capsys, "diagnose", "--endpoint", "v1-upload")
    assert code == 0
    assert out.startswith("wrong-encoding:")


def test_diagnose_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diagnose", PAYLOAD_40001, "--endpoint", "v1-upload", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["id"] == "wrong-encoding" and result["retryable"] is False
    assert any("40001" in line for line in result["evidence"])


@pytest.mark.parametrize("payload", [PAYLOAD_40001,
                                     '{"message":"asset data must be provided"}'])
def test_diagnose_without_an_endpoint_still_recognises_the_message(
        capsys: pytest.CaptureFixture[str], payload: str) -> None:
    code, out, _ = run(capsys, "diagnose", payload)
    assert code == 0 and out.startswith("wrong-encoding:")


def test_diagnose_with_no_matching_rule_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diagnose", '{"code":123456,"message":"something new"}')
    assert code == 1
    assert out.startswith("no rule matches code 123456 something new")


@pytest.mark.parametrize(("text", "expected"), [
    ("not json", "not-heygen:"),                       # plain text: what answered is not HeyGen
    ("<html><title>502</title></html>", "not-heygen:"),
    ('{"code": 40001', "no rule matches"),              # truncated JSON: read, not refused
])
def test_diagnose_takes_any_body_as_it_came(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, text: str,
                                            expected: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, out, err = run(capsys, "diagnose")
    assert err == "" and out.startswith(expected)
    assert code == (1 if expected == "no rule matches" else 0)


def test_diagnose_wrong_host(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diagnose", "--url", "https://api.heygen.com/v1/asset",
                       "--status", "404", '{"code":404,"message":"Not Found"}')
    assert code == 0
    assert out.startswith("wrong-host:")
    assert "https://upload.heygen.com" in out


@pytest.mark.parametrize("payload, status, rule", [
    ('{"code":400112,"message":"Unauthorized"}', "401", "invalid-key"),
    ('{"error":{"code":"internal_error","message":"Unauthorized"},"data":null}', "401",
     "invalid-key"),
    ('{"data":null,"error":{"code":"trial_video_limit_exceeded","message":"limit 5."}}', "429",
     "trial-cap"),
    ('{"error":{"code":"rate_limit_exceeded","message":"slow down"}}', "429", "rate-limited"),
    ('{"error":{"code":"insufficient_credit","message":"no credit"}}', "402",
     "insufficient-credit"),
    ('{"error":{"code":"avatar_not_found","message":"nope"},"data":null}', "404",
     "avatar-not-found"),
])
def test_diagnose_other_rules(capsys: pytest.CaptureFixture[str], payload: str, status: str,
                              rule: str) -> None:
    code, out, _ = run(capsys, "diagnose", payload, "--status", status)
    assert code == 0
    assert out.startswith(f"{rule}:")


@pytest.mark.parametrize("payload", ['{"code":100,"data":{"id":"x"},"msg":null}',
                                     '{"error":null,"data":{"video_id":"v"}}',
                                     '{"data":{"asset_id":"a"}}'], ids=["v1", "v2", "v3"])
def test_diagnose_a_success_is_not_an_error(capsys: pytest.CaptureFixture[str],
                                            payload: str) -> None:
    code, out, err = run(capsys, "diagnose", payload)
    assert code == 1 and out == ""
    assert "not an error envelope" in one_error_line(err)


# ---------------------------------------------------------------- whoami
def test_whoami_against_the_embedded_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "whoami")
    assert code == 0, err
    info = json.loads(out)
    assert info["target"].startswith("embedded emulator")
    assert info["username"] and info["email"]
    assert info["billing_type"] in {"wallet", "subscription", "usage_based"}
    assert isinstance(info[info["billing_type"]], dict), "the v3 user's one billing block"


def test_whoami_on_a_trial_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "whoami", "--plan", "trial")
    assert code == 0
    info = json.loads(out)
    assert info["billing_type"] == "subscription"
    assert info["subscription"]["plan"] in {"trial", "free"}, "the trial plan's billing block"


# ---------------------------------------------------------------- as a process
def test_a_failing_upload_as_a_process(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    proc = subprocess.run([sys.executable, "-c", ENTRY, "upload", str(missing)], cwd=ROOT,
                          env=bare_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == ""
    one_error_line(proc.stderr)


def test_a_successful_upload_as_a_process(jpeg: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", ENTRY, "upload", str(jpeg), "--quiet"],
                          cwd=ROOT, env=bare_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"]


@pytest.fixture
def serving() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "serve", "--api-port", "0"], cwd=ROOT,
                            env=bare_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        lines = [line.strip() for line in read_lines(proc.stdout, 3)]
        yield proc, dict(line.split("=", 1) for line in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_prints_its_settings_and_stops_cleanly_on_ctrl_c(
        serving: tuple[subprocess.Popen[str], dict[str, str]], jpeg: Path) -> None:
    proc, settings = serving
    assert set(settings) == {"HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE", "HEYGEN_API_KEY"}
    assert settings["HEYGEN_API_KEY"] == DEMO_KEY
    data = jpeg.read_bytes()
    resp = requests.post(f"{settings['HEYGEN_UPLOAD_BASE']}/v1/asset", data=data, timeout=30,
                         headers={"X-Api-Key": settings["HEYGEN_API_KEY"],
                                  "Content-Type": "image/jpeg"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 100 and body["data"]["id"]
    assert requests.get(body["data"]["url"], timeout=30).content == data
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_serve_with_a_bad_fault_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "serve", "--fault", "meteor:rate=1")
    assert code == 2 and out == ""
    assert "unknown kind 'meteor'" in one_error_line(err)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["check", "--plan", "gold"], 1, "unknown plan 'gold'; valid plans: payg, pro, trial"),
        (["check", "--contracts", "/nonexistent"], 1, "no such contract directory"),
        (["cassettes", "lint", "--cassettes", "/nonexistent"], 2, "no such cassette directory"),
        (["record", "--only", "nope"], 1, "no case matches ['nope']"),
        (["serve", "--fault", "bogus"], 2, "bad fault 'bogus'"),
        (["diagnose"], 2, "no PAYLOAD"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(argv) == code
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("no --mode given")]
    assert len(err) == 1 and err[0].startswith("heygen-lab: error: ") and message in err[0]


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "heygen_lab", "diagnose",
         '{"code":40001,"message":"asset data must be provided"}', "--endpoint", "v1-upload"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrong-encoding: ")
