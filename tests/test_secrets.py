"""The API key never leaks: not in an error, a repr, a log line, or anything the CLI prints.

A distinctive key is configured and every error path is provoked over real HTTP against the
emulator; the key is then searched for raw, URL-encoded and base64-encoded (and by its random
tail alone) in everything a user or a log collector could see.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from _support import bare_env, read_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from heygen_lab.cli import main
from heygen_lab.client import HeyGenClient
from heygen_lab.emulator import Emulator
from heygen_lab.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    HeyGenError,
    MediaError,
    RequestTimeout,
    ResponseLost,
)
from heygen_lab.retry import RetryPolicy
from heygen_lab.settings import Secret, Settings

ROOT = Path(__file__).resolve().parent.parent
TAIL = "3f9a0c2e7b14d58a96e0f1b2c3d4e5a7"
KEY = "sk-test-" + TAIL
NO_WAIT = RetryPolicy(max_retries=1, base_delay=0, max_delay=0)
VIDEO = {"video_inputs": [{
    "character": {"type": "avatar", "avatar_id": "emu_avatar_anna"},
    "voice": {"type": "text", "voice_id": "emu_voice_en_f", "input_text": "Hi"}}]}


def forms(key: str) -> set[str]:
    """Every spelling of the key worth searching for."""
    raw = key.encode()
    found = {key, quote(key, safe=""), quote_plus(key), base64.b64encode(raw).decode(),
             base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")}
    if key == KEY:
        found.add(TAIL)
    return found


def assert_clean(*texts: object, key: str = KEY) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else repr(text)
        for form in forms(key):
            assert form not in shown, f"the key ({form!r}) leaked into: {shown[:300]!r}"


def assert_error_clean(err: BaseException, key: str = KEY) -> None:
    """The message, repr, args, formatted traceback, and (for API errors) what it carries."""
    parts: list[object] = [str(err), repr(err), err.args,
                           "".join(traceback.format_exception(err))]
    if isinstance(err, APIError):
        parts += [err.record, json.dumps(err.record.raw, default=str), err.diagnosis]
    assert_clean(*parts, key=key)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every test runs with every logger (urllib3's too) at DEBUG, then checks the records."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "heygen_lab", "werkzeug"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    assert_clean(caplog.text, *(r.getMessage() for r in caplog.records))
    assert_clean(*(str(r.args) for r in caplog.records))


@pytest.fixture
def emulator_rejecting() -> Iterator[Emulator]:
    """An emulator that does not know KEY (it only accepts its demo key)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator_accepting() -> Iterator[Emulator]:
    """An emulator for which KEY is valid."""
    with Emulator(keys=[KEY]) as emu:
        yield emu


def client_for(emu: Emulator, **kwargs: Any) -> HeyGenClient:
    return HeyGenClient(KEY, api_base=emu.api_base, upload_base=emu.upload_base,
                        retry_policy=NO_WAIT, sleep=lambda _s: None, **kwargs)


# ---------------------------------------------------------------- the client's errors
AUTH_CALLS: dict[str, Callable[[HeyGenClient, Path], object]] = {
    "v1 upload": lambda c, f: c.upload_asset(f, via="v1"),
    "v1 list": lambda c, f: c.legacy_list_assets(),
    "v1 status": lambda c, f: c.legacy_video_status("x"),
    "v2 generate": lambda c, f: c.legacy_generate_video(VIDEO),
    "v2 quota": lambda c, f: c.legacy_remaining_quota(),
    "v3 upload": lambda c, f: c.upload_asset(f, via="v3"),
    "v3 direct": lambda c, f: c.upload_asset(f, via="direct"),
    "v3 me": lambda c, f: c.me(),
    "talking photo": lambda c, f: c.upload_talking_photo(f),
}


@pytest.mark.parametrize("call", list(AUTH_CALLS))
def test_authentication_failures(emulator_rejecting: Emulator, jpeg: Path, call: str) -> None:
    with client_for(emulator_rejecting) as client:
        with pytest.raises(AuthenticationError) as info:
            AUTH_CALLS[call](client, jpeg)
        assert_clean(repr(client), str(client), repr(client.settings), vars(client))
    assert_error_clean(info.value)


@pytest.mark.parametrize("via", ["v1-multipart-file", "v1-multipart-type-asset"])
def test_wrong_encoding_40001(emulator_accepting: Emulator, jpeg: Path, via: str) -> None:
    with client_for(emulator_accepting) as client, pytest.raises(BadRequestError) as info:
        client.upload_asset(jpeg, via=via)
    assert info.value.code == 40001
    assert_error_clean(info.value)


