"""Run contract cases against a target (replay, emulator or live) through the client.

Each case gets a fresh target: an emulator of the case's plan (new, or reset to how it started),
a cassette, or the live API.
A step's request is built with the client's own builders and sent with
:meth:`HeyGenClient.exchange`, so a passing case exercised exactly what users call.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import jsonschema

from heygen_lab import uploads
from heygen_lab.client import Exchange, HeyGenClient
from heygen_lab.contracts.match import MISSING, Difference, compare
from heygen_lab.contracts.model import Case, Contract, Step
from heygen_lab.diagnose import diagnose
from heygen_lab.errors import ConfigurationError, HeyGenError
from heygen_lab.media import load_media
from heygen_lab.routes import Sunset, route
from heygen_lab.settings import DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE, Settings

if TYPE_CHECKING:
    from heygen_lab.emulator import Emulator

Verdict = Literal["pass", "drift", "retired", "skip", "error"]
"""``retired``: a step to a v1/v2 route differed from its pin because the endpoint answered as
removed (diagnosis ``endpoint-retired``) after its announced end of life: not drift."""
INVALID_KEY = "invalid-key-for-contracts"
MAX_GENERATED_BYTES = 256 * 1024 * 1024
"""The largest file a contract may ``generate`` (enough to exceed every upload limit tested)."""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class StepResult:
    """What one step sent and saw, and how it differs from the pin."""

    index: int
    route: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    diagnosis: str | None = None
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None
    retired: Sunset | None = None
    """The route's announced end of life, when it answered as removed after that date."""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "route": self.route, "status": self.status,
                "body": self.body, "headers": self.headers, "diagnosis": self.diagnosis,
                "differences": [d.to_dict() for d in self.differences], "error": self.error,
                "retired": self.retired is not None}


@dataclass
class CaseResult:
    """A case's verdict: pass, drift (differs from the pin), retired (its legacy endpoint is
    gone after the announced date), skip (with why), or error."""

    case: Case
    verdict: Verdict
    steps: list[StepResult] = field(default_factory=list)
    reason: str = ""

    @property
    def sunset(self) -> Sunset | None:
        """The end of life of the endpoint that retired this case, if it did."""
        return next((s.retired for s in self.steps if s.retired is not None), None)

    @property
    def differences(self) -> list[Difference]:
        return [d for s in self.steps for d in s.differences]

    def explain(self) -> str:
        """Expected vs observed, field by field, with provenance and diagnosis."""
        prov = self.case.provenance
        lines = [f"{self.case.id}: {self.verdict}" + (f" ({self.reason})" if self.reason else ""),
                 f"  pinned from: {prov['kind']}: {prov['source']}",
                 f"  defined at: {self.case.file}:{self.case.line}"]
        for s in self.steps:
            if s.error or s.differences:
                lines.append(f"  step {s.index + 1} ({s.route}): HTTP {s.status}"
                             + (f", diagnosis {s.diagnosis}" if s.diagnosis else ""))
            if s.error:
                lines.append(f"    no comparable response: {s.error}")
            for d in s.differences:
                lines.append(f"    {d}")
        return "\n".join(lines)


@dataclass
class Session:
    """What a case runs against: a client factory and a way to let time pass."""

    client: Callable[[str], HeyGenClient]
    advance: Callable[[float], object]
    api_base: str
    upload_base: str


Target = Callable[[Case], AbstractContextManager[Session]]
"""Opens a fresh session for one case."""


