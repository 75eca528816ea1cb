"""heygen_lab.emulate(): users' own code, unmodified, answered in process by the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import urllib3
import urllib3.connectionpool
from _support import serving
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request, Response

import heygen_lab
from heygen_lab.client import HeyGenClient
from heygen_lab.emulation import MISTAKES, EmulatedRequest, active, emulate, route_of
from heygen_lab.errors import ContractViolation, HeyGenError

pytest_plugins = ["pytester"]

KEY = "sk-user-own-key-0123456789"
UPLOAD_V1 = "https://upload.heygen.com/v1/asset"
ASSETS_V3 = "https://api.heygen.com/v3/assets"


# ---------------------------------------------------------------- user code, written two ways
def seed_upload(path: Path) -> dict[str, Any]:
    """The seed's client: multipart ``type`` + ``asset`` to the legacy endpoint (wrong)."""
    with path.open("rb") as fh:
        response = requests.post(UPLOAD_V1, headers={"X-Api-Key": KEY},
                                 files={"asset": (path.name, fh, "image/jpeg")},
                                 data={"type": "image"}, timeout=10)
    return dict(response.json())


def right_upload_v1(path: Path) -> dict[str, Any]:
    """The legacy endpoint the right way: the raw bytes, the file's MIME type."""
    response = requests.post(UPLOAD_V1, data=path.read_bytes(), timeout=10,
                             headers={"X-Api-Key": KEY, "Content-Type": "image/jpeg"})
    return dict(response.json())


def right_upload_v3(path: Path) -> dict[str, Any]:
    """The current endpoint: multipart with one part named ``file``."""
    with path.open("rb") as fh:
        response = requests.post(ASSETS_V3, headers={"X-Api-Key": KEY},
                                 files={"file": (path.name, fh, "image/jpeg")}, timeout=10)
    return dict(response.json())


# ---------------------------------------------------------------- the seed's story
def test_seed_client_gets_40001_and_the_right_ones_an_asset(jpeg: Path) -> None:
    with emulate() as emu:
        assert seed_upload(jpeg) == {"code": 40001, "message": "asset data must be provided"}
        v1 = right_upload_v1(jpeg)
        v3 = right_upload_v3(jpeg)
    assert v1["code"] == 100 and v1["data"]["id"]
    assert v3["data"]["mime_type"] == "image/jpeg"
    first = emu.requests[0]
    assert first.diagnosis is not None and first.diagnosis.id == "wrong-encoding"
    assert [p["name"] for p in first.body["parts"]] == ["type", "asset"]
    assert not first.raised
    assert [r.status for r in emu.requests] == [400, 200, 200]
    assert [r.diagnosis for r in emu.requests[1:]] == [None, None]


def test_strict_raises_at_the_call_site_with_the_diagnosis(jpeg: Path) -> None:
    with emulate(strict=True) as emu:
        with pytest.raises(ContractViolation) as caught:
            seed_upload(jpeg)
        assert right_upload_v3(jpeg)["data"]["asset_id"]
    err = caught.value
    assert isinstance(err, HeyGenError)
    assert err.diagnosis.id == "wrong-encoding"
    assert "NOT a plan or permission problem" in err.diagnosis.cause
    assert "raw file bytes" in err.diagnosis.remedy
    assert isinstance(err.request, EmulatedRequest) and err.request.raised
    assert emu.requests[0] is err.request
    # raised out of requests.post itself, not from some later check
    assert any(f.name == "seed_upload" for f in caught.traceback)


def test_httpx_client_and_module_functions(jpeg: Path) -> None:
    data = jpeg.read_bytes()
    with emulate() as emu, httpx.Client(headers={"X-Api-Key": KEY}) as client:
        wrong = client.post(UPLOAD_V1, data={"type": "image"},
                            files={"asset": ("a.jpg", data, "image/jpeg")})
        right = client.post(UPLOAD_V1, content=data, headers={"Content-Type": "image/jpeg"})
        v3 = httpx.post(ASSETS_V3, files={"file": ("a.jpg", data)}, headers={"X-Api-Key": KEY})
    assert (wrong.status_code, wrong.json()["code"]) == (400, 40001)
    assert right.json()["code"] == 100
    assert v3.json()["data"]["size_bytes"] == len(data)
    assert emu.requests[0].diagnosis is not None
    assert emu.requests[0].diagnosis.id == "wrong-encoding"


