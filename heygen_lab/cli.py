"""``heygen-lab``: the toolkit's jobs from a terminal or CI.

    heygen-lab upload FILE [--via auto|v3|direct|v1|...]   upload (emulator unless a key is set)
    heygen-lab diagnose PAYLOAD [--status N] [--endpoint ID] [--url URL]
    heygen-lab whoami                                       the v3 user and its billing
    heygen-lab serve [--api-port A] [--upload-port U] [--plan NAME] [--fault SPEC] [--key KEY]
                     [--legacy available|retired]
    heygen-lab check [--mode replay|emulator|live] [--plan P] [--report F] [--baseline F]
                     [--legacy available|retired]
    heygen-lab record --target emulator|live [--only CASE]
    heygen-lab cassettes lint [--max-age-days N]
    heygen-lab spec list [--group G] | show NAME | diff OLD.json NEW.json [--json]
    heygen-lab spec extract PATH_TO_HEYGEN_CLI_CHECKOUT [-o OUT.json]

Every failure prints one readable line on stderr and exits non-zero (2 for bad usage, 1 for
anything else); never a traceback.
"""

from __future__ import annotations

# Light imports only: ``heygen-lab --help`` (and a usage error) must not pay for requests,
# jsonschema, werkzeug, vcrpy or yaml. Each command imports what it needs when it runs.
import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from heygen_lab.routes import ROUTES

if TYPE_CHECKING:
    from heygen_lab.client import HeyGenClient
    from heygen_lab.settings import Settings
    from heygen_lab.wire import Sent

EXIT_FAIL = 1
EXIT_USAGE = 2
VIAS: tuple[str, ...] = ("auto", "v3", "direct", "v1", "v1-multipart-file",
                         "v1-multipart-type-asset")
"""``heygen_lab.client.VIAS``, repeated here so the parser needs no client (a test keeps the
two equal)."""


