"""v3 voices: list, get, design (create), clone, delete, and text to speech.

The public voices are :data:`~..state.VOICES`. A designed voice (``POST /v3/voices``) is a set of
private candidates, usable at once; a clone is ``processing`` until :data:`READY_AFTER` seconds
on the clock, then ``complete`` (``failed`` if its name holds ``[fail]``) [sim]. Created voices
join ``state.custom_voice_ids`` (so ``POST /v3/videos`` takes them) and leave it when deleted.
Speech is silence of the computed length, served as a WAV file at ``/_files/speech/<id>.wav``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from werkzeug.wrappers import Response

from ..http import Call, invalid, legacy, v3
from ..payloads import Refusal
from ..state import FAIL_MARKER, VOICES, EmulatorState, Page
from ._store import PUBLIC_CREATED_AT, Store, check_media, refuse_public, ripen

#: [sim] Engines every emulator voice supports (the spec's voice settings name ElevenLabs and
#: Fish models; HeyGen's engine ids are not public).
ENGINES: Final = ("elevenlabs", "fish")
#: [sim] Candidates a voice design answers with.
DESIGN_CANDIDATES: Final = 3
#: [sim] Seconds one word takes at speed 1.
WORD_SECONDS: Final = 0.4
#: [sim] Longest ``text`` for speech (the same as a video script).
MAX_TEXT: Final = 5000
#: [sim] The slowest speech speed: the spec allows 0..2, but a speed of 0 never ends.
MIN_SPEED: Final = 0.1
#: [sim] ``input_type`` values speech accepts; SSML tags are not spoken.
INPUT_TYPES: Final = ("text", "ssml")
#: The spec's ``completed`` is ``complete`` for voices.
_VOICE_STATUS: Final = {"completed": "complete", "processing": "processing", "failed": "failed"}
#: 8 kHz, 8-bit mono PCM: the WAV the emulator serves for speech [sim].
_RATE: Final = 8000
_CHUNK: Final = 64 * 1024


@dataclass
class Voice:
    """A public, designed or cloned voice."""

    id: str
    name: str
    language: str
    gender: str
    seq: int
    created_at: float
    public: bool = False
    cloned: bool = False
    fails: bool = False
    engines: tuple[str, ...] = ENGINES


@dataclass
class Speech:
    """Audio made by ``POST /v3/voices/speech``."""

    id: str
    seq: int
    duration: float
    words: list[dict[str, Any]] = field(default_factory=list)


class VoiceBackend:
    """Voices (seeded with the public ones) and the speech made with them."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.voices: Store[Voice] = Store(state, lambda rid: Refusal(
            "v3.voice_not_found", param="voice_id", voice_id=rid))
        self.speech: Store[Speech] = Store(state, lambda rid: Refusal(
            "storage.not_found"))
        for v in VOICES:
            self.voices.add(Voice(v["voice_id"], v["name"], v["language"], v["gender"],
                                  state.next_seq(), PUBLIC_CREATED_AT, public=True))

    def status(self, voice: Voice) -> str:
        """``complete`` for public and designed voices; a clone's status on the clock."""
        if not voice.cloned:
            return "complete"
        return _VOICE_STATUS[ripen(voice.created_at, self.state.now(), voice.fails)]

    def add(self, name: str, language: str, gender: str, *, cloned: bool = False,
            fails: bool = False) -> Voice:
        """A new private voice, usable in videos at once [sim]."""
        state = self.state
        with state.lock:
            voice = self.voices.add(Voice(state.new_id("voice_"), name, language, gender,
                                          state.next_seq(), state.now(), cloned=cloned,
                                          fails=fails))
            state.custom_voice_ids.add(voice.id)
        return voice

    def delete(self, voice_id: str) -> Voice:
        """Delete one of the account's voices; public ones refuse with 403 [sim]."""
        with self.state.lock:
            voice = self.voices.get(voice_id)
            refuse_public(voice.public, "voice", voice_id, "voice_id")
            self.voices.pop(voice_id)
            self.state.custom_voice_ids.discard(voice_id)
        return voice

    def speak(self, voice_id: str, text: str, speed: float) -> Speech:
        """Speech of ``text``: every word :data:`WORD_SECONDS` long at speed 1 [sim]."""
        voice = self.voices.get(voice_id)
        status = self.status(voice)
        if status != "complete":
            raise Refusal("v3.voice_not_usable", param="voice_id", voice_id=voice_id,
                           voice_status=status)
        step = WORD_SECONDS / speed
        words = [{"word": w, "start": round(i * step, 3), "end": round((i + 1) * step, 3)}
                 for i, w in enumerate(text.split())]
        state = self.state
        return self.speech.add(Speech(state.new_id("speech_"), state.next_seq(),
                                      round(max(len(words), 1) * step, 3), words))


def _backend(call: Call) -> VoiceBackend:
    return call.state.backend(VoiceBackend)


def list_item(voice: Voice) -> dict[str, Any]:
    """A voice as ``GET /v3/voices`` and voice design show it [doc: spec; flags sim]."""
    return {"voice_id": voice.id, "name": voice.name, "language": voice.language,
            "gender": voice.gender, "preview_audio_url": None, "support_pause": True,
            "support_locale": False, "type": "public" if voice.public else "private"}


