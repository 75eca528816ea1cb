"""``Emulator.reset()``: a started emulator made as new again, on the same ports and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from _support import v3_call

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock

MEDIA = Path(__file__).resolve().parent.parent / "contracts" / "media"
KEY = {"X-Api-Key": DEMO_KEY}
VIDEO = {"type": "avatar", "avatar_id": "emu_avatar_anna", "script": "Hello",
         "voice_id": "emu_voice_en_f"}


def _use_everything(emu: Emulator) -> dict[str, Any]:
    """Touch assets, videos, a family's store, idempotency and the plan's counters."""
    with emu.client() as client:
        asset = client.upload_asset(MEDIA / "tiny.jpg", via="v1")
    first = requests.post(f"{emu.api_base}/v3/videos", json=VIDEO, timeout=10,
                          headers={**KEY, "Idempotency-Key": "same"})
    hook = v3_call(emu, "POST", "/v3/webhooks/endpoints",
                   json={"url": "https://example.com/hook"})["data"]
    return {"asset": asset.id, "video": first.json()["data"]["video_id"],
            "request_id": first.headers["X-Request-Id"], "hook": hook["endpoint_id"],
            "credits": emu.state.credits}


def test_reset_forgets_everything_and_keeps_ports_and_keys() -> None:
    with Emulator(plan="trial") as emu:
        bases = (emu.api_base, emu.upload_base)
        before = _use_everything(emu)
        emu.clock.advance(3600)  # type: ignore[attr-defined]
        assert emu.state.assets and emu.state.videos and emu.state.idempotency
        assert list((emu.storage_dir / "objects").iterdir())

        emu.reset()

        assert (emu.api_base, emu.upload_base) == bases
        assert emu.keys == (DEMO_KEY,) and emu.plan.name == "trial"
        state = emu.state
        assert not state.assets and not state.videos and not state.idempotency
        assert state.credits == emu.plan.credits and state.credits_used == 0
        assert not state.videos_per_day
        assert not list((emu.storage_dir / "objects").iterdir())
        assert emu.clock.now() == ManualClock().now()
        # ... and behaves exactly as a fresh emulator: the same ids in the same order.
        assert _use_everything(emu) == before
        assert len(v3_call(emu, "GET", "/v3/webhooks/endpoints")["data"]) == 1  # not 2


def test_reset_keeps_a_clock_it_was_given_and_its_faults() -> None:
    clock = ManualClock(start=1_000_000.0)
    with Emulator(clock=clock, faults="error:status=503,route=/v3/users/me,times=1") as emu:
        me = f"{emu.api_base}/v3/users/me"
        assert requests.get(me, headers=KEY, timeout=10).status_code == 503
        assert requests.get(me, headers=KEY, timeout=10).status_code == 200
        clock.advance(10)
        emu.reset()
        assert emu.clock is clock and clock.now() == 1_000_010.0
        # the fault's counter starts again: it fires once more
        assert requests.get(me, headers=KEY, timeout=10).status_code == 503
        assert requests.get(me, headers=KEY, timeout=10).status_code == 200


def test_reset_on_a_given_storage_dir_clears_only_what_the_emulator_stores(
        tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with Emulator(storage_dir=tmp_path) as emu:
        with emu.client() as client:
            client.upload_asset(MEDIA / "tiny.png", via="v1")
        emu.reset()
        assert (tmp_path / "mine.txt").read_text() == "keep me"
        assert not list((tmp_path / "objects").iterdir())
        with emu.client() as client:  # still serves uploads after the reset
            assert client.upload_asset(MEDIA / "tiny.png", via="v1").id in emu.state.assets


def test_the_handlers_survive_their_modules_being_imported_again() -> None:
    """pytester's in-process runs forget modules imported during the run, so the families can
    be imported anew in a process that has them registered: the same handlers registered again
    is not an error, and nothing is registered twice. (Done as pytester does, and undone: the
    rest of this process keeps the modules it had.)"""
    import importlib
    import sys

    import heygen_lab.emulator
    from heygen_lab.emulator import Emulator, http

    modules = {m: sys.modules[m] for m in list(sys.modules)
               if m.startswith("heygen_lab.emulator.families")}
    handlers, public = dict(http.V3_HANDLERS), set(http._PUBLIC)
    rules = {host: list(r) for host, r in http._RULES.items()}
    try:
        for name in modules:
            del sys.modules[name]
        importlib.import_module("heygen_lab.emulator.families")
        assert {host: len(r) for host, r in http._RULES.items()} == {
            host: len(r) for host, r in rules.items()}
        assert http.V3_HANDLERS.keys() == handlers.keys()
        assert all(http.V3_HANDLERS[n] is not h for n, h in handlers.items())  # the new ones
        with Emulator() as emu, emu.client() as client:
            assert client.me()
    finally:
        sys.modules.update(modules)
        heygen_lab.emulator.families = modules["heygen_lab.emulator.families"]  # type: ignore[attr-defined]
        http.V3_HANDLERS.clear()
        http.V3_HANDLERS.update(handlers)
        http._PUBLIC.clear()
        http._PUBLIC.update(public)
        for host, kept in rules.items():
            http._RULES[host][:] = kept
        http._url_maps.cache_clear()
