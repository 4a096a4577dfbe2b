"""Registry of learners by name, extensible through the ``hetero.learners`` entry points.

The learners live in :data:`LEARNERS`, a :class:`hetero.registry.Registry`; the functions
below are thin wrappers kept as the public API. The built-in ``reference`` learner
registers itself when :mod:`hetero.learners.reference` is imported, which the registry does
on first use (this module never imports it, so the two do not import each other).

An entry point in group ``hetero.learners`` names a :class:`~hetero.learners.base.Learner`
subclass (or a callable returning a learner from keyword config), e.g. in a plug-in's
``pyproject.toml``::

    [project.entry-points."hetero.learners"]
    mylearner = "mypkg.learner:MyLearner"

Entry points are loaded on first use, so listing learners never imports a plug-in's
dependencies (torch for ``highmmt``). Tests and notebooks register a learner for a block
with ``LEARNERS.registered(name, cls)``.

Without registering anything, ``MODULE:CLASS`` (``hetero measure --learner
mymodule:MyLearner``) names a :class:`~hetero.learners.base.Learner` subclass in a module
importable from the current directory or ``PYTHONPATH`` (:func:`import_learner`); worker
processes unpickle the class by reference, so they import the same module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from hetero.errors import LearnerError
from hetero.learners.base import Learner
from hetero.registry import Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "LEARNERS",
    "check_config_types",
    "default_learner_name",
    "get_learner",
    "import_learner",
    "list_learners",
    "register_learner",
]

ENTRY_POINT_GROUP = "hetero.learners"

#: Learner classes / factories by name (built-ins, plug-ins, and learners registered here).
LEARNERS: Registry[Callable[..., Learner]] = Registry(
    "learner",
    group=ENTRY_POINT_GROUP,
    builtins=["hetero.learners.reference"],
    error=LearnerError,
)


def register_learner(
    name: str, factory: Callable[..., Learner] | None = None, *, overwrite: bool = False
):
    """Register a learner class (or factory) under ``name``; usable as a decorator.

    Parameters
    ----------
    name : str
        Registry name (``hetero measure --learner NAME``).
    factory : callable, optional
        A :class:`Learner` subclass or a callable ``(**config) -> Learner``; without it,
        a decorator is returned.
    overwrite : bool
        Replace an existing registration instead of raising.

    Raises
    ------
    LearnerError
        ``name`` is not a non-empty word, or is taken (unless ``overwrite``).
    """
    return LEARNERS.register(name, factory, overwrite=overwrite)


def import_learner(spec: str) -> type[Learner]:
    """The :class:`Learner` subclass named by ``spec`` = ``"module:Class"``.

    ``module`` is imported from the current directory or ``PYTHONPATH`` (the current
    directory is appended to ``sys.path`` when missing: the ``hetero`` script does not put
    it there, and spawned workers inherit ``sys.path``); ``Class`` may be dotted
    (``module:Outer.Inner``).

    Raises
    ------
    LearnerError
        A malformed spec, a module that cannot be imported, a missing attribute, or an
        attribute that is not a Learner subclass (one line each).
    """
    module_name, _, attr = spec.partition(":")
    module_name, attr = module_name.strip(), attr.strip()
    if not module_name or not attr or ":" in attr:
        raise LearnerError(f"learner {spec!r}: expected MODULE:CLASS (e.g. my_module:MyLearner)")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):  # itself
            raise LearnerError(
                f"learner {spec!r}: no module named {module_name!r} (it must be importable "
                "from the current directory or PYTHONPATH)"
            ) from None
        raise LearnerError(
            f"learner {spec!r}: importing {module_name!r} failed (ModuleNotFoundError: {exc})"
        ) from None
    except Exception as exc:  # the user's module raised while importing
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise LearnerError(f"learner {spec!r}: importing {module_name!r} failed ({msg})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise LearnerError(
                f"learner {spec!r}: module {module_name!r} has no attribute {attr!r}"
            )
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Learner)):
        what = f"class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise LearnerError(
            f"learner {spec!r}: {module_name}.{attr} is {what}, not a subclass of "
            "hetero.learners.Learner"
        )
    return obj


def _factory(name: str) -> Callable[..., Learner]:
    """The registered factory of ``name``, or the class a ``module:Class`` name imports."""
    if isinstance(name, str) and ":" in name and name not in LEARNERS:
        return import_learner(name)
    return LEARNERS.get(name)


def get_learner(name: str, **config: Any) -> Learner:
    """Create the learner registered as ``name`` (or the ``module:Class`` one) with ``config``.

    Raises
    ------
    LearnerError
        Unknown name (the message lists valid names and suggests the closest), a plug-in
        that cannot be loaded, a ``module:Class`` that cannot be imported or is not a
        Learner subclass (:func:`import_learner`), or a config the learner rejects.
    """
    factory = _factory(name)
    check_config_types(name, factory, config)
    try:
        learner = factory(**config)
    except TypeError as exc:
        raise LearnerError(f"learner {name!r}: bad config {sorted(config)} ({exc})") from None
    if not isinstance(learner, Learner):
        raise LearnerError(
            f"learner {name!r} factory returned {type(learner).__name__}, not a Learner"
        )
    return learner


def check_config_types(name: str, factory: Callable[..., Any], config: dict[str, Any]) -> None:
    """Refuse a config value whose type cannot be what the learner's parameter takes.

    The parameter's default tells the type (a ``-L lr=abc`` on the command line arrives as
    the string ``"abc"``): numbers must be numbers (an int is a fine float), booleans
    booleans, strings strings; parameters without a default or defaulting to None are not
    checked. Raised before anything trains, rather than failing every run.
    """
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no introspectable signature
        return
    for key, value in config.items():
        p = params.get(key)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        want = type(p.default)
        if want is bool:
            ok = isinstance(value, bool)
        elif want in (int, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and (want is float or float(value).is_integer())
        elif want is str:
            ok = isinstance(value, str)
        else:
            continue
        if not ok:
            raise LearnerError(
                f"learner {name!r}: option {key}={value!r}: expected {want.__name__} "
                f"(like the default {p.default!r})"
            )


def list_learners() -> list[str]:
    """Names of registered learners (built-in and entry points), sorted; loads no plug-in."""
    return LEARNERS.names()


def default_learner_name() -> str:
    """``"highmmt"`` when torch and ``hetero_models`` import and provide it, else ``"reference"``.

    Only checks that the modules can be found (no torch import here).
    """
    if (
        "highmmt" in LEARNERS
        and importlib.util.find_spec("torch") is not None
        and importlib.util.find_spec("hetero_models") is not None
    ):
        return "highmmt"
    return "reference"
