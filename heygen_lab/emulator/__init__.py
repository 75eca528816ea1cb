"""A local HeyGen-compatible server (what moto is to AWS), built on werkzeug.

Two servers on loopback, like HeyGen's two hosts, so that wrong-host mistakes reproduce::

    with Emulator(plan="trial", faults="rate_limit:route=/v3/assets,times=1") as emu:
        requests.post(f"{emu.upload_base}/v1/asset", data=jpeg_bytes,
                      headers={"X-Api-Key": DEMO_KEY, "Content-Type": "image/jpeg"})

Auth: ``X-Api-Key`` (any case; v3 also ``Authorization: Bearer``). A missing or unknown key gets
the 401 of the route's version: v1 ``{"code": 400112, "message": "Unauthorized"}``, v2
``internal_error`` / ``Unauthorized`` (legacy quirk), v3 ``authentication_failed``. Every response
carries ``X-Request-Id``. All error payloads live in :mod:`.payloads` with their provenance.

Routes -- [doc] documented, [rep] reported by users, [sim] the emulator's own choice:

Upload host (``upload_base``):
  - ``POST /v1/asset`` raw bytes, Content-Type png/jpeg/mpeg/mp4/webm [doc] or audio/wav [rep];
    multipart or empty body -> 400 40001 "asset data must be provided" [rep]; other type -> 400
    400175 [sim]; over 5 GiB -> 413 [sim]. Body streamed to disk.
  - ``POST /v1/talking_photo`` raw JPEG/PNG [doc]; same 40001 rules; tier-gated on ``trial``.
  - anything else -> 404 v1 envelope [sim].
API host (``api_base``):
  - ``POST /v1/asset`` (and ``/v1/talking_photo``) -> 404 ``{"code": 404, "message": "Not Found"}``:
    the wrong host [rep once; body sim].
  - ``GET /v1/asset/list`` [doc]; ``GET /v1/video_status.get?video_id=`` [doc]: status by clock
    time since creation [sim]: pending (< 5 s), processing (< 30 s), then completed (video_url,
    thumbnail_url, duration) or failed with ``data.error`` code 40119 [doc code] when any scene's
    ``input_text`` contains ``[fail]`` [sim]; unknown id -> 40104 [doc code].
  - ``POST /v2/video/generate`` [many]: validates scenes (avatar / talking_photo from the catalogue
    or uploads, text voice from the catalogue, audio voice with exactly one of audio_url /
    audio_asset_id of an existing audio asset, optional color/image/video background); errors
    ``avatar_not_found`` 404 [rep], ``voice_not_found`` 404, ``invalid_parameter`` 400 [sim];
    spends plan credit / counts against the trial cap.
  - ``GET /v2/avatars``, ``GET /v2/voices`` [many]: a small fixed catalogue [sim ids].
  - ``GET /v2/user/remaining_quota`` [doc]: credits (free capped plans: videos left today [sim]).
  - ``POST /v3/assets`` [doc]: multipart, one part ``file``, MIME sniffed from the bytes (png,
    jpeg, mp4, webm, mp3, wav, pdf), 32 MiB max -> 413 ``payload_too_large``; missing part or bad
    type -> 400 ``invalid_parameter`` param ``file``. Streamed to disk.
  - ``POST /v3/assets/direct-uploads`` [doc] -> signed ``upload_url`` on this emulator
    (``PUT /_storage/{id}?expires=&size=&sig=``; signature covers object, expiry, size and
    Content-Type; rejects with 403 XML an API key / Authorization header, a bad signature, a
    different Content-Type, an expired URL, a size other than the signed one [doc/rep; XML sim]).
  - ``POST /v3/assets/{id}/complete`` [doc]: 409 "uploaded object not found yet" before the PUT
    (and once after it with ``complete_race=True`` [rep once]); checksum and declared type
    checked; idempotent.
  - ``GET /v3/assets`` (``limit``, ``token`` cursor), ``GET|DELETE /v3/assets/{id}`` [doc].
  - ``POST /v3/videos``, ``GET /v3/videos/{id}`` [doc; body shape = v2 scenes, sim].
  - ``GET /v3/users/me`` [doc]: user + exactly one of ``subscription`` / ``wallet`` /
    ``usage_based`` [block contents sim].
  - ``GET /_files/{name}``: asset bytes and rendered media (emulator only).
  - ``Idempotency-Key`` on v3 POSTs [doc]: replays the first (non-5xx) response for 24 h of clock
    time, per key, API key, method and path; 409 ``request_in_progress`` while it runs.
  - unknown route -> 404, wrong method -> 405, in the envelope of the path's version [sim].

Plan profiles (:mod:`.plans`): ``trial`` (5 videos per clock day -> 429
``trial_video_limit_exceeded`` [rep]; talking_photo -> 400599 and direct uploads -> 403 [sim]),
``pro`` (no caps, 1,000,000 credits [sim]), ``payg`` (wallet of 10 credits, 1 per video; empty ->
402 ``insufficient_credit`` [doc on v3]); or your own via :func:`load_plan`.

Faults (:mod:`.faults`): seeded latency, 5xx, 429 + ``Retry-After``, dropped connections.
Unexpected handler exceptions answer 500 ``internal_error`` and are re-raised by
:meth:`Emulator.check` and on leaving the ``with`` block.
"""

from .clock import Clock, ManualClock, SystemClock
from .faults import Fault, parse_faults
from .payloads import PAYLOADS, Payload
from .plans import PLANS, PlanProfile, load_plan
from .server import DEMO_KEY, Emulator, HeldAsset
from .state import EmulatorState, sniff_mime

__all__ = [
    "DEMO_KEY",
    "PAYLOADS",
    "PLANS",
    "Clock",
    "Emulator",
    "EmulatorState",
    "Fault",
    "HeldAsset",
    "ManualClock",
    "Payload",
    "PlanProfile",
    "SystemClock",
    "load_plan",
    "parse_faults",
    "sniff_mime",
]
