"""A small torch-free reference learner: a numpy MLP trained with AdamW and early stopping.

Architecture (per unit)::

    x  flattened, standardised with train statistics unless its modality is declared
       ``standardize: false`` (the two modalities of an interaction unit are
       concatenated), conceptually zero-padded to a common width
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
``mode="ridge"`` and ``mode="logme"`` (the closed-form estimators,
:mod:`hetero.measure.closed_form`) train nothing: the source body, with the input affine at
its starting identity, computes the second hidden layer's features of the target's
standardised train and validation inputs, and a closed-form probe on them is the score.
It exists so that the engine and its tests run without torch; it is fast (milliseconds per
epoch on thousands of samples).

Retrieval tasks (``target: retrieval``, modalities ``a`` then ``b``) train two towers that
end in L2-normalised embeddings (``hidden`` wide) compared by the symmetric InfoNCE loss
(:func:`info_nce_numpy`) with a learned log temperature ``head.t`` (CLIP: starts at
``log(1 / 0.07)``, clamped to ``[0, log 100]``); the metric is the task's (recall@1 by
default, :mod:`hetero.scoring`).

* interaction unit ``task/a+b``: both modalities through the *same* body, each with its own
  input affine (``input.a``/``input.c`` for ``a``, ``input.a2``/``input.c2`` for ``b``; the
  body's first layer has ``max(d_a, d_b)`` rows, each side using its first ``d`` rows) and
  its own projection (``head.Wa``/``head.ba``, ``head.Wb``/``head.bb``);
* unimodal unit ``task/a``: ``a`` through input affine, body and ``head.Wa``; the other
  modality (the *partner*) through a small encoder of the head (``head.WG``/``head.bG``,
  ReLU, ``head.Wb``/``head.bb``) trained jointly. The unit's own modality is the only one
  that reaches the body, so a transfer changes only its side; the partner encoder, like
  every head, starts fresh on transfer and is trained in ``frozen`` mode too.

Embeddings are stacked ``[own side, other side]`` (``[a, b]`` for the pair). The
closed-form modes (``ridge``, ``logme``) have no labels to read out on a retrieval task;
there the probe predicts the *other side's* standardised input from the source body's
features of a side (:func:`closed_form_retrieval_score`): for ``task/a`` from ``a``'s
features, for ``task/a+b`` the mean of both directions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hetero.errors import LearnerError
from hetero.learners.base import FitResult, Learner, TransferState
from hetero.learners.registry import register_learner
from hetero.measure.closed_form import CLOSED_FORM_MODES, closed_form_score, target_matrix
from hetero.scoring import retrieval_metrics, task_metric

if TYPE_CHECKING:  # pragma: no cover
    from hetero.suite import Task, Unit

__all__ = [
    "FRESH_SEED_OFFSET",
    "FROZEN_FRESH",
    "FROZEN_MODES",
    "ReferenceLearner",
    "closed_form_retrieval_score",
    "info_nce_numpy",
]

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
#: Role of every parameter key (classification and retrieval models).
_ROLES: dict[str, str] = {
    "input.a": "input",
    "input.c": "input",
    "body.W1": "body",
    "body.b1": "body",
    "body.W2": "body",
    "body.b2": "body",
    "head.W": "head",
    "head.b": "head",
    # retrieval tasks (module docstring)
    "input.a2": "input",
    "input.c2": "input",
    "head.Wa": "head",
    "head.ba": "head",
    "head.Wb": "head",
    "head.bb": "head",
    "head.WG": "head",
    "head.bG": "head",
    "head.t": "head",
}
_CLASSIFICATION_KEYS = tuple(_ROLES)[:8]
_LOGIT_SCALE_INIT = float(np.log(1 / 0.07))  # CLIP
_LOGIT_SCALE_MAX = float(np.log(100.0))


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


def _input_stats(task: Task, names, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and scale of flattened train inputs ``x`` (modalities ``names``
    concatenated in order); a modality declared ``standardize: false`` keeps mean 0 and
    scale 1, constant columns scale 1."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    raw = ~task.standardized_columns(names)
    mean[raw], scale[raw] = 0.0, 1.0
    return mean, scale


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


class _AdamW:
    """AdamW state of one fit: bias-corrected Adam steps, decoupled weight decay on the
    weight matrices (``.W``) only."""

    def __init__(self, params, trainable, lr: float, weight_decay: float):
        self.keys = list(trainable)
        self.lr, self.weight_decay, self.t = lr, weight_decay, 0
        self.m = {k: np.zeros_like(params[k]) for k in self.keys}
        self.v = {k: np.zeros_like(params[k]) for k in self.keys}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        b1, b2 = 0.9, 0.999
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for k in self.keys:
            self.m[k] = b1 * self.m[k] + (1 - b1) * grads[k]
            self.v[k] = b2 * self.v[k] + (1 - b2) * grads[k] ** 2
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-8)
            if self.weight_decay and ".W" in k:
                params[k] -= self.lr * self.weight_decay * params[k]


class _EarlyStopping:
    """Validation curve, best checkpoint (a copy of the parameters) and patience of a fit."""

    def __init__(self, params: dict[str, np.ndarray], patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.best = (np.inf, 0, {k: a.copy() for k, a in params.items()})
        self.curve: list[float] = []
        self.stale, self.converged = 0, False

    def update(self, val_loss: float, epoch: int, params: dict[str, np.ndarray]) -> bool:
        """Record an epoch's validation loss; True when patience has run out."""
        self.curve.append(val_loss)
        improved = val_loss < self.best[0] - self.min_delta
        if val_loss < self.best[0]:  # keep the best checkpoint; patience needs min_delta
            self.best = (val_loss, epoch, {k: a.copy() for k, a in params.items()})
        if improved:
            self.stale = 0
            return False
        self.stale += 1
        self.converged = self.stale >= self.patience
        return self.converged

    def result(
        self, val_loss: float, metric: float, train_loss: float, state: TransferState | None
    ) -> FitResult:
        """The fit's result: the best checkpoint's scores, the curve and the stopping."""
        return FitResult(val_loss=val_loss, val_metric=metric, curve=self.curve,
                         epochs=len(self.curve), best_epoch=self.best[1],
                         converged=self.converged, state=state,
                         info={"train_loss": train_loss})  # fmt: skip


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
        """The base modes plus :data:`FROZEN_FRESH` and the closed-form modes."""
        if mode == FROZEN_FRESH or mode in CLOSED_FORM_MODES:
            return mode
        return Learner.check_mode(mode)

    def parameter_roles(self) -> dict[str, str]:
        """Role of every key of :meth:`export_state`: those of the fitted model (a retrieval
        fit has its own, see the module docstring); before a fit, a classification model's."""
        keys = self.params_ if hasattr(self, "params_") else _CLASSIFICATION_KEYS
        return {k: _ROLES[k] for k in keys}

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
            heads = [k for k in params if k.startswith("head.")]
            if any(k not in state or state[k].shape != params[k].shape for k in heads):
                raise LearnerError("keep_head: the transferred head does not fit this task")
            for k in heads:
                params[k] = np.array(state[k], dtype=np.float64)

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
        if (mode == FROZEN_FRESH or mode in CLOSED_FORM_MODES) and init_state is None:
            raise LearnerError(f"mode={mode!r} needs an init_state (the body to freeze)")
        if mode in CLOSED_FORM_MODES:
            assert init_state is not None  # checked above
            if task.target == "retrieval":
                return self._fit_closed_form_retrieval(task, unit, seed, init_state, mode)
            return self._fit_closed_form(task, unit, seed, init_state, mode)
        if task.target == "retrieval":
            return self._fit_retrieval(
                task, unit, seed=seed, init_state=init_state, mode=mode, keep_head=keep_head,
                max_epochs=max_epochs, return_state=return_state,
            )  # fmt: skip
        self.retrieval_: list[str] | None = None
        kind = _loss_kind(task)
        n_out = int(task.n_outputs)
        x_tr, y_tr = _unit_inputs(task, unit, "train")
        x_va, y_va = _unit_inputs(task, unit, "val")
        self.mean_, self.scale_ = _input_stats(task, unit.modalities, x_tr)
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

        opt = _AdamW(params, trainable, self.lr, self.weight_decay)
        cap = int(self.max_epochs if max_epochs is None else max_epochs)
        if cap < 1:
            raise LearnerError(f"max_epochs must be >= 1, got {cap}")
        n = x_tr.shape[0]
        bs = max(1, min(int(self.batch_size), n))
        stop = _EarlyStopping(params, self.patience, self.min_delta)
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
                opt.step(params, grads)
            train_loss = total / n
            z_va, _ = self._forward(params, x_va)
            val_loss, _ = _loss_and_grad(z_va, t_va, kind, need_grad=False)
            if not np.isfinite(val_loss):
                raise LearnerError(f"{unit.label}: training diverged at epoch {epoch}")
            if stop.update(val_loss, epoch, params):
                break
        self.params_ = stop.best[2]
        z_va, _ = self._forward(self.params_, x_va)
        val_loss, _ = _loss_and_grad(z_va, t_va, kind, need_grad=False)
        metric = task_metric(self.metric_, self.target_, z_va, y_va)
        return stop.result(val_loss, metric, train_loss,
                           self.export_state() if return_state else None)  # fmt: skip

    def _fit_closed_form(
        self, task: Task, unit: Unit, seed: int, init_state: TransferState, mode: str
    ) -> FitResult:
        """Closed-form probe on the frozen source body's features of the target's inputs
        (the input affine at its start ``a = 1, c = 0``, so nothing is trained)."""
        kind = _loss_kind(task)
        n_out = int(task.n_outputs)
        x_tr, y_tr = _unit_inputs(task, unit, "train")
        x_va, y_va = _unit_inputs(task, unit, "val")
        mean, scale = _input_stats(task, unit.modalities, x_tr)
        rng = np.random.default_rng([int(seed), 0x4E7])
        params = self._init(rng, x_tr.shape[1], n_out)  # body rows the source lacks: fresh
        self._import(params, init_state, "frozen", keep_head=False)

        def features(x: np.ndarray) -> np.ndarray:
            return self._forward(params, (x - mean) / scale)[1][5]  # second hidden layer

        score, info = closed_form_score(
            mode,
            features(x_tr),
            target_matrix(y_tr, kind, n_out),
            features(x_va),
            target_matrix(y_va, kind, n_out),
        )
        # a closed-form fit trains no head: evaluate() refuses it instead of scoring junk
        for attr in ("params_", "mean_", "scale_"):
            self.__dict__.pop(attr, None)
        return FitResult.closed_form(score, mode, info)

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise LearnerError("the learner is not fitted; call fit first")

    # -- retrieval -----------------------------------------------------------------------------
    def _fit_retrieval_stats(self, task: Task, unit: Unit) -> list[str]:
        """Train-split mean and scale of both sides' flattened inputs; the side names."""
        names = _retrieval_sides(task, unit)
        arrays, _ = task.data.split("train", names)
        self.stats_: list[tuple[np.ndarray, np.ndarray]] = []
        for name in names:
            a = np.asarray(arrays[name], dtype=np.float64)
            self.stats_.append(_input_stats(task, [name], a.reshape(a.shape[0], -1)))
        return names

    def _fit_closed_form_retrieval(
        self, task: Task, unit: Unit, seed: int, init_state: TransferState, mode: str
    ) -> FitResult:
        """Closed-form probe of a retrieval unit (module docstring): the frozen source body
        (input affine at its start, first-layer rows aligned by feature index) computes each
        side's features; a probe predicts the other side's input from them."""
        self._fit_retrieval_stats(task, unit)
        x_tr, _ = self._retrieval_inputs(task, unit, "train")
        x_va, _ = self._retrieval_inputs(task, unit, "val")
        rng = np.random.default_rng([int(seed), 0x4E7])
        params = self._init_retrieval(rng, [x.shape[1] for x in x_tr], pair=True)
        self._import(params, init_state, "frozen", keep_head=False)

        def features(x: np.ndarray) -> np.ndarray:
            h1 = np.maximum(x @ params["body.W1"][: x.shape[1]] + params["body.b1"], 0.0)
            return np.maximum(h1 @ params["body.W2"] + params["body.b2"], 0.0)

        sides = 2 if len(unit.modalities) == 2 else 1
        score, info = closed_form_retrieval_score(
            mode,
            [features(x) for x in x_tr[:sides]],
            x_tr,
            [features(x) for x in x_va[:sides]],
            x_va,
        )
        for attr in ("params_", "mean_", "scale_", "stats_", "retrieval_"):
            self.__dict__.pop(attr, None)  # evaluate() refuses a fit that trained nothing
        return FitResult.closed_form(score, mode, info)

    def _retrieval_inputs(self, task: Task, unit: Unit, split: str) -> tuple[list, np.ndarray]:
        """Standardised ``[own side, other side]`` inputs and the match labels of a split."""
        names = _retrieval_sides(task, unit)
        arrays, y = task.data.split(split, names)
        xs = []
        for name, (mean, scale) in zip(names, self.stats_, strict=True):
            a = np.asarray(arrays[name], dtype=np.float64)
            xs.append((a.reshape(a.shape[0], -1) - mean) / scale)
        return xs, np.asarray(y).reshape(-1)

    def _init_retrieval(
        self, rng: np.random.Generator, dims: list[int], pair: bool
    ) -> dict[str, np.ndarray]:
        h = int(self.hidden)
        p = self._init(rng, max(dims) if pair else dims[0], 1)  # input/body as for classes
        del p["head.W"], p["head.b"]
        p["input.a"], p["input.c"] = np.ones(dims[0]), np.zeros(dims[0])
        if pair:
            p["input.a2"], p["input.c2"] = np.ones(dims[1]), np.zeros(dims[1])
        else:
            p["head.WG"] = rng.normal(0.0, np.sqrt(2.0 / dims[1]), size=(dims[1], h))
            p["head.bG"] = np.zeros(h)
        for side in "ab":
            p[f"head.W{side}"] = rng.normal(0.0, np.sqrt(1.0 / h), size=(h, h))
            p[f"head.b{side}"] = np.zeros(h)
        p["head.t"] = np.array([_LOGIT_SCALE_INIT])
        return p

    @staticmethod
    def _tower(p: dict[str, np.ndarray], x: np.ndarray, second: bool) -> tuple[np.ndarray, tuple]:
        """Body side: input affine -> body (first ``d`` rows) -> projection; unnormalised."""
        d = x.shape[1]
        a, c = (p["input.a2"], p["input.c2"]) if second else (p["input.a"], p["input.c"])
        u = x * a + c
        a1 = u @ p["body.W1"][:d] + p["body.b1"]
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ p["body.W2"] + p["body.b2"]
        h2 = np.maximum(a2, 0.0)
        side = "b" if second else "a"
        e = h2 @ p[f"head.W{side}"] + p[f"head.b{side}"]
        return e, ("tower", second, x, u, a1, h1, a2, h2)

    @staticmethod
    def _partner(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, tuple]:
        a1 = x @ p["head.WG"] + p["head.bG"]
        h1 = np.maximum(a1, 0.0)
        return h1 @ p["head.Wb"] + p["head.bb"], ("partner", x, a1, h1)

    def _embed(self, p: dict[str, np.ndarray], xs: list[np.ndarray]):
        """``(n, 2, hidden)`` unit-norm embeddings, the caches and norms of both sides."""
        e0, c0 = self._tower(p, xs[0], second=False)
        e1, c1 = self._tower(p, xs[1], second=True) if "input.a2" in p else self._partner(p, xs[1])
        zs, norms = [], []
        for e in (e0, e1):
            n = np.sqrt((e**2).sum(axis=1, keepdims=True)) + _EPS
            zs.append(e / n)
            norms.append(n)
        return np.stack(zs, axis=1), (c0, c1), norms

    @staticmethod
    def _backward_side(p, cache: tuple, ge: np.ndarray, g: dict, need_body: bool) -> None:
        if cache[0] == "partner":
            _, x, a1, h1 = cache
            g["head.Wb"] = h1.T @ ge
            g["head.bb"] = ge.sum(axis=0)
            ga1 = (ge @ p["head.Wb"].T) * (a1 > 0)
            g["head.WG"] = x.T @ ga1
            g["head.bG"] = ga1.sum(axis=0)
            return
        _, second, x, u, a1, h1, a2, h2 = cache
        side = "b" if second else "a"
        g[f"head.W{side}"] = h2.T @ ge
        g[f"head.b{side}"] = ge.sum(axis=0)
        ga2 = (ge @ p[f"head.W{side}"].T) * (a2 > 0)
        ga1 = (ga2 @ p["body.W2"].T) * (a1 > 0)
        d = x.shape[1]
        gu = ga1 @ p["body.W1"][:d].T
        suffix = "2" if second else ""
        g[f"input.a{suffix}"] = (gu * x).sum(axis=0)
        g[f"input.c{suffix}"] = gu.sum(axis=0)
        if need_body:
            if "body.W1" not in g:  # the pair's two sides share the body: sum their parts
                for k in ("body.W1", "body.b1", "body.W2", "body.b2"):
                    g[k] = np.zeros_like(p[k])
            g["body.W2"] += h1.T @ ga2
            g["body.b2"] += ga2.sum(axis=0)
            g["body.W1"][:d] += u.T @ ga1
            g["body.b1"] += ga1.sum(axis=0)

    def _retrieval_step(
        self, p: dict[str, np.ndarray], xs: list[np.ndarray], y: np.ndarray, need_body: bool,
        need_grad: bool = True,
    ) -> tuple[float, dict[str, np.ndarray] | None]:  # fmt: skip
        """InfoNCE loss (and gradients) of one batch (:func:`info_nce_numpy`)."""
        z, caches, norms = self._embed(p, xs)
        t = float(p["head.t"][0])
        s = float(np.exp(np.clip(t, 0.0, _LOGIT_SCALE_MAX)))
        logits = s * z[:, 0] @ z[:, 1].T
        loss, g_logits = info_nce_numpy(logits, y, need_grad=need_grad)
        if g_logits is None:
            return loss, None
        g: dict[str, np.ndarray] = {}
        gz = (s * g_logits @ z[:, 1], s * g_logits.T @ z[:, 0])
        for k in range(2):
            zk = z[:, k]  # through the normalisation e / |e|
            ge = (gz[k] - zk * (zk * gz[k]).sum(axis=1, keepdims=True)) / norms[k]
            self._backward_side(p, caches[k], ge, g, need_body)
        inside = 0.0 < t < _LOGIT_SCALE_MAX  # the clamp has no gradient beyond its bounds
        g["head.t"] = np.array([float((g_logits * logits).sum()) if inside else 0.0])
        return loss, g

    def _fit_retrieval(
        self,
        task: Task,
        unit: Unit,
        *,
        seed: int,
        init_state: TransferState | None,
        mode: str,
        keep_head: bool,
        max_epochs: int | None,
        return_state: bool,
    ) -> FitResult:
        names = self._fit_retrieval_stats(task, unit)
        x_tr, y_tr = self._retrieval_inputs(task, unit, "train")
        x_va, y_va = self._retrieval_inputs(task, unit, "val")
        self.retrieval_ = names
        self.metric_ = task.metric
        self.target_ = task.target

        init_seed = int(seed) + (FRESH_SEED_OFFSET if mode == FROZEN_FRESH else 0)
        rng = np.random.default_rng([init_seed, 0x4E7])
        pair = len(unit.modalities) == 2
        params = self._init_retrieval(rng, [x.shape[1] for x in x_tr], pair)
        if init_state is not None:  # the input affine stays fresh in every mode
            self._import(params, init_state, mode, keep_head)
        frozen = init_state is not None and mode in FROZEN_MODES
        trainable = [k for k in params if not (frozen and k.startswith("body."))]
        opt = _AdamW(params, trainable, self.lr, self.weight_decay)
        cap = int(self.max_epochs if max_epochs is None else max_epochs)
        if cap < 1:
            raise LearnerError(f"max_epochs must be >= 1, got {cap}")
        n = x_tr[0].shape[0]
        bs = max(2, min(int(self.batch_size), n))
        stop = _EarlyStopping(params, self.patience, self.min_delta)
        train_loss = float("nan")
        for epoch in range(1, cap + 1):
            order = rng.permutation(n)
            total, seen = 0.0, 0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                if len(idx) < 2:
                    continue  # a contrastive batch needs a negative
                loss, grads = self._retrieval_step(
                    params, [x[idx] for x in x_tr], y_tr[idx], need_body=not frozen
                )
                assert grads is not None
                total += loss * len(idx)
                seen += len(idx)
                opt.step(params, grads)
            train_loss = total / max(seen, 1)
            val_loss, _ = self._retrieval_step(params, x_va, y_va, False, need_grad=False)
            if not np.isfinite(val_loss):
                raise LearnerError(f"{unit.label}: training diverged at epoch {epoch}")
            if stop.update(val_loss, epoch, params):
                break
        self.params_ = stop.best[2]
        val_loss, metric = self._retrieval_evaluate(task, unit, "val")
        return stop.result(val_loss, metric, train_loss,
                           self.export_state() if return_state else None)  # fmt: skip

    def _retrieval_evaluate(self, task: Task, unit: Unit, split: str) -> tuple[float, float]:
        xs, y = self._retrieval_inputs(task, unit, split)
        loss, _ = self._retrieval_step(self.params_, xs, y, False, need_grad=False)
        z, _, _ = self._embed(self.params_, xs)
        return loss, retrieval_metrics(z, y)[self.metric_]

    def evaluate(self, task: Task, unit: Unit, split: str = "val") -> tuple[float, float]:
        self._check_fitted()
        if getattr(self, "retrieval_", None):
            return self._retrieval_evaluate(task, unit, split)
        x, y = _unit_inputs(task, unit, split)
        x = (x - self.mean_) / self.scale_
        z, _ = self._forward(self.params_, x)
        t = _targets(y, self.loss_kind_, z.shape[1])
        loss, _ = _loss_and_grad(z, t, self.loss_kind_, need_grad=False)
        return loss, task_metric(self.metric_, self.target_, z, y)

    def export_state(self) -> TransferState:
        self._check_fitted()
        return {k: np.array(v, dtype=np.float64) for k, v in self.params_.items()}


