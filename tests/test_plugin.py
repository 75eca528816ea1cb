"""The pytest plugin, driven as a user's project would drive it (pytester)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CASE = """\
contract: mine
route: v1-upload
cases:
  mistaken:
    summary: the classic mistake
    send: {encoding: multipart, fields: {type: image}, file_field: asset, file: media/tiny.jpg}
    expect:
      status: 400
      body: {code: 40001, message: %s}
    provenance: {kind: reported, source: my notes}
  billed-one:
    summary: uploads for real
    mutates: true
    send: {encoding: raw, file: media/tiny.jpg}
    expect: {status: 200}
    provenance: {kind: documented, source: docs}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    contracts = pytester.path / "my_contracts"
    contracts.mkdir()
    shutil.copytree(ROOT / "contracts" / "media", contracts / "media")
    (contracts / "mine.yaml").write_text(CASE % "asset data must be provided")
    return pytester


def test_inert_unless_asked(project: pytest.Pytester) -> None:
    result = project.runpytest("my_contracts", "-p", "no:cacheprovider")
    result.assert_outcomes()  # nothing collected: the plugin does not claim YAML on its own


def test_cases_pass_in_emulator_mode(project: pytest.Pytester) -> None:
    result = project.runpytest("--heygen-contracts", "my_contracts", "--heygen-mode", "emulator",
                               "my_contracts", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*mine.yaml::mistaken PASSED*"])


def test_a_drifted_case_shows_the_difference_and_lands_in_junit(project: pytest.Pytester) -> None:
    (project.path / "my_contracts" / "mine.yaml").write_text(CASE % "something else")
    junit = project.path / "junit.xml"
    result = project.runpytest("--heygen-contracts", "my_contracts", "--heygen-mode", "emulator",
                               f"--junitxml={junit}", "my_contracts")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*mine/mistaken: drift*",
        "*pinned from: reported: my notes*",
        "*body.message: expected 'something else', got 'asset data must be provided'*",
    ])
    xml = junit.read_text()
    assert 'name="mistaken"' in xml and "body.message: expected" in xml


def test_live_without_key_skips_and_billed_needs_permission(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    result = project.runpytest("--heygen-contracts", "my_contracts", "--heygen-mode", "live",
                               "my_contracts", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*live mode needs HEYGEN_API_KEY*",
                                 "*pass --allow-billed to run it live*"])


def test_replay_without_cassettes_says_how_to_record(project: pytest.Pytester) -> None:
    result = project.runpytest("--heygen-contracts", "my_contracts", "my_contracts", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*heygen-lab record --only mine/mistaken*"])


def test_fixtures(pytester: pytest.Pytester) -> None:
    jpeg = str(ROOT / "contracts" / "media" / "tiny.jpg")
    pytester.makepyfile(f"""
        def test_upload(heygen_client, heygen_emulator):
            asset = heygen_client.upload_asset({jpeg!r}, via="v1")
            assert asset.id in heygen_emulator.state.assets
    """)
    pytester.runpytest().assert_outcomes(passed=1)
