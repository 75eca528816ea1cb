"""The emulator's long tail over real HTTP on loopback: jobs on the clock, batches of real items,
catalogue lists, template renders; every answer checked against HeyGen's spec by the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests_toolbelt import MultipartEncoder

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock, families  # noqa: F401
from heygen_lab.emulator.http import V3_HANDLERS
from heygen_lab.spec import load_spec

KEY = {"X-Api-Key": DEMO_KEY}
TIMEOUT = 30
URL_VIDEO = {"type": "url", "url": "https://example.com/in.mp4"}
URL_AUDIO = {"type": "url", "url": "https://example.com/in.mp3"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde" + b"\x00" * 16)
OWNED_ELSEWHERE = ("avatar", "voice", "webhook")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(read_timeout=10) as e:
        yield e
        e.check()


def call(emu: Emulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{emu.api_base}{path}", headers=KEY, timeout=TIMEOUT,
                            **kwargs)


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()["data"]


def error(resp: requests.Response, status: int, code: str, param: str | None) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert (err["code"], err["param"]) == (code, param), err


def later(emu: Emulator, seconds: float) -> None:
    assert isinstance(emu.clock, ManualClock)
    emu.clock.advance(seconds)


def test_every_operation_is_served() -> None:
    missing = [op.name for op in load_spec() if op.name not in V3_HANDLERS
               and op.group not in OWNED_ELSEWHERE]
    assert missing == []


def test_lipsync_lifecycle_list_update_delete(emu: Emulator) -> None:
    made = ok(call(emu, "POST", "/v3/lipsyncs", json={"video": URL_VIDEO, "audio": URL_AUDIO,
                                                      "callback_id": "cb1"}))
    lid = made["lipsync_id"]
    got = ok(call(emu, "GET", f"/v3/lipsyncs/{lid}"))
    assert (got["status"], got["callback_id"], got["video_url"]) == ("pending", "cb1", None)
    later(emu, 10)
    assert ok(call(emu, "GET", f"/v3/lipsyncs/{lid}"))["status"] == "running"
    later(emu, 30)
    done = ok(call(emu, "GET", f"/v3/lipsyncs/{lid}"))
    assert done["status"] == "completed" and done["duration"] > 0
    media = requests.get(done["video_url"], timeout=TIMEOUT)
    assert media.status_code == 200 and media.content[4:8] == b"ftyp"
    ok(call(emu, "PATCH", f"/v3/lipsyncs/{lid}", json={"title": "renamed"}))
    assert ok(call(emu, "DELETE", f"/v3/lipsyncs/{lid}"))["id"] == lid
    error(call(emu, "GET", f"/v3/lipsyncs/{lid}"), 404, "not_found", "lipsync_id")


def test_fail_marker_in_a_url_fails_the_job(emu: Emulator) -> None:
    bad = {"type": "url", "url": "https://example.com/[fail].mp4"}
    lid = ok(call(emu, "POST", "/v3/lipsyncs", json={"video": bad, "audio": URL_AUDIO}))[
        "lipsync_id"]
    later(emu, 60)
    got = ok(call(emu, "GET", f"/v3/lipsyncs/{lid}"))
    assert got["status"] == "failed" and "[fail]" in got["failure_message"]
    assert got["video_url"] is None


def test_unknown_asset_in_a_body_is_404_naming_its_path(emu: Emulator) -> None:
    body = {"video": {"type": "asset_id", "asset_id": "nope"}, "audio": URL_AUDIO}
    error(call(emu, "POST", "/v3/lipsyncs", json=body), 404, "not_found", "video.asset_id")
    error(call(emu, "POST", "/v3/lipsyncs", json={"audio": URL_AUDIO}), 400,
          "invalid_parameter", "video")


def test_a_real_asset_is_accepted(emu: Emulator) -> None:
    enc = MultipartEncoder(fields={"file": ("a.png", PNG, "image/png")})
    asset = requests.post(f"{emu.api_base}/v3/assets", data=enc, timeout=TIMEOUT,
                          headers={**KEY, "Content-Type": enc.content_type}).json()["data"]
    body = {"video": {"type": "asset_id", "asset_id": asset["asset_id"]}}
    ok(call(emu, "POST", "/v3/background-removals", json=body))


def test_lists_paginate(emu: Emulator) -> None:
    ids = [ok(call(emu, "POST", "/v3/background-removals", json={"video": URL_VIDEO}))["id"]
           for _ in range(3)]
    first = call(emu, "GET", "/v3/background-removals", params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[:2] and first["has_more"]
    rest = call(emu, "GET", "/v3/background-removals",
                params={"limit": 2, "token": first["next_token"]}).json()
    assert [j["id"] for j in rest["data"]] == ids[2:] and not rest["has_more"]


def test_background_removal_request_id_dedupes_and_layers_appear(emu: Emulator) -> None:
    body = {"video": URL_VIDEO, "request_id": "r1", "layers": ["foreground", "mask"]}
    a = ok(call(emu, "POST", "/v3/background-removals", json=body))
    assert ok(call(emu, "POST", "/v3/background-removals", json=body))["id"] == a["id"]
    later(emu, 60)
    done = ok(call(emu, "GET", f"/v3/background-removals/{a['id']}"))
    assert sorted(done["layers"]) == ["foreground", "mask"]
    assert ok(call(emu, "DELETE", f"/v3/background-removals/{a['id']}"))["deleted"] is True


def test_ai_clipping_is_202_and_yields_clips(emu: Emulator) -> None:
    body = {"video": URL_VIDEO, "output_settings": {"duration_types": ["30", "60"]}}
    made = ok(call(emu, "POST", "/v3/ai-clipping", json=body), 202)
    later(emu, 60)
    got = ok(call(emu, "GET", f"/v3/ai-clipping/{made['id']}"))
    assert got["status"] == "completed" and len(got["clips"]) == 2
    assert [j["id"] for j in ok(call(emu, "GET", "/v3/ai-clipping"))] == [made["id"]]
    error(call(emu, "DELETE", "/v3/ai-clipping/nope"), 404, "not_found", "job_id")


def test_translation_per_language_and_statuses(emu: Emulator) -> None:
    langs = ok(call(emu, "GET", "/v3/video-translations/languages"))["languages"]
    body = {"video": URL_VIDEO, "output_languages": langs[:2], "title": "t"}
    ids = ok(call(emu, "POST", "/v3/video-translations", json=body))["video_translation_ids"]
    assert len(ids) == 2
    got = ok(call(emu, "GET", f"/v3/video-translations/{ids[1]}"))
    assert got["output_language"] == langs[1]
    bad = {**body, "output_languages": ["Klingon"]}
    error(call(emu, "POST", "/v3/video-translations", json=bad), 400, "invalid_parameter",
          "output_languages[0]")
    rows = call(emu, "GET", "/v3/video-translations/statuses",
                params={"video_translation_ids": f"{ids[0]},nope"}).json()["data"]
    assert [r["status"] for r in rows] == ["queued", "not_found"]


def test_proofread_flow(emu: Emulator) -> None:
    body = {"video": URL_VIDEO, "output_languages": ["German"], "title": "p"}
    made = ok(call(emu, "POST", "/v3/video-translations/proofreads", json=body))
    pid = made["proofread_ids"][0]
    assert made["status"] == "processing"
    base = f"/v3/video-translations/proofreads/{pid}"
    error(call(emu, "GET", f"{base}/srt"), 409, "conflict", "proofread_id")
    later(emu, 60)
    assert ok(call(emu, "GET", f"{base}/srt"))["srt_url"]
    error(call(emu, "PUT", f"{base}/srt", json={"srt": {"type": "asset_id", "asset_id": "x"}}),
          404, "not_found", "srt.asset_id")
    ok(call(emu, "PUT", f"{base}/srt", json={"srt": {"type": "url", "url": "https://x/y.srt"}}))
    assert ok(call(emu, "GET", base))["submitted_for_review"] is True
    vt = ok(call(emu, "POST", f"{base}/generate", json={}))["video_translation_id"]
    assert ok(call(emu, "GET", f"/v3/video-translations/{vt}"))["output_language"] == "German"
    error(call(emu, "GET", "/v3/video-translations/proofreads/nope"), 404, "not_found",
          "proofread_id")


def test_video_agent_session(emu: Emulator) -> None:
    made = ok(call(emu, "POST", "/v3/video-agents", json={"prompt": "a product teaser"}))
    sid = made["session_id"]
    assert made["status"] == "thinking"
    error(call(emu, "POST", f"/v3/video-agents/{sid}", json={"message": "more"}), 409,
          "conflict", "session_id")
    later(emu, 60)
    got = ok(call(emu, "GET", f"/v3/video-agents/{sid}"))
    assert got["status"] == "completed" and got["video_id"]
    videos = ok(call(emu, "GET", f"/v3/video-agents/{sid}/videos"))
    assert [v["id"] for v in videos] == [got["video_id"]]
    assert ok(call(emu, "GET", f"/v3/videos/{got['video_id']}"))["status"] == "completed"
    res = ok(call(emu, "GET", f"/v3/video-agents/{sid}/resources/{got['video_id']}"))
    assert res["resource_type"] == "video" and res["url"]
    run = ok(call(emu, "POST", f"/v3/video-agents/{sid}", json={"message": "shorter"}))
    assert run["session_id"] == sid
    ok(call(emu, "POST", f"/v3/video-agents/{sid}/stop", json={}))
    assert ok(call(emu, "GET", f"/v3/video-agents/{sid}"))["status"] == "waiting_for_input"
    error(call(emu, "POST", "/v3/video-agents", json={"prompt": "x", "style_id": "nope"}), 404,
          "not_found", "style_id")
    error(call(emu, "GET", f"/v3/video-agents/{sid}/resources/nope"), 404, "not_found",
          "resource_id")


def test_template_generate_spends_credit() -> None:
    with Emulator(plan="payg") as emu:
        templates = ok(call(emu, "GET", "/v3/templates"))
        tid = templates[0]["id"]
        tpl = ok(call(emu, "GET", f"/v3/templates/{tid}"))
        variables = {name: "Ada" for name in tpl["variables"]}
        for _ in range(10):
            video = ok(call(emu, "POST", f"/v3/templates/{tid}", json={"variables": variables}))
            assert video["status"] == "pending"
        error(call(emu, "POST", f"/v3/templates/{tid}", json={"variables": variables}), 402,
              "insufficient_credit", None)
        error(call(emu, "POST", f"/v3/templates/{tid}", json={"variables": {"zzz": "1"}}), 400,
              "invalid_parameter", "variables.zzz")
        error(call(emu, "GET", "/v3/templates/nope"), 404, "not_found", "template_id")
        emu.check()


def test_catalogue_lists_and_filters(emu: Emulator) -> None:
    assert ok(call(emu, "GET", "/v3/brand-kits"))
    assert ok(call(emu, "GET", "/v3/brand-glossaries"))
    social = ok(call(emu, "GET", "/v3/video-agents/styles", params={"tag": "social"}))
    assert [s["style_id"] for s in social] == ["emu_style_social"]
    music = ok(call(emu, "GET", "/v3/audio/sounds", params={"query": "calm piano music",
                                                            "type": "music"}))
    assert music[0]["id"] == "emu_sound_calm" and music[0]["score"] == 1.0
    assert all(s["type"] == "music" for s in music)
    assert ok(call(emu, "GET", "/v3/audio/sounds", params={"query": "piano",
                                                           "type": "sound_effects"})) == []
    error(call(emu, "GET", "/v3/audio/sounds"), 400, "invalid_parameter", "query")
    icons = ok(call(emu, "GET", "/v3/assets/search", params={"query": "office", "type": "icon"}))
    assert [i["type"] for i in icons] == ["icon"]


def test_video_batch_reports_real_videos(emu: Emulator) -> None:
    good = {"type": "avatar", "avatar_id": "emu_avatar_anna", "script": "Hi",
            "voice_id": "emu_voice_en_f"}
    bad = {**good, "avatar_id": "nobody"}
    made = ok(call(emu, "POST", "/v3/videos/batches", json={"videos": [good, bad]}), 202)
    assert made["total_items"] == 2 and made["status"] == "processing"
    batch = ok(call(emu, "GET", f"/v3/videos/batches/{made['batch_id']}"))
    first, second = batch["items"]
    assert first["status"] == "queued" and second["status"] == "failed"
    assert second["error"]["code"] == "avatar_not_found"
    assert ok(call(emu, "GET", f"/v3/videos/{first['video_id']}"))["status"] == "pending"
    later(emu, 60)
    batch = ok(call(emu, "GET", f"/v3/videos/batches/{made['batch_id']}",
                    params={"limit": 1}))
    assert batch["status"] == "completed" and batch["has_more"] and len(batch["items"]) == 1
    assert batch["counts_by_status"] == {"completed": 1, "failed": 1}
    error(call(emu, "GET", "/v3/lipsyncs/batches/" + made["batch_id"]), 404, "not_found",
          "batch_id")


def test_lipsync_batch_and_statuses(emu: Emulator) -> None:
    item = {"video": URL_VIDEO, "audio": URL_AUDIO}
    made = ok(call(emu, "POST", "/v3/lipsyncs/batches", json={"lipsyncs": [item, item]}), 202)
    rows = call(emu, "GET", "/v3/lipsyncs/statuses",
                params={"batch_ids": [made["batch_id"], "nope"]}).json()["data"]
    assert [(r["item_index"], r["status"]) for r in rows[:2]] == [(0, "queued"), (1, "queued")]
    assert rows[2] == {"batch_id": "nope", "status": "not_found", "error": None,
                       "item_index": None, "video_id": None}
    later(emu, 10)
    lid = rows[0]["video_id"]
    row = call(emu, "GET", "/v3/lipsyncs/statuses", params={"lipsync_ids": lid}).json()["data"]
    assert row[0]["status"] == "processing" and row[0]["batch_id"] == made["batch_id"]
    too_many = ",".join(f"id{i}" for i in range(101))
    error(call(emu, "GET", "/v3/lipsyncs/statuses", params={"lipsync_ids": too_many}), 400,
          "invalid_parameter", "lipsync_ids")


def test_asset_upload_batch(emu: Emulator) -> None:
    files = [{"filename": "a.png", "content_type": "image/png", "size_bytes": len(PNG)},
             {"filename": "b.png", "content_type": "image/png", "size_bytes": len(PNG)}]
    made = ok(call(emu, "POST", "/v3/assets/direct-uploads/batches", json={"files": files}))
    first = made["items"][0]
    put = requests.put(first["upload_url"], data=PNG, headers=first["upload_headers"],
                       timeout=TIMEOUT)
    assert put.status_code == 200, put.text
    done = ok(call(emu, "POST", "/v3/assets/complete/batches",
                   json={"batch_id": made["batch_id"]}), 202)
    assert done["total_items"] == 2
    batch = ok(call(emu, "GET", f"/v3/assets/batches/{made['batch_id']}"))
    assert [i["status"] for i in batch["items"]] == ["completed", "failed"]
    rows = call(emu, "GET", "/v3/assets/statuses",
                params={"asset_ids": f"{first['asset_id']},nope"}).json()["data"]
    assert [r["status"] for r in rows] == ["completed", "not_found"]
    bad = [{**files[0], "content_type": "text/plain"}]
    error(call(emu, "POST", "/v3/assets/direct-uploads/batches", json={"files": bad}), 400,
          "invalid_parameter", "files[0].content_type")
    error(call(emu, "POST", "/v3/assets/complete/batches", json={"batch_id": "nope"}), 404,
          "not_found", "batch_id")
