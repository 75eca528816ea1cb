"""The recorder's streaming fingerprint equals fingerprint() of the whole body, whatever the
chunking: well-formed, truncated, garbled and preamble/epilogue-carrying multipart, and raw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from requests_toolbelt import MultipartEncoder

from heygen_lab.cassettes import fingerprint
from heygen_lab.cassettes.fingerprints import stream_fingerprint

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)
NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
PIECES = [b"\r\n", b"--", b"\r\n\r\n", b" ", b"\t", b"-", b"\r", b"\n", b"x",
          b"Content-Disposition: form-data; name=\"a\"", b"Content-Type: text/plain"]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


@st.composite
def multipart(draw: st.DrawFn) -> tuple[str, bytes]:
    boundary = draw(st.text("abcdefXYZ0123456789", min_size=1, max_size=12))
    fields: list[tuple[str, Any]] = []
    for name in draw(st.lists(NAME, max_size=3, unique=True)):
        data = draw(st.binary(max_size=400) | st.sampled_from([b"", b"image", b"\r\n--x"]))
        if draw(st.booleans()):
            fields.append((name, (name + ".bin", data, draw(st.sampled_from(
                [None, "image/jpeg"])))))
        else:
            fields.append((name, data))
    enc = MultipartEncoder(fields=fields, boundary=boundary)
    body = enc.to_string()
    how = draw(st.sampled_from(["as is", "cut", "insert", "preamble", "epilogue", "noise"]))
    if how == "cut" and body:
        body = body[:draw(st.integers(0, len(body)))]
    elif how == "insert" and body:
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from(PIECES)) + body[at:]
    elif how == "preamble":
        body = draw(st.sampled_from([b"", b"x", b"\r\n", b"pre\r\n", b"ab"])) + body
    elif how == "epilogue":
        body += draw(st.sampled_from([b"\r\n", b"trailing", b"\r\n--" + boundary.encode()]))
    elif how == "noise":
        body = b"".join(draw(st.lists(st.sampled_from(
            [*PIECES, b"--" + boundary.encode()]), max_size=12)))
    content_type = draw(st.sampled_from([enc.content_type, "multipart/form-data",
                                         "multipart/form-data; boundary=\"\""]))
    return content_type, body


@SETTINGS
@given(multipart(), st.integers(1, 70))
def test_multipart_streamed_equals_whole(sample: tuple[str, bytes], size: int) -> None:
    content_type, body = sample
    assert stream_fingerprint(content_type, chunked(body, size)) == fingerprint(
        content_type, body)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["image/jpeg", "text/plain; charset=utf-8",
                                                  None, "application/octet-stream",
                                                  "application/x-www-form-urlencoded"]),
       st.integers(1, 50))
def test_raw_streamed_equals_whole(body: bytes, content_type: str | None, size: int) -> None:
    assert stream_fingerprint(content_type, chunked(body, size)) == fingerprint(
        content_type, body)