def _same(wanted: str | None, value: str) -> bool:
    return wanted is None or wanted.casefold() == value.casefold()


@v3("VoiceList")
def list_(call: Call) -> Page:
    """GET /v3/voices?type=&engine=&language=&gender=&limit=&token= [doc]; the text filters
    ignore case [sim]."""
    kind, engine = call.arg("type"), call.arg("engine")
    language, gender = call.arg("language"), call.arg("gender")
    voices = _backend(call).voices.where(
        lambda v: kind in (None, "public" if v.public else "private")
        and engine in (None, *v.engines) and _same(language, v.language)
        and _same(gender, v.gender))
    return call.page(voices, list_item)


@v3("VoiceGet")
def get(call: Call) -> Any:
    """GET /v3/voices/{voice_id} [doc]."""
    backend = _backend(call)
    voice = backend.voices.get(call.params["voice_id"])
    status = backend.status(voice)
    return {"voice_id": voice.id, "name": voice.name, "language": voice.language,
            "gender": voice.gender, "created_at": int(voice.created_at), "status": status,
            "failure_message": "the voice could not be cloned" if status == "failed" else None,
            "preview_audio_url": None, "support_pause": True, "support_interactive_avatar": False}


@v3("VoiceCreate")
def create(call: Call) -> Any:
    """POST /v3/voices -- design voices from a prompt [doc]; answers
    :data:`DESIGN_CANDIDATES` private voices, kept and usable [sim]."""
    prompt = call.field("prompt")
    if not prompt.strip():
        raise invalid("v3", "prompt", "prompt must not be blank")
    backend, seed = _backend(call), call.field("seed", 0)
    language, gender = call.field("locale") or "multilingual", call.field("gender") or "unknown"
    voices = [backend.add(f"{prompt[:40]} #{i + 1}", language, gender)
              for i in range(DESIGN_CANDIDATES)]
    return {"voices": [list_item(v) for v in voices], "seed": seed}


@v3("VoiceCloneCreate")
def clone(call: Call) -> Any:
    """POST /v3/voices/clone [doc]; the audio is checked, the clone ripens on the clock and its
    ``voice_clone_id`` is its ``voice_id`` [sim]."""
    name = call.field("voice_name")
    if not name.strip():
        raise invalid("v3", "voice_name", "voice_name must not be blank")
    check_media(call, call.field("audio"), "audio", "audio")
    voice = _backend(call).add(name, call.field("language") or "multilingual", "unknown",
                               cloned=True, fails=FAIL_MARKER in name)
    return {"voice_clone_id": voice.id}


@v3("VoiceDelete")
def delete(call: Call) -> Any:
    """DELETE /v3/voices/{voice_id} [doc]; public voices refuse with 403 [sim]."""
    return {"voice_id": _backend(call).delete(call.params["voice_id"]).id}


@v3("VoiceSpeechCreate")
def speech(call: Call) -> Any:
    """POST /v3/voices/speech [doc]; silence of the simulated length with word timestamps,
    served by the emulator [sim]."""
    text, input_type = call.field("text"), call.field("input_type", "text")
    speed = call.field("speed", 1)
    if input_type not in INPUT_TYPES:
        raise invalid("v3", "input_type", f"input_type must be one of {', '.join(INPUT_TYPES)}")
    if input_type == "ssml":
        text = re.sub(r"<[^>]*>", " ", text)
    if not text.strip():
        raise invalid("v3", "text", "text must not be blank")
    if len(text) > MAX_TEXT:
        raise invalid("v3", "text", f"text must be at most {MAX_TEXT} characters")
    if speed < MIN_SPEED:
        raise invalid("v3", "speed", f"speed must be at least {MIN_SPEED}")
    made = _backend(call).speak(call.field("voice_id"), text, speed)
    return {"audio_url": f"{call.service.api_base}/_files/speech/{made.id}.wav",
            "duration": made.duration, "request_id": made.id, "word_timestamps": made.words}


def wav(seconds: float) -> tuple[int, Iterator[bytes]]:
    """``seconds`` of silence as a WAV file (8 kHz, 8-bit mono PCM): (size, chunks)."""
    frames = round(seconds * _RATE)
    fmt = struct.pack("<HHIIHH", 1, 1, _RATE, _RATE, 1, 8)
    header = (b"RIFF" + struct.pack("<I", 36 + frames) + b"WAVEfmt " + struct.pack("<I", 16)
              + fmt + b"data" + struct.pack("<I", frames))

    def chunks() -> Iterator[bytes]:
        yield header
        for start in range(0, frames, _CHUNK):
            yield b"\x80" * min(_CHUNK, frames - start)
    return len(header) + frames, chunks()


@legacy("api", "/_files/speech/<name>", ["GET"], public=True)
def speech_file(call: Call) -> Response:
    """GET /_files/speech/{id}.wav -- the audio of a speech request [sim]."""
    speech_id, dot, ext = call.params["name"].rpartition(".")
    if not dot or ext != "wav":
        raise Refusal("storage.not_found")
    size, chunks = wav(_backend(call).speech.get(speech_id).duration)
    return Response(chunks, 200, mimetype="audio/wav", headers={"Content-Length": str(size)},
                    direct_passthrough=True)
