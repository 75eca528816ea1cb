"""The emulator's HTTP layer: dispatch, auth, idempotency, faults and rendering.

Every request goes: faults -> route -> auth -> (v3 POST) idempotency -> (v3) the spec's request
check -> handler -> (v3) the spec's response check. v3 routes come from HeyGen's spec
(:mod:`heygen_lab.spec`): a request the spec refuses is answered 400 ``invalid_parameter``
naming the ``param`` before any handler runs, and a 2xx body that breaks the spec's response
schema is recorded as an emulator bug (re-raised by :meth:`Emulator.check`). Legacy and
internal routes are a werkzeug routing table.

Handlers live in :mod:`.families`, one module per family, registered with :func:`v3` or
:func:`legacy`. A handler gets a :class:`Call`, asks the state to act, and returns the ``data``
of the answer (or a :class:`~.state.Page`, a :class:`Reply`, or a werkzeug ``Response``); it
raises :class:`~.payloads.Refusal` for every error answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import logging
import re
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast
from urllib.parse import quote, unquote

from werkzeug.exceptions import (
    ClientDisconnected,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from heygen_lab.routes import LEGACY_SUNSET
from heygen_lab.spec import Operation, load_spec
from heygen_lab.wire import ServedHost

from .faults import Fault, FaultInjector
from .payloads import Refusal, render
from .state import (
    IDEMPOTENCY_WINDOW,
    EmulatorState,
    IdemRecord,
    Page,
    Spool,
    TooLarge,
    paginate,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Call", "EmulatorBug", "Reply", "Service", "legacy", "v3"]

_log = logging.getLogger("heygen_lab.emulator")

Version = Literal["v1", "v2", "v3", "storage"]
MIB: Final = 1024 * 1024
JSON_LIMIT: Final = MIB
CHUNK: Final = 1024 * 1024  # larger reads: fewer calls per uploaded MiB
IDEM_KEY: Final = re.compile(r"[A-Za-z0-9_:.\-]{1,255}")
#: ``Emulator(legacy=...)``: v1/v2 as last documented, or as removed after their end of life.
LEGACY_MODES: Final = ("available", "retired")

Handler = Callable[["Call"], Any]
T = TypeVar("T")
#: v3 handlers by spec operation name.
V3_HANDLERS: dict[str, Handler] = {}
#: Legacy and internal routes per host; a rule's endpoint is its handler.
_RULES: dict[ServedHost, list[Rule]] = {"api": [], "upload": []}
#: Handlers that need no API key (the wrong host's 404, storage, served files).
_PUBLIC: set[Handler] = set()


def v3(*operations: str) -> Callable[[Handler], Handler]:
    """Register a handler for the named spec operations."""
    spec = load_spec()

    def register(handler: Handler) -> Handler:
        for name in operations:
            spec[name]  # a typo in a name fails at import, listing the valid names
            known = V3_HANDLERS.get(name)
            if known is not None and _where(known) != _where(handler):
                raise RuntimeError(f"two emulator handlers for {name}: {_where(known)} and "
                                   f"{_where(handler)}")
            V3_HANDLERS[name] = handler  # the same handler again: its module was imported anew
        return handler
    return register


def _where(handler: Handler) -> str:
    """A handler's place in the source: the same after its module is imported again (as
    pytester does after an in-process run, or importlib.reload)."""
    return f"{handler.__module__}.{handler.__qualname__}"


@functools.cache
def _url_maps() -> dict[ServedHost, Map]:
    """One werkzeug Map per host, built when the first emulator after a registration needs
    it: werkzeug compiles code for each rule when its Map is made, ~8 ms an emulator
    otherwise. A Map is only read when requests are matched, so emulators share them."""
    return {host: Map([r.empty() for r in rules]) for host, rules in _RULES.items()}


def legacy(host: ServedHost, path: str, methods: Iterable[str] | None = None, *,
           public: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler for a legacy (v1/v2) or internal route on one host."""
    def register(handler: Handler) -> Handler:
        rules = _RULES[host]
        rules[:] = [r for r in rules  # the same rule again: its module was imported anew
                    if (r.rule, _where(r.endpoint)) != (path, _where(handler))]
        rules.append(Rule(path, endpoint=handler, methods=list(methods) if methods else None))
        _url_maps.cache_clear()  # emulators made from now on route by the rules as they are
        if public:
            _PUBLIC.add(handler)
        return handler
    return register


