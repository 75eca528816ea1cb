"""Request handling: one routing table per host, one auth check, one dispatcher.

Every request goes: faults -> route match -> auth -> (v3 POST) idempotency -> handler. Handlers
raise :class:`~.payloads.ApiError` for every error answer; the dispatcher renders it from the
payload table. Anything else a handler raises is an emulator bug: answered with a v3
``internal_error`` and recorded, so :meth:`Emulator.check` re-raises it in the test.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Final, Literal, cast

from werkzeug.exceptions import (
    ClientDisconnected,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.formparser import FormDataParser
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream, wrap_file

from heygen_lab.media import TALKING_PHOTO_TYPES, V1_TYPES, V3_MAX_BYTES, V3_TYPES

from .faults import Fault, FaultInjector
from .payloads import ApiError, error_object, render
from .state import (
    AVATARS,
    FAIL_MARKER,
    IDEMPOTENCY_WINDOW,
    TALKING_PHOTOS,
    TINY_MP4,
    VOICES,
    Asset,
    EmulatorState,
    IdemRecord,
    Spool,
    TalkingPhoto,
    TooLarge,
    Video,
    file_type,
    sniff_mime,
    tiny_png,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Service"]

_log = logging.getLogger("heygen_lab.emulator")

Version = Literal["v1", "v2", "v3", "storage"]
MIB: Final = 1024 * 1024
PHOTO_TYPES: Final = TALKING_PHOTO_TYPES
V1_MAX_BYTES: Final = 5 * 1024 * MIB          # simulated: "absurd" sizes only
V3_FILE_LIMIT: Final = V3_MAX_BYTES           # documented
V3_BODY_LIMIT: Final = V3_FILE_LIMIT + MIB    # room for the multipart framing
DIRECT_MAX_BYTES: Final = 5 * 1024 * MIB      # simulated
DIRECT_EXPIRES: Final = 900
JSON_LIMIT: Final = MIB
CHUNK: Final = 256 * 1024
IDEM_KEY: Final = re.compile(r"[A-Za-z0-9_:.\-]{1,255}")
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}")

_API_MAP: Final = Map([
    Rule("/v1/asset", endpoint="wrong_host"),
    Rule("/v1/talking_photo", endpoint="wrong_host"),
    Rule("/v1/asset/list", endpoint="v1_asset_list", methods=["GET"]),
    Rule("/v1/video_status.get", endpoint="v1_video_status", methods=["GET"]),
    Rule("/v2/video/generate", endpoint="v2_video_generate", methods=["POST"]),
    Rule("/v2/avatars", endpoint="v2_avatars", methods=["GET"]),
    Rule("/v2/voices", endpoint="v2_voices", methods=["GET"]),
    Rule("/v2/user/remaining_quota", endpoint="v2_remaining_quota", methods=["GET"]),
    Rule("/v3/assets", endpoint="v3_assets_list", methods=["GET"]),
    Rule("/v3/assets", endpoint="v3_assets_upload", methods=["POST"]),
    Rule("/v3/assets/direct-uploads", endpoint="v3_direct_init", methods=["POST"]),
    Rule("/v3/assets/<asset_id>/complete", endpoint="v3_direct_complete", methods=["POST"]),
    Rule("/v3/assets/<asset_id>", endpoint="v3_asset_get", methods=["GET"]),
    Rule("/v3/assets/<asset_id>", endpoint="v3_asset_delete", methods=["DELETE"]),
    Rule("/v3/videos", endpoint="v3_video_create", methods=["POST"]),
    Rule("/v3/videos/<video_id>", endpoint="v3_video_get", methods=["GET"]),
    Rule("/v3/users/me", endpoint="v3_user", methods=["GET"]),
    Rule("/_storage/<object_id>", endpoint="storage_put", methods=["PUT"]),
    Rule("/_files/<name>", endpoint="files_get", methods=["GET"]),
])
_UPLOAD_MAP: Final = Map([
    Rule("/v1/asset", endpoint="v1_asset_upload", methods=["POST"]),
    Rule("/v1/talking_photo", endpoint="v1_talking_photo", methods=["POST"]),
])
_PUBLIC: Final = frozenset({"wrong_host", "storage_put", "files_get"})


def version_of(path: str, host: str) -> Version:
    """The envelope style of a path: v1 on the upload host; else by the path's version prefix."""
    if host == "upload":
        return "v1"
    for prefix, version in (("/v1/", "v1"), ("/v2/", "v2"), ("/v3/", "v3"),
                            ("/_storage/", "storage"), ("/_files/", "storage")):
        if path.startswith(prefix) or path == prefix[:-1]:
            return cast(Version, version)
    return "v3"