class EmulatorTarget:
    """Cases on the embedded emulator, each as on a new one with the case's plan (or ``plan``)
    and faults. Consecutive cases with the same plan and faults share one emulator, reset
    between them (:meth:`Emulator.reset` forgets everything a case did: ids, records, files,
    counters and clock start over), which is a fifth of a check's time saved. ``close()``
    stops the emulator still running."""

    def __init__(self, plan: str = "pro", **emulator_options: Any) -> None:
        from heygen_lab.emulator import DEMO_KEY

        self.plan = plan
        self.options = emulator_options
        self._key = next(iter(emulator_options.get("keys", [DEMO_KEY])))  # what "valid" sends
        self._running: tuple[tuple[str, str | None], Emulator] | None = None

    @contextmanager
    def __call__(self, case: Case) -> Iterator[Session]:
        from heygen_lab.emulator import ManualClock

        emu = self._emulator_for(case)

        def client(kind: str) -> HeyGenClient:  # kind "none" sends no key at all
            return emu.client(api_key=self._key if kind == "valid" else INVALID_KEY,
                              max_retries=0)

        clock = emu.clock
        advance = clock.advance if isinstance(clock, ManualClock) else time.sleep
        try:
            yield Session(client, advance, emu.api_base, emu.upload_base)
            emu.check()
        except BaseException as exc:  # not to be reused: stopped, its handler errors as notes
            self._running = None
            emu.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def _emulator_for(self, case: Case) -> Emulator:
        from heygen_lab.emulator import Emulator

        key = (case.plan or self.plan, case.faults)
        if self._running is not None and self._running[0] == key:
            self._running[1].reset()
            return self._running[1]
        self.close()
        options = dict(self.options)
        if case.faults:
            options["faults"] = case.faults
        try:
            emulator = Emulator(plan=key[0], **options)
        except ValueError as exc:  # an unknown plan or fault: the case cannot run as written
            raise ConfigurationError(str(exc)) from None
        self._running = (key, emulator.start())
        return emulator

    def close(self) -> None:
        if self._running is not None:
            emulator = self._running[1]
            self._running = None
            emulator.stop()


@contextmanager
def closing_target(target: Target) -> Iterator[Target]:
    """``target`` until the block ends, then closed if it keeps anything running (has a
    ``close()``, as an :class:`EmulatorTarget` has)."""
    try:
        yield target
    finally:
        close = getattr(target, "close", None)
        if close is not None:
            close()


def emulator_target(plan: str = "pro", **emulator_options: Any) -> EmulatorTarget:
    """Each case on the embedded emulator with the case's plan (or ``plan``): see
    :class:`EmulatorTarget`; close it when done."""
    return EmulatorTarget(plan, **emulator_options)


def live_target(settings: Settings | str | None = None) -> Target:
    """The real API with ``settings`` (default: ``HEYGEN_API_KEY``, ``HEYGEN_API_BASE``...
    resolved from the environment); time passes for real."""
    hosts = settings if isinstance(settings, Settings) else Settings.resolve(settings)

    @contextmanager
    def open_session(case: Case) -> Iterator[Session]:
        def client(kind: str) -> HeyGenClient:  # kind "none" sends no key at all
            return HeyGenClient(hosts.api_key if kind == "valid" else INVALID_KEY,
                                api_base=hosts.api_base, upload_base=hosts.upload_base,
                                max_retries=0)

        yield Session(client, time.sleep, hosts.api_base, hosts.upload_base)

    return open_session


class LiveUnavailable(HeyGenError):
    """A live run cannot start: the API host cannot be reached, or it refused the key."""