def test_httpx_async_client_lenient_and_strict(jpeg: Path) -> None:
    data = jpeg.read_bytes()

    async def user_code() -> tuple[int, int]:
        async with httpx.AsyncClient(headers={"X-Api-Key": KEY}) as client:
            wrong = await client.post(UPLOAD_V1, files={"asset": ("a.jpg", data)},
                                      data={"type": "image"})
            right = await client.post(ASSETS_V3, files={"file": ("a.jpg", data)})
        return wrong.json()["code"], right.status_code

    with emulate():
        assert asyncio.run(user_code()) == (40001, 200)
    with emulate(strict=True), pytest.raises(ContractViolation) as caught:
        asyncio.run(user_code())
    assert caught.value.diagnosis.id == "wrong-encoding"


def test_urllib3_directly(jpeg: Path) -> None:
    with emulate(strict=True) as emu:
        r = urllib3.request("POST", UPLOAD_V1, body=jpeg.read_bytes(),
                            headers={"X-Api-Key": KEY, "Content-Type": "image/jpeg"})
        pool = urllib3.HTTPSConnectionPool("api.heygen.com")
        me = pool.request("GET", "/v3/users/me", headers={"X-Api-Key": KEY})
    assert r.status == 200 and r.json()["code"] == 100
    assert me.json()["data"]["username"]
    assert [e.url for e in emu.requests] == [UPLOAD_V1, "https://api.heygen.com/v3/users/me"]


# ---------------------------------------------------------------- strict: what counts
def _post(url: str, **kwargs: Any) -> requests.Response:
    headers = {"X-Api-Key": KEY, **kwargs.pop("headers", {})}
    return requests.post(url, headers=headers, timeout=10, **kwargs)


@pytest.mark.parametrize(("mistake", "send"), [
    ("wrong-host", lambda b: _post("https://api.heygen.com/v1/asset", data=b,
                                   headers={"Content-Type": "image/jpeg"})),
    ("missing-file-part", lambda b: _post(ASSETS_V3, files={"asset": ("a.jpg", b)})),
    ("invalid-parameter", lambda b: _post(f"{ASSETS_V3}/direct-uploads",
                                          json={"filename": "a.jpg"})),
    ("unknown-route", lambda b: _post("https://api.heygen.com/v3/asset", data=b)),
    ("invalid-key", lambda b: requests.get("http://api.heygen.com/v3/users/me", timeout=10)),
])
def test_each_known_mistake_raises_and_can_be_allowed(jpeg: Path, mistake: str,
                                                      send: Any) -> None:
    body = jpeg.read_bytes()
    with emulate(strict=True), pytest.raises(ContractViolation) as caught:
        send(body)
    assert caught.value.diagnosis.id == mistake
    assert f"allow={{{mistake!r}}}" in str(caught.value)
    with emulate(strict=True, allow={mistake}) as emu:
        assert send(body).status_code >= 400
    assert emu.requests[-1].diagnosis is not None and not emu.requests[-1].raised


