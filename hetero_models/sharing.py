"""What sharing a body actually does: units trained together on one HighMMT body.

The ground truth a heterogeneity estimator is meant to predict (``benchmarks/
bench_validity.py``): the *sharing gain* of two units, i.e. how much their held-out loss
changes when they are trained with one shared body instead of each alone.

:func:`fit_shared` trains ``k >= 1`` single-modality (or interaction) units at once. Each
unit is a HighMMT probe model exactly as :class:`~hetero_models.probes.HighMMTProbe` builds
it (its own input standardisation, input projection, i.e. the cross-attention's context
norm and key/value projection, and BatchNorm + Linear head), and the *body* of all of them
(every other encoder and crossmodal parameter: the latent array, attention and
feed-forward layers) is one set of parameters, tied to the first unit's. With ``k = 1`` it
is the probe's own scratch training. Every step draws one batch of every unit, sums their
losses and takes one Adam step; an epoch has as many steps as the unit with the most
batches needs (units with fewer batches start a new pass over their data). After every
epoch the heads' BatchNorm statistics are recalibrated (as the probe does) and each unit's
validation loss is read; each unit keeps the test loss of its own best validation epoch
(per-unit checkpoint selection, the same rule as a unit trained alone), and training stops
when no unit has improved for ``patience`` epochs or at ``max_epochs``.

:func:`sharing_gain` turns the test losses of the pair and of the two units alone into the
relative gain ``mean_u (L_alone(u) - L_pair(u)) / L_alone(u)`` (positive: sharing helps).

:func:`joint_affinity` trains *all* units on one body once and reads three cheap
affinity estimates from that single run: lookahead gradient affinity (Fifty et al., 2021),
the cosine of the units' body gradients, and the similarity of the units' representations
at the end (alignment of their feature covariances).
"""

from __future__ import annotations

import copy
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hetero.errors import HeteroError
from hetero_models.probes import HighMMTProbe, _is_input, _is_stat
from hetero_models.trainer import _loss, recalibrate_batchnorm, resolve_device

__all__ = [
    "JointAffinity",
    "SharedFit",
    "body_keys",
    "covariance_alignment",
    "fit_shared",
    "joint_affinity",
    "sharing_gain",
    "tie_body",
]


def body_keys(model: torch.nn.Module) -> list[str]:
    """Names of the parameters that form a probe's body (shared between units)."""
    return [
        k
        for k, _ in model.named_parameters()
        if not k.startswith("heads.") and not _is_input(k) and not _is_stat(k)
    ]


def tie_body(model: torch.nn.Module, owner: torch.nn.Module) -> int:
    """Make ``model`` use ``owner``'s body parameters (the same tensors, so one update
    changes both); returns how many parameters were tied.

    Raises
    ------
    HeteroError
        The bodies differ in a name or shape (probes of different sizes).
    """
    own = dict(owner.named_parameters())
    names = body_keys(model)
    for name in names:
        if name not in own or own[name].shape != model.get_parameter(name).shape:
            raise HeteroError(f"cannot share body parameter {name!r}: the probe sizes differ")
        path, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(path) if path else model, leaf, own[name])
    return len(names)


@dataclass
class SharedFit:
    """Outcome of one :func:`fit_shared` call.

    Attributes
    ----------
    labels : list of str
        The units trained together.
    val_loss, test_loss, test_metric : dict of str to float
        Per unit, at its best validation epoch.
    best_epoch : dict of str to int
    epochs : int
        Epochs trained.
    converged : bool
        Stopped by patience (False: by the epoch cap).
    seconds : float
        Wall time of the fit.
    extra : dict
        What a ``step_hook`` returned, keyed by step (gradient-affinity probes).
    models : list
        Copies of the units' models after the last epoch (``keep_models=True`` only).
    """

    labels: list[str]
    val_loss: dict[str, float]
    test_loss: dict[str, float]
    test_metric: dict[str, float]
    best_epoch: dict[str, int]
    epochs: int
    converged: bool
    seconds: float
    extra: dict[int, Any] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list, repr=False)


