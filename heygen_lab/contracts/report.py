"""The plan report: every case's verdict, what was observed, and how it compares with a baseline.

Written as JSON (for machines and for ``--baseline``) and Markdown (for people). Two reports of
the same key a month apart answer "did my plan's behaviour change?": :func:`compare_reports`
lists every case whose observed status, code or message moved, and says which legacy cases were
retired since the baseline. A retired case (its v1/v2 endpoint answers as removed after the end
of life HeyGen announced) is a verdict of its own, counted in the headline, never drift.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heygen_lab.contracts.runner import CaseResult
from heygen_lab.envelopes import decode_body
from heygen_lab.routes import route

REPORT_VERSION = 1


@dataclass
class Report:
    """The outcome of one check run."""

    mode: str
    target: str
    plan: str | None
    results: list[CaseResult]
    created_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.verdict for r in self.results)

    @property
    def summary(self) -> str:
        """``"3 drift, 35 pass"``."""
        return ", ".join(f"{n} {v}" for v, n in sorted(self.counts.items()))

    @property
    def drifted(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict in {"drift", "error"}]

    @property
    def retired(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict == "retired"]

    @property
    def headline(self) -> str:
        """The summary, and whether cases hit legacy endpoints past their announced end."""
        dates = sorted({s.date.isoformat() for r in self.retired if (s := r.sunset) is not None})
        if not self.retired:
            return self.summary
        return (f"{self.summary}; {len(self.retired)} retired: their v1/v2 endpoints are past "
                f"the end of life HeyGen announced ({', '.join(dates)})")

    def retired_lines(self) -> list[str]:
        """One line per retired endpoint: since when, which cases, and what replaces it."""
        by_route: dict[str, list[CaseResult]] = {}
        for r in self.retired:
            by_route.setdefault(r.steps[-1].route, []).append(r)
        lines = []
        for route_id, results in by_route.items():
            gone, sunset = route(route_id), results[0].sunset
            ids = ", ".join(r.case.id for r in results)
            lines.append(f"{gone.method} {gone.path} retired (announced "
                         f"{sunset.label if sunset else '?'}); use {gone.successor}; "
                         f"cases: {ids}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION, "tool": "heygen-lab", "created_at": self.created_at,
            "mode": self.mode, "target": self.target, "plan": self.plan,
            "summary": dict(sorted(self.counts.items())), "headline": self.headline,
            "cases": [_case_dict(r) for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str) + "\n"

    def to_markdown(self, baseline_changes: list[str] | None = None,
                    baseline_news: list[str] | None = None) -> str:
        lines = [f"# heygen-lab plan report ({self.mode})", "",
                 f"- target: {self.target}", f"- plan: {self.plan or 'as the key has it'}",
                 f"- created: {self.created_at}", f"- result: {self.headline}", "",
                 "| case | verdict | expected | observed | provenance |",
                 "|---|---|---|---|---|"]
        for r in self.results:
            cells = [f"`{r.case.id}`", verdict_text(r), expected_summary(r), observed_summary(r),
                     _provenance(r)]
            lines.append("| " + " | ".join(cells) + " |")
        retired = self.retired_lines()
        if retired:
            sunsets = {s for r in self.retired if (s := r.sunset) is not None}
            lines += ["", "## Retired (past the announced end of life)", ""]
            lines += [f"- {line}" for line in retired]
            lines += [f"- announced by: {', '.join(s.sources)}" for s in sunsets]
        drifted = self.drifted
        if drifted:
            lines += ["", "## What differs", ""]
            for r in drifted:
                lines += ["```", r.explain(), "```", ""]
        if baseline_changes is not None:
            lines += ["", "## Compared with the baseline", ""]
            lines += [f"- {c}" for c in baseline_changes] or ["- no behaviour changed"]
        if baseline_news:
            lines += ["", "## New or not run since the baseline (not changes)", ""]
            lines += [f"- {n}" for n in baseline_news]
        return "\n".join(lines) + "\n"


def verdict_text(r: CaseResult) -> str:
    """``pass``, ``drift``... and ``retired (announced 2026-10-31)``."""
    return f"retired ({r.reason})" if r.verdict == "retired" else r.verdict


def _case_dict(r: CaseResult) -> dict[str, Any]:
    return {
        "id": r.case.id, "summary": r.case.summary, "verdict": r.verdict, "reason": r.reason,
        "sunset": dict(r.case.sunset) if r.case.sunset else None,
        "provenance": dict(r.case.provenance), "billed": r.case.billed,
        "mutates": r.case.mutates, "plan": r.case.plan,
        "expected": [{"status": s.expect["status"], "body": s.expect.get("body")}
                     for s in r.case.steps],
        "observed": [s.to_dict() for s in r.steps],
    }


def expected_summary(r: CaseResult) -> str:
    """The pinned status, code and message of the step the case ended on."""
    step = r.case.steps[min(len(r.steps), len(r.case.steps)) - 1] if r.steps else r.case.steps[-1]
    return _signature(step.expect["status"], _placeholders(step.expect.get("body")))


def _placeholders(value: Any) -> Any:
    """Operators shown as what they accept: ``<string>``, ``/regex/``, ``<any>``."""
    if isinstance(value, dict):
        if "$pattern" in value:
            return f"/{value['$pattern']}/"
        if "$type" in value:
            return f"<{value['$type']}>"
        if "$any" in value or "$absent" in value:
            return "<any>" if "$any" in value else "<absent>"
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def observed_summary(r: CaseResult) -> str:
    """The observed status, code and message of the step the case ended on."""
    if not r.steps:
        return r.reason or "-"
    last = r.steps[-1]
    if last.error:
        return "no response"
    return _signature(last.status, last.body)


def _signature(status: Any, body: Any) -> str:
    if not isinstance(status, int):
        return "-"
    record = decode_body(status, body if isinstance(body, dict) else None).error
    if record is None or record.code is None:
        return str(status)
    message = record.message if isinstance(record.message, str) else ""
    if len(message) > 32:
        message = message[:29] + "..."
    return f"{status} {record.code}" + (f" '{message}'" if message else "")


def _provenance(r: CaseResult) -> str:
    p = r.case.provenance
    return p["kind"] + (f" {p['date']}" if p.get("date") else "")


def observed_signatures(report: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Per case id, each step's (status, code, message): what a baseline comparison looks at."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for case in report.get("cases", []):
        sigs = []
        for step in case.get("observed", []):
            status = step.get("status")
            body = step.get("body")
            record = (decode_body(status, body).error if isinstance(status, int) else None)
            sigs.append((status, record.code if record else None,
                         record.message if record else None, step.get("error") is not None))
        out[case["id"]] = sigs
    return out


def compare_reports(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every case whose observed behaviour differs between two reports, one line each; a case
    that is retired now and was not then says ``retired since last report``.

    Only cases observed in both reports can have changed: a case not run (or absent) last time
    and run now is news, not a change, and so is one run last time and not now; see
    :func:`baseline_news`."""
    old, new = observed_signatures(baseline), observed_signatures(current)
    was_retired, now = _retired(baseline), _retired(current)
    changes = []
    for case_id in sorted(set(old) & set(new)):
        if not old[case_id] or not new[case_id]:
            continue
        if case_id in now and case_id not in was_retired:
            changes.append(f"{case_id}: retired since last report ({now[case_id]}): was "
                           f"{_fmt(old[case_id])}, now {_fmt(new[case_id])}")
        elif old[case_id] != new[case_id]:
            changes.append(f"{case_id}: was {_fmt(old[case_id])}, now {_fmt(new[case_id])}")
    return changes


