"""The suite's retry of a kernel start (``tests/_support.py``; ``tests/conftest.py`` puts it
under nbval): a kernel that died before it was ready (a port it was handed got taken) is started
again; any other failure is not."""

from __future__ import annotations

from typing import Any

import nbval.kernel
import pytest
from _support import KERNEL_DIED, retry_kernel_start


def _starter(*failures: str) -> tuple[list[dict[str, Any]], Any]:
    """A stand-in for nbval's start: raises RuntimeError with each of ``failures`` in turn, then
    returns "started"; records the keyword arguments of every call."""
    calls: list[dict[str, Any]] = []

    def start(**kwargs: Any) -> str:
        calls.append(kwargs)
        if len(calls) <= len(failures):
            raise RuntimeError(failures[len(calls) - 1])
        return "started"

    return calls, start


def test_a_kernel_that_died_is_started_again_with_the_same_arguments() -> None:
    calls, start = _starter(KERNEL_DIED)
    assert retry_kernel_start(start)(kernel_name="python3", cwd="/nb") == "started"
    assert calls == [{"kernel_name": "python3", "cwd": "/nb"}] * 2


def test_it_gives_up_after_three_deaths() -> None:
    calls, start = _starter(KERNEL_DIED, KERNEL_DIED, KERNEL_DIED)
    with pytest.raises(RuntimeError, match=KERNEL_DIED):
        retry_kernel_start(start)()
    assert len(calls) == 3


def test_a_kernel_that_does_not_answer_in_time_is_not_started_again() -> None:
    calls, start = _starter("Kernel didn't respond in 60 seconds")
    with pytest.raises(RuntimeError, match="didn't respond"):
        retry_kernel_start(start)()
    assert len(calls) == 1


def test_nbval_starts_its_kernels_through_the_retry() -> None:
    """What nbval's RunningKernel calls, in this session, is the wrapped start."""
    start = nbval.kernel.start_new_kernel
    assert start.__code__.co_name == "start_again_if_it_died"
    assert start.__wrapped__.__module__ == "nbval.kernel"  # type: ignore[attr-defined]
