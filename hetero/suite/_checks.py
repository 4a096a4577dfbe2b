"""Constants and validation helpers shared by the modules of :mod:`hetero.suite`.

Every problem the user can cause becomes a one-line :class:`hetero.errors.SuiteError` that
names the file, the task and the field (:func:`_fail`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from hetero.errors import SuiteError

__all__ = [
    "DEFAULT_SPLIT",
    "LOSSES",
    "MATCH_MODES",
    "METRICS",
    "MODALITY_KINDS",
    "SPLIT_NAMES",
    "TARGETS",
]

MODALITY_KINDS: tuple[str, ...] = (
    "image",
    "video",
    "audio",
    "timeseries",
    "table",
    "text",
    "set",
    "graph",
    "other",
)
TARGETS: tuple[str, ...] = ("multiclass", "binary", "multilabel", "regression", "retrieval")
#: How a retrieval task decides that a query and a gallery item match: ``pair`` (row i of
#: one modality matches row i of the other only) or ``label`` (equal class labels ``y``).
MATCH_MODES: tuple[str, ...] = ("pair", "label")
#: Cut-offs of the recall@k metrics of retrieval tasks.
RECALL_KS: tuple[int, ...] = (1, 5, 10)
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
DEFAULT_SPLIT: dict[str, Any] = {"val": 0.2, "test": 0.2, "seed": 0}

#: loss name -> targets it applies to
LOSSES: dict[str, tuple[str, ...]] = {
    "cross_entropy": ("multiclass",),
    "binary_cross_entropy": ("binary", "multilabel"),
    "mse": ("regression",),
    "l1": ("regression",),
    "info_nce": ("retrieval",),
}
#: metric name -> (higher_is_better, targets it applies to)
METRICS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "accuracy": (True, ("multiclass", "binary")),
    "balanced_accuracy": (True, ("multiclass", "binary")),
    "f1_macro": (True, ("multiclass", "binary", "multilabel")),
    "f1_micro": (True, ("multiclass", "binary", "multilabel")),
    "auroc": (True, ("binary", "multilabel")),
    "mse": (False, ("regression",)),
    "mae": (False, ("regression",)),
    "r2": (True, ("regression",)),
    # retrieval: the plain name is the mean of both directions (a -> b, b -> a)
    **{
        f"{base}{side}": (True, ("retrieval",))
        for base in (*(f"recall@{k}" for k in RECALL_KS), "mrr")
        for side in ("", "_a2b", "_b2a")
    },
}
_DEFAULT_LOSS = {
    "multiclass": "cross_entropy",
    "binary": "binary_cross_entropy",
    "multilabel": "binary_cross_entropy",
    "regression": "mse",
    "retrieval": "info_nce",
}
_DEFAULT_METRIC = {
    "multiclass": "accuracy",
    "binary": "accuracy",
    "multilabel": "f1_macro",
    "regression": "mse",
    "retrieval": "recall@1",
}
# npz keys that are not modalities
_RESERVED = ("y", "train_idx", "val_idx", "test_idx")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _join(items: Sequence[Any]) -> str:
    return ", ".join(str(x) for x in items) if len(items) else "none"


def _fail(source: str | None, task: str | None, fld: str | None, reason: str) -> SuiteError:
    prefix = "" if task is None else f"task '{task}': "
    if fld:
        prefix += f"{fld}: "
    return SuiteError(prefix + reason, source=source)


def _unknown_key_reason(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}; valid keys: {_join(sorted(valid))}"


def _check_name(value: Any) -> str | None:
    """Return why ``value`` is not a valid task/modality name, or None."""
    if not isinstance(value, str) or not value:
        return f"expected a non-empty string, got {value!r}"
    if not _NAME_RE.match(value):
        return (
            f"invalid name {value!r}; expected letters, digits, '_', '.' or '-' "
            "(no '/', '+' or spaces, which separate unit labels)"
        )
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _finite_float(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        return False


def _resolve_objective(
    target: str, loss: Any, metric: Any, higher_is_better: Any
) -> tuple[Any, ...]:
    """Return (loss, metric, higher_is_better), or ((field, reason),) for the first problem."""
    loss = _DEFAULT_LOSS[target] if loss is None else loss
    if not isinstance(loss, str) or loss not in LOSSES:
        return (("loss", f"unknown loss {loss!r}; expected one of: {_join(list(LOSSES))}"),)
    if target not in LOSSES[loss]:
        valid = [k for k, v in LOSSES.items() if target in v]
        reason = f"loss '{loss}' does not apply to {target}; expected one of: {_join(valid)}"
        return (("loss", reason),)
    metric = _DEFAULT_METRIC[target] if metric is None else metric
    if not isinstance(metric, str) or metric not in METRICS:
        return (("metric", f"unknown metric {metric!r}; expected one of: {_join(list(METRICS))}"),)
    if target not in METRICS[metric][1]:
        valid = [k for k, v in METRICS.items() if target in v[1]]
        reason = f"metric '{metric}' does not apply to {target}; expected one of: {_join(valid)}"
        return (("metric", reason),)
    if higher_is_better is None:
        higher_is_better = METRICS[metric][0]
    elif not isinstance(higher_is_better, (bool, np.bool_)):
        return (("higher_is_better", f"expected true or false, got {higher_is_better!r}"),)
    return loss, metric, bool(higher_is_better)
