"""HeyGenClient: one request loop (build, send, retry, decode, raise) and the endpoint methods.

Every endpoint method goes through :meth:`HeyGenClient.exchange`, which returns what was sent
and what came back; :meth:`HeyGenClient.call` raises the matching
:class:`~heygen_lab.errors.APIError`(with its diagnosis)
when the response said no. The contract runner, the widgets and the CLI use
the same two methods, so a passing contract exercised the code a user calls.

v3 comes first: every one of the 85 v3 operations of :mod:`heygen_lab.spec` is callable by its
name (:meth:`HeyGenClient.operation`), checked against the spec before anything is sent, and the
endpoint methods (``create_video``, ``list_assets``, ``me``...) speak v3. The v1/v2 methods stay,
named ``legacy_*``.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util import SKIP_HEADER

from heygen_lab import __version__, uploads
from heygen_lab.diagnose import Diagnosis, diagnose
from heygen_lab.envelopes import Decoded, decode
from heygen_lab.errors import (
    APIError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    HeyGenError,
    InvalidRequestError,
    MediaError,
    NotFoundError,
    PermissionDeniedError,
    Redactor,
    RequestTimeout,
    ResponseLost,
    ServerError,
    error_for,
)
from heygen_lab.media import (
    AUTO_DIRECT_ABOVE,
    TALKING_PHOTO_TYPES,
    V1_TYPES,
    V3_MAX_BYTES,
    V3_TYPES,
    Fingerprint,
    Media,
    Source,
    file_type,
    load_media,
)
from heygen_lab.retry import (
    UPLOAD_RETRIES,
    RetryPolicy,
    parse_retry_after,
    retry_delay,
    should_retry,
    upload_policy,
)
from heygen_lab.routes import Route, operation_route, route
from heygen_lab.settings import Secret, Settings, Timeouts
from heygen_lab.spec import Operation, Violation, load_spec
from heygen_lab.uploads import Payload, Progress
from heygen_lab.wire import Host, Sent

Via = Literal["auto", "v3", "direct", "v1", "v1-multipart-file", "v1-multipart-type-asset"]
VIAS: tuple[str, ...] = ("auto", "v3", "direct", "v1", "v1-multipart-file",
                         "v1-multipart-type-asset")
"""Upload routes. The two ``v1-multipart-*`` ones reproduce the classic mistakes on purpose."""

_TEXT_PREVIEW = 2000

VideoType = Literal["avatar", "image", "cinematic_avatar", "studio"]
"""The four kinds of ``POST /v3/videos`` body (its ``type`` discriminator)."""

QueryValue = str | int | float | bool | Sequence[str] | None
"""A query value as callers give it: numbers and booleans are sent as HeyGen spells them,
a sequence as a repeated name, ``None`` not at all."""

IDEMPOTENCY_KEY_OPERATIONS: frozenset[str] = frozenset({
    "AssetCreate", "AssetDirectUploadsCreate", "AssetDirectUploadsBatchesCreate",
    "AvatarCreate", "AvatarConsentCreate", "LipsyncCreate", "VideoCreate",
    "VideoTranslateCreate", "VideoTranslateProofreadsCreate", "VideoTranslateProofreadsGenerate",
    "WebhookEndpointsCreate", "WebhookEndpointsRotateSecret",
})
"""The v3 POSTs HeyGen documents as honouring ``Idempotency-Key`` (heygen-api-sources.md §2.3).
:meth:`HeyGenClient.operation` sends each call a fresh key (or the caller's), so the request loop
may retry them after a 5xx or a dropped connection without acting twice."""

_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_:.-]{1,255}")
DEFAULT_POOL_MAXSIZE = 32
"""Connections kept per host: a client shared by up to this many threads never opens and
discards extra ones (requests' own default is 10)."""
_KEYS_REMEMBERED = 4096
_BILLING_BLOCKS = ("wallet", "subscription", "usage_based")


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
    """A video's state: pending, (legacy: waiting,) processing, completed or failed.

    Normalised across v3 (``GET /v3/videos/{id}``: ``failure_code``, ``failure_message``) and
    the legacy v1 status (``data.error`` ``{code, detail, message}``, kept in ``error``), so
    ``failure_code`` and ``failure_message`` say why a failed video failed either way.
    """

    video_id: str
    status: str
    video_url: str | None = None
    error: Any = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    failure_code: str | None = None
    failure_message: str | None = None
    thumbnail_url: str | None = None

    @property
    def id(self) -> str:
        """The video's id (v3 calls it ``id``)."""
        return self.video_id

    @property
    def done(self) -> bool:
        return self.status in {"completed", "failed"}

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class Page:
    """One page of a paginated v3 operation.

    ``items`` are its entries in the spec's shape; ``has_more`` and ``next_token`` say whether
    another page follows and how to ask for it (``token=next_token``). ``data`` is the whole
    decoded ``data``: for the batch pages (``VideoBatchesGet`` and kin) the batch itself, whose
    ``items`` are the page. A page iterates over its items.
    """

    items: list[Any]
    has_more: bool = False
    next_token: str | None = None
    data: Any = field(default=None, repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_body(cls, body: Any) -> Page:
        """The page in a v3 list body (``{"data": [...], "has_more", "next_token"}``) or batch
        body (``{"data": {"items": [...], "has_more", "next_token", ...}}``)."""
        outer = body if isinstance(body, dict) else {}
        data = outer.get("data")
        holder = data if isinstance(data, dict) else outer
        items = data if isinstance(data, list) else holder.get("items")
        token = holder.get("next_token")
        return cls(items=list(items) if isinstance(items, list) else [],
                   has_more=holder.get("has_more") is True,
                   next_token=token if isinstance(token, str) and token else None, data=data)


class HeyGenClient:
    """A small client for HeyGen's API.

    Each setting comes from the argument, else the environment (``HEYGEN_API_KEY``,
    ``HEYGEN_API_BASE``, ``HEYGEN_UPLOAD_BASE``), else the default hosts.

    Retries: ``max_retries`` (default 2) or ``retry_policy`` for every request; the upload
    requests (v3, the three direct-upload steps, :meth:`resume_direct_upload`) use
    ``upload_retries`` (default :data:`~heygen_lab.retry.UPLOAD_RETRIES`, 8, unless
    ``max_retries`` or ``retry_policy`` is given, which then applies to uploads too).

    Threads: one client may be shared by many threads. Its settings are frozen, the username
    :meth:`list_assets` needs is fetched once under a lock, the backoff's random draws are
    locked, and the connection pool keeps ``pool_maxsize`` connections per host (default 32;
    it applies to the session the client creates, not to a ``session=`` you pass). requests
    itself is used only in the ways that are safe to share (no cookies, no per-call mounting).

    ``verify`` is requests' TLS setting (a CA bundle path, or False); by default requests'
    own (certifi, or ``REQUESTS_CA_BUNDLE``).
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
        upload_retries: int | None = None,
        pool_maxsize: int = DEFAULT_POOL_MAXSIZE,
        verify: bool | str | None = None,
    ) -> None:
        self.settings = Settings.resolve(api_key, api_base=api_base, upload_base=upload_base,
                                         timeout=timeout, max_retries=max_retries, env=env)
        self.retry_policy = retry_policy or RetryPolicy(max_retries=self.settings.max_retries)
        if upload_retries is None:
            explicit = max_retries is not None or retry_policy is not None
            upload_retries = self.retry_policy.max_retries if explicit else UPLOAD_RETRIES
        if (isinstance(upload_retries, bool) or not isinstance(upload_retries, int)
                or not 0 <= upload_retries <= 20):
            raise ConfigurationError(f"upload_retries must be an integer from 0 to 20, got "
                                     f"{upload_retries!r}")
        self.upload_retry_policy = upload_policy(self.retry_policy, upload_retries)
        if isinstance(pool_maxsize, bool) or not isinstance(pool_maxsize, int) \
                or pool_maxsize < 1:
            raise ConfigurationError(f"pool_maxsize must be an integer >= 1, got "
                                     f"{pool_maxsize!r}")
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_maxsize=pool_maxsize)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        self._session.headers["User-Agent"] = f"heygen-lab/{__version__}"
        if verify is not None:
            self._session.verify = verify
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # the RNG and the key memory
        self._username_lock = threading.Lock()  # one GET /v3/users/me at a time
        self._username: str | None = None
        self._keys: OrderedDict[str, tuple[str, Fingerprint]] = OrderedDict()
        key = self.settings.api_key
        self._redactor = Redactor.for_secrets(key.reveal() if key is not None else None)

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
        """The absolute URL of a route on the configured hosts.

        Each path parameter is percent-encoded as one segment (``/`` too), so
        ``url_for("v3-asset-delete", asset_id="x/../other")`` addresses one asset named so,
        never another path; ``.``, ``..`` and empty values are refused.
        """
        r = route(route_id)
        base = self.settings.upload_base if r.host == "upload" else self.settings.api_base
        return base + r.path.format(**{k: _segment(k, v) for k, v in path_params.items()})

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
        retry_policy: RetryPolicy | None = None,
        idempotent: bool = False,
    ) -> Exchange:
        """Send one request (retrying as the policy allows) and return what came back.

        ``url`` overrides the route's URL: the direct-upload PUT and the wrong-host probe use it.
        Headers whose value is ``None`` in ``headers`` are not sent. ``retry_policy`` replaces
        the client's for this request; ``idempotent=True`` vouches that repeating the request
        cannot act twice (a direct upload's ``complete``), so 5xx and lost responses are retried.

        When the connection breaks: nothing sent -> :class:`ConnectError` (retried for any
        request); sent, no response -> retried if repeatable, else :class:`ResponseLost` (the
        server may have acted on it); no response in time -> :class:`RequestTimeout`.
        """
        policy = retry_policy or self.retry_policy
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
        repeatable = r.idempotent or idempotent or "Idempotency-Key" in sent_headers
        timeout = self._timeout(r, payload)
        base_sent = payload.sent if payload else Sent(encoding="empty", size=0)
        sent = replace(base_sent, route=r.id, host=host_kind, path=parts.path,
                       keyed="Idempotency-Key" in sent_headers)
        method = r.method
        attempt = 0
        while True:
            try:
                with (payload.open(on_progress) if payload else nullcontext()) as body:
                    response = self._session.request(  # a file body in 1 MiB writes
                        method, target, params=params, data=uploads.blocks(body),
                        headers=sent_headers,
                        timeout=timeout, allow_redirects=False,
                    )
            except requests.RequestException as exc:
                sent_any = not _never_sent(exc)
                if should_retry(attempt=attempt, policy=policy, status=None,
                                network_error=True, repeatable=repeatable, sent=sent_any):
                    self._pause(attempt, None, policy)
                    attempt += 1
                    continue
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                if not sent_any:
                    raise ConnectError(
                        f"{method} {target}: no response ({type(exc).__name__}){tries}; could "
                        "not connect: check the URL and that the server is reachable",
                        method=method, url=target, redactor=self._redactor,
                    ) from None
                acted = "" if repeatable else (
                    "; the request may have been acted on (it carries no Idempotency-Key, so "
                    "it was not retried): check before sending it again")
                if isinstance(exc, requests.Timeout):
                    raise RequestTimeout(
                        f"{method} {target}: no response within {timeout:g}s{tries}{acted}",
                        method=method, url=target, redactor=self._redactor,
                    ) from None
                raise ResponseLost(
                    f"{method} {target}: no response ({type(exc).__name__}){tries}: the "
                    f"connection broke after the request was sent{acted}",
                    method=method, url=target, redactor=self._redactor,
                ) from None
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not response.ok and should_retry(
                attempt=attempt, policy=policy, status=response.status_code,
                network_error=False, repeatable=repeatable, code=_error_code(response),
            ):
                self._pause(attempt, retry_after, policy)
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

    def _pause(self, attempt: int, retry_after: float | None,
               policy: RetryPolicy | None = None) -> None:
        with self._lock:  # random.Random is shared by every thread using this client
            delay = retry_delay(attempt, policy or self.retry_policy, retry_after, self._rng)
        self._sleep(delay)

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

        Faults: ``v3`` and ``direct`` send an ``Idempotency-Key`` (``idempotency_key`` or a fresh
        one) and retry 5xx, 429, lost responses and 409 ``request_in_progress`` on the same key,
        up to ``upload_retries`` times; the direct upload's ``complete`` is retried too (it is
        idempotent). Every error they raise carries the key (``.idempotency_key``) and, for a
        direct upload, the pending asset (``.asset_id``), both also in the message, which says
        how to resume without a second asset. A key is for one file: this client refuses to send
        a key it used for other bytes. ``v1`` has no idempotency: only a 429 is retried, and an
        error after the body was sent says the asset may exist.
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
            media.check(V3_TYPES, route="the v3 direct upload")
            upload = _Upload("direct", self._claim_key(idempotency_key, media, "direct"),
                             reused=idempotency_key is not None)
            with _upload_errors(upload, media):
                return self._direct(media, on_progress, upload, stale=None)
        media.check(V1_TYPES, route="the legacy v1 upload")
        if idempotency_key is not None:
            raise ConfigurationError("the legacy v1 upload does not honour Idempotency-Key; "
                                     "use via='v3' or 'direct' for a retry-safe upload")
        if via == "v1":
            payload = uploads.raw(media)
        elif via == "v1-multipart-file":  # the v3 part name, sent to v1: gets 40001
            payload = uploads.multipart(media, file_field="file")
        else:  # fields type + asset, as in the seed note: gets 40001 too
            payload = uploads.multipart(media, file_field="asset",
                                        fields={"type": media.file_type})
        with _unkeyed_upload_errors():
            data = self.call("v1-upload", payload=payload, on_progress=on_progress,
                             retry_policy=self.upload_retry_policy).data or {}
        return Asset(
            id=str(data.get("id", "")), url=data.get("url"), mime_type=media.mime_type,
            size=media.size, file_type=str(data.get("file_type") or media.file_type),
            via=via, image_key=data.get("image_key"), raw=data,
        )

    def resume_direct_upload(
        self,
        asset_id: str,
        file: Source | Media,
        *,
        idempotency_key: str | None = None,
        content_type: str | None = None,
        name: str | None = None,
        on_progress: Progress | None = None,
    ) -> Asset:
        """Finish a direct upload that broke off, from the ``asset_id`` (and ideally the
        ``idempotency_key``) its error carried; pass the same file.

        HeyGen has no call that hands out an upload URL again for an existing asset; what it
        offers is the ``Idempotency-Key`` of the init (replayed for 24 h) and the idempotent
        ``complete``. So, in order:

        1. ``complete`` the asset: if the PUT had landed, that finishes it (nothing re-sent).
        2. Else replay the init under ``idempotency_key``: HeyGen answers the original
           response, the same asset and upload URL, so the bytes are PUT again (a PUT to the
           same URL replaces the object) and completed: still one asset.
        3. If there is no key, the key has expired (the replay names another asset), or the
           signed URL has expired (the PUT is refused with 403), a fresh init uploads the file
           as a new asset, and the old pending one, which can never complete now, is deleted
           (best effort; a pending asset is unusable and HeyGen expires it anyway).

        Returns the finished asset; raises like :meth:`upload_asset` (errors carry the key and
        the asset id of the attempt in progress).
        """
        media = file if isinstance(file, Media) else load_media(
            file, content_type=content_type, name=name)
        media.check(V3_TYPES, route="the v3 direct upload")
        _segment("asset_id", asset_id)
        key = None if idempotency_key is None else self._claim_key(idempotency_key, media,
                                                                   "direct")
        upload = _Upload("direct", key, asset_id, reused=key is not None)
        with _upload_errors(upload, media):
            try:
                data = self._complete(asset_id, media, wait_for_put=False)
            except ConflictError:  # the bytes never arrived: PUT them (again)
                stale: str | None = asset_id
            except NotFoundError:  # expired or deleted: nothing to resume, upload anew
                stale = None
                upload.key, upload.asset_id = None, None
            else:
                return _v3_asset(data, media, "direct")
            if upload.key is None:
                upload.key, upload.reused = self._claim_key(None, media, "direct"), False
            return self._direct(media, on_progress, upload, stale=stale)

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
        upload = _Upload("v3", self._claim_key(idempotency_key, media, "v3"))
        # Bytes without a file identity (bytes, a file object) are hashed as they stream, so a
        # key given again later can be checked against them; a file by path is not hashed.
        payload = uploads.multipart(media, file_field="file", hashed=media.identity is None)
        with _upload_errors(upload, media):
            data = self.call("v3-upload", payload=payload,
                             headers={"Idempotency-Key": str(upload.key)},
                             on_progress=on_progress,
                             retry_policy=self.upload_retry_policy).data or {}
        return _v3_asset(data, media, "v3")

    def _claim_key(self, key: str | None, media: Media, via: str) -> str:
        """The Idempotency-Key for uploading ``media`` (``key`` or a fresh one), refusing one
        this client already sent with other bytes (HeyGen would replay the other file's
        answer: heygen-api-sources.md §2.3)."""
        if key is None:
            key = f"heygen-lab-{uuid.uuid4().hex}"
        elif not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ConfigurationError("idempotency_key must be 1 to 255 characters of "
                                     "A-Z a-z 0-9 _ : . -")
        with self._lock:
            known = self._keys.get(key)
        # Compared outside the lock: telling the bytes apart may read a file (a key given again
        # for a file by another path or as bytes); the same unchanged file or Media reads nothing.
        if known is not None and not (known[0] == via and known[1].matches(media)):
            raise ConfigurationError(
                f"Idempotency-Key {key} was already sent by this client with other bytes or "
                "another route; HeyGen would replay that upload's answer. Use a new key "
                "(or none) for this file")
        with self._lock:
            self._keys[key] = (via, media.fingerprint())
            self._keys.move_to_end(key)
            while len(self._keys) > _KEYS_REMEMBERED:
                self._keys.popitem(last=False)
        return key

    def _direct(self, media: Media, on_progress: Progress | None, upload: _Upload,
                stale: str | None) -> Asset:
        """Init (keyed), PUT, complete; then delete ``stale``, a pending asset this replaces."""
        init = self._direct_init(media, str(upload.key))
        upload.asset_id = init["asset_id"]
        try:
            self._direct_put(media, init, on_progress)
        except PermissionDeniedError:
            # A replayed init (a key given again) hands out the original URL, which may have
            # expired: start over with a fresh key, once; the replayed asset is cleaned up.
            if not upload.reused or upload.replaced:
                raise
            stale_now = upload.asset_id
            upload.replaced, upload.reused = True, False
            upload.key = self._claim_key(None, media, "direct")
            upload.asset_id = None
            asset = self._direct(media, on_progress, upload, stale=stale_now)
            self._forget_pending(stale, asset.id)
            return asset
        data = self._complete(upload.asset_id, media, wait_for_put=True)
        asset = _v3_asset(data, media, "direct")
        self._forget_pending(stale, asset.id)
        return asset

    def _direct_init(self, media: Media, key: str) -> dict[str, Any]:
        # The checksum is optional here: it goes with complete, learnt while the PUT streams.
        # Only one known already (a resume, a retry) is declared up front.
        body: dict[str, Any] = {"filename": media.name, "content_type": media.mime_type,
                                "size_bytes": media.size}
        if media.known_sha256 is not None:
            body["checksum_sha256"] = media.known_sha256
        init = self.call("direct-init", payload=uploads.json_body(body),
                         headers={"Idempotency-Key": key},
                         retry_policy=self.upload_retry_policy).data or {}
        asset_id, upload_url = str(init.get("asset_id", "")), init.get("upload_url")
        if not asset_id or not isinstance(upload_url, str):
            raise HeyGenError("the direct-upload init response has no asset_id or upload_url")
        return {**init, "asset_id": asset_id}

    def _direct_put(self, media: Media, init: Mapping[str, Any],
                    on_progress: Progress | None) -> None:
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
        # complete sends the sha256: learnt beside the PUT when the Media can (a file by path),
        # else by the PUT's own stream.
        self.call("direct-put", url=str(init["upload_url"]), auth=False,
                  payload=uploads.raw(media, hashed=not media.hash_ahead()
                                      ).with_headers(put_headers),
                  on_progress=on_progress,
                  retry_policy=self.upload_retry_policy)

    def _complete(self, asset_id: str, media: Media, *, wait_for_put: bool) -> Any:
        """``POST /v3/assets/{id}/complete`` with the sha256 (the PUT learnt it; a resume reads
        the file for it), retried as idempotent; with ``wait_for_put`` its 409 (the PUT not
        visible yet; HeyGen's CLI retries it) is retried too."""
        policy = replace(self.upload_retry_policy, retry_conflicts=wait_for_put)
        if wait_for_put:  # the race needs a few tries even when the client retries nothing
            policy = replace(policy, max_retries=max(policy.max_retries, 2))
        return self.call("direct-complete", path_params={"asset_id": asset_id},
                         payload=uploads.json_body({"checksum_sha256": media.sha256}),
                         retry_policy=policy, idempotent=True).data or {}

    def _forget_pending(self, stale: str | None, kept: str) -> None:
        """Delete a pending asset replaced by ``kept`` (best effort: it can never complete)."""
        if stale is not None and stale != kept:
            with suppress(HeyGenError):
                self.delete_asset(stale)

    def upload_talking_photo(self, file: Source) -> dict[str, Any]:
        """Upload a JPEG/PNG to the legacy talking-photo endpoint (raw bytes)."""
        media = load_media(file)
        media.check(TALKING_PHOTO_TYPES, route="the legacy talking-photo upload")
        with _unkeyed_upload_errors():
            return dict(self.call("v1-talking-photo", payload=uploads.raw(media)).data or {})

    # ------------------------------------------------------------------ any v3 operation
    def operation(
        self,
        name: str,
        /,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        file: Source | Media | None = None,
        idempotency_key: str | None = None,
        **path_params: str,
    ) -> Any:
        """Call the v3 operation ``name`` (its name in :mod:`heygen_lab.spec`) and return its data.

        ``client.operation("VideoTranslateCreate", json={...})``,
        ``client.operation("VideoGet", video_id="v_1")`` (or ``path={"video_id": "v_1"}``),
        ``client.operation("VideoList", query={"limit": 10})``,
        ``client.operation("AssetCreate", file="photo.jpg")``.

        Path, query and body are checked against the spec first: a request that breaks it raises
        :class:`~heygen_lab.errors.InvalidRequestError` and nothing is sent. Path parameters are
        percent-encoded, each one segment. A JSON body defaults to ``{}``. The POSTs in
        :data:`IDEMPOTENCY_KEY_OPERATIONS` carry an ``Idempotency-Key`` (``idempotency_key`` or a
        fresh one), so they are retried safely. A refusal raises the matching
        :class:`~heygen_lab.errors.APIError`. Returns the decoded ``data``; for a paginated
        operation, a :class:`Page` (``items``, ``has_more``, ``next_token``).
        """
        op = _spec_operation(name)
        decoded = self._call_operation(op, path=path, query=query, json=json, file=file,
                                       idempotency_key=idempotency_key, path_params=path_params)
        return Page.from_body(decoded.body) if op.paginated else decoded.data

    def iter_operation(
        self,
        name: str,
        /,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue] | None = None,
        **path_params: str,
    ) -> Iterator[Any]:
        """Every item of a paginated v3 operation, page after page (``next_token`` -> ``token``).

        ``client.iter_operation("VideoList", query={"limit": 100})``. A ``token`` in ``query``
        starts from that cursor. Stops when a page says ``has_more: false`` or has no cursor.
        """
        op = _spec_operation(name)
        if not op.paginated:
            raise InvalidRequestError(name, [Violation("operation", "is not paginated")],
                                      endpoint=f"{op.method} {op.endpoint}",
                                      fixes=["call operation() for its one answer"])
        args = dict(query or {})
        seen: set[str] = set()
        while True:
            decoded = self._call_operation(op, path=path, query=args, json=None, file=None,
                                           idempotency_key=None, path_params=path_params)
            page = Page.from_body(decoded.body)
            yield from page.items
            token = page.next_token
            if not page.has_more or token is None:
                return
            if token in seen:
                raise HeyGenError(f"{name}: the server handed out the cursor {token!r} twice; "
                                  "stopping instead of looping forever")
            seen.add(token)
            args["token"] = token

    def _call_operation(
        self,
        op: Operation,
        *,
        path: Mapping[str, str] | None,
        query: Mapping[str, QueryValue] | None,
        json: Any,
        file: Source | Media | None,
        idempotency_key: str | None,
        path_params: Mapping[str, str],
    ) -> Decoded:
        """Check one v3 request against the spec, then send it through :meth:`call`."""
        problems: list[tuple[Violation, str]] = []
        segments = dict(path or {})
        for key, value in path_params.items():
            if key in segments and segments[key] != value:
                problems.append((Violation(key, "is given twice, with different values"),
                                 f"pass {key} once"))
            segments[key] = value
        problems += _path_problems(op, segments)
        params, query_problems = _query(op, query or {})
        problems += query_problems
        body, files, body_problems = _body(op, json, file)
        problems += body_problems
        rule = _BODY_RULES.get(op.name)
        if rule is not None and isinstance(body, dict):
            problems += rule(body)
        reported = {v.param for v, _ in problems}
        problems += [(v, _fix(op, v)) for v in op.check_request(
            path_params=segments, query=params, body=body, files=files)
            if v.param not in reported and v.param not in op.path_params]
        headers: dict[str, str] = {}
        if op.name in IDEMPOTENCY_KEY_OPERATIONS:
            headers["Idempotency-Key"] = key = idempotency_key or f"heygen-lab-{uuid.uuid4().hex}"
            if not _IDEMPOTENCY_KEY.fullmatch(key):
                problems.append((Violation("Idempotency-Key", "must be 1 to 255 characters of "
                                           "A-Z a-z 0-9 _ : . -"),
                                 "pass another idempotency_key, or none to get a fresh one"))
        elif idempotency_key is not None:
            problems.append((Violation("Idempotency-Key", f"is not honoured by {op.name}; "
                                       "HeyGen documents the header for "
                                       + ", ".join(sorted(IDEMPOTENCY_KEY_OPERATIONS))),
                             "drop idempotency_key="))
        payload: Payload | None = None
        if body is not None and not problems:
            try:
                payload = uploads.json_body(body)
            except (TypeError, ValueError) as exc:
                problems.append((Violation("body", f"is not JSON ({exc})"),
                                 "pass only str, numbers, booleans, None, lists and dicts"))
        if problems:
            raise InvalidRequestError(op.name, [v for v, _ in problems],
                                      endpoint=f"{op.method} {op.endpoint}",
                                      fixes=[fix for _, fix in problems])
        if file is not None:
            media = file if isinstance(file, Media) else load_media(file)
            media.check(V3_TYPES, route=f"v3 {op.endpoint}", max_bytes=V3_MAX_BYTES,
                        hint="use upload_asset(via='direct') for files over 32 MiB")
            payload = uploads.multipart(media, file_field="file")
        return self.call(operation_route(op.name).id,
                         url=self.settings.api_base + op.path(**segments),
                         params=params or None, payload=payload, headers=headers)

    def _list(self, name: str, **query: QueryValue) -> Page:
        op = _spec_operation(name)
        return Page.from_body(self._call_operation(
            op, path=None, query=query, json=None, file=None, idempotency_key=None,
            path_params={}).body)

    def _get(self, name: str, **path_params: str) -> dict[str, Any]:
        op = _spec_operation(name)
        return _dict(self._call_operation(op, path=None, query=None, json=None, file=None,
                                          idempotency_key=None, path_params=path_params).data)

    # ------------------------------------------------------------------ assets
    def list_assets(self, *, username: str | None = None, limit: int | None = None,
                    token: str | None = None, folder_id: str | None = None) -> Page:
        """One page of assets (``GET /v3/assets``); items ``{id, name, type, owner, space_id,
        uploaded_at, folder_id, url}``.

        ``username`` is required by HeyGen while the endpoint is in beta; when not given it is
        the account's, from :meth:`me` (asked once per client, then remembered).
        """
        return self._list("AssetList", username=username or self._account_username(),
                          limit=limit, token=token, folder_id=folder_id)

    def iter_assets(self, *, username: str | None = None, limit: int | None = None,
                    folder_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every asset, following ``next_token`` cursors (``limit`` is the page size)."""
        return self.iter_operation("AssetList", query={
            "username": username or self._account_username(), "limit": limit,
            "folder_id": folder_id})

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        """One asset (``GET /v3/assets/{asset_id}``), in the list items' shape."""
        return self._get("AssetGet", asset_id=asset_id)

    def delete_asset(self, asset_id: str) -> dict[str, Any]:
        """Delete an asset (``DELETE /v3/assets/{asset_id}``); returns ``{"id": ...}``."""
        return self._get("AssetDelete", asset_id=asset_id)

    def legacy_list_assets(self) -> Any:
        """The legacy asset list (``GET /v1/asset/list``, v1 envelope).

        Formerly ``list_assets_v1()``; :meth:`list_assets` is the v3 list.
        """
        return self.call("v1-asset-list").data

    # ------------------------------------------------------------------ video
    def create_video(
        self,
        body: Mapping[str, Any] | None = None,
        /,
        *,
        type: VideoType | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> VideoStatus:
        """Start a video (``POST /v3/videos``) and return it (``id``, ``status``).

        The body is ``body`` updated with the keyword ``fields`` (those set to ``None`` are left
        out) and ``type`` (default ``"avatar"``)::

            client.create_video(avatar_id="a_1", script="Hello", voice_id="v_1")
            client.create_video(type="avatar", avatar_id="a_1", audio_asset_id="ast_1")
            client.create_video(type="image", image={"type": "url", "url": "https://..."},
                                script="Hi", voice_id="v_1")
            client.create_video(type="cinematic_avatar", avatar_id=["a_1"], prompt="...")
            client.create_video(type="studio", scenes=[...])
            client.create_video({"type": "avatar", "avatar_id": "a_1", ...})

        Checked against the spec before sending, and an ``avatar``/``image`` video needs one
        voice source: ``script`` with ``voice_id``, or ``audio_url``/``audio_asset_id``.
        Carries an ``Idempotency-Key`` (``idempotency_key`` or a fresh one).
        """
        request = dict(body or {})
        request.update({k: v for k, v in fields.items() if v is not None})
        if type is not None:
            request["type"] = type
        request.setdefault("type", "avatar")
        decoded = self._call_operation(
            _spec_operation("VideoCreate"), path=None, query=None, json=request, file=None,
            idempotency_key=idempotency_key, path_params={})
        data = _dict(decoded.data)
        return VideoStatus(video_id=str(data.get("video_id") or data.get("id") or ""),
                           status=str(data.get("status", "")), raw=data)

    def get_video(self, video_id: str) -> VideoStatus:
        """A video's state (``GET /v3/videos/{video_id}``): ``status`` pending, processing,
        completed or failed; ``video_url`` when completed; ``failure_code`` and
        ``failure_message`` when failed."""
        return _video_status(self._get("VideoGet", video_id=video_id), video_id)

    def list_videos(self, *, limit: int | None = None, token: str | None = None,
                    folder_id: str | None = None, title: str | None = None) -> Page:
        """One page of videos (``GET /v3/videos``), items in ``get_video``'s data shape."""
        return self._list("VideoList", limit=limit, token=token, folder_id=folder_id,
                          title=title)

    def iter_videos(self, *, limit: int | None = None, folder_id: str | None = None,
                    title: str | None = None) -> Iterator[dict[str, Any]]:
        """Every video, following ``next_token`` cursors."""
        return self.iter_operation("VideoList", query={"limit": limit, "folder_id": folder_id,
                                                       "title": title})

    def wait_for_video(self, video_id: str, *, via: str = "v3", timeout: float = 1800.0,
                       interval: float = 10.0) -> VideoStatus:
        """Poll until the video is completed or failed; raise HeyGenError after ``timeout``.

        Polls v3 (:meth:`get_video`) unless ``via="v1"`` (:meth:`legacy_video_status`).
        """
        poll = {"v3": self.get_video, "v1": self.legacy_video_status}.get(via)
        if poll is None:
            raise ConfigurationError(f"via must be 'v3' or 'v1'; got {via!r}")
        waited = 0.0
        while True:
            status = poll(video_id)
            if status.done:
                return status
            if waited >= timeout:
                raise HeyGenError(f"video {video_id} still {status.status!r} after {timeout:g}s; "
                                  "poll again later with get_video()")
            self._sleep(interval)
            waited += interval

    def legacy_generate_video(self, request: Mapping[str, Any]) -> str:
        """Start a video from a legacy v2 body (``video_inputs``): ``POST /v2/video/generate``.

        Formerly ``generate_video()``; its ``via="v3"`` is now :meth:`create_video`, whose body
        HeyGen's v3 wants (the v2 scenes are refused there with ``param: type``).
        """
        data = self.call("v2-video-generate", payload=uploads.json_body(dict(request))).data
        return str(_dict(data)["video_id"])

    def legacy_video_status(self, video_id: str) -> VideoStatus:
        """A video's status from the legacy ``GET /v1/video_status.get``.

        Formerly ``video_status()`` (whose ``via="v3"`` is now :meth:`get_video`).
        """
        data = self.call("v1-video-status", params={"video_id": video_id}).data
        return _video_status(_dict(data), video_id)

    # ------------------------------------------------------------------ catalogue
    def list_avatars(self, *, ownership: str | None = None, limit: int | None = None,
                     token: str | None = None) -> Page:
        """One page of avatar groups (``GET /v3/avatars``).

        The v2 catalogue (avatars and talking photos) is :meth:`legacy_list_avatars`.
        """
        return self._list("AvatarList", ownership=ownership, limit=limit, token=token)

    def iter_avatars(self, *, ownership: str | None = None,
                     limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every avatar group, following ``next_token`` cursors."""
        return self.iter_operation("AvatarList", query={"ownership": ownership, "limit": limit})

    def list_avatar_looks(self, *, group_id: str | None = None, avatar_type: str | None = None,
                          ownership: str | None = None, limit: int | None = None,
                          token: str | None = None) -> Page:
        """One page of avatar looks (``GET /v3/avatars/looks``); a look's ``id`` is the
        ``avatar_id`` of :meth:`create_video`."""
        return self._list("AvatarLooksList", group_id=group_id, avatar_type=avatar_type,
                          ownership=ownership, limit=limit, token=token)

    def iter_avatar_looks(self, *, group_id: str | None = None, avatar_type: str | None = None,
                          ownership: str | None = None,
                          limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every avatar look, following ``next_token`` cursors."""
        return self.iter_operation("AvatarLooksList", query={
            "group_id": group_id, "avatar_type": avatar_type, "ownership": ownership,
            "limit": limit})

    def list_voices(self, *, type: str | None = None, engine: str | None = None,
                    language: str | None = None, gender: str | None = None,
                    limit: int | None = None, token: str | None = None) -> Page:
        """One page of voices (``GET /v3/voices``).

        Formerly the v2 list, now :meth:`legacy_list_voices`.
        """
        return self._list("VoiceList", type=type, engine=engine, language=language,
                          gender=gender, limit=limit, token=token)

    def iter_voices(self, *, type: str | None = None, engine: str | None = None,
                    language: str | None = None, gender: str | None = None,
                    limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every voice, following ``next_token`` cursors."""
        return self.iter_operation("VoiceList", query={
            "type": type, "engine": engine, "language": language, "gender": gender,
            "limit": limit})

    def legacy_list_avatars(self) -> dict[str, Any]:
        """The v2 catalogue ``{"avatars": [...], "talking_photos": [...]}`` (``GET /v2/avatars``).

        Formerly ``list_avatars()``, which is now the v3 list.
        """
        return dict(self.call("v2-avatars").data or {})

    def legacy_list_voices(self) -> list[dict[str, Any]]:
        """The v2 voices (``GET /v2/voices``). Formerly ``list_voices()``, now the v3 list."""
        return list((self.call("v2-voices").data or {}).get("voices") or [])

    # ------------------------------------------------------------------ account
    def me(self) -> dict[str, Any]:
        """The current user (``GET /v3/users/me``): ``username``, ``email``, ``first_name``,
        ``last_name``, ``billing_type`` and its one billing block (``wallet``,
        ``subscription`` or ``usage_based``). Remembers ``username`` for :meth:`list_assets`."""
        user = self._get("UserMeGet")
        username = user.get("username")
        if isinstance(username, str) and username:
            self._username = username
        return user

    def legacy_remaining_quota(self) -> int:
        """The v2 remaining quota (``GET /v2/user/remaining_quota``).

        Formerly ``remaining_quota()``; v3 reports credit in :meth:`me`'s billing block.
        """
        return int((self.call("v2-quota").data or {}).get("remaining_quota", 0))

    def _account_username(self) -> str:
        with self._username_lock:  # threads sharing the client ask once between them
            if self._username is None:
                self.me()
        if self._username is None:
            raise HeyGenError("GET /v3/users/me answered without a username, which "
                              "GET /v3/assets requires; pass username= explicitly")
        return self._username


def billing_block(user: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The billing type and block of a v3 user (``me()``): ``billing_type`` when given, else the
    one block present."""
    kind = user.get("billing_type")
    if not isinstance(kind, str):
        kind = next((k for k in _BILLING_BLOCKS if isinstance(user.get(k), dict)), None)
    block = user.get(kind) if kind else None
    return kind, dict(block) if isinstance(block, dict) else None


def _spec_operation(name: str) -> Operation:
    try:
        return load_spec()[name]
    except KeyError as exc:
        raise InvalidRequestError(name, [Violation("operation", str(exc.args[0]))],
                                  fixes=["use a name from heygen_lab.spec.load_spec(), "
                                         "such as VideoCreate"]) from None


def _path_problems(op: Operation, segments: Mapping[str, Any]) -> list[tuple[Violation, str]]:
    problems = [(Violation(k, f"is not a path parameter of {op.name}"),
                 f"its path is {op.endpoint}")
                for k in sorted(set(segments) - set(op.path_params))]
    for name in op.path_params:
        value = segments.get(name)
        if not isinstance(value, str) or not value:
            problems.append((Violation(name, "is required in the path, a non-empty string"),
                             f"pass {name}='...' (or path={{'{name}': '...'}})"))
        elif value in {".", ".."}:  # HTTP clients collapse dot segments: it would go elsewhere
            problems.append((Violation(name, f"{value!r} would address another path"),
                             f"pass the {name} HeyGen returned"))
    return problems


def _query(op: Operation, query: Mapping[str, QueryValue]
           ) -> tuple[dict[str, str | list[str]], list[tuple[Violation, str]]]:
    """The query as sent (strings, ``None`` dropped) and the names the operation lacks."""
    known = [f.json_name for f in op.flags_in("query")]
    params: dict[str, str | list[str]] = {}
    problems: list[tuple[Violation, str]] = []
    for name, value in query.items():
        if name not in known:
            problems.append((Violation(name, f"is not a query parameter of {op.name}"),
                             f"use one of: {', '.join(known)}" if known
                             else f"{op.name} takes no query parameters"))
        elif value is not None:
            params[name] = ([_query_text(v) for v in value]
                            if isinstance(value, Sequence) and not isinstance(value, str)
                            else _query_text(value))
    return params, problems


def _query_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _body(op: Operation, json: Any, file: object
          ) -> tuple[Any, tuple[str, ...], list[tuple[Violation, str]]]:
    """The JSON body to check (``None`` for none), the file parts, and misplaced bodies."""
    problems: list[tuple[Violation, str]] = []
    if op.body_encoding != "multipart" and file is not None:
        problems.append((Violation("file", f"{op.name} takes no file"), "drop file="))
    if op.body_encoding != "json" and json is not None:
        what = "a multipart file" if op.body_encoding == "multipart" else "no body"
        problems.append((Violation("body", f"{op.name} takes {what}, not JSON"),
                         "pass file=<path>" if op.body_encoding == "multipart" else "drop json="))
    if op.body_encoding == "json":
        return (dict(json) if isinstance(json, Mapping) else ({} if json is None else json),
                (), problems)
    return None, ("file",) if file is not None else (), problems


def _fix(op: Operation, violation: Violation) -> str:
    """The next step for a violation the spec check found."""
    flag = next((f for f in op.flags if f.json_name == violation.param), None)
    required = violation.message.startswith("is required")
    if flag is not None and flag.source == "query":
        if required:
            return f"pass query={{'{flag.json_name}': ...}}"
        return f"use one of: {', '.join(flag.enum)}" if flag.enum else \
            f"pass a valid {flag.type} for {flag.json_name!r}"
    if violation.param == "file":
        return "pass file=<path of the file to upload>"
    if violation.param == "body":
        return "pass json={...}, a JSON object"
    if required:
        return f"add {violation.param!r} to the JSON body"
    return (f"correct {violation.param!r}; the schema is "
            f"heygen_lab.spec.load_spec()[{op.name!r}].request_schema")


def _voice_problems(body: Mapping[str, Any]) -> list[tuple[Violation, str]]:
    """An avatar or image video needs exactly one voice source (heygen-api-sources.md §3.3)."""
    if body.get("type") not in {"avatar", "image"}:
        return []
    fix = "pass script= with voice_id=, or one of audio_url= / audio_asset_id="
    script = body.get("script") is not None
    audio = [k for k in ("audio_url", "audio_asset_id") if body.get(k) is not None]
    if script and audio:
        return [(Violation("script", f"and {audio[0]} are both given; a video takes one voice "
                                     "source"), fix)]
    if len(audio) > 1:
        return [(Violation("audio_url", "and audio_asset_id are both given; pass one"), fix)]
    if script and body.get("voice_id") is None:
        return [(Violation("voice_id", "is required with script"),
                 "pass voice_id= (list_voices() lists them)")]
    if not script and not audio:
        return [(Violation("script", "no voice source given"), fix)]
    return []


_BODY_RULES: dict[str, Callable[[Mapping[str, Any]], list[tuple[Violation, str]]]] = {
    "VideoCreate": _voice_problems,
}
"""Rules HeyGen documents beyond what the spec's schema can say, per operation."""


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _video_status(data: Mapping[str, Any], video_id: str) -> VideoStatus:
    """A v3 video or a legacy v1 status as a :class:`VideoStatus`."""
    error = data.get("error")
    legacy = error if isinstance(error, Mapping) else {}
    code = data.get("failure_code") or legacy.get("code")
    message = data.get("failure_message") or legacy.get("detail") or legacy.get("message")
    return VideoStatus(
        video_id=str(data.get("id") or data.get("video_id") or video_id),
        status=str(data.get("status", "")), video_url=data.get("video_url"), error=error,
        raw=data, failure_code=None if code is None else str(code),
        failure_message=None if message is None else str(message),
        thumbnail_url=data.get("thumbnail_url"),
    )


def _error_code(response: requests.Response) -> str | int | None:
    """The error code a refused response carries (any envelope), for the retry policy."""
    error = decode(response.status_code, response.content).error
    return None if error is None else error.code


@dataclass
class _Upload:
    """What an upload in progress has to say in its errors: its route, key and asset."""

    via: str
    key: str | None
    asset_id: str | None = None
    reused: bool = False
    """The key was given by the caller: the init may replay an earlier answer."""
    replaced: bool = False

    def context(self) -> str:
        key, asset = self.key, self.asset_id
        if self.via == "v3":
            return (f"Idempotency-Key {key}: upload_asset(file, via='v3', idempotency_key="
                    f"'{key}') within 24 h retries it without creating a second asset")
        if asset is None:
            return (f"direct upload, Idempotency-Key {key}: upload_asset(file, via='direct', "
                    f"idempotency_key='{key}') within 24 h resumes it without a second asset")
        with_key = f", idempotency_key='{key}'" if key else ""
        return (f"direct upload of asset {asset}, Idempotency-Key {key}: "
                f"client.resume_direct_upload('{asset}', file{with_key}) finishes it")


@contextmanager
def _upload_errors(upload: _Upload, media: Media) -> Iterator[None]:
    """Every HeyGenError raised inside carries the upload's key and asset id, and says how to
    go on (attributes and message). Bytes without a file identity whose sha256 no stream
    finished learning are hashed now, so the key can be given again for the same bytes."""
    try:
        yield
    except HeyGenError as exc:
        if media.identity is None and media.known_sha256 is None:
            with suppress(MediaError):
                media.sha256  # noqa: B018 - learnt for the key's claim
        if exc.idempotency_key is None and exc.asset_id is None:
            exc.add_context(upload.context(), idempotency_key=upload.key,
                            asset_id=upload.asset_id)
        raise


@contextmanager
def _unkeyed_upload_errors() -> Iterator[None]:
    """A legacy upload failing after its body was sent (a 5xx, a lost response, a timeout) may
    have created the asset: say so instead of suggesting a blind retry."""
    try:
        yield
    except (ServerError, ResponseLost, RequestTimeout) as exc:
        exc.add_context("legacy upload: the asset may have been created; look for it "
                        "(legacy_list_assets()) before uploading again, or use via='v3', which "
                        "retries safely")
        raise


def _segment(name: str, value: str) -> str:
    """A path parameter as one percent-encoded segment; refuses what would address another
    path (empty, ``.``, ``..``)."""
    if not isinstance(value, str) or value in {"", ".", ".."}:
        raise ConfigurationError(f"path parameter {name} must be a non-empty string other than "
                                 f"'.' and '..'; got {value!r}")
    return quote(value, safe="")


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a network error happened before any byte of the request left: the connection
    could not be opened (refused, name not resolved, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(
            exc, requests.exceptions.ProxyError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


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
