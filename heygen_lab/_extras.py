"""Optional dependencies: which extra brings what, and one readable line when it is missing.

``pip install heygen-lab`` is the client alone (``HeyGenClient``, ``upload``, ``diagnose``,
``whoami`` against the live API, ``spec``). The emulator, the contract tester, the recorder and
the cassette tools need ``heygen-lab[emulator]``; the widgets need ``heygen-lab[notebook]``.
"""

from __future__ import annotations

import importlib
from typing import Final

from heygen_lab.errors import ConfigurationError

__all__ = ["EXTRAS", "MissingExtra", "missing_extra", "require"]

#: The modules each extra provides, as imported (the distributions are in pyproject.toml).
EXTRAS: Final[dict[str, tuple[str, ...]]] = {
    "emulator": ("werkzeug", "yaml", "vcr"),
    "notebook": ("ipywidgets",),
}
#: Distribution names where they differ from the module's, for the message.
_DISTRIBUTION: Final = {"yaml": "PyYAML", "vcr": "vcrpy"}
_EXTRA_OF: Final = {module: extra for extra, modules in EXTRAS.items() for module in modules}


class MissingExtra(ConfigurationError, ModuleNotFoundError):
    """A feature's optional dependency is not installed. Still an ImportError (code that
    guards an import keeps working) and a HeyGenError (the CLI prints it on one line)."""

    def __init__(self, what: str, extra: str, module: str) -> None:
        installed = _DISTRIBUTION.get(module, module)
        super().__init__(f"{what} needs the {extra!r} extra ({installed} is not installed): "
                         f"pip install 'heygen-lab[{extra}]'")
        self.name = module
        self.extra = extra


def require(extra: str, what: str) -> None:
    """Import the modules of ``extra`` now, or raise :class:`MissingExtra` naming it."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(what, extra, module) from None


def missing_extra(exc: ImportError, what: str) -> MissingExtra | None:
    """The readable error for an ImportError of an extra's module, or None when ``exc`` is
    about anything else (a bug, not a missing extra: let it show)."""
    if isinstance(exc, MissingExtra):
        return exc
    module = (exc.name or "").partition(".")[0]
    extra = _EXTRA_OF.get(module)
    return MissingExtra(what, extra, module) if extra is not None else None
