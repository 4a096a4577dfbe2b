"""Lazy public names for package ``__init__`` modules (PEP 562).

Packages list ``{public name: defining module}``; a name is imported on first access and
cached in the package namespace, so importing the package stays fast and torch-free.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module-level ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    exports : mapping
        Public name -> module that defines it.
    namespace : dict
        The package's ``globals()``; resolved names are cached there.
    public : list of str
        The package's ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
