"""Check your own HeyGen code offline: answer its HTTP calls in process (what moto is to AWS).

The module is ``emulation`` and the function ``heygen_lab.emulate``: a submodule named like the
function would replace it on ``heygen_lab`` as soon as it was imported.

::

    with heygen_lab.emulate(strict=True) as emu:
        my_code_that_uploads("photo.jpg")          # plain requests / httpx / urllib3 inside
    print(emu.requests[-1].diagnosis)

Inside :func:`emulate`, requests to ``api.heygen.com`` and ``upload.heygen.com`` (http or https,
default ports) are answered by the emulator's WSGI apps without a socket; the direct-upload
signed URLs point at ``https://api.heygen.com/_storage/...`` and are answered too. Every other
host goes out exactly as it would outside.

What is patched, and why there: ``urllib3``'s ``HTTPConnectionPool.urlopen`` (the one call
through which both ``requests`` and ``urllib3`` send; pools connect lazily, so no socket is opened
for an intercepted request), and httpx's default transports (``HTTPTransport.handle_request``,
``AsyncHTTPTransport.handle_async_request``, which every ``Client``, ``AsyncClient`` and
module-level function uses unless given its own transport). ``responses``, ``respx`` and
``pytest-httpx`` each cover one client library, need an explicit pass-through rule for every
other host, and would be new runtime dependencies; the two adapters here are a few lines each
over one shared core (:class:`_Router`).

Strict mode (``strict=True``) raises :class:`~heygen_lab.errors.ContractViolation` out of the
call that sent a request HeyGen refuses for a known mistake (:data:`MISTAKES`), carrying the
diagnosis; other errors (an unknown id, a plan's 402) come back as HeyGen would send them.
"""

from __future__ import annotations

import functools
import inspect
import io
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import quote, urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

from heygen_lab.cassettes.fingerprints import fingerprint
from heygen_lab.diagnose import Diagnosis, diagnose
from heygen_lab.emulator import Emulator
from heygen_lab.envelopes import ErrorRecord, decode, decode_body
from heygen_lab.errors import ContractViolation
from heygen_lab.routes import match
from heygen_lab.wire import HEYGEN_HOSTS, Encoding, Sent, ServedHost

if TYPE_CHECKING:
    import httpx
    import urllib3

__all__ = ["HEYGEN_HOSTS", "MISTAKES", "EmulatedRequest", "Emulation", "active", "emulate",
           "route_of"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: Diagnosis ids that strict mode raises: each is a request the calling code got wrong.
#: ``invalid-key`` counts only when no key was sent at all (a wrong key may be the test's point).
MISTAKES: Final = frozenset({
    "wrong-host", "wrong-encoding", "missing-file-part", "missing-params", "invalid-parameter",
    "unknown-route", "wrong-method", "storage-signature", "invalid-key"})
REDACTED: Final = "[redacted]"
_AUTH_HEADERS: Final = frozenset({"x-api-key", "authorization"})
_HOP_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding"})

F = TypeVar("F", bound=Callable[..., Any])


def route_of(url: str) -> ServedHost | None:
    """Which emulator host answers ``url`` inside :func:`emulate`, or ``None`` (left alone)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or port not in (None, _DEFAULT_PORTS[scheme]):
        return None
    return HEYGEN_HOSTS.get(host)


@dataclass(frozen=True)
class EmulatedRequest:
    """One request the code sent inside :func:`emulate`, and the emulator's answer.

    ``url`` and ``headers`` carry no key (``[redacted]``); ``body`` is the body's fingerprint
    (:func:`heygen_lab.cassettes.fingerprint`: encoding, parts, sizes, hashes), never the bytes.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    status: int
    response: Any = field(repr=False)
    diagnosis: Diagnosis | None = None
    raised: bool = False  # strict mode raised ContractViolation for it

    @property
    def error(self) -> ErrorRecord | None:
        """HeyGen's error, normalised, or ``None`` for a success."""
        return decode_body(self.status, self.response).error


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _Dropped(ConnectionError):
    """The emulator's ``drop`` fault: the connection broke before an answer."""


class _AnyKey(frozenset[str]):
    """Stands in for the emulator's key set: any non-empty key is accepted."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(key.strip())


def _body_bytes(body: Any) -> bytes:
    """Whatever a client passed as a body (bytes, text, a file, an iterator) as bytes."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every secret (raw or URL-encoded) replaced, recursively."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED).replace(quote(secret, safe=""), REDACTED)
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    return value


def _sent_keys(headers: Mapping[str, str]) -> tuple[str, ...]:
    keys = [headers.get("x-api-key", "")]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    keys.append(token.strip() if scheme.lower() == "bearer" else headers.get("authorization", ""))
    return tuple(k for k in keys if k.strip())


