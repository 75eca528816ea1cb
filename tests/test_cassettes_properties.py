"""Properties of fingerprints, the body matcher and the secret scan (hypothesis)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from requests_toolbelt import MultipartEncoder
from vcr.request import Request

from heygen_lab.cassettes import (
    FINGERPRINT_PREFIX,
    body_matcher,
    fingerprint,
    fingerprint_request,
    scan_for_secrets,
)
from heygen_lab.cassettes.recorder import dump_cassette

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None)
NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
CTYPES = [None, "image/jpeg", "image/png", "video/mp4", "application/octet-stream"]
BOUNDARY = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=16,
                   max_size=40)
SECRET = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=8,
                 max_size=64)


@st.composite
def parts(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    return [{"name": n, "filename": draw(st.none() | NAME.map(lambda s: s + ".bin")),
             "content_type": draw(st.sampled_from(CTYPES)),
             "data": draw(st.binary(max_size=300))} for n in names]


def encode(ps: list[dict[str, Any]], boundary: str) -> tuple[str, bytes]:
    fields: list[tuple[str, Any]] = []
    for p in ps:
        if p["filename"] is None and p["content_type"] is None:
            fields.append((p["name"], p["data"]))
        else:
            fields.append((p["name"], (p["filename"], p["data"], p["content_type"])))
    enc = MultipartEncoder(fields=fields, boundary=boundary)
    return enc.content_type, enc.to_string()


def request(content_type: str, body: bytes) -> Request:
    return Request("POST", "https://api.heygen.com/v3/assets", body, {"Content-Type": content_type})


@SETTINGS
@given(parts(), BOUNDARY, BOUNDARY)
def test_fingerprints_ignore_the_boundary(ps: list[dict[str, Any]], b1: str, b2: str) -> None:
    assume(all(b.encode() not in p["data"] for p in ps for b in (b1, b2)))
    (ct1, body1), (ct2, body2) = encode(ps, b1), encode(ps, b2)
    fp = fingerprint(ct1, body1)
    assert fp == fingerprint(ct2, body2) and fp["encoding"] == "multipart"
    assert [(p["name"], p["filename"], p["size"]) for p in fp["parts"]] == [
        (p["name"], p["filename"], len(p["data"])) for p in ps]
    assert b1 not in json.dumps(fp)
    body_matcher(request(ct1, body1), request(ct2, body2))
    body_matcher(fingerprint_request(request(ct1, body1)), request(ct2, body2))


@st.composite
def one_change(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    ps = draw(parts())
    i = draw(st.integers(0, len(ps) - 1))
    field = draw(st.sampled_from(["name", "filename", "content_type", "data"]))
    changed = [dict(p) for p in ps]
    old = ps[i][field]
    if field == "name":
        new: Any = draw(NAME.filter(lambda n: n != old))
    elif field == "filename":
        new = draw(NAME.map(lambda s: s + ".dat"))
    elif field == "content_type":
        new = draw(st.sampled_from([c for c in CTYPES if c and c != old]))
    else:
        new = draw(st.binary(max_size=300).filter(lambda d: d != old))
    changed[i][field] = new
    if field in {"filename", "content_type"} and changed[i]["filename"] is None:
        changed[i]["filename"] = "f.bin"  # a content type needs a file part to be sent
    expected = {"data": "sha256"}.get(field, field)
    if ps[i]["filename"] is None and changed[i]["filename"] is not None:
        expected = "filename"
    return ps, changed, f"parts[{i}].{expected}"


@SETTINGS
@given(one_change(), BOUNDARY, BOUNDARY)
def test_any_change_of_a_part_is_detected_and_named(
    change: tuple[list[dict[str, Any]], list[dict[str, Any]], str], b1: str, b2: str
) -> None:
    before, after, field = change
    assume(all(b.encode() not in p["data"] for p in before + after for b in (b1, b2)))
    (ct1, body1), (ct2, body2) = encode(after, b1), encode(before, b2)
    assert fingerprint(ct1, body1) != fingerprint(ct2, body2)
    with pytest.raises(AssertionError) as info:
        body_matcher(request(ct1, body1), fingerprint_request(request(ct2, body2)))
    assert field in str(info.value)


@SETTINGS
@given(parts().filter(lambda ps: len(ps) > 1), BOUNDARY)
def test_part_order_is_detected(ps: list[dict[str, Any]], b: str) -> None:
    assume(all(b.encode() not in p["data"] for p in ps))
    ct1, body1 = encode(ps[::-1], b)
    ct2, body2 = encode(ps, b)
    with pytest.raises(AssertionError, match="part order"):
        body_matcher(request(ct1, body1), request(ct2, body2))


@SETTINGS
@given(st.text(max_size=60), st.text(max_size=200), BOUNDARY)
def test_fingerprints_survive_safe_yaml(name: str, value: str, b: str) -> None:
    """Whatever the field names and values, the stored fingerprint round-trips through YAML."""
    assume(b not in value)
    enc = MultipartEncoder(fields=[(name or "x", value)], boundary=b)
    body = enc.to_string()
    stored = fingerprint_request(request(enc.content_type, body)).body.decode()
    loaded = yaml.safe_load(dump_cassette({"body": stored}))
    assert loaded["body"] == stored and stored.startswith(FINGERPRINT_PREFIX)
    body_matcher(Request("POST", "https://x", loaded["body"], {}), request(enc.content_type, body))
    assert fingerprint(enc.content_type, body)["parts"][0].get("value") in {value, None}


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["", "; boundary=zz", "; boundary=\"a b\""]))
def test_malformed_multipart_never_raises(body: bytes, params: str) -> None:
    fp = fingerprint("multipart/form-data" + params, body)
    assert fp["encoding"] in {"multipart", "multipart-malformed"}
    json.dumps(fp)


# ------------------------------------------------------------------ the secret scan
@st.composite
def embedded(draw: st.DrawFn) -> tuple[str, str, str]:
    """(secret, text containing it in one form, that form)."""
    secret = draw(SECRET)
    form = draw(st.sampled_from(["raw", "url-encoded", "base64"]))
    if form == "raw":
        needle = secret
    elif form == "url-encoded":  # every byte escaped: quote() leaves these characters alone
        hexes = [f"%{b:02X}" for b in secret.encode()]
        needle = "".join(h.lower() if draw(st.booleans()) else h for h in hexes)
        needle = needle if draw(st.booleans()) else needle.upper()
    else:
        blob = draw(st.binary(max_size=8)) + secret.encode() + draw(st.binary(max_size=8))
        encode = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
        needle = encode(blob).decode()
    text = draw(st.text(max_size=100)) + needle + draw(st.text(max_size=100))
    return secret, text, form


@SETTINGS
@given(embedded())
def test_scan_finds_an_embedded_secret_in_each_form(case: tuple[str, str, str]) -> None:
    secret, text, form = case
    assert form in scan_for_secrets(text, [secret])
    assert form in scan_for_secrets(text.encode(), ["short", secret])


NOT_KEY_TEXT = st.text(" .,;:!?()[]{}<>\n\téøß日本語\"'", max_size=200)


@SETTINGS
@given(SECRET, NOT_KEY_TEXT, NOT_KEY_TEXT, st.integers(0, 63), st.sampled_from("*#~"))
def test_scan_reports_nothing_without_the_secret(secret: str, a: str, b: str, i: int,
                                                 other: str) -> None:
    assert scan_for_secrets(a + b, [secret]) == []
    i %= len(secret)
    near_miss = secret[:i] + other + secret[i + 1:]  # one character differs
    assert scan_for_secrets(a + near_miss + b, [secret]) == []
