"""The endpoints the toolkit speaks to, in one table.

Route ids are the shared vocabulary of the client, ``diagnose()``, the contracts and the CLI
(``heygen-lab diagnose --endpoint v1-upload``). ``host`` says which base URL a route lives on:
the legacy uploads live on ``upload.heygen.com``, everything else on ``api.heygen.com``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Host = Literal["api", "upload", "storage"]
Style = Literal["v1", "v2", "v3", "none"]


@dataclass(frozen=True)
class Route:
    """One endpoint: its id, method, host, path template and response envelope."""

    id: str
    method: str
    host: Host
    path: str
    style: Style
    summary: str

    @property
    def idempotent(self) -> bool:
        """Whether repeating the request cannot do anything twice (RFC 9110 safe/idempotent)."""
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


_ROUTES = (
    Route("v1-upload", "POST", "upload", "/v1/asset", "v1", "legacy upload: raw bytes"),
    Route("v1-talking-photo", "POST", "upload", "/v1/talking_photo", "v1", "legacy talking photo"),
    Route("v1-asset-list", "GET", "api", "/v1/asset/list", "v1", "legacy asset list"),
    Route("v3-upload", "POST", "api", "/v3/assets", "v3", "upload: multipart part 'file'"),
    Route("v3-asset-list", "GET", "api", "/v3/assets", "v3", "list assets"),
    Route("v3-asset-get", "GET", "api", "/v3/assets/{asset_id}", "v3", "get one asset"),
    Route("v3-asset-delete", "DELETE", "api", "/v3/assets/{asset_id}", "v3", "delete an asset"),
    Route("direct-init", "POST", "api", "/v3/assets/direct-uploads", "v3", "start a direct upload"),
    Route("direct-put", "PUT", "storage", "{upload_url}", "none", "PUT bytes to the signed URL"),
    Route(
        "direct-complete", "POST", "api", "/v3/assets/{asset_id}/complete", "v3",
        "finish a direct upload",
    ),
    Route("v2-video-generate", "POST", "api", "/v2/video/generate", "v2", "legacy video generate"),
    Route("v3-video-create", "POST", "api", "/v3/videos", "v3", "create a video"),
    Route("v3-video-get", "GET", "api", "/v3/videos/{video_id}", "v3", "video status"),
    Route("v1-video-status", "GET", "api", "/v1/video_status.get", "v1", "legacy video status"),
    Route("v2-avatars", "GET", "api", "/v2/avatars", "v2", "avatars and talking photos"),
    Route("v2-voices", "GET", "api", "/v2/voices", "v2", "voices"),
    Route("v2-quota", "GET", "api", "/v2/user/remaining_quota", "v2", "remaining quota"),
    Route("v3-me", "GET", "api", "/v3/users/me", "v3", "current user and billing"),
)

ROUTES: dict[str, Route] = {r.id: r for r in _ROUTES}


def route(route_id: str) -> Route:
    """Look a route up by id, with an error that lists the valid ids."""
    try:
        return ROUTES[route_id]
    except KeyError:
        raise ValueError(
            f"unknown endpoint {route_id!r}; use one of: {', '.join(ROUTES)}"
        ) from None


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
