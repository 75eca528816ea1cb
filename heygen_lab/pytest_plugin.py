"""pytest plugin: contract cases as test items, and emulator fixtures.

Registered through the ``pytest11`` entry point; cheap to import and inert until a project
names its contract directory (``--heygen-contracts DIR`` or the ini option
``heygen_contracts``). Then every case in ``DIR/*.yaml`` is a test item, run in
``--heygen-mode replay`` (default: cassettes, no network, no key), ``emulator`` or ``live``
(``HEYGEN_API_KEY``; cases that spend credits or change the account are skipped unless
``--heygen-allow-billed``). A failing case prints expected vs observed field by field.

In replay mode the network is blocked at the socket level (loopback only). ``--heygen-only
PATTERN`` keeps the cases whose ``contract/case`` matches a glob, ``--heygen-shard I/N`` the I-th
of N deterministic slices of them (one per CI job); other tests are left alone.

For tests of your own code:

- ``heygen_emulator``: an emulator on loopback, one per session (per xdist worker), reset before
  each test (:meth:`Emulator.reset`); configure it by overriding the session-scoped
  ``heygen_emulator_options`` fixture, or give one test its own emulator with
  ``@pytest.mark.heygen_emulator(**options)``. ``heygen_client`` is a client pointed at it.
- ``heygen_vcr``: records and replays the test's HeyGen calls in
  ``cassettes/<module>/<test>.yaml`` beside the test file, with the fingerprint matcher and the
  secret gate; ``--heygen-record-mode`` none (default: replay only, network blocked), once,
  new_episodes, all or rewrite. Options: the ``heygen_vcr_options`` fixture, then the
  ``@pytest.mark.heygen_vcr(**options)`` marker.
- ``heygen_emulated`` (or the marker ``@pytest.mark.heygen_emulate(**options)``) answers
  HeyGen's hosts in process for the test, strict by default (:func:`heygen_lab.emulate`);
  override the ``heygen_emulated_options`` fixture to change the defaults.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from heygen_lab.client import HeyGenClient
    from heygen_lab.contracts import Case, CaseResult
    from heygen_lab.emulation import Emulation
    from heygen_lab.emulator import Emulator

EMULATE_MARKER = "heygen_emulate"
EMULATOR_MARKER = "heygen_emulator"
VCR_MARKER = "heygen_vcr"
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
"""``heygen_vcr``'s record modes (as :data:`heygen_lab.cassettes.vcr_fixture.RECORD_MODES`)."""
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_CALL_FAILED = pytest.StashKey[bool]()
_VCR_IN_USE = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heygen", "heygen-lab contract tester")
    group.addoption("--heygen-mode", choices=("replay", "emulator", "live"), default=None,
                    help="run contract cases from cassettes (default), the emulator, or live")
    group.addoption("--heygen-contracts", default=None, metavar="DIR",
                    help="collect contract cases from DIR/*.yaml")
    group.addoption("--heygen-cassettes", default=None, metavar="DIR",
                    help="cassettes for replay mode (default: cassettes beside the contracts)")
    group.addoption("--heygen-plan", default=None, help="the plan your key has (live mode)")
    group.addoption("--heygen-allow-billed", action="store_true",
                    help="live: also run cases that spend credits or change the account")
    group.addoption("--heygen-only", action="append", default=[], metavar="PATTERN",
                    help="run only the contract cases whose contract/case matches this glob "
                         "(a pattern without '/' matches the contract or the case name); "
                         "repeatable")
    group.addoption("--heygen-shard", default=None, metavar="I/N",
                    help="run only the I-th of N deterministic slices of the contract cases "
                         "(1 <= I <= N), e.g. one slice per CI job")
    group.addoption("--heygen-record-mode", choices=RECORD_MODES, default=None,
                    help="heygen_vcr: none (default: replay only, network blocked), once, "
                         "new_episodes, all, rewrite (record from scratch)")
    parser.addini("heygen_contracts", "contract directory to collect", default="")
    parser.addini("heygen_cassettes", "cassette directory for replay", default="")
    parser.addini("heygen_mode", "default mode: replay, emulator or live", default="replay")
    parser.addini("heygen_record_mode", "heygen_vcr's default record mode", default="none")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{EMULATE_MARKER}(**options): answer HeyGen's hosts in process for this test "
        "(heygen_lab.emulate; strict unless strict=False)")
    config.addinivalue_line(
        "markers", f"{EMULATOR_MARKER}(**options): give this test its own fresh Emulator "
        "(heygen_emulator_options updated with these) instead of the session's")
    config.addinivalue_line(
        "markers", f"{VCR_MARKER}(**options): heygen_vcr options for this test (cassette, "
        "cassette_dir, record_mode, secrets, canonical_hosts, provenance)")
    _shard(config)  # a bad --heygen-shard is a usage error before anything runs
    mode = config.getini("heygen_record_mode")
    if mode not in RECORD_MODES:
        raise pytest.UsageError(f"heygen_record_mode must be one of {', '.join(RECORD_MODES)}; "
                                f"got {mode!r}")


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    value = config.getoption("--heygen-shard")
    if value is None:
        return None
    match = _SHARD.fullmatch(value)
    index, total = (int(match[1]), int(match[2])) if match else (0, 0)
    if not 1 <= index <= total:
        raise pytest.UsageError(f"--heygen-shard wants I/N with 1 <= I <= N (e.g. 2/4); "
                                f"got {value!r}")
    return index, total


