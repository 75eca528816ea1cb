"""v3 catalogue-like data: templates (list, get, generate), brand kits and glossaries, video agent
styles, translation languages and the sound library.

Routes and shapes are HeyGen's [doc: spec]; the entries are a small fixed set [sim]. Generating
from a template renders a real video through :meth:`EmulatorState.create_video`, so the plan's
credit and trial rules apply as on ``POST /v3/videos``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .. import synth
from ..clock import DEFAULT_EPOCH
from ..http import Call, invalid, v3
from ..payloads import Refusal
from ..state import FAIL_MARKER, Page
from .videos import video_item

__all__ = ["BRAND_KITS", "GLOSSARIES", "LANGUAGES", "SOUNDS", "STYLES", "TEMPLATES", "shaped",
           "strings"]

_EPOCH: Final = int(DEFAULT_EPOCH)
_ISO: Final = "2026-01-01T00:00:00Z"

#: [sim] languages a video can be translated into (names, as HeyGen's v2 list gave them).
LANGUAGES: Final = ("English", "Spanish", "German", "French", "Japanese", "Portuguese")
BRAND_KITS: Final[tuple[dict[str, Any], ...]] = (
    {"brand_kit_id": "emu_brand_kit_default", "name": "Default kit (emulator)",
     "colors": ["#1A73E8", "#FFFFFF"], "logo_url": None},
    {"brand_kit_id": "emu_brand_kit_dark", "name": "Dark kit (emulator)",
     "colors": ["#111111", "#F5B700"], "logo_url": None},
)
GLOSSARIES: Final[tuple[dict[str, Any], ...]] = (
    {"brand_glossary_id": "emu_glossary_product", "name": "Product terms (emulator)",
     "created_at": _ISO, "updated_at": _ISO},
)
STYLES: Final[tuple[dict[str, Any], ...]] = (
    {"style_id": "emu_style_explainer", "name": "Explainer (emulator)", "aspect_ratio": "16:9",
     "tags": ["business", "education"]},
    {"style_id": "emu_style_social", "name": "Social short (emulator)", "aspect_ratio": "9:16",
     "tags": ["social", "marketing"]},
    {"style_id": "emu_style_cinematic", "name": "Cinematic (emulator)", "aspect_ratio": "16:9",
     "tags": ["marketing"]},
)
SOUNDS: Final[tuple[dict[str, Any], ...]] = (
    {"id": "emu_sound_upbeat", "name": "Upbeat corporate", "type": "music", "duration": 60.0,
     "description": "bright upbeat corporate background music"},
    {"id": "emu_sound_calm", "name": "Calm piano", "type": "music", "duration": 90.0,
     "description": "calm slow piano background music"},
    {"id": "emu_sound_whoosh", "name": "Whoosh", "type": "sound_effects", "duration": 1.2,
     "description": "fast whoosh transition sound effect"},
    {"id": "emu_sound_click", "name": "Click", "type": "sound_effects", "duration": 0.3,
     "description": "short mouse click sound effect"},
)
TEMPLATES: Final[tuple[dict[str, Any], ...]] = (
    {"id": "emu_template_welcome", "name": "Welcome (emulator)", "aspect_ratio": "16:9",
     "scenes": [{"scene_id": "scene_1", "script": "Hi {{name}}, welcome to {{company}}!",
                 "variables": [{"name": "name", "variable_type": "text"},
                               {"name": "company", "variable_type": "text"}]}]},
    {"id": "emu_template_update", "name": "Product update (emulator)", "aspect_ratio": "9:16",
     "scenes": [{"scene_id": "scene_1", "script": "Here is what is new in {{product}}.",
                 "variables": [{"name": "product", "variable_type": "text"}]},
                {"scene_id": "scene_2", "script": "Thanks for watching.", "variables": []}]},
)


def strings(value: Any) -> Iterable[str]:
    """Every string inside a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def shaped(call: Call, real: Any, seed: str = "emu") -> Any:
    """``real`` shaped by the call's operation (its ``data``, or one element of a list)."""
    assert call.operation is not None
    return synth.item(call.operation, real, seed)


def _page(call: Call, items: Sequence[Mapping[str, Any]]) -> Page:
    """A page of fixed entries, shaped by the operation's item schema."""
    return call.page(list(enumerate(items, 1)), lambda pair: shaped(call, pair[1], str(pair[0])),
                     seq=lambda pair: pair[0])


