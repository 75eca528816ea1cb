"""The emulator's v3 voices over real HTTP: the public voices, designed and cloned voices with
state, and text to speech whose audio the emulator serves.

Every test leaves ``with Emulator()`` normally, so an answer that breaks HeyGen's response
schema (an ``EmulatorBug``) fails it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
import requests
from _support import v3_call, v3_error, v3_pages

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock, sniff_mime
from heygen_lab.emulator.state import VOICES

KEY = {"X-Api-Key": DEMO_KEY}
PUBLIC = [v["voice_id"] for v in VOICES]
CLONE = {"voice_name": "My voice", "audio": {"type": "url", "url": "https://example.com/me.mp3"}}
SPEECH = {"text": "Hello there, world", "voice_id": PUBLIC[0]}


call, error = v3_call, v3_error


def video(emu: Emulator, voice_id: str) -> requests.Response:
    return requests.post(f"{emu.api_base}/v3/videos", headers=KEY, timeout=30, json={
        "type": "avatar", "avatar_id": "emu_avatar_anna", "script": "Hi", "voice_id": voice_id})


def ids(page: dict[str, Any]) -> list[str]:
    return [v["voice_id"] for v in page["data"]]


# ---------------------------------------------------------------- public voices and filters
def test_public_voices_are_listed_and_filtered(emu: Emulator) -> None:
    assert ids(call(emu, "GET", "/v3/voices")) == PUBLIC
    assert ids(call(emu, "GET", "/v3/voices?type=public&language=english&gender=FEMALE")) \
        == [v["voice_id"] for v in VOICES if (v["language"], v["gender"]) == ("English",
                                                                                 "female")]
    assert ids(call(emu, "GET", "/v3/voices?engine=elevenlabs")) == PUBLIC
    assert ids(call(emu, "GET", "/v3/voices?engine=nothing")) == []
    assert ids(call(emu, "GET", "/v3/voices?type=private")) == []
    one = call(emu, "GET", f"/v3/voices/{PUBLIC[0]}")["data"]
    assert (one["voice_id"], one["status"]) == (PUBLIC[0], "complete")


def test_public_voices_cannot_be_deleted(emu: Emulator) -> None:
    assert error(emu, "DELETE", f"/v3/voices/{PUBLIC[0]}", 403) == ("forbidden", "voice_id")
    assert video(emu, PUBLIC[0]).status_code == 200


# ---------------------------------------------------------------- design and clone
def test_designed_voices_are_private_and_usable(emu: Emulator) -> None:
    made = call(emu, "POST", "/v3/voices", json={"prompt": "a calm narrator", "gender": "male",
                                                 "locale": "en-GB", "seed": 7})["data"]
    assert made["seed"] == 7 and len(made["voices"]) == 3
    assert {(v["type"], v["gender"], v["language"]) for v in made["voices"]} \
        == {("private", "male", "en-GB")}
    private = ids(call(emu, "GET", "/v3/voices?type=private"))
    assert private == [v["voice_id"] for v in made["voices"]]
    assert video(emu, private[0]).status_code == 200
    assert call(emu, "DELETE", f"/v3/voices/{private[0]}")["data"] == {"voice_id": private[0]}
    assert video(emu, private[0]).json()["error"]["code"] == "voice_not_found"
    assert error(emu, "GET", f"/v3/voices/{private[0]}", 404) == ("voice_not_found", "voice_id")


def test_a_clone_completes_on_the_clock(emu: Emulator, clock: ManualClock) -> None:
    clone_id = call(emu, "POST", "/v3/voices/clone", json=CLONE)["data"]["voice_clone_id"]
    assert call(emu, "GET", f"/v3/voices/{clone_id}")["data"]["status"] == "processing"
    assert error(emu, "POST", "/v3/voices/speech", 400, json={**SPEECH, "voice_id": clone_id}) \
        == ("voice_not_usable", "voice_id")
    clock.advance(30)
    voice = call(emu, "GET", f"/v3/voices/{clone_id}")["data"]
    assert (voice["status"], voice["name"], voice["failure_message"]) \
        == ("complete", "My voice", None)
    assert call(emu, "POST", "/v3/voices/speech", json={**SPEECH, "voice_id": clone_id})
    assert video(emu, clone_id).status_code == 200


def test_a_failing_clone_says_why(emu: Emulator, clock: ManualClock) -> None:
    clone_id = call(emu, "POST", "/v3/voices/clone",
                    json={**CLONE, "voice_name": "broken [fail]"})["data"]["voice_clone_id"]
    clock.advance(30)
    voice = call(emu, "GET", f"/v3/voices/{clone_id}")["data"]
    assert voice["status"] == "failed" and voice["failure_message"]


# ---------------------------------------------------------------- speech
def test_speech_has_word_timestamps_and_served_audio(emu: Emulator) -> None:
    data = call(emu, "POST", "/v3/voices/speech", json={**SPEECH, "speed": 2})["data"]
    words = data["word_timestamps"]
    assert [w["word"] for w in words] == ["Hello", "there,", "world"]
    assert words[0]["start"] == 0 and words[-1]["end"] == data["duration"] == 0.6
    assert all(a["end"] == b["start"] for a, b in pairwise(words))
    audio = requests.get(data["audio_url"], timeout=30)
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
    assert sniff_mime(audio.content[:64]) == "audio/wav"
    assert len(audio.content) == 44 + round(data["duration"] * 8000)
    ssml = call(emu, "POST", "/v3/voices/speech", json={
        **SPEECH, "input_type": "ssml", "text": "<speak>Hi <break/>you</speak>"})["data"]
    assert [w["word"] for w in ssml["word_timestamps"]] == ["Hi", "you"]
    slow = call(emu, "POST", "/v3/voices/speech", json={**SPEECH, "speed": 0.1})["data"]
    assert slow["duration"] == 12.0
    assert len(requests.get(slow["audio_url"], timeout=30).content) == 44 + 12 * 8000
    missing = requests.get(data["audio_url"].replace(".wav", "x.wav"), timeout=30)
    assert missing.status_code == 404


# ---------------------------------------------------------------- lists
def test_voices_paginate(emu: Emulator) -> None:
    call(emu, "POST", "/v3/voices", json={"prompt": "anything"})
    seen = [v["voice_id"] for v in v3_pages(emu, "/v3/voices")]
    assert seen == ids(call(emu, "GET", "/v3/voices?limit=100"))
    assert len(seen) == len(PUBLIC) + 3


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(("path", "body", "param"), [
    ("/v3/voices", {}, "prompt"),
    ("/v3/voices", {"prompt": " "}, "prompt"),
    ("/v3/voices", {"prompt": "x", "seed": -1}, "seed"),
    ("/v3/voices/clone", {"audio": CLONE["audio"]}, "voice_name"),
    ("/v3/voices/clone", {"voice_name": "x"}, "audio"),
    ("/v3/voices/clone", {**CLONE, "audio": {"type": "url", "url": "file:///me.mp3"}},
     "audio.url"),
    ("/v3/voices/clone", {**CLONE, "audio": {"type": "base64", "media_type": "image/png",
                                             "data": "AAAA"}}, "audio.media_type"),
    ("/v3/voices/speech", {"voice_id": PUBLIC[0]}, "text"),
    ("/v3/voices/speech", {"text": "hi"}, "voice_id"),
    ("/v3/voices/speech", {**SPEECH, "text": "  "}, "text"),
    ("/v3/voices/speech", {**SPEECH, "text": "word " * 1001}, "text"),
    ("/v3/voices/speech", {**SPEECH, "speed": 0}, "speed"),
    ("/v3/voices/speech", {**SPEECH, "speed": 5e-324}, "speed"),
    ("/v3/voices/speech", {**SPEECH, "speed": 2.5}, "speed"),
    ("/v3/voices/speech", {**SPEECH, "input_type": "markdown"}, "input_type"),
])
def test_bad_bodies_name_the_param(emu: Emulator, path: str, body: dict[str, Any],
                                   param: str) -> None:
    assert error(emu, "POST", path, 400, json=body) == ("invalid_parameter", param)


@pytest.mark.parametrize("query", ["type=mine", "limit=0", "limit=101", "token=zzz"])
def test_bad_list_queries_name_the_param(emu: Emulator, query: str) -> None:
    assert error(emu, "GET", f"/v3/voices?{query}", 400) \
        == ("invalid_parameter", query.partition("=")[0])


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v3/voices/nope", None),
    ("DELETE", "/v3/voices/nope", None),
    ("POST", "/v3/voices/speech", {**SPEECH, "voice_id": "nope"}),
])
def test_unknown_voices_are_404(emu: Emulator, method: str, path: str,
                                body: dict[str, Any] | None) -> None:
    assert error(emu, method, path, 404, json=body) == ("voice_not_found", "voice_id")


def test_a_clone_from_an_unknown_asset_is_404(emu: Emulator) -> None:
    body = {**CLONE, "audio": {"type": "asset_id", "asset_id": "nope"}}
    assert error(emu, "POST", "/v3/voices/clone", 404, json=body) \
        == ("not_found", "audio.asset_id")
