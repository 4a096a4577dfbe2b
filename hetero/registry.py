"""One registry helper for every pluggable kind (learners, models, estimators, completers,
datasets, CLI command groups), in the style of timm's: a leaf module that imports nothing
of hetero but :mod:`hetero.errors`.

A :class:`Registry` maps names to objects (classes, factories, records). Built-in entries
come from modules that register themselves when imported; the registry imports them on
first use (``builtins``), so that importing the registry never imports them and no import
cycle arises. Plug-ins come from entry points (``group``), loaded lazily on first use, so
that listing names never imports a plug-in's dependencies (torch, say).

Names are refused when they collide (``overwrite=True`` replaces on purpose), and an
unknown name raises an error that lists the valid ones and suggests the closest.

Examples
--------
>>> from hetero.registry import Registry
>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(side):
...     return side * side
>>> shapes.get("square")(3)
9
>>> shapes.get("squar")
Traceback (most recent call last):
...
hetero.errors.HeteroError: unknown shape 'squar' (valid: square); did you mean 'square'?
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from hetero.errors import HeteroError

__all__ = ["Registry"]

T = TypeVar("T")


class _EntryPoint:
    """An entry point not loaded yet (loading may import heavy dependencies)."""

    def __init__(self, ep: Any):
        self.ep = ep


class Registry(Generic[T]):
    """Named objects of one kind, with lazy built-ins and entry-point plug-ins.

    Parameters
    ----------
    kind : str
        What the entries are, for messages ("learner", "model", ...).
    group : str, optional
        Entry-point group whose entries are added (lazily) to the registry.
    builtins : sequence of str
        Modules imported on first use; they register the built-in entries.
    error : type of HeteroError
        Exception raised for unknown names and refused registrations.
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str | None = None,
        builtins: Sequence[str] = (),
        error: type[HeteroError] = HeteroError,
    ):
        self.kind = kind
        self.group = group
        self.builtins = tuple(builtins)
        self.error = error
        self._entries: dict[str, T | _EntryPoint] = {}
        self._loaded = False

    # ------------------------------------------------------------------ registering
    def register(self, name: str, obj: T | None = None, *, overwrite: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator.

        Raises ``error`` when ``name`` is not a non-empty word or is taken by another
        object (unless ``overwrite``).
        """

        def _register(value: T) -> T:
            if not isinstance(name, str) or not name or any(c.isspace() for c in name):
                raise self.error(f"{self.kind} name must be a non-empty word, got {name!r}")
            current = self._entries.get(name)
            if current is not None and current is not value and not overwrite:
                if not isinstance(current, _EntryPoint):
                    raise self.error(
                        f"{self.kind} {name!r} is already registered "
                        "(pass overwrite=True to replace it)"
                    )
            self._entries[name] = value
            return value

        if obj is None:
            return _register
        return _register(obj)

    def unregister(self, name: str) -> T | None:
        """Remove ``name`` and return what it held (None when absent)."""
        value = self._entries.pop(name, None)
        return None if isinstance(value, _EntryPoint) else value

    @contextlib.contextmanager
    def registered(self, name: str, obj: T, *, overwrite: bool = False) -> Iterator[T]:
        """Register ``obj`` for the duration of a ``with`` block (tests, notebooks)."""
        self._load()
        previous = self._entries.get(name)
        self.register(name, obj, overwrite=overwrite)
        try:
            yield obj
        finally:
            if previous is None:
                self._entries.pop(name, None)
            else:
                self._entries[name] = previous

    # ------------------------------------------------------------------ looking up
    def get(self, name: str) -> T:
        """The object registered as ``name`` (loading its entry point if needed)."""
        self._load()
        if not isinstance(name, str) or name not in self._entries:
            valid = self.names()
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.error(
                f"unknown {self.kind} {name!r} (valid: {', '.join(valid) or 'none'}){hint}"
            )
        value = self._entries[name]
        if isinstance(value, _EntryPoint):
            try:
                loaded = value.ep.load()
            except Exception as exc:  # a plug-in missing its dependencies (e.g. torch)
                raise self.error(
                    f"{self.kind} {name!r} cannot be loaded from {value.ep.value} "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            self._entries[name] = loaded
            value = loaded
        return value

    def names(self) -> list[str]:
        """Registered names (built-ins and plug-ins), sorted; loads no plug-in."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first, so that a built-in module may use the registry
        for module in self.builtins:
            importlib.import_module(module)
        if self.group is not None:
            for ep in entry_points(group=self.group):
                self._entries.setdefault(ep.name, _EntryPoint(ep))

    def load_all(self, on_error: Callable[[str, Exception], None] | None = None) -> dict[str, T]:
        """Load every entry (plug-ins included); ``on_error(name, exc)`` for failures.

        Without ``on_error`` a failing plug-in raises.
        """
        out: dict[str, T] = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except HeteroError as exc:
                if on_error is None:
                    raise
                on_error(name, exc)
        return out
