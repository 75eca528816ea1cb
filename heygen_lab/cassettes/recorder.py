"""The configured ``vcr.VCR``: fingerprinted bodies, canonical hosts, safe YAML, the secret gate.

What we rely on in vcrpy (checked against its source, 9.4):

- ``VCR`` wraps ``before_record_request`` so that hooks receive a deep copy of the request; the
  request forwarded to the server in record mode is the original, sent as ``body_bytes`` (a file
  or iterator body was read into memory when vcrpy built its ``Request``). Our hook also returns
  a new request rather than editing its argument, so what is sent is never changed.
- The hook runs on every incoming request before matching, and on every request loaded from a
  cassette, so it must be idempotent (a fingerprint is kept as it is).
- vcrpy's loader reads ``interactions`` and ``metadata`` and ignores other top-level keys; we
  keep provenance in ``metadata``, which vcrpy carries over when it re-saves a cassette.
"""

from __future__ import annotations

import copy
import importlib
import ipaddress
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml
from vcr.persisters.filesystem import CassetteDecodeError, CassetteNotFoundError
from vcr.request import Request
from vcr.serialize import deserialize, serialize

from heygen_lab._yaml import YAMLInputError
from heygen_lab._yaml import load as load_yaml
from heygen_lab.cassettes.fingerprints import (
    MATCHER_NAME,
    body_bytes,
    body_matcher,
    encode_fingerprint,
    fingerprint_request,
    stream_fingerprint,
)
from heygen_lab.cassettes.gate import (
    FORMS,
    SecretLeak,
    atomic_write,
    known_secrets,
    scan_for_secrets,
)
from heygen_lab.errors import ConfigurationError, HeyGenError
from heygen_lab.uploads import Blocks

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", MATCHER_NAME)
FILTERED_HEADERS = ("X-Api-Key", "Authorization", "Cookie")
FILTERED_QUERY = ("api_key", "key", "token")
"""Removed from recorded URLs. ``token`` is also the asset-list cursor: pages match by order."""
VOLATILE_RESPONSE_HEADERS = frozenset({
    "date",  # the wall clock at answer time: differs on every recording, pins nothing
    "server",  # the server's software and version (werkzeug/3.x Python/3.11 here, a CDN live):
    #            differs between machines, and no contract or client reads it
    "set-cookie",  # session state; may be a credential
    # A CDN's per-request trace and cache state (live): new on every request, pins nothing.
    "age", "alt-svc", "cf-cache-status", "cf-ray", "nel", "report-to", "via", "x-amz-cf-id",
    "x-amz-cf-pop", "x-amzn-trace-id", "x-cache",
})
"""Response headers dropped from recordings, each for the reason given beside it."""
PINNED_BOUNDARY = "0" * 32
"""What a recorded multipart ``Content-Type``'s boundary becomes. The real one is random per
request (a re-recording would change every upload's cassette), the body is stored as a
fingerprint that never holds it, and the matcher ignores it; 32 characters, as long as the
uuid4 hex that requests-toolbelt draws, so the recorded ``Content-Length`` stays true."""
_EMULATOR_REQUEST_ID = re.compile(r"emu-req-\d{6}")
PROVENANCE_KINDS = ("emulator", "live")
_LOCAL = "heygen_lab_local_origin"  # set on recorded requests that went to a local server
_LOADED = "heygen_lab_loaded"  # set on requests read from a cassette: nothing new to check


