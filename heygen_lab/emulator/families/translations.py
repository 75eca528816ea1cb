"""v3 video translation: translations (create per output language, get, list, update, delete),
proofreads (create, get, SRT get/update, generate a translation from a checked proofread).

Routes and shapes are HeyGen's [doc: spec]; progress on the emulator's clock, outputs and the
``[fail]`` trigger are [sim] (see :mod:`.jobs`). Output languages must be in the emulator's
language list (``GET /v3/video-translations/languages``) [sim]. A proofread's SRT can be read,
replaced or turned into a translation only once the proofread is ``completed``; before that the
answer is 409 ``conflict`` [sim; 409 for state conflicts doc].
"""

from __future__ import annotations

from typing import Any, Final

from ..http import Call, invalid, v3
from ..payloads import Refusal
from .catalogue import LANGUAGES
from .jobs import KINDS, Kind, Record, Records, check_refs, fails, job_url, serve, status_of, view

__all__ = ["PROOFREAD", "TRANSLATION"]


def _languages(call: Call, body: dict[str, Any], at: str) -> None:
    prefix = f"{at}." if at else ""
    for i, lang in enumerate(body.get("output_languages") or ()):
        if lang not in LANGUAGES:
            raise invalid("v3", f"{prefix}output_languages[{i}]",
                          f"unsupported language {lang!r}; see GET /v3/video-translations/"
                          f"languages")
    if not body.get("output_languages"):
        raise invalid("v3", f"{prefix}output_languages", "give at least one output language")


def _proofread(call: Call, rec: Record, status: str) -> dict[str, Any]:
    return {"submitted_for_review": bool(rec.extra.get("srt"))}


TRANSLATION: Final = Kind(
    "video translation", "vt_", "video_translation_id", {"processing": "running"},
    {"video_url": "mp4", "audio_url": "mp3", "srt_caption_url": "srt", "vtt_caption_url": "vtt"},
    fanout="output_languages", check=_languages)
PROOFREAD: Final = Kind("proofread", "pr_", "proofread_id", {"pending": "processing"},
                        fanout="output_languages", check=_languages, extra=_proofread)
KINDS.update({k.name: k for k in (TRANSLATION, PROOFREAD)})

serve(TRANSLATION, create="VideoTranslateCreate", get="VideoTranslateGet",
      list_="VideoTranslateList", update="VideoTranslateUpdate", delete="VideoTranslateDelete")
serve(PROOFREAD, create="VideoTranslateProofreadsCreate", get="VideoTranslateProofreadsGet")


def _completed(call: Call) -> Record:
    """The path's proofread, else 404; 409 unless it is completed."""
    rec = call.state.backend(Records).get(PROOFREAD, call.params["proofread_id"])
    status = status_of(call.state, PROOFREAD, rec)
    if status != "completed":
        raise Refusal("v3.conflict", param="proofread_id",
                       detail=f"proofread {rec.id!r} is {status}; wait until it is completed")
    return rec


@v3("VideoTranslateProofreadsSrtGet")
def srt_get(call: Call) -> Any:
    """GET .../proofreads/{proofread_id}/srt [doc]: the editable SRT and the original."""
    rec = _completed(call)
    return {"srt_url": job_url(call, f"{rec.id}-srt_url.srt"),
            "original_srt_url": job_url(call, f"{rec.id}-original_srt_url.srt")}


@v3("VideoTranslateProofreadsSrtUpdate")
def srt_update(call: Call) -> Any:
    """PUT .../proofreads/{proofread_id}/srt [doc]: an SRT asset (must exist) or URL."""
    rec = _completed(call)
    check_refs(call, call.body)
    with call.state.lock:
        rec.extra["srt"] = call.field("srt")
    return view(call, PROOFREAD, rec)


@v3("VideoTranslateProofreadsGenerate")
def generate(call: Call) -> Any:
    """POST .../proofreads/{proofread_id}/generate [doc]: a translation of the proofread's
    language; it fails if the proofread's request or this body carries ``[fail]`` [sim]."""
    rec = _completed(call)
    fields = {**{k: rec.fields.get(k) for k in ("input_language", "output_language", "title")},
              **call.body}
    made = call.state.backend(Records).add(TRANSLATION, fields, rec.fails or fails(call.body))
    return view(call, TRANSLATION, made, status="processing")
