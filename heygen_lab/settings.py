"""Settings, resolved once: argument > environment > default, in one frozen object.

| setting       | environment          | default                      |
|---------------|----------------------|------------------------------|
| api_key       | ``HEYGEN_API_KEY``   | none (required by the live API) |
| api_base      | ``HEYGEN_API_BASE``  | ``https://api.heygen.com``   |
| upload_base   | ``HEYGEN_UPLOAD_BASE`` | ``https://upload.heygen.com`` |

The key is kept in a :class:`Secret`, whose repr and str never show it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from heygen_lab.errors import ConfigurationError

DEFAULT_API_BASE = "https://api.heygen.com"
DEFAULT_UPLOAD_BASE = "https://upload.heygen.com"


class Secret:
    """A value that must never be printed: repr and str show ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that needs it (the auth header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a response, per kind of request (as HeyGen's own CLI does)."""

    upload: float = 600.0
    read: float = 30.0
    write: float = 120.0

    def __post_init__(self) -> None:
        for name in ("upload", "read", "write"):
            _seconds(getattr(self, name), f"timeouts.{name}")

    @classmethod
    def uniform(cls, seconds: float) -> Timeouts:
        value = _seconds(seconds, "timeout")
        return cls(upload=value, read=value, write=value)


def _seconds(value: object, name: str) -> float:
    """``value`` as a finite, positive number of seconds, or a ConfigurationError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, got "
                                 f"{type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a finite, positive number of seconds, "
                                 f"got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Settings:
    """Where to send requests and with which key."""

    api_key: Secret | None = field(default=None)
    api_base: str = DEFAULT_API_BASE
    upload_base: str = DEFAULT_UPLOAD_BASE
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_retries: int = 2

    @classmethod
    def resolve(
        cls,
        api_key: str | Secret | None = None,
        *,
        api_base: str | None = None,
        upload_base: str | None = None,
        timeout: float | Timeouts | None = None,
        max_retries: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Resolve each setting from the argument, then the environment, then the default."""
        env = os.environ if env is None else env
        # A blank or whitespace-only HEYGEN_API_KEY counts as unset, here and everywhere that
        # asks "is there a key?" (they all ask this object).
        key = api_key if api_key is not None else env.get("HEYGEN_API_KEY") or None
        if timeout is None:
            timeouts = Timeouts()
        elif isinstance(timeout, Timeouts):
            timeouts = timeout
        else:
            timeouts = Timeouts.uniform(timeout)
        retries = 2 if max_retries is None else max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ConfigurationError(f"max_retries must be an integer from 0 to 10, got "
                                     f"{retries!r}")
        return cls(
            api_key=_secret(key),
            api_base=_base(api_base or env.get("HEYGEN_API_BASE") or DEFAULT_API_BASE, "api_base"),
            upload_base=_base(
                upload_base or env.get("HEYGEN_UPLOAD_BASE") or DEFAULT_UPLOAD_BASE, "upload_base"
            ),
            timeouts=timeouts,
            max_retries=retries,
        )


def _secret(key: str | Secret | None) -> Secret | None:
    if key is None:
        return None
    if isinstance(key, Secret):
        return key if key.reveal().strip() else None
    if not isinstance(key, str):
        raise ConfigurationError(f"api_key must be a string, got {type(key).__name__}")
    value = key.strip()
    if not value:
        return None
    if any(c.isspace() or not c.isprintable() for c in value) or not value.isascii():
        # Never echo the key: it may be real. Say what is wrong with it instead.
        raise ConfigurationError(
            "the API key contains whitespace, control or non-ASCII characters; "
            "copy it again from HeyGen's settings page (HEYGEN_API_KEY)"
        )
    return Secret(value)


def _base(url: str, name: str) -> str:
    if not isinstance(url, str):
        raise ConfigurationError(f"{name} must be a string URL, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number or out of range
        parts, port_ok = urlsplit(""), False
    bad_chars = any(c.isspace() or not c.isprintable() for c in url.strip())
    if (parts.scheme not in {"http", "https"} or not parts.hostname or not port_ok
            or bad_chars):
        # The value is not echoed: a key pasted into the wrong variable must not be printed.
        raise ConfigurationError(
            f"{name} must be an http(s) URL such as {DEFAULT_API_BASE!r}; the value given "
            f"({len(url)} characters) is not one"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(f"{name} must not carry credentials, a query or a fragment")
    return url.strip().rstrip("/")
