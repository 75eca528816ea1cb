"""HeyGen's official command-line client, replayed request by request against the emulator.

The issue asks that ``heygen`` (github.com/heygen-com/heygen-cli, Go), pointed at the emulator,
can show the user, create/get/list/delete assets, list avatars and voices, and create a video
with the v3 body and wait for it. The client needs Go 1.25 and modules from the Go proxy, which
this machine cannot reach, so the Go binary is not run here. Instead every command below is
turned into the exact bytes that client would put on the wire -- method, path, query, headers
(names as Go's ``net/http`` writes them), JSON body or multipart layout -- sent over a plain
socket to ``with Emulator() as emu:`` on 127.0.0.1, and the answer is read the way the client
reads it (the same JSON paths, terminal statuses, ``--human`` columns and error classification).

Facts used, from heygen-com/heygen-cli at commit 7699a8e (the one ``heygen_lab/spec`` was
extracted from); each names its file in that repository:

- Base URL: ``HEYGEN_API_BASE`` (internal/config/env_provider.go); an ``http://`` base also needs
  ``HEYGEN_ALLOW_HTTP`` set (cmd/heygen/context.go). API key: ``HEYGEN_API_KEY``
  (internal/auth/env_resolver.go).
- Headers (internal/client/client.go, ``applyHeaders``): ``x-api-key`` = the key,
  ``User-Agent`` = ``heygen-cli/<version>`` (cmd/heygen/context.go; ``version`` is ``"dev"``
  unless set at build time, cmd/heygen/main.go), ``X-HeyGen-Source: cli``,
  ``X-HeyGen-Client-Origin`` only when a parent agent is detected (internal/origin/origin.go),
  ``Content-Type: application/json`` only when there is a body and no Content-Type yet. Go's
  ``Header.Set`` canonicalises names, so the wire carries ``X-Api-Key``, ``X-Heygen-Source``,
  ``X-Heygen-Client-Origin``; ``net/http`` writes Host, User-Agent, Content-Length, the other
  headers sorted, then its own ``Accept-Encoding: gzip``.
- Requests (internal/client/executor.go, internal/command/spec.go): positional args fill the
  endpoint's ``{params}`` (``url.PathEscape``); only flags the user set are sent (none of these
  commands has an ``x-cli-default``); query flags by JSON name, ``url.Values.Encode`` (sorted by
  key); ``-d/--data`` is the JSON body and body flags overlay it; ``json.Marshal`` of a map
  (sorted keys, compact); no body -> no body and no Content-Type. A JSON POST without a body is
  refused locally ("request body required", cmd/heygen/builder.go), as is a destructive command
  without ``--force`` when stdin is not a terminal.
- Upload (``buildMultipartRequest``): ``mime/multipart`` with one part created by
  ``CreateFormFile("file", filepath.Base(path))``: ``Content-Disposition: form-data;
  name="file"; filename="<base name>"`` and ``Content-Type: application/octet-stream``; the
  request's Content-Type is ``multipart/form-data; boundary=<60 hex digits>``.
- ``--wait`` (cmd/heygen/poll_configs.go, cmd/heygen/builder.go, internal/client/executor.go,
  internal/client/retry.go): ``video create`` polls ``GET /v3/videos/{video_id}`` with the id at
  ``data.video_id``, reads ``data.status``; ``completed`` ends it, ``failed`` ends it as an error
  (the status answer is printed, exit 1). The first status GET follows the create at once; after
  each non-terminal answer it waits ``min(2 s * 2**attempt, 30 s)`` times a jitter in
  [0.75, 1.25); ``--timeout`` defaults to 20 minutes.
- Answers: a status >= 400 is an error; otherwise the JSON is printed (compact JSON by default;
  with ``--human`` the ``data`` list becomes a table of the curated columns in
  cmd/heygen/columns.go, cells formatted by internal/output/human_formatter.go: null -> empty,
  unix-second numbers -> ``YYYY-MM-DD HH:MM``).
- Errors (internal/client/executor.go ``parseErrorResponse``, internal/errors/errors.go
  ``FromAPIError``): an ``{"error": {...}}`` body with a specific code keeps it (else the code
  comes from the status); ``invalid_parameter`` with a ``param`` gets the hint ``Invalid field
  "<param>". ...``; exit 3 for 401/403, 1 otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import http.client
import json
import random
import shlex
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock
from heygen_lab.spec import Operation, load_spec

# ------------------------------------------------------------------ the client's constants
USER_AGENT = "heygen-cli/dev"  # cmd/heygen/context.go + cmd/heygen/main.go
SOURCE = "cli"  # internal/client/client.go: X-HeyGen-Source

#: cmd/heygen/poll_configs.go, key "video/create" (the spec extract carries no poll configs).
POLL_CONFIGS: dict[str, dict[str, Any]] = {
    "video create": {"status_endpoint": "/v3/videos/{video_id}", "status_field": "data.status",
                     "terminal_ok": ("completed",), "terminal_fail": ("failed",),
                     "id_field": "data.video_id"},
}
POLL_BASE_DELAY, POLL_MAX_DELAY = 2.0, 30.0  # cmd/heygen/builder.go: client.PollOptions
WAIT_TIMEOUT = 20 * 60.0  # cmd/heygen/builder.go: --timeout default
JITTER = (0.75, 1.25)  # internal/client/retry.go backoffDelay: 0.75 + rand.Float64()*0.5

#: cmd/heygen/columns.go, the ``--human`` table columns (header, JSON field) per command.
HUMAN_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "asset list": (("ID", "id"), ("Name", "name"), ("Type", "type"), ("Owner", "owner"),
                   ("Uploaded", "uploaded_at")),
    "avatar list": (("ID", "id"), ("Name", "name"), ("Gender", "gender"),
                    ("Looks", "looks_count")),
    "avatar looks list": (("ID", "id"), ("Name", "name"), ("Type", "avatar_type"),
                          ("Gender", "gender")),
    "voice list": (("ID", "voice_id"), ("Name", "name"), ("Language", "language"),
                   ("Gender", "gender")),
}


# ------------------------------------------------------------------ building the request
class CliUsageError(Exception):
    """What the client refuses before sending anything (cobra / builder checks)."""


@dataclass(frozen=True)
class CliRequest:
    """One request as the client puts it on the wire (``command``: which ``heygen`` command)."""

    command: str
    method: str
    target: str  # path and query, as in the request line
    headers: tuple[tuple[str, str], ...]  # in wire order, wire casing
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def wire(self) -> bytes:
        head = f"{self.method} {self.target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in self.headers) + "\r\n"
        return head.encode("latin-1") + self.body


@dataclass
class Invocation:
    """A ``heygen ...`` command line: the command's path, args and flags (kebab-case names)."""

    command: str
    args: Sequence[str] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] | None = None  # -d/--data
    force: bool = False  # --force (destructive commands, non-interactive)
    human: bool = False  # --human: same request, a table instead of JSON
    wait: bool = False  # --wait (commands with a poll config)


