"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import heygen_lab

EXPECTED = {
    "__version__", "HeyGenClient", "Asset", "Exchange", "VideoStatus", "Page", "VIAS", "Settings",
    "Media", "load_media", "Diagnosis", "Sent", "diagnose", "ErrorRecord", "RetryPolicy",
    "Emulator", "run_check", "HeyGenError", "ConfigurationError", "MediaError",
    "InvalidRequestError", "TransportError", "ConnectError", "ResponseLost", "RequestTimeout",
    "APIError", "BadRequestError",
    "AuthenticationError", "InsufficientCreditError", "PermissionDeniedError", "NotFoundError",
    "ConflictError", "PayloadTooLargeError", "RateLimitError", "ServerError", "emulate",
    "ContractViolation",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(heygen_lab.__all__) == EXPECTED
    for name in heygen_lab.__all__:
        assert getattr(heygen_lab, name) is not None


def _imported(statement: str) -> list[str]:
    """Which of the costly imports a fresh interpreter has after ``statement``."""
    code = (f"import sys; {statement}; "
            "print(sorted(m for m in ('requests', 'werkzeug', 'vcr', 'yaml', 'jsonschema') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout))


def test_plugin_import_is_cheap() -> None:
    assert _imported("import heygen_lab.pytest_plugin") == []


def test_the_cassettes_package_loads_each_part_when_it_is_used() -> None:
    import heygen_lab.cassettes as cassettes

    assert sorted(cassettes.__all__) == sorted(dir(cassettes))
    for name in cassettes.__all__:
        assert getattr(cassettes, name) is not None
    # The secret gate (the widgets' and the reports') does not bring vcrpy in, and is the
    # function even after its module was imported by name.
    assert "vcr" not in _imported("import heygen_lab.cassettes.gate, heygen_lab.cassettes.lint; "
                                  "from heygen_lab.cassettes import gate, lint; "
                                  "assert callable(gate) and callable(lint)")
    assert "vcr" in _imported("from heygen_lab.cassettes import make_vcr")


def test_each_widget_loads_what_it_needs_only() -> None:
    pytest.importorskip("ipywidgets")
    import heygen_lab.widgets as widgets

    assert sorted(widgets.__all__) == sorted(dir(widgets))
    for name in widgets.__all__:
        assert getattr(widgets, name) is not None
    assert _imported("from heygen_lab.widgets import UploadWidget") == ["requests", "yaml"]
    assert "vcr" not in _imported("from heygen_lab.widgets import PlanCheckWidget")
    assert "vcr" in _imported("from heygen_lab.widgets import CassetteBrowser")


def test_run_check_takes_directories_as_strings() -> None:
    from pathlib import Path

    from heygen_lab.contracts import run_check

    root = Path(__file__).resolve().parent.parent
    report = run_check(mode="replay", contracts_dir=str(root / "contracts"),
                       cassette_dir=str(root / "cassettes"), only=["upload-v1/raw-jpeg"])
    assert [r.verdict for r in report.results] == ["pass"]
