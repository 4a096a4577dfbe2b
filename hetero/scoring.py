"""Task metrics from model outputs: the one implementation every learner and model uses.

Outputs are raw model outputs: logits for classification (``(n, K)`` for multiclass, ``(n,)``
/ ``(n, 1)`` or two-column logits for binary, ``(n, L)`` for multilabel), predictions for
regression. The metric names and the targets they apply to are those of the suite format
(:data:`hetero.suite.METRICS`); asking for a metric a target does not have raises.
"""

from __future__ import annotations

import numpy as np

from hetero.errors import HeteroError

__all__ = ["task_metric", "task_metrics"]

_CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1_macro", "f1_micro")
_NAMES: dict[str, tuple[str, ...]] = {
    "multiclass": _CLASSIFICATION,
    "binary": (*_CLASSIFICATION, "auroc"),
    "multilabel": ("f1_macro", "f1_micro", "auroc"),
    "regression": ("mse", "mae", "r2"),
}


def task_metrics(
    target: str, outputs: np.ndarray, y: np.ndarray, names: tuple[str, ...] | None = None
) -> dict[str, float]:
    """Metrics of ``outputs`` against targets ``y`` for a task of kind ``target``.

    multiclass: accuracy, balanced_accuracy, f1_macro, f1_micro; binary: the same plus
    auroc; multilabel: f1_macro, f1_micro, auroc (macro over labels with both classes);
    regression: mse, mae, r2. AUROC and R^2 are NaN where undefined (one class present,
    constant targets). ``names`` limits the result to those metrics.
    """
    if target not in _NAMES:
        raise HeteroError(f"unknown target {target!r} (expected one of: {', '.join(_NAMES)})")
    wanted = _NAMES[target] if names is None else tuple(names)
    bad = [n for n in wanted if n not in _NAMES[target]]
    if bad:
        raise HeteroError(
            f"metric {bad[0]!r} is not defined for {target} tasks "
            f"(expected one of: {', '.join(_NAMES[target])})"
        )
    outputs = np.asarray(outputs)
    y = np.asarray(y)
    if target == "regression":
        return _regression(outputs, y, wanted)
    return _classification(target, outputs, y, wanted)


def task_metric(name: str, target: str, outputs: np.ndarray, y: np.ndarray) -> float:
    """The single metric ``name`` (see :func:`task_metrics`)."""
    return task_metrics(target, outputs, y, names=(name,))[name]


def _regression(outputs: np.ndarray, y: np.ndarray, wanted: tuple[str, ...]) -> dict[str, float]:
    pred = outputs.reshape(y.shape) if outputs.size == y.size else outputs
    diff = np.asarray(pred, dtype=np.float64) - y
    mse = float(np.mean(diff**2))
    out = {"mse": mse, "mae": float(np.mean(np.abs(diff)))}
    var = float(np.var(y))
    out["r2"] = float(1 - mse / var) if var > 0 else float("nan")
    return {k: out[k] for k in wanted}


def _classification(
    target: str, outputs: np.ndarray, y: np.ndarray, wanted: tuple[str, ...]
) -> dict[str, float]:
    from sklearn import metrics as skm

    if target == "multiclass":
        pred = outputs.argmax(1)
        scores = None
        y = y.reshape(-1)
    elif target == "binary":
        if outputs.ndim == 2 and outputs.shape[1] == 2:
            scores = outputs[:, 1] - outputs[:, 0]
        else:
            scores = outputs.reshape(-1)
        pred = (scores > 0).astype(np.int64)
        y = y.reshape(-1)
    else:  # multilabel
        scores = outputs
        pred = (outputs > 0).astype(np.int64)
    out: dict[str, float] = {}
    for name in wanted:
        if name == "accuracy":
            out[name] = float(np.mean(pred == y))
        elif name == "balanced_accuracy":
            out[name] = float(skm.balanced_accuracy_score(y, pred))
        elif name in ("f1_macro", "f1_micro"):
            avg = name.split("_")[1]
            out[name] = float(skm.f1_score(y, pred, average=avg, zero_division=0))
        elif name == "auroc":
            out[name] = _auroc(target, scores, y)
    return out


def _auroc(target: str, scores: np.ndarray | None, y: np.ndarray) -> float:
    from sklearn import metrics as skm

    assert scores is not None
    if target == "binary":
        return float(skm.roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan")
    cols = [j for j in range(y.shape[1]) if len(np.unique(y[:, j])) == 2]
    if not cols:
        return float("nan")
    return float(np.mean([skm.roc_auc_score(y[:, j], scores[:, j]) for j in cols]))
