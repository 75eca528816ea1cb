"""v3 video agent: sessions (create, get, list, send, stop), their videos and resources.

Routes and shapes are HeyGen's [doc: spec]; the agent itself is [sim]: in ``generate`` mode
(the default) a session renders a real video at once (credit and trial rules of
:meth:`EmulatorState.create_video`; ``[fail]`` in the prompt fails it); in ``chat`` mode it
thinks, then waits for input. Each message sent to an idle session renders one more video; one
sent while the session is busy is 409 ``conflict``. The session's status follows its latest video
(pending -> thinking, processing -> generating, completed, failed); ``stop`` leaves a busy session
``waiting_for_input``. Each video is also a resource of the session.
"""

from __future__ import annotations

from typing import Any, Final

from ..http import Call, v3
from ..payloads import Refusal
from ..state import PROCESSING_AFTER, EmulatorState, Page, Video
from .jobs import KINDS, Kind, Record, Records, check_refs, fails, serve, view
from .videos import video_item

__all__ = ["SESSION"]

#: [sim] seconds of every video an agent makes.
AGENT_SECONDS: Final = 30.0
_WORDS: Final = {"pending": "thinking", "processing": "generating"}
_BUSY: Final = frozenset({"thinking", "generating"})


def _videos(state: EmulatorState, rec: Record) -> list[Video]:
    with state.lock:
        return [state.videos[v] for v in rec.extra.get("videos", ()) if v in state.videos]


def _status(state: EmulatorState, rec: Record) -> str:
    videos = _videos(state, rec)
    if not videos:
        fresh = state.now() - rec.created_at < PROCESSING_AFTER and not rec.stopped
        return "thinking" if fresh else "waiting_for_input"
    status = state.status(videos[-1])
    if rec.stopped and status in ("pending", "processing"):
        return "waiting_for_input"
    return _WORDS.get(status, status)


def _extra(call: Call, rec: Record, status: str) -> dict[str, Any]:
    videos = _videos(call.state, rec)
    messages = list(rec.extra.get("messages", ()))
    if videos and status == "completed":
        messages.append({"role": "assistant", "content": "Your video is ready.",
                         "type": "resource", "resource_ids": [videos[-1].video_id]})
    elif status == "failed":
        messages.append({"role": "assistant", "content": "The video could not be made.",
                         "type": "error"})
    return {"messages": messages, "video_id": videos[-1].video_id if videos else None}


SESSION: Final = Kind("video agent session", "sess_", "session_id", status=_status,
                      extra=_extra)
KINDS[SESSION.name] = SESSION
serve(SESSION, get="VideoAgentGet", list_="VideoAgentList")


def _render(call: Call, rec: Record, prompt: str, body: dict[str, Any]) -> None:
    """Start one more video of the session, and note the user's message."""
    state = call.state
    video = state.create_video("v3", duration=AGENT_SECONDS, fails=fails(body),
                               title=prompt[:80], callback_id=body.get("callback_id"))
    with state.lock:
        rec.stopped = False
        rec.extra.setdefault("videos", []).append(video.video_id)


def _note(call: Call, rec: Record, text: str) -> None:
    with call.state.lock:
        rec.extra.setdefault("messages", []).append(
            {"role": "user", "content": text, "type": "text", "created_at": int(call.state.now())})


@v3("VideoAgentCreate")
def create(call: Call) -> Any:
    """POST /v3/video-agents [doc]: a session; ``generate`` mode renders a video [sim]."""
    check_refs(call, call.body)
    rec = call.state.backend(Records).add(SESSION, dict(call.body), fails(call.body))
    if call.field("mode", "generate") == "generate":
        _render(call, rec, call.field("prompt"), call.body)
    _note(call, rec, call.field("prompt"))
    return view(call, SESSION, rec)


def _session(call: Call) -> Record:
    return call.state.backend(Records).get(SESSION, call.params["session_id"])


@v3("VideoAgentSend")
def send(call: Call) -> Any:
    """POST /v3/video-agents/{session_id} [doc]: one more video; 409 while busy [sim]."""
    rec = _session(call)
    status = _status(call.state, rec)
    if status in _BUSY:
        raise Refusal("v3.conflict", param="session_id",
                       detail=f"session {rec.id!r} is {status}; stop it or wait")
    check_refs(call, call.body)
    _render(call, rec, call.field("message"), call.body)
    _note(call, rec, call.field("message"))
    return {"session_id": rec.id, "run_id": rec.extra["videos"][-1]}


@v3("VideoAgentStop")
def stop(call: Call) -> Any:
    """POST /v3/video-agents/{session_id}/stop [doc]: a busy session waits for input [sim]."""
    rec = _session(call)
    with call.state.lock:
        rec.stopped = True
    return {"session_id": rec.id}


@v3("VideoAgentVideosList")
def videos(call: Call) -> Page:
    """GET /v3/video-agents/{session_id}/videos [doc]: the session's real videos."""
    rec = _session(call)
    return Page([video_item(call, v) for v in _videos(call.state, rec)], False, None)


@v3("VideoAgentResourcesGet")
def resource(call: Call) -> Any:
    """GET /v3/video-agents/{session_id}/resources/{resource_id} [doc]: a video the session
    made [sim: videos are its only resources]."""
    rec = _session(call)
    rid = call.params["resource_id"]
    found = [v for v in _videos(call.state, rec) if v.video_id == rid]
    if not found:
        raise Refusal("v3.not_found", param="resource_id",
                       detail=f"resource {rid!r} not found in session {rec.id!r}")
    item = video_item(call, found[0])
    return view(call, SESSION, rec, resource_id=rid, resource_type="video",
                source_type="generated", url=item["video_url"],
                thumbnail_url=item["thumbnail_url"], preview_url=item["video_url"],
                created_at=item["created_at"], metadata={"status": item["status"]})
