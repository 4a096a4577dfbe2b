"""Model registry: built-in and third-party architectures by name, plus save / load.

Third-party packages register through the entry-point group ``hetero.models``: the entry
point is either a model class / factory (registered under the entry point's name) or a
module whose import calls :func:`register_model`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hetero._io import atomic_write_bytes, read_json, write_json
from hetero.errors import HeteroError

__all__ = ["create_model", "list_models", "load_model", "register_model", "save_model"]

_MODELS: dict[str, Callable[..., Any]] = {}
_ENTRY_POINTS_LOADED = False


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a model class (or factory) under ``name``.

    The class is called as ``cls(spec, **hparams)`` with a
    :class:`~hetero_models.inputs.ModelSpec`; it should derive from
    :class:`~hetero_models.grouping.GroupedModel` to be trainable with plans.
    """

    def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
        _MODELS[name] = factory
        return factory

    return decorator


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    import hetero_models.highmmt  # noqa: F401  (built-ins register on import)

    for ep in entry_points(group="hetero.models"):
        if ep.name in _MODELS:
            continue
        obj = ep.load()
        if callable(obj) and ep.name not in _MODELS:
            _MODELS[ep.name] = obj


def list_models() -> list[str]:
    """Names of the registered models (built-in and from entry points), sorted."""
    _load_entry_points()
    return sorted(_MODELS)


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
    """
    from hetero_models.inputs import ModelSpec

    _load_entry_points()
    try:
        factory = _MODELS[name]
    except KeyError:
        raise HeteroError(
            f"unknown model {name!r} (valid: {', '.join(sorted(_MODELS)) or 'none'})"
        ) from None
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
    if missing or unexpected:
        raise HeteroError(
            f"weights do not match config.json (missing: {json.dumps(missing[:5])}, "
            f"unexpected: {json.dumps(unexpected[:5])})",
            source=weights,
        )
    return model.to(device)