def parse(line: str) -> Invocation:
    """``heygen <command> <args> --flag value ...`` -> :class:`Invocation` (cobra's reading:
    the longest known command path, then positional args and ``--name value``/``--name=value``;
    the spec's int flags parse as ints)."""
    words = shlex.split(line)
    assert words[0] == "heygen", line
    commands = {f"{op.group} {op.command}" for op in load_spec().operations.values()}
    size = max((n for n in range(1, len(words)) if " ".join(words[1:n + 1]) in commands),
               default=0)
    if not size:
        raise CliUsageError(f"unknown command: {line}")
    inv = Invocation(" ".join(words[1:size + 1]))
    types = {f.name: f.type for f in operation(inv.command).flags}
    args: list[str] = []
    flags: dict[str, Any] = {}
    rest = iter(words[size + 1:])
    for word in rest:
        if not word.startswith("-"):
            args.append(word)
            continue
        name, has_value, value = word.lstrip("-").partition("=")
        if name in ("force", "human", "wait"):
            if name == "wait" and inv.command not in POLL_CONFIGS:
                raise CliUsageError(f"unknown flag: --{name}")
            setattr(inv, name, value != "false")
            continue
        if not has_value:
            value = next(rest, "")
        if name in ("d", "data"):
            inv.data = json.loads(value)
        elif name == "timeout":
            continue  # --wait's budget; the replay keeps the default (WAIT_TIMEOUT)
        elif types.get(name) == "int":
            flags[name] = int(value)
        else:
            flags[name] = value
    inv.args, inv.flags = args, flags
    return inv


