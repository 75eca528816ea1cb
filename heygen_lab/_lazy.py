"""A package's names that load on first use (PEP 562), so that importing it stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str,
               modules: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` (called while it is being imported):
    each name in ``modules`` comes from the submodule it maps to, imported when the name is
    first asked for and then kept in the package (an optional dependency that is missing is a
    ``MissingExtra`` naming the extra to install); ``dir()`` lists the package's ``__all__``."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(f"{package}.{module}"), name)
        except ModuleNotFoundError as exc:  # say which extra brings what is missing
            from heygen_lab._extras import missing_extra

            missing = missing_extra(exc, f"{package}.{name}")
            if missing is None:
                raise
            raise missing from None
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