def _template(call: Call, template_id: str) -> dict[str, Any]:
    for t in TEMPLATES:
        if t["id"] == template_id:
            variables = {v["name"]: {"name": v["name"], "type": v["variable_type"]}
                         for scene in t["scenes"] for v in scene["variables"]}
            return {**t, "scene_ids": [s["scene_id"] for s in t["scenes"]],
                    "variables": variables, "created_at": _EPOCH, "updated_at": _EPOCH,
                    "thumbnail_url": call.file_url("preview.png")}
    raise Refusal("v3.not_found", param="template_id",
                   detail=f"template {template_id!r} not found")


@v3("TemplateList")
def templates(call: Call) -> Page:
    """GET /v3/templates [doc; entries sim]."""
    return _page(call, [_template(call, str(t["id"])) for t in TEMPLATES])


@v3("TemplateGet")
def template(call: Call) -> Any:
    """GET /v3/templates/{template_id} [doc; entries sim]."""
    return shaped(call, _template(call, call.params["template_id"]))


@v3("TemplateGenerate")
def generate(call: Call) -> Any:
    """POST /v3/templates/{template_id} [doc]: variables and scene_ids must be the template's;
    renders a real video (credit and trial rules) whose script is the filled-in scenes [sim]."""
    t = _template(call, call.params["template_id"])
    variables: dict[str, Any] = call.field("variables") or {}
    for name in variables:
        if name not in t["variables"]:
            raise invalid("v3", f"variables.{name}", f"template {t['id']} has no variable "
                          f"{name!r}; it has {', '.join(t['variables']) or 'none'}")
    chosen = call.field("scene_ids") or t["scene_ids"]
    for i, scene_id in enumerate(chosen):
        if scene_id not in t["scene_ids"]:
            raise invalid("v3", f"scene_ids[{i}]", f"template {t['id']} has no scene {scene_id!r}")
    script = " ".join(re.sub(r"\{\{(\w+)\}\}", lambda m: str(variables.get(m[1], m[1])),
                             s["script"]) for s in t["scenes"] if s["scene_id"] in chosen)
    video = call.state.create_video(
        "v3", duration=max(1.0, len(script.split()) / 2.5),
        fails=any(FAIL_MARKER in s for s in strings(variables)), title=str(t["name"]),
        folder_id=call.field("folder_id"), callback_id=call.field("callback_id"))
    return video_item(call, video)


@v3("BrandKitsList")
def brand_kits(call: Call) -> Page:
    """GET /v3/brand-kits [doc; entries sim]."""
    return _page(call, BRAND_KITS)


@v3("BrandGlossariesList")
def glossaries(call: Call) -> Page:
    """GET /v3/brand-glossaries [doc; entries sim]."""
    return _page(call, GLOSSARIES)


@v3("VideoAgentStylesList")
def styles(call: Call) -> Page:
    """GET /v3/video-agents/styles?tag= [doc; entries sim]."""
    tag = call.arg("tag")
    preview = call.file_url("preview.png")
    return _page(call, [{**s, "thumbnail_url": preview} for s in STYLES
                        if tag is None or tag in s["tags"]])


@v3("VideoTranslateLanguagesList")
def languages(call: Call) -> Any:
    """GET /v3/video-translations/languages [doc; entries sim]."""
    return {"languages": list(LANGUAGES)}


def _score(query: str, sound: Mapping[str, Any]) -> float:
    """Share of the query's words found in the sound's name or description [sim]."""
    words = set(re.findall(r"\w+", query.lower()))
    text = set(re.findall(r"\w+", f"{sound['name']} {sound['description']}".lower()))
    return round(len(words & text) / len(words), 3) if words else 0.0


@v3("AudioSoundsList")
def sounds(call: Call) -> Page:
    """GET /v3/audio/sounds?query=&type=&min_score= [doc]: ranked by a word-overlap ``score``
    [sim]; sounds without a matching word are left out."""
    kind, floor = call.arg("type"), float(call.arg("min_score") or 0)
    query = call.arg("query") or ""
    scored = [(_score(query, s), s) for s in SOUNDS if kind is None or s["type"] == kind]
    ranked = sorted(((score, s) for score, s in scored if score > 0 and score >= floor),
                    key=lambda pair: -pair[0])
    return _page(call, [{**s, "score": score,
                         "audio_url": f"{call.service.api_base}/_files/jobs/{s['id']}.mp3"}
                        for score, s in ranked])
