"""The secret gate: refuse to write a file that contains the API key in any common encoding.

Removing the key by name (headers, query parameters) catches the places it is meant to be;
this gate catches the rest by value: the key echoed in a response body, pasted into a URL,
or base64-encoded inside a larger blob (an ``Authorization: Basic`` header, a data URL).
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote_to_bytes

from heygen_lab.errors import HeyGenError

MIN_SECRET_LENGTH = 8
"""Shorter values are not scanned for: they would match ordinary text (real keys are longer)."""

FORMS = ("raw", "url-encoded", "base64")


def known_secrets(extra: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The values to refuse: ``extra`` plus ``HEYGEN_API_KEY`` from the environment, when set.

    Every writer goes through :func:`gate`, which adds the environment's key itself, so no
    caller can forget it.
    """
    values = (*extra, os.environ.get("HEYGEN_API_KEY"))
    return tuple(dict.fromkeys(v for v in values if v))


class SecretLeak(HeyGenError):
    """A file about to be written contains a secret. The message never contains the secret."""

    def __init__(self, where: str, forms: Iterable[str]) -> None:
        self.where = where
        self.forms = tuple(forms)
        super().__init__(
            f"refusing to write {where}: it contains the API key "
            f"({', '.join(self.forms)} form); remove it by name (filter_headers, query "
            "filters) or scrub the response before recording"
        )


def _url_encoded(raw: bytes, data: bytes) -> bool:
    """Whether percent-decoding ``data`` (once or twice, any hex case) reveals ``raw``."""
    current = data.replace(raw, b"")  # occurrences in the clear are reported as raw
    for _ in range(2):
        decoded = unquote_to_bytes(current)
        if decoded == current:
            return False
        if raw in decoded:
            return True
        current = decoded.replace(raw, b"")
    return False


def _base64_forms(secret: str) -> set[bytes]:
    """The base64 text that encodes ``secret`` at each of the three byte alignments.

    Only the characters made entirely of the secret's bits are kept, so the needle is found
    whatever bytes surround the secret in the encoded blob.
    """
    raw = secret.encode("utf-8")
    needles: set[bytes] = set()
    for offset in range(3):
        n = offset + len(raw)
        first, last = -(-offset * 8 // 6), n * 8 // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            needles.add(encode(b"\0" * offset + raw).rstrip(b"=")[first:last])
    return needles


def scan_for_secrets(text: str | bytes, secrets: Iterable[str]) -> list[str]:
    """The forms ("raw", "url-encoded", "base64") in which any of ``secrets`` occurs in ``text``."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    found: set[str] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        raw = secret.encode("utf-8")
        if raw in data:
            found.add("raw")
        if b"%" in data and _url_encoded(raw, data):
            found.add("url-encoded")
        if any(form in data for form in _base64_forms(secret)):
            found.add("base64")
    return [form for form in FORMS if form in found]


def gate(text: str | bytes, secrets: Iterable[str], *, where: str) -> None:
    """Raise :class:`SecretLeak` if ``text`` (about to be written to ``where``) holds one of
    ``secrets`` or the environment's ``HEYGEN_API_KEY``."""
    forms = scan_for_secrets(text, known_secrets(secrets))
    if forms:
        raise SecretLeak(where, forms)


def atomic_write(path: Path, data: str | bytes, *, secrets: Iterable[str] = ()) -> None:
    """Write ``data`` to ``path`` all at once, after the secret gate; nothing is left on failure.

    The bytes go to a temporary file beside ``path``, which then replaces it in one step, so
    a reader sees the old file or the new one, never half of one.
    """
    path = Path(path)
    gate(data, secrets, where=str(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private; give it the mode a plain open() would have.
        os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
