"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import subprocess
import sys

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


def test_plugin_import_is_cheap() -> None:
    code = ("import sys, heygen_lab.pytest_plugin; "
            "print(sorted(m for m in ('requests', 'werkzeug', 'vcr', 'yaml', 'jsonschema') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_check_takes_directories_as_strings() -> None:
    from pathlib import Path

    from heygen_lab.contracts import run_check

    root = Path(__file__).resolve().parent.parent
    report = run_check(mode="replay", contracts_dir=str(root / "contracts"),
                       cassette_dir=str(root / "cassettes"), only=["upload-v1/raw-jpeg"])
    assert [r.verdict for r in report.results] == ["pass"]
