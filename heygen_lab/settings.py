"""Settings, resolved once: argument > environment > default, in one frozen object.

| setting       | environment          | default                      |
|---------------|----------------------|------------------------------|
| api_key       | ``HEYGEN_API_KEY``   | none (required by the live API) |
| api_base      | ``HEYGEN_API_BASE``  | ``https://api.heygen.com``   |
| upload_base   | ``HEYGEN_UPLOAD_BASE`` | ``https://upload.heygen.com`` |

The key is kept in a :class:`Secret`, whose repr and str never show it.
"""

from __future__ import annotations

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

    @classmethod
    def uniform(cls, seconds: float) -> Timeouts:
        return cls(upload=seconds, read=seconds, write=seconds)


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
        key = api_key if api_key is not None else env.get("HEYGEN_API_KEY") or None
        if isinstance(timeout, int | float):
            if timeout <= 0:
                raise ConfigurationError(f"timeout must be positive seconds, got {timeout!r}")
            timeouts = Timeouts.uniform(float(timeout))
        else:
            timeouts = timeout or Timeouts()
        retries = 2 if max_retries is None else max_retries
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {retries!r}")
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
    if key is None or isinstance(key, Secret):
        return key
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
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        # The value is not echoed: a key pasted into the wrong variable must not be printed.
        raise ConfigurationError(
            f"{name} must be an http(s) URL such as {DEFAULT_API_BASE!r}; the value given "
            f"({len(url)} characters) is not one"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(f"{name} must not carry credentials, a query or a fragment")
    return url.strip().rstrip("/")