def describe_base(base: str) -> str:
    """``host:port`` of a base URL (the port only when the URL gives one): what a person
    needs to see to know where requests go."""
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        return base
    host = parts.hostname or base
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def probe_live(settings: Settings, timeout: float = 15.0) -> None:
    """One ``GET /v3/users/me`` before a live run, so that a host that cannot be reached or a
    key that is refused stops the run with one line, not a row of drift per case.

    Raises :class:`LiveUnavailable` naming the host and the setting to check. Any other answer
    (even an error) means cases can run: they will say what differs.
    """
    from heygen_lab.errors import TransportError

    api = describe_base(settings.api_base)
    setting = ("HEYGEN_API_BASE" if settings.api_base != DEFAULT_API_BASE
               else "HEYGEN_API_BASE is unset, so HeyGen's own host")
    try:
        with HeyGenClient(settings.api_key, api_base=settings.api_base,
                          upload_base=settings.upload_base, max_retries=0,
                          timeout=timeout) as client:
            exchange = client.exchange("v3-me")
    except TransportError as exc:
        raise LiveUnavailable(
            f"cannot reach the API host {api} ({setting}): {_first_line(exc)}; without it, "
            "run --mode emulator or --mode replay") from None
    if exchange.status == 401:
        raise LiveUnavailable(
            f"the API host {api} refused the key (HTTP 401 to GET /v3/users/me); check "
            "HEYGEN_API_KEY (a key of this account, not revoked)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cassette_target(cassette_dir: Path, *, record_from: Target | None = None,
                    provenance: Mapping[str, str] | None = None) -> Target:
    """Replay ``cassettes/<contract>/<case>.yaml`` with the network blocked, or, given
    ``record_from``, record those cassettes from another target (hosts made canonical)."""

    @contextmanager
    def open_session(case: Case) -> Iterator[Session]:
        from heygen_lab.cassettes import make_vcr

        name = f"{case.contract}/{case.name}.yaml"
        if record_from is None:
            if not (cassette_dir / name).is_file():
                raise _Skip(f"no cassette {cassette_dir.name}/{name}; record it with "
                            f"'heygen-lab record --only {case.id}'")
            recorder = make_vcr(cassette_dir, record_mode="none")
            with recorder.use_cassette(name):
                def client(kind: str) -> HeyGenClient:
                    key = None if kind == "none" else f"replay-{kind}-key"
                    return HeyGenClient(key, max_retries=0, env={})

                yield Session(client, lambda _s: None, DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE)
            return
        with record_from(case) as inner:
            hosts = {inner.api_base: DEFAULT_API_BASE, inner.upload_base: DEFAULT_UPLOAD_BASE}
            recorder = make_vcr(cassette_dir, record_mode="all", canonical_hosts=hosts,
                                provenance=dict(provenance or {}))
            with recorder.use_cassette(name):
                yield inner

    return open_session


class _Skip(Exception):
    """The case cannot run on this target (say why)."""


def run_case(case: Case, target: Target, contracts_dir: Path,
             today: date | None = None) -> CaseResult:
    """Run one case's steps in order on a fresh session and compare each with its pin.
    Announced end-of-life dates are judged as of ``today`` (default: the routes' today())."""
    result = CaseResult(case=case, verdict="pass")
    try:
        with target(case) as session:
            captured: dict[str, Any] = {}
            for index, step in enumerate(case.steps):
                for _ in range(step.repeat):
                    outcome = _run_step(index, step, session, captured, contracts_dir, today)
                    if outcome.error or outcome.differences:
                        break
                result.steps.append(outcome)
                if outcome.retired is not None:
                    result.verdict = "retired"
                    result.reason = f"announced {outcome.retired.date.isoformat()}"
                    break
                if outcome.error or outcome.differences:
                    result.verdict = "drift"
                    break
                if step.advance:
                    session.advance(step.advance)
    except _Skip as skip:
        result.verdict, result.reason = "skip", str(skip)
    except HeyGenError as exc:
        result.verdict, result.reason = "error", str(exc)
    return result


def _run_step(index: int, step: Step, session: Session, captured: dict[str, Any],
              contracts_dir: Path, today: date | None = None) -> StepResult:
    send = _substitute(dict(step.send), captured)
    out = StepResult(index=index, route=send["route"])
    try:
        exchange = _send(send, session, contracts_dir, captured)
    except HeyGenError as exc:
        out.error = str(exc)
        return out
    except Exception as exc:  # vcrpy: the cassette holds no matching request
        if type(exc).__name__ != "CannotOverwriteExistingCassetteException":
            raise
        out.error = "the cassette holds no request like this one: " + " ".join(str(exc).split())
        return out
    out.status, out.body = exchange.status, exchange.body
    out.headers = {k: v for k, v in exchange.headers.items()
                   if k.lower() in {"retry-after", "content-type"}}
    # Diagnosed again as of the run's day, so that dated rules follow an injected today.
    error = exchange.decoded.error
    diagnosis = diagnose(error, exchange.sent, today=today) if error is not None else None
    out.diagnosis = diagnosis.id if diagnosis else None
    out.differences = _compare(_substitute(dict(step.expect), captured), exchange, out.diagnosis)
    if out.differences and out.diagnosis == "endpoint-retired":
        # Not the pinned answer, because the endpoint is past its date and says it is gone.
        out.retired = exchange.route.sunset
    for name, dotted in step.capture.items():
        captured[name] = _dig({"body": exchange.body, "headers": exchange.headers}, dotted)
    return out


