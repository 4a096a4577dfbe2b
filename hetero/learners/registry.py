"""Registry of learners by name, extensible through the ``hetero.learners`` entry points.

An entry point in group ``hetero.learners`` names a :class:`~hetero.learners.base.Learner`
subclass (or a callable returning a learner from keyword config), e.g. in a plug-in's
``pyproject.toml``::

    [project.entry-points."hetero.learners"]
    mylearner = "mypkg.learner:MyLearner"
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from hetero.errors import LearnerError
from hetero.learners.base import Learner

__all__ = ["default_learner_name", "get_learner", "list_learners", "register_learner"]

ENTRY_POINT_GROUP = "hetero.learners"

_REGISTRY: dict[str, Callable[..., Learner]] = {}
_BUILTINS_LOADED = False
_ENTRY_POINT_ERRORS: dict[str, str] = {}


def register_learner(
    name: str, factory: Callable[..., Learner] | None = None, *, overwrite: bool = False
):
    """Register a learner class (or factory) under ``name``; usable as a decorator.

    Parameters
    ----------
    name : str
        Registry name (``hetero measure --learner NAME``).
    factory : callable, optional
        A :class:`Learner` subclass or a callable ``(**config) -> Learner``.
    overwrite : bool
        Replace an existing registration instead of raising.
    """

    def _register(obj: Callable[..., Learner]) -> Callable[..., Learner]:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise LearnerError(f"learner name must be a non-empty word, got {name!r}")
        if name in _REGISTRY and _REGISTRY[name] is not obj and not overwrite:
            raise LearnerError(f"learner {name!r} is already registered")
        _REGISTRY[name] = obj
        return obj

    if factory is None:
        return _register
    return _register(factory)


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import hetero.learners.reference  # noqa: F401  (registers "reference")

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        _REGISTRY[ep.name] = _LazyEntryPoint(ep)


class _LazyEntryPoint:
    """Loads the entry point on first use, so listing learners never imports torch."""

    def __init__(self, ep: Any):
        self.ep = ep

    def load(self) -> Callable[..., Learner]:
        try:
            obj = self.ep.load()
        except Exception as exc:  # plug-in missing its dependencies (e.g. torch)
            raise LearnerError(
                f"learner {self.ep.name!r} cannot be loaded from {self.ep.value} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        _REGISTRY[self.ep.name] = obj
        return obj


def _resolve(name: str) -> Callable[..., Learner]:
    _load_builtins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        valid = list_learners()
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise LearnerError(f"unknown learner {name!r} (valid: {', '.join(valid)}){hint}") from None
    if isinstance(factory, _LazyEntryPoint):
        factory = factory.load()
    return factory


def get_learner(name: str, **config: Any) -> Learner:
    """Create the learner registered as ``name`` with keyword ``config``.

    Raises
    ------
    LearnerError
        Unknown name (the message lists valid names) or a config the learner rejects.
    """
    factory = _resolve(name)
    try:
        learner = factory(**config)
    except TypeError as exc:
        raise LearnerError(f"learner {name!r}: bad config {sorted(config)} ({exc})") from None
    if not isinstance(learner, Learner):
        raise LearnerError(
            f"learner {name!r} factory returned {type(learner).__name__}, not a Learner"
        )
    return learner


def list_learners() -> list[str]:
    """Names of registered learners (built-in and entry points), sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def default_learner_name() -> str:
    """``"highmmt"`` when torch and ``hetero_models`` import and provide it, else ``"reference"``.

    Only checks that the modules can be found (no torch import here).
    """
    import importlib.util

    _load_builtins()
    if (
        "highmmt" in _REGISTRY
        and importlib.util.find_spec("torch") is not None
        and importlib.util.find_spec("hetero_models") is not None
    ):
        return "highmmt"
    return "reference"