class CLIError(Exception):
    """A failure worth one line and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", choices=("auto", "emulator", "live"), default="auto",
                   help="auto: live when HEYGEN_API_KEY is set, else the embedded emulator")
    p.add_argument("--plan", default="pro", help="emulator plan profile (trial, pro, payg)")


def _add_legacy(p: argparse.ArgumentParser, where: str = "") -> None:
    p.add_argument("--legacy", choices=("available", "retired"), default=None,
                   help="the emulator's v1/v2 routes: as last documented (available, the "
                   "default), or removed after their announced end of life (retired: 410 Gone)"
                   + where)


def build_parser() -> argparse.ArgumentParser:
    from heygen_lab import __version__

    parser = argparse.ArgumentParser(
        prog="heygen-lab", description="Upload to HeyGen, diagnose its errors, emulate its API.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("upload", help="upload a file by a chosen route")
    up.add_argument("file")
    up.add_argument("--via", choices=VIAS, default="auto")
    up.add_argument("--content-type", default=None)
    up.add_argument("--quiet", action="store_true", help="no progress bar or status line")
    _add_target(up)

    dg = sub.add_parser("diagnose", help="explain an error payload")
    dg.add_argument("payload", nargs="?", help="the response body as it came: JSON, XML, HTML "
                    "or text (read from stdin when omitted)")
    dg.add_argument("--status", type=int, default=None, help="the HTTP status, when known")
    dg.add_argument("--endpoint", choices=sorted(ROUTES), default=None, metavar="ID",
                    help="the route it came from: " + ", ".join(ROUTES))
    dg.add_argument("--url", default=None, help="the URL it came from (host and path matter)")
    dg.add_argument("--json", action="store_true", help="print the diagnosis as JSON")

    who = sub.add_parser("whoami", help="the current v3 user: username, email, billing block")
    _add_target(who)

    srv = sub.add_parser("serve", help="run the emulator until interrupted")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--api-port", type=int, default=0)
    srv.add_argument("--upload-port", type=int, default=0)
    srv.add_argument("--plan", default="pro")
    srv.add_argument("--fault", action="append", default=[], metavar="SPEC")
    srv.add_argument("--key", action="append", default=[], metavar="KEY")
    _add_legacy(srv)

    chk = sub.add_parser("check", help="run the contracts and report drift (the main job)")
    chk.add_argument("--mode", choices=("replay", "emulator", "live"), default=None,
                     help="default: live when HEYGEN_API_KEY is set, else the embedded emulator")
    chk.add_argument("--plan", default=None, help="the plan your key has (live), or the "
                     "emulator's plan profile")
    chk.add_argument("--allow-billed", action="store_true",
                     help="live: also run cases that spend credits or change the account")
    chk.add_argument("--only", action="append", default=[], metavar="CASE")
    chk.add_argument("--report", type=Path, default=None, metavar="OUT.json",
                     help="write the report as JSON, and as Markdown beside it (.md)")
    chk.add_argument("--baseline", type=Path, default=None, metavar="OLD.json",
                     help="compare with an earlier report; any change is drift")
    _add_legacy(chk, " (--mode emulator only)")
    _add_dirs(chk)

    rec = sub.add_parser("record", help="(re)record cassettes from the emulator or live")
    rec.add_argument("--target", choices=("emulator", "live"), default="emulator")
    rec.add_argument("--only", action="append", default=[], metavar="CASE")
    rec.add_argument("--plan", default=None)
    rec.add_argument("--allow-billed", action="store_true")
    _add_dirs(rec)

    cas = sub.add_parser("cassettes", help="cassette maintenance")
    cas_sub = cas.add_subparsers(dest="action", required=True, metavar="ACTION")
    lint = cas_sub.add_parser("lint", help="orphaned, missing, stale, oversized, secret-bearing "
                              "or unsafe cassettes")
    lint.add_argument("--max-age-days", type=float, default=180.0)
    lint.add_argument("--max-bytes", type=int, default=256_000)
    _add_dirs(lint)

    spec = sub.add_parser("spec", help="HeyGen's v3 API as data: list, show, diff, extract")
    spec_sub = spec.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = spec_sub.add_parser("list", help="every v3 operation: name, method and endpoint")
    ls.add_argument("--group", default=None, help="only this group (asset, video, ...)")
    show = spec_sub.add_parser("show", help="one operation's endpoint, parameters and flags")
    show.add_argument("name", help="an operation name from 'heygen-lab spec list'")
    df = spec_sub.add_parser("diff", help="what moved between two operations.json files "
                             "(exit 1 when anything did)")
    df.add_argument("old", type=Path, metavar="OLD.json")
    df.add_argument("new", type=Path, metavar="NEW.json")
    df.add_argument("--json", action="store_true", help="print the changes as JSON")
    ex = spec_sub.add_parser("extract", help="re-create operations.json from a checkout of "
                             "heygen-com/heygen-cli (its gen/*.go)")
    ex.add_argument("checkout", type=Path, metavar="PATH_TO_HEYGEN_CLI_CHECKOUT")
    ex.add_argument("-o", "--output", type=Path, default=None, metavar="OUT.json",
                    help="write here (atomically) instead of to stdout")
    return parser


def _add_dirs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contracts", type=Path, default=None, metavar="DIR")
    p.add_argument("--cassettes", type=Path, default=None, metavar="DIR")


def settings(args: argparse.Namespace) -> Settings:
    """The environment's settings, resolved once per command: the CLI's only reader of
    ``HEYGEN_API_KEY`` (a blank or whitespace-only key counts as unset), so a command never
    decides to go live on a key that the client then refuses."""
    from heygen_lab.settings import Settings

    resolved = getattr(args, "_settings", None)
    if resolved is None:
        resolved = Settings.resolve()
        args._settings = resolved
    return resolved


@contextmanager
def target_client(target: str, plan: str,
                  resolved: Settings | None = None) -> Iterator[tuple[HeyGenClient, str]]:
    """A client for the live API (needs a key) or for an embedded emulator on loopback."""
    from heygen_lab.client import HeyGenClient
    from heygen_lab.settings import Settings

    resolved = resolved or Settings.resolve()
    has_key = resolved.api_key is not None
    if target == "live" or (target == "auto" and has_key):
        if not has_key:
            raise CLIError("--target live needs HEYGEN_API_KEY in the environment", EXIT_USAGE)
        with HeyGenClient(resolved.api_key, api_base=resolved.api_base,
                          upload_base=resolved.upload_base) as client:
            yield client, live_where(resolved)
        return
    from heygen_lab.emulator import Emulator

    try:
        emulator = Emulator(plan=plan)
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    with emulator as emu, emu.client() as client:
        yield client, f"embedded emulator ({emu.api_base}, plan {plan})"


def live_where(resolved: Settings) -> str:
    """Where live requests go, as a person needs to read it: HeyGen's hosts, or the host:port
    that ``HEYGEN_API_BASE`` / ``HEYGEN_UPLOAD_BASE`` point at (an emulator, a proxy)."""
    from heygen_lab.contracts.runner import describe_base
    from heygen_lab.settings import DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE

    api, upload = describe_base(resolved.api_base), describe_base(resolved.upload_base)
    if (resolved.api_base, resolved.upload_base) == (DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE):
        return f"live HeyGen API ({api})"
    where = f"API at {api} (HEYGEN_API_BASE)" if resolved.api_base != DEFAULT_API_BASE else (
        f"live HeyGen API ({api})")
    if resolved.upload_base != DEFAULT_UPLOAD_BASE:
        where += f", uploads at {upload} (HEYGEN_UPLOAD_BASE)"
    return where


def cmd_upload(args: argparse.Namespace) -> int:
    import json

    from heygen_lab.media import load_media

    # Pre-flight first: a missing or unsupported file fails with one line, before any server
    # (or embedded emulator) is involved.
    media = load_media(args.file, content_type=args.content_type)
    if args.via == "v1":  # the v1-multipart-* probes are the 40001 demonstrations, not uses
        _warn_if_retired("v1-upload", "--via v3 (or auto; direct above 32 MB)")
    with target_client(args.target, args.plan, settings(args)) as (client, where):
        announce = f"uploading {args.file} via {args.via} to the {where}"
        with _progress(args.quiet, announce) as on_progress:
            asset = client.upload_asset(media, via=args.via, on_progress=on_progress)
    print(json.dumps({"id": asset.id, "url": asset.url, "mime_type": asset.mime_type,
                      "size": asset.size, "file_type": asset.file_type, "via": asset.via,
                      "image_key": asset.image_key}, indent=2))
    return 0


def _warn_if_retired(route_id: str, instead: str) -> None:
    """One line on stderr when a legacy route is past its announced end of life (today UTC)."""
    from heygen_lab import routes

    r = routes.route(route_id)
    if r.sunset is not None and r.sunset.passed(routes.today()):
        print(f"heygen-lab: warning: {r.method} {r.path} is past its announced end of life "
              f"({r.sunset.date.isoformat()}) and may answer 404/410; use {instead}",
              file=sys.stderr, flush=True)


@contextmanager
def _progress(quiet: bool, announce: str) -> Iterator[Any]:
    """A progress callback drawing a tqdm bar, or None when quiet.

    The status line and the bar appear with the first byte sent, so a file the client refuses
    before sending (a route's type or size limit) still fails with one line only.
    """
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bars: list[tqdm[Any]] = []

    def on_progress(done: int, total: int) -> None:
        if not bars:
            print(announce, file=sys.stderr, flush=True)
            bars.append(tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr,
                             leave=False))
        bar = bars[0]
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield on_progress
    finally:
        for bar in bars:
            bar.close()


_PAYLOAD_LIMIT = 1 << 20


def cmd_diagnose(args: argparse.Namespace) -> int:
    import json

    from heygen_lab.diagnose import diagnose
    from heygen_lab.envelopes import decode
    from heygen_lab.errors import scrub_signed

    text = args.payload if args.payload is not None else sys.stdin.read(_PAYLOAD_LIMIT + 1)
    if not text.strip():
        raise CLIError("no PAYLOAD: pass the error body as an argument or on stdin", EXIT_USAGE)
    if len(text) > _PAYLOAD_LIMIT:  # an error body is a few hundred bytes
        raise CLIError(f"PAYLOAD is over {_PAYLOAD_LIMIT} characters; pass the error body "
                       "only", EXIT_USAGE)
    # Any body as it came: a HeyGen envelope, storage's XML, a gateway's HTML, plain text.
    # A pasted storage error may echo the signed URL's signature: it is never printed.
    content = scrub_signed(text).encode("utf-8", "replace")
    if args.status is not None:
        decoded = decode(args.status, content)
    else:
        # Status unknown: a success envelope (v1 code 100, v2 "error": null, v3 "data") is
        # recognised as such; anything else is read as an error with no status, and the rules
        # infer what they can from the body itself.
        as_success = decode(200, content)
        ok_envelope = as_success.ok and as_success.style != "none"
        decoded = as_success if ok_envelope else decode(0, content)
    if decoded.error is None:
        raise CLIError("this payload is not an error envelope (v1 code 100, or no error field)")
    record = decoded.error
    if args.status is None:
        from dataclasses import replace

        record = replace(record, status=None)
    result = diagnose(record, _sent_from(args.endpoint, args.url))
    if result is None:
        print(f"no rule matches {record.describe()}; see HeyGen's error codes at "
              "https://developers.heygen.com/docs/error-codes")
        return EXIT_FAIL
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{result.id}: {result.cause}.\nFix: {result.remedy}")
        for line in result.evidence:
            print(f"  - {line}")
    return 0


_STORAGE_HOSTS = ("amazonaws.com", "storage.googleapis.com", "googleusercontent.com",
                  "blob.core.windows.net", "cloudfront.net")


def _sent_from(endpoint: str | None, url: str | None) -> Sent | None:
    """What was sent, from ``--endpoint`` and ``--url``. A URL's host is classified as it is:
    HeyGen's API or upload host, a storage host (or any URL with a signature), or, for any
    other host (loopback, an emulator, a proxy), neither: the path names the endpoint and the
    diagnosis says the request went to the URL as given, never to a HeyGen host it invented."""
    from heygen_lab.routes import route
    from heygen_lab.wire import Sent

    if url:
        from urllib.parse import urlsplit

        from heygen_lab.contracts.runner import describe_base
        from heygen_lab.errors import scrub_signed
        from heygen_lab.wire import HEYGEN_HOSTS

        parts = urlsplit(url)
        try:
            host = (parts.hostname or "").lower()
        except ValueError:
            host = ""
        signed = scrub_signed(parts.query) != parts.query
        kind: Any = ("storage" if signed or host.endswith(_STORAGE_HOSTS)
                     else HEYGEN_HOSTS.get(host))
        origin = None if kind is not None or not host else (
            f"{parts.scheme or 'http'}://{describe_base(url)}")
        return Sent(route=endpoint, host=kind, path=parts.path or None, origin=origin)
    if endpoint:
        r = route(endpoint)
        return Sent(route=r.id, host=r.host, path=r.path)
    return None


def cmd_whoami(args: argparse.Namespace) -> int:
    """The v3 user: username, email, name, and the one billing block (``GET /v3/users/me``)."""
    import json

    from heygen_lab.client import billing_block

    with target_client(args.target, args.plan, settings(args)) as (client, where):
        user = client.me()
    kind, block = billing_block(user)
    shown = {"target": where, **{k: user.get(k) for k in ("username", "email", "first_name",
                                                           "last_name")},
             "billing_type": kind, **({kind: block} if kind else {})}
    print(json.dumps(shown, indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    from heygen_lab import routes
    from heygen_lab.emulator import DEMO_KEY, Emulator
    from heygen_lab.emulator.clock import SystemClock

    for option, port in (("--api-port", args.api_port), ("--upload-port", args.upload_port)):
        if not 0 <= port <= 65535:
            raise CLIError(f"{option} {port} is not a TCP port; pass 0..65535 (0: any free port)",
                           EXIT_USAGE)
    if any(not key.strip() for key in args.key):
        raise CLIError("--key must not be blank", EXIT_USAGE)
    try:
        emulator = Emulator(
            plan=args.plan, faults=";".join(args.fault), keys=args.key or [DEMO_KEY],
            clock=SystemClock(), host=args.host, api_port=args.api_port,
            upload_port=args.upload_port, legacy=args.legacy or "available",
        )
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    with _stop_on_signals(), suppress(KeyboardInterrupt):  # Ctrl-C / SIGTERM: a clean exit 0
        try:
            try:
                emu = emulator.start()
            except OSError as exc:  # the port is taken, or the host is not one of ours
                raise CLIError(f"cannot listen on {args.host} (ports {args.api_port}, "
                               f"{args.upload_port}): {exc.strerror or exc}") from None
            # Flushed: a script reading these lines from a pipe must not wait for the buffer.
            print(f"HEYGEN_API_BASE={emu.api_base}", flush=True)
            print(f"HEYGEN_UPLOAD_BASE={emu.upload_base}", flush=True)
            if not args.key:
                print(f"HEYGEN_API_KEY={DEMO_KEY}", flush=True)
            if args.legacy == "retired":
                print("legacy v1/v2 routes answer 410 Gone (retired after "
                      f"{routes.LEGACY_SUNSET.date.isoformat()})", file=sys.stderr, flush=True)
            print("emulator running; Ctrl-C stops it", file=sys.stderr, flush=True)
            threading.Event().wait()
        finally:
            emulator.stop()  # also removes the storage directory
    return 0


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT end ``serve`` the same way: the ``with`` blocks unwind, the servers
    stop and the storage directory is removed. Further signals are ignored meanwhile, so a
    second Ctrl-C cannot cut the clean-up short."""
    def stop(signum: int, frame: object) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_check(args: argparse.Namespace) -> int:
    from heygen_lab.contracts import load_report, run_check, write_report
    from heygen_lab.contracts.report import baseline_news, compare_reports

    resolved = settings(args)
    mode = args.mode or ("live" if resolved.api_key is not None else "emulator")
    if args.mode is None:
        where = (f"the {live_where(resolved)} (HEYGEN_API_KEY is set)" if mode == "live"
                 else "the embedded emulator (no HEYGEN_API_KEY; --mode replay uses cassettes)")
        print(f"no --mode given: running the contracts on {where}", file=sys.stderr)
    if args.legacy is not None and mode != "emulator":
        raise CLIError(f"--legacy only applies to --mode emulator (this run is {mode})",
                       EXIT_USAGE)
    baseline = load_report(args.baseline) if args.baseline else None
    if args.report:  # before any case runs: an hour of live checks must not end in EACCES
        _check_writable(args.report)
    if mode == "live":
        _probe_live(resolved)
    table = ResultTable(sys.stdout)  # its header comes with the first row, not before an error
    report = run_check(mode=mode, contracts_dir=args.contracts, cassette_dir=args.cassettes,
                       plan=args.plan, allow_billed=args.allow_billed, only=args.only,
                       on_result=table.row, settings=resolved,
                       emulator_options={"legacy": args.legacy} if args.legacy else None)
    if mode == "live":
        report.target = live_where(resolved)
    current = report.to_dict() if baseline is not None else {}
    changes = compare_reports(baseline, current) if baseline is not None else None
    news = baseline_news(baseline, current) if baseline is not None else None
    retired = report.retired_lines()
    if retired:
        print("\nretired (past HeyGen's announced end of life for v1/v2):")
        for line in retired:
            print(f"  {line}")
    for r in report.drifted:
        print("\n" + r.explain())
    if baseline is not None:
        print(f"\ncompared with {args.baseline}: " + (
            f"{len(changes or [])} case(s) changed" if changes else "no behaviour changed"))
        for line in changes or []:
            print(f"  {line}")
        if news:
            print("new or not run since then (not counted as changes):")
            for line in news:
                print(f"  {line}")
    print(f"\n{report.headline} ({report.target})")
    if args.report:
        json_path, md_path = write_report(report, args.report, changes, news)
        print(f"report: {json_path} and {md_path}")
    return EXIT_FAIL if report.drifted or changes else 0


def _probe_live(resolved: Settings) -> None:
    """One request before a live run: an unreachable host or a refused key stops it here,
    with one line, instead of a row of drift per case."""
    from heygen_lab.contracts.runner import probe_live

    if resolved.api_key is not None:  # without one, the run itself says what to do
        probe_live(resolved)


class ResultTable:
    """The rows ``check`` and ``record`` print as cases finish: a header, columns fitted to the
    terminal (long cells end in an ellipsis), the verdict in colour on a terminal.

    Output that is not a terminal (a pipe, a CI log) keeps every cell whole, unless
    ``COLUMNS`` asks for a width. Colour follows https://no-color.org: ``NO_COLOR`` (non-empty)
    turns it off, ``FORCE_COLOR`` (non-empty) on, otherwise it is on for a terminal that is not
    ``TERM=dumb``.
    """

    HEADERS = ("result", "case", "expected", "observed", "source")
    NATURAL = (6, 38, 36, 36, 12)
    MINIMUM = (6, 16, 12, 12, 8)
    COLOURS: ClassVar[dict[str, str]] = {"pass": "32", "drift": "31", "error": "1;31",
                                         "skip": "33", "retired": "35"}

    def __init__(self, stream: Any, *, width: int | None = None,
                 colour: bool | None = None) -> None:
        self.stream = stream
        tty = _isatty(stream)
        if width is None and (tty or os.environ.get("COLUMNS")):
            import shutil

            width = shutil.get_terminal_size().columns
        self.widths: tuple[int, ...] | None = None if width is None else self._fit(width)
        self.colour = _colour_wanted(tty) if colour is None else colour
        self._headed = False
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "\u2026".encode(encoding)
            self.ellipsis = "\u2026"
        except (LookupError, UnicodeEncodeError):
            self.ellipsis = "..."

    def _fit(self, width: int) -> tuple[int, ...]:
        """Column widths that fit ``width`` (with the separators), shrinking case, expected
        and observed first, never below their minimum."""
        widths = list(self.NATURAL)
        spare = width - (sum(widths) + 1 + 2 * (len(widths) - 2))
        while spare < 0:
            shrinkable = [i for i in (1, 2, 3, 4) if widths[i] > self.MINIMUM[i]]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i] - self.MINIMUM[i])
            widths[widest] -= 1
            spare += 1
        return tuple(widths)

    def _cell(self, text: str, index: int) -> str:
        if self.widths is None or index == 0:
            return text
        limit = self.widths[index]
        if len(text) <= limit:
            return text
        return text[:max(limit - len(self.ellipsis), 0)] + self.ellipsis

    def header(self) -> None:
        """Print the header row (once: the first row prints it when nobody did)."""
        if not self._headed:
            self._headed = True
            print(self._render(self.HEADERS, None), file=self.stream, flush=True)

    def _render(self, cells: Sequence[str], verdict: str | None) -> str:
        natural = self.widths or self.NATURAL
        plain = ""
        pieces: list[str] = []
        stop = 0
        for i, raw in enumerate(cells):
            text = self._cell(raw, i)
            if i:
                gap = " " * max(stop - len(plain), 1 if i == 1 else 2)
                plain += gap
                pieces.append(gap)
            plain += text
            code = self.COLOURS.get(verdict or "") if i == 0 and self.colour else None
            pieces.append(f"\033[{code}m{text}\033[0m" if code else text)
            stop += natural[i] + (1 if i == 0 else 2)
        return "".join(pieces)

    def row(self, result: Any) -> None:
        from heygen_lab.contracts.report import expected_summary, observed_summary

        self.header()
        prov = result.case.provenance
        source = prov["kind"] + (f" {prov['date']}" if prov.get("date") else "")
        if result.verdict == "retired":
            source += f" ({result.reason})"
        cells = (result.verdict, result.case.id, expected_summary(result),
                 observed_summary(result), source)
        print(self._render(cells, result.verdict), file=self.stream, flush=True)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _colour_wanted(tty: bool) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return tty and os.environ.get("TERM") != "dumb"


