"""The quality gate of a measurement: did a scratch body learn anything?

A transfer from a body that did not train measures nothing. The reference point is the
**class-prior predictor**: the validation loss of predicting, for every sample, the training
split's class frequencies (cross-entropy), positive rates (binary cross-entropy), mean (MSE)
or median (L1). A scratch run fails the gate when

* its best validation loss is not below ``GATE_RATIO`` times that loss (:func:`gate`), or
* it is far worse than the unit's other seeds (:func:`outlier`): its loss is above
  ``OUTLIER_FACTOR`` times their median *and* more than ``OUTLIER_SHARE`` of the way from
  their median up to the prior's loss (both, so that a weak unit whose seeds all sit just
  below the prior is not retrained for noise).

A body that fails is retrained with another seed (within ``--retries``; transfers from a
unit's bodies wait until all its seeds have passed or used up their retries) and, if it
still fails, kept but counted and reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "GATE_RATIO",
    "OUTLIER_FACTOR",
    "OUTLIER_SHARE",
    "describe",
    "gate",
    "outlier",
    "prior_loss",
]

#: A scratch run must reach a validation loss below this share of the prior's loss.
GATE_RATIO = 0.9
#: An outlier's loss is above this multiple of the median of its unit's other seeds ...
OUTLIER_FACTOR = 1.5
#: ... and more than this share of the way from that median up to the prior's loss.
OUTLIER_SHARE = 0.5


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


def outlier(val_loss: float, peer_losses: Any, prior: float | None) -> dict[str, Any] | None:
    """``{"peer_loss", "peer_share", "outlier"}`` of a scratch run against the validation
    losses of its unit's other seeds (their median, and how far the run lies from it on
    the way to the prior's loss); None when it cannot be judged: no other seed, no prior
    loss, or other seeds that are not better than the prior themselves."""
    peers = np.asarray([p for p in peer_losses if p is not None and np.isfinite(p)], dtype=float)
    if peers.size == 0 or prior is None or not np.isfinite(val_loss):
        return None
    med = float(np.median(peers))
    if not med < prior:
        return None
    share = (float(val_loss) - med) / (prior - med)
    far = share > OUTLIER_SHARE and float(val_loss) > OUTLIER_FACTOR * med
    return {"peer_loss": med, "peer_share": share, "outlier": bool(far)}


def describe(report: Any) -> str | None:
    """One sentence on the bodies that failed the gate (a measurement's ``quality_gate``
    summary), None when none did."""
    failed = [f for f in (report or {}).get("failed") or [] if isinstance(f, dict)]
    if not failed:
        return None
    far = sum(f.get("reason") == "outlier" for f in failed)
    kinds = []
    if len(failed) - far:
        kinds.append(f"{len(failed) - far} not below {report.get('ratio')} x the class-prior loss")
    if far:
        kinds.append(f"{far} far worse than their unit's other seeds")
    units = ", ".join(sorted({str(f.get("unit")) for f in failed}))
    most = max(int(f.get("reseeds") or 0) for f in failed)
    tries = "without a retry" if most == 0 else f"after up to {most} retraining(s) each"
    return (
        f"{len(failed)} of {report.get('scratch_runs')} scratch bodies failed the quality gate "
        f"{tries} ({'; '.join(kinds)}): {units}"
    )