class _Unit:
    """One unit's model, data and batch stream inside a shared fit."""

    def __init__(
        self,
        probe: HighMMTProbe,
        suite,
        label: str,
        seed: int,
        device,
        max_train: int | None = None,
    ):
        self.label = label
        self.unit = suite.unit(label)
        self.task = suite.task(self.unit.task)
        self.model = probe.new_model(self.task, self.unit, seed).to(device)
        self.splits = {
            split: probe.unit_tensors(self.task, self.unit, split, device)
            for split in ("train", "val", "test")
        }
        salt = zlib.crc32(label.encode())
        if max_train is not None and max_train < int(self.splits["train"][1].shape[0]):
            # the same subset for every seed and company: only training noise varies
            x, y = self.splits["train"]
            keep = torch.randperm(int(y.shape[0]), generator=torch.Generator().manual_seed(salt))
            keep = keep[: int(max_train)].sort().values.to(y.device)
            self.splits["train"] = ({k: v.index_select(0, keep) for k, v in x.items()},
                                    y.index_select(0, keep))  # fmt: skip
        self.n = int(self.splits["train"][1].shape[0])
        self.batch = max(2, int(probe.batch_size))
        self.n_batches = max(1, math.ceil(self.n / self.batch))
        # batch order from the seed and the unit's name: the same alone and in any company
        self.gen = torch.Generator().manual_seed((int(seed) + 7919 + salt) % 2**63)
        self.cal_gen = torch.Generator().manual_seed((int(seed) + 104729 + salt) % 2**63)
        self.queue: list[torch.Tensor] = []

    def next_batch(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        while True:
            if not self.queue:
                perm = torch.randperm(self.n, generator=self.gen)
                self.queue = list(torch.tensor_split(perm, self.n_batches))
            idx = self.queue.pop(0)
            if len(idx) >= 2:  # BatchNorm needs two samples
                break
        x, y = self.splits["train"]
        idx = idx.to(y.device)
        return {k: v.index_select(0, idx) for k, v in x.items()}, y.index_select(0, idx)

    def loss(self, x: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        return _loss(self.task, self.model(self.task.name, x), y)

    def recalibrate(self, n_samples: int) -> None:
        if not n_samples:
            return
        x, _ = self.splits["train"]
        sub = torch.randperm(self.n, generator=self.cal_gen)[: int(n_samples)]
        parts = [p.to(next(iter(x.values())).device) for p in sub.split(self.batch)]
        recalibrate_batchnorm(
            self.model,
            (
                {self.task.name: {k: v.index_select(0, p) for k, v in x.items()}}
                for p in parts
                if len(p) > 1
            ),
        )

    @torch.no_grad()
    def evaluate(self, split: str) -> tuple[float, float]:
        from hetero_models.trainer import compute_metrics

        self.model.eval()
        x, y = self.splits[split]
        logits = torch.cat(
            [
                self.model(self.task.name, {k: v[i : i + 512] for k, v in x.items()})
                for i in range(0, int(y.shape[0]), 512)
            ]
        )
        loss = float(_loss(self.task, logits, y))
        metrics = compute_metrics(self.task.target, logits.float().cpu().numpy(), y.cpu().numpy())
        self.model.train()
        return loss, float(metrics.get(self.task.metric, float("nan")))


def fit_shared(
    suite: Any,
    labels: Sequence[str],
    *,
    probe: HighMMTProbe | None = None,
    seed: int = 0,
    max_epochs: int | None = None,
    patience: int | None = None,
    step_hook: Callable[[int, list[Any]], Any] | None = None,
    hook_every: int = 0,
    keep_models: bool = False,
    max_train: int | None = None,
) -> SharedFit:
    """Train ``labels`` together with one shared probe body (see the module docstring).

    Parameters
    ----------
    suite : Suite
    labels : sequence of str
        Units (one or more); each keeps its own input part and head.
    probe : HighMMTProbe, optional
        Sizes, learning rate, batch size, BatchNorm calibration and device (default: the
        probe's defaults).
    seed : int
        Seed of every initialisation and batch order: unit ``k`` is initialised as a scratch
        probe fit with ``seed`` would be, then given unit 0's body.
    max_epochs, patience : int, optional
        Override the probe's.
    step_hook : callable (step, units) -> object, optional
        Called before every ``hook_every``-th optimisation step with the unit objects (each
        has ``.label``, ``.model``, ``.loss(x, y)``, ``.next_batch()``); what it returns is
        stored in :attr:`SharedFit.extra`. Used by the gradient-affinity estimator.
    keep_models : bool
        Keep the models of the last epoch in :attr:`SharedFit.models`.
    max_train : int, optional
        Train each unit on at most this many samples of its train split (a subset fixed
        by the unit's name, the same for every seed and partner): the low-data regime in
        which sharing has the most to give. Validation and test splits stay complete (the
        input standardisation keeps the statistics of the whole train split).

    Raises
    ------
    HeteroError
        No units, a repeated unit, or an invalid epoch cap.
    """
    labels = list(labels)
    if not labels:
        raise HeteroError("fit_shared needs at least one unit")
    if len(set(labels)) != len(labels):
        raise HeteroError(f"fit_shared: a unit appears twice in {labels}")
    probe = probe if probe is not None else HighMMTProbe()
    cap = int(probe.max_epochs if max_epochs is None else max_epochs)
    wait = int(probe.patience if patience is None else patience)
    if cap < 1 or wait < 1:
        raise HeteroError(f"max_epochs and patience must be >= 1, got {cap} and {wait}")
    start = time.perf_counter()
    device = resolve_device(probe.device)
    if max_train is not None and max_train < 2:
        raise HeteroError(f"max_train must be at least 2, got {max_train}")
    units = [_Unit(probe, suite, label, seed, device, max_train) for label in labels]
    for u in units[1:]:
        tie_body(u.model, units[0].model)
    params: dict[int, torch.nn.Parameter] = {}
    for u in units:
        for p in u.model.parameters():
            params.setdefault(id(p), p)
    opt = torch.optim.Adam(list(params.values()), lr=probe.lr, weight_decay=probe.weight_decay)
    steps = max(u.n_batches for u in units)
    best = {u.label: (math.inf, math.nan, math.nan, 0) for u in units}  # val, test, metric, ep
    stale = dict.fromkeys(labels, 0)
    extra: dict[int, Any] = {}
    epochs, converged, step = 0, False, 0
    for epoch in range(1, cap + 1):
        for u in units:
            u.model.train()
        for _ in range(steps):
            if step_hook is not None and hook_every and step % hook_every == 0:
                extra[step] = step_hook(step, units)
            loss = sum(u.loss(*u.next_batch()) for u in units)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            opt.step()
            step += 1
        epochs = epoch
        for u in units:
            u.recalibrate(probe.bn_calibration)
            val, _ = u.evaluate("val")
            if not math.isfinite(val):
                raise HeteroError(f"{u.label}: shared training diverged at epoch {epoch}")
            if val < best[u.label][0]:
                test, metric = u.evaluate("test")
                best[u.label] = (val, test, metric, epoch)
                stale[u.label] = 0
            else:
                stale[u.label] += 1
        if all(s >= wait for s in stale.values()):
            converged = True
            break
    return SharedFit(
        labels=labels,
        val_loss={k: v[0] for k, v in best.items()},
        test_loss={k: v[1] for k, v in best.items()},
        test_metric={k: v[2] for k, v in best.items()},
        best_epoch={k: v[3] for k, v in best.items()},
        epochs=epochs,
        converged=converged,
        seconds=time.perf_counter() - start,
        extra=extra,
        models=[copy.deepcopy(u.model) for u in units] if keep_models else [],
    )


def sharing_gain(alone: dict[str, float], shared: dict[str, float]) -> float:
    """Mean relative change of held-out loss from training alone to training together:
    ``mean_u (alone[u] - shared[u]) / alone[u]`` over the units of ``shared``.

    Examples
    --------
    >>> round(sharing_gain({"a": 1.0, "b": 0.5}, {"a": 0.9, "b": 0.55}), 3)
    0.0
    """
    gains = [(alone[u] - shared[u]) / alone[u] for u in shared]
    return float(np.mean(gains))


@dataclass
class JointAffinity:
    """Affinities between units from one joint training run (:func:`joint_affinity`).

    Attributes
    ----------
    labels : list of str
    lookahead : ndarray (n, n)
        Symmetrised lookahead affinity ``(Z_ij + Z_ji) / 2`` with
        ``Z_ij = 1 - L_j(body - eta g_i) / L_j(body)``: how much a step on unit ``i``'s
        gradient lowers unit ``j``'s loss (positive: helps), averaged over the probes.
    gradient_cosine : ndarray (n, n)
        Mean cosine of the units' gradients with respect to the shared body.
    representation : ndarray (n, n)
        Alignment of the units' feature covariances at the end of training,
        ``<C_i, C_j>_F / (|C_i|_F |C_j|_F)`` with ``C_u`` the covariance of the features
        the head of ``u`` reads on ``u``'s validation inputs (no paired samples needed, so
        units of different tasks compare); 1 for identical second moments.
    probes : int
        Gradient probes averaged.
    seconds : float
    fit : SharedFit
    """

    labels: list[str]
    lookahead: np.ndarray
    gradient_cosine: np.ndarray
    representation: np.ndarray
    probes: int
    seconds: float
    fit: SharedFit


def _sym(M: np.ndarray) -> np.ndarray:
    out = 0.5 * (M + M.T)
    np.fill_diagonal(out, np.nan)
    return out


def covariance_alignment(features: Sequence[np.ndarray]) -> np.ndarray:
    """``<C_i, C_j>_F / (|C_i|_F |C_j|_F)`` of the centred feature covariances
    ``C_u = F_u^T F_u / n_u`` (NaN diagonal).

    Examples
    --------
    >>> a = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> b = np.array([[0.0, 1.0], [0.0, -1.0]])
    >>> covariance_alignment([a, 2 * a, b])[0].tolist()
    [nan, 1.0, 0.0]
    """
    covs = []
    for F in features:
        F = np.asarray(F, dtype=np.float64)
        F = F - F.mean(axis=0)
        covs.append(F.T @ F / max(len(F), 1))
    n = len(covs)
    out = np.full((n, n), np.nan)
    norms = [float(np.linalg.norm(c)) for c in covs]
    for i in range(n):
        for j in range(i + 1, n):
            denom = norms[i] * norms[j]
            out[i, j] = out[j, i] = float(np.sum(covs[i] * covs[j]) / denom) if denom else np.nan
    return out


def joint_affinity(
    suite: Any,
    labels: Sequence[str],
    *,
    probe: HighMMTProbe | None = None,
    seed: int = 0,
    every: int = 10,
    eta: float = 0.01,
    batch_size: int = 64,
    max_epochs: int | None = None,
) -> JointAffinity:
    """Train every unit of ``labels`` on one shared body (:func:`fit_shared`) and read the
    affinities of :class:`JointAffinity` from that one run.

    Every ``every`` optimisation steps, on a probe batch of every unit (drawn from its
    training split by a generator of its own, so training is unchanged): the gradient
    ``g_i`` of each unit's loss with respect to the shared body, their cosines, and for the
    lookahead affinity the loss of every unit after an SGD step of size ``eta`` along
    each ``g_i`` (body only; the weights are restored afterwards).
    """
    labels = list(labels)
    n = len(labels)
    if n < 2:
        raise HeteroError("joint_affinity needs at least two units")
    start = time.perf_counter()
    look = np.zeros((n, n))
    cos = np.zeros((n, n))
    gen = torch.Generator().manual_seed(int(seed) + 2**20)
    count = [0]

    def hook(step: int, units: list[Any]) -> None:
        body = [units[0].model.get_parameter(k) for k in body_keys(units[0].model)]
        batches = []
        for u in units:
            idx = torch.randint(0, u.n, (min(batch_size, u.n),), generator=gen)
            x, y = u.splits["train"]
            idx = idx.to(y.device)
            batches.append(
                ({k: v.index_select(0, idx) for k, v in x.items()}, y.index_select(0, idx))
            )
        grads = []
        base = []
        for u, (x, y) in zip(units, batches, strict=True):
            loss = u.loss(x, y)
            g = torch.autograd.grad(loss, body, allow_unused=True)
            grads.append(
                [torch.zeros_like(p) if gi is None else gi for p, gi in zip(body, g, strict=True)]
            )
            base.append(float(loss.detach()))
        flat = torch.stack([torch.cat([gi.reshape(-1) for gi in g]) for g in grads])
        unit_norm = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
        cos[:] += (unit_norm @ unit_norm.T).numpy()
        with torch.no_grad():
            for i in range(n):
                for p, gi in zip(body, grads[i], strict=True):
                    p.sub_(eta * gi)
                for j, (u, (x, y)) in enumerate(zip(units, batches, strict=True)):
                    look[i, j] += 1.0 - float(u.loss(x, y)) / max(base[j], 1e-12)
                for p, gi in zip(body, grads[i], strict=True):
                    p.add_(eta * gi)
        count[0] += 1

    fit = fit_shared(suite, labels, probe=probe, seed=seed, max_epochs=max_epochs,
                     step_hook=hook, hook_every=max(1, int(every)), keep_models=True)  # fmt: skip
    k = max(count[0], 1)
    feats = []
    for label, model in zip(labels, fit.models, strict=True):
        unit = suite.unit(label)
        task = suite.task(unit.task)
        x, _ = (probe or HighMMTProbe()).unit_tensors(task, unit, "val")
        feats.append(HighMMTProbe.features(model.cpu(), task.name, x))
    fit.models = []
    return JointAffinity(
        labels=labels,
        lookahead=_sym(look / k),
        gradient_cosine=_sym(cos / k),
        representation=covariance_alignment(feats),
        probes=count[0],
        seconds=time.perf_counter() - start,
        fit=fit,
    )