def _retrieval_sides(task: Task, unit: Unit) -> list[str]:
    """``[own modality, other modality]`` of a retrieval unit (``[a, b]`` for the pair)."""
    names = list(task.modality_names)
    if len(names) != 2:
        raise LearnerError(
            f"task {task.name!r}: a retrieval task needs two modalities, got {len(names)}"
        )
    if len(unit.modalities) == 2:
        return names
    (own,) = unit.modalities
    if own not in names:
        raise LearnerError(f"task {task.name!r} has no modality {own!r} (unit {unit.label})")
    return [own, *(m for m in names if m != own)]


def info_nce_numpy(
    logits: np.ndarray, y: np.ndarray, need_grad: bool = True
) -> tuple[float, np.ndarray | None]:
    """Symmetric InfoNCE of a logit matrix, and its gradient (numpy).

    ``logits[i, j]`` scores gallery item ``j`` for query ``i``. Row ``i``'s targets spread
    mass 1 evenly over the items ``j`` with ``y[j] == y[i]`` (the diagonal alone when ``y``
    is unique, as in CLIP), the columns' likewise; the loss is the mean of the row and the
    column cross-entropies. The same definition as ``hetero_models.trainer.info_nce``.
    """
    y = np.asarray(y).reshape(-1)
    n = logits.shape[0]
    match = (y[:, None] == y[None, :]).astype(np.float64)
    targets = match / match.sum(axis=1, keepdims=True)

    def log_softmax(z: np.ndarray) -> np.ndarray:
        zmax = z.max(axis=1, keepdims=True)
        return z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))

    rows, cols = log_softmax(logits), log_softmax(logits.T)
    loss = -0.5 * ((targets * rows).sum() + (targets.T * cols).sum()) / n
    if not need_grad:
        return float(loss), None
    grad = 0.5 / n * ((np.exp(rows) - targets) + (np.exp(cols) - targets.T).T)
    return float(loss), grad