def _check_writable(path: Path) -> None:
    """Fail now, with one line, if the report could not be written later."""
    from heygen_lab.contracts import report_paths

    for target in report_paths(path):
        if target.is_dir():
            raise CLIError(f"--report {path}: {target} is a directory; name a file", EXIT_USAGE)
        parent = target.parent
        if not parent.is_dir():
            raise CLIError(f"--report {path}: no directory {parent}; create it first", EXIT_USAGE)
        try:  # the same kind of write the report makes: a temporary file beside it
            import tempfile

            fd, probe = tempfile.mkstemp(prefix=".heygen-lab-probe-", dir=parent)
        except OSError as exc:
            raise CLIError(f"--report {path}: cannot write in {parent} "
                           f"({exc.strerror or exc})", EXIT_USAGE) from None
        os.close(fd)
        os.unlink(probe)


def cmd_record(args: argparse.Namespace) -> int:
    from heygen_lab.cassettes.recorder import is_loopback_url
    from heygen_lab.contracts import default_dir, run_check

    resolved = settings(args)
    if args.target == "live":
        if resolved.api_key is None:
            raise CLIError("--target live needs HEYGEN_API_KEY in the environment", EXIT_USAGE)
        local = [b for b in (resolved.api_base, resolved.upload_base) if is_loopback_url(b)]
        if local:
            raise CLIError(f"--target live records HeyGen itself, but {local[0]} is a server on "
                           "this machine (the emulator?); a cassette from it must not say "
                           "'live': use --target emulator, or unset HEYGEN_API_BASE / "
                           "HEYGEN_UPLOAD_BASE", EXIT_USAGE)
        _probe_live(resolved)
    directory = args.cassettes or default_dir("cassettes")
    before = _cassette_stamps(directory)
    table = ResultTable(sys.stdout)
    report = run_check(record=args.target, contracts_dir=args.contracts,
                       cassette_dir=args.cassettes, plan=args.plan,
                       allow_billed=args.allow_billed, only=args.only, on_result=table.row,
                       settings=resolved)
    after = _cassette_stamps(directory)
    written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    changed = [p for p in written if before.get(p, (0, 0, ""))[2] != after[p][2]]
    print(f"recorded {len(written)} cassette(s), {len(changed)} with new content "
          f"({report.target})")
    for path in changed:
        print(f"  changed: {path}")
    if not written:
        reasons = [r.reason or r.explain() for r in report.results if r.verdict != "skip"]
        hint = f": {reasons[0].splitlines()[-1].strip()}" if reasons else ""
        print(f"heygen-lab: error: nothing was recorded{hint}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_FAIL if report.counts.get("error") else 0


def _cassette_stamps(directory: Path) -> dict[Path, tuple[int, int, str]]:
    """Each cassette file under ``directory`` with its (mtime_ns, size, sha256): whether a run
    wrote it (the recorder rewrites a file even when nothing in it changed) and whether its
    content changed."""
    import hashlib

    if not directory.is_dir():
        return {}
    stamps = {}
    for path in directory.rglob("*.yaml"):
        with suppress(OSError):
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            stamps[path] = (st.st_mtime_ns, st.st_size, digest)
    return stamps


def cmd_cassettes(args: argparse.Namespace) -> int:
    import math

    from heygen_lab.cassettes import lint
    from heygen_lab.contracts import default_dir, load_contracts

    if not (math.isfinite(args.max_age_days) and args.max_age_days >= 0):
        raise CLIError(f"--max-age-days must be a number of days >= 0, got {args.max_age_days}",
                       EXIT_USAGE)
    if args.max_bytes < 1:
        raise CLIError(f"--max-bytes must be >= 1, got {args.max_bytes}", EXIT_USAGE)
    directory = args.cassettes or default_dir("cassettes")
    if not directory.is_dir():
        raise CLIError(f"{directory}: no such cassette directory; pass --cassettes DIR, or "
                       "record cassettes with 'heygen-lab record'", EXIT_USAGE)
    contracts = load_contracts(args.contracts or default_dir("contracts"))
    known = [c.id for contract in contracts for c in contract.cases]
    findings = lint(directory, known_cases=known,
                    max_age_days=args.max_age_days, max_bytes=args.max_bytes)
    for f in findings:
        print(f"{f.kind:<12} {f.path}: {f.message}")
    print(f"{len(findings)} finding(s) in {len(known)} case(s)")
    return EXIT_FAIL if findings else 0


def cmd_spec(args: argparse.Namespace) -> int:
    from heygen_lab.spec import SpecError

    try:
        return SPEC_ACTIONS[args.action](args)
    except SpecError as exc:  # a spec file or a checkout that cannot be read: bad input
        raise CLIError(str(exc), EXIT_USAGE) from None


def _spec_list(args: argparse.Namespace) -> int:
    from heygen_lab.spec import load_spec

    ops = [op for op in load_spec() if args.group in (None, op.group)]
    if not ops:
        groups = sorted({op.group for op in load_spec()})
        raise CLIError(f"no group {args.group!r}; the groups are {', '.join(groups)}",
                       EXIT_USAGE)
    width = max(len(op.name) for op in ops)
    for op in ops:
        print(f"{op.name:<{width}}  {op.method:<6} {op.endpoint}")
    return 0


def _spec_show(args: argparse.Namespace) -> int:
    from heygen_lab.spec import _pair_variants, load_spec

    spec = load_spec()
    by_lower = {name.lower(): name for name in spec.operations}
    try:
        op = spec[by_lower.get(args.name.lower(), args.name)]
    except KeyError as exc:
        raise CLIError(f"{exc.args[0]} ('heygen-lab spec list' prints them)",
                       EXIT_USAGE) from None
    traits = [t for t, on in (("paginated", op.paginated), ("pollable", op.pollable),
                              ("destructive", op.destructive)) if on]
    print(f"{op.name}: {op.method} {op.endpoint}")
    print(f"  official CLI: heygen {op.group} {op.command}"
          + (f"  ({', '.join(traits)})" if traits else ""))
    print(f"  path parameters: {', '.join(op.path_params) or 'none'}")
    print(f"  body: {op.body_encoding or 'none'}")
    width = max((len(f.json_name) for f in op.flags), default=0)
    for source in ("query", "body", "file"):
        flags = op.flags_in(source)
        if flags:
            print(f"  {source} parameters:")
        for f in flags:
            notes = [f.type, "required" if f.required else "optional"]
            if f.minimum is not None or f.maximum is not None:
                low, high = ("" if v is None else f"{v:g}" for v in (f.minimum, f.maximum))
                notes.append(f"{low}..{high}")
            if f.enum:
                notes.append("one of " + ", ".join(f.enum))
            print(f"    {f.json_name:<{width}}  {'; '.join(notes)}")
    schema = op.request_schema or {}
    if op.body_encoding == "json" and "discriminator" in schema:
        prop = schema["discriminator"]["propertyName"]
        print(f"  body variants, chosen by {prop!r}:")
        pairs = _pair_variants(schema) or {}
        for value in schema["discriminator"].get("mapping", {}):
            variant = pairs.get(value, {})
            needs = [r for r in variant.get("required") or () if r != prop]
            print(f"    {value}" + (f"  (requires {', '.join(needs)})" if needs else ""))
    elif op.body_encoding == "json" and schema.get("properties"):
        # Fields the official client has no flag for (objects, lists): still part of the body.
        flagged = {f.json_name for f in op.flags}
        required = set(schema.get("required") or ())
        fields = [f"{name}{' (required)' if name in required else ''}"
                  for name in schema["properties"] if name not in flagged]
        if fields:
            print(f"  other body fields: {', '.join(fields)}")
    return 0


def _spec_diff(args: argparse.Namespace) -> int:
    from heygen_lab.spec import load_spec
    from heygen_lab.spec.diff import changes_to_json, diff_specs, render_changes

    old, new = load_spec(args.old), load_spec(args.new)
    changes = diff_specs(old, new)
    if args.json:
        print(changes_to_json(changes))
    else:
        for line in render_changes(changes):
            print(line)
        touched = len({c.operation for c in changes})
        print(f"{len(changes)} change(s) in {touched} operation(s)" if changes
              else f"no changes ({len(new)} operations)")
    return EXIT_FAIL if changes else 0


def _spec_extract(args: argparse.Namespace) -> int:
    from heygen_lab.spec.extract import dump_operations, extract_operations

    if not args.checkout.is_dir():
        raise CLIError(f"{args.checkout}: no such directory; pass the root of a "
                       "heygen-com/heygen-cli checkout (the directory that holds gen/)",
                       EXIT_USAGE)
    document = extract_operations(args.checkout)
    text = dump_operations(document)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    _write_atomically(args.output, text)
    print(f"wrote {len(document['operations'])} operations to {args.output} "
          f"(commit {document['source']['commit']})", file=sys.stderr)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new, never half."""
    import tempfile

    tmp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                         prefix=f".{path.name}.", delete=False) as fh:
            tmp = Path(fh.name)
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise CLIError(f"{path}: cannot write it ({exc.strerror or exc})") from None


SPEC_ACTIONS = {"list": _spec_list, "show": _spec_show, "diff": _spec_diff,
                "extract": _spec_extract}

COMMANDS = {"upload": cmd_upload, "diagnose": cmd_diagnose, "whoami": cmd_whoami,
            "serve": cmd_serve, "check": cmd_check, "record": cmd_record,
            "cassettes": cmd_cassettes, "spec": cmd_spec}


#: Commands that always run the emulator, the contracts or the cassettes (``upload`` and
#: ``whoami`` need it only without a key; then main's ModuleNotFoundError clause says so).
NEEDS_EMULATOR_EXTRA = frozenset({"serve", "check", "record", "cassettes"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and usage errors end here, before heavy imports
    from heygen_lab._signals import sigterm_unwinds
    from heygen_lab.errors import HeyGenError

    try:
        with sigterm_unwinds():
            if args.command in NEEDS_EMULATOR_EXTRA:
                from heygen_lab._extras import require

                require("emulator", f"heygen-lab {args.command}")
            return COMMANDS[args.command](args)
    except CLIError as exc:
        return _fail(str(exc), exc.code)
    except HeyGenError as exc:
        return _fail(str(exc), EXIT_FAIL)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ModuleNotFoundError as exc:  # an optional dependency: one line naming its extra
        from heygen_lab._extras import missing_extra

        missing = missing_extra(exc, f"heygen-lab {args.command}")
        if missing is None:
            raise
        return _fail(str(missing), EXIT_FAIL)


def _quiet_broken_pipe() -> int:
    """The reader went away (``heygen-lab check | head``): stop without a word. stdout is
    pointed at /dev/null so that flushing it at exit does not raise a second time."""
    with suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a reader that hung up


def _fail(message: str, code: int) -> int:
    print(f"heygen-lab: error: {message}", file=sys.stderr)
    return code
