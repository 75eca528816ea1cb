"""HeyGenClient: one request loop (build, send, retry, decode, raise) and the endpoint methods.

Every endpoint method goes through :meth:`HeyGenClient.exchange`, which returns what was sent
and what came back; :meth:`HeyGenClient.call` raises the matching
:class:`~heygen_lab.errors.APIError`(with its diagnosis)
when the response said no. The contract runner, the widgets and the CLI use
the same two methods, so a passing contract exercised the code a user calls.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from urllib3.util import SKIP_HEADER

from heygen_lab import __version__, uploads
from heygen_lab.diagnose import Diagnosis, Sent, diagnose
from heygen_lab.envelopes import Decoded, decode
from heygen_lab.errors import (
    APIError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    HeyGenError,
    MediaError,
    Redactor,
    RequestTimeout,
    error_for,
)
from heygen_lab.media import (
    AUTO_DIRECT_ABOVE,
    TALKING_PHOTO_TYPES,
    V1_TYPES,
    V3_MAX_BYTES,
    V3_TYPES,
    Media,
    Source,
    file_type,
    load_media,
)
from heygen_lab.retry import RetryPolicy, parse_retry_after, retry_delay, should_retry
from heygen_lab.routes import Host, Route, route
from heygen_lab.settings import Secret, Settings, Timeouts
from heygen_lab.uploads import Payload, Progress

Via = Literal["auto", "v3", "direct", "v1", "v1-multipart-file", "v1-multipart-type-asset"]
VIAS: tuple[str, ...] = ("auto", "v3", "direct", "v1", "v1-multipart-file",
                         "v1-multipart-type-asset")
"""Upload routes. The two ``v1-multipart-*`` ones reproduce the classic mistakes on purpose."""

_TEXT_PREVIEW = 2000


@dataclass(frozen=True)
class Exchange:
    """One request and its final response (after retries)."""

    route: Route
    method: str
    url: str = field(repr=False)  # a signed storage URL carries its signature
    sent: Sent
    status: int
    headers: Mapping[str, str]
    body: Any
    text: str
    decoded: Decoded
    attempts: int
    diagnosis: Diagnosis | None = None
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.decoded.ok

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))

    def error(self) -> APIError | None:
        """The error this response amounts to, or None when it succeeded."""
        if self.decoded.error is None:
            return None
        return error_for(method=self.method, url=self.url, record=self.decoded.error,
                         diagnosis=self.diagnosis, retry_after=self.retry_after,
                         redactor=self.redactor)


@dataclass(frozen=True)
class Asset:
    """An uploaded asset, normalised across the v1 and v3 responses."""

    id: str
    url: str | None
    mime_type: str
    size: int
    file_type: str
    via: str
    image_key: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VideoStatus:
    """A video's state: pending, waiting, processing, completed or failed."""

    video_id: str
    status: str
    video_url: str | None = None
    error: Any = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status in {"completed", "failed"}


