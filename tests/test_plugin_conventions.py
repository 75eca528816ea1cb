"""pytest's conventions in the plugin, driven as a user's project drives it (pytester): the
session emulator and its options, ``heygen_vcr`` and its record modes, the socket-level network
block, ``--heygen-only`` / ``--heygen-shard`` and pytest-xdist."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest

# What the inner sessions use, imported once here: pytester's in-process runs forget every module
# a run imported, so each run would import (and assertion-rewrite) the emulator, its handler
# families, its spec and jsonschema anew, about a second a run.
import heygen_lab.client
import heygen_lab.contracts.runner
import heygen_lab.emulator
import heygen_lab.emulator.families  # noqa: F401
from heygen_lab import pytest_plugin
from heygen_lab.cassettes.network import NetworkBlocked, block_network, is_loopback
from heygen_lab.cassettes.vcr_fixture import RECORD_MODES, cassette_name

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "contracts" / "media"
TEST_NET = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed


# ---------------------------------------------------------------- the session emulator
def test_one_emulator_per_session_reset_before_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest
        seen = []

        def test_first(heygen_emulator, heygen_client):
            heygen_client.upload_asset({str(MEDIA / "tiny.jpg")!r}, via="v1")
            heygen_emulator.clock.advance(60)
            seen.append((id(heygen_emulator), heygen_emulator.api_base))

        def test_second(heygen_emulator):
            assert not heygen_emulator.state.assets        # reset: the upload is forgotten
            assert heygen_emulator.clock.now() == 1_767_225_600.0
            assert seen == [(id(heygen_emulator), heygen_emulator.api_base)]  # same one, ports

        def test_stopping_it_is_survivable(heygen_emulator):
            heygen_emulator.stop()

        def test_after_a_stop(heygen_emulator, heygen_client):
            assert heygen_client.me()["username"]
    """)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_options_fixture_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def heygen_emulator_options():
            return {"plan": "trial", "keys": ["my-key", "other-key"]}
    """)
    pytester.makepyfile("""
        import pytest

        def test_configured(heygen_emulator, heygen_client):
            assert heygen_emulator.plan.name == "trial"
            assert heygen_emulator.keys == ("my-key", "other-key")

        @pytest.mark.heygen_emulator(plan="pro")
        def test_own_emulator(heygen_emulator):
            assert heygen_emulator.plan.name == "pro"
            assert heygen_emulator.keys == ("my-key", "other-key")  # the rest still applies
    """)
    # --strict-markers: the markers are registered
    pytester.runpytest("--strict-markers").assert_outcomes(passed=2)
    markers = pytester.runpytest("--markers").stdout.str()
    for name in ("heygen_emulate(", "heygen_emulator(", "heygen_vcr("):
        assert f"@pytest.mark.{name}" in markers


def test_a_handler_error_fails_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_breaks(heygen_emulator):
            heygen_emulator.service._record(RuntimeError("boom in a handler"))

        def test_next_is_clean(heygen_emulator):
            pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)  # test_breaks errors at teardown, alone
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_breaks*", "*boom in a handler*"])


# ---------------------------------------------------------------- heygen_vcr
VCR_CONFTEST = """
    import pytest

    @pytest.fixture
    def heygen_vcr_options(heygen_emulator):
        # recorded against the emulator, stored (and matched) as HeyGen's hosts
        return {"canonical_hosts": {heygen_emulator.api_base: "https://api.heygen.com",
                                    heygen_emulator.upload_base: "https://upload.heygen.com"}}
"""
VCR_TEST = f"""
    MEDIA = {str(MEDIA)!r}
    FILE = "tiny.jpg"

    def test_upload(heygen_vcr, heygen_client):
        asset = heygen_client.upload_asset(MEDIA + "/" + FILE, via="v3")
        assert asset.id
