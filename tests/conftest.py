"""Shared fixtures: small, real media files and an emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parent.parent / "contracts" / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return MEDIA


@pytest.fixture
def jpeg(media_dir: Path) -> Path:
    return media_dir / "tiny.jpg"


@pytest.fixture
def png(media_dir: Path) -> Path:
    return media_dir / "tiny.png"


@pytest.fixture
def emulator() -> Iterator[object]:
    from heygen_lab.emulator import Emulator

    with Emulator() as emu:
        yield emu