_ENCODINGS: Final[Mapping[str, Encoding]] = {
    "multipart": "multipart", "multipart-malformed": "multipart", "json": "json",
    "empty": "empty"}


def _sent(kind: ServedHost, method: str, path: str, fp: Mapping[str, Any]) -> Sent:
    """What ``diagnose()`` needs to know about a request."""
    storage = kind == "api" and path.startswith("/_storage/")
    route = None if storage else match(method, kind, path)
    encoding = _ENCODINGS.get(str(fp.get("encoding")), "raw")
    parts = tuple(str(p.get("name") or "") for p in fp.get("parts", ()))
    size = fp.get("size")
    return Sent(route="direct-put" if storage else (route.id if route else None),
                host="storage" if storage else kind, path=path,
                encoding=encoding, parts=parts, content_type=fp.get("content_type"),
                size=size if isinstance(size, int) else None)


def _local_diagnosis(record: ErrorRecord, sent: Sent) -> Diagnosis | None:
    """Mistakes ``diagnose()`` has no rule for yet, told apart by the emulator's payloads."""
    code = str(record.code).lower() if record.code is not None else ""
    message = (record.message or "").lower()
    evidence = (f"HTTP {record.status}", record.describe(), f"sent: {sent.describe()}")
    if record.status == 400 and code in {"invalid_parameter", "400175"}:
        param = f" ({record.param})" if record.param else ""
        return Diagnosis(
            "invalid-parameter", f"The request breaks the endpoint's contract{param}: "
            f"{record.message or 'a parameter is missing or invalid'}",
            "Send every required parameter with a valid value; the endpoint's parameters are "
            "in HeyGen's API reference (heygen_lab.spec.load_spec().find(method, path))",
            evidence)
    if record.status == 404 and ("no route for" in message or code == "404"):
        return Diagnosis(
            "unknown-route", "HeyGen has no endpoint at this path on this host",
            "Check the path, the API version and the host (legacy uploads live on "
            "upload.heygen.com, everything else on api.heygen.com)", evidence)
    if record.status == 405:
        return Diagnosis("wrong-method", "The endpoint exists but not with this HTTP method",
                         "Use the method HeyGen documents for this path (see the Allow header)",
                         evidence)
    return None


class _Router:
    """The shared core: one request in, the emulator's answer out, recorded and judged."""

    def __init__(self, emulation: Emulation, emulator: Emulator) -> None:
        self.emulation = emulation
        self.apps = {kind: emulator.service.wsgi(kind) for kind in ("api", "upload")}
        self.lock = threading.Lock()

    def handle(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes,
               *, chunked: bool = False) -> _Answer:
        kind = cast(ServedHost, route_of(url))
        parts = urlsplit(url)
        pairs = [(str(k), str(v)) for k, v in headers]
        lower = {k.lower(): v for k, v in pairs}
        chunked = chunked or "chunked" in lower.get("transfer-encoding", "").lower()
        builder = EnvironBuilder(
            path=parts.path or "/", base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query, method=method.upper(), data=body,
            headers=[(k, v) for k, v in pairs if k.lower() not in _HOP_HEADERS])
        environ = builder.get_environ()
        if chunked:  # as werkzeug's server passes a chunked body: no length, input terminated
            environ.pop("CONTENT_LENGTH", None)
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            environ["wsgi.input_terminated"] = True
        try:
            app_iter, status, out_headers = run_wsgi_app(self.apps[kind], environ, buffered=True)
        except ConnectionError as exc:
            raise _Dropped(str(exc)) from None
        try:
            data = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        code, _, reason = status.partition(" ")
        answer = _Answer(int(code), reason, list(out_headers.items()), data)
        self.record(kind, method.upper(), url, lower, pairs, body, answer)
        return answer

    def record(self, kind: ServedHost, method: str, url: str, lower: Mapping[str, str],
               pairs: list[tuple[str, str]], body: bytes, answer: _Answer) -> None:
        emulation = self.emulation
        secrets = tuple(sorted({*_sent_keys(lower), *emulation.known_keys}, key=len,
                               reverse=True))
        fp = fingerprint(lower.get("content-type"), body)
        path = urlsplit(url).path or "/"
        decoded = decode(answer.status, answer.body,
                         request_id=dict(answer.headers).get("X-Request-Id"))
        error, diagnosis = decoded.error, None
        if error is not None:
            sent = _sent(kind, method, path, fp)
            diagnosis = diagnose(error, sent) or _local_diagnosis(error, sent)
        mistake = diagnosis is not None and emulation.is_mistake(diagnosis.id, bool(
            _sent_keys(lower)))
        response = decoded.body if decoded.body is not None else answer.body.decode(
            "utf-8", "replace")
        entry = EmulatedRequest(
            method=method, url=_redact(url, secrets),
            headers={k: REDACTED if k.lower() in _AUTH_HEADERS else _redact(v, secrets)
                     for k, v in pairs},
            body=_redact(fp, secrets), status=answer.status, response=_redact(response, secrets),
            diagnosis=diagnosis, raised=mistake)
        with self.lock:
            emulation.log.append(entry)
        if mistake and error is not None and diagnosis is not None:
            raise ContractViolation(
                f"{method} {entry.url} -> HTTP {answer.status}: {error.describe()}. "
                f"{diagnosis.cause}. Fix: {diagnosis.remedy} [strict mode: {diagnosis.id}; to "
                f"let it through, emulate(strict=True, allow={{{diagnosis.id!r}}})]",
                diagnosis=diagnosis, request=entry)


