"""Task metrics from model outputs: the one implementation every learner and model uses.

Outputs are raw model outputs: logits for classification (``(n, K)`` for multiclass, ``(n,)``
/ ``(n, 1)`` or two-column logits for binary, ``(n, L)`` for multilabel), predictions for
regression, and for retrieval the two sides' embeddings ``(n, 2, E)`` (``[:, 0]`` the first
declared modality ``a``, ``[:, 1]`` the second ``b``; see :func:`retrieval_metrics`). The
metric names and the targets they apply to are those of the suite format
(:data:`hetero.suite.METRICS`); asking for a metric a target does not have raises.
"""

from __future__ import annotations

import numpy as np

from hetero.errors import HeteroError

__all__ = ["predictions", "retrieval_metrics", "retrieval_ranks", "task_metric", "task_metrics"]

_CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1_macro", "f1_micro")
_NAMES: dict[str, tuple[str, ...]] = {
    "multiclass": _CLASSIFICATION,
    "binary": (*_CLASSIFICATION, "auroc"),
    "multilabel": ("f1_macro", "f1_micro", "auroc"),
    "regression": ("mse", "mae", "r2"),
    "retrieval": tuple(
        f"{base}{side}"
        for base in ("recall@1", "recall@5", "recall@10", "mrr")
        for side in ("", "_a2b", "_b2a")
    ),
}


def task_metrics(
    target: str, outputs: np.ndarray, y: np.ndarray, names: tuple[str, ...] | None = None
) -> dict[str, float]:
    """Metrics of ``outputs`` against targets ``y`` for a task of kind ``target``.

    multiclass: accuracy, balanced_accuracy, f1_macro, f1_micro; binary: the same plus
    auroc; multilabel: f1_macro, f1_micro, auroc (macro over labels with both classes);
    regression: mse, mae, r2; retrieval: recall@1/5/10 and mrr, each as the mean of both
    directions and per direction (:func:`retrieval_metrics`). AUROC and R^2 are NaN where
    undefined (one class present, constant targets). ``names`` limits the result to those
    metrics.
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
    if target == "retrieval":
        full = retrieval_metrics(outputs, y)
        return {k: full[k] for k in wanted}
    return _classification(target, outputs, y, wanted)


def task_metric(name: str, target: str, outputs: np.ndarray, y: np.ndarray) -> float:
    """The single metric ``name`` (see :func:`task_metrics`)."""
    return task_metrics(target, outputs, y, names=(name,))[name]


def predictions(target: str, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels of a classification ``target`` from logit-like ``outputs``, with the
    scores that rank them (``None`` for multiclass): multiclass takes the arg-max, binary
    the sign of the logit (or of the logit difference of two columns), multilabel the sign
    of each label's logit."""
    if target not in ("multiclass", "binary", "multilabel"):
        raise HeteroError(
            f"predictions: expected a classification target (multiclass, binary, multilabel), "
            f"got {target!r}"
        )
    if target == "multiclass":
        return outputs.argmax(1), None
    if target == "binary":
        if outputs.ndim == 2 and outputs.shape[1] == 2:
            scores = outputs[:, 1] - outputs[:, 0]
        else:
            scores = outputs.reshape(-1)
        return (scores > 0).astype(np.int64), scores
    return (outputs > 0).astype(np.int64), outputs


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

    pred, scores = predictions(target, outputs)
    if target != "multilabel":
        y = y.reshape(-1)
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
    if not np.isfinite(scores).all():  # a diverged model: no ranking to score
        return float("nan")
    if target == "binary":
        return float(skm.roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan")
    cols = [j for j in range(y.shape[1]) if len(np.unique(y[:, j])) == 2]
    if not cols:
        return float("nan")
    return float(np.mean([skm.roc_auc_score(y[:, j], scores[:, j]) for j in cols]))


def retrieval_ranks(similarity: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rank (1 = first) of the best-placed match of every query (row of ``similarity``).

    ``similarity[i, j]`` scores gallery item ``j`` for query ``i``; query ``i`` and item
    ``j`` match when ``y[i] == y[j]`` (the same row, when ``y`` holds row indices). The rank
    is 1 + the number of non-matching items scored at least as high as the best match: ties
    count against the query, so constant scores do not look perfect.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] != y.shape[0]:
        raise HeteroError(
            f"retrieval: similarity of shape {sim.shape} does not fit {y.shape[0]} labels; "
            "expected (n, n)"
        )
    ranks = np.empty(sim.shape[0], dtype=np.int64)
    for start in range(0, sim.shape[0], 1024):  # bounded memory for large splits
        rows = sim[start : start + 1024]
        match = y[start : start + 1024, None] == y[None, :]
        best = np.where(match, rows, -np.inf).max(axis=1, keepdims=True)
        ranks[start : start + 1024] = 1 + np.sum(~match & (rows >= best), axis=1)
    return ranks


def retrieval_metrics(outputs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Recall@1/5/10 and mean reciprocal rank of a retrieval split, in both directions.

    Parameters
    ----------
    outputs : ndarray of shape (n, 2, E)
        Embeddings of the two sides, row ``i`` of the split: ``outputs[:, 0]`` of modality
        ``a``, ``outputs[:, 1]`` of ``b``. Scores are dot products (normalise the
        embeddings first for cosine similarity); the gallery of a direction is every row of
        the split on the other side.
    y : ndarray of shape (n,)
        Items match when their ``y`` is equal (row indices for ``match: pair``, class labels
        for ``match: label``).

    Returns
    -------
    dict
        ``recall@k_a2b`` (queries from ``a``, gallery ``b``), ``recall@k_b2a``, ``mrr_a2b``,
        ``mrr_b2a`` and their means over the two directions, ``recall@k`` and ``mrr``
        (k = 1, 5, 10). ``recall@k`` is the share of queries with a match among the first k
        items (:func:`retrieval_ranks`); ``mrr`` the mean of ``1 / rank``.
    """
    out = np.asarray(outputs, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if out.ndim != 3 or out.shape[1] != 2 or out.shape[0] != y.shape[0]:
        raise HeteroError(
            f"retrieval: outputs of shape {out.shape} do not fit {y.shape[0]} labels; "
            "expected (n, 2, embedding) with one row per label"
        )
    sim = out[:, 0] @ out[:, 1].T  # [i, j]: query a_i against gallery b_j
    metrics: dict[str, float] = {}
    for side, s in (("_a2b", sim), ("_b2a", sim.T)):
        ranks = retrieval_ranks(s, y)
        for k in (1, 5, 10):
            metrics[f"recall@{k}{side}"] = float(np.mean(ranks <= k))
        metrics[f"mrr{side}"] = float(np.mean(1.0 / ranks))
    for base in ("recall@1", "recall@5", "recall@10", "mrr"):
        metrics[base] = 0.5 * (metrics[f"{base}_a2b"] + metrics[f"{base}_b2a"])
    return metrics