def _wanted(case: Case, patterns: list[str]) -> bool:
    for pattern in patterns:
        targets = [case.id] if "/" in pattern else [case.contract, case.name]
        if any(fnmatch.fnmatchcase(t, pattern) for t in targets):
            return True
    return False


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """``--heygen-only`` and ``--heygen-shard``: deselect contract cases (other tests stay)."""
    patterns: list[str] = config.getoption("--heygen-only")
    shard = _shard(config)
    cases = [item for item in items if isinstance(item, ContractCase)]
    if not cases or not (patterns or shard):
        return
    keep = {id(c) for c in cases if not patterns or _wanted(c.case, patterns)}
    if shard is not None:
        index, total = shard
        # Round-robin over the sorted ids: every job computes the same split, slices differ in
        # size by one at most, and a case's slice depends only on the set of cases.
        ordered = sorted((c for c in cases if id(c) in keep), key=lambda c: c.case.id)
        keep = {id(c) for n, c in enumerate(ordered) if n % total == index - 1}
    deselected = [c for c in cases if id(c) not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) not in {id(d) for d in deselected}]


def _contracts_dir(config: pytest.Config) -> Path | None:
    value = config.getoption("--heygen-contracts") or config.getini("heygen_contracts")
    return (config.rootpath / value).resolve() if value else None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    directory = _contracts_dir(parent.config)
    if directory is None or file_path.suffix != ".yaml" or file_path.parent != directory:
        return None
    return ContractFile.from_parent(parent, path=file_path)


class ContractFile(pytest.File):
    """A contract YAML file: one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        from heygen_lab.contracts import load_contract

        contract = load_contract(self.path)
        for case in contract.cases:
            yield ContractCase.from_parent(self, name=case.name, case=case)


class ContractDrift(Exception):
    """The observed behaviour differs from the pin."""


class ContractCase(pytest.Item):
    """One contract case, run in the session's mode."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.user_properties.append(("provenance", case.provenance["kind"]))

    def runtest(self) -> None:
        from heygen_lab.contracts import closing_target, make_target
        from heygen_lab.contracts.runner import run_case, skip_reason
        from heygen_lab.settings import Settings

        config = self.config
        mode = config.getoption("--heygen-mode") or config.getini("heygen_mode")
        plan = config.getoption("--heygen-plan")
        contracts_dir = self.path.parent
        reason = skip_reason(self.case, mode=mode, plan=plan,
                             allow_billed=config.getoption("--heygen-allow-billed"))
        if reason:
            pytest.skip(reason)
        settings = Settings.resolve() if mode == "live" else None  # blank key = no key
        if settings is not None and settings.api_key is None:
            pytest.skip("live mode needs HEYGEN_API_KEY")
        value = config.getoption("--heygen-cassettes") or config.getini("heygen_cassettes")
        cassettes = (config.rootpath / value) if value else contracts_dir.parent / "cassettes"
        target, _ = make_target(mode, plan=plan, cassette_dir=cassettes.resolve(),
                                settings=settings)
        guard: AbstractContextManager[object] = nullcontext()
        if mode == "replay":
            from heygen_lab.cassettes.network import block_network

            guard = block_network(f"run with --heygen-mode emulator, or re-record the cassette "
                                  f"with 'heygen-lab record --only {self.case.id}'")
        with closing_target(target), guard:
            result = run_case(self.case, target, contracts_dir)
        if result.verdict == "skip":
            pytest.skip(result.reason)
        if result.verdict != "pass":
            raise ContractDrift(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ContractDrift):
            result: CaseResult = excinfo.value.args[0]
            return result.explain()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"contract {self.case.id}"


@pytest.fixture(scope="session")
def heygen_emulator_options() -> dict[str, Any]:
    """Keyword arguments of the session's :class:`~heygen_lab.emulator.Emulator` (default: none,
    i.e. plan ``pro``, the demo key, free loopback ports). Override it in a ``conftest.py``,
    session-scoped, to configure ``heygen_emulator``."""
    return {}


