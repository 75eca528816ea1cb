"""The suite's own xdist scheduler (``tests/conftest.py``), run as the suite runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
pytest_plugins = ["pytester"]
QUICK = ("-n", "2", "-p", "no:nbval", "-p", "no:hypothesispytest", "-p", "no:anyio")


def test_a_group_stays_on_one_worker_in_order_and_a_crash_is_reported_once(
        pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(CONFTEST.read_text())
    log = pytester.path / "order.log"
    record = f"""
import os


def _record(name):
    with open({str(log)!r}, "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + " " + name + "\\n")
"""
    tests = pytester.mkpydir("tests")
    # The browser module's tests share one page: they must run on one worker, in file order.
    (tests / "test_browser.py").write_text(record + "".join(
        f"def test_{n:02}():\n    _record('browser {n:02}')\n" for n in range(12)))
    (tests / "test_alpha.py").write_text(record + "".join(  # collected before test_browser
        f"def test_{n:03}():\n    _record('many {n:03}')\n" for n in range(120)))
    (tests / "test_crash.py").write_text("import os\ndef test_crash():\n    os._exit(3)\n")

    # In a process of its own, with a time limit: the scheduler this replaced hung here.
    result = pytester.runpytest_subprocess(*QUICK, timeout=120)

    result.assert_outcomes(passed=132, failed=1)  # not once per worker that took its place
    result.stdout.fnmatch_lines(["*test_crash.py::test_crash*crashed*"])
    lines = [line.split() for line in log.read_text().splitlines()]
    browser = [(worker, n) for worker, group, n in lines if group == "browser"]
    assert len({worker for worker, _ in browser}) == 1
    assert [n for _, n in browser] == [f"{n:02}" for n in range(12)]
    many = sorted(n for _, group, n in lines if group == "many")
    assert many == [f"{n:03}" for n in range(120)], "every other test ran, once"