"""


@pytest.fixture
def vcr_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(VCR_CONFTEST)
    pytester.makepyfile(test_mine=VCR_TEST)
    return pytester


def test_record_once_then_replay_with_the_network_blocked(vcr_project: pytest.Pytester) -> None:
    cassette = vcr_project.path / "cassettes" / "test_mine" / "test_upload.yaml"
    vcr_project.runpytest("--heygen-record-mode", "once").assert_outcomes(passed=1)
    text = cassette.read_text()
    assert "https://upload.heygen.com" in text or "https://api.heygen.com" in text
    assert "heygen-lab-fingerprint/1" in text and "kind: emulator" in text
    assert "emulator-demo-key" not in text  # removed by name
    assert not [p for p in cassette.parent.iterdir() if p.name != cassette.name]  # no temp left
    # replay (the default mode): a new session, a new emulator port, the same cassette
    vcr_project.runpytest().assert_outcomes(passed=1)
    assert cassette.read_text() == text  # replay writes nothing


def test_an_unmatched_request_fails_with_the_differing_fields(vcr_project: pytest.Pytester
                                                              ) -> None:
    vcr_project.runpytest("--heygen-record-mode", "once").assert_outcomes(passed=1)
    (vcr_project.path / "test_mine.py").write_text(
        (vcr_project.path / "test_mine.py").read_text().replace("tiny.jpg", "tiny.png"))
    result = vcr_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*UnmatchedRequest: Can't play back this request: no recorded interaction matches it*",
        "*body_matcher differs: request body differs:*"
        "filename: this request 'tiny.png', recorded 'tiny.jpg'*",
        "*heygen-lab: record it with 'pytest --heygen-record-mode once'*"])
    # once on an existing cassette replays only; new_episodes adds the new request
    vcr_project.runpytest("--heygen-record-mode", "once").assert_outcomes(failed=1)
    vcr_project.runpytest("--heygen-record-mode", "new_episodes").assert_outcomes(passed=1)
    vcr_project.runpytest().assert_outcomes(passed=1)


def test_a_missing_cassette_says_how_to_record_it(vcr_project: pytest.Pytester) -> None:
    result = vcr_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the cassette doesn't exist*", "*--heygen-record-mode once*"])
    assert not (vcr_project.path / "cassettes" / "test_mine" / "test_upload.yaml").exists()


def test_a_caught_unmatched_request_still_fails(vcr_project: pytest.Pytester) -> None:
    vcr_project.makepyfile(test_mine="""
        import requests

        def test_swallows(heygen_vcr):
            try:
                requests.get("https://api.heygen.com/v3/users/me", timeout=5)
            except Exception:
                pass
    """)
    result = vcr_project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*1 request(s) not in the cassette*"])


def test_rewrite_records_from_scratch_and_a_failing_test_records_nothing(
        vcr_project: pytest.Pytester) -> None:
    cassette = vcr_project.path / "cassettes" / "test_mine" / "test_upload.yaml"
    vcr_project.runpytest("--heygen-record-mode", "once").assert_outcomes(passed=1)
    (vcr_project.path / "test_mine.py").write_text(
        (vcr_project.path / "test_mine.py").read_text().replace("tiny.jpg", "tiny.png"))
    vcr_project.runpytest("--heygen-record-mode", "new_episodes").assert_outcomes(passed=1)
    assert cassette.read_text().count("- request:") == 2
    # a failing test in rewrite mode leaves the old cassette as it was
    before = cassette.read_text()
    vcr_project.makepyfile(test_mine=VCR_TEST.replace("assert asset.id", "assert not asset.id"))
    vcr_project.runpytest("--heygen-record-mode", "rewrite").assert_outcomes(failed=1)
    assert cassette.read_text() == before
    vcr_project.makepyfile(test_mine=VCR_TEST)
    vcr_project.runpytest("--heygen-record-mode", "rewrite").assert_outcomes(passed=1)
    assert cassette.read_text().count("- request:") == 1 and "tiny.jpg" in cassette.read_text()


def test_the_secret_gate_refuses_to_write(vcr_project: pytest.Pytester) -> None:
    vcr_project.makepyfile(test_mine="""
        import pytest
        import requests

        @pytest.mark.heygen_vcr(secrets=["sk-very-secret-value"])
        def test_leaks(heygen_vcr, heygen_emulator):
            requests.get(heygen_emulator.api_base + "/v3/users/me?note=sk-very-secret-value",
                         headers={"X-Api-Key": "emulator-demo-key"}, timeout=5)
    """)
    result = vcr_project.runpytest("--heygen-record-mode", "all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*refusing to write*contains the API key*"])
    assert not list((vcr_project.path / "cassettes").rglob("*.yaml"))


def test_options_place_and_name_the_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_where="""
        import pytest

        @pytest.fixture
        def heygen_vcr_options():
            return {"cassette_dir": "recorded", "record_mode": "once"}

        class TestGroup:
            @pytest.mark.parametrize("n", [1, 2])
            def test_param(self, heygen_vcr, n):
                pass

        @pytest.mark.heygen_vcr(cassette="shared/one.yaml")
        def test_named(heygen_vcr):
            pass
    """)
    pytester.runpytest().assert_outcomes(passed=3)
    # vcrpy writes a cassette only when something was recorded: nothing here, so check paths
    assert cassette_name("test_where", "TestGroup.test_param[1]") == \
        "test_where/TestGroup.test_param[1].yaml"
    assert cassette_name("m", "t[a/b c]") == "m/t[a_b_c].yaml"


def test_the_record_modes_are_the_same_list() -> None:
    assert pytest_plugin.RECORD_MODES == RECORD_MODES


# ---------------------------------------------------------------- the network block
BLOCK_TEST = f"""
    import socket, time, urllib.request
    import pytest
    from heygen_lab.cassettes.network import NetworkBlocked

    def test_raw_socket(heygen_vcr):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        started = time.perf_counter()
        with pytest.raises(NetworkBlocked, match="{TEST_NET}:80.*--heygen-record-mode once"):
            sock.connect(("{TEST_NET}", 80))
        with pytest.raises(NetworkBlocked):
            sock.connect_ex(("{TEST_NET}", 80))
        assert time.perf_counter() - started < 0.5  # refused here, not timed out out there
        sock.close()

    def test_what_vcrpy_does_not_patch(heygen_vcr):
        import asyncio, smtplib
        with pytest.raises(NetworkBlocked, match="{TEST_NET}:25"):
            smtplib.SMTP("{TEST_NET}", 25, timeout=5)
        with pytest.raises(NetworkBlocked, match="example.com:443"):  # refused before DNS
            asyncio.run(asyncio.open_connection("example.com", 443))
        with pytest.raises(NetworkBlocked, match="example.com"):
            socket.create_connection(("example.com", 443), timeout=5)

    def test_urllib(heygen_vcr):
        # vcrpy patches http.client, which urllib.request uses: refused there, by the cassette
        with pytest.raises(Exception, match="heygen-record-mode once"):
            urllib.request.urlopen("http://{TEST_NET}/", timeout=5)
        heygen_vcr.heygen_unmatched.clear()  # expected: don't fail the test for it

    def test_loopback_still_works(heygen_vcr, heygen_emulator):
        host, port = heygen_emulator.api_base.rsplit("/", 1)[1].split(":")
        socket.create_connection((host, int(port)), timeout=5).close()

    def test_restored_afterwards():
        assert socket.socket.connect.__qualname__ == "socket.connect"
