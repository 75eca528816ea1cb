"""The endpoints the toolkit speaks to, in one table.

Route ids are the shared vocabulary of the client, ``diagnose()``, the contracts and the CLI
(``heygen-lab diagnose --endpoint v1-upload``). ``host`` says which base URL a route lives on:
the legacy uploads live on ``upload.heygen.com``, everything else on ``api.heygen.com``.

Every v3 operation of :mod:`heygen_lab.spec` has a route too (:func:`operation_route`): its row
in the table when the table has one (``operation`` names it), else one derived from the spec
with the id ``v3-<kebab-case name>`` (``VideoTranslateCreate`` -> ``v3-video-translate-create``).

Every v1/v2 route carries HeyGen's announced end of life (:data:`LEGACY_SUNSET`) and its v3
``successor``. Whether a date has passed is judged against :func:`today` (or a ``today`` passed
in), never read from the clock anywhere else, so tests can move it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from heygen_lab.wire import Host, Style


@dataclass(frozen=True)
class Sunset:
    """An announced end of life: the date most sources give, the other dates announced, and
    where each was read."""

    date: dt.date
    """The last day the endpoints were announced to work; after it they may be gone."""
    also_announced: tuple[dt.date, ...]
    sources: tuple[str, ...]
    note: str = ""

    def passed(self, on: dt.date | None = None) -> bool:
        """Whether ``on`` (default :func:`today`) is after the announced date."""
        return (on or today()) > self.date

    @property
    def label(self) -> str:
        """``"2026-10-31"``, or ``"2026-10-31; also announced: 2026-10-01"``."""
        also = ", ".join(d.isoformat() for d in self.also_announced)
        return self.date.isoformat() + (f"; also announced: {also}" if also else "")

    def to_dict(self) -> dict[str, object]:
        return {"date": self.date.isoformat(),
                "also_announced": [d.isoformat() for d in self.also_announced],
                "sources": list(self.sources), "note": self.note}


LEGACY_SUNSET = Sunset(
    dt.date(2026, 10, 31), (dt.date(2026, 10, 1),),
    ("https://developers.heygen.com/endpoint-version-comparison",
     "https://developers.heygen.com/more-legacy-api",
     "https://github.com/gitroomhq/postiz-app/issues/1838"),
    "HeyGen's two version pages disagree: one says v1/v2 work until 2026-10-31 (end of life "
    "2026-11-01), the other until 2026-10-01; v2 answers were reported saying 'This v2 "
    "endpoint is Legacy and will be removed on 2026-10-31' [once]. What HeyGen answers after "
    "the date is not documented.",
)
"""The end of life HeyGen announced for every v1/v2 endpoint [doc, conflict]."""


def today() -> dt.date:
    """Today in UTC: the one place the toolkit reads the date for sunset judgements."""
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Route:
    """One endpoint: its id, method, host, path template and response envelope."""

    id: str
    method: str
    host: Host
    path: str
    style: Style
    summary: str
    operation: str | None = None
    """The v3 operation of :mod:`heygen_lab.spec` this route is, if it is one."""
    successor: str = ""
    """What replaces a legacy route (set on every v1/v2 route, which all share LEGACY_SUNSET)."""

    @property
    def sunset(self) -> Sunset | None:
        """The announced end of life of a v1/v2 route; None for v3 and storage."""
        return LEGACY_SUNSET if self.style in ("v1", "v2") else None

    @property
    def idempotent(self) -> bool:
        """Whether repeating the request cannot do anything twice (RFC 9110 safe/idempotent)."""
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


_ROUTES = (
    Route("v1-upload", "POST", "upload", "/v1/asset", "v1", "legacy upload: raw bytes",
          successor='POST /v3/assets (upload_asset(..., via="v3"), or via="direct" above '
                    '32 MB; heygen-lab upload --via v3|direct|auto)'),
    Route("v1-talking-photo", "POST", "upload", "/v1/talking_photo", "v1", "legacy talking photo",
          successor='POST /v3/assets (upload_asset(..., via="v3")), then POST /v3/avatars'),
    Route("v1-asset-list", "GET", "api", "/v1/asset/list", "v1", "legacy asset list",
          successor="GET /v3/assets"),
    Route(
        "v3-upload", "POST", "api", "/v3/assets", "v3", "upload: multipart part 'file'",
        "AssetCreate",
    ),
    Route("v3-asset-list", "GET", "api", "/v3/assets", "v3", "list assets", "AssetList"),
    Route("v3-asset-get", "GET", "api", "/v3/assets/{asset_id}", "v3", "get one asset", "AssetGet"),
    Route(
        "v3-asset-delete", "DELETE", "api", "/v3/assets/{asset_id}", "v3", "delete an asset",
        "AssetDelete",
    ),
    Route(
        "direct-init", "POST", "api", "/v3/assets/direct-uploads", "v3", "start a direct upload",
        "AssetDirectUploadsCreate",
    ),
    Route("direct-put", "PUT", "storage", "{upload_url}", "none", "PUT bytes to the signed URL"),
    Route(
        "direct-complete", "POST", "api", "/v3/assets/{asset_id}/complete", "v3",
        "finish a direct upload", "AssetCompleteCreate",
    ),
    Route("v2-video-generate", "POST", "api", "/v2/video/generate", "v2", "legacy video generate",
          successor="POST /v3/videos (HeyGenClient.create_video)"),
    Route("v3-video-create", "POST", "api", "/v3/videos", "v3", "create a video", "VideoCreate"),
    Route("v3-video-get", "GET", "api", "/v3/videos/{video_id}", "v3", "video status", "VideoGet"),
    Route("v1-video-status", "GET", "api", "/v1/video_status.get", "v1", "legacy video status",
          successor="GET /v3/videos/{video_id}"),
    Route("v2-avatars", "GET", "api", "/v2/avatars", "v2", "avatars and talking photos",
          successor="GET /v3/avatars and GET /v3/avatars/looks"),
    Route("v2-avatar-groups", "GET", "api", "/v2/avatar_group.list", "v2", "avatar groups",
          successor="GET /v3/avatars"),
    Route("v2-voices", "GET", "api", "/v2/voices", "v2", "voices", successor="GET /v3/voices"),
    Route("v2-quota", "GET", "api", "/v2/user/remaining_quota", "v2", "remaining quota",
          successor="GET /v3/users/me (HeyGenClient.me)"),
    Route("v1-user-me", "GET", "api", "/v1/user/me", "v1", "legacy current user",
          successor="GET /v3/users/me (HeyGenClient.me)"),
    Route("v3-video-list", "GET", "api", "/v3/videos", "v3", "list videos", "VideoList"),
    Route("v3-avatar-list", "GET", "api", "/v3/avatars", "v3", "list avatars", "AvatarList"),
    Route(
        "v3-avatar-look-list", "GET", "api", "/v3/avatars/looks", "v3", "list avatar looks",
        "AvatarLooksList",
    ),
    Route("v3-voice-list", "GET", "api", "/v3/voices", "v3", "list voices", "VoiceList"),
    Route("v3-me", "GET", "api", "/v3/users/me", "v3", "current user and billing", "UserMeGet"),
)


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


ROUTES: dict[str, Route] = {r.id: r for r in _ROUTES}


def route(route_id: str) -> Route:
    """Look a route up by id (the table's, or a v3 operation's), with an error that lists the
    table's ids."""
    found = ROUTES.get(route_id) or _operation_routes_by_id().get(route_id)
    if found is None:
        raise ValueError(
            f"unknown endpoint {route_id!r}; use one of: {', '.join(ROUTES)}, or "
            "v3-<operation> for any v3 operation (see operation_route())"
        )
    return found


