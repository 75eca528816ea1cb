"""PlanCheckWidget: run the contracts, watch a colour-coded table fill in, read, export, compare.

Its buttons call :meth:`PlanCheckWidget.run`, :meth:`PlanCheckWidget.export` and
:meth:`PlanCheckWidget.compare`, which call :func:`heygen_lab.contracts.run_check`,
:meth:`Report.to_json` / :meth:`Report.to_markdown` and :func:`compare_reports`: the functions
``heygen-lab check`` uses. The table is built by :func:`results_table`, a plain function.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from heygen_lab.contracts import (
    CaseResult,
    Report,
    compare_reports,
    default_dir,
    load_contracts,
    load_report,
    report_paths,
    run_check,
    write_report,
)
from heygen_lab.contracts.report import expected_summary, observed_summary, verdict_text
from heygen_lab.emulator import PLANS
from heygen_lab.errors import ConfigurationError, HeyGenError
from heygen_lab.settings import Settings
from heygen_lab.widgets._common import (
    View,
    append_html,
    clear,
    esc,
    no_null_tooltips,
    redact,
    widgets,
)

__all__ = [
    "MODES",
    "VERDICT_COLOURS",
    "PlanCheckWidget",
    "counts_line",
    "report_paths",
    "results_table",
]

MODES = ("emulator", "replay", "live")

VERDICT_COLOURS: Mapping[str, tuple[str, str]] = {
    "pass": ("#e8f5e9", "#1b5e20"),   # green
    "drift": ("#ffebee", "#b71c1c"),  # red
    "retired": ("#ede7f6", "#4527a0"),  # purple: the legacy endpoint is past its end of life
    "skip": ("#f0f0f0", "#616161"),   # grey
    "error": ("#fff3e0", "#e65100"),  # orange
}
"""Verdict -> (row background, verdict text colour)."""


def counts_line(results: Sequence[CaseResult]) -> str:
    """``"37 cases: 36 pass, 1 drift"``, verdicts in a fixed order."""
    counts: Counter[str] = Counter(r.verdict for r in results)
    parts = [f"{counts[v]} {v}" for v in VERDICT_COLOURS if counts[v]]
    noun = "case" if len(results) == 1 else "cases"
    return f"{len(results)} {noun}" + (": " + ", ".join(parts) if parts else "")


def results_table(results: Sequence[CaseResult]) -> str:
    """One HTML row per case: id, verdict (colour-coded), expected, observed, provenance."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                   for h in ("case", "verdict", "expected", "observed", "provenance"))
    rows = []
    for r in results:
        background, colour = VERDICT_COLOURS.get(r.verdict, ("#ffffff", "#000000"))
        observed = r.reason if r.verdict in {"skip", "error"} and not r.steps else (
            observed_summary(r))
        cells = [f"<code>{esc(r.case.id)}</code>",
                 f"<b style='color:{colour}'>{esc(verdict_text(r))}</b>",
                 esc(expected_summary(r)), esc(observed), esc(r.case.provenance.get("kind", ""))]
        rows.append(f"<tr class='verdict-{esc(r.verdict)}' style='background:{background}'>"
                    + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in cells) + "</tr>")
    return ("<table class='heygen-plan-check' style='border-collapse:collapse'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _pre(text: str) -> str:
    return f"<pre style='white-space:pre-wrap;margin:4px 0'>{esc(text)}</pre>"


class PlanCheckWidget(View):
    """Check that a plan (emulator profile, cassettes, or your key) behaves as the contracts pin.

    ``only`` limits the run to some cases (``contract/case``, ``contract`` or ``case`` ids).
    ``emulator_options`` go to each case's emulator in emulator mode (``payload_overrides``,
    ``faults``...). Live mode reads ``HEYGEN_API_KEY`` from the environment, as the CLI does.
    """

    def __init__(self, mode: str = "emulator", plan: str = "pro", *, only: Iterable[str] = (),
                 contracts_dir: str | os.PathLike[str] | None = None,
                 cassette_dir: str | os.PathLike[str] | None = None,
                 emulator_options: Mapping[str, Any] | None = None,
                 report_path: str = "plan-report.json", baseline_path: str = "") -> None:
        if mode not in MODES:
            raise ConfigurationError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if plan not in PLANS:
            raise ConfigurationError(f"plan must be one of {', '.join(PLANS)}; got {plan!r}")
        self.contracts_dir = Path(contracts_dir) if contracts_dir else None
        self.cassette_dir = Path(cassette_dir) if cassette_dir else None
        self.emulator_options = dict(emulator_options or {})
        self.report: Report | None = None
        self.results: list[CaseResult] = []
        self.changes: list[str] | None = None
        self.error: BaseException | None = None
        """The last failure of run, export or compare (also shown in ``output``)."""

        self.mode = widgets.ToggleButtons(
            options=list(MODES), value=mode, description="Mode",
            tooltips=["an embedded emulator per case", "recorded cassettes, network blocked",
                      "api.heygen.com with HEYGEN_API_KEY"])
        self.plan = widgets.Dropdown(options=list(PLANS), value=plan, description="Plan")
        self.only = widgets.Text(value=", ".join(only), description="Only",
                                 placeholder="all cases, or e.g. upload-v1, upload-v3/ok-jpeg")
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Cases")
        self.status = widgets.Label(value="")
        self.summary = widgets.HTML(value="")
        self.table = widgets.HTML(value="")
        self.case_select = widgets.Dropdown(options=[], description="Case",
                                            layout=widgets.Layout(width="60%"))
        self.explanation = widgets.HTML(value="")
        self.report_path = widgets.Text(value=report_path, description="Report",
                                        placeholder="plan-report.json (the .md goes beside it)")
        self.export_button = widgets.Button(description="Export JSON + Markdown", icon="save",
                                            layout=widgets.Layout(width="auto"))
        self.baseline_path = widgets.Text(value=baseline_path, description="Baseline",
                                          placeholder="an earlier plan-report.json")
        self.compare_button = widgets.Button(description="Compare", icon="exchange")
        self.output = widgets.Output()

        self.run_button.on_click(lambda _b: self.run())
        self.export_button.on_click(lambda _b: self.export(self.report_path.value))
        self.compare_button.on_click(lambda _b: self.compare(self.baseline_path.value))
        self.case_select.observe(lambda _c: self.show_case(self.case_select.value), names="value")
        self.mode.observe(lambda _c: self._follow_mode(), names="value")
        self._follow_mode()
        self.view = widgets.VBox([
            widgets.HBox([self.mode, self.plan]), self.only,
            widgets.HBox([self.run_button, self.progress, self.status]),
            self.summary, self.table, self.case_select, self.explanation,
            widgets.HBox([self.report_path, self.export_button]),
            widgets.HBox([self.baseline_path, self.compare_button]), self.output,
        ])
        no_null_tooltips(self.view)

    def __repr__(self) -> str:
        return f"PlanCheckWidget(mode={self.mode.value!r}, plan={self.plan.value!r})"

    # ------------------------------------------------------------------ what the buttons do
    def run(self) -> Report | None:
        """Run the selected cases; the table and the progress bar follow each result."""
        clear(self.output)
        self.error, self.report, self.changes, self.results = None, None, None, []
        self.table.value = self.summary.value = self.explanation.value = ""
        self.case_select.options = []
        self.progress.bar_style = ""
        mode = self.mode.value
        only = self._only()
        try:
            if mode == "live" and Settings.resolve().api_key is None:
                raise ConfigurationError(
                    "live mode needs HEYGEN_API_KEY, set before starting Jupyter; without a key "
                    "pick 'emulator' or 'replay' as the mode above")
            contracts = load_contracts(self.contracts_dir or default_dir("contracts"), only)
            self.progress.max = max(1, sum(len(c.cases) for c in contracts))
            self.progress.value = 0
            self.status.value = f"running {self.progress.max} case(s) in {mode} mode..."
            report = run_check(
                mode=mode, plan=None if mode == "replay" else self.plan.value, only=only,
                contracts_dir=self.contracts_dir, cassette_dir=self.cassette_dir,
                emulator_options=self.emulator_options if mode == "emulator" else None,
                on_result=self._on_result)
        except Exception as exc:  # shown, kept in .error
            self.progress.bar_style = "danger"
            self._fail("the check did not run", exc)
            return None
        self.report = report
        drifted = [r.case.id for r in report.drifted]
        self.progress.bar_style = ("danger" if drifted else "warning" if report.retired
                                   else "success")
        self.status.value = "done"
        self.summary.value = f"<b>{esc(counts_line(report.results))}</b> ({esc(report.target)})"
        retired = report.retired_lines()
        if retired:
            items = "".join(f"<li>{esc(line)}</li>" for line in retired)
            colour = VERDICT_COLOURS["retired"][1]
            self.summary.value += (f"<div style='color:{colour}'><b>{len(retired)} retired</b>: "
                                   "v1/v2 endpoints past the end of life HeyGen announced"
                                   f"<ul>{items}</ul></div>")
        self.case_select.options = [(f"{r.verdict:<5}  {r.case.id}", r.case.id)
                                    for r in report.results]
        if report.results:
            self.case_select.value = drifted[0] if drifted else report.results[0].case.id
        return report

    def show_case(self, case_id: str | None) -> str:
        """Show one case's expected vs observed (``CaseResult.explain``); returns the text."""
        result = next((r for r in self.results if r.case.id == case_id), None)
        text = "" if result is None else redact(result.explain())
        self.explanation.value = _pre(text) if text else ""
        return text

    def _ready(self, path: str | os.PathLike[str], action: str, done: str, missing_path: str
               ) -> Report | None:
        """Clear the output; the report to act on, or None after saying why there is none."""
        clear(self.output)
        self.error = None
        if self.report is None:
            self._fail(f"nothing to {action}", HeyGenError("run the check first"))
        elif not str(path).strip():
            self._fail(f"nothing {done}", HeyGenError(missing_path))
        else:
            return self.report
        return None

    def export(self, path: str | os.PathLike[str]) -> tuple[Path, Path] | None:
        """Write the report as JSON and Markdown; refused (SecretLeak) if either holds the key."""
        report = self._ready(path, "export", "exported", "type a report path first")
        if report is None:
            return None
        try:
            json_path, md_path = write_report(report, path, self.changes)
        except (HeyGenError, OSError) as exc:
            self._fail("the report was not written", exc)
            return None
        append_html(self.output, f"Wrote <code>{esc(json_path)}</code> and "
                                 f"<code>{esc(md_path)}</code>",
                    f"wrote {json_path} and {md_path}")
        return json_path, md_path

    def compare(self, path: str | os.PathLike[str]) -> list[str] | None:
        """Compare this run with a baseline report; one line per case whose behaviour moved."""
        report = self._ready(path, "compare", "compared", "type a baseline report path")
        if report is None:
            return None
        try:
            baseline = load_report(Path(path))
        except HeyGenError as exc:
            self._fail("the baseline was not read", exc)
            return None
        changes = compare_reports(baseline, report.to_dict())
        self.changes = changes
        lines = changes or ["no behaviour changed since the baseline"]
        title = f"Compared with {path}:"
        items = "".join(f"<li><code>{esc(line)}</code></li>" for line in lines)
        append_html(self.output, f"<b>{esc(title)}</b><ul>{items}</ul>",
                    "\n".join([title, *(f"  {line}" for line in lines)]))
        return changes

    # ------------------------------------------------------------------ internals
    def _only(self) -> list[str]:
        return [p.strip() for p in self.only.value.replace(",", " ").split() if p.strip()]

    def _follow_mode(self) -> None:
        """Replay plays the cassettes as recorded, whatever the plan: the plan is off there."""
        replay = self.mode.value == "replay"
        self.plan.disabled = replay

    def _on_result(self, result: CaseResult) -> None:
        self.results.append(result)
        self.progress.value = min(self.progress.max, len(self.results))
        self.status.value = (f"{len(self.results)}/{self.progress.max}: {result.case.id} "
                             f"{result.verdict}")
        self.table.value = redact(results_table(self.results))

    def _fail(self, what: str, exc: BaseException) -> None:
        self.error = exc
        message = redact(f"{what}: {exc}")
        self.status.value = what
        append_html(self.output, f"<b style='color:{VERDICT_COLOURS['drift'][1]}'>"
                                 f"{esc(what)}</b>: {esc(redact(str(exc)))}", message)