def closed_form_retrieval_score(
    mode: str,
    train_features: list[np.ndarray],
    train_inputs: list[np.ndarray],
    val_features: list[np.ndarray],
    val_inputs: list[np.ndarray],
) -> tuple[float, dict[str, float]]:
    """Closed-form probe of a retrieval unit: predict the other side from a side's features.

    A retrieval unit has no labels to read out; what its loss asks of a body is that the
    features of one side tell which item of the other side belongs with it. The closed-form
    stand-in: :func:`hetero.measure.closed_form.closed_form_score` (``ridge`` or ``logme``)
    of the other side's standardised, flattened input given the side's body features.

    Parameters
    ----------
    mode : {"ridge", "logme"}
    train_features, val_features : list of ndarray
        Body features of the sides that go through the body: ``[own]`` for a unimodal
        unit, ``[a, b]`` for the pair.
    train_inputs, val_inputs : list of ndarray
        Both sides' standardised flattened inputs, ``[own, other]`` (``[a, b]``).

    Returns
    -------
    score : float
        Mean over the directions (``own -> other``; for the pair also ``b -> a``); lower
        is better.
    info : dict
        The first direction's details (``closed_form_score``) and ``directions``.
    """
    scores, infos = [], []
    for k in range(len(train_features)):
        score, info = closed_form_score(
            mode, train_features[k], train_inputs[1 - k], val_features[k], val_inputs[1 - k]
        )
        scores.append(score)
        infos.append(info)
    return float(np.mean(scores)), {**infos[0], "directions": float(len(scores))}