def operation(command: str) -> Operation:
    """The spec operation behind ``heygen <command>`` (group + generated name, as the CLI)."""
    found = [op for op in load_spec().operations.values()
             if f"{op.group} {op.command}" == command]
    assert len(found) == 1, f"no single v3 operation for 'heygen {command}': {found}"
    return found[0]


def go_json(value: Any) -> bytes:
    """``encoding/json.Marshal`` of decoded JSON: sorted keys, compact, ``<>&`` escaped,
    integral numbers without ``.0`` (``-d`` is decoded into float64 and re-encoded)."""
    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
            return int(v)
        return v
    text = json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text.encode("utf-8")


def _query_value(flag_type: str, value: Any) -> list[str]:
    if flag_type == "string-slice":
        items = value.split(",") if isinstance(value, str) else list(value)
        return [str(v) for v in items]
    if flag_type == "bool":
        return ["true" if value else "false"]
    return [str(value)]


def build_request(line: str | Invocation, *, base: str, api_key: str = DEMO_KEY,
                  origin: str = "", boundary_seed: int = 0,
                  enforce_required: bool = True) -> CliRequest:
    """The request ``heygen ...`` sends, from the spec's method, endpoint and flags.

    ``enforce_required=False`` skips cobra's required-flag check, to send what the client
    itself never would (the server must refuse it too).
    """
    inv = parse(line) if isinstance(line, str) else line
    op = operation(inv.command)
    flags = {f.name: f for f in op.flags}
    if len(inv.args) != len(op.path_params):  # cobra.ExactArgs
        raise CliUsageError(f"accepts {len(op.path_params)} arg(s), received {len(inv.args)}")
    unknown = sorted(set(inv.flags) - set(flags))
    if unknown:
        raise CliUsageError(f"unknown flag: --{unknown[0]}")
    missing = [f.name for f in op.flags if f.required and f.name not in inv.flags
               and not (f.source == "body" and inv.data is not None)]
    if missing and enforce_required:
        raise CliUsageError(f'required flag(s) "{missing[0]}" not set')
    for name, value in inv.flags.items():  # command.validateFlag: enum and min/max
        f = flags[name]
        values = _query_value(f.type, value) if f.type == "string-slice" else [value]
        if f.enum and any(v not in f.enum for v in values):
            raise CliUsageError(f"--{name} must be one of {list(f.enum)}, got {value!r}")
        if f.type == "int" and ((f.minimum is not None and value < f.minimum)
                                or (f.maximum is not None and value > f.maximum)):
            raise CliUsageError(f"--{name} out of range: {value}")

    # Path: {param} <- url.PathEscape(arg); Go leaves $&+=:@ as they are in a path segment.
    path = op.endpoint
    for param, arg in zip(op.path_params, inv.args, strict=True):
        path = path.replace("{" + param + "}", quote(arg, safe="$&+=:@"))
    # Query: url.Values.Encode -- sorted by key, QueryEscape (space -> '+').
    pairs = [(f.json_name, v) for name, f in flags.items() if name in inv.flags
             and f.source == "query" for v in _query_value(f.type, inv.flags[name])]
    pairs.sort(key=lambda kv: kv[0])
    target = path + ("?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
                     if pairs else "")

    body: bytes | None = None
    content_type: str | None = None
    file = next((Path(str(inv.flags[f.name])) for f in op.flags_in("file")
                 if f.name in inv.flags), None)  # --file -> inv.FilePath
    if op.body_encoding == "multipart":
        if file is None:
            raise CliUsageError("file path is required for multipart upload")
        boundary = random.Random(boundary_seed).randbytes(30).hex()  # multipart.randomBoundary
        filename = file.name.replace("\\", "\\\\").replace('"', '\\"')  # escapeQuotes
        body = (f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + file.read_bytes() \
            + f"\r\n--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
    elif op.body_encoding == "json":
        payload = dict(inv.data) if inv.data is not None else None
        for name, f in flags.items():
            if f.source == "body" and name in inv.flags:
                payload = payload or {}
                payload[f.json_name] = inv.flags[name]
        if payload is None and op.method != "DELETE" and not _body_optional(op):
            raise CliUsageError("request body required: use -d '{...}' or pass individual flags")
        if payload is not None:
            body, content_type = go_json(payload), "application/json"
    if op.destructive and not inv.force:
        raise CliUsageError(f'destructive operation "{op.command}" requires confirmation')

    # Wire order of net/http: Host, User-Agent, Content-Length, the rest sorted, Accept-Encoding.
    rest = {"X-Api-Key": api_key, "X-Heygen-Source": SOURCE}
    if origin:
        rest["X-Heygen-Client-Origin"] = origin
    if content_type:
        rest["Content-Type"] = content_type
    headers = [("Host", urlsplit(base).netloc), ("User-Agent", USER_AGENT)]
    if body:
        headers.append(("Content-Length", str(len(body))))
    headers += [*sorted(rest.items()), ("Accept-Encoding", "gzip")]
    return CliRequest(inv.command, op.method, target, tuple(headers), body or b"")


def _body_optional(op: Operation) -> bool:
    """cmd/heygen/builder.go ``requestBodyOptional``: a schema with nothing to fill."""
    s = op.request_schema or {}
    return not any(s.get(k) for k in ("properties", "required", "oneOf", "anyOf", "allOf"))


# ------------------------------------------------------------------ reading the answer
@dataclass
class CliError(Exception):
    """internal/errors ``CLIError`` as ``FromAPIError`` makes it from an API answer."""

    code: str
    message: str
    hint: str
    param: str
    exit_code: int
    http_status: int
    request_id: str


_STATUS_CODES = {401: "unauthorized", 403: "forbidden", 400: "validation_error",
                 402: "insufficient_credit", 404: "not_found", 409: "conflict",
                 413: "payload_too_large", 429: "rate_limit_exceeded"}


def classify(status: int, body: bytes, request_id: str = "") -> CliError:
    """``parseErrorResponse`` + ``FromAPIError`` (the parts these flows meet)."""
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict) or not (error.get("code") or error.get("message")):
        error = {}
    code = error.get("code") or ""
    if code in ("", "error"):
        code = _STATUS_CODES.get(status) or (
            "unclassified_server_error" if status >= 500 else "unclassified_client_error")
    param = error.get("param") or ""
    hint = ""
    if code == "invalid_parameter":
        hint = "Use --request-schema on the command to see expected fields"
        if param:
            hint = f'Invalid field "{param}". {hint}'
    return CliError(code, error.get("message") or f"API returned HTTP {status}", hint, param,
                    3 if status in (401, 403) else 1, status, request_id)


