"""v3 asset search: ``GET /v3/assets/search?query=&type=image|icon&scope=public|personal``.

Route, parameters and item shape are HeyGen's [doc: spec]. ``public`` searches a small fixed
stock library [sim]; ``personal`` searches the account's ready image assets by name [sim].
A query matches an entry when every word of it is in the entry's name.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ..http import Call, v3
from ..state import Page
from .catalogue import shaped

#: [sim] the public stock library.
STOCK: Final = (
    {"id": "emu_stock_office", "type": "image", "name": "modern office desk", "width": 1920,
     "height": 1080, "orientation": "landscape", "is_transparent": False},
    {"id": "emu_stock_city", "type": "image", "name": "city skyline at night", "width": 1080,
     "height": 1920, "orientation": "portrait", "is_transparent": False},
    {"id": "emu_icon_star", "type": "icon", "name": "star", "width": 512, "height": 512,
     "orientation": "square", "is_transparent": True},
    {"id": "emu_icon_office", "type": "icon", "name": "office building", "width": 512,
     "height": 512, "orientation": "square", "is_transparent": True},
)


def _matches(query: str, name: str) -> bool:
    words = set(re.findall(r"\w+", name.lower()))
    return set(re.findall(r"\w+", query.lower())) <= words


@v3("AssetSearch")
def search(call: Call) -> Page:
    """GET /v3/assets/search [doc; library sim]."""
    query, kind = call.arg("query") or "", call.arg("type")
    entries: list[dict[str, Any]]
    if call.arg("scope") == "personal":
        entries = [] if kind != "image" else [
            {"id": a.asset_id, "type": "image", "name": a.name, "url": call.file_url(a.asset_id)}
            for a in call.state.ready_assets() if a.kind == "image"]
    else:
        entries = [{**s, "url": call.file_url("preview.png")} for s in STOCK if s["type"] == kind]
    found = list(enumerate((e for e in entries if _matches(query, str(e["name"]))), 1))
    return call.page(found, lambda p: shaped(call, p[1], str(p[0])), seq=lambda p: p[0])
