"""pytest plugin: contract cases as test items, and emulator fixtures.

Registered through the ``pytest11`` entry point; cheap to import and inert until a project
names its contract directory (``--heygen-contracts DIR`` or the ini option
``heygen_contracts``). Then every case in ``DIR/*.yaml`` is a test item, run in
``--heygen-mode replay`` (default: cassettes, no network, no key), ``emulator`` or ``live``
(``HEYGEN_API_KEY``; cases that spend credits or change the account are skipped unless
``--heygen-allow-billed``). A failing case prints expected vs observed field by field.

For tests of your own code: the ``heygen_emulated`` fixture (or the marker
``@pytest.mark.heygen_emulate(**options)``) answers HeyGen's hosts in process for the test, strict
by default (:func:`heygen_lab.emulate`); override the ``heygen_emulated_options`` fixture to
change the defaults for a module or a whole suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from heygen_lab.client import HeyGenClient
    from heygen_lab.contracts import Case, CaseResult
    from heygen_lab.emulation import Emulation
    from heygen_lab.emulator import Emulator

EMULATE_MARKER = "heygen_emulate"


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
    parser.addini("heygen_contracts", "contract directory to collect", default="")
    parser.addini("heygen_cassettes", "cassette directory for replay", default="")
    parser.addini("heygen_mode", "default mode: replay, emulator or live", default="replay")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{EMULATE_MARKER}(**options): answer HeyGen's hosts in process for this test "
        "(heygen_lab.emulate; strict unless strict=False)")


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
        from heygen_lab.contracts import make_target
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


@pytest.fixture
def heygen_emulator() -> Iterator[Emulator]:
    """A fresh emulator on loopback (plan ``pro``); its server errors fail the test."""
    from heygen_lab.emulator import Emulator

    with Emulator() as emu:
        yield emu


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