class EmulatorBug(AssertionError):
    """The emulator answered something HeyGen's spec says it never would."""


def invalid(version: str, param: str | None, detail: str) -> Refusal:
    """A 400 ``invalid_parameter`` in the envelope of ``version``."""
    return Refusal(f"{version}.invalid_parameter", param=param, detail=detail)


def version_of(path: str, host: str) -> Version:
    """The envelope style of a path: v1 on the upload host; else by the path's version prefix."""
    if host == "upload":
        return "v1"
    for prefix, version in (("/v1/", "v1"), ("/v2/", "v2"), ("/v3/", "v3"),
                            ("/_storage/", "storage"), ("/_files/", "storage")):
        if path.startswith(prefix) or path == prefix[:-1]:
            return cast(Version, version)
    return "v3"


@dataclass(frozen=True)
class Reply:
    """A v3 answer other than a plain 200: another status, headers, or extra top-level keys."""

    data: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One request as a handler sees it."""

    service: Service
    request: Request
    version: Version
    key: str = ""
    params: dict[str, str] = field(default_factory=dict)
    operation: Operation | None = None
    #: The decoded JSON body of a v3 operation, already checked against the spec.
    body: Any = None
    handler: Handler | None = field(default=None, repr=False)

    @property
    def state(self) -> EmulatorState:
        """The emulator's state."""
        return self.service.state

    def arg(self, name: str) -> str | None:
        """A query parameter (the last one if repeated), or None when absent or empty."""
        values = self.request.args.getlist(name)
        return values[-1] if values and values[-1] else None

    def args(self, name: str) -> list[str]:
        """A list query parameter, repeated (``?a=1&a=2``) or comma-separated (``?a=1,2``)."""
        return [v for raw in self.request.args.getlist(name) for v in raw.split(",") if v]

    def page(self, items: Iterable[T], render: Callable[[T], Any] = lambda item: item,
             seq: Callable[[T], int] = lambda item: item.seq) -> Page:  # type: ignore[attr-defined]
        """One page of ``items`` (ordered by ``seq``) after this call's ``token``, at most
        ``limit`` long (both checked by the spec first), each item rendered."""
        page = paginate(items, seq, self.arg("limit"), self.arg("token"))
        return Page([render(item) for item in page.items], page.has_more, page.next_token)

    def field(self, name: str, default: Any = None) -> Any:
        """A top-level field of the (checked) JSON body."""
        return self.body.get(name, default) if isinstance(self.body, dict) else default

    def json(self, required: bool = True) -> dict[str, Any]:
        """The request body as a JSON object (``{}`` if empty and not ``required``), else 400."""
        too_large = Refusal(f"{self.version}.payload_too_large", limit=JSON_LIMIT)
        if (self.request.content_length or 0) > JSON_LIMIT:
            raise too_large
        try:
            raw = get_input_stream(self.request.environ, max_content_length=JSON_LIMIT).read()
        except RequestEntityTooLarge:
            raise too_large from None
        if not raw.strip() and not required:
            return {}
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            raise invalid(self.version, None, "the request body must be a JSON object")
        return obj

    def spool(self, limit: int, too_large: Refusal) -> Spool:
        """Stream the raw body to a temp file in chunks (never whole into memory)."""
        try:
            stream = get_input_stream(self.request.environ, max_content_length=limit)
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

    def file_url(self, name: str) -> str:
        """Where the emulator serves a stored file or rendered media."""
        return f"{self.service.api_base}/_files/{quote(name, safe='.')}"

    def gate(self, feature: str) -> None:
        """Refuse a feature the plan lacks, in the envelope of this call's version."""
        plan = self.state.plan
        if feature in plan.gated_features:
            pid = "v1.tier_not_supported" if self.version == "v1" else "v3.forbidden"
            raise Refusal(pid, feature=feature, plan=plan.name)

    def ok(self, data: Any) -> Response:
        """A legacy success in this call's envelope."""
        if self.version == "v1":
            body: dict[str, Any] = {"code": 100, "data": data, "msg": None, "message": None}
        else:
            body = {"error": None, "data": data}
        return Response(json.dumps(body), 200, mimetype="application/json")