def _base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path.strip("/"):
        raise ConfigurationError(f"canonical_hosts keys and values must be scheme://host[:port], "
                                 f"got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, a loopback address): never HeyGen."""
    try:
        return _is_local(urlsplit(url).hostname)
    except ValueError:
        return False


def _is_local(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _rewrite(text: Any, canonical: Mapping[str, str]) -> Any:
    for src, dst in canonical.items():
        pairs = ((src, dst), (src.replace("/", "\\/"), dst.replace("/", "\\/")))
        for a, b in pairs:
            if isinstance(text, str):
                text = text.replace(a, b)
            elif isinstance(text, bytes):
                text = text.replace(a.encode(), b.encode())
    return text


class _Hooks:
    """The request and response hooks, and the record-time checks between them.

    vcrpy's ``Cassette.append`` runs the request hook and then the response hook, in one
    thread, only when an interaction is recorded or loaded. So the response hook is where a
    recorded leak or a dishonest provenance is refused: raising there fails the HTTP call inside the
    ``with`` block, vcrpy unpatches normally, and (``record_on_exception=False``) saves nothing.
    Raising from the persister instead would leave vcrpy's patches installed until the next
    garbage collection; the persister's own gate stays as the backstop.
    """

    def __init__(self, canonical: Mapping[str, str], secrets: tuple[str, ...],
                 kind: str | None) -> None:
        self.canonical, self.secrets, self.kind = canonical, secrets, kind
        self._last = threading.local()

    def request(self, request: Request) -> Request:
        local = getattr(request, _LOCAL, False) or _is_local(request.host)
        uri = request.uri
        for src, dst in self.canonical.items():
            if src != dst and (uri == src or uri.startswith((src + "/", src + "?"))):
                # Rewritten to a canonical host: it went somewhere else (the emulator). A base
                # that already is the canonical host (recording live) is left as it is.
                uri, local = dst + uri[len(src):], True
                break
        new = fingerprint_request(request)
        new.uri = uri
        for flag, value in ((_LOCAL, local), (_LOADED, getattr(request, _LOADED, False))):
            if value:
                setattr(new, flag, True)
        self._last.request = new
        return new

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers = {k: [_rewrite(v, self.canonical) for v in vs]
                   for k, vs in response.get("headers", {}).items()
                   if k.lower() not in VOLATILE_RESPONSE_HEADERS}
        body = dict(response.get("body") or {})
        if "string" in body:
            body["string"] = _rewrite(body["string"], self.canonical)
        new = {**response, "headers": headers, "body": body}
        request = getattr(self._last, "request", None)
        if request is not None and not getattr(request, _LOADED, False):
            self._check(request, new)
        return new

    def _check(self, request: Request, response: dict[str, Any]) -> None:
        where = f"{request.method} {request.uri}"
        if scan_for_secrets(where, self.secrets):
            where = f"{request.method} {request.scheme}://{request.host} (URL withheld)"
        if self.kind == "live" and getattr(request, _LOCAL, False):
            raise HeyGenError(f"refusing to record {where} as 'live': it went to a local server "
                              "(the emulator); record it with provenance kind 'emulator'")
        sent = [request.uri, dict(request.headers), body_bytes(request)]
        forms = {f for leaf in _leaves([sent, response])
                 for f in scan_for_secrets(leaf, self.secrets)}
        if forms:
            raise SecretLeak(f"a cassette entry for {where}", _ordered(forms))


def _ordered(forms: Iterable[str]) -> list[str]:
    return [f for f in FORMS if f in set(forms)]


class CassetteError(HeyGenError, ValueError):
    """A cassette file that cannot be replayed; the message names the file and the problem."""


class _SafeYaml:
    """A vcrpy serializer that captures what it should dump, and hands vcrpy what was already
    read with the strict safe loader (so that a cassette is parsed once)."""

    def __init__(self, loaded: Any = None) -> None:
        self.data: Any = loaded

    def serialize(self, data: Any) -> str:
        self.data = data
        return ""

    def deserialize(self, text: str) -> Any:
        return self.data


def dump_cassette(data: Mapping[str, Any]) -> str:
    """YAML for a cassette: safe tags only, long strings never folded (the gate needs that).

    Non-ASCII text is escaped: with ``allow_unicode`` PyYAML doesn't round-trip U+0085.
    """
    return yaml.safe_dump(dict(data), sort_keys=False, width=2**30, default_flow_style=False,
                          allow_unicode=False, line_break="\n", indent=2)


def _sorted_headers(headers: Any) -> dict[str, Any]:
    """Headers in one canonical order (by name, case-insensitively): HTTP gives them in no
    particular order, and a re-recording must not move lines around."""
    if not isinstance(headers, Mapping):
        return {}
    return {k: headers[k] for k in sorted(headers, key=lambda k: (str(k).lower(), str(k)))}


def _pin_boundary(values: Any) -> Any:
    if not isinstance(values, list):
        return values
    return [re.sub(r"(boundary=)(\"[^\"]*\"|[^;\s]+)", rf"\g<1>{PINNED_BOUNDARY}", v)
            if isinstance(v, str) and v.lower().startswith("multipart/") else v for v in values]


def normalize_interactions(interactions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Recorded interactions made stable, so that re-recording an unchanged answer writes the
    same bytes, and a changed answer shows as a few changed lines:

    - headers sorted by name (request and response);
    - a multipart request's boundary pinned (:data:`PINNED_BOUNDARY`);
    - volatile response headers dropped (:data:`VOLATILE_RESPONSE_HEADERS`, reasons there);
    - ``X-Request-Id``: the emulator's (``emu-req-000001``, counted per case from a fresh
      emulator) is already stable and kept; any other (live: random per request) becomes
      ``req-NNNNNN``, its position in the cassette. Kept rather than dropped, because the
      client names the request id in its errors, and a replayed error should show one;
    - keys in one order: request (method, uri, body, headers), response (status, headers, body).

    Bodies are left as they are: an emulator case runs on a fresh, seeded emulator whose
    :class:`~heygen_lab.emulator.ManualClock` starts at a fixed epoch, so its ids and times
    repeat; a live answer's ids and times are what HeyGen said, which is the recording.
    """
    out = []
    for n, item in enumerate(interactions, 1):
        request = dict(item.get("request") or {})
        response = dict(item.get("response") or {})
        req_headers = _sorted_headers(request.get("headers"))
        for name in req_headers:
            if name.lower() == "content-type":
                req_headers[name] = _pin_boundary(req_headers[name])
        resp_headers = {}
        for name, values in _sorted_headers(response.get("headers")).items():
            lower = name.lower()
            if lower in VOLATILE_RESPONSE_HEADERS:
                continue
            if lower == "x-request-id" and isinstance(values, list):
                values = [v if isinstance(v, str) and _EMULATOR_REQUEST_ID.fullmatch(v)
                          else f"req-{n:06d}" for v in values]
            resp_headers[name] = values
        request = {**{k: request[k] for k in ("method", "uri", "body") if k in request},
                   "headers": req_headers,
                   **{k: v for k, v in request.items()
                      if k not in {"method", "uri", "body", "headers"}}}
        response = {**{k: response[k] for k in ("status",) if k in response},
                    "headers": resp_headers,
                    **{k: v for k, v in response.items() if k not in {"status", "headers"}}}
        out.append({**{k: v for k, v in item.items() if k not in {"request", "response"}},
                    "request": request, "response": response})
    return out


def _leaves(obj: Any) -> Iterator[str | bytes]:
    if isinstance(obj, str | bytes):
        yield obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _leaves(k)
            yield from _leaves(v)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _leaves(item)


class CassettePersister:
    """vcrpy persister: ``yaml.safe_load`` / ``yaml.safe_dump``, provenance, gate, atomic write."""

    def __init__(self, secrets: Iterable[str] = (), provenance: Mapping[str, str] | None = None):
        self.secrets = tuple(secrets)
        self.provenance = dict(provenance or {})

    def load_cassette(self, cassette_path: str | Path, serializer: Any = None) -> Any:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise CassetteDecodeError(f"{path} is not UTF-8") from err
        if not text.strip():
            raise CassetteNotFoundError()
        try:
            data = load_yaml(text, str(path))
        except YAMLInputError as exc:
            raise CassetteError(f"{exc}; re-record it with 'heygen-lab record'") from None
        problem = _shape_problem(data)
        if problem:
            raise CassetteError(f"{path}: not a replayable cassette ({problem}); re-record it "
                                "with 'heygen-lab record'")
        try:
            loaded = deserialize(text, _SafeYaml(data))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CassetteError(f"{path}: not a replayable cassette ({type(exc).__name__}: "
                                f"{exc}); re-record it with 'heygen-lab record'") from None
        metadata = loaded[2] if len(loaded) > 2 else {}
        emulated = (metadata.get("provenance") or {}).get("kind") == "emulator"
        for request in loaded[0]:
            setattr(request, _LOADED, True)
            if emulated:
                setattr(request, _LOCAL, True)
        return loaded

    def save_cassette(self, cassette_path: str | Path, cassette_dict: Mapping[str, Any],
                      serializer: Any = None) -> None:
        path = Path(cassette_path)
        capture = _SafeYaml()
        serialize(cassette_dict, capture)
        metadata = dict(capture.data.get("metadata") or {})
        interactions = normalize_interactions(capture.data["interactions"])
        provenance = self._provenance(cassette_dict["requests"], path)
        metadata["provenance"] = _unchanged_provenance(path, interactions, provenance)
        text = dump_cassette({"version": capture.data["version"], "metadata": metadata,
                              "interactions": interactions})
        # Scan the leaves too: YAML writes binary values as base64 split across lines.
        forms = {f for leaf in [text, *_leaves(capture.data)]
                 for f in scan_for_secrets(leaf, self.secrets)}
        if forms:
            raise SecretLeak(str(path), _ordered(forms))
        atomic_write(path, text, secrets=self.secrets)

    def _provenance(self, requests: Iterable[Request], path: Path) -> dict[str, str]:
        version = getattr(importlib.import_module("heygen_lab.client"), "__version__", "?")
        local = any(getattr(r, _LOCAL, False) for r in requests)
        kind = self.provenance.get("kind") or ("emulator" if local else "live")
        if kind == "live" and local:
            raise HeyGenError(f"refusing to write {path}: provenance says 'live' but requests "
                              "went to a local server (the emulator); record with kind='emulator'")
        now = datetime.now(UTC).replace(microsecond=0)
        fixed = {"kind": kind, "recorded_at": now.isoformat(), "tool": f"heygen-lab {version}"}
        if kind == "live":  # where and when it came from, as the requests say
            hosts = sorted({h for r in requests if (h := urlsplit(r.uri).hostname)})
            fixed |= {"host": ", ".join(hosts), "date": now.date().isoformat()}
        return {**fixed, **{k: v for k, v in self.provenance.items() if k not in fixed}}


def _unchanged_provenance(path: Path, interactions: list[dict[str, Any]],
                          provenance: dict[str, str]) -> dict[str, str]:
    """``provenance``, or the cassette's old one when it already holds exactly these
    interactions from the same kind of source: a re-recording that observed nothing new
    writes the file byte for byte as it was (its date says when the answer was last new)."""
    try:
        old = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, YAMLInputError):
        return provenance
    meta = old.get("metadata") if isinstance(old, dict) else None
    previous = meta.get("provenance") if isinstance(meta, dict) else None
    if (not isinstance(previous, dict) or previous.get("kind") != provenance.get("kind")
            or old.get("interactions") != interactions):
        return provenance
    return {str(k): v for k, v in previous.items()}


def _shape_problem(data: Any) -> str | None:
    """What keeps ``data`` from being a vcrpy cassette, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        return "no 'interactions' list"
    if not isinstance(data.get("metadata") or {}, dict):
        return "'metadata' is not a mapping"
    for i, item in enumerate(data["interactions"]):
        if not isinstance(item, dict):
            return f"interactions[{i}] is not a mapping"
        request, response = item.get("request"), item.get("response")
        if not isinstance(request, dict) or not isinstance(response, dict):
            return f"interactions[{i}] lacks a request or a response mapping"
        for key in ("method", "uri"):
            if not isinstance(request.get(key), str):
                return f"interactions[{i}].request.{key} is not a string"
        if not isinstance(request.get("headers") or {}, dict):
            return f"interactions[{i}].request.headers is not a mapping"
        status = response.get("status")
        if not isinstance(status, dict) or not isinstance(status.get("code"), int):
            return f"interactions[{i}].response.status.code is not a number"
        if not isinstance(response.get("headers") or {}, dict):
            return f"interactions[{i}].response.headers is not a mapping"
        if not isinstance(response.get("body") or {}, dict):
            return f"interactions[{i}].response.body is not a mapping"
    return None


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """A cassette's provenance (kind, recorded_at, tool, ...), or None when it has none."""
    data = load_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    meta = data.get("metadata") if isinstance(data, dict) else None
    prov = meta.get("provenance") if isinstance(meta, dict) else None
    return dict(prov) if isinstance(prov, dict) else None


def make_vcr(
    cassette_dir: str | Path,
    *,
    record_mode: str = "none",
    secrets: Iterable[str] = (),
    canonical_hosts: Mapping[str, str] | None = None,
    provenance: Mapping[str, str] | None = None,
) -> vcr.VCR:
    """A ``vcr.VCR`` for ``cassettes/<contract>/<case>.yaml`` (``use_cassette("contract/case")``).

    - bodies are matched and stored as fingerprints (:data:`MATCHER_NAME`), never as bytes;
    - the key is removed by name (:data:`FILTERED_HEADERS`, :data:`FILTERED_QUERY`) and refused
      by value: ``secrets`` plus ``HEYGEN_API_KEY`` from the environment, when set;
    - ``canonical_hosts`` (e.g. ``{"http://127.0.0.1:54321": "https://api.heygen.com"}``)
      rewrites request URLs and response bodies and headers recorded against a local emulator;
    - ``provenance`` adds to the cassette's ``metadata.provenance``; ``kind`` is inferred
      ("emulator" when any request went to a local server) and can't claim "live" for those.
    """
    canonical = {_base(k): _base(v) for k, v in (canonical_hosts or {}).items()}
    kind = (provenance or {}).get("kind")
    if kind is not None and kind not in PROVENANCE_KINDS:
        raise ConfigurationError(f"provenance kind must be one of {PROVENANCE_KINDS}, got {kind!r}")
    keys = known_secrets(secrets)
    hooks = _Hooks(canonical, keys, kind)
    _install_streaming()
    recorder = vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        path_transformer=vcr.VCR.ensure_suffix(".yaml"),
        record_mode=record_mode,
        match_on=MATCH_ON,
        filter_headers=FILTERED_HEADERS,
        filter_query_parameters=FILTERED_QUERY,
        before_record_request=hooks.request,
        before_record_response=hooks.response,
        decode_compressed_response=True,
        record_on_exception=False,  # a session that failed half-way is not a recording
    )
    recorder.register_matcher(MATCHER_NAME, body_matcher)
    recorder.register_persister(CassettePersister(keys, provenance))
    return recorder


# ------------------------------------------------------------------ large bodies, streamed
#
# vcrpy reads a file-like request body whole when it builds its ``Request``, deep-copies that
# request for every hook and matcher call, and forwards the bytes from memory: recording a
# 64 MiB upload held it several times over. For our cassettes (those whose persister is a
# :class:`CassettePersister`), a file-like body over :data:`STREAM_THRESHOLD` is read once, in
# chunks: its fingerprint is computed on the way (the same one :func:`fingerprint` gives) and,
# when the cassette may record, the bytes go to an anonymous spool file that is forwarded to
# the server as a stream. vcrpy's request then carries the fingerprint as its body, which is
# what every hook, matcher and the cassette see anyway.

STREAM_THRESHOLD = 1 << 20
"""File-like bodies up to this size are read whole, as vcrpy does; larger ones are streamed."""
_CHUNK = 1 << 16


class _StreamedRequest(Request):  # type: ignore[misc]
    """vcrpy's request for a large file-like body: the body is its fingerprint; the bytes, when
    the cassette may record, wait in a spool file and are forwarded from there."""

    def __init__(self, method: str, uri: str, body: Any, head: bytes,
                 headers: Mapping[str, Any], spool: bool) -> None:
        import tempfile

        self._spool = tempfile.TemporaryFile() if spool else None  # noqa: SIM115 (kept open)
        spooled = self._spool

        def chunks() -> Iterator[bytes]:
            data: Any = head
            while data:
                if isinstance(data, str):
                    data = data.encode("utf-8")
                if spooled is not None:
                    spooled.write(data)
                yield bytes(data)
                data = body.read(_CHUNK)

        content_type = next((v for k, v in dict(headers).items()
                             if str(k).lower() == "content-type"), None)
        if isinstance(content_type, list | tuple):
            content_type = content_type[0] if content_type else None
        fp = stream_fingerprint(None if content_type is None else str(content_type), chunks())
        if spooled is not None:
            spooled.flush()
        super().__init__(method, uri, encode_fingerprint(fp), headers)

    @property
    def body_bytes(self) -> Any:
        """What vcrpy forwards to the server: the spooled bytes, as a stream."""
        if self._spool is None:
            return self._body
        self._spool.seek(0)
        return self._spool

    def __deepcopy__(self, memo: dict[int, Any]) -> Request:
        return Request(self.method, self.uri, self._body, copy.deepcopy(self.headers, memo))


def _read_up_to(body: Any, limit: int) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = body.read(limit - len(data))
        if not chunk:
            break
        data += chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    return data


_patched = False
_patch_lock = threading.Lock()


def _install_streaming() -> None:
    """Route large file-like bodies of our cassettes through :class:`_StreamedRequest`. Other
    cassettes (a VCR not made by :func:`make_vcr`) keep vcrpy's own behaviour."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from vcr.stubs import VCRConnection, VCRFakeSocket

        original = VCRConnection.request

        def request(self: Any, method: str, url: str, body: Any = None,
                    headers: Any = None, *args: Any, **kwargs: Any) -> None:
            cassette = getattr(self, "cassette", None)
            if isinstance(body, Blocks):  # an upload's file body: read as the file it is
                body = body.source
            if not (hasattr(body, "read")
                    and isinstance(getattr(cassette, "_persister", None), CassettePersister)):
                original(self, method, url, body, headers, *args, **kwargs)
                return
            head = _read_up_to(body, STREAM_THRESHOLD + 1)
            if len(head) <= STREAM_THRESHOLD:  # small: as vcrpy would, from the bytes read
                original(self, method, url, head, headers, *args, **kwargs)
                return
            self._vcr_request = _StreamedRequest(
                method, self._uri(url), body, head, headers or {},
                spool=not cassette.write_protected)  # type: ignore[union-attr]
            self._sock = VCRFakeSocket()

        VCRConnection.request = request
        _patched = True
