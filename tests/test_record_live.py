"""``heygen-lab record --target live``, end to end, against a stand-in reached under HeyGen's
real host names over TLS.

Inside each test only: ``api.heygen.com`` and ``upload.heygen.com`` resolve to 127.0.0.1 (to
the stand-in's ports; every other name resolves as usual), the emulator's two WSGI apps are
served over HTTPS with a certificate for both names from a throwaway CA (``trustme``), and
``REQUESTS_CA_BUNDLE`` points requests at that CA. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from _support import serving

from heygen_lab.cli import main
from heygen_lab.contracts import run_check
from heygen_lab.emulator import Emulator
from heygen_lab.settings import Settings

KEY = "live-record-test-key-3b9d1f0a7c"
HOSTS = {"api.heygen.com": "api", "upload.heygen.com": "upload"}
CASES = ("account/me", "upload-v1/multipart-file", "upload-v3/missing-part")


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*HOSTS).configure_cert(context)
    bundle = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with Emulator(keys=[KEY]) as emu, contextlib.ExitStack() as stack:
        ports: dict[str, int] = {}
        for host, kind in HOSTS.items():
            server = stack.enter_context(serving(emu.service.wsgi(kind), ssl_context=context))
            ports[host] = server.server_port
        # What the stand-in hands out (signed upload URLs, file URLs) names HeyGen's hosts.
        emu.service.api_base = "https://api.heygen.com"
        emu.service.upload_base = "https://upload.heygen.com"
        real = socket.getaddrinfo

        def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host in ports:  # HeyGen's two names, and only those, are the stand-in
                return real("127.0.0.1", ports[host], *args, **kwargs)
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        monkeypatch.setenv("HEYGEN_API_KEY", KEY)
        monkeypatch.delenv("HEYGEN_API_BASE", raising=False)
        monkeypatch.delenv("HEYGEN_UPLOAD_BASE", raising=False)
        yield emu


def _only(*cases: str) -> list[str]:
    return [arg for case in cases for arg in ("--only", case)]


def test_record_live_labels_each_cassette_with_host_and_date(
        stand_in: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "cassettes"
    code = main(["record", "--target", "live", "--cassettes", str(out_dir), *_only(*CASES)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert f"recorded {len(CASES)} cassette(s)" in out
    today = datetime.now(UTC).date().isoformat()
    for case, host in zip(CASES, ("api.heygen.com", "upload.heygen.com", "api.heygen.com"),
                          strict=True):
        path = out_dir / f"{case}.yaml"
        text = path.read_text(encoding="utf-8")
        assert KEY not in text, "the secret gate let the key through"
        data = yaml.safe_load(text)
        prov = data["metadata"]["provenance"]
        assert prov["kind"] == "live" and prov["host"] == host and prov["date"] == today
        assert data["interactions"], case
        for item in data["interactions"]:
            assert item["request"]["uri"].startswith(f"https://{host}/")
    assert KEY not in out + err
    assert not list(tmp_path.rglob("*.tmp")), "no half-written file left"


def test_record_live_refuses_a_loopback_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "cassettes"
    with Emulator(keys=[KEY]) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", KEY)
        monkeypatch.setenv("HEYGEN_API_BASE", emu.api_base)
        monkeypatch.setenv("HEYGEN_UPLOAD_BASE", emu.upload_base)
        code = main(["record", "--target", "live", "--cassettes", str(out_dir),
                     *_only("account/me")])
        _, err = capsys.readouterr()
        assert code != 0
        assert "is a server on this machine" in err and "--target emulator" in err
        assert KEY not in err
        # Below the CLI, the recorder refuses too: nothing is labelled live.
        report = run_check(record="live", cassette_dir=out_dir, only=["account/me"],
                           settings=Settings.resolve(KEY, api_base=emu.api_base,
                                                     upload_base=emu.upload_base, env={}))
        assert "local server" in report.results[0].explain()
    assert not out_dir.exists() or not list(out_dir.rglob("*.yaml"))


def test_record_exits_non_zero_when_nothing_was_recorded(
        stand_in: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "cassettes"
    # A case that cannot run live (it needs the emulator's trial cap): skipped, nothing written.
    code = main(["record", "--target", "live", "--cassettes", str(out_dir),
                 *_only("account/trial-daily-cap")])
    out, err = capsys.readouterr()
    assert code != 0
    assert "recorded 0 cassette(s)" in out and "nothing was recorded" in err