class HeyGenClient:
    """A small client for HeyGen's API.

    Each setting comes from the argument, else the environment (``HEYGEN_API_KEY``,
    ``HEYGEN_API_BASE``, ``HEYGEN_UPLOAD_BASE``), else the default hosts.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        api_base: str | None = None,
        upload_base: str | None = None,
        timeout: float | Timeouts | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        env: Mapping[str, str] | None = None,
        seed: int | None = None,
    ) -> None:
        self.settings = Settings.resolve(api_key, api_base=api_base, upload_base=upload_base,
                                         timeout=timeout, max_retries=max_retries, env=env)
        self.retry_policy = retry_policy or RetryPolicy(max_retries=self.settings.max_retries)
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = f"heygen-lab/{__version__}"
        self._sleep = sleep
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        key = "set" if self.settings.api_key else "unset"
        return (f"HeyGenClient(api_base={self.settings.api_base!r}, "
                f"upload_base={self.settings.upload_base!r}, api_key={key})")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HeyGenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the request loop
    def url_for(self, route_id: str, **path_params: str) -> str:
        """The absolute URL of a route on the configured hosts."""
        r = route(route_id)
        base = self.settings.upload_base if r.host == "upload" else self.settings.api_base
        return base + r.path.format(**path_params)

    def exchange(
        self,
        route_id: str,
        *,
        url: str | None = None,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        payload: Payload | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        on_progress: Progress | None = None,
    ) -> Exchange:
        """Send one request (retrying as the policy allows) and return what came back.

        ``url`` overrides the route's URL: the direct-upload PUT and the wrong-host probe use it.
        Headers whose value is ``None`` in ``headers`` are not sent.
        """
        r = route(route_id)
        target = url or self.url_for(route_id, **(path_params or {}))
        parts = urlsplit(target)
        host_kind: Host = "storage" if r.host == "storage" else self._host_kind(target)
        sent_headers: dict[str, str | None] = dict(payload.headers if payload else {})
        sent_headers.update(headers or {})
        if auth:
            if self.settings.api_key is None:
                raise ConfigurationError(
                    "no API key: set HEYGEN_API_KEY or pass api_key=...; to try the toolkit "
                    "without one, run against the emulator (heygen-lab serve)"
                )
            sent_headers["X-Api-Key"] = self.settings.api_key.reveal()
        repeatable = r.idempotent or "Idempotency-Key" in sent_headers
        timeout = self._timeout(r, payload)
        base_sent = payload.sent if payload else Sent(encoding="empty", size=0)
        sent = replace(base_sent, route=r.id, host=host_kind, path=parts.path,
                       keyed="Idempotency-Key" in sent_headers)
        method = r.method
        attempt = 0
        while True:
            try:
                with (payload.open(on_progress) if payload else nullcontext()) as body:
                    response = self._session.request(
                        method, target, params=params, data=body, headers=sent_headers,
                        timeout=timeout, allow_redirects=False,
                    )
            except requests.RequestException as exc:
                if should_retry(attempt=attempt, policy=self.retry_policy, status=None,
                                network_error=True, repeatable=repeatable):
                    self._pause(attempt, None)
                    attempt += 1
                    continue
                if isinstance(exc, requests.Timeout):
                    note = "" if repeatable else "; the request may have been acted on"
                    raise RequestTimeout(
                        f"{method} {target}: no response within {timeout:g}s{note}",
                        method=method, url=target,
                    ) from None
                raise ConnectError(
                    f"{method} {target}: no response ({type(exc).__name__}); check the URL "
                    "and that the server is reachable", method=method, url=target,
                ) from None
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not response.ok and should_retry(
                attempt=attempt, policy=self.retry_policy, status=response.status_code,
                network_error=False, repeatable=repeatable, code=_error_code(response),
            ):
                self._pause(attempt, retry_after)
                attempt += 1
                continue
            return self._finish(r, method, target, sent, response, attempt + 1)

    def _host_kind(self, url: str) -> Host:
        """Which configured host ``url`` is on: the longest matching base wins and a tie (both
        bases set to the same URL) counts as the API host, so a legacy upload sent there is
        diagnosed as the wrong-host mistake."""
        api, upload = self.settings.api_base, self.settings.upload_base
        on_api = _under(url, api)
        on_upload = _under(url, upload)
        if on_api and (not on_upload or len(api) >= len(upload)):
            return "api"
        return "upload" if on_upload else "storage"

    def call(self, route_id: str, **kwargs: Any) -> Decoded:
        """Like :meth:`exchange`, but raise the matching APIError when the response said no."""
        ex = self.exchange(route_id, **kwargs)
        err = ex.error()
        if err is not None:
            raise err
        return ex.decoded

    @cached_property
    def _redactor(self) -> Redactor:
        key = self.settings.api_key
        return Redactor.for_secrets(key.reveal() if key is not None else None)

    def _finish(self, r: Route, method: str, url: str, sent: Sent,
                response: requests.Response, attempts: int) -> Exchange:
        content = response.content
        redact = self._redactor
        # Whatever a server echoes (the key, a signed URL's signature) is masked before the
        # response is kept; HeyGen's routes must answer with an envelope, storage need not.
        headers = {k: redact.text(v) for k, v in response.headers.items()}
        request_id = headers.get("X-Request-Id") or headers.get("x-request-id")
        decoded = decode(response.status_code, content, request_id=request_id,
                         expect_envelope=r.style != "none")
        if decoded.error is not None:
            decoded = replace(decoded, error=redact.record(decoded.error),
                              body=redact.value(decoded.body))
        diagnosis = diagnose(decoded.error, sent) if decoded.error else None
        return Exchange(
            route=r, method=method, url=url, sent=sent, status=response.status_code,
            headers=headers, body=decoded.body,
            text=redact.text(content[:_TEXT_PREVIEW].decode("utf-8", "replace")),
            decoded=decoded, attempts=attempts, diagnosis=diagnosis, redactor=redact,
        )

    def _timeout(self, r: Route, payload: Payload | None) -> float:
        t = self.settings.timeouts
        if payload is not None and payload.sent.encoding in {"raw", "multipart"}:
            return t.upload
        return t.read if r.method == "GET" else t.write

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        self._sleep(retry_delay(attempt, self.retry_policy, retry_after, self._rng))

    # ------------------------------------------------------------------ uploads
    def upload_asset(
        self,
        file: Source | Media,
        *,
        via: Via | str = "auto",
        content_type: str | None = None,
        name: str | None = None,
        on_progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        """Upload a file (path, bytes or binary file object) by one of the documented routes.

        ``via="auto"`` uses v3 up to 32 MB (32,000,000 bytes) and the direct upload above.
        Everything about the file is checked before a byte is sent.
        """
        if via not in VIAS:
            raise ConfigurationError(f"via must be one of {', '.join(VIAS)}; got {via!r}")
        media = file if isinstance(file, Media) else load_media(
            file, content_type=content_type, name=name)
        if via == "auto":
            via = "v3" if media.size <= AUTO_DIRECT_ABOVE else "direct"
        if via == "v3":
            return self._upload_v3(media, on_progress, idempotency_key)
        if via == "direct":
            return self._upload_direct(media, on_progress)
        media.check(V1_TYPES, route="the legacy v1 upload")
        if via == "v1":
            payload = uploads.raw(media)
        elif via == "v1-multipart-file":  # the v3 part name, sent to v1: gets 40001
            payload = uploads.multipart(media, file_field="file")
        else:  # fields type + asset, as in the seed note: gets 40001 too
            payload = uploads.multipart(media, file_field="asset",
                                        fields={"type": media.file_type})
        data = self.call("v1-upload", payload=payload, on_progress=on_progress).data or {}
        return Asset(
            id=str(data.get("id", "")), url=data.get("url"), mime_type=media.mime_type,
            size=media.size, file_type=str(data.get("file_type") or media.file_type),
            via=via, image_key=data.get("image_key"), raw=data,
        )

    def upload_image(self, file: Source, **kwargs: Any) -> Asset:
        """Upload an image (PNG or JPEG); refuses any other kind before sending."""
        return self._upload_kind("image", file, **kwargs)

    def upload_audio(self, file: Source, **kwargs: Any) -> Asset:
        """Upload audio (MP3 or WAV)."""
        return self._upload_kind("audio", file, **kwargs)

    def upload_video(self, file: Source, **kwargs: Any) -> Asset:
        """Upload a video (MP4 or WebM)."""
        return self._upload_kind("video", file, **kwargs)

    def _upload_kind(self, kind: str, file: Source, **kwargs: Any) -> Asset:
        media = load_media(file, content_type=kwargs.pop("content_type", None),
                           name=kwargs.pop("name", None))
        if media.file_type != kind:
            raise MediaError(f"{media.name}: expected {kind}, but the bytes are {media.mime_type}; "
                             f"use upload_{media.file_type}() or upload_asset()")
        return self.upload_asset(media, **kwargs)

    def _upload_v3(self, media: Media, on_progress: Progress | None,
                   idempotency_key: str | None) -> Asset:
        media.check(V3_TYPES, route="v3 /v3/assets", max_bytes=V3_MAX_BYTES,
                    hint="use via='direct' (or 'auto') for files over 32 MiB")
        key = idempotency_key or f"heygen-lab-{uuid.uuid4().hex}"
        data = self.call("v3-upload", payload=uploads.multipart(media, file_field="file"),
                         headers={"Idempotency-Key": key}, on_progress=on_progress).data or {}
        return _v3_asset(data, media, "v3")

    def _upload_direct(self, media: Media, on_progress: Progress | None) -> Asset:
        media.check(V3_TYPES, route="the v3 direct upload")
        init = self.call("direct-init", payload=uploads.json_body({
            "filename": media.name, "content_type": media.mime_type,
            "size_bytes": media.size, "checksum_sha256": media.sha256,
        })).data or {}
        asset_id, upload_url = str(init.get("asset_id", "")), init.get("upload_url")
        if not asset_id or not isinstance(upload_url, str):
            raise HeyGenError("the direct-upload init response has no asset_id or upload_url")
        max_bytes = init.get("max_bytes")
        if isinstance(max_bytes, int):
            media.check(V3_TYPES, route="this direct upload", max_bytes=max_bytes)
        signed = {str(k): str(v) for k, v in (init.get("upload_headers") or {}).items()}
        # Exactly the signed headers: no key, no client defaults that could break the signature.
        # None drops a session default; SKIP_HEADER also stops urllib3/http.client from adding
        # their own User-Agent and "Accept-Encoding: identity".
        put_headers: dict[str, Any] = {"User-Agent": SKIP_HEADER, "Accept": None,
                                       "Accept-Encoding": SKIP_HEADER, "Connection": None,
                                       **signed}
        self.call("direct-put", url=upload_url, auth=False,
                  payload=uploads.raw(media).with_headers(put_headers), on_progress=on_progress)
        attempts = max(3, self.retry_policy.max_retries + 1)
        for attempt in range(attempts):
            try:
                data = self.call("direct-complete", path_params={"asset_id": asset_id},
                                 payload=uploads.json_body({"checksum_sha256": media.sha256})).data
                return _v3_asset(data or {}, media, "direct")
            except ConflictError as exc:  # the PUT may not be visible yet; HeyGen's CLI retries
                if attempt + 1 == attempts:
                    raise
                self._pause(attempt, exc.retry_after)
        raise AssertionError("unreachable")

    def upload_talking_photo(self, file: Source) -> dict[str, Any]:
        """Upload a JPEG/PNG to the legacy talking-photo endpoint (raw bytes)."""
        media = load_media(file)
        media.check(TALKING_PHOTO_TYPES, route="the legacy talking-photo upload")
        return dict(self.call("v1-talking-photo", payload=uploads.raw(media)).data or {})

    # ------------------------------------------------------------------ assets
    def list_assets(self, *, limit: int | None = None, token: str | None = None) -> dict[str, Any]:
        """One page of assets: ``{"data": [...], "has_more": bool, "next_token": str | None}``."""
        params = {k: v for k, v in {"limit": limit, "token": token}.items() if v is not None}
        return dict(self.call("v3-asset-list", params=params).body or {})

    def iter_assets(self, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every asset, following ``next_token`` cursors."""
        token: str | None = None
        while True:
            page = self.list_assets(limit=limit, token=token)
            yield from page.get("data") or []
            token = page.get("next_token")
            if not page.get("has_more") or not token:
                return

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        return dict(self.call("v3-asset-get", path_params={"asset_id": asset_id}).data or {})

    def delete_asset(self, asset_id: str) -> None:
        self.call("v3-asset-delete", path_params={"asset_id": asset_id})

    def list_assets_v1(self) -> Any:
        """The legacy asset list (v1 envelope)."""
        return self.call("v1-asset-list").data

    # ------------------------------------------------------------------ video
    def generate_video(self, request: Mapping[str, Any], *, via: str = "v2") -> str:
        """Start a video (``via`` v2 legacy ``/v2/video/generate`` or v3 ``/v3/videos``)."""
        route_id = {"v2": "v2-video-generate", "v3": "v3-video-create"}.get(via)
        if route_id is None:
            raise ConfigurationError(f"via must be 'v2' or 'v3'; got {via!r}")
        data = self.call(route_id, payload=uploads.json_body(dict(request))).data or {}
        return str(data["video_id"])

    def video_status(self, video_id: str, *, via: str = "v1") -> VideoStatus:
        """A video's status (``via`` v1 legacy ``video_status.get`` or v3 ``/v3/videos/{id}``)."""
        if via == "v1":
            data = self.call("v1-video-status", params={"video_id": video_id}).data or {}
        elif via == "v3":
            data = self.call("v3-video-get", path_params={"video_id": video_id}).data or {}
        else:
            raise ConfigurationError(f"via must be 'v1' or 'v3'; got {via!r}")
        return VideoStatus(video_id=video_id, status=str(data.get("status", "")),
                           video_url=data.get("video_url"), error=data.get("error"), raw=data)

    def wait_for_video(self, video_id: str, *, via: str = "v1", timeout: float = 1800.0,
                       interval: float = 10.0) -> VideoStatus:
        """Poll until the video is completed or failed; raise HeyGenError after ``timeout``."""
        waited = 0.0
        while True:
            status = self.video_status(video_id, via=via)
            if status.done:
                return status
            if waited >= timeout:
                raise HeyGenError(f"video {video_id} still {status.status!r} after {timeout:g}s; "
                                  "poll again later with video_status()")
            self._sleep(interval)
            waited += interval

    # ------------------------------------------------------------------ catalogue, account
    def list_avatars(self) -> dict[str, Any]:
        """``{"avatars": [...], "talking_photos": [...]}``."""
        return dict(self.call("v2-avatars").data or {})

    def list_voices(self) -> list[dict[str, Any]]:
        return list((self.call("v2-voices").data or {}).get("voices") or [])

    def remaining_quota(self) -> int:
        return int((self.call("v2-quota").data or {}).get("remaining_quota", 0))

    def me(self) -> dict[str, Any]:
        """The current user with its billing block (v3)."""
        return dict(self.call("v3-me").data or {})


def _error_code(response: requests.Response) -> str | int | None:
    """The error code a refused response carries (any envelope), for the retry policy."""
    error = decode(response.status_code, response.content).error
    return None if error is None else error.code


def _under(url: str, base: str) -> bool:
    """Whether ``url`` is ``base`` or a path below it (not merely sharing a prefix)."""
    return url == base or url.startswith(base + "/") or url.startswith(base + "?")


def _v3_asset(data: Mapping[str, Any], media: Media, via: str) -> Asset:
    mime = str(data.get("mime_type") or media.mime_type)
    return Asset(
        id=str(data.get("asset_id", "")), url=data.get("url"), mime_type=mime,
        size=int(data.get("size_bytes") or media.size), file_type=file_type(mime), via=via,
        raw=data,
    )
