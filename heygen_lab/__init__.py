"""heygen_lab: upload to HeyGen by every documented route, and know why an upload fails.

The public surface is re-exported here and pinned by a test. Names load on first use, so that
importing the package (as pytest does for the plugin) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from heygen_lab._lazy import lazy_names

__version__ = "0.1.0"

_EXPORTS = {
    "HeyGenClient": "client",
    "Asset": "client",
    "Exchange": "client",
    "VideoStatus": "client",
    "Page": "client",
    "VIAS": "client",
    "Settings": "settings",
    "Media": "media",
    "load_media": "media",
    "Diagnosis": "diagnose",
    "Sent": "wire",
    "diagnose": "diagnose",
    "ErrorRecord": "envelopes",
    "RetryPolicy": "retry",
    "Emulator": "emulator",
    "emulate": "emulation",
    "run_check": "contracts",
    "HeyGenError": "errors",
    "ConfigurationError": "errors",
    "MediaError": "errors",
    "InvalidRequestError": "errors",
    "TransportError": "errors",
    "ConnectError": "errors",
    "ResponseLost": "errors",
    "RequestTimeout": "errors",
    "APIError": "errors",
    "BadRequestError": "errors",
    "AuthenticationError": "errors",
    "InsufficientCreditError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "ConflictError": "errors",
    "PayloadTooLargeError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "ContractViolation": "errors",
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


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
