"""Cassette lint: orphaned, missing, stale, oversized, secret-bearing, unsafe, unreadable files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from heygen_lab._yaml import YAMLInputError
from heygen_lab._yaml import load as load_yaml
from heygen_lab.cassettes.gate import known_secrets, scan_for_secrets

Kind = Literal["orphaned", "missing", "stale", "oversized", "secret", "unsafe-yaml", "unreadable"]


@dataclass(frozen=True)
class Finding:
    """One problem with one cassette (``path`` is where the cassette is, or should be)."""

    path: str
    kind: Kind
    message: str


def _recorded_at(data: Any) -> datetime | None:
    meta = data.get("metadata") if isinstance(data, dict) else None
    prov = meta.get("provenance") if isinstance(meta, dict) else None
    value = prov.get("recorded_at") if isinstance(prov, dict) else None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lint_file(path: Path, *, max_age_days: float | None, max_bytes: int,
               secrets: tuple[str, ...], now: datetime) -> list[Finding]:
    where = str(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(where, "unreadable", f"cannot read as UTF-8 text: {type(exc).__name__}")]
    found: list[Finding] = []
    if len(raw) > max_bytes:
        found.append(Finding(where, "oversized", f"{len(raw)} bytes, over the {max_bytes} limit; "
                             "record upload bodies as fingerprints, not bytes"))
    forms = scan_for_secrets(raw, secrets)
    if forms:
        found.append(Finding(where, "secret", f"contains the API key ({', '.join(forms)} form)"))
    if "!!python/" in text or "tag:yaml.org,2002:python/" in text:
        found.append(Finding(where, "unsafe-yaml", "uses a Python-only YAML tag (!!python/...)"))
        return found
    try:
        data = load_yaml(text, where)
    except YAMLInputError as exc:
        found.append(Finding(where, "unsafe-yaml", f"the safe YAML loader refuses it: {exc}"))
        return found
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        found.append(Finding(where, "unreadable", "not a vcrpy cassette (no interactions list)"))
        return found
    if max_age_days is not None:
        recorded = _recorded_at(data)
        if recorded is None:
            found.append(Finding(where, "stale", "no metadata.provenance.recorded_at"))
        elif (age := (now - recorded).total_seconds() / 86400) > max_age_days:
            found.append(Finding(where, "stale", f"recorded {recorded.date().isoformat()}, "
                                 f"{age:.0f} days ago (limit {max_age_days:g})"))
    return found


def lint(
    cassette_dir: Path,
    *,
    known_cases: Iterable[str] | None = None,
    max_age_days: float | None = 90,
    max_bytes: int = 256_000,
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> list[Finding]:
    """Check every ``<contract>/<case>.yaml`` under ``cassette_dir``.

    ``known_cases`` are "contract/case" ids: a cassette that is not one is orphaned, one without
    a cassette is missing (skipped when None). ``max_age_days=None`` turns staleness off.
    """
    root = Path(cassette_dir)
    moment = now or datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    keys = known_secrets(secrets)
    known = None if known_cases is None else set(known_cases)
    findings: list[Finding] = []
    seen: set[str] = set()
    files = sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
    for path in files:
        case = path.relative_to(root).with_suffix("").as_posix()
        seen.add(case)
        if known is not None and case not in known:
            findings.append(Finding(str(path), "orphaned", f"no contract case {case!r}"))
        findings += _lint_file(path, max_age_days=max_age_days, max_bytes=max_bytes,
                               secrets=keys, now=moment)
    for case in sorted((known or set()) - seen):
        findings.append(Finding(str(root / f"{case}.yaml"), "missing",
                                f"case {case!r} has no cassette; record it"))
    return findings