class Connection:
    """One ``heygen`` process's link to the API host: the request bytes go on a plain socket,
    reused for the next request unless the answer said ``Connection: close`` (as Go's pooled
    transport does; the emulator's werkzeug server always says it, so each request dials)."""

    def __init__(self, base: str) -> None:
        self.address = (urlsplit(base).hostname or "", urlsplit(base).port or 80)
        self._sock: socket.socket | None = None

    def send(self, request: CliRequest) -> tuple[int, bytes, str]:
        """Status, body and ``X-Request-Id`` of the answer to ``request``."""
        if self._sock is None:
            self._sock = socket.create_connection(self.address, timeout=30)
        self._sock.sendall(request.wire())
        response = http.client.HTTPResponse(self._sock, method=request.method)
        response.begin()
        body = response.read()
        if response.will_close:
            self.close()
        if response.getheader("Content-Encoding") == "gzip":  # Go's transport decompresses
            body = gzip.decompress(body)
        return response.status, body, response.getheader("X-Request-Id") or ""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def execute(conn: Connection, request: CliRequest) -> Any:
    """``Client.Execute``: an error for status >= 400, else the JSON the client prints.

    A printed answer is also held to the spec's response schema (the client does not check it;
    it is how an emulator deviation would show here first).
    """
    status, body, request_id = conn.send(request)
    if status >= 400:
        raise classify(status, body, request_id)
    printed = json.loads(body)  # the JSON formatter refuses a body that is not JSON
    assert isinstance(printed, dict) and "data" in printed, printed
    assert operation(request.command).check_response(printed) == [], printed
    return printed


