"""Cassettes: vcrpy configured so uploads record and replay, and the key never reaches a file.

vcrpy alone can't replay a multipart upload when bodies are matched (the boundary is random)
and writes file-object bodies with a Python-only YAML tag. Here upload bodies are stored as
fingerprints (:func:`fingerprint`) and matched by :func:`body_matcher`, registered as
:data:`MATCHER_NAME`. Every cassette loads with ``yaml.safe_load`` and replays with plain vcrpy
plus that matcher (and :func:`fingerprint_request` as ``before_record_request``); :func:`make_vcr`
replays them through an index, in constant time per request (:mod:`.replay`)::

    recorder = make_vcr("cassettes", record_mode="none")
    with recorder.use_cassette("upload-v3/ok"):
        client.upload_asset("tiny.jpg")

Cassette layout: ``cassettes/<contract>/<case>.yaml``, with ``metadata.provenance``
(kind emulator|live, recorded_at, tool). Before a cassette, report or notebook is written,
:func:`gate` refuses it if it holds the key raw, URL-encoded or base64-encoded.

The secret gate and the linter load with the package; the vcrpy parts (fingerprints, recorder,
replay) on first use, so that the widgets and reports, which need the gate, do not pay the 0.2 s
that importing vcrpy costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heygen_lab._lazy import lazy_names

# Bound here, not lazily: each is named like its own module, which importing that module would
# otherwise leave in its place.
from heygen_lab.cassettes.gate import (
    SecretLeak,
    atomic_write,
    gate,
    known_secrets,
    scan_for_secrets,
)
from heygen_lab.cassettes.lint import Finding, lint

_LAZY = {
    "FINGERPRINT_PREFIX": "fingerprints",
    "MATCHER_NAME": "fingerprints",
    "body_matcher": "fingerprints",
    "fingerprint": "fingerprints",
    "fingerprint_request": "fingerprints",
    "CassettePersister": "recorder",
    "read_provenance": "recorder",
    "make_vcr": "replay",  # recorder.make_vcr, replaying through an index
}

__all__ = [
    "FINGERPRINT_PREFIX",
    "MATCHER_NAME",
    "CassettePersister",
    "Finding",
    "SecretLeak",
    "atomic_write",
    "body_matcher",
    "fingerprint",
    "fingerprint_request",
    "gate",
    "known_secrets",
    "lint",
    "make_vcr",
    "read_provenance",
    "scan_for_secrets",
]

if TYPE_CHECKING:
    from heygen_lab.cassettes.fingerprints import (
        FINGERPRINT_PREFIX,
        MATCHER_NAME,
        body_matcher,
        fingerprint,
        fingerprint_request,
    )
    from heygen_lab.cassettes.recorder import CassettePersister, read_provenance
    from heygen_lab.cassettes.replay import make_vcr


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
