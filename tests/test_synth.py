"""The synthesizer: for every v3 operation, a synthesized answer validates against HeyGen's
response schema, and so does any record merged into it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heygen_lab.emulator import synth
from heygen_lab.spec import Operation, load_spec

SPEC = load_spec()
OPS = list(SPEC)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


def _with_item(op: Operation, item: Any) -> dict[str, Any]:
    body = synth.body(op)
    if isinstance(body.get("data"), list):
        body["data"] = [item]
    else:
        body["data"] = item
    return body


def test_all_85_operations_are_covered() -> None:
    assert len(OPS) == 85


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_synthesized_answer_validates(op: Operation) -> None:
    assert op.check_response(synth.body(op, op.name)) == []
    assert op.check_response(_with_item(op, synth.item(op, seed=op.name))) == []


def test_same_seed_same_value_and_real_fields_win() -> None:
    op = SPEC["LipsyncGet"]
    assert synth.item(op, seed="a") == synth.item(op, seed="a")
    got = synth.item(op, {"id": "ls_1", "status": "running", "created_at": 7, "nope": 1})
    assert (got["id"], got["status"], got["created_at"]) == ("ls_1", "running", 7)
    assert "nope" not in got and got["video_url"] is None  # not known yet: null


def test_a_value_of_another_shape_is_ignored() -> None:
    op = SPEC["BackgroundRemovalGet"]  # the request's layers is a list; the answer's an object
    got = synth.item(op, {"id": "b", "status": "x", "layers": ["foreground"]})
    assert got["layers"] == {} and op.check_response({"data": got}) == []


def test_discriminated_variant_follows_the_real_value() -> None:
    op = SPEC["AssetSearch"]
    icon = synth.item(op, {"type": "icon", "id": "i", "url": "u"})
    assert icon["type"] == "icon"
    assert synth.item(op)["type"] in ("icon", "image")


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(OPS), junk=st.dictionaries(st.text(max_size=12), JSON, max_size=6),
       seed=st.text(max_size=8))
def test_any_record_merged_still_validates(op: Operation, junk: dict[str, Any],
                                           seed: str) -> None:
    schema = synth.data_schema(op)
    names = list((schema.get("items", schema)).get("properties", {}))
    record = {**junk, **{n: v for n, v in zip(names, junk.values(), strict=False)}}
    assert op.check_response(_with_item(op, synth.item(op, record, seed))) == []
