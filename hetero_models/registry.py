"""Model registry: built-in and third-party architectures by name, plus save / load.

The models live in :data:`MODELS`, a :class:`hetero.registry.Registry`; ``register_model``,
``create_model`` and ``list_models`` are thin wrappers kept as the public API. A name is
registered once: registering another object under a taken name raises (pass
``overwrite=True`` to replace it on purpose). The built-in ``highmmt`` registers itself when
:mod:`hetero_models.highmmt` is imported, which the registry does on first use (this module
never imports it, so the two do not import each other).

Third-party packages register through the entry-point group ``hetero.models``; the entry
point names the model class or factory, registered under the entry point's name and loaded
on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hetero._io import atomic_write_bytes, read_json, write_json
from hetero.errors import HeteroError
from hetero.registry import Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODELS",
    "create_model",
    "list_models",
    "load_model",
    "register_model",
    "save_model",
]

ENTRY_POINT_GROUP = "hetero.models"

#: Model classes / factories by name, each called as ``factory(spec, **hparams)``.
MODELS: Registry[Callable[..., Any]] = Registry(
    "model", group=ENTRY_POINT_GROUP, builtins=["hetero_models.highmmt"], error=HeteroError
)


def register_model(
    name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False
) -> Any:
    """Register a model class (or factory) under ``name``; usable as a decorator.

    The class is called as ``cls(spec, **hparams)`` with a
    :class:`~hetero_models.inputs.ModelSpec`; it should derive from
    :class:`~hetero_models.grouping.GroupedModel` to be trainable with plans.

    Parameters
    ----------
    name : str
        Registry name (``create_model(name, ...)``, ``hetero train --model NAME``).
    factory : callable, optional
        The class or factory; without it, a decorator is returned.
    overwrite : bool
        Replace an existing registration instead of raising.

    Raises
    ------
    HeteroError
        ``name`` is not a non-empty word, or is taken by another object (unless
        ``overwrite``).
    """
    return MODELS.register(name, factory, overwrite=overwrite)


def list_models() -> list[str]:
    """Names of the registered models (built-in and from entry points), sorted."""
    return MODELS.names()


def create_model(name: str, suite: Any, plan: Any | None = None, **hparams: Any):
    """Build model ``name`` for ``suite`` (a Suite or ModelSpec), grouped by ``plan``.

    Parameters
    ----------
    name : str
        Registered model name (see :func:`list_models`).
    suite : hetero.suite.Suite or ModelSpec
    plan : GroupingPlan, dict or None
        None shares every block (homogeneous model). Group copies start identical.
    **hparams
        Passed to the model (e.g. ``preset="small"``).

    Raises
    ------
    HeteroError
        Unknown name (the message lists the valid ones and suggests the closest) or a
        plug-in that cannot be loaded.
    """
    from hetero_models.inputs import ModelSpec

    factory = MODELS.get(name)
    model = factory(ModelSpec.from_suite(suite), **hparams)
    model.model_name = name
    if plan is not None:
        model.apply_plan(plan)
    return model


def save_model(model: Any, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory``; return it."""
    from safetensors.torch import save

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config = {
        "format": 1,
        "model": getattr(model, "model_name", "highmmt"),
        "hparams": model.hparams,
        "spec": model.spec.to_dict(),
        "groups": model.groups(),
    }
    atomic_write_bytes(directory / "model.safetensors", save(state))
    write_json(directory / "config.json", config)
    return directory


def load_model(directory: str | Path, device: str = "cpu"):
    """Rebuild a model saved by :func:`save_model` (safetensors; nothing is unpickled)."""
    from safetensors.torch import load_file

    from hetero_models.inputs import ModelSpec

    directory = Path(directory)
    config = read_json(directory / "config.json")
    try:
        spec = ModelSpec.from_dict(config["spec"])
        hparams = dict(config["hparams"])
        name = config["model"]
        groups = config["groups"]
    except (KeyError, TypeError) as exc:
        raise HeteroError(
            f"config.json: field {exc} missing or malformed", source=directory
        ) from None
    model = create_model(name, spec, plan=groups, **hparams)
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise HeteroError("model.safetensors not found", source=directory)
    state = load_file(str(weights), device=device)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # models saved before inputs were standardised have no statistics: the identity
    missing = [k for k in missing if ".input_mean_" not in k and ".input_std_" not in k]
    missing = [k for k in missing if not k.endswith(".input_fitted")]
    if missing or unexpected:
        raise HeteroError(
            f"weights do not match config.json (missing: {json.dumps(missing[:5])}, "
            f"unexpected: {json.dumps(unexpected[:5])})",
            source=weights,
        )
    return model.to(device)