def json_path(doc: Any, path: str) -> str:
    """executor.go ``extractJSONPath``: a non-empty string at a dotted path."""
    current = doc
    for part in path.split("."):
        current = current[int(part)] if part.isdigit() else current[part]
    assert isinstance(current, str) and current, f"{path} is not a non-empty string: {current!r}"
    return current


def human_cell(value: Any, field_name: str) -> str:
    """internal/output/human_formatter.go ``formatTableCell`` for the values met here."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        if float(value).is_integer() and 1.5e9 < value < 2.2e9:  # isUnixTimestamp
            text = dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M")
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
    elif value is None:
        text = ""
    elif isinstance(value, list | dict):
        text = json.dumps(value) if value else ""
    else:
        text = str(value)
    for ch in "\n\r\t\u00a0":
        text = text.replace(ch, " ")
    return text.strip()


def human_table(command: str, printed: Mapping[str, Any]) -> list[dict[str, str]]:
    """``--human``: the rows of ``data`` under the command's curated columns."""
    rows = printed["data"]
    assert isinstance(rows, list), "the --human table needs a list under 'data'"
    columns = HUMAN_COLUMNS[command]
    for row in rows:
        missing = [f for _, f in columns if f not in row]
        assert not missing, f"heygen {command} --human reads {missing}, absent from {row}"
    return [{header: human_cell(row[f], f) for header, f in columns} for row in rows]


class PollFailed(Exception):
    """executor.go ``ErrPollFailed``: printed status answer, exit 1."""

    def __init__(self, printed: Any, status: str) -> None:
        super().__init__(f"operation reached terminal failure state: {status}")
        self.printed = printed


def execute_and_wait(conn: Connection, request: CliRequest, clock: ManualClock,
                     jitter: float = 1.0) -> tuple[Any, list[str]]:
    """``Client.ExecuteAndPoll`` with the emulator's clock standing in for the timer.

    Returns the status answer it prints and every status it read.
    """
    config = POLL_CONFIGS[request.command]
    created = execute(conn, request)
    resource_id = json_path(created, config["id_field"])
    param = config["status_endpoint"].split("{")[1].split("}")[0]
    status_request = dataclasses.replace(  # buildStatusSpec: a bare GET, the one path param
        request, command="video get", method="GET", body=b"", target=config[
            "status_endpoint"].replace("{" + param + "}", quote(resource_id, safe="$&+=:@")),
        headers=tuple((k, v) for k, v in request.headers
                      if k not in ("Content-Length", "Content-Type")))
    seen: list[str] = []
    waited = 0.0
    for attempt in range(1000):
        answer = execute(conn, status_request)
        status = json_path(answer, config["status_field"])
        seen.append(status)
        if status in config["terminal_ok"]:
            return answer, seen
        if status in config["terminal_fail"]:
            raise PollFailed(answer, status)
        delay = min(POLL_BASE_DELAY * 2 ** attempt, POLL_MAX_DELAY) * jitter
        if waited + delay > WAIT_TIMEOUT:
            pytest.fail(f"--wait would time out after {WAIT_TIMEOUT:g} s; statuses {seen}")
        clock.advance(delay)
        waited += delay
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(clock=clock) as emulator:
        yield emulator


def run_request(emu: Emulator, request: CliRequest) -> Any:
    conn = Connection(emu.api_base)
    try:
        return execute(conn, request)
    finally:
        conn.close()


def run(emu: Emulator, line: str, **kwargs: Any) -> Any:
    """``HEYGEN_API_BASE=<emulator> HEYGEN_ALLOW_HTTP=1 <line>``: build, send, read; returns
    what it prints (the JSON; with ``--human`` see :func:`human_table`)."""
    return run_request(emu, build_request(line, base=emu.api_base, **kwargs))


def run_wait(emu: Emulator, clock: ManualClock, line: str,
             jitter: float = 1.0) -> tuple[Any, list[str]]:
    """A ``--wait`` command line, polling as the client polls (see :func:`execute_and_wait`)."""
    assert parse(line).wait, line
    conn = Connection(emu.api_base)  # one `heygen` process
    try:
        return execute_and_wait(conn, build_request(line, base=emu.api_base), clock, jitter)
    finally:
        conn.close()


