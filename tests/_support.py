"""Helpers shared by test modules (pytest puts tests/ on sys.path: it has no __init__.py)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent


def bare_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that must see none of the caller's HeyGen settings
    (no key can leak in): PATH, this checkout on PYTHONPATH, ``extra``, and
    PYTHONDONTWRITEBYTECODE when the caller set it (no bytecode lands in the checkout of
    someone who asked for none)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **extra}
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        env["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
    return env


def read_lines(stream: IO[str], count: int, timeout: float = 60.0) -> list[str]:
    """``count`` lines from a child's pipe, or fail (instead of hanging) after ``timeout``."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream.readline()
                                                          for _ in range(count)), daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"no {count} lines within {timeout:g}s; got {lines!r}"
    return lines


def v3_call(emu: Any, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    """The JSON answer of the emulator's API host to one request, after checking its status."""
    from heygen_lab.emulator import DEMO_KEY

    kwargs.setdefault("headers", {"X-Api-Key": DEMO_KEY})
    r = requests.request(method, emu.api_base + path, timeout=30, **kwargs)
    assert r.status_code == status, r.text
    return r.json()


def v3_pages(emu: Any, path: str, limit: int = 2) -> list[Any]:
    """Every item of a v3 list, read page by page (``limit`` per page, token to token): no
    page holds more than ``limit``, and the last one has no ``next_token``."""
    items: list[Any] = []
    token = ""
    while True:
        page = v3_call(emu, "GET", f"{path}?limit={limit}&token={token}")
        assert len(page["data"]) <= limit
        items += page["data"]
        if not page["has_more"]:
            assert page["next_token"] is None
            return items
        token = page["next_token"]


def v3_error(emu: Any, method: str, path: str, status: int, **kwargs: Any) -> tuple[str, Any]:
    """(code, param) of a v3 error answer."""
    err = v3_call(emu, method, path, status, **kwargs)["error"]
    return err["code"], err["param"]


#: What every CLI failure starts with.
CLI_ERROR = "heygen-lab: error:"


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``heygen-lab ARGV`` run in process."""
    from heygen_lab.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    """The single stderr line of a failure (and proof that it is the only one)."""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith(CLI_ERROR) and "Traceback" not in err
    return lines[0]


T = TypeVar("T")
KERNEL_DIED = "Kernel died before replying to kernel_info"


def retry_kernel_start(start: Callable[..., T], attempts: int = 3) -> Callable[..., T]:
    """A kernel start (nbval's, or jupyter_client's ``start_new_kernel``: both shut a kernel that
    failed down and raise), tried again (up to ``attempts`` in all) when it died before it was
    ready. jupyter_client picks a kernel's five TCP ports by binding port 0 and letting go;
    the kernel binds them about a second later and exits at once if one was taken meanwhile,
    here by a server another worker started on port 0 (an emulator starts two). nbval would
    report every cell of that notebook as an error. A kernel that does not answer in time is
    not tried again."""

    @functools.wraps(start)
    def start_again_if_it_died(*args: Any, **kwargs: Any) -> T:
        for _ in range(attempts - 1):
            try:
                return start(*args, **kwargs)
            except RuntimeError as exc:  # start() has shut the dead kernel down already
                if KERNEL_DIED not in str(exc):
                    raise
        return start(*args, **kwargs)

    return start_again_if_it_died


def emulator_threads() -> set[threading.Thread]:
    """The emulators' serving threads alive now (one per running Emulator)."""
    return {t for t in threading.enumerate() if t.name == "heygen-emulator"}


@contextlib.contextmanager
def serving(app: Any, **options: Any) -> Iterator[Any]:
    """``app`` on a threaded werkzeug server on 127.0.0.1, port 0, for tests that stand in for a
    host; ``options`` go to ``make_server`` (``ssl_context``...). Stopped on exit: shutdown()
    waits for the serving loop's next poll, every 5 ms."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class LoopbackServer:
    """:func:`serving` as an object: subclasses implement ``_app``; ``base`` is the server's
    URL; ``close()`` stops it."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        server = self._stack.enter_context(serving(self._app))
        self.base = f"http://127.0.0.1:{server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        self._stack.close()
