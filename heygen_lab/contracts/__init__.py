"""Contracts: pinned behaviour of HeyGen's endpoints, and the runner that checks it.

``run_check()`` is what ``heygen-lab check``, the pytest plugin and the notebook widget call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from heygen_lab._packaged import default_dir, is_packaged
from heygen_lab.contracts.match import Difference, compare
from heygen_lab.contracts.model import (
    CONTRACT_SCHEMA,
    Case,
    Contract,
    ContractError,
    load_contract,
    load_contracts,
)
from heygen_lab.contracts.report import (
    Report,
    compare_reports,
    load_report,
    report_paths,
    write_report,
)
from heygen_lab.contracts.runner import (
    CaseResult,
    Target,
    cassette_target,
    closing_target,
    emulator_target,
    live_target,
    run_case,
    select,
)
from heygen_lab.errors import ConfigurationError
from heygen_lab.settings import Settings

__all__ = [
    "CONTRACT_SCHEMA", "Case", "CaseResult", "Contract", "ContractError", "Difference", "Report",
    "closing_target", "compare", "compare_reports", "default_dir", "load_contract",
    "load_contracts", "load_report", "make_target", "report_paths", "run_check", "write_report",
]

def make_target(mode: str, *, plan: str | None = None, cassette_dir: Path | None = None,
                emulator_options: dict[str, Any] | None = None,
                settings: Settings | None = None) -> tuple[Target, str]:
    """What cases run against in ``mode``, and a phrase naming it for reports. Live mode takes
    the key and hosts from ``settings`` (default: resolved from the environment)."""
    if mode == "emulator":
        from heygen_lab.emulator.plans import resolve_plan

        try:
            resolve_plan(plan or "pro")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        return emulator_target(plan or "pro", **(emulator_options or {})), "embedded emulator"
    if mode == "live":
        resolved = settings or Settings.resolve()
        if resolved.api_key is None:
            raise ConfigurationError("live mode needs HEYGEN_API_KEY; without a key use "
                                     "--mode emulator or --mode replay")
        return live_target(resolved), "live HeyGen API"
    if mode == "replay":
        cassette_dir = cassette_dir or default_dir("cassettes")
        return cassette_target(cassette_dir), f"cassettes in {cassette_dir}"
    raise ConfigurationError(f"mode must be replay, emulator or live; got {mode!r}")


def run_check(
    *,
    mode: str = "emulator",
    contracts_dir: str | os.PathLike[str] | None = None,
    cassette_dir: str | os.PathLike[str] | None = None,
    plan: str | None = None,
    allow_billed: bool = False,
    only: Iterable[str] = (),
    record: str | None = None,
    emulator_options: dict[str, Any] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    settings: Settings | None = None,
    today: date | None = None,
) -> Report:
    """Run every selected case in ``mode`` (replay, emulator or live) and return the report.

    A legacy case whose endpoint answers as removed after its announced end of life (judged
    as of ``today``, default :func:`heygen_lab.routes.today`) is ``retired``, not drift.

    With ``record="emulator"`` or ``record="live"`` the cases run against that target while
    their cassettes are (re)written.
    """
    contracts_dir = Path(contracts_dir) if contracts_dir else default_dir("contracts")
    cassette_dir = Path(cassette_dir) if cassette_dir else default_dir("cassettes")
    if record is not None and is_packaged(cassette_dir):
        raise ConfigurationError(
            f"refusing to record into {cassette_dir}: those are the cassettes installed with "
            "heygen-lab (site-packages is not the place to write); pass --cassettes DIR to "
            "record into a directory of your own")
    contracts = load_contracts(contracts_dir, only)
    if record is not None:
        mode = record
    target, where = make_target(mode, plan=plan, cassette_dir=cassette_dir,
                                emulator_options=emulator_options, settings=settings)
    results = []
    with closing_target(target):  # the recording wrapper below holds nothing of its own
        if record is not None:
            recorded_at = datetime.now(UTC).date().isoformat()
            provenance = {"kind": record, "recorded_at": recorded_at, "tool": "heygen-lab"}
            target = cassette_target(cassette_dir, record_from=target, provenance=provenance)
            where = f"recording {where} into {cassette_dir}"
        for case, reason in select(contracts, mode=mode, plan=plan, allow_billed=allow_billed):
            result = (CaseResult(case, "skip", reason=reason) if reason
                      else run_case(case, target, contracts_dir, today))
            results.append(result)
            if on_result is not None:
                on_result(result)
    return Report(mode=mode, target=where, plan=plan, results=results)
