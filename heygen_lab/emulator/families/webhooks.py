"""v3 webhooks: endpoints (create, list, update, delete, rotate the secret), the event types, and
the events the emulator generated.

The emulator delivers nothing: ``GET /v3/webhooks/events`` shows the events it would have sent
[sim]. They are derived from videos: a video that has reached ``completed`` / ``failed`` on the
clock yields one ``avatar_video.success`` / ``avatar_video.fail`` event, kept from the first time
the event list is read after that (a video deleted before that leaves no event). A secret is
shown only when made (create, rotate) [sim].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from heygen_lab.spec import load_spec

from ..http import Call, invalid, v3
from ..payloads import Refusal
from ..state import COMPLETED_AFTER, EmulatorState, Page
from ._store import Store, iso

#: [doc: spec flags] Every event type a webhook endpoint can subscribe to.
EVENT_TYPES: Final = next(f.enum for f in load_spec()["WebhookEventsList"].flags
                          if f.name == "event-type") or ()
#: [sim] How the description of an event type reads its outcome.
_OUTCOMES: Final = {"success": "succeeded", "fail": "failed",
                    "validation_failed": "failed validation", "download_failed":
                    "could not download its input", "finished": "finished"}
#: [sim] The event a video's final status produces.
_VIDEO_EVENTS: Final = {"completed": "avatar_video.success", "failed": "avatar_video.fail"}


@dataclass
class Endpoint:
    """A registered webhook endpoint."""

    id: str
    url: str
    events: list[str] | None
    entity_id: str | None
    secret: str
    created_at: float
    seq: int
    status: str = "enabled"


@dataclass
class Event:
    """An event the emulator generated."""

    id: str
    event_type: str
    entity_id: str
    data: dict[str, Any]
    created_at: float
    seq: int


def describe(event_type: str) -> str:
    """``avatar_video.success`` -> ``avatar video succeeded`` [sim]."""
    subject, _, outcome = event_type.rpartition(".")
    if not subject:
        return f"{event_type.replace('_', ' ')} event"
    return f"{subject.replace('_', ' ').replace('.', ' ')} {_OUTCOMES.get(outcome, outcome)}"


class WebhookBackend:
    """Endpoints and generated events."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.endpoints: Store[Endpoint] = Store(state, lambda rid: Refusal(
            "v3.not_found", param="endpoint_id", detail=f"webhook endpoint {rid!r} not found"))
        self.events: Store[Event] = Store(state, lambda rid: Refusal(
            "v3.not_found", param="event_id", detail=f"event {rid!r} not found"))
        self._seen: set[str] = set()

    def create(self, url: str, events: list[str] | None, entity_id: str | None) -> Endpoint:
        """A new endpoint with a fresh secret."""
        state = self.state
        return self.endpoints.add(Endpoint(state.new_id("ep_"), url, events, entity_id,
                                           state.new_id("whsec_"), state.now(),
                                           state.next_seq()))

    def rotate(self, endpoint_id: str) -> Endpoint:
        """Replace the endpoint's secret; the old one is gone."""
        with self.state.lock:
            endpoint = self.endpoints.get(endpoint_id)
            endpoint.secret = self.state.new_id("whsec_")
        return endpoint

    def sync(self, call: Call) -> None:
        """Record an event for each video that has finished since the last look [sim]."""
        state = self.state
        with state.lock:
            new = [(v, _VIDEO_EVENTS[s]) for v in state.videos.values()
                   if v.video_id not in self._seen
                   and (s := state.status(v)) in _VIDEO_EVENTS]
            for video, event_type in sorted(new, key=lambda p: (p[0].created_at, p[0].seq)):
                self._seen.add(video.video_id)
                data: dict[str, Any] = {"video_id": video.video_id,
                                        "callback_id": video.callback_id}
                if event_type.endswith("success"):
                    data |= {"url": call.file_url(f"{video.video_id}.{video.output_format}"),
                             "folder_id": video.folder_id}
                else:
                    data["msg"] = "Video render failed"
                self.events.add(Event(state.new_id("evt_"), event_type, video.video_id, data,
                                      video.created_at + COMPLETED_AFTER, state.next_seq()))


def _backend(call: Call) -> WebhookBackend:
    return call.state.backend(WebhookBackend)


def _url(value: str) -> str:
    """An endpoint URL: http(s) [sim: HeyGen's own rule is not documented]."""
    if not value.startswith(("https://", "http://")):
        raise invalid("v3", "url", "url must be an http(s) URL")
    return value


def endpoint_item(endpoint: Endpoint, *, secret: bool = False) -> dict[str, Any]:
    """An endpoint as the webhook routes show it [doc: spec]; the secret only when made
    [sim]."""
    return {"endpoint_id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
            "status": endpoint.status, "created_at": iso(endpoint.created_at),
            "secret": endpoint.secret if secret else None}


@v3("WebhookEndpointsCreate")
def create(call: Call) -> Any:
    """POST /v3/webhooks/endpoints [doc]; no ``events`` means every event [sim]."""
    endpoint = _backend(call).create(_url(call.field("url")), call.field("events"),
                                     call.field("entity_id"))
    return endpoint_item(endpoint, secret=True)


@v3("WebhookEndpointsList")
def list_(call: Call) -> Page:
    """GET /v3/webhooks/endpoints?limit=&token= [doc]."""
    return call.page(_backend(call).endpoints.where(), endpoint_item)


@v3("WebhookEndpointsUpdate")
def update(call: Call) -> Any:
    """PATCH /v3/webhooks/endpoints/{endpoint_id} -- ``url`` and/or ``events`` [doc]."""
    backend = _backend(call)
    with call.state.lock:
        endpoint = backend.endpoints.get(call.params["endpoint_id"])
        if call.field("url") is not None:
            endpoint.url = _url(call.field("url"))
        if call.field("events") is not None:
            endpoint.events = call.field("events")
    return endpoint_item(endpoint)


@v3("WebhookEndpointsDelete")
def delete(call: Call) -> Any:
    """DELETE /v3/webhooks/endpoints/{endpoint_id} [doc]: ``{"data": {}}``."""
    _backend(call).endpoints.pop(call.params["endpoint_id"])
    return {}


@v3("WebhookEndpointsRotateSecret")
def rotate(call: Call) -> Any:
    """POST /v3/webhooks/endpoints/{endpoint_id}/rotate-secret [doc]."""
    endpoint = _backend(call).rotate(call.params["endpoint_id"])
    return {"endpoint_id": endpoint.id, "secret": endpoint.secret}


@v3("WebhookEventTypesList")
def event_types(call: Call) -> Page:
    """GET /v3/webhooks/event-types [doc: the spec's enum]; one page, descriptions [sim]."""
    return Page([{"event_type": t, "description": describe(t)} for t in EVENT_TYPES],
                False, None)


@v3("WebhookEventsList")
def events(call: Call) -> Page:
    """GET /v3/webhooks/events?event_type=&entity_id=&limit=&token= [doc]; the events are
    the emulator's own [sim]."""
    backend = _backend(call)
    backend.sync(call)
    event_type, entity_id = call.arg("event_type"), call.arg("entity_id")
    found = backend.events.where(lambda e: event_type in (None, e.event_type)
                                 and entity_id in (None, e.entity_id))
    return call.page(found, lambda e: {"event_id": e.id, "event_type": e.event_type,
                                           "event_data": e.data,
                                           "created_at": iso(e.created_at)})