def test_errors_that_are_not_mistakes_come_back_as_heygen_sends_them() -> None:
    with emulate(strict=True, plan="trial") as emu:
        gone = requests.get(f"{ASSETS_V3}/0123456789abcdef01234567",
                            headers={"X-Api-Key": KEY}, timeout=10)
        gated = _post(f"{ASSETS_V3}/direct-uploads", json={
            "filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert gated.status_code == 403
    assert [r.raised for r in emu.requests] == [False, False]


def test_a_wrong_key_is_the_tests_business_no_key_is_a_mistake() -> None:
    with emulate(strict=True, key="the-right-key") as emu:
        wrong = requests.get("https://api.heygen.com/v3/users/me",
                             headers={"X-Api-Key": "not-the-key"}, timeout=10)
        with pytest.raises(ContractViolation):
            requests.get("https://api.heygen.com/v3/users/me", timeout=10)
    assert wrong.status_code == 401
    assert emu.requests[0].diagnosis is not None
    assert emu.requests[0].diagnosis.id == "invalid-key"


def test_allow_must_name_known_mistakes() -> None:
    with pytest.raises(ValueError, match="wrong-hots"):
        emulate(strict=True, allow={"wrong-hots"})
    assert {"wrong-host", "wrong-encoding", "missing-file-part"} <= MISTAKES


# ---------------------------------------------------------------- direct upload, end to end
def test_direct_upload_with_plain_requests(jpeg: Path) -> None:
    data = jpeg.read_bytes()
    auth = {"X-Api-Key": KEY}
    with emulate(strict=True) as emu:
        init = requests.post(f"{ASSETS_V3}/direct-uploads", headers=auth, timeout=10, json={
            "filename": jpeg.name, "content_type": "image/jpeg", "size_bytes": len(data),
            "checksum_sha256": hashlib.sha256(data).hexdigest()}).json()["data"]
        assert init["upload_url"].startswith("https://api.heygen.com/_storage/")
        put = requests.put(init["upload_url"], data=data, headers=init["upload_headers"],
                           timeout=10)
        done = requests.post(f"{ASSETS_V3}/{init['asset_id']}/complete", headers=auth,
                             json={}, timeout=10).json()["data"]
        got = requests.get(done["url"], timeout=10)
        with pytest.raises(ContractViolation) as caught:  # the classic: the key sent along
            requests.put(init["upload_url"], data=data, timeout=10,
                         headers={**init["upload_headers"], **auth})
    assert put.status_code == 200
    assert done["status"] == "ready" and got.content == data
    assert caught.value.diagnosis.id == "storage-signature"
    assert [r.method for r in emu.requests] == ["POST", "PUT", "POST", "GET", "PUT"]


# ---------------------------------------------------------------- other hosts: untouched
@pytest.fixture
def loopback() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that echoes what it got."""
    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        text = f"{request.method} {request.path} {request.get_data(as_text=True)}"
        return Response(text, 201, headers={"X-Served-By": "loopback"})(environ, start_response)

    with serving(app) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def _everywhere(base: str) -> list[tuple[int, str, str | None]]:
    async def with_async() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(f"{base}/v1/asset", content=b"c")

    answers: list[requests.Response | httpx.Response] = [
        requests.post(f"{base}/v1/asset", data=b"a", timeout=10),
        httpx.post(f"{base}/v1/asset", content=b"b"), asyncio.run(with_async())]
    out = [(r.status_code, r.text, r.headers.get("X-Served-By")) for r in answers]
    raw = urllib3.request("POST", f"{base}/v1/asset", body=b"d")
    return [*out, (raw.status, raw.data.decode(), raw.headers.get("X-Served-By"))]


def test_other_hosts_behave_exactly_as_outside(loopback: str) -> None:
    outside = _everywhere(loopback)
    with emulate(strict=True) as emu:
        inside = _everywhere(loopback)
    assert inside == outside
    assert outside[0] == (201, "POST /v1/asset a", "loopback")
    assert emu.requests == []


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
       st.sampled_from(["http", "https"]))
def test_no_other_host_is_routed(host: str, scheme: str) -> None:
    if host in ("api.heygen.com", "upload.heygen.com"):
        return
    assert route_of(f"{scheme}://{host}/v1/asset") is None
    assert route_of(f"{scheme}://{host}.heygen.com.evil/v3/assets") is None
    assert route_of(f"{scheme}://api.heygen.com:8443/v3/assets") is None


@settings(max_examples=40)
@given(st.lists(st.text("abcxyz019_-.~%", min_size=1, max_size=8), min_size=0, max_size=4),
       st.sampled_from(["api", "upload"]), st.sampled_from(["GET", "POST", "DELETE"]))
def test_every_path_on_heygen_hosts_is_answered_in_process(segments: list[str], host: str,
                                                           method: str) -> None:
    url = f"https://{host}.heygen.com/" + "/".join(segments)
    assert route_of(url) == host
    with emulate() as emu:  # no server, no network: only the emulator can answer
        response = requests.request(method, url, headers={"X-Api-Key": KEY}, timeout=10)
    assert response.headers["X-Request-Id"].startswith("emu-req-")
    assert len(emu.requests) == 1


# ---------------------------------------------------------------- lifecycle and safety
def _patched() -> tuple[Any, ...]:
    return (urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"],
            httpx.HTTPTransport.__dict__["handle_request"],
            httpx.AsyncHTTPTransport.__dict__["handle_async_request"])


def test_exit_restores_every_patch_even_when_the_body_raised() -> None:
    before = _patched()
    with pytest.raises(ZeroDivisionError), emulate():
        assert _patched() != before and active() is not None
        _ = 1 / 0
    assert _patched() == before and active() is None


def test_nested_or_concurrent_use_is_refused_cleanly() -> None:
    before = _patched()
    with emulate() as outer:
        with pytest.raises(RuntimeError, match="already active"), emulate():
            pass
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                with emulate():
                    pass
            except RuntimeError as exc:
                errors.append(exc)

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert len(errors) == 1
        assert requests.get("https://api.heygen.com/v3/users/me", timeout=10,
                            headers={"X-Api-Key": KEY}).status_code == 200
        assert active() is outer
    assert _patched() == before


def test_decorator_sync_and_async() -> None:
    emu = emulate(strict=True)

    @emu
    def sync_code() -> int:
        return requests.get("https://api.heygen.com/v3/users/me", headers={"X-Api-Key": KEY},
                            timeout=10).status_code

    @emu
    async def async_code() -> int:
        async with httpx.AsyncClient() as client:
            r = await client.get("https://api.heygen.com/v3/users/me",
                                 headers={"Authorization": f"Bearer {KEY}"})
        return r.status_code

    assert sync_code() == 200
    assert asyncio.run(async_code()) == 200
    assert sync_code.__name__ == "sync_code" and active() is None


def test_the_key_never_shows(jpeg: Path) -> None:
    with emulate(strict=True) as emu:
        requests.get(f"https://api.heygen.com/v3/users/me?api_key={KEY}",
                     headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        with pytest.raises(ContractViolation) as caught:
            requests.post(f"{UPLOAD_V1}?key={KEY}", headers={"X-Api-Key": KEY},
                          files={"asset": ("a.jpg", jpeg.read_bytes())},
                          data={"type": "image", "note": KEY}, timeout=10)
    shown = repr(emu.requests) + str(caught.value) + repr(caught.value.request) + repr(emu)
    assert KEY not in shown
    assert "[redacted]" in shown


def test_emulator_options_pass_through() -> None:
    with emulate(faults="drop:route=/v3/users/me,times=1", plan="payg") as emu:
        with pytest.raises(requests.ConnectionError):
            requests.get("https://api.heygen.com/v3/users/me", headers={"X-Api-Key": KEY},
                         timeout=10)
        me = requests.get("https://api.heygen.com/v3/users/me", headers={"X-Api-Key": KEY},
                          timeout=10).json()["data"]
        assert emu.emulator.plan.name == "payg"
    assert me["billing_type"] == "wallet"


def test_the_toolkits_own_client_works_inside(jpeg: Path) -> None:
    with emulate(strict=True) as emu:
        client = HeyGenClient(api_key=KEY, env={})
        asset = client.upload_asset(jpeg, via="v1")
    assert asset.id and emu.requests[0].url == UPLOAD_V1


# ---------------------------------------------------------------- pytest and IPython forms
def test_fixture_and_marker_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="""
        import pytest, requests
        from heygen_lab import ContractViolation

        def send():
            return requests.post("https://upload.heygen.com/v1/asset", timeout=5,
                                 headers={"X-Api-Key": "k"}, files={"asset": ("a.jpg", b"x")})

        @pytest.mark.heygen_emulate
        def test_marker_is_strict():
            with pytest.raises(ContractViolation):
                send()

        @pytest.mark.heygen_emulate(strict=False, plan="trial")
        def test_marker_options(heygen_emulated):
            assert send().status_code == 400
            assert heygen_emulated.emulator.plan.name == "trial"

        def test_fixture(heygen_emulated):
            with pytest.raises(ContractViolation):
                send()
            assert heygen_emulated.requests[0].diagnosis.id == "wrong-encoding"
    """)
    pytester.makepyfile(test_lenient="""
        import pytest, requests

        @pytest.fixture
        def heygen_emulated_options():
            return {"strict": False}

        def test_overridden(heygen_emulated):
            r = requests.post("https://upload.heygen.com/v1/asset", timeout=5,
                              headers={"X-Api-Key": "k"}, files={"asset": ("a.jpg", b"x")})
            assert r.json()["code"] == 40001
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4)


class _FakeIPython:
    def __init__(self) -> None:
        self.magics: dict[str, Any] = {}

    def register_magic_function(self, func: Any, kind: str, name: str) -> None:
        assert kind == "line"
        self.magics[name] = func


def test_notebook_magic() -> None:
    from IPython.core.error import UsageError

    ip = _FakeIPython()
    heygen_lab.load_ipython_extension(ip)
    magic = ip.magics["heygen_emulate"]
    try:
        emu = magic("--plan trial --lenient")
        r = requests.post(UPLOAD_V1, headers={"X-Api-Key": KEY}, files={"asset": ("a", b"x")},
                          timeout=10)
        assert r.json()["code"] == 40001 and emu.emulator.plan.name == "trial"
        assert magic("status") is emu
        strict = magic("--allow wrong-host")  # on again: restarted with the new options
        assert strict is not emu and strict.strict and strict.allow == {"wrong-host"}
        with pytest.raises(ContractViolation):
            requests.post(UPLOAD_V1, headers={"X-Api-Key": KEY}, timeout=10,
                          files={"asset": ("a", b"x")})
        with pytest.raises(UsageError):
            magic("--plam trial")
        assert magic("off") is None and active() is None
    finally:
        heygen_lab.unload_ipython_extension(ip)
    assert active() is None
