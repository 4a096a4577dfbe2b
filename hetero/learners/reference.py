"""A small torch-free reference learner: a numpy MLP trained with AdamW and early stopping.

Architecture (per unit)::

    x  flattened, standardised with train statistics (the two modalities of an interaction
       unit are concatenated), conceptually zero-padded to a common width
    -> input: per-feature affine  a * x + c                  (unit-specific, d + d params)
    -> body:  Linear(d, hidden) -> ReLU -> Linear(hidden, hidden) -> ReLU   (transferable)
    -> head:  Linear(hidden, n_outputs)                       (task-specific)

The body is the transferable representation. Its first layer is indexed by input feature:
on transfer between units of different widths the rows are aligned by feature index (as if
both inputs were zero-padded to a common width) and rows the source lacks keep their fresh
initialisation. ``mode="frozen"`` trains only the per-feature input affine and a fresh head
on the target, so the transfer score says how well the source's features serve the target.
The input affine is never transferred (it starts at ``a = 1, c = 0``), but the head is drawn
from the run's seed: in a self-transfer baseline the same draw its body was trained with.
``mode="frozen_fresh"`` (:data:`FROZEN_FRESH`, the ``frozen_fresh`` estimator's mode) draws
the initialisation and batch order from ``seed + FRESH_SEED_OFFSET`` instead, for a
self-transfer exactly as for a foreign source.
It exists so that the engine and its tests run without torch; it is fast (milliseconds per
epoch on thousands of samples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hetero.errors import LearnerError
from hetero.learners.base import FitResult, Learner, TransferState
from hetero.learners.registry import register_learner
from hetero.scoring import task_metric

if TYPE_CHECKING:  # pragma: no cover
    from hetero.suite import Task, Unit

__all__ = ["FRESH_SEED_OFFSET", "FROZEN_FRESH", "FROZEN_MODES", "ReferenceLearner"]

_EPS = 1e-12

#: Frozen-body mode whose input projection and head are always re-initialised (never
#: copied from the source state, even when shapes allow), from ``seed + FRESH_SEED_OFFSET``:
#: a stream no scratch run uses, so a self-transfer does not get back the very input and
#: head initialisation its body was trained with (a head start of the baseline) and starts
#: exactly as a transfer from a foreign source does. Learners that support it accept it in
#: ``fit`` (the ``frozen_fresh`` estimator's transfer mode).
FROZEN_FRESH = "frozen_fresh"
#: Offset of the seed that draws the non-body part of a :data:`FROZEN_FRESH` run.
FRESH_SEED_OFFSET = 2**31  # torch seeds its CPU generator modulo 2**32
#: Modes that keep the transferred body fixed.
FROZEN_MODES: tuple[str, ...] = ("frozen", FROZEN_FRESH)


def _unit_inputs(task: Task, unit: Unit, split: str) -> tuple[np.ndarray, np.ndarray]:
    missing = [m for m in unit.modalities if m not in task.data.arrays]
    if missing:
        raise LearnerError(f"task {task.name!r} has no modality {missing[0]!r} (unit {unit.label})")
    arrays, y = task.data.split(split, unit.modalities)
    parts = []
    for name in unit.modalities:
        a = np.asarray(arrays[name], dtype=np.float64)
        parts.append(a.reshape(a.shape[0], -1))
    return np.concatenate(parts, axis=1), np.asarray(y)


def _loss_kind(task: Task) -> str:
    loss = getattr(task, "loss", None)
    if loss in ("cross_entropy", "binary_cross_entropy", "mse", "l1"):
        return loss
    target = getattr(task, "target", "multiclass")
    return {"multiclass": "cross_entropy", "regression": "mse"}.get(target, "binary_cross_entropy")


def _targets(y: np.ndarray, kind: str, n_out: int) -> np.ndarray:
    if kind == "cross_entropy":
        return y.astype(np.int64).reshape(-1)
    return y.astype(np.float64).reshape(len(y), n_out)


def _loss_and_grad(
    z: np.ndarray, t: np.ndarray, kind: str, need_grad: bool = True
) -> tuple[float, np.ndarray | None]:
    n = z.shape[0]
    if kind == "cross_entropy":
        zmax = z.max(axis=1, keepdims=True)
        logp = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(n), t].mean()
        if not need_grad:
            return float(loss), None
        g = np.exp(logp)
        g[np.arange(n), t] -= 1.0
        return float(loss), g / n
    if kind == "binary_cross_entropy":
        # log(1 + exp(z)) - t z, stable
        loss = (np.logaddexp(0.0, z) - t * z).mean()
        if not need_grad:
            return float(loss), None
        p = 1.0 / (1.0 + np.exp(-z))
        return float(loss), (p - t) / z.size
    diff = z - t
    if kind == "l1":
        if not need_grad:
            return float(np.abs(diff).mean()), None
        return float(np.abs(diff).mean()), np.sign(diff) / z.size
    loss = (diff**2).mean()
    if not need_grad:
        return float(loss), None
    return float(loss), 2.0 * diff / z.size


@register_learner("reference")
class ReferenceLearner(Learner):
    """Numpy MLP learner (per-feature input affine, two-layer body, head).

    See the module docstring for the architecture and how transfer works.

    Parameters
    ----------
    hidden : int
        Width of the body's layers.
    lr : float
        AdamW learning rate.
    weight_decay : float
        Decoupled weight decay (weight matrices only).
    batch_size : int
        Minibatch size.
    max_epochs : int
        Epoch cap.
    patience : int
        Stop after this many epochs without a validation-loss improvement.
    min_delta : float
        Improvement smaller than this does not reset patience.

    Attributes
    ----------
    params_ : dict of str to ndarray
        Fitted parameters (best checkpoint).
    mean_, scale_ : ndarray
        Input standardisation from the train split.
    """

    name = "reference"
    supports_interactions = True

    def __init__(
        self,
        hidden: int = 32,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 60,
        patience: int = 6,
        min_delta: float = 1e-4,
    ):
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta

    @staticmethod
    def check_mode(mode: str) -> str:
        """The base modes plus :data:`FROZEN_FRESH`."""
        return mode if mode == FROZEN_FRESH else Learner.check_mode(mode)

    def parameter_roles(self) -> dict[str, str]:
        return {
            "input.a": "input",
            "input.c": "input",
            "body.W1": "body",
            "body.b1": "body",
            "body.W2": "body",
            "body.b2": "body",
            "head.W": "head",
            "head.b": "head",
        }

    # -- model -------------------------------------------------------------------------------
    def _init(self, rng: np.random.Generator, d: int, n_out: int) -> dict[str, np.ndarray]:
        h = int(self.hidden)
        return {
            "input.a": np.ones(d),
            "input.c": np.zeros(d),
            "body.W1": rng.normal(0.0, np.sqrt(2.0 / d), size=(d, h)),
            "body.b1": np.zeros(h),
            "body.W2": rng.normal(0.0, np.sqrt(2.0 / h), size=(h, h)),
            "body.b2": np.zeros(h),
            "head.W": rng.normal(0.0, np.sqrt(1.0 / h), size=(h, n_out)),
            "head.b": np.zeros(n_out),
        }

    @staticmethod
    def _forward(p: dict[str, np.ndarray], x: np.ndarray):
        u = x * p["input.a"] + p["input.c"]
        a1 = u @ p["body.W1"] + p["body.b1"]
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ p["body.W2"] + p["body.b2"]
        h2 = np.maximum(a2, 0.0)
        z = h2 @ p["head.W"] + p["head.b"]
        return z, (x, u, a1, h1, a2, h2)

    @staticmethod
    def _backward(p, cache, gz, need_body: bool = True) -> dict[str, np.ndarray]:
        x, u, a1, h1, a2, h2 = cache
        g = {"head.W": h2.T @ gz, "head.b": gz.sum(axis=0)}
        ga2 = (gz @ p["head.W"].T) * (a2 > 0)
        ga1 = (ga2 @ p["body.W2"].T) * (a1 > 0)
        gu = ga1 @ p["body.W1"].T
        g["input.a"] = (gu * x).sum(axis=0)
        g["input.c"] = gu.sum(axis=0)
        if need_body:
            g["body.W2"] = h1.T @ ga2
            g["body.b2"] = ga2.sum(axis=0)
            g["body.W1"] = u.T @ ga1
            g["body.b1"] = ga1.sum(axis=0)
        return g

    def _import(
        self, params: dict[str, np.ndarray], state: TransferState, mode: str, keep_head: bool
    ) -> None:
        for key in ("body.b1", "body.W2", "body.b2", "body.W1"):
            if key not in state or state[key].shape[-1] != params[key].shape[-1]:
                raise LearnerError(
                    f"transferred state has no compatible {key!r} "
                    f"(expected hidden size {params[key].shape[-1]}; hidden sizes must agree)"
                )
        for key in ("body.b1", "body.W2", "body.b2"):
            params[key] = np.array(state[key], dtype=np.float64)
        src = state["body.W1"]  # rows aligned by feature index (zero-padding semantics)
        rows = min(src.shape[0], params["body.W1"].shape[0])
        params["body.W1"][:rows] = src[:rows]
        if keep_head and mode == "finetune":
            if "head.W" not in state or state["head.W"].shape != params["head.W"].shape:
                raise LearnerError("keep_head: the transferred head does not fit this task")
            params["head.W"] = np.array(state["head.W"], dtype=np.float64)
            params["head.b"] = np.array(state["head.b"], dtype=np.float64)

    # -- protocol ------------------------------------------------------------------------------
    def fit(
        self,
        task: Task,
        unit: Unit,
        *,
        seed: int = 0,
        init_state: TransferState | None = None,
        mode: str = "finetune",
        keep_head: bool = False,
        max_epochs: int | None = None,
        return_state: bool = False,
    ) -> FitResult:
        # The matrices are tiny: a multi-threaded BLAS only adds overhead (and oversubscribes
        # a shared machine badly), so every run uses one BLAS thread.
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return self._fit(task, unit, seed=seed, init_state=init_state, mode=mode,
                             keep_head=keep_head, max_epochs=max_epochs,
                             return_state=return_state)  # fmt: skip
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(task, unit, seed=seed, init_state=init_state, mode=mode,
                             keep_head=keep_head, max_epochs=max_epochs,
                             return_state=return_state)  # fmt: skip

    def _fit(
        self,
        task: Task,
        unit: Unit,
        *,
        seed: int = 0,
        init_state: TransferState | None = None,
        mode: str = "finetune",
        keep_head: bool = False,
        max_epochs: int | None = None,
        return_state: bool = False,
    ) -> FitResult:
        self.check_fit(task, unit, mode, init_state)
        if mode == FROZEN_FRESH and init_state is None:
            raise LearnerError(f"mode={mode!r} needs an init_state (the body to freeze)")
        kind = _loss_kind(task)
        n_out = int(task.n_outputs)
        x_tr, y_tr = _unit_inputs(task, unit, "train")
        x_va, y_va = _unit_inputs(task, unit, "val")
        self.mean_ = x_tr.mean(axis=0)
        scale = x_tr.std(axis=0)
        self.scale_ = np.where(scale > 1e-8, scale, 1.0)
        x_tr = (x_tr - self.mean_) / self.scale_
        x_va = (x_va - self.mean_) / self.scale_
        t_tr = _targets(y_tr, kind, n_out)
        t_va = _targets(y_va, kind, n_out)
        self.loss_kind_ = kind
        self.metric_ = getattr(task, "metric", "accuracy")
        self.target_ = task.target

        init_seed = int(seed) + (FRESH_SEED_OFFSET if mode == FROZEN_FRESH else 0)
        rng = np.random.default_rng([init_seed, 0x4E7])
        params = self._init(rng, x_tr.shape[1], n_out)  # always drawn: common random numbers
        if init_state is not None:  # the input affine stays fresh in every mode
            self._import(params, init_state, mode, keep_head)
        frozen = init_state is not None and mode in FROZEN_MODES
        trainable = [k for k in params if not (frozen and k.startswith("body."))]

        m = {k: np.zeros_like(params[k]) for k in trainable}
        v = {k: np.zeros_like(params[k]) for k in trainable}
        b1, b2, step = 0.9, 0.999, 0
        cap = int(self.max_epochs if max_epochs is None else max_epochs)
        if cap < 1:
            raise LearnerError(f"max_epochs must be >= 1, got {cap}")
        n = x_tr.shape[0]
        bs = max(1, min(int(self.batch_size), n))
        best = (np.inf, 0, {k: a.copy() for k, a in params.items()})
        curve: list[float] = []
        stale = 0
        converged = False
        train_loss = float("nan")
        for epoch in range(1, cap + 1):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                z, cache = self._forward(params, x_tr[idx])
                loss, gz = _loss_and_grad(z, t_tr[idx], kind)
                total += loss * len(idx)
                grads = self._backward(params, cache, gz, need_body=not frozen)
                step += 1
                lr_t = self.lr * np.sqrt(1 - b2**step) / (1 - b1**step)
                for k in trainable:
                    m[k] = b1 * m[k] + (1 - b1) * grads[k]
                    v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
                    params[k] -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-8)
                    if self.weight_decay and ".W" in k:
                        params[k] -= self.lr * self.weight_decay * params[k]
            train_loss = total / n
            z_va, _ = self._forward(params, x_va)
            val_loss, _ = _loss_and_grad(z_va, t_va, kind, need_grad=False)
            if not np.isfinite(val_loss):
                raise LearnerError(f"{unit.label}: training diverged at epoch {epoch}")
            curve.append(val_loss)
            improved = val_loss < best[0] - self.min_delta
            if val_loss < best[0]:  # keep the best checkpoint; patience needs min_delta
                best = (val_loss, epoch, {k: a.copy() for k, a in params.items()})
            if improved:
                stale = 0
            else:
                stale += 1
                if stale >= self.patience:
                    converged = True
                    break
        self.params_ = best[2]
        z_va, _ = self._forward(self.params_, x_va)
        val_loss, _ = _loss_and_grad(z_va, t_va, kind, need_grad=False)
        metric = task_metric(self.metric_, self.target_, z_va, y_va)
        return FitResult(
            val_loss=val_loss,
            val_metric=metric,
            curve=curve,
            epochs=len(curve),
            best_epoch=best[1],
            converged=converged,
            state=self.export_state() if return_state else None,
            info={"train_loss": train_loss},
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise LearnerError("the learner is not fitted; call fit first")

    def evaluate(self, task: Task, unit: Unit, split: str = "val") -> tuple[float, float]:
        self._check_fitted()
        x, y = _unit_inputs(task, unit, split)
        x = (x - self.mean_) / self.scale_
        z, _ = self._forward(self.params_, x)
        t = _targets(y, self.loss_kind_, z.shape[1])
        loss, _ = _loss_and_grad(z, t, self.loss_kind_, need_grad=False)
        return loss, task_metric(self.metric_, self.target_, z, y)

    def export_state(self) -> TransferState:
        self._check_fitted()
        return {k: np.array(v, dtype=np.float64) for k, v in self.params_.items()}
