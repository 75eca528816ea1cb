"""Where the toolkit's own contracts and cassettes are, however heygen_lab was installed.

The repository keeps them at its top level (``contracts/``, with their media in
``contracts/media/``, and ``cassettes/``); the wheel ships copies as package data under
``heygen_lab/_data/`` (``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml).

:func:`default_dir` resolves a directory the user did not name, first match wins:

1. ``./contracts`` (or ``./cassettes``) in the current directory, when it exists;
2. the repository's own directory, when heygen_lab runs from a checkout (an editable install);
3. the copy packaged in the wheel, read through :mod:`importlib.resources`.

A directory the user names (``--contracts DIR``, ``--cassettes DIR``) always comes first; the
callers keep that rule (``args.contracts or default_dir("contracts")``). The packaged copy is
read-only in spirit: :func:`is_packaged` lets ``record`` refuse to write into site-packages.
"""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

from heygen_lab.errors import ConfigurationError

__all__ = ["NAMES", "checkout_dir", "default_dir", "is_packaged", "packaged_dir"]

NAMES: Final = ("contracts", "cassettes")
DATA: Final = "_data"
"""The package-data directory inside ``heygen_lab`` that the wheel carries."""

_CHECKOUT: Final = Path(__file__).resolve().parent.parent
_extracted: dict[str, Path] = {}
_stack = ExitStack()
atexit.register(_stack.close)


def checkout_dir(name: str) -> Path | None:
    """The repository's own ``name`` directory, when heygen_lab runs from a checkout.

    A checkout is the package's parent directory holding ``pyproject.toml`` beside the
    package; an installed wheel's parent is ``site-packages``, which holds none.
    """
    root = _CHECKOUT
    if (root / "pyproject.toml").is_file() and (root / name).is_dir():
        return root / name
    return None


def _data_root() -> Traversable:
    return resources.files("heygen_lab").joinpath(DATA)


def packaged_dir(name: str) -> Path | None:
    """The copy of ``name`` shipped in the wheel as a real directory, or None (a checkout, or
    an editable install, carries none). ``as_file`` gives a real path even when the package is
    not on a file system; it stays valid until the interpreter exits."""
    root = _data_root().joinpath(name)
    if not root.is_dir():
        return None
    if isinstance(root, Path):  # the usual case: an ordinary install, nothing to extract
        return root
    if name not in _extracted:  # pragma: no cover - a zip import (directories: Python 3.12+)
        try:
            _extracted[name] = _stack.enter_context(resources.as_file(root))
        except (OSError, TypeError) as exc:
            raise ConfigurationError(f"cannot read heygen_lab's packaged {name} from {root} "
                                     f"({exc}); pass --{name} DIR") from None
    return _extracted[name]


def default_dir(name: str) -> Path:
    """The ``name`` directory (``contracts`` or ``cassettes``) to use when none was named:
    ``./name`` when present, else the checkout's, else the packaged copy. When none exists
    (a checkout without it), ``./name``, so that the caller's "no such directory" names it."""
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    here = Path.cwd() / name
    if here.is_dir():
        return here
    return checkout_dir(name) or packaged_dir(name) or here


def is_packaged(path: Path) -> bool:
    """Whether ``path`` is (or is inside) a data directory shipped in the installed wheel."""
    roots = [*_extracted.values()]
    root = _data_root()
    if isinstance(root, Path) and root.is_dir():
        roots.append(root)
    target = Path(os.path.realpath(path))
    for base in (Path(os.path.realpath(r)) for r in roots):
        if target == base or base in target.parents:
            return True
    return False
