"""The body builders: what goes on the wire, attempt after attempt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests_toolbelt.multipart.decoder import MultipartDecoder

from heygen_lab import uploads
from heygen_lab.media import load_media


def _drain(payload: uploads.Payload, progress: list[tuple[int, int]] | None = None) -> bytes:
    cb = (lambda done, total: progress.append((done, total))) if progress is not None else None
    with payload.open(cb) as body:
        if isinstance(body, bytes):
            return body
        out = b""
        while chunk := body.read(7):
            out += chunk
        return out


def test_raw_is_the_file_with_its_mime_type(jpeg: Path) -> None:
    payload = uploads.raw(load_media(jpeg))
    assert payload.headers == {"Content-Type": "image/jpeg"}
    progress: list[tuple[int, int]] = []
    assert _drain(payload, progress) == jpeg.read_bytes()
    assert progress[-1] == (jpeg.stat().st_size, jpeg.stat().st_size)
    assert payload.sent.encoding == "raw" and payload.sent.size == jpeg.stat().st_size


def test_multipart_parts_and_stable_boundary(jpeg: Path) -> None:
    payload = uploads.multipart(load_media(jpeg), file_field="asset", fields={"type": "image"})
    first, second = _drain(payload), _drain(payload)
    assert first == second, "every attempt sends the same bytes"
    parts = MultipartDecoder(first, payload.headers["Content-Type"]).parts
    names = [p.headers[b"Content-Disposition"].decode() for p in parts]
    assert names[0] == 'form-data; name="type"'
    assert names[1] == 'form-data; name="asset"; filename="tiny.jpg"'
    assert parts[0].content == b"image"
    assert parts[1].content == jpeg.read_bytes()
    assert parts[1].headers[b"Content-Type"] == b"image/jpeg"
    assert payload.sent.parts == ("type", "asset")


def test_multipart_refuses_clashing_names(jpeg: Path) -> None:
    with pytest.raises(ValueError, match="used by both"):
        uploads.multipart(load_media(jpeg), file_field="type", fields={"type": "image"})
    with pytest.raises(ValueError, match="non-empty"):
        uploads.multipart(load_media(jpeg), file_field="")


def test_json_and_empty() -> None:
    assert json.loads(_drain(uploads.json_body({"a": "é"}))) == {"a": "é"}
    assert _drain(uploads.empty("image/jpeg")) == b""
    assert uploads.empty().headers == {}


names = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\'),
                min_size=1, max_size=12)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), file_field=names,
       fields=st.dictionaries(names, st.text(max_size=20), max_size=3))
def test_multipart_round_trips(jpeg: Path, data: bytes, file_field: str,
                               fields: dict[str, str]) -> None:
    fields.pop(file_field, None)
    media = load_media(jpeg.read_bytes() + data, name="f.jpg")
    payload = uploads.multipart(media, file_field=file_field, fields=fields)
    body = _drain(payload)
    parts = MultipartDecoder(body, payload.headers["Content-Type"], encoding="utf-8").parts
    assert len(parts) == len(fields) + 1
    assert parts[-1].content == jpeg.read_bytes() + data
    assert [p.content.decode() for p in parts[:-1]] == list(fields.values())
    assert payload.sent.parts == (*fields, file_field)
