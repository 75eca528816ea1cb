"""heygen_lab: upload to HeyGen by every documented route, and know why an upload fails.

The public surface is re-exported here and pinned by a test. Names load on first use, so that
importing the package (as pytest does for the plugin) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "HeyGenClient": "heygen_lab.client",
    "Asset": "heygen_lab.client",
    "Exchange": "heygen_lab.client",
    "VideoStatus": "heygen_lab.client",
    "Page": "heygen_lab.client",
    "VIAS": "heygen_lab.client",
    "Settings": "heygen_lab.settings",
    "Media": "heygen_lab.media",
    "load_media": "heygen_lab.media",
    "Diagnosis": "heygen_lab.diagnose",
    "Sent": "heygen_lab.wire",
    "diagnose": "heygen_lab.diagnose",
    "ErrorRecord": "heygen_lab.envelopes",
    "RetryPolicy": "heygen_lab.retry",
    "Emulator": "heygen_lab.emulator",
    "emulate": "heygen_lab.emulation",
    "run_check": "heygen_lab.contracts",
    "HeyGenError": "heygen_lab.errors",
    "ConfigurationError": "heygen_lab.errors",
    "MediaError": "heygen_lab.errors",
    "InvalidRequestError": "heygen_lab.errors",
    "TransportError": "heygen_lab.errors",
    "ConnectError": "heygen_lab.errors",
    "ResponseLost": "heygen_lab.errors",
    "RequestTimeout": "heygen_lab.errors",
    "APIError": "heygen_lab.errors",
    "BadRequestError": "heygen_lab.errors",
    "AuthenticationError": "heygen_lab.errors",
    "InsufficientCreditError": "heygen_lab.errors",
    "PermissionDeniedError": "heygen_lab.errors",
    "NotFoundError": "heygen_lab.errors",
    "ConflictError": "heygen_lab.errors",
    "PayloadTooLargeError": "heygen_lab.errors",
    "RateLimitError": "heygen_lab.errors",
    "ServerError": "heygen_lab.errors",
    "ContractViolation": "heygen_lab.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from heygen_lab.client import VIAS, Asset, Exchange, HeyGenClient, Page, VideoStatus
    from heygen_lab.contracts import run_check
    from heygen_lab.diagnose import Diagnosis, diagnose
    from heygen_lab.emulation import emulate
    from heygen_lab.emulator import Emulator
    from heygen_lab.envelopes import ErrorRecord
    from heygen_lab.errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        ConnectError,
        ContractViolation,
        HeyGenError,
        InsufficientCreditError,
        InvalidRequestError,
        MediaError,
        NotFoundError,
        PayloadTooLargeError,
        PermissionDeniedError,
        RateLimitError,
        RequestTimeout,
        ResponseLost,
        ServerError,
        TransportError,
    )
    from heygen_lab.media import Media, load_media
    from heygen_lab.retry import RetryPolicy
    from heygen_lab.settings import Settings
    from heygen_lab.wire import Sent


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext heygen_lab``: registers the ``%heygen_emulate`` line magic."""
    from heygen_lab.ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext heygen_lab``: stops a running ``%heygen_emulate``."""
    from heygen_lab.ipython import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'heygen_lab' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:  # Emulator without heygen-lab[emulator]: say which extra
        from heygen_lab._extras import missing_extra

        missing = missing_extra(exc, f"heygen_lab.{name}")
        if missing is None:
            raise
        raise missing from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