def test_an_accepted_key_works_and_leaves_no_trace(emulator_accepting: Emulator, jpeg: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with client_for(emulator_accepting) as client:
        for via in ("v1", "v3", "direct"):
            asset = client.upload_asset(jpeg, via=via)
            assert_clean(asset, asset.raw)
        assert_clean(client.me(), client.list_assets(), client.legacy_list_avatars())
    # The log net is cast wide: urllib3's connection and request lines are captured (and
    # checked for the key when the test ends).
    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG
               for r in caplog.records)


def test_server_errors_and_rate_limits(jpeg: Path) -> None:
    faults = "error:status=500,route=/v2/video/generate;rate_limit:route=/v3/assets,retry_after=1"
    with Emulator(keys=[KEY], faults=faults) as emu, client_for(emu) as client:
        for call in (lambda: client.legacy_generate_video(VIDEO),
                     lambda: client.upload_asset(jpeg, via="v3")):
            with pytest.raises(APIError) as info:
                call()
            assert_error_clean(info.value)


def test_timeouts(jpeg: Path) -> None:
    faults = "latency:route=/v2/video/generate,seconds=0.8,times=1;latency:route=/v1/asset," \
             "seconds=0.8,times=1"
    with Emulator(keys=[KEY], faults=faults) as emu, client_for(emu, timeout=0.15) as client:
        for call in (lambda: client.legacy_generate_video(VIDEO),
                     lambda: client.upload_asset(jpeg, via="v1")):
            with pytest.raises(RequestTimeout) as info:
                call()
            assert "may have been" in str(info.value)
            assert_error_clean(info.value)


def test_dropped_connections(jpeg: Path) -> None:
    with Emulator(keys=[KEY], faults="drop:route=/v1/asset") as emu, client_for(emu) as client, \
            pytest.raises(ResponseLost) as info:
        client.upload_asset(jpeg, via="v1")
    assert_error_clean(info.value)


def closed_port_base() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_connect_error_to_a_closed_port(jpeg: Path) -> None:
    base = closed_port_base()
    with HeyGenClient(KEY, api_base=base, upload_base=base, retry_policy=NO_WAIT,
                      sleep=lambda _s: None) as client:
        for call in (client.me, lambda: client.upload_asset(jpeg, via="v1"),
                     lambda: client.upload_asset(jpeg, via="v3")):
            with pytest.raises(ConnectError) as info:
                call()
            assert_error_clean(info.value)
        assert_clean(repr(client))