def invalid(version: str, param: str | None, detail: str) -> ApiError:
    """A 400 ``invalid_parameter`` in the envelope of ``version``."""
    return ApiError(f"{version}.invalid_parameter", param=param, detail=detail)


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _checksum(body: Mapping[str, Any]) -> str | None:
    """The optional ``checksum_sha256`` of a body, lower-cased; 400 if malformed."""
    value = body.get("checksum_sha256")
    if value is None:
        return None
    if not (isinstance(value, str) and SHA256_HEX.fullmatch(value.lower())):
        raise invalid("v3", "checksum_sha256", "checksum_sha256 must be 64 hex characters")
    return value.lower()


def _drop(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("emulator fault: connection dropped")


class Service:
    """Routes and handlers shared by the API host and the upload host."""

    def __init__(self, state: EmulatorState, keys: Iterable[str], faults: FaultInjector,
                 overrides: Mapping[str, Mapping[str, Any]], signing_key: bytes) -> None:
        self.state = state
        self.keys = frozenset(keys)
        self.faults = faults
        self.overrides = overrides
        self.api_base = ""
        self.upload_base = ""
        self.errors: list[BaseException] = []
        self._signing_key = signing_key
        self._ids = itertools.count(1)
        self._idle = threading.Condition()
        self._active = 0

    # ---------------------------------------------------------------- dispatch
    def wsgi(self, host: Literal["api", "upload"]) -> WSGIApplication:
        """The WSGI application of one host."""
        urls = _API_MAP if host == "api" else _UPLOAD_MAP

        def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            request = Request(environ)
            with self._idle:
                self._active += 1
            try:
                delay, fault = self.faults.decide(request.path)
                if delay:
                    time.sleep(delay)
                if fault is not None and fault.kind == "drop":
                    _drop(environ)
                response = self._respond(request, urls, version_of(request.path, host), fault)
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()
            response.headers["X-Request-Id"] = f"emu-req-{next(self._ids):06d}"
            return response(environ, start_response)

        return app

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def take_errors(self) -> list[BaseException]:
        """The recorded handler exceptions, oldest first; clears the record."""
        with self._idle:
            errors, self.errors = self.errors, []
        return errors

    def _respond(self, request: Request, urls: Map, version: Version, fault: Fault | None
                 ) -> Response:
        try:
            if fault is not None:
                if fault.kind == "rate_limit":
                    raise ApiError(f"{version}.rate_limited",
                                   headers={"Retry-After": str(fault.retry_after)})
                raise ApiError(f"{version}.internal_error", status=fault.status)
            try:
                endpoint, args = urls.bind_to_environ(request.environ).match()
            except MethodNotAllowed as exc:
                raise ApiError(f"{version}.method_not_allowed",
                               headers={"Allow": ", ".join(exc.valid_methods or ())}) from None
            except (NotFound, RequestRedirect):
                raise ApiError(f"{version}.not_found",
                               detail=f"no route for {request.method} {request.path}") from None
            key = "" if endpoint in _PUBLIC else self._authenticate(request, version)
            handler: Callable[..., Response] = getattr(self, "h_" + str(endpoint))
            kwargs = dict(args)
            idempotent = "Idempotency-Key" in request.headers and request.method == "POST"
            if version == "v3" and idempotent:
                return self._idempotent(request, key, lambda: self._guarded(handler, request,
                                                                            kwargs, version))
            return self._guarded(handler, request, kwargs, version)[0]
        except ApiError as err:
            return self._render(err)
        except Exception as exc:  # an emulator bug outside a handler
            return self._crash(exc, request)

    def _guarded(self, handler: Callable[..., Response], request: Request, args: dict[str, Any],
                 version: Version) -> tuple[Response, bool]:
        """(response, whether it may be replayed for an Idempotency-Key)."""
        try:
            return handler(request, **args), True
        except ApiError as err:
            return self._render(err), err.cacheable
        except (ClientDisconnected, ConnectionError, TimeoutError):
            pid = ("storage.incomplete_body" if version == "storage"
                   else f"{version}.invalid_parameter")
            return self._render(ApiError(pid, detail="the request body ended before its "
                                         "Content-Length (or broke off)")), False
        except Exception as exc:
            return self._crash(exc, request), False

    def _crash(self, exc: Exception, request: Request) -> Response:
        exc.add_note(f"raised by the emulator while handling {request.method} {request.path}")
        _log.error("emulator handler error:\n%s", "".join(traceback.format_exception(exc)))
        with self._idle:
            self.errors.append(exc)
        return self._render(ApiError("v3.internal_error"))

    def _render(self, err: ApiError) -> Response:
        status, headers, body = render(err, self.overrides)
        return Response(body, status, headers=headers)

    def _authenticate(self, request: Request, version: Version) -> str:
        """The one auth check: X-Api-Key (any case); v3 also ``Authorization: Bearer``."""
        key = request.headers.get("X-Api-Key", "")
        if not key and version == "v3":
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else ""
        if key not in self.keys:
            raise ApiError(f"{version}.unauthorized")
        return key

    def _idempotent(self, request: Request, key: str,
                    run: Callable[[], tuple[Response, bool]]) -> Response:
        ikey = request.headers["Idempotency-Key"]
        if not IDEM_KEY.fullmatch(ikey):
            raise invalid("v3", "Idempotency-Key",
                          "Idempotency-Key must be 1-255 characters of [A-Za-z0-9_:.-]")
        scope = (key, request.method, request.path, ikey)
        state = self.state
        now = state.clock.now()
        with state.lock:
            record = state.idempotency.get(scope)
            if record is not None and now - record.started_at < IDEMPOTENCY_WINDOW:
                if record.status is None:
                    raise ApiError("v3.request_in_progress")
                return Response(record.body, record.status,
                                headers={**record.headers, "Idempotent-Replayed": "true"})
            state.idempotency[scope] = IdemRecord(started_at=now)
        response: Response | None = None
        keep = False
        try:
            response, keep = run()
            return response
        finally:
            with state.lock:
                if response is not None and keep and response.status_code < 500:
                    headers = {k: v for k, v in response.headers.items()
                               if k in ("Content-Type", "Retry-After")}
                    state.idempotency[scope] = IdemRecord(now, response.status_code, headers,
                                                          response.get_data())
                else:
                    state.idempotency.pop(scope, None)

    # ---------------------------------------------------------------- helpers
    def _ok(self, version: Version, data: Any, **extra: Any) -> Response:
        if version == "v1":
            body: dict[str, Any] = {"code": 100, "data": data, "msg": None, "message": None}
        elif version == "v2":
            body = {"error": None, "data": data}
        else:
            body = {"data": data, **extra}
        return Response(json.dumps(body), 200, mimetype="application/json")

    def _gate(self, feature: str, version: Version) -> None:
        plan = self.state.plan
        if feature in plan.gated_features:
            pid = "v1.tier_not_supported" if version == "v1" else "v3.forbidden"
            raise ApiError(pid, feature=feature, plan=plan.name)

    def _read_json(self, request: Request, version: Version, required: bool = True
                   ) -> dict[str, Any]:
        too_large = ApiError(f"{version}.payload_too_large", limit=JSON_LIMIT)
        if (request.content_length or 0) > JSON_LIMIT:
            raise too_large
        try:
            raw = get_input_stream(request.environ, max_content_length=JSON_LIMIT).read()
        except RequestEntityTooLarge:
            raise too_large from None
        if not raw.strip() and not required:
            return {}
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            raise ApiError(f"{version}.invalid_parameter",
                           detail="the request body must be a JSON object")
        return obj

    def _spool_body(self, request: Request, limit: int, too_large: ApiError) -> Spool:
        """Stream the raw body to a temp file in chunks (never whole into memory)."""
        try:
            stream = get_input_stream(request.environ, max_content_length=limit)
        except RequestEntityTooLarge:
            raise too_large from None
        spool = Spool(self.state.tmp_dir, limit)
        try:
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
        except (RequestEntityTooLarge, TooLarge):
            spool.discard()
            raise too_large from None
        except BaseException:
            spool.discard()
            raise
        spool.close()
        return spool

    def _file_url(self, name: str) -> str:
        return f"{self.api_base}/_files/{name}"

    def _sign(self, object_id: str, expires: int, size: int, content_type: str) -> str:
        msg = f"PUT\n{object_id}\n{expires}\n{size}\n{content_type}".encode()
        return hmac.new(self._signing_key, msg, hashlib.sha256).hexdigest()

    def _add_asset(self, spool: Spool, mime: str, name: str | None) -> Asset:
        state = self.state
        with state.lock:
            asset_id = state.new_id()
            spool.keep(state.object_path(asset_id))
            asset = Asset(asset_id, name or asset_id, mime, spool.size, int(state.clock.now()),
                          state.next_seq(), path=spool.path, sha256=spool.sha256)
            state.assets[asset_id] = asset
        return asset

    def _asset(self, asset_id: str) -> Asset:
        with self.state.lock:
            asset = self.state.assets.get(asset_id)
        if asset is None:
            raise ApiError("v3.not_found", param="asset_id", detail=f"asset {asset_id!r} not found")
        return asset

    def _v1_asset(self, a: Asset) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": a.asset_id, "name": a.name, "file_type": file_type(a.mime_type),
            "folder_id": "", "meta": None, "created_ts": a.created_ts,
            "url": self._file_url(a.asset_id)}
        if data["file_type"] == "image":
            data["image_key"] = f"image/{a.asset_id}/original"
        return data

    def _v3_asset(self, a: Asset, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "asset_id": a.asset_id, "url": self._file_url(a.asset_id) if a.status == "ready"
            else None, "mime_type": a.mime_type, "size_bytes": a.size_bytes}
        if full:
            data.update(status=a.status, filename=a.name, created_at=a.created_ts)
        return data

    # ---------------------------------------------------------------- upload host (v1)
    def _raw_upload(self, request: Request, allowed: tuple[str, ...]) -> Spool:
        environ = request.environ
        empty = request.content_length == 0 or (request.content_length is None
                                               and "wsgi.input_terminated" not in environ)
        if request.mimetype.startswith("multipart/") or empty:
            raise ApiError("v1.asset_data_missing")
        if request.mimetype not in allowed:
            raise ApiError("v1.unsupported_content_type",
                           content_type=request.headers.get("Content-Type", ""),
                           allowed=", ".join(allowed))
        spool = self._spool_body(request, V1_MAX_BYTES,
                                 ApiError("v1.payload_too_large", limit=V1_MAX_BYTES))
        if spool.size == 0:
            spool.discard()
            raise ApiError("v1.asset_data_missing")
        return spool

    def h_v1_asset_upload(self, request: Request) -> Response:
        """POST upload:/v1/asset -- raw bytes, Content-Type = the file's MIME type."""
        spool = self._raw_upload(request, V1_TYPES)
        return self._ok("v1", self._v1_asset(self._add_asset(spool, request.mimetype, None)))

    def h_v1_talking_photo(self, request: Request) -> Response:
        """POST upload:/v1/talking_photo -- raw JPEG/PNG bytes."""
        self._gate("talking_photo", "v1")
        spool = self._raw_upload(request, PHOTO_TYPES)
        state = self.state
        with state.lock:
            photo_id = state.new_id("tp_")
            spool.keep(state.object_path(photo_id))
            state.talking_photos[photo_id] = TalkingPhoto(photo_id, request.mimetype, spool.path,
                                                          int(state.clock.now()))
        return self._ok("v1", {"talking_photo_id": photo_id,
                               "talking_photo_url": self._file_url(photo_id)})

    # ---------------------------------------------------------------- API host: v1
    def h_wrong_host(self, request: Request) -> Response:
        """/v1/asset on the API host: the wrong-host mistake."""
        raise ApiError("v1.wrong_host")

    def h_v1_asset_list(self, request: Request) -> Response:
        """GET /v1/asset/list."""
        return self._ok("v1", {"assets": [self._v1_asset(a) for a in self.state.ready_assets()]})

    def h_v1_video_status(self, request: Request) -> Response:
        """GET /v1/video_status.get?video_id=..."""
        video_id = request.args.get("video_id", "")
        if not video_id:
            raise invalid("v1", "video_id", "video_id is required")
        with self.state.lock:
            video = self.state.videos.get(video_id)
        if video is None:
            raise ApiError("v1.video_not_found", video_id=video_id)
        return self._ok("v1", self._video_view(video, "v1"))

    # ---------------------------------------------------------------- v3 assets
    def h_v3_assets_upload(self, request: Request) -> Response:
        """POST /v3/assets -- multipart with one part named ``file``; MIME from the bytes."""
        too_large = ApiError("v3.payload_too_large", limit=V3_FILE_LIMIT)
        if request.mimetype != "multipart/form-data":
            raise invalid("v3", "file", "send multipart/form-data with one part named 'file'")
        if (request.content_length or 0) > V3_BODY_LIMIT:
            raise too_large
        spools: list[Spool] = []

        def factory(total_content_length: int | None, content_type: str | None,
                    filename: str | None, content_length: int | None = None) -> IO[bytes]:
            spools.append(Spool(self.state.tmp_dir, V3_FILE_LIMIT))
            return cast(IO[bytes], spools[-1])

        parser = FormDataParser(factory, max_form_memory_size=MIB, max_form_parts=100,
                                max_content_length=V3_BODY_LIMIT, silent=False)
        added: Spool | None = None
        try:
            try:
                _, form, files = parser.parse_from_environ(request.environ)
            except (RequestEntityTooLarge, TooLarge):
                raise too_large from None
            except ValueError as exc:
                raise invalid("v3", "file", f"malformed multipart body: {exc}") from None
            parts = files.getlist("file")
            streams = [cast(object, p.stream) for p in parts]
            kept = [s for s in spools if any(st is s for st in streams)]
            if not kept:
                raise invalid("v3", "file", "a file part is required: send exactly one part "
                              "named 'file' with a filename"
                              + " (the 'file' part has no filename)" * ("file" in form))
            if len(kept) > 1:
                raise invalid("v3", "file",
                              f"exactly one part named 'file' is allowed, got {len(kept)}")
            mime = sniff_mime(kept[0].head)
            if not kept[0].size:
                raise invalid("v3", "file", "the file is empty")
            if mime is None or mime not in V3_TYPES:
                raise invalid("v3", "file",
                              f"unsupported file type; allowed: {', '.join(V3_TYPES)}")
            asset = self._add_asset(kept[0], mime, parts[0].filename)
            added = kept[0]
        finally:
            for s in spools:
                if s is not added:
                    s.discard()
        return self._ok("v3", self._v3_asset(asset, full=False))

    def h_v3_assets_list(self, request: Request) -> Response:
        """GET /v3/assets?limit=&token= (cursor pagination)."""
        limit_arg = request.args.get("limit", "10")
        if not limit_arg.isdigit() or not 1 <= int(limit_arg) <= 100:
            raise invalid("v3", "limit", "limit must be an integer from 1 to 100")
        limit = int(limit_arg)
        token = request.args.get("token") or request.args.get("next_token")
        after = 0
        if token:
            try:
                after = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("seq:"))
            except (ValueError, binascii.Error, UnicodeError):
                raise invalid("v3", "token", "token is not a valid cursor") from None
        with self.state.lock:
            items = sorted((a for a in self.state.assets.values() if a.seq > after),
                           key=lambda a: a.seq)
        page = items[:limit]
        has_more = len(items) > limit
        next_token = (base64.urlsafe_b64encode(f"seq:{page[-1].seq}".encode()).decode()
                      if has_more else None)
        return self._ok("v3", [self._v3_asset(a) for a in page], has_more=has_more,
                        next_token=next_token)

    def h_v3_asset_get(self, request: Request, asset_id: str) -> Response:
        """GET /v3/assets/{id}."""
        return self._ok("v3", self._v3_asset(self._asset(asset_id)))

    def h_v3_asset_delete(self, request: Request, asset_id: str) -> Response:
        """DELETE /v3/assets/{id}."""
        with self.state.lock:
            asset = self._asset(asset_id)
            del self.state.assets[asset_id]
        if asset.path is not None:
            asset.path.unlink(missing_ok=True)
        return self._ok("v3", {"asset_id": asset_id, "deleted": True})

    # ---------------------------------------------------------------- direct uploads
    def h_v3_direct_init(self, request: Request) -> Response:
        """POST /v3/assets/direct-uploads -- a signed PUT URL with the size signed in."""
        self._gate("direct_upload", "v3")
        body = self._read_json(request, "v3")
        filename, content_type = _text(body, "filename"), _text(body, "content_type")
        size, checksum = _int(body.get("size_bytes")), _checksum(body)
        if filename is None or len(filename) > 255:
            raise invalid("v3", "filename", "filename is required (1-255 characters)")
        if content_type not in V3_TYPES:
            raise invalid("v3", "content_type",
                          f"content_type must be one of {', '.join(V3_TYPES)}")
        if size is None or not 1 <= size <= DIRECT_MAX_BYTES:
            raise invalid("v3", "size_bytes",
                          f"size_bytes must be an integer from 1 to {DIRECT_MAX_BYTES}")
        state = self.state
        with state.lock:
            asset_id = state.new_id()
            now = state.clock.now()
            expires = int(now) + DIRECT_EXPIRES
            state.assets[asset_id] = Asset(
                asset_id, filename, content_type, size, int(now), state.next_seq(),
                status="pending_upload", declared_checksum=checksum,
                expires_at=expires)
        sig = self._sign(asset_id, expires, size, content_type)
        return self._ok("v3", {
            "asset_id": asset_id,
            "upload_url": f"{self.api_base}/_storage/{asset_id}?expires={expires}&size={size}"
                          f"&sig={sig}",
            "upload_headers": {"Content-Type": content_type},
            "expires_in_seconds": DIRECT_EXPIRES, "max_bytes": DIRECT_MAX_BYTES,
            "status": "pending_upload"})

    def h_storage_put(self, request: Request, object_id: str) -> Response:
        """PUT /_storage/{id}?expires=&size=&sig= -- the object store behind upload URLs."""
        for header in ("X-Api-Key", "Authorization"):
            if header in request.headers:
                raise ApiError("storage.unsigned_header", header=header)
        try:
            expires, size = int(request.args["expires"]), int(request.args["size"])
            sig = request.args["sig"]
        except (KeyError, ValueError):
            raise ApiError("storage.signature_mismatch",
                           detail="missing or malformed expires/size/sig") from None
        expected = self._sign(object_id, expires, size, request.headers.get("Content-Type", ""))
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            raise ApiError("storage.signature_mismatch",
                           detail="object, size, expiry or Content-Type differ from the signed")
        if self.state.clock.now() > expires:
            raise ApiError("storage.expired")
        gone = ApiError("storage.no_such_upload", detail=f"no pending upload {object_id}")
        with self.state.lock:
            asset = self.state.assets.get(object_id)
        if asset is None or asset.status != "pending_upload":
            raise gone
        if request.content_length is None:
            raise ApiError("storage.missing_length")
        if request.content_length != size:
            raise ApiError("storage.size_mismatch", size=request.content_length, signed=size)
        spool = self._spool_body(request, size, ApiError("storage.size_mismatch", size=f"> {size}",
                                                         signed=size))
        with self.state.lock:
            if self.state.assets.get(object_id) is not asset or asset.status != "pending_upload":
                spool.discard()
                raise gone
            spool.keep(self.state.object_path(object_id))
            asset.path, asset.sha256, asset.size_bytes = spool.path, spool.sha256, spool.size
        return Response(b"", 200, headers={"ETag": f'"{spool.sha256[:32]}"'})

    def h_v3_direct_complete(self, request: Request, asset_id: str) -> Response:
        """POST /v3/assets/{id}/complete -- verify checksum and type; idempotent."""
        body = self._read_json(request, "v3", required=False)
        checksum = _checksum(body)
        with self.state.lock:
            asset = self._asset(asset_id)
            if asset.status == "ready":
                return self._ok("v3", self._v3_asset(asset, full=False) | {"status": "ready"})
            if asset.path is None:
                raise ApiError("v3.upload_not_found_yet")
            if self.state.complete_race and not asset.raced:
                asset.raced = True
                raise ApiError("v3.upload_not_found_yet")
            expected = checksum or asset.declared_checksum
            if expected and expected != asset.sha256:
                raise invalid("v3", "checksum_sha256",
                              "checksum_sha256 does not match the uploaded bytes")
            with asset.path.open("rb") as fh:
                actual = sniff_mime(fh.read(Spool.HEAD))
            if actual != asset.mime_type:
                raise invalid("v3", "content_type",
                              f"declared content_type {asset.mime_type} but the uploaded "
                              f"bytes are {actual or 'of an unsupported type'}")
            asset.status = "ready"
        return self._ok("v3", self._v3_asset(asset, full=False) | {"status": "ready"})

    # ---------------------------------------------------------------- videos
    def _check_character(self, c: Any, at: str, version: Version) -> None:
        if not isinstance(c, dict):
            raise invalid(version, f"{at}.character", f"{at}.character must be an object")
        kind = c.get("type")
        if kind == "avatar":
            avatar_id = _text(c, "avatar_id")
            if avatar_id is None:
                raise invalid(version, f"{at}.character.avatar_id",
                              f"{at}.character.avatar_id is required")
            if avatar_id not in {a["avatar_id"] for a in AVATARS}:
                raise ApiError(f"{version}.avatar_not_found", param=f"{at}.character.avatar_id",
                               what="avatar", avatar_id=avatar_id)
        elif kind == "talking_photo":
            photo_id = _text(c, "talking_photo_id")
            if photo_id is None:
                raise invalid(version, f"{at}.character.talking_photo_id",
                              f"{at}.character.talking_photo_id is required")
            with self.state.lock:
                known = photo_id in self.state.talking_photos
            if not known and photo_id not in {p["talking_photo_id"] for p in TALKING_PHOTOS}:
                raise ApiError(f"{version}.avatar_not_found", what="talking photo",
                               param=f"{at}.character.talking_photo_id", avatar_id=photo_id)
        else:
            raise invalid(version, f"{at}.character.type",
                          "character.type must be 'avatar' or 'talking_photo'")

    def _check_source(self, obj: dict[str, Any], at: str, url_key: str, asset_key: str,
                      kind: str, version: Version) -> None:
        """Exactly one of a URL or an existing asset of the right kind."""
        given = [k for k in (url_key, asset_key) if obj.get(k) not in (None, "")]
        if len(given) != 1:
            raise invalid(version, at, f"{at}: exactly one of {url_key} / {asset_key} is required")
        value = obj[given[0]]
        if given[0] == url_key:
            if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
                raise invalid(version, f"{at}.{url_key}", f"{at}.{url_key} must be an http(s) URL")
            return
        with self.state.lock:
            asset = self.state.assets.get(value) if isinstance(value, str) else None
        if asset is None or asset.status != "ready":
            raise ApiError(f"{version}.not_found", param=f"{at}.{asset_key}",
                           detail=f"asset {value!r} not found")
        if file_type(asset.mime_type) != kind:
            raise invalid(version, f"{at}.{asset_key}",
                          f"asset {value!r} is {asset.mime_type}, not {kind}")

    def _check_scenes(self, body: dict[str, Any], version: Version) -> tuple[float, bool]:
        """Validate ``video_inputs``; return (simulated duration, whether the render fails)."""
        scenes = body.get("video_inputs")
        if not isinstance(scenes, list) or not 1 <= len(scenes) <= 50:
            raise invalid(version, "video_inputs", "video_inputs must be a list of 1 to 50 scenes")
        duration, fails = 0.0, False
        for i, scene in enumerate(scenes):
            at = f"video_inputs[{i}]"
            if not isinstance(scene, dict):
                raise invalid(version, at, f"{at} must be an object")
            self._check_character(scene.get("character"), at, version)
            voice = scene.get("voice")
            vkind = voice.get("type") if isinstance(voice, dict) else None
            if isinstance(voice, dict) and vkind == "text":
                voice_id, text = _text(voice, "voice_id"), _text(voice, "input_text")
                if voice_id is None or text is None or len(text) > 5000:
                    raise invalid(version, f"{at}.voice",
                                  f"{at}.voice needs voice_id and input_text (1-5000 characters)")
                if voice_id not in {v["voice_id"] for v in VOICES}:
                    raise ApiError(f"{version}.voice_not_found", param=f"{at}.voice.voice_id",
                                   voice_id=voice_id)
                duration += max(1.0, len(text.split()) / 2.5)
                fails = fails or FAIL_MARKER in text
            elif isinstance(voice, dict) and vkind == "audio":
                self._check_source(voice, f"{at}.voice", "audio_url", "audio_asset_id", "audio",
                                   version)
                duration += 10.0
            else:
                raise invalid(version, f"{at}.voice",
                              f"{at}.voice must be an object with type 'text' or 'audio'")
            bg = scene.get("background")
            if bg is None:
                continue
            bkind = bg.get("type") if isinstance(bg, dict) else None
            if isinstance(bg, dict) and bkind == "color":
                if not COLOR.fullmatch(str(bg.get("value", bg.get("color", "")))):
                    raise invalid(version, f"{at}.background",
                                  "a color background needs value '#rrggbb'")
            elif isinstance(bg, dict) and bkind in ("image", "video"):
                self._check_source(bg, f"{at}.background", "url", f"{bkind}_asset_id",
                                   str(bkind), version)
            else:
                raise invalid(version, f"{at}.background",
                              "background.type must be color, image or video")
        dim = body.get("dimension")
        if dim is not None and not (isinstance(dim, dict) and all(
                (_int(dim.get(k)) or 0) in range(1, 4097) for k in ("width", "height"))):
            raise invalid(version, "dimension",
                          "dimension needs integer width and height from 1 to 4096")
        return duration, fails

    def _create_video(self, request: Request, version: Version) -> Video:
        body = self._read_json(request, version)
        duration, fails = self._check_scenes(body, version)
        state, plan = self.state, self.state.plan
        with state.lock:
            if plan.daily_video_cap is not None and state.videos_today() >= plan.daily_video_cap:
                raise ApiError(f"{version}.trial_video_limit_exceeded", limit=plan.daily_video_cap)
            if state.credits < plan.video_cost:
                raise ApiError(f"{version}.insufficient_credit", balance=state.credits,
                               cost=plan.video_cost)
            state.credits -= plan.video_cost
            state.credits_used += plan.video_cost
            state.videos_per_day[state.day()] = state.videos_today() + 1
            title = body.get("title")
            video = Video(state.new_id(), state.clock.now(), duration, fails,
                          title if isinstance(title, str) else None)
            state.videos[video.video_id] = video
        return video

    def _video_view(self, video: Video, version: Version) -> dict[str, Any]:
        status = self.state.status(video)
        done = status == "completed"
        data: dict[str, Any] = {
            "id" if version == "v1" else "video_id": video.video_id, "status": status,
            "created_at": int(video.created_at),
            "duration": round(video.duration, 2) if done else None,
            "video_url": self._file_url(f"{video.video_id}.mp4") if done else None,
            "thumbnail_url": self._file_url(f"{video.video_id}.png") if done else None,
            "error": error_object(f"{version}.video_render_failed", self.overrides)
            if status == "failed" else None}
        if version == "v1":
            data["callback_id"] = None
        else:
            data["title"] = video.title
        return data

    def h_v2_video_generate(self, request: Request) -> Response:
        """POST /v2/video/generate."""
        return self._ok("v2", {"video_id": self._create_video(request, "v2").video_id})

    def h_v3_video_create(self, request: Request) -> Response:
        """POST /v3/videos."""
        video = self._create_video(request, "v3")
        return self._ok("v3", {"video_id": video.video_id, "status": "pending",
                               "created_at": int(video.created_at)})

    def h_v3_video_get(self, request: Request, video_id: str) -> Response:
        """GET /v3/videos/{id}."""
        with self.state.lock:
            video = self.state.videos.get(video_id)
        if video is None:
            raise ApiError("v3.video_not_found", param="video_id", video_id=video_id)
        return self._ok("v3", self._video_view(video, "v3"))

    # ---------------------------------------------------------------- catalogue and account
    def h_v2_avatars(self, request: Request) -> Response:
        """GET /v2/avatars."""
        preview = self._file_url("preview.png")
        with self.state.lock:
            uploaded = [{"talking_photo_id": p.talking_photo_id,
                         "talking_photo_name": p.talking_photo_id,
                         "preview_image_url": self._file_url(p.talking_photo_id)}
                        for p in self.state.talking_photos.values()]
        return self._ok("v2", {
            "avatars": [{**a, "preview_image_url": preview, "preview_video_url": None,
                         "premium": False} for a in AVATARS],
            "talking_photos": [{**p, "preview_image_url": preview} for p in TALKING_PHOTOS]
            + uploaded})

    def h_v2_voices(self, request: Request) -> Response:
        """GET /v2/voices."""
        return self._ok("v2", {"voices": [{**v, "preview_audio": None, "support_pause": True,
                                           "emotion_support": False} for v in VOICES]})

    def h_v2_remaining_quota(self, request: Request) -> Response:
        """GET /v2/user/remaining_quota (credits; for a free capped plan: videos left today)."""
        plan, state = self.state.plan, self.state
        with state.lock:
            if plan.video_cost == 0 and plan.daily_video_cap is not None:
                remaining = max(0, plan.daily_video_cap - state.videos_today())
            else:
                remaining = state.credits
        return self._ok("v2", {"remaining_quota": remaining})

    def h_v3_user(self, request: Request) -> Response:
        """GET /v3/users/me -- the user plus exactly one billing block."""
        plan, state = self.state.plan, self.state
        with state.lock:
            blocks: dict[str, dict[str, Any]] = {
                "subscription": {"plan": plan.name, "remaining_credits": state.credits},
                "wallet": {"balance": state.credits, "currency": "credits"},
                "usage_based": {"credits_used": state.credits_used},
            }
        return self._ok("v3", {"user_id": "emu_user", "username": "emulator",
                               "email": "demo@emulator.invalid", "plan": plan.name,
                               plan.billing: blocks[plan.billing]})

    def h_files_get(self, request: Request, name: str) -> Response:
        """GET /_files/{name} -- asset bytes, talking photos, rendered videos, thumbnails."""
        state = self.state
        with state.lock:
            asset = state.assets.get(name)
            photo = state.talking_photos.get(name)
            video = state.videos.get(name.rpartition(".")[0])
            rendered = video is not None and state.status(video) == "completed"
        target = (asset.path, asset.mime_type) if asset and asset.status == "ready" else None
        if photo is not None:
            target = (photo.path, photo.mime_type)
        if target is not None and target[0] is not None:
            try:
                fh = target[0].open("rb")
            except FileNotFoundError:  # deleted meanwhile
                raise ApiError("storage.not_found") from None
            size = os.fstat(fh.fileno()).st_size
            return Response(wrap_file(request.environ, fh), 200, mimetype=target[1],
                            headers={"Content-Length": str(size)}, direct_passthrough=True)
        if name == "preview.png" or (rendered and name.endswith(".png")):
            return Response(tiny_png(), 200, mimetype="image/png")
        if rendered and name.endswith(".mp4"):
            return Response(TINY_MP4, 200, mimetype="video/mp4")
        raise ApiError("storage.not_found")