class Emulation:
    """What :func:`emulate` returns: a context manager, a decorator, and the record of requests.

    Each ``with`` (or each call of a decorated function) gets a fresh emulator; ``emulator``
    is the current one (its ``clock``, ``state``, ``plan``), ``requests`` what was sent.
    """

    def __init__(self, *, strict: bool = False, allow: Iterable[str] = (),
                 key: str | None = None, **emulator_options: Any) -> None:
        self.strict = strict
        self.allow = frozenset(allow)
        unknown = self.allow - MISTAKES
        if unknown:
            raise ValueError(f"allow names no known mistake: {sorted(unknown)}; "
                             f"known: {sorted(MISTAKES)}")
        if key is not None and not key.strip():
            raise ValueError("key must be non-empty")
        self.key = key
        self.options = emulator_options
        self.log: list[EmulatedRequest] = []
        self._emulator: Emulator | None = None
        self._restore: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        state = "active" if self._emulator is not None else "inactive"
        return (f"<Emulation {state} strict={self.strict} allow={sorted(self.allow)} "
                f"requests={len(self.log)}>")

    @property
    def known_keys(self) -> tuple[str, ...]:
        return (self.key,) if self.key else ()

    @property
    def requests(self) -> list[EmulatedRequest]:
        """Every request answered in process so far, oldest first (a copy)."""
        return list(self.log)

    @property
    def emulator(self) -> Emulator:
        """The emulator answering right now."""
        if self._emulator is None:
            raise RuntimeError("this emulation is not active")
        return self._emulator

    def is_mistake(self, diagnosis_id: str, key_sent: bool) -> bool:
        """Whether strict mode raises for a diagnosis."""
        if not self.strict or diagnosis_id not in MISTAKES - self.allow:
            return False
        return diagnosis_id != "invalid-key" or not key_sent

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Emulation:
        """Start answering HeyGen's hosts in process (until :meth:`stop`)."""
        global _ACTIVE
        with _ACTIVE_LOCK:
            if _ACTIVE is not None:
                raise RuntimeError("heygen_lab.emulate() is already active in this process; "
                                   "nesting or running two at once is not supported")
            _ACTIVE = self
        try:
            options: dict[str, Any] = {"keys": (self.key,)} if self.key else {}
            emulator = Emulator(**options, **self.options)
            if not self.key:
                emulator.service.keys = _AnyKey()
            emulator.service.api_base = "https://api.heygen.com"
            emulator.service.upload_base = "https://upload.heygen.com"
            emulator.state.tmp_dir.mkdir(parents=True, exist_ok=True)
            (emulator.storage_dir / "objects").mkdir(parents=True, exist_ok=True)
            self.log = []
            self._emulator = emulator
            self._patch(_Router(self, emulator))
        except BaseException:
            self._teardown()
            raise
        return self

    def stop(self, exc: BaseException | None = None) -> None:
        """Undo every patch and drop the emulator; re-raise an emulator bug if ``exc`` is None."""
        emulator = self._emulator
        self._teardown()
        if emulator is None:
            return
        emulator.service.wait_idle(timeout=5)
        shutil.rmtree(emulator.storage_dir, ignore_errors=True)
        errors = emulator.service.take_errors()
        if exc is not None:
            for error in errors:
                exc.add_note(f"emulator handler error meanwhile: {error!r}")
        elif errors:
            raise errors[0]

    def _teardown(self) -> None:
        global _ACTIVE
        while self._restore:
            self._restore.pop()()
        self._emulator = None
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def _patch(self, router: _Router) -> None:
        import urllib3.connectionpool

        pool_cls = urllib3.connectionpool.HTTPConnectionPool
        self._swap(pool_cls, "urlopen", _urllib3_urlopen(router, pool_cls.urlopen))
        try:
            import httpx
        except ImportError:  # httpx is optional: nothing of it to patch
            return
        self._swap(httpx.HTTPTransport, "handle_request",
                   _httpx_handle(router, httpx.HTTPTransport.handle_request))
        self._swap(httpx.AsyncHTTPTransport, "handle_async_request",
                   _httpx_handle_async(router, httpx.AsyncHTTPTransport.handle_async_request))

    def _swap(self, owner: type, name: str, replacement: Callable[..., Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, replacement)
        self._restore.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> Emulation:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(exc)

    def __call__(self, func: F) -> F:
        """Decorate a function (sync or async): each call runs inside a fresh emulation."""
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)
            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)
        return cast(F, run)


