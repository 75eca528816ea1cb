"""Uploads under faults, resuming a direct upload, sharing a client across threads, and path
parameters that cannot address another path.

Deterministic: seeded emulator faults, seeded lost responses, the client's sleep injected (no
backoff is really slept), no timing assertions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from heygen_lab.client import HeyGenClient
from heygen_lab.emulator import DEMO_KEY, Emulator
from heygen_lab.emulator.state import IdemRecord
from heygen_lab.errors import (
    ConfigurationError,
    ConflictError,
    ConnectError,
    NotFoundError,
    ResponseLost,
    ServerError,
)

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "benchmarks" /
                                               "bench_faults.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_faults"] = bench
_spec.loader.exec_module(bench)

N = 30


# -- 1. the guarantees, at N uploads per route ------------------------------------------------
@pytest.fixture(scope="module")
def rows() -> dict[str, Any]:
    return {route: bench.run_route(route, N, seed=11) for route in bench.ROUTES}


@pytest.mark.parametrize("route", ["v3", "direct"])
def test_keyed_uploads_give_exactly_one_asset_each(rows: dict[str, Any], route: str) -> None:
    row = rows[route]
    assert row.retries > 0 and row.lost_responses > 0, "the faults did hit this route"
    assert (row.attempted, row.succeeded) == (N, N), [str(e) for e in row.errors]
    assert row.held == N and row.pending == 0 and row.duplicates == 0
    assert set(row.held_sha256) == row.sent, "each file held once, nothing else"


def test_v1_never_duplicates_and_says_when_an_asset_may_exist(rows: dict[str, Any]) -> None:
    row = rows["v1"]
    assert row.duplicates == 0 and row.pending == 0
    assert row.succeeded < N, "faults cost the unkeyed route uploads: it cannot retry them"
    # A response lost after the server acted left an asset the caller was told may exist.
    assert row.held >= row.succeeded
    assert row.held - row.succeeded <= sum(isinstance(e, ResponseLost) for e in row.errors)
    for err in row.errors:
        text = str(err)
        assert isinstance(err, ResponseLost | ServerError), text
        assert not isinstance(err, ConnectError) and "check the URL" not in text
        assert "asset may have been created" in text
        assert err.idempotency_key is None


def test_the_bench_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--n", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    for word in ("attempted", "succeeded", "held", "pending", "dupes", "retries", "v1", "v3",
                 "direct"):
        assert word in out


# -- 409 request_in_progress: wait and retry on the same key, bounded ---------------------------
def _in_flight(emu: Emulator, key: str, path: str = "/v3/assets") -> tuple[str, ...]:
    scope = (DEMO_KEY, "POST", path, key)
    emu.state.idempotency[scope] = IdemRecord(started_at=emu.state.now())
    return scope


def test_request_in_progress_is_waited_out_on_the_same_key(jpeg: Path) -> None:
    with Emulator() as emu:
        scope = _in_flight(emu, "k-in-flight")
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 3:  # the first request finishes (and failed: nothing cached)
                emu.state.idempotency.pop(scope)

        with emu.client(sleep=sleep, seed=1) as client:
            asset = client.upload_asset(jpeg, via="v3", idempotency_key="k-in-flight")
        assert len(sleeps) == 3 and all(s > 0 for s in sleeps), "backoff between the tries"
        assert [a.asset_id for a in emu.assets()] == [asset.id]


def test_request_in_progress_retries_are_bounded_and_the_error_names_the_key(
        jpeg: Path) -> None:
    with Emulator() as emu:
        _in_flight(emu, "k-stuck")
        sleeps: list[float] = []
        with emu.client(sleep=sleeps.append, upload_retries=4) as client, \
                pytest.raises(ConflictError) as info:
            client.upload_asset(jpeg, via="v3", idempotency_key="k-stuck")
        assert len(sleeps) == 4
        assert info.value.idempotency_key == "k-stuck" and "k-stuck" in str(info.value)
        assert emu.assets() == []


def test_a_key_is_never_reused_for_other_bytes(jpeg: Path, png: Path) -> None:
    with Emulator() as emu, emu.client() as client:
        client.upload_asset(jpeg, via="v3", idempotency_key="k-once")
        assert client.upload_asset(jpeg, via="v3", idempotency_key="k-once").id, "same file: ok"
        with pytest.raises(ConfigurationError, match="other bytes"):
            client.upload_asset(png, via="v3", idempotency_key="k-once")
        with pytest.raises(ConfigurationError, match="Idempotency-Key"):
            client.upload_asset(jpeg, via="v1", idempotency_key="k-v1")
        assert len(emu.assets()) == 1, "the replay gave the first asset back"


# -- resuming an interrupted direct upload ----------------------------------------------------
class Refuse:
    """WSGI middleware answering 503 to requests whose path ends with ``suffix`` while
    ``left`` > 0 (before the app acts)."""

    def __init__(self, app: Any, suffix: str) -> None:
        self.app, self.suffix, self.left = app, suffix, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if self.left > 0 and str(environ.get("PATH_INFO", "")).endswith(self.suffix):
            self.left -= 1
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error":{"code":"internal_error","message":"injected"}}']
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def refusing(suffix: str, **options: Any) -> tuple[Emulator, list[Refuse]]:
    emu = Emulator(**options)
    made: list[Refuse] = []
    make = emu.service.wsgi

    def wrap(kind: Any) -> Any:
        made.append(Refuse(make(kind), suffix))
        return made[-1]

    emu.service.wsgi = wrap  # type: ignore[method-assign]
    return emu, made


def test_an_interrupted_put_is_resumed_with_the_key_as_the_same_asset(jpeg: Path) -> None:
    with Emulator(faults="error:route=/_storage,status=503,times=3") as emu, \
            emu.client(sleep=lambda _s: None, upload_retries=2) as client:
        with pytest.raises(ServerError) as info:
            client.upload_asset(jpeg, via="direct")
        err = info.value
        assert err.asset_id and err.idempotency_key
        assert err.asset_id in str(err) and err.idempotency_key in str(err)
        assert "resume_direct_upload" in str(err)
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(err.asset_id, "pending_upload")]
        asset = client.resume_direct_upload(err.asset_id, jpeg,
                                            idempotency_key=err.idempotency_key)
        assert asset.id == err.asset_id, "the init replayed: the same asset, not a second"
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(asset.id, "ready")]
        assert emu.assets()[0].sha256 == hashlib.sha256(jpeg.read_bytes()).hexdigest()


def test_resuming_without_the_key_uploads_anew_and_removes_the_pending_one(jpeg: Path) -> None:
    with Emulator(faults="error:route=/_storage,status=503,times=1") as emu, \
            emu.client(sleep=lambda _s: None, upload_retries=0) as client:
        with pytest.raises(ServerError) as info:
            client.upload_asset(jpeg, via="direct")
        old = info.value.asset_id
        assert old is not None
        asset = client.resume_direct_upload(old, jpeg)
        assert asset.id != old
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(asset.id, "ready")]


def test_a_put_that_landed_is_resumed_by_complete_alone(jpeg: Path) -> None:
    emu, refusers = refusing("/complete")
    with emu, emu.client(sleep=lambda _s: None, upload_retries=1) as client:
        for r in refusers:
            r.left = 3  # complete is tried at least 3 times (the PUT race)
        with pytest.raises(ServerError) as info:
            client.upload_asset(jpeg, via="direct")
        assert [a.status for a in emu.assets()] == ["pending_upload"]
        asset = client.resume_direct_upload(str(info.value.asset_id), jpeg)
        assert asset.id == info.value.asset_id
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(asset.id, "ready")]


def test_an_expired_upload_url_is_replaced_by_a_fresh_init(jpeg: Path) -> None:
    with Emulator(faults="error:route=/_storage,status=503,times=1") as emu, \
            emu.client(sleep=lambda _s: None, upload_retries=0) as client:
        with pytest.raises(ServerError) as info:
            client.upload_asset(jpeg, via="direct")
        emu.clock.advance(3600 * 2)  # type: ignore[attr-defined]  # past the URL's expiry
        asset = client.resume_direct_upload(str(info.value.asset_id), jpeg,
                                            idempotency_key=info.value.idempotency_key)
        assert asset.id != info.value.asset_id
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(asset.id, "ready")]


def test_resuming_an_asset_that_is_gone_uploads_anew(jpeg: Path) -> None:
    with Emulator() as emu, emu.client() as client:
        asset = client.resume_direct_upload("no-such-asset", jpeg, idempotency_key="k-gone")
        assert [(a.asset_id, a.status) for a in emu.assets()] == [(asset.id, "ready")]


# -- 4. one client, many threads --------------------------------------------------------------
def test_twenty_threads_share_one_client(jpeg: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    with Emulator() as emu2:
        seen = Counter[str]()
        lock = threading.Lock()
        original = emu2.service._respond

        def respond(request: Any, *args: Any) -> Any:
            with lock:
                seen[request.path] += 1
            return original(request, *args)

        emu2.service._respond = respond  # type: ignore[method-assign]
        errors: list[BaseException] = []
        barrier = threading.Barrier(20)
        with emu2.client() as client:
            def work(i: int) -> None:
                try:
                    barrier.wait()
                    for _ in range(3):
                        client.upload_asset(jpeg.read_bytes() + str(i).encode(), via="v3",
                                            name=f"t{i}.jpg")
                        assert isinstance(client.list_assets(limit=5).items, list)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        assert not errors, errors[:3]
        assert not any(t.is_alive() for t in threads)
        assert seen["/v3/users/me"] == 1, "the username was fetched once between 20 threads"
        assert len(emu2.assets()) == 60, "three uploads per thread, each its own key"
    assert not [r for r in caplog.records if "pool" in r.getMessage().lower()]


# -- 5. path parameters are one segment, everywhere ---------------------------------------------
def test_a_path_parameter_cannot_address_another_asset(jpeg: Path, png: Path) -> None:
    with Emulator() as emu, emu.client() as client:
        keep = client.upload_asset(png, via="v3")
        for hostile in (f"x/../{keep.id}", f"../{keep.id}", f"%2e%2e/{keep.id}",
                        f"{keep.id}/", f"{keep.id}?x=1", f"{keep.id}#x"):
            with pytest.raises(NotFoundError):
                client.delete_asset(hostile)
            with pytest.raises(NotFoundError):
                client.get_asset(hostile)
            url = client.url_for("v3-asset-delete", asset_id=hostile)
            assert url.count("/") == emu.api_base.count("/") + 3, url
            with pytest.raises(NotFoundError):
                client.call("v3-asset-delete", path_params={"asset_id": hostile})
        for bad in (".", "..", ""):
            with pytest.raises(ConfigurationError):
                client.url_for("v3-asset-delete", asset_id=bad)
        assert [a.asset_id for a in emu.assets()] == [keep.id]


def test_client_rejects_bad_pool_and_retry_settings() -> None:
    with pytest.raises(ConfigurationError, match="pool_maxsize"):
        HeyGenClient("k", pool_maxsize=0, env={})
    with pytest.raises(ConfigurationError, match="upload_retries"):
        HeyGenClient("k", upload_retries=-1, env={})
    c = HeyGenClient("k", env={})
    assert c.upload_retry_policy.max_retries == 8 and c.retry_policy.max_retries == 2
    assert HeyGenClient("k", max_retries=0, env={}).upload_retry_policy.max_retries == 0
