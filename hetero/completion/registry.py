"""Completers by name: :data:`COMPLETERS`, and ``get_completer`` / ``list_completers``.

The built-in completers register themselves when their modules
(:mod:`hetero.completion.symmetric`, :mod:`hetero.completion.fancy`) are imported, which
the registry does on first use. Third-party completers plug in through the entry-point
group ``hetero.completers`` (the entry point names a :class:`~hetero.completion.base.Completer`
subclass, called as ``cls(rank=..., seed=..., **params)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hetero.completion.base import Completer
from hetero.errors import HeteroError
from hetero.registry import Registry

__all__ = [
    "COMPLETERS",
    "ENTRY_POINT_GROUP",
    "get_completer",
    "list_completers",
    "register_completer",
]

ENTRY_POINT_GROUP = "hetero.completers"

#: Completer classes by name.
COMPLETERS: Registry[Callable[..., Completer]] = Registry(
    "completion method",
    group=ENTRY_POINT_GROUP,
    builtins=[
        "hetero.completion.symmetric",
        "hetero.completion.additive",
        "hetero.completion.fancy",
    ],
    error=HeteroError,
)

# The order in which list_completers() shows the built-ins: the default first.
_BUILTIN_ORDER = (
    "symmetric",
    "additive",
    "auto",
    "softimpute",
    "iterativesvd",
    "matrixfactorization",
    "nuclearnorm",
)


def register_completer(
    name: str, cls: Callable[..., Completer] | None = None, *, overwrite: bool = False
) -> Any:
    """Register a :class:`Completer` subclass under ``name``; usable as a decorator.

    Raises
    ------
    HeteroError
        ``name`` is not a non-empty word, or is taken (unless ``overwrite``).
    """
    return COMPLETERS.register(name, cls, overwrite=overwrite)


def list_completers() -> list[str]:
    """Names accepted by :func:`get_completer`: the built-ins (default first), then others."""
    names = COMPLETERS.names()
    return [n for n in _BUILTIN_ORDER if n in names] + [n for n in names if n not in _BUILTIN_ORDER]


def get_completer(name: str, **params: Any) -> Completer:
    """Create a completer by name (case and ``-``/``_`` insensitive).

    Raises
    ------
    HeteroError
        Unknown name (the message lists the valid ones) or bad parameters.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    # the exact name when the normalised one is unknown, so that errors quote the user's
    # spelling (and a plug-in name with '_' or capitals still resolves)
    factory = COMPLETERS.get(key if key in COMPLETERS else name)
    try:
        completer = factory(**params)
    except TypeError as exc:
        raise HeteroError(f"completion method {name!r}: {exc}") from None
    if not isinstance(completer, Completer):
        raise HeteroError(
            f"completion method {name!r} returned {type(completer).__name__}, not a Completer"
        )
    return completer