"""


def test_replay_blocks_the_network_at_the_socket_level(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_block=BLOCK_TEST)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=5)


def test_recording_does_not_block(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import socket

        def test_not_blocked(heygen_vcr):
            assert socket.socket.connect.__qualname__ == "socket.connect"
            assert socket.getaddrinfo.__module__ == "socket"
    """)
    pytester.runpytest("--heygen-record-mode", "once").assert_outcomes(passed=1)


def test_contract_items_in_replay_mode_are_blocked(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import heygen_lab.contracts.runner as runner

    def run_case(*args: object) -> None:  # what a case's code could do, for the inner run
        socket.create_connection((TEST_NET, 443), timeout=5)

    contracts = pytester.path / "my_contracts"
    contracts.mkdir()
    shutil.copytree(MEDIA, contracts / "media")
    (contracts / "mine.yaml").write_text(CONTRACT)
    monkeypatch.setattr(runner, "run_case", run_case)
    result = pytester.runpytest("--heygen-contracts", "my_contracts", "my_contracts")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*NetworkBlocked*blocked a connection to 192.0.2.1:443*"
                                 "--heygen-mode emulator*"])


def test_urllib_request_is_refused_fast_by_the_block_itself() -> None:
    started = time.perf_counter()
    with block_network("the fix"), pytest.raises(NetworkBlocked, match=f"{TEST_NET}:80.*fix"):
        urllib.request.urlopen(f"http://{TEST_NET}/", timeout=5)
    assert time.perf_counter() - started < 0.5


def test_block_network_unit() -> None:
    real = socket.socket.connect
    with pytest.raises(ValueError), block_network("hint"):
        with pytest.raises(NetworkBlocked, match=r"hint$"):
            socket.getaddrinfo("example.com", 80)
        with pytest.raises(NetworkBlocked, match=r"example\.com"):
            socket.socket().connect(("example.com", 80))
        assert socket.getaddrinfo("localhost", 80)  # allowed
        raise ValueError("the block ends by an exception")
    assert socket.socket.connect is real
    for host in ("127.0.0.1", "127.5.5.5", "::1", "[::1]", "localhost", "a.localhost", ""):
        assert is_loopback(host), host
    for host in ("192.0.2.1", "10.0.0.1", "api.heygen.com", "localhost.example.com", None):
        assert not is_loopback(host), host