_ACTIVE: Emulation | None = None
_ACTIVE_LOCK = threading.Lock()


def emulate(*, strict: bool = False, allow: Iterable[str] = (), key: str | None = None,
            **emulator_options: Any) -> Emulation:
    """Answer HeyGen's hosts in process, for a ``with`` block or a decorated function.

    ``strict``: raise :class:`~heygen_lab.errors.ContractViolation` at the call that sent a
    known mistake (:data:`MISTAKES`), except the ids in ``allow``. ``key``: the only API key
    accepted (default: any non-empty key). Everything else goes to
    :class:`~heygen_lab.emulator.Emulator` (``plan=``, ``faults=``, ``clock=``, ``seed=``...).
    """
    return Emulation(strict=strict, allow=allow, key=key, **emulator_options)


def active() -> Emulation | None:
    """The emulation running in this process, if any."""
    return _ACTIVE


# ---------------------------------------------------------------------- the adapters
def _urllib3_urlopen(router: _Router, original: Callable[..., Any]) -> Callable[..., Any]:
    """``HTTPConnectionPool.urlopen``, answering HeyGen's hosts from the emulator."""
    from urllib3 import HTTPHeaderDict
    from urllib3.exceptions import ProtocolError
    from urllib3.response import HTTPResponse

    @functools.wraps(original)
    def urlopen(pool: urllib3.HTTPConnectionPool, method: str, url: str, body: Any = None,
                headers: Mapping[str, str] | None = None, *args: Any,
                **kwargs: Any) -> urllib3.BaseHTTPResponse:
        target = url
        if not url.lower().startswith(("http://", "https://")):  # absolute only via a proxy
            default = pool.port in (None, _DEFAULT_PORTS.get(pool.scheme))
            port = "" if default else f":{pool.port}"
            target = f"{pool.scheme}://{pool.host}{port}{url}"
        if route_of(target) is None:
            return cast("urllib3.BaseHTTPResponse",
                        original(pool, method, url, body, headers, *args, **kwargs))
        try:
            answer = router.handle(method, target, dict(headers or {}).items(),
                                   _body_bytes(body), chunked=bool(kwargs.get("chunked")))
        except _Dropped as exc:
            raise ProtocolError("Connection aborted.", exc) from None
        return HTTPResponse(
            body=io.BytesIO(answer.body), headers=HTTPHeaderDict(answer.headers),
            status=answer.status, version=11, reason=answer.reason,
            preload_content=kwargs.get("preload_content", True),
            decode_content=kwargs.get("decode_content", True),
            request_method=method, request_url=target, enforce_content_length=True)

    return urlopen


def _httpx_handle(router: _Router, original: Callable[..., Any]) -> Callable[..., Any]:
    import httpx

    @functools.wraps(original)
    def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if route_of(str(request.url)) is None:
            return cast(httpx.Response, original(transport, request))
        return _httpx_response(router, request, request.read())

    return handle_request


def _httpx_handle_async(router: _Router, original: Callable[..., Any]) -> Callable[..., Any]:
    import anyio.to_thread
    import httpx

    @functools.wraps(original)
    async def handle_async_request(transport: httpx.AsyncHTTPTransport,
                                   request: httpx.Request) -> httpx.Response:
        if route_of(str(request.url)) is None:
            return cast(httpx.Response, await original(transport, request))
        body = await request.aread()
        # In a worker thread, as a socket would not block the loop (latency faults sleep).
        return await anyio.to_thread.run_sync(_httpx_response, router, request, body)

    return handle_async_request


def _httpx_response(router: _Router, request: httpx.Request, body: bytes) -> httpx.Response:
    import httpx

    try:
        answer = router.handle(request.method, str(request.url), request.headers.multi_items(),
                               body)
    except _Dropped:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                        request=request) from None
    return httpx.Response(answer.status, headers=answer.headers,
                          stream=httpx.ByteStream(answer.body), request=request,
                          extensions={"http_version": b"HTTP/1.1",
                                      "reason_phrase": answer.reason.encode("latin-1")})