class _SessionEmulator:
    """The session's emulator: started on first use, reset for each later test, replaced if a
    test stopped it."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.emulator: Emulator | None = None

    def get(self) -> Emulator:
        from heygen_lab.emulator import Emulator

        emu = self.emulator
        if emu is not None and not emu._stopped:
            emu.reset()
            return emu
        self.emulator = Emulator(**self.options).start()
        return self.emulator

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()


@pytest.fixture(scope="session")
def _heygen_session_emulator(heygen_emulator_options: dict[str, Any]
                             ) -> Iterator[_SessionEmulator]:
    shared = _SessionEmulator(dict(heygen_emulator_options))
    yield shared
    shared.close()


@pytest.fixture
def heygen_emulator(request: pytest.FixtureRequest,
                    heygen_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """An emulator on loopback, shared by the session (each xdist worker has its own) and reset
    before each test, so tests stay independent without a start and stop each; errors in its
    handlers fail the test. ``@pytest.mark.heygen_emulator(**options)`` gives a test a fresh one
    of its own, with ``heygen_emulator_options`` updated by ``options``."""
    marker = request.node.get_closest_marker(EMULATOR_MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{EMULATOR_MARKER} takes keyword arguments "
                                    "(Emulator's options) only")
        from heygen_lab.emulator import Emulator

        with Emulator(**{**heygen_emulator_options, **marker.kwargs}) as own:
            yield own
        return
    shared: _SessionEmulator = request.getfixturevalue("_heygen_session_emulator")
    emu = shared.get()
    emu.check()  # errors of an earlier test were reported there: start clean
    yield emu
    emu.check()


@pytest.fixture
def heygen_client(heygen_emulator: Emulator) -> Iterator[HeyGenClient]:
    """A client pointed at :func:`heygen_emulator` with its demo key."""
    with heygen_emulator.client() as client:
        yield client


@pytest.fixture
def heygen_emulated_options() -> dict[str, Any]:
    """The :func:`heygen_lab.emulate` options of :func:`heygen_emulated`; override to change."""
    return {"strict": True}


@pytest.fixture
def heygen_emulated(request: pytest.FixtureRequest,
                    heygen_emulated_options: dict[str, Any]) -> Iterator[Emulation]:
    """HeyGen's hosts answered in process for the test (strict by default); yields the emulation.

    Options: ``heygen_emulated_options``, then the ``heygen_emulate`` marker's keywords.
    """
    from heygen_lab.emulation import emulate

    marker = request.node.get_closest_marker(EMULATE_MARKER)
    options = {"strict": True, **heygen_emulated_options, **(marker.kwargs if marker else {})}
    with emulate(**options) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _heygen_emulate_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.heygen_emulate(...)`` on a test: the same as asking for heygen_emulated."""
    if request.node.get_closest_marker(EMULATE_MARKER) is not None:
        request.getfixturevalue("heygen_emulated")


@pytest.fixture
def heygen_vcr_options() -> dict[str, Any]:
    """Options of :func:`heygen_vcr` (override in a ``conftest.py``, any scope):

    - ``cassette_dir``: where ``<module>/<test>.yaml`` go (default ``cassettes`` beside the test
      file; a relative path is taken from the test file's directory);
    - ``cassette``: the cassette's name under ``cassette_dir`` instead of ``<module>/<test>``;
    - ``record_mode``: the default when ``--heygen-record-mode`` is not given;
    - ``secrets``, ``canonical_hosts``, ``provenance``: as :func:`heygen_lab.cassettes.make_vcr`.
    """
    return {}


@pytest.fixture
def heygen_vcr(request: pytest.FixtureRequest, heygen_vcr_options: dict[str, Any]) -> Iterator[Any]:
    """Record and replay this test's HeyGen calls in ``cassettes/<module>/<test>.yaml`` beside
    the test (fingerprinted bodies, the boundary-blind ``heygen_body`` matcher, the secret gate
    before writing, atomic writes); yields vcrpy's ``Cassette``.

    In record mode ``none`` (the default) nothing is recorded and the network is blocked at the
    socket level; a request the cassette lacks fails the test with the closest recorded requests
    and the fields that differ, even when the test catches the error (clear the cassette's
    ``heygen_unmatched`` list when that is what the test expects). A test that fails records
    nothing.
    """
    from heygen_lab.cassettes.vcr_fixture import cassette_name, use_test_cassette

    marker = request.node.get_closest_marker(VCR_MARKER)
    options = {**heygen_vcr_options, **(marker.kwargs if marker else {})}
    config = request.config
    default_mode = options.pop("record_mode", None) or config.getini("heygen_record_mode")
    mode = config.getoption("--heygen-record-mode") or default_mode
    here = request.node.path.parent
    cassette_dir = here / Path(options.pop("cassette_dir", None) or "cassettes")
    test = request.node.name
    if request.cls is not None:
        test = f"{request.cls.__name__}.{test}"
    name = options.pop("cassette", None) or cassette_name(request.node.path.stem, test)
    request.node.stash[_VCR_IN_USE] = True
    try:
        with use_test_cassette(cassette_dir, name, record_mode=mode, **options) as cassette:
            yield cassette
            if request.node.stash.get(_CALL_FAILED, False):
                raise _NotRecorded  # vcrpy saves nothing when its block ends in an exception
            unmatched = cassette.heygen_unmatched
    except _NotRecorded:
        return
    if unmatched:  # the test caught the error: fail it anyway
        pytest.fail(f"{len(unmatched)} request(s) not in the cassette; the first:\n"
                    f"{unmatched[0]}", pytrace=False)


class _NotRecorded(Exception):
    """Ends the cassette's block without saving (the test failed)."""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and item.stash.get(_VCR_IN_USE, False):
        item.stash[_CALL_FAILED] = report.failed
    return report