def _drop(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("emulator fault: connection dropped")


def _raw_path(environ: WSGIEnvironment) -> str:
    """The path as sent, still percent-encoded, so that ``%2F`` stays inside its segment."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw.split("?", 1)[0]
    return quote(str(environ.get("PATH_INFO", "")), safe="/")


class Service:
    """The WSGI applications of both hosts over one state."""

    def __init__(self, state: EmulatorState, keys: Iterable[str], faults: FaultInjector,
                 overrides: Mapping[str, Mapping[str, Any]], signing_key: bytes,
                 legacy: str = "available") -> None:
        from . import families  # noqa: F401 -- registers every handler

        if legacy not in LEGACY_MODES:
            raise ValueError(f"legacy must be one of {', '.join(LEGACY_MODES)}; got {legacy!r}")
        self.legacy = legacy

        self.state = state
        self.keys = frozenset(keys)
        self.faults = faults
        self.overrides = overrides
        self.api_base = ""
        self.upload_base = ""
        self.errors: list[BaseException] = []
        self.spec = load_spec()
        self._signing_key = signing_key
        self._maps = _url_maps()
        self._ids = itertools.count(1)
        self._idle = threading.Condition()
        self._active = 0
        self.stopping = threading.Event()
        """Set by ``Emulator.stop()``: injected latency ends early, so stopping never waits it, and
        a request that reaches the application after it is answered 503 without being handled
        (stop() waits only for the requests already in, then removes the storage)."""

    # ---------------------------------------------------------------- dispatch
    def wsgi(self, host: ServedHost) -> WSGIApplication:
        """The WSGI application of one host."""
        def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            request = Request(environ)
            version = version_of(request.path, host)
            with self._admitted() as admitted:
                if admitted:
                    delay, fault = self.faults.decide(request.path)
                    if delay:
                        self.stopping.wait(delay)
                    if fault is not None and fault.kind == "drop":
                        _drop(environ)
                    response = self._respond(request, host, version, fault)
                else:  # in only once stop() began (a busy machine): answered, never handled
                    response = self._render(Refusal(f"{version}.internal_error", status=503))
            response.headers["X-Request-Id"] = f"emu-req-{next(self._ids):06d}"
            return response(environ, start_response)

        return app

    def restart_request_ids(self) -> None:
        """Number ``X-Request-Id`` from 1 again (after :meth:`Emulator.reset`)."""
        self._ids = itertools.count(1)

    @contextlib.contextmanager
    def _admitted(self) -> Iterator[bool]:
        """Count a request in while it is handled, unless stop() began (then yield False):
        stop() waits for the requests counted here, then removes the storage."""
        with self._idle:
            admitted = not self.stopping.is_set()
            if admitted:
                self._active += 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def take_errors(self) -> list[BaseException]:
        """The recorded handler exceptions, oldest first; clears the record."""
        with self._idle:
            errors, self.errors = self.errors, []
        return errors

    def _respond(self, request: Request, host: ServedHost, version: Version,
                 fault: Fault | None) -> Response:
        try:
            if fault is not None:
                if fault.kind == "rate_limit":
                    raise Refusal(f"{version}.rate_limited",
                                   headers={"Retry-After": str(fault.retry_after)})
                raise Refusal(f"{version}.internal_error", status=fault.status)
            if self.legacy == "retired" and version in ("v1", "v2"):  # every v1/v2 path is gone
                raise Refusal(f"{version}.endpoint_removed",
                               removed_on=LEGACY_SUNSET.date.isoformat())
            call = self._route(request, host, version)
            if call.handler not in _PUBLIC:
                call.key = self._authenticate(request, version)
            run = functools.partial(self._guarded, call)
            if (version == "v3" and request.method == "POST"
                    and "Idempotency-Key" in request.headers):
                return self._idempotent(call, run)
            return run()[0]
        except Refusal as err:
            return self._render(err)
        except Exception as exc:  # an emulator bug outside a handler
            return self._crash(exc, request)

    def _route(self, request: Request, host: ServedHost, version: Version) -> Call:
        if version == "v3" and host == "api":
            raw = _raw_path(request.environ)
            match = self.spec.find(request.method, raw)
            if match is None:
                allowed = self.spec.methods_at(raw)
                if allowed:
                    raise Refusal("v3.method_not_allowed",
                                   headers={"Allow": ", ".join(sorted(allowed))})
                raise Refusal("v3.not_found",
                               detail=f"no route for {request.method} {request.path}")
            op = match.operation
            params = {k: unquote(v) for k, v in match.params.items()}
            return Call(self, request, version, params=params, operation=op,
                        handler=V3_HANDLERS.get(op.name, _not_served))
        try:
            endpoint, args = self._maps[host].bind_to_environ(request.environ).match()
        except MethodNotAllowed as exc:
            raise Refusal(f"{version}.method_not_allowed",
                           headers={"Allow": ", ".join(exc.valid_methods or ())}) from None
        except (NotFound, RequestRedirect):
            raise Refusal(f"{version}.not_found",
                           detail=f"no route for {request.method} {request.path}") from None
        return Call(self, request, version, params=dict(args), handler=endpoint)

    def _guarded(self, call: Call) -> tuple[Response, bool]:
        """(response, whether it may be replayed for an Idempotency-Key)."""
        try:
            if call.operation is not None:
                return self._run_v3(call), True
            return cast(Handler, call.handler)(call), True
        except Refusal as err:
            return self._render(err), err.cacheable
        except (ClientDisconnected, ConnectionError, TimeoutError):
            pid = ("storage.incomplete_body" if call.version == "storage"
                   else f"{call.version}.invalid_parameter")
            return self._render(Refusal(pid, detail="the request body ended before its "
                                         "Content-Length (or broke off)")), False
        except Exception as exc:
            return self._crash(exc, call.request), False

    def _run_v3(self, call: Call) -> Response:
        op = cast(Operation, call.operation)
        if op.body_encoding == "json":
            call.body = call.json(required=False)
        violations = op.check_request(
            path_params=call.params, query=call.request.args.to_dict(flat=False),
            body=call.body, files=("file",) if op.body_encoding == "multipart" else ())
        if violations:
            first = violations[0]
            raise invalid("v3", first.param, f"{first.param} {first.message}")
        result = cast(Handler, call.handler)(call)
        if isinstance(result, Response):
            return result
        reply = result if isinstance(result, Reply) else Reply(result)
        if isinstance(reply.data, Page):
            body: dict[str, Any] = {"data": reply.data.items, "has_more": reply.data.has_more,
                                    "next_token": reply.data.next_token}
        else:
            body = {"data": reply.data}
        problems = op.check_response(body)
        if problems:
            self._record(EmulatorBug(f"the emulator's answer to {op.name} breaks HeyGen's "
                                     f"response schema: {'; '.join(problems[:5])}"))
        return Response(json.dumps(body), reply.status, headers=dict(reply.headers),
                        mimetype="application/json")

    def _record(self, exc: BaseException) -> None:
        _log.error("emulator error:\n%s", "".join(traceback.format_exception(exc)))
        with self._idle:
            self.errors.append(exc)

    def _crash(self, exc: Exception, request: Request) -> Response:
        exc.add_note(f"raised by the emulator while handling {request.method} {request.path}")
        self._record(exc)
        return self._render(Refusal("v3.internal_error"))

    def _render(self, err: Refusal) -> Response:
        status, headers, body = render(err, self.overrides)
        return Response(body, status, headers=headers)

    def _authenticate(self, request: Request, version: Version) -> str:
        """The one auth check: X-Api-Key (any case); v3 also ``Authorization: Bearer``."""
        key = request.headers.get("X-Api-Key", "")
        if not key and version == "v3":
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else ""
        if key not in self.keys:
            raise Refusal(f"{version}.unauthorized")
        return key

    def _idempotent(self, call: Call, run: Callable[[], tuple[Response, bool]]) -> Response:
        request = call.request
        ikey = request.headers["Idempotency-Key"]
        if not IDEM_KEY.fullmatch(ikey):
            raise invalid("v3", "Idempotency-Key",
                          "Idempotency-Key must be 1-255 characters of [A-Za-z0-9_:.-]")
        scope = (call.key, request.method, request.path, ikey)
        state = self.state
        now = state.now()
        with state.lock:
            record = state.idempotency.get(scope)
            if record is not None and now - record.started_at < IDEMPOTENCY_WINDOW:
                if record.status is None:
                    raise Refusal("v3.request_in_progress")
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

    # ---------------------------------------------------------------- signing
    def sign(self, object_id: str, expires: int, size: int, content_type: str) -> str:
        """The signature of a direct-upload PUT URL (object, expiry, size, Content-Type)."""
        msg = f"PUT\n{object_id}\n{expires}\n{size}\n{content_type}".encode()
        return hmac.new(self._signing_key, msg, hashlib.sha256).hexdigest()


def _not_served(call: Call) -> Any:
    op = cast(Operation, call.operation)
    raise Refusal("v3.not_implemented", operation=op.name)
