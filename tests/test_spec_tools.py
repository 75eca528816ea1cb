"""The spec's tools: extract from a heygen-cli checkout, diff two specs, and ``heygen-lab spec``.

The Go files here are small hand-written stand-ins for heygen-cli's ``gen/*.go``: the same shape
(``var Name = &command.Spec{...}``), none of its content.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _support import one_error_line
from _support import run_cli as run

from heygen_lab.spec import parse_spec
from heygen_lab.spec.diff import Change, changes_to_json, diff_specs, render_changes
from heygen_lab.spec.extract import (
    ExtractError,
    dump_operations,
    extract_operations,
    parse_go_specs,
)

PACKAGED = Path(__file__).resolve().parent.parent / "heygen_lab" / "spec" / "operations.json"
PREFIX = "heygen-lab: error:"

WIDGET_GO = r'''// Written by hand for heygen-lab's tests.

package gen

import "example.com/internal/command"

var WidgetGet = &command.Spec{
	Group:       "widget",
	Name:        "get",
	Summary:     "Fetch a \"widget\"\tby id",
	Description: "Line one.\nA back\\slash, caf\u00e9 and \U0001F600.",
	ResponseSchema: `{
  "title": "Widget",
  "properties": {
    "data": {
      "description": "raw: \n stays two characters in Go",
      "properties": {
        "id": {"type": "string", "pattern": "^w_\\d+$", "example": "w_1"},
        "title": {"type": "string", "nullable": true, "examples": ["a"]}
      },
      "required": ["id"],
      "type": "object"
    }
  },
  "required": [],
  "type": "object"
}`,
	Endpoint:     "/v3/shelves/{shelf_id}/widgets/{widget_id}",
	Method:       "GET",
	BodyEncoding: "",
	Examples: []string{
		"# Fetch one\n  widget get <shelf> <id>",
	},
	Args: []command.ArgSpec{
		{Name: "widget-id", Param: "widget_id", Help: "The widget."},
		{Name: "shelf-id", Param: "shelf_id", Help: "The shelf."},
	},
}

/* A block comment, then a second operation. */
var WidgetList = &command.Spec{
	Group:     "widget",
	Name:      "list",
	Summary:   "List widgets",
	Endpoint:  "/v3/widgets",
	Method:    "GET",
	Paginated: true,
	Flags: []command.FlagSpec{
		{
			Name:     "limit",
			Type:     "int",
			Default:  "10",
			Help:     "Items " + "per page.",
			Required: false,
			Enum:     nil,
			Min:      intPtr(1),
			Max:      intPtr(1_000),
			Source:   "query",
			JSONName: "limit",
		},
		{
			Name:     "ratio",
			Type:     "float64",
			Help:     "",
			Min:      floatPtr(0.5),
			Max:      nil,
			Source:   "query",
			JSONName: "ratio",
		},
	},
}
'''

MAKE_GO = r'''package gen

import "example.com/internal/command"

var WidgetCreate = &command.Spec{
	Group:         "widget",
	Name:          "create",
	Summary:       "Make one",
	RequestSchema: "{\"properties\": {\"color\": {\"description\": \"Its colour.\", " +
		"\"enum\": [\"\x41\", \"\102\", \"caf\u00e9\"], \"type\": \"string\"}, " +
		"\"name\": {\"default\": \"a\\tb\", \"type\": \"string\"}}, " +
		"\"required\": [\"name\"], \"type\": \"object\"}",
	Endpoint:      "/v3/widgets",
	Method:        "POST",
	BodyEncoding:  "json",
	Destructive:   false,
	Flags: []command.FlagSpec{
		{Name: "color", Type: "string", Required: false, Enum: []string{"A", "B", "caf\u00e9"},
			Min: nil, Max: nil, Source: "body", JSONName: "color"},
		{Name: "name", Type: "string", Required: true, Enum: nil, Source: "body", JSONName: "name"},
	},
}
'''

REGISTRY_GO = '''package gen

import "example.com/internal/command"

func intPtr(v int) *int { return &v }

var Groups = map[string][]*command.Spec{
	"widget": {
		WidgetCreate,
		WidgetGet,
		WidgetList,
	},
}
'''

EXPECTED = {
    "WidgetCreate": {
        "group": "widget", "command": "create", "method": "POST", "endpoint": "/v3/widgets",
        "body_encoding": "json", "paginated": False, "pollable": False, "destructive": False,
        "path_params": [],
        "flags": [
            {"name": "color", "type": "string", "source": "body", "json_name": "color",
             "required": False, "enum": ["A", "B", "café"]},
            {"name": "name", "type": "string", "source": "body", "json_name": "name",
             "required": True},
        ],
        "request_schema": {"properties": {"color": {"enum": ["A", "B", "café"],
                                                    "type": "string"},
                                          "name": {"default": "a\tb", "type": "string"}},
                           "required": ["name"], "type": "object"},
        "response_schema": None,
    },
    "WidgetGet": {
        "group": "widget", "command": "get", "method": "GET",
        "endpoint": "/v3/shelves/{shelf_id}/widgets/{widget_id}", "body_encoding": None,
        "paginated": False, "pollable": False, "destructive": False,
        "path_params": ["shelf_id", "widget_id"], "flags": [], "request_schema": None,
        "response_schema": {"properties": {"data": {
            "properties": {"id": {"type": "string", "pattern": "^w_\\d+$"},
                           "title": {"type": "string", "nullable": True}},
            "required": ["id"], "type": "object"}}, "required": [], "type": "object"},
    },
    "WidgetList": {
        "group": "widget", "command": "list", "method": "GET", "endpoint": "/v3/widgets",
        "body_encoding": None, "paginated": True, "pollable": False, "destructive": False,
        "path_params": [],
        "flags": [
            {"name": "limit", "type": "int", "source": "query", "json_name": "limit",
             "required": False, "min": 1, "max": 1000},
            {"name": "ratio", "type": "float64", "source": "query", "json_name": "ratio",
             "required": False, "min": 0.5},
        ],
        "request_schema": None, "response_schema": None,
    },
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "heygen-cli"
    (root / "gen").mkdir(parents=True)
    for name, text in (("widget.go", WIDGET_GO), ("make.go", MAKE_GO),
                       ("registry.go", REGISTRY_GO)):
        (root / "gen" / name).write_text(text, encoding="utf-8")
    return root


# ---------------------------------------------------------------- extract
def test_extract_reads_the_specs_and_drops_the_prose(checkout: Path) -> None:
    document = extract_operations(checkout)
    assert document["operations"] == EXPECTED
    assert list(document["operations"]) == sorted(EXPECTED)
    for name, op in document["operations"].items():  # the shipped file's key order
        assert list(op) == list(EXPECTED[name])
        assert [list(f) for f in op["flags"]] == [list(f) for f in EXPECTED[name]["flags"]]
    assert document["source"] == {
        "repository": "heygen-com/heygen-cli", "commit": "unknown", "files": "gen/*.go",
        "license": "Apache-2.0",
        "note": "structural facts only: prose (descriptions, examples, titles) removed"}
    parse_spec(document)  # and the result loads


def test_go_strings_decode_every_escape_and_raw_strings_stay_raw() -> None:
    fields, line = parse_go_specs(WIDGET_GO, "widget.go")["WidgetGet"]
    assert line == 7
    assert fields["Summary"] == 'Fetch a "widget"\tby id'
    assert fields["Description"] == "Line one.\nA back\\slash, café and \U0001F600."
    assert '"^w_\\\\d+$"' in fields["ResponseSchema"]  # the backslashes as written
    assert "raw: \\n stays" in fields["ResponseSchema"]
    assert fields["Args"][1] == {"Name": "shelf-id", "Param": "shelf_id", "Help": "The shelf."}
    listed = parse_go_specs(WIDGET_GO)["WidgetList"][0]
    assert listed["Flags"][0]["Help"] == "Items per page."
    assert listed["Flags"][0]["Max"] == 1000


def test_the_commit_comes_from_the_checkouts_own_git_head(checkout: Path) -> None:
    exe = shutil.which("git")
    if exe is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> str:
        return subprocess.run([exe, "-c", "user.name=t", "-c", "user.email=t@example.com",
                               *args], capture_output=True, text=True, check=True,
                              cwd=checkout).stdout.strip()

    git("init", "-q")
    git("add", "gen")
    git("commit", "-qm", "widgets")
    head = git("rev-parse", "HEAD")
    assert extract_operations(checkout)["source"]["commit"] == head
    # A copy of gen/ inside that repository is not that commit's checkout.
    inner = checkout / "copy"
    shutil.copytree(checkout / "gen", inner / "gen")
    assert extract_operations(inner)["source"]["commit"] == "unknown"


@pytest.mark.parametrize(("text", "problem"), [
    ('var X = &command.Spec{Name: "a\\q"}', r"widget.go:1: unknown escape '\\q'"),
    ('var X = &command.Spec{Name: "a",\n Method: }', "widget.go: expected a value, got '}' "
                                                     "at line 2"),
    ('var X = &command.Spec{Name: "a" Method: "GET"}', "expected ',', got 'Method' at line 1"),
    ('var X = &command.Spec{\n\n Name: "open', "widget.go:3: unexpected"),
    ('var X = &command.Spec{Endpoint: "/v3/x/{id}", Method: "GET"}',
     "X: Args name the path parameters [] but the endpoint /v3/x/{id} has ['id']"),
    ('var X = &command.Spec{Endpoint: "/v3/x", RequestSchema: "{nope"}',
     "X.RequestSchema: the schema is not JSON"),
])
def test_a_broken_go_file_is_named_with_its_line(tmp_path: Path, text: str,
                                                 problem: str) -> None:
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "widget.go").write_text(text)
    with pytest.raises(ExtractError) as caught:
        extract_operations(tmp_path)
    assert problem in str(caught.value)


@pytest.mark.parametrize("layout", ["no gen", "empty gen", "gen without specs"])
def test_a_directory_that_is_not_a_checkout_says_so(tmp_path: Path, layout: str) -> None:
    if layout != "no gen":
        (tmp_path / "gen").mkdir()
    if layout == "gen without specs":
        (tmp_path / "gen" / "registry.go").write_text(REGISTRY_GO)
    with pytest.raises(ExtractError, match="pass the root of a heygen-com/heygen-cli checkout"):
        extract_operations(tmp_path)


def test_the_dump_has_the_shipped_layout() -> None:
    document = json.loads(PACKAGED.read_text(encoding="utf-8"))
    assert dump_operations(document) == PACKAGED.read_text(encoding="utf-8").rstrip("\n") + "\n"


# ---------------------------------------------------------------- diff
def packaged() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(PACKAGED.read_text(encoding="utf-8"))
    return document


def edited() -> dict[str, Any]:
    """The packaged spec with four things moved."""
    new = copy.deepcopy(packaged())
    ops = new["operations"]
    del ops["AvatarDelete"]
    [limit] = [f for f in ops["AssetList"]["flags"] if f["name"] == "limit"]
    limit["max"] = 50
    del ops["VideoGet"]["response_schema"]["properties"]["data"]["properties"]["gif_url"]
    status = ops["VideoList"]["response_schema"]["properties"]["data"]["items"]["properties"][
        "status"]
    status["enum"].append("queued")
    return new


def test_diff_of_a_spec_with_itself_is_empty() -> None:
    spec = parse_spec(packaged())
    assert diff_specs(spec, spec) == []
    assert render_changes([]) == []


def test_diff_names_each_change_on_its_own_line() -> None:
    changes = diff_specs(parse_spec(packaged()), parse_spec(edited()))
    assert render_changes(changes) == [
        "AssetList",
        "  changed flags.limit.max: 100 -> 50",
        "AvatarDelete",
        '  removed the operation: "DELETE /v3/avatars/{group_id}"',
        "VideoGet",
        '  removed response.data.gif_url: "string|null"',
        "VideoList",
        '  added response.data.items.status.enum: "queued"',
    ]
    assert changes[0] == Change("changed", "AssetList", "flags.limit.max", 100, 50)
    swap = {"added": "removed", "removed": "added", "changed": "changed"}
    back = diff_specs(parse_spec(edited()), parse_spec(packaged()))
    assert back == [Change(swap[c.kind], c.operation, c.where, c.new, c.old) for c in changes]
    assert json.loads(changes_to_json(changes))[-1] == {
        "kind": "added", "operation": "VideoList", "where": "response.data.items.status.enum",
        "old": None, "new": "queued"}


def test_diff_walks_requests_variants_flags_and_operation_fields() -> None:
    old = packaged()
    new = copy.deepcopy(old)
    ops = new["operations"]
    avatar = ops["VideoCreate"]["request_schema"]["oneOf"][0]
    avatar["properties"]["avatar_id"]["nullable"] = True
    avatar["required"].remove("avatar_id")
    avatar["properties"]["mood"] = {"type": "string"}
    ops["VideoCreate"]["request_schema"]["oneOf"].reverse()  # order alone is no change
    ops["AssetSearch"]["flags"] = [f for f in ops["AssetSearch"]["flags"]
                                   if f["name"] != "scope"]
    ops["AssetSearch"]["flags"][0]["required"] = False
    ops["AssetSearch"]["flags"].append({"name": "tag", "type": "string", "source": "query",
                                        "json_name": "tag", "required": True})
    ops["AssetGet"]["endpoint"] = "/v3/assets/{id}"
    ops["AssetGet"]["path_params"] = ["id"]
    ops["AssetGet"]["paginated"] = True
    ops["NewThingGet"] = {**old["operations"]["AssetGet"], "endpoint": "/v3/things/{asset_id}"}
    lines = render_changes(diff_specs(parse_spec(old), parse_spec(new)))
    assert lines == [
        "AssetGet",
        '  changed endpoint: "/v3/assets/{asset_id}" -> "/v3/assets/{id}"',
        "  changed paginated: false -> true",
        '  changed path_params: ["asset_id"] -> ["id"]',
        "AssetSearch",
        '  removed flags.scope: "string in query"',
        "  changed flags.query.required: true -> false",
        '  added flags.tag: "string in query, required"',
        "NewThingGet",
        '  added the operation: "GET /v3/things/{asset_id}"',
        "VideoCreate",
        '  removed request.oneOf[avatar].required: "avatar_id"',
        '  changed request.oneOf[avatar].avatar_id.type: "string" -> "string|null"',
        '  added request.oneOf[avatar].mood: "string"',
    ]


# ---------------------------------------------------------------- CLI



def test_spec_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "spec", "list")
    assert code == 0 and len(out.splitlines()) == 85
    code, out, _ = run(capsys, "spec", "list", "--group", "asset")
    rows = [line.split() for line in out.splitlines()]
    assert code == 0 and len(rows) == 11
    assert ["AssetSearch", "GET", "/v3/assets/search"] in rows
    code, out, err = run(capsys, "spec", "list", "--group", "gadget")
    assert code == 2 and out == ""
    assert "no group 'gadget'; the groups are ai-clipping, asset," in one_error_line(err)


def test_spec_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "spec", "show", "assetsearch")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "AssetSearch: GET /v3/assets/search"
    assert "  query parameters:" in lines
    assert any(line.split() == ["limit", "int;", "optional;", "1..50"] for line in lines)
    assert any(line.split()[:3] == ["type", "string;", "required;"] for line in lines)
    code, out, _ = run(capsys, "spec", "show", "VideoCreate")
    assert "    avatar  (requires avatar_id)" in out.splitlines()
    code, out, err = run(capsys, "spec", "show", "VideoCreat")
    assert code == 2 and out == ""
    assert "did you mean VideoCreate" in one_error_line(err)


def test_spec_diff(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    new = tmp_path / "new.json"
    new.write_text(json.dumps(edited()))
    code, out, err = run(capsys, "spec", "diff", str(PACKAGED), str(PACKAGED))
    assert (code, out, err) == (0, "no changes (85 operations)\n", "")
    code, out, err = run(capsys, "spec", "diff", str(PACKAGED), str(new))
    assert code == 1 and err == ""
    assert out.splitlines()[:2] == ["AssetList", "  changed flags.limit.max: 100 -> 50"]
    assert out.splitlines()[-1] == "4 change(s) in 4 operation(s)"
    code, out, _ = run(capsys, "spec", "diff", str(PACKAGED), str(new), "--json")
    assert code == 1 and len(json.loads(out)) == 4
    code, out, _ = run(capsys, "spec", "diff", str(PACKAGED), str(PACKAGED), "--json")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read it"),
    ("{oops", "not a JSON spec"),
    ('{"ops": {}}', "expected an object with an 'operations' object"),
])
def test_spec_diff_on_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            content: str | None, problem: str) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code, out, err = run(capsys, "spec", "diff", str(PACKAGED), str(bad))
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert str(bad) in line and problem in line


def test_spec_extract_to_stdout_and_to_a_file(capsys: pytest.CaptureFixture[str],
                                              checkout: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "spec", "extract", str(checkout))
    assert code == 0 and err == ""
    assert json.loads(out)["operations"] == EXPECTED
    target = tmp_path / "out" / "ops.json"
    target.parent.mkdir()
    target.write_text("old")
    code, out, err = run(capsys, "spec", "extract", str(checkout), "-o", str(target))
    assert code == 0 and out == ""
    assert err == f"wrote 3 operations to {target} (commit unknown)\n"
    assert json.loads(target.read_text())["operations"] == EXPECTED
    assert [p.name for p in target.parent.iterdir()] == ["ops.json"]  # no temporary left


def test_spec_extract_failures_are_one_line(capsys: pytest.CaptureFixture[str],
                                            checkout: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "spec", "extract", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert "no such directory" in one_error_line(err)
    code, out, err = run(capsys, "spec", "extract", str(tmp_path))
    assert code == 2 and out == ""
    assert "no gen/ directory; pass the root of a heygen-com/heygen-cli checkout" in \
        one_error_line(err)
    (checkout / "gen" / "broken.go").write_text('var Y = &command.Spec{Name: "\\q"}')
    code, out, err = run(capsys, "spec", "extract", str(checkout))
    assert code == 2 and out == ""
    assert "broken.go:1: unknown escape" in one_error_line(err)
    code, out, err = run(capsys, "spec", "extract", str(checkout / "gen" / ".."),
                         "-o", str(tmp_path / "missing-dir" / "x.json"))
    assert code == 2 and "broken.go" in one_error_line(err)


def test_spec_extract_to_an_unwritable_place_is_one_line(capsys: pytest.CaptureFixture[str],
                                                         checkout: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.json"
    code, out, err = run(capsys, "spec", "extract", str(checkout), "-o", str(target))
    assert code == 1 and out == ""
    assert f"{target}: cannot write it" in one_error_line(err)
    assert not target.parent.exists()


def test_spec_help_loads_neither_the_spec_tools_nor_jsonschema() -> None:
    probe = ("import sys\nfrom heygen_lab.cli import main\ntry:\n    main(['spec', 'diff', "
             "'--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('heygen_lab.spec.', "
             "'jsonschema'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert "OLD.json NEW.json" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"