def operation_route(name: str) -> Route:
    """The route of the v3 operation ``name`` (its spec name, such as ``VideoTranslateCreate``).

    The table's row when it names that operation, so that ``diagnose()`` rules written for the
    table's ids keep applying; else a route derived from the spec. ``KeyError`` when no such
    operation exists.
    """
    return _operation_routes()[name]


@functools.cache
def _operation_routes() -> dict[str, Route]:
    from heygen_lab.spec import load_spec  # loads jsonschema: only when a v3 operation is asked

    named = {r.operation: r for r in ROUTES.values() if r.operation}
    spec = {op.name: op for op in load_spec()}
    for name, row in named.items():
        if (row.method, row.path) != (spec[name].method, spec[name].endpoint):
            raise ValueError(f"route {row.id}: {row.method} {row.path} is not the spec's "
                             f"{spec[name].method} {spec[name].endpoint} for {name}")
    return {
        op.name: named.get(op.name) or Route(
            f"v3-{_kebab(op.name)}", op.method, "api", op.endpoint, "v3",
            f"{op.group} {op.command}".strip(), op.name,
        )
        for op in load_spec()
    }


@functools.cache
def _operation_routes_by_id() -> dict[str, Route]:
    return {r.id: r for r in _operation_routes().values()}


def match(method: str, host: Host | None, path: str) -> Route | None:
    """Find the route a request went to, from its method, host kind and path (no query)."""
    segments = path.rstrip("/").split("/")
    for r in _ROUTES:
        if r.method != method.upper() or r.host == "storage":
            continue
        if host is not None and r.host != host:
            continue
        template = r.path.split("/")
        if len(template) == len(segments) and all(
            t.startswith("{") or t == s for t, s in zip(template, segments, strict=True)
        ):
            return r
    return None
