"""The quality gate of a measurement: did a scratch body learn anything?

A transfer from a body that did not train measures nothing. The reference point is the
**class-prior predictor**: the validation loss of predicting, for every sample, the training
split's class frequencies (cross-entropy), positive rates (binary cross-entropy), mean (MSE)
or median (L1). A scratch run passes when its best validation loss is below ``GATE_RATIO``
times that loss; one that fails is retrained with another seed (within ``--retries``) and,
if it still fails, kept but counted and reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GATE_RATIO", "gate", "prior_loss"]

#: A scratch run must reach a validation loss below this share of the prior's loss.
GATE_RATIO = 0.9


def prior_loss(task: Any) -> float | None:
    """Validation loss of the training split's prior predictor (None: loss not covered)."""
    y = np.asarray(task.data.y)
    tr, va = np.asarray(task.data.train_idx), np.asarray(task.data.val_idx)
    if len(tr) == 0 or len(va) == 0:
        return None
    loss = task.loss
    if loss == "cross_entropy":
        k = int(task.n_outputs)
        counts = np.bincount(y[tr].astype(np.int64), minlength=k)[:k].astype(float)
        p = (counts + 1.0) / (counts.sum() + k)  # add-one: a class unseen in training
        return float(-np.mean(np.log(p[y[va].astype(np.int64)])))
    if loss == "binary_cross_entropy":
        yt = y[tr].reshape(len(tr), -1).astype(float)
        yv = y[va].reshape(len(va), -1).astype(float)
        p = np.clip((yt.sum(0) + 0.5) / (len(tr) + 1.0), 1e-6, 1 - 1e-6)
        return float(-np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p)))
    yt = y[tr].reshape(len(tr), -1).astype(float)
    yv = y[va].reshape(len(va), -1).astype(float)
    if loss == "mse":
        return float(np.mean((yv - yt.mean(0)) ** 2))
    if loss == "l1":
        return float(np.mean(np.abs(yv - np.median(yt, axis=0))))
    return None


def gate(task: Any, val_loss: float) -> dict[str, Any]:
    """``{"prior_loss", "ratio", "passed"}`` of a scratch run's validation loss."""
    prior = prior_loss(task)
    if prior is None or not np.isfinite(val_loss) or prior <= 0:
        return {"prior_loss": prior, "ratio": None, "passed": True}
    ratio = float(val_loss) / prior
    return {"prior_loss": prior, "ratio": ratio, "passed": bool(ratio < GATE_RATIO)}