def test_media_errors(emulator_accepting: Emulator, tmp_path: Path, media_dir: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    big = tmp_path / "big.jpg"
    with big.open("wb") as fh:
        fh.write((media_dir / "tiny.jpg").read_bytes())
        fh.truncate(33 * 1024 * 1024)
    with client_for(emulator_accepting) as client:
        cases: list[Callable[[], object]] = [
            lambda: client.upload_asset(tmp_path / "missing.jpg"),
            lambda: client.upload_asset(tmp_path),
            lambda: client.upload_asset(tmp_path / "empty.jpg"),
            lambda: client.upload_asset(media_dir / "tiny.gif"),
            lambda: client.upload_asset(media_dir / "tiny.png", content_type="image/jpeg"),
            lambda: client.upload_asset(big, via="v3"),
            lambda: client.upload_asset(media_dir / "tiny.pdf", via="v1"),
            lambda: client.upload_image(media_dir / "tiny.mp3"),
            lambda: client.upload_talking_photo(media_dir / "tiny.wav"),
            lambda: client.upload_asset(io.StringIO("text")),  # type: ignore[arg-type]
            lambda: client.upload_asset(12345),  # type: ignore[arg-type]
        ]
        for case in cases:
            with pytest.raises(MediaError) as info:
                case()
            assert_error_clean(info.value)


# ---------------------------------------------------------------- configuration errors
def test_surrounding_whitespace_is_trimmed_not_sent() -> None:
    for padded in (KEY + "\n", f"  {KEY}\r\n", f"\t{KEY}"):
        resolved = Settings.resolve(padded)
        assert resolved.api_key is not None and resolved.api_key.reveal() == KEY


@pytest.mark.parametrize("bad_key", [KEY[:12] + "\n" + KEY[12:], KEY + " extra",
                                     KEY[:10] + "\t" + KEY[10:], KEY + "\x00", KEY + "é",
                                     KEY + "\r\nX-Evil: 1"])
def test_malformed_keys_are_refused_without_echoing_them(bad_key: str) -> None:
    for make in (lambda: HeyGenClient(bad_key),
                 lambda: HeyGenClient(env={"HEYGEN_API_KEY": bad_key}),
                 lambda: Settings.resolve(bad_key)):
        with pytest.raises(ConfigurationError) as info:
            make()
        assert "HEYGEN_API_KEY" in str(info.value)
        assert_error_clean(info.value, key=bad_key)
        assert_error_clean(info.value, key=bad_key.strip())


def test_other_configuration_errors(jpeg: Path) -> None:
    cases: list[Callable[[], object]] = [
        lambda: HeyGenClient(KEY, api_base="ftp://api.heygen.com"),
        lambda: HeyGenClient(KEY, upload_base="https://user:pw@upload.heygen.com"),
        lambda: HeyGenClient(KEY, timeout=0),
        lambda: HeyGenClient(KEY, max_retries=-1),
        lambda: HeyGenClient(KEY).upload_asset(jpeg, via="v9"),
        lambda: HeyGenClient(KEY).wait_for_video("x", via="v9"),
    ]
    for case in cases:
        with pytest.raises(ConfigurationError) as info:
            case()
        assert_error_clean(info.value)


def test_a_key_pasted_as_a_base_url_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as info:
        HeyGenClient(env={"HEYGEN_API_KEY": KEY, "HEYGEN_API_BASE": KEY})
    assert_error_clean(info.value)


# ---------------------------------------------------------------- the CLI
@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """HEYGEN_API_KEY=KEY and the 'live' bases pointing at an emulator that refuses it."""
    with Emulator() as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", KEY)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        yield emu


@pytest.mark.parametrize("argv", [["whoami"], ["upload", "FILE", "--quiet"],
                                  ["upload", "FILE", "--via", "v1"],
                                  ["upload", "FILE", "--via", "direct", "--target", "live"],
                                  ["upload", "MISSING"]])
def test_cli_output_on_failure(live_env: Emulator, capsys: pytest.CaptureFixture[str],
                               jpeg: Path, tmp_path: Path, argv: list[str]) -> None:
    argv = [str(jpeg) if a == "FILE" else str(tmp_path / "x.jpg") if a == "MISSING" else a
            for a in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("heygen-lab: error:")
    assert_clean(out, err)


def test_cli_with_a_malformed_key(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY[:20] + "\n" + KEY[20:])
    monkeypatch.setenv("HEYGEN_API_BASE", closed_port_base())  # never the real host
    monkeypatch.setenv("HEYGEN_UPLOAD_BASE", closed_port_base())
    code = main(["whoami"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("heygen-lab: error:") and len(err.splitlines()) == 1
    assert_clean(out, err)


def test_cli_against_an_emulator_that_accepts_the_key(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      jpeg: Path) -> None:
    with Emulator(keys=[KEY]) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", KEY)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        assert main(["whoami"]) == 0
        assert main(["upload", str(jpeg)]) == 0
        assert main(["upload", str(jpeg), "--via", "v1-multipart-file"]) == 1
    out, err = capsys.readouterr()
    # Where the requests went, as configured: the emulator's host:port, not "HeyGen".
    assert f"API at {emu.api_base.removeprefix('http://')} (HEYGEN_API_BASE)" in out
    assert "live HeyGen API" not in out
    assert_clean(out, err)


def test_serve_with_a_custom_key_does_not_print_it() -> None:
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from heygen_lab.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--key", KEY], cwd=ROOT,
                            env=bare_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = read_lines(proc.stdout, 2) + read_lines(proc.stderr, 1)
        assert first[0].startswith("HEYGEN_API_BASE=")
        assert "Ctrl-C" in first[2]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "HEYGEN_API_KEY" not in "".join(first) + out
    assert_clean("".join(first), out, err)


# ---------------------------------------------------------------- any key at all
KEYS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
               max_size=80)


@settings(max_examples=200, deadline=None)
@given(key=KEYS)
def test_no_key_shows_through_repr_or_str(key: str) -> None:
    baseline_client = HeyGenClient("placeholder-key")
    client = HeyGenClient(key)
    try:
        assert repr(client) == repr(baseline_client)
        assert str(client) == str(baseline_client)
    finally:
        client.close()
        baseline_client.close()
    resolved = Settings.resolve(key)
    assert resolved.api_key is not None and resolved.api_key.reveal() == key
    assert repr(resolved) == repr(Settings.resolve("placeholder-key"))
    assert str(resolved) == str(Settings.resolve("placeholder-key"))
    secret = Secret(key)
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
    assert repr([secret, {"k": secret}]) == "[Secret('***'), {'k': Secret('***')}]"


@settings(max_examples=100, deadline=None)
@given(key=st.text(min_size=1, max_size=60).filter(
    lambda k: k.strip() and any(c.isspace() or not c.isprintable() or not c.isascii()
                                for c in k.strip())))
def test_no_malformed_key_is_echoed(key: str) -> None:
    assert refusal(key) == refusal("a b"), "the message does not depend on the key"


def refusal(key: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve(key)
    assert isinstance(info.value, HeyGenError)
    return str(info.value)