def test_a_unix_socket_is_not_blocked(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    with block_network("hint"), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        started = time.perf_counter()
        client.connect(path)
        assert time.perf_counter() - started < 1
    server.close()


# ---------------------------------------------------------------- selection and sharding
CONTRACT = """\
contract: mine
route: v1-upload
cases:
%s
"""
CASE = """\
  %s:
    summary: a case
    send: {encoding: raw, file: media/tiny.jpg}
    expect: {status: 200}
    provenance: {kind: documented, source: docs}
"""
CONTRACT = CONTRACT % "".join(CASE % name for name in ("raw-a", "raw-b", "json-a", "json-b"))


@pytest.fixture
def contracts(pytester: pytest.Pytester) -> pytest.Pytester:
    directory = pytester.path / "my_contracts"
    directory.mkdir()
    shutil.copytree(MEDIA, directory / "media")
    (directory / "mine.yaml").write_text(CONTRACT)
    (directory / "other.yaml").write_text(CONTRACT.replace("contract: mine", "contract: other"))
    return pytester


def _selected(project: pytest.Pytester, *args: str) -> list[str]:
    result = project.runpytest("--heygen-contracts", "my_contracts", "--heygen-mode",
                               "emulator", "--collect-only", "-q", "my_contracts", *args)
    return [line.split("::")[0].split("/")[-1].removesuffix(".yaml") + "/"
            + line.split("::")[1] for line in result.outlines if "::" in line]


def test_only_selects_by_glob(contracts: pytest.Pytester) -> None:
    assert _selected(contracts, "--heygen-only", "mine/raw-*") == ["mine/raw-a", "mine/raw-b"]
    assert _selected(contracts, "--heygen-only", "other", "--heygen-only", "*/json-a") == [
        "mine/json-a", "other/raw-a", "other/raw-b", "other/json-a", "other/json-b"]
    assert _selected(contracts, "--heygen-only", "json-b") == ["mine/json-b", "other/json-b"]
    assert _selected(contracts, "--heygen-only", "nothing*") == []


def test_shards_split_the_cases_deterministically(contracts: pytest.Pytester) -> None:
    every = _selected(contracts)
    shards = [_selected(contracts, "--heygen-shard", f"{i}/3") for i in (1, 2, 3)]
    assert sorted(case for shard in shards for case in shard) == sorted(every)
    assert len(every) == 8
    assert [len(s) for s in shards] == [3, 3, 2]
    assert shards == [_selected(contracts, "--heygen-shard", f"{i}/3") for i in (1, 2, 3)]
    # with --heygen-only: the selected cases are sharded
    # (round-robin over the sorted ids json-a, json-b, raw-a, raw-b; listed in file order)
    assert _selected(contracts, "--heygen-only", "mine", "--heygen-shard", "2/2") == [
        "mine/raw-b", "mine/json-b"]


def test_other_tests_are_not_sharded(contracts: pytest.Pytester) -> None:
    contracts.makepyfile(test_plain="def test_plain(): pass")
    result = contracts.runpytest("--heygen-contracts", "my_contracts", "--heygen-mode",
                                 "emulator", "--heygen-shard", "3/3", "--heygen-only", "mine")
    result.assert_outcomes(passed=2)  # mine/raw-a (the 3rd of 3) and test_plain
    result.stdout.fnmatch_lines(["*7 deselected*"])


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(contracts: pytest.Pytester, bad: str) -> None:
    result = contracts.runpytest("--heygen-shard", bad)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--heygen-shard wants I/N*"])


# ---------------------------------------------------------------- pytest-xdist
def first_id() -> str:
    from heygen_lab.emulator import Emulator

    return Emulator().state.new_id()


def test_xdist_each_worker_has_its_own_emulator_and_recordings_do_not_collide(
        pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(VCR_CONFTEST)
    upload = f"""
def test_{{name}}(heygen_vcr, heygen_client):
    asset = heygen_client.upload_asset({str(MEDIA / "tiny.jpg")!r}, via="v3")
    assert asset.id == {first_id()!r}  # the first id of a fresh emulator: it was reset
"""
    recording = "import pytest\n" + "\n".join(
        '@pytest.mark.heygen_vcr(record_mode="once")' + upload.format(name=f"upload_{n}")
        for n in range(6))
    replaying = "\n".join(upload.format(name=f"replay_{n}") for n in range(6))
    pytester.makepyfile(test_many=recording, test_replayed=replaying)
    # test_replayed's cassettes, recorded here, in process: the parallel run below replays them
    pytester.runpytest("--heygen-record-mode", "once", "test_replayed.py").assert_outcomes(
        passed=6)
    replayed = {p.name: p.read_bytes()
                for p in (pytester.path / "cassettes" / "test_replayed").iterdir()}
    assert len(replayed) == 6
    # One parallel run: test_many records (its marker), test_replayed replays (the default mode,
    # the network blocked), each worker with its own emulator. Worker processes start faster
    # without the plugins this project has no use for.
    quick = ("-n", "2", "-p", "no:nbval", "-p", "no:hypothesispytest", "-p", "no:anyio")
    result = pytester.runpytest(*quick)
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*created: 2/2 workers*"])
    recorded = sorted(p.name for p in (pytester.path / "cassettes" / "test_many").iterdir())
    assert recorded == [f"test_upload_{n}.yaml" for n in range(6)]  # and no temp files
    assert {p.name: p.read_bytes()
            for p in (pytester.path / "cassettes" / "test_replayed").iterdir()} == replayed
    # and what the workers recorded replays
    pytester.runpytest("--heygen-record-mode", "none", "test_many.py").assert_outcomes(passed=6)