def _send(send: Mapping[str, Any], session: Session, contracts_dir: Path,
          captured: Mapping[str, Any]) -> Exchange:
    route_id = send["route"]
    url = send.get("url")
    if url is None and "host" in send:
        base = session.api_base if send["host"] == "api" else session.upload_base
        url = base + route(route_id).path.format(**send.get("path_params", {}))
    headers = send.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | None) for k, v in headers.items()):
        raise HeyGenError(f"send.headers must be a mapping of header names to strings; it is "
                          f"{type(headers).__name__} here (check what it captured)")
    key = send.get("key", "valid")
    if url is not None and key == "valid":
        _check_key_destination(str(url), session, captured)
    # A generated file lives in a directory of this step's own, removed when the step ends
    # (also on failure and on Ctrl-C/SIGTERM, which unwind as KeyboardInterrupt). Only a step
    # that generates one gets that directory: making and removing it costs ~3 ms a step.
    own_dir: AbstractContextManager[str] = nullcontext("")  # no file to generate: no directory
    if "generate" in send:
        own_dir = tempfile.TemporaryDirectory(prefix="heygen-lab-media-")
    with own_dir as scratch, session.client(key) as client:
        return client.exchange(
            route_id, url=url, path_params=send.get("path_params"), params=send.get("params"),
            payload=_payload(send, contracts_dir, Path(scratch)), headers=headers,
            auth=key != "none",
        )


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def _check_key_destination(url: str, session: Session, captured: Mapping[str, Any]) -> None:
    """Refuse, before sending, a ``send.url`` that would carry the key off HeyGen's hosts.

    Allowed: the configured API and upload hosts, and URLs that HeyGen itself returned earlier
    in this case (a direct upload's signed storage URL, captured from its response)."""
    allowed = {_origin(session.api_base), _origin(session.upload_base)}
    allowed |= {_origin(v) for v in captured.values() if isinstance(v, str)}
    allowed.discard(None)
    origin = _origin(url)
    if origin is None or origin not in allowed:
        shown = urlsplit(url).hostname if origin else "a URL that is not http(s)"
        raise HeyGenError(
            f"refusing to send the API key to {shown}: a case's send.url with key: valid must "
            "be on the configured HeyGen hosts or a URL HeyGen returned in this case; use "
            "key: none (or invalid) for any other URL")


def _payload(send: Mapping[str, Any], contracts_dir: Path,
             scratch: Path) -> uploads.Payload | None:
    encoding = send.get("encoding", "none")
    if encoding == "none":
        return None
    if encoding == "json":
        return uploads.json_body(send.get("json", {}))
    if encoding == "empty":
        return uploads.empty(send.get("content_type"))
    media = load_media(_media_path(send, contracts_dir, scratch))
    if encoding == "raw":
        return uploads.raw(media, content_type=send.get("content_type"))
    return uploads.multipart(media, file_field=send.get("file_field", "file"),
                             fields=send.get("fields"))


def _inside(contracts_dir: Path, name: object, key: str) -> Path:
    """``contracts_dir / name``, refused unless the name stays inside ``contracts_dir``: a
    contract names its own media, never ``/etc/passwd`` or ``../secrets``. (Checked on the
    name, so a ``media`` directory that is itself a symlink, as a test may set up, still works.)
    """
    root = Path(os.path.abspath(contracts_dir))
    path = Path(os.path.normpath(root / str(name)))
    if not path.is_relative_to(root) or path == root:
        raise HeyGenError(f"send.{key} {name!r} is outside the contracts directory {root}; "
                          "put the file under it (e.g. media/) and name it relatively")
    return path


