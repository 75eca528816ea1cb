"""Shared fixtures: small, real media files and an emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Deterministic on a noisy 2-core machine: the same examples every run, no per-example deadline,
# no example database left behind.
settings.register_profile("heygen-lab", deadline=None, derandomize=True, database=None)
settings.load_profile("heygen-lab")

MEDIA = Path(__file__).resolve().parent.parent / "contracts" / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return MEDIA


@pytest.fixture
def jpeg(media_dir: Path) -> Path:
    return media_dir / "tiny.jpg"


@pytest.fixture
def png(media_dir: Path) -> Path:
    return media_dir / "tiny.png"


@pytest.fixture
def emulator() -> Iterator[object]:
    from heygen_lab.emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI fits its table to COLUMNS and colours it on request: the suite's expectations must
    not depend on the terminal it runs in (pytest-xdist's workers, for one, set COLUMNS)."""
    for name in ("COLUMNS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> object:
    from heygen_lab.emulator import ManualClock

    return ManualClock()


@pytest.fixture
def emu(clock: object) -> Iterator[object]:
    """An emulator on a manual clock (``clock.advance(seconds)``)."""
    from heygen_lab.emulator import Emulator

    with Emulator(clock=clock) as e:  # type: ignore[arg-type]
        yield e


def pytest_configure(config: pytest.Config) -> None:
    """The notebooks go live when HEYGEN_API_KEY is set; the test suite runs them offline
    (their committed outputs are the emulator's and the cassettes'), unless a live contract
    run was asked for."""
    import os

    mode = config.getoption("--heygen-mode", default=None)
    if mode != "live" and "HEYGEN_API_KEY" in os.environ:
        config.stash[_HIDDEN_KEY] = os.environ.pop("HEYGEN_API_KEY")
    if config.pluginmanager.hasplugin("nbval"):
        import nbval.kernel
        from _support import retry_kernel_start

        start = nbval.kernel.start_new_kernel
        nbval.kernel.start_new_kernel = retry_kernel_start(start)
        config.add_cleanup(lambda: setattr(nbval.kernel, "start_new_kernel", start))


def pytest_unconfigure(config: pytest.Config) -> None:
    import os

    key = config.stash.get(_HIDDEN_KEY, None)
    if key is not None:
        os.environ["HEYGEN_API_KEY"] = key


_HIDDEN_KEY = pytest.StashKey[str]()
_TOGETHER = {"tests/test_browser.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``pytest -n N`` (pytest-xdist, ``--dist load``): keep each notebook's cells on one worker,
    in order (nbval runs them in one kernel; spread across workers they fail with NameError),
    keep the browser tests on one worker (they share one JupyterLab, one browser and one page,
    started once), and spread everything else test by test. Another ``--dist`` is left as it
    is."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebooksTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") or path in _TOGETHER else nodeid

        def remove_node(self, node: Any) -> str | None:
            """A worker is done or crashed. xdist (3.8) puts the crashed test back in the queue
            with its scope, and the run hangs; it is reported once instead, as ``--dist load``
            does, and the rest of the worker's tests are queued again. (xdist's internals, hence
            ``pytest-xdist<4`` in ``[dev]``.)"""
            workload = self.assigned_work.pop(node)
            left = [(scope, nodeid) for scope, unit in workload.items()
                    for nodeid, done in unit.items() if not done]
            if not left:
                return None
            scope, crashed = left[0]
            workload[scope][crashed] = True
            self.workqueue.update((s, u) for s, u in workload.items() if not all(u.values()))
            for other in self.assigned_work:
                self._reschedule(other)
            return crashed

    return NotebooksTogether(config, log)
