"""The emulator keeps HTTP/1.1 connections alive (HTTP/1.1's default), without ever reading one
request's bytes as part of another: a body the answer went out before reading closes the
connection, pipelined requests are answered in order, and stop() ends idle connections."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heygen_lab.emulator import DEMO_KEY, Emulator

TIMEOUT = 30
INIT = json.dumps({"filename": "a.mp4", "content_type": "video/mp4",
                   "size_bytes": 1000}).encode()
# (method, path, key, body): answered after the body was read, or (a wrong key) before it.
REQUESTS = {
    "me": ("GET", "/v3/users/me", DEMO_KEY, b""),
    "init": ("POST", "/v3/assets/direct-uploads", DEMO_KEY, INIT),
    "bad-json": ("POST", "/v3/assets/direct-uploads", DEMO_KEY, b"{not json"),
    "raw-png": ("POST", "/v1/asset", DEMO_KEY, b"\x89PNG\r\n\x1a\n" + bytes(200)),
    "unknown": ("GET", "/v3/no-such-thing", DEMO_KEY, b""),
    "wrong-key-with-body": ("POST", "/v3/assets/direct-uploads", "wrong-key", INIT),
}
UPLOAD_PATHS = ("/v1/asset",)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(read_timeout=10) as e:
        yield e


def _host(emu: Emulator, path: str) -> tuple[str, int]:
    url = urlsplit(emu.upload_base if path in UPLOAD_PATHS else emu.api_base)
    return str(url.hostname), int(url.port or 0)


def _send(conn: http.client.HTTPConnection, name: str
          ) -> tuple[http.client.HTTPResponse, socket.socket | None]:
    """The answer, and the socket the request went out on."""
    method, path, key, body = REQUESTS[name]
    content_type = "image/png" if path in UPLOAD_PATHS else "application/json"
    conn.request(method, path, body=body or None,
                 headers={"X-Api-Key": key, "Content-Type": content_type})
    sock = conn.sock  # http.client lets go of it when an answer says the connection closes
    return conn.getresponse(), sock


def _raw(method: str, path: str, key: str, body: bytes) -> bytes:
    """One request as it goes over the wire (JSON content type, Content-Length given); its
    arguments in the order of a ``REQUESTS`` entry."""
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def _answer(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """One answer off a connection's buffered reader: status, headers, body (Content-Length)."""
    status = int(reader.readline().split(b" ")[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers["content-length"]))


def _alone(emu: Emulator, name: str) -> int:
    """The status of this request sent on a connection of its own."""
    conn = http.client.HTTPConnection(*_host(emu, REQUESTS[name][1]), timeout=TIMEOUT)
    try:
        answer, _ = _send(conn, name)
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_requests_share_one_connection(emu: Emulator) -> None:
    conn = http.client.HTTPConnection(*_host(emu, "/v3/users/me"), timeout=TIMEOUT)
    try:
        sockets = []
        for name in ("me", "init", "bad-json", "me"):
            answer, sock = _send(conn, name)
            body = json.loads(answer.read())
            assert answer.getheader("Connection") is None, name
            assert answer.status == (400 if name == "bad-json" else 200), body
            sockets.append(sock)
        assert all(s is sockets[0] for s in sockets), "one connection carried all four"
    finally:
        conn.close()


def test_an_answer_sent_before_the_body_was_read_closes_the_connection(emu: Emulator) -> None:
    method, path, key, body = REQUESTS["wrong-key-with-body"]
    # The body is itself a request line: read as a request, it would get an answer of its own.
    smuggled = b"GET /v3/users/me HTTP/1.1\r\nHost: x\r\n\r\n"
    assert len(smuggled) < len(body)
    with socket.create_connection(_host(emu, path), timeout=TIMEOUT) as sock:
        sock.sendall(_raw(method, path, key, smuggled.ljust(len(body), b" ")))
        received = b""
        while chunk := sock.recv(65536):  # the server ends the connection: EOF, not a timeout
            received += chunk
    assert received.count(b"HTTP/1.1 ") == 1, received
    assert received.startswith(b"HTTP/1.1 401 ") and b"Connection: close" in received


def test_pipelined_requests_are_answered_in_order(emu: Emulator) -> None:
    with socket.create_connection(_host(emu, "/v3/users/me"), timeout=TIMEOUT) as sock:
        sock.sendall(b"".join(_raw(*REQUESTS[name]) for name in ("init", "unknown", "me")))
        with sock.makefile("rb") as reader:
            answers = [(status, json.loads(body)) for status, _, body in
                       (_answer(reader) for _ in range(3))]
    assert [status for status, _ in answers] == [200, 404, 200]
    assert answers[0][1]["data"]["upload_url"] and answers[2][1]["data"]["username"] == "emulator"


def test_stop_ends_idle_connections_and_their_threads() -> None:
    before = set(threading.enumerate())
    emu = Emulator().start()
    try:
        sock = socket.create_connection(_host(emu, "/v3/users/me"), timeout=TIMEOUT)
        sock.sendall(_raw(*REQUESTS["me"]))
        reader = sock.makefile("rb")
        status, headers, _ = _answer(reader)
        assert status == 200 and "connection" not in headers, "kept alive"
    finally:
        emu.stop()
    with sock, reader:
        assert reader.read() == b"", "the idle connection was ended (EOF, not a timeout)"
    assert set(threading.enumerate()) - before == set()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(sorted(n for n, r in REQUESTS.items()
                                             if r[1] not in UPLOAD_PATHS)),
                      min_size=1, max_size=8))
def test_any_sequence_on_one_connection_answers_as_each_alone(emu: Emulator, names: list[str]
                                                              ) -> None:
    """Each answer's status is the one the request gets on its own connection; the connection
    changes only after an answer that said it closes."""
    conn = http.client.HTTPConnection(*_host(emu, "/v3/users/me"), timeout=TIMEOUT)
    try:
        used, closed_after = [], []
        for name in names:
            answer, sock = _send(conn, name)
            answer.read()
            used.append(sock)
            assert answer.status == _alone(emu, name), name
            closed_after.append(answer.getheader("Connection") == "close")
            assert closed_after[-1] == (name == "wrong-key-with-body"), "only an unread body closes"
        for i in range(1, len(used)):
            assert (used[i] is not used[i - 1]) == closed_after[i - 1], (i, names)
    finally:
        conn.close()


def test_a_raw_upload_keeps_the_connection(emu: Emulator) -> None:
    conn = http.client.HTTPConnection(*_host(emu, "/v1/asset"), timeout=TIMEOUT)
    try:
        first, sock = _send(conn, "raw-png")
        assert json.loads(first.read())["code"] == 100
        second, again = _send(conn, "raw-png")
        assert json.loads(second.read())["code"] == 100 and again is sock
    finally:
        conn.close()