def _media_path(send: Mapping[str, Any], contracts_dir: Path, scratch: Path) -> Path:
    if "generate" in send:  # a large file made on demand: the source's bytes, then zeros
        spec = send["generate"]
        size = spec["size"]
        if not isinstance(size, int) or not 1 <= size <= MAX_GENERATED_BYTES:
            raise HeyGenError(f"send.generate.size must be 1..{MAX_GENERATED_BYTES} bytes "
                              f"(256 MiB), got {size!r}")
        source = _inside(contracts_dir, spec["from"], "generate.from")
        try:
            with source.open("rb") as fh:
                head = fh.read(min(size, 1 << 20))
        except OSError as exc:
            raise HeyGenError(f"send.generate.from {spec['from']!r}: cannot read "
                              f"{source} ({exc.strerror or exc}); put the file under the "
                              "contracts directory") from None
        # A new file (O_EXCL, mode 0600) in this step's own 0700 directory, so a symlink planted
        # in a shared temp path cannot redirect the write. Its name is stable: it is part of
        # the upload's fingerprint in the cassettes.
        target = scratch / f"{source.stem}-{size}{source.suffix}"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            out.truncate(size)
        return target
    if "file" not in send:
        raise HeyGenError("a step with a file encoding needs 'file' or 'generate'")
    return _inside(contracts_dir, send["file"], "file")


def _compare(expect: Mapping[str, Any], ex: Exchange,
             diagnosis: str | None) -> list[Difference]:
    diffs = compare(expect["status"], ex.status, "status")
    if "body" in expect:
        diffs += compare(expect["body"], ex.body, "body")
    if "schema" in expect:
        validator = jsonschema.Draft202012Validator(expect["schema"])
        for err in validator.iter_errors(ex.body):
            path = ".".join(["body", *map(str, err.absolute_path)])
            diffs.append(Difference(path, expect["schema"], err.instance,
                                    f"schema: {err.message}"))
    if "headers" in expect:
        lower = {k.lower(): v for k, v in ex.headers.items()}
        for name, want in expect["headers"].items():
            diffs += compare(want, lower.get(name.lower(), MISSING), f"headers.{name}")
    if "diagnosis" in expect:
        diffs += compare(expect["diagnosis"], diagnosis, "diagnosis")
    if "envelope" in expect:
        diffs += compare(expect["envelope"], ex.decoded.style, "envelope")
    return diffs


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _substitute(value: Any, captured: Mapping[str, Any]) -> Any:
    """Replace ``${name}`` with captured values; a whole-string reference keeps its type."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) in captured:
            return captured[whole.group(1)]
        return _VAR.sub(lambda m: str(captured.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _substitute(v, captured) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, captured) for v in value]
    return value


def skip_reason(case: Case, *, mode: str, plan: str | None, allow_billed: bool) -> str | None:
    """Why ``case`` must be skipped in this mode, or None when it runs."""
    if mode not in case.modes:
        return f"not runnable in {mode} mode (runs in {', '.join(case.modes)})"
    if mode != "live":
        return None
    if case.faults:
        return "needs the emulator's fault injection"
    if (case.billed or case.mutates) and not allow_billed:
        return "spends credits or changes the account; pass --allow-billed to run it live"
    if case.plan and case.plan != plan:
        return f"pins the {case.plan!r} plan; pass --plan {case.plan} if your key has it"
    return None


def select(contracts: list[Contract], *, mode: str, plan: str | None,
           allow_billed: bool) -> Iterator[tuple[Case, str | None]]:
    """Every case with the reason it must be skipped in this mode (None when it runs)."""
    for contract in contracts:
        for case in contract.cases:
            yield case, skip_reason(case, mode=mode, plan=plan, allow_billed=allow_billed)