# ------------------------------------------------------------------ the flows
def test_requests_are_the_clients_bytes(emu: Emulator, png: Path) -> None:
    """The helper's output, pinned against the client's rules once, by hand."""
    base = emu.api_base
    me = build_request("heygen user me get", base=base)
    assert me.wire().decode() == (
        f"GET /v3/users/me HTTP/1.1\r\nHost: {urlsplit(base).netloc}\r\n"
        f"User-Agent: heygen-cli/dev\r\nX-Api-Key: {DEMO_KEY}\r\nX-Heygen-Source: cli\r\n"
        "Accept-Encoding: gzip\r\n\r\n")

    listing = build_request("heygen asset list --username 'a b' --limit=5 --human", base=base,
                            origin="claude_code")
    assert listing.target == "/v3/assets?limit=5&username=a+b"
    assert listing.header("X-Heygen-Client-Origin") == "claude_code"
    assert listing.header("Content-Type") is None and listing.body == b""

    upload = build_request(f"heygen asset create --file {png}", base=base)
    boundary = upload.header("Content-Type").split("boundary=")[1]  # type: ignore[union-attr]
    assert len(boundary) == 60 and int(boundary, 16) >= 0
    assert upload.body.startswith(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{png.name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
    assert upload.body.endswith(png.read_bytes() + f"\r\n--{boundary}--\r\n".encode())
    assert upload.header("Content-Length") == str(len(upload.body))

    data = '{"voice_id": "v", "type": "avatar", "script": "A & B", "n": 2.0}'
    video = build_request(f"heygen video create -d '{data}' --wait", base=base)
    assert (video.method, video.target) == ("POST", "/v3/videos")
    assert video.body == b'{"n":2,"script":"A \\u0026 B","type":"avatar","voice_id":"v"}'
    assert video.header("Content-Type") == "application/json"

    deleting = build_request("heygen asset delete x/y --force", base=base)
    assert (deleting.method, deleting.target, deleting.body) == ("DELETE", "/v3/assets/x%2Fy",
                                                                  b"")
    # What the client refuses before sending anything.
    for line in ("heygen asset list", "heygen asset get", "heygen asset delete x",
                 "heygen video create", "heygen voice list --type secret",
                 "heygen asset list --username u --wait", "heygen asset get a --nope 1"):
        with pytest.raises(CliUsageError):
            build_request(line, base=base)


def test_user_me_get(emu: Emulator) -> None:
    user = run(emu, "heygen user me get")["data"]
    assert user["username"] and user["email"] and user["billing_type"]


def test_asset_create_get_list_delete(emu: Emulator, png: Path) -> None:
    username = run(emu, "heygen user me get")["data"]["username"]

    created = run(emu, f"heygen asset create --file {png}")
    asset_id = json_path(created, "data.asset_id")
    assert json_path(created, "data.url").startswith("http://127.0.0.1:")

    got = run(emu, f"heygen asset get {asset_id}")["data"]
    assert (got["id"], got["name"]) == (asset_id, png.name)

    listed = run(emu, f"heygen asset list --username {username}")
    assert [a["id"] for a in listed["data"]] == [asset_id]

    # --human: the same request; the table reads id, name, type, owner, uploaded_at.
    table = human_table("asset list", run(emu, f"heygen asset list --username {username} "
                                               "--human"))
    assert table == [{"ID": asset_id, "Name": png.name, "Type": "image", "Owner": username,
                      "Uploaded": "2026-01-01 00:00"}]
    assert all(cell for row in table for cell in row.values())

    assert run(emu, f"heygen asset delete {asset_id} --force")["data"]
    with pytest.raises(CliError) as gone:
        run(emu, f"heygen asset get {asset_id}")
    assert (gone.value.http_status, gone.value.code, gone.value.exit_code) == (404, "not_found", 1)
    assert run(emu, f"heygen asset list --username {username}")["data"] == []


def test_asset_create_keeps_a_quoted_non_ascii_file_name(emu: Emulator, png: Path,
                                                         tmp_path: Path) -> None:
    """Go escapes ``"`` and ``\\`` in the part's filename and sends it as raw UTF-8."""
    odd = tmp_path / 'launch "v2" \\ café.png'
    odd.write_bytes(png.read_bytes())
    line = f"heygen asset create --file {shlex.quote(str(odd))}"
    assert b'filename="launch \\"v2\\" \\\\ caf\xc3\xa9.png"' in build_request(
        line, base=emu.api_base).body
    asset_id = json_path(run(emu, line), "data.asset_id")
    assert run(emu, f"heygen asset get {asset_id}")["data"]["name"] == odd.name


@pytest.mark.parametrize("command", ["avatar list", "avatar looks list", "voice list"])
def test_catalogue_lists_fill_the_human_table(emu: Emulator, command: str) -> None:
    assert run(emu, f"heygen {command}")["data"]
    table = human_table(command, run(emu, f"heygen {command} --human"))
    assert table
    for row in table:
        assert all(row.values()), f"heygen {command} --human prints an empty cell: {row}"


# Statuses --wait reads, by jitter: the emulator renders pending < 5 s <= processing < 30 s,
# the client waits 2, 4, 8, 16, 30 ... s times the jitter between polls.
@pytest.mark.parametrize(("jitter", "statuses"), [
    (JITTER[0], ["pending"] * 3 + ["processing"] * 2 + ["completed"]),  # 0 1.5 4.5 10.5 22.5 45
    (1.0, ["pending"] * 2 + ["processing"] * 2 + ["completed"]),  # 0 2 6 14 30
    (JITTER[1], ["pending"] * 2 + ["processing"] * 2 + ["completed"]),  # 0 2.5 7.5 17.5 37.5
])
def test_video_create_wait_then_get(emu: Emulator, clock: ManualClock, jitter: float,
                                    statuses: list[str]) -> None:
    look = run(emu, "heygen avatar looks list --limit 1")["data"][0]
    voice = run(emu, "heygen voice list --language English --limit 1")["data"][0]
    body = {"type": "avatar", "avatar_id": look["id"], "voice_id": voice["voice_id"],
            "script": "Hello from the official client, replayed."}
    line = f"heygen video create -d {shlex.quote(json.dumps(body))} --wait"
    assert json.loads(build_request(line, base=emu.api_base).body) == body  # -d is the body

    done, seen = run_wait(emu, clock, line, jitter)
    assert seen == statuses
    video = done["data"]
    assert video["status"] == "completed" and video["video_url"] and video["thumbnail_url"]

    printed = run(emu, f"heygen video get {video['id']}")
    assert json_path(printed, "data.status") == "completed"
    assert json_path(printed, "data.video_url").startswith("http://127.0.0.1:")
    assert json_path(printed, "data.thumbnail_url").startswith("http://127.0.0.1:")


def test_video_create_wait_reports_a_failed_render(emu: Emulator, clock: ManualClock) -> None:
    body = {"type": "avatar", "avatar_id": "emu_avatar_anna", "voice_id": "emu_voice_en_f",
            "script": "This one will [fail] to render."}
    with pytest.raises(PollFailed) as failed:
        run_wait(emu, clock, f"heygen video create -d {shlex.quote(json.dumps(body))} --wait")
    printed = failed.value.printed["data"]
    assert printed["status"] == "failed"
    assert printed["failure_code"] and printed["failure_message"]


def test_errors_are_classified_as_the_client_would(emu: Emulator) -> None:
    # The client never sends `asset list` without --username (cobra stops it); sent anyway,
    # the emulator refuses it as HeyGen does, and the client would print a validation error.
    request = build_request("heygen asset list", base=emu.api_base, enforce_required=False)
    assert request.target == "/v3/assets"
    with pytest.raises(CliError) as refused:
        run_request(emu, request)
    error = refused.value
    assert (error.http_status, error.code, error.param, error.exit_code) == (
        400, "invalid_parameter", "username", 1)
    assert error.hint.startswith('Invalid field "username".') and error.message
    assert error.request_id  # the client shows X-Request-Id with the error

    with pytest.raises(CliError) as denied:
        run(emu, "heygen user me get", api_key="not-a-key")
    assert (denied.value.http_status, denied.value.exit_code) == (401, 3)
    assert denied.value.code == "authentication_failed"
