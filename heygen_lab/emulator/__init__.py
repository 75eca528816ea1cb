"""A local HeyGen-compatible server (what moto is to AWS), built on werkzeug.

Two servers on loopback, like HeyGen's two hosts, so that wrong-host mistakes reproduce::

    with Emulator(plan="trial", faults="rate_limit:route=/v3/assets,times=1") as emu:
        requests.post(f"{emu.upload_base}/v1/asset", data=jpeg_bytes,
                      headers={"X-Api-Key": DEMO_KEY, "Content-Type": "image/jpeg"})

The shape is moto's: :mod:`.http` is the HTTP layer (dispatch, auth, idempotency, faults; v3
routing, request and response checks by HeyGen's spec, :mod:`heygen_lab.spec`), :mod:`.families`
has one module per API family (parse, ask the state, render), :mod:`.state` holds the business
rules, :mod:`.facts` the emulator's own copy of HeyGen's facts and :mod:`.payloads` every error
payload with its provenance. The README's emulator section lists every route by family, each
behaviour tagged documented, reported or simulated.

Auth: ``X-Api-Key`` (any case; v3 also ``Authorization: Bearer``). A missing or unknown key gets
the 401 of the route's version: v1 ``{"code": 400112, "message": "Unauthorized"}``, v2
``internal_error`` / ``Unauthorized`` (legacy quirk), v3 ``authentication_failed``. Every response
carries ``X-Request-Id``.

Plan profiles (:mod:`.plans`): ``trial``, ``pro``, ``payg``, or your own via :func:`load_plan`.
Faults (:mod:`.faults`): seeded latency, 5xx, 429 + ``Retry-After``, dropped connections.
Unexpected handler exceptions answer 500 ``internal_error`` and are re-raised by
:meth:`Emulator.check` and on leaving the ``with`` block.
"""

from .clock import Clock, ManualClock, SystemClock
from .faults import Fault, parse_faults
from .payloads import PAYLOADS, ErrorPayload
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
    "ErrorPayload",
    "Fault",
    "HeldAsset",
    "ManualClock",
    "PlanProfile",
    "SystemClock",
    "load_plan",
    "parse_faults",
    "sniff_mime",
]