def baseline_news(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What is new or missing since the baseline without being a change of behaviour, one line
    each: cases run now that were not run (or not there) last time, ``new since last report``,
    and cases run last time that were not run now."""
    old, new = observed_signatures(baseline), observed_signatures(current)
    news = []
    for case_id in sorted(set(old) | set(new)):
        before, after = old.get(case_id), new.get(case_id)
        if after and not before:
            why = "not in the baseline" if before is None else "not run last time"
            news.append(f"{case_id}: new since last report ({why}); now {_fmt(after)}")
        elif before and not after:
            why = "not in this run" if after is None else "not run this time"
            news.append(f"{case_id}: {why} (was {_fmt(before)})")
    return news


def _retired(report: dict[str, Any]) -> dict[str, str]:
    """Per retired case id, its reason (``announced 2026-10-31``)."""
    return {c["id"]: str(c.get("reason") or "") for c in report.get("cases", [])
            if isinstance(c, dict) and c.get("verdict") == "retired"}


def _fmt(sigs: list[tuple[Any, ...]]) -> str:
    if not sigs:
        return "not run"
    status, code, message, error = sigs[-1]
    if error:
        return "no response"
    return " ".join(str(x) for x in (status, code, repr(message) if message else None) if x)


def report_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where a report goes: ``x.json`` and ``x.md`` for ``x.json``, ``x.md`` or ``x``."""
    p = Path(path)
    json_path = p.with_suffix(".json") if p.suffix.lower() in {".json", ".md", ""} else (
        p.with_name(p.name + ".json"))
    return json_path, json_path.with_suffix(".md")


def write_report(report: Report, path: str | os.PathLike[str],
                 changes: list[str] | None = None,
                 news: list[str] | None = None) -> tuple[Path, Path]:
    """Write the report as JSON and Markdown, atomically. Both texts pass the secret gate
    before either file is written, so a leak leaves nothing behind."""
    from heygen_lab.cassettes import atomic_write, gate

    json_path, md_path = report_paths(path)
    texts = {json_path: report.to_json(), md_path: report.to_markdown(changes, news)}
    for target, text in texts.items():
        gate(text, (), where=str(target))
    for target, text in texts.items():
        atomic_write(target, text)
    return json_path, md_path


def load_report(path: Path) -> dict[str, Any]:
    """Read a JSON report written by ``heygen-lab check --report``."""
    from heygen_lab.errors import HeyGenError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise HeyGenError(f"{path}: not a readable JSON report ({reason}); pass a file written "
                          "by 'heygen-lab check --report'") from None
    if not isinstance(data, dict) or data.get("tool") != "heygen-lab":
        raise HeyGenError(f"{path}: not a heygen-lab report (no 'tool: heygen-lab' field)")
    problem = _report_problem(data)
    if problem:
        raise HeyGenError(f"{path}: not a usable baseline ({problem}); pass a file written by "
                          "'heygen-lab check --report'")
    return data


def _report_problem(data: dict[str, Any]) -> str | None:
    """What keeps ``data`` from being compared as a baseline, or None."""
    cases = data.get("cases")
    if not isinstance(cases, list):
        return "no 'cases' list"
    seen: set[str] = set()
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("id"), str) or not case["id"]:
            return f"cases[{i}] has no 'id'"
        if case["id"] in seen:
            return f"case {case['id']!r} appears twice"
        seen.add(case["id"])
        observed = case.get("observed", [])
        if not isinstance(observed, list) or not all(isinstance(s, dict) for s in observed):
            return f"cases[{i}] ({case['id']}): 'observed' is not a list of steps"
        for step in observed:
            status = step.get("status")
            if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
                return f"cases[{i}] ({case['id']}): a step's status is not a number"
    return None
