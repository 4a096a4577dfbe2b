"""HighMMT probes as :class:`hetero.learners.Learner` for ``hetero measure``.

One learner, registered as ``highmmt`` (entry-point group ``hetero.learners``), serves both
kinds of unit:

* unimodal probe (unit ``task/m``): standardised input of ``m`` -> the HighMMT Perceiver
  encoder -> the last latent vector -> BatchNorm + Linear head;
* interaction probe (unit ``task/a+b``): both modalities through the shared encoder, the
  crossmodal block on the pair (both directions) -> head.

Retrieval tasks (``target: retrieval``, modalities ``a`` and ``b``): the loss of every unit
is the task's symmetric InfoNCE between an embedding of ``a`` and one of ``b``
(:class:`~hetero_models.highmmt.RetrievalHead`), and the metric its recall@1.

* interaction unit ``task/a+b``: the full contrastive model, both modalities through the
  probe's encoder (mean-pooled latents, no crossmodal block) -> the two projections;
* unimodal unit ``task/a``: ``a`` alone has no partner to be retrieved against, so the
  unit's loss is the contrastive loss between ``a`` through the probe's encoder and a small
  *partner encoder* of ``b`` (flatten -> LayerNorm -> Linear -> GELU -> Linear) that is part
  of the head and trained jointly. The encoder is the only part that sees ``a`` and the
  only part a transfer replaces: a transfer to or from ``task/a`` changes only ``a``'s side
  (the partner encoder, like every head, starts fresh and is trained in ``frozen`` mode
  too). ``T(X -> task/a)`` thus says how well ``X``'s encoder body serves ``a`` in this
  retrieval, against a fixed kind of partner.

The probe *is* a one-task :class:`~hetero_models.highmmt.HighMMT` holding only the unit's
modalities (one-hot over those), so a probe and the full model share one implementation.
Inputs are standardised per channel with train-split statistics of the unit (held by the
model's :class:`~hetero_models.inputs.InputStandardizer`, never transferred; a modality
declared ``standardize: false`` is left as it is) before the parameter-free token
standardisation. After every epoch the head's BatchNorm statistics are recomputed under the
epoch's weights (``bn_calibration`` training samples, :func:`recalibrate_batchnorm`) before
the validation loss that early stopping and checkpoint selection read.

Transferable state (``export_state``; roles from ``parameter_roles``):

``input``
    The part of the encoder whose shape depends on the token width: the cross-attention's
    context LayerNorm and key/value projection (``...cross_attn.norm_context.*``,
    ``...cross_attn.attn.to_kv.weight``). On transfer between widths, the columns of the
    channel block are copied aligned from the left and the columns of the positional and
    one-hot tail aligned from the right (the token layout is
    ``[channels | zeros | positions | one-hot]``); the rest keeps its fresh initialisation.
``body``
    Everything else of the encoder (latent array, latent self-attention, feed-forwards)
    and, for interaction probes, the crossmodal block: what transfers and what
    ``mode="frozen"`` keeps fixed.
``head``
    The task head (re-initialised on transfer unless ``keep_head``).

``mode="frozen"`` copies the input part from the source state (aligned when widths
differ), so a self-transfer baseline starts from the unit's own *trained* input projection
while a transfer from a foreign source starts from a projection trained on other data.
``mode="frozen_fresh"`` (:data:`hetero.learners.reference.FROZEN_FRESH`, the
``frozen_fresh`` estimator) imports the body only: the input part and the head keep a fresh
initialisation drawn from ``seed + FRESH_SEED_OFFSET``, for a self-transfer exactly as for
a foreign source, so the two terms of ``T`` start alike. (Drawn from ``seed`` itself, the
self-transfer would get back the very projection its body was trained from, a head start:
on mfeat/fourier 0.746 at epoch 7 against 0.785 at epoch 21 with another draw and batch
order.)

``mode="ridge"`` and ``mode="logme"`` (:data:`hetero.measure.closed_form.CLOSED_FORM_MODES`,
the ``ridge`` and ``logme`` estimators) train nothing: the source's encoder (body and input
part, imported as in ``mode="frozen"``) computes :meth:`HighMMTProbe.features` of the
target's train and validation inputs, and a closed-form probe on them gives the score
(:func:`hetero.measure.closed_form.closed_form_score`): no epoch cap, learning rate or batch
order, so both terms of ``T`` are fitted exactly alike.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import numpy as np
import torch

from hetero.errors import LearnerError
from hetero.learners.base import FitResult, Learner, TransferState
from hetero.learners.reference import (
    FRESH_SEED_OFFSET,
    FROZEN_FRESH,
    FROZEN_MODES,
    closed_form_retrieval_score,
)
from hetero.measure.closed_form import CLOSED_FORM_MODES, closed_form_score, target_matrix
from hetero_models.highmmt import HighMMT, preset_key
from hetero_models.inputs import ModalitySpec, ModelSpec, TaskSpec
from hetero_models.trainer import (
    _loss,
    compute_metrics,
    recalibrate_batchnorm,
    resolve_device,
    seeded_init,
)

__all__ = ["HighMMTProbe"]

_LAYOUT_KEY = "meta.layout"  # [token width, widest channel block] (role "input")


def _is_stat(key: str) -> bool:
    """Input statistics of the unit's own train split: fitted per unit, never exported."""
    return key.startswith("standardizer.")


def _is_input(key: str) -> bool:
    return key.startswith("unimodal.") and (
        ".cross_attn.norm_context." in key or ".cross_attn.attn.to_kv." in key
    )


class HighMMTProbe(Learner):
    """HighMMT unimodal / interaction probe (see the module docstring).

    Parameters
    ----------
    preset : str
        HighMMT hyperparameters of one of the paper's task settings (overridden by the
        explicit sizes below when given): a :data:`hetero_models.highmmt.PRESETS` key or
        its descriptive name (``"small-setting"``); both give the same run keys.
    num_latents, latent_dim, latent_heads, dim_head : int or None
        Model size overrides (None keeps the preset's).
    token_width : int or None
        Fixed token width for every unit (then the input part transfers unchanged between
        units that fit it); None sizes it to the unit.
    max_epochs, batch_size : int
    lr, weight_decay : float
        Adam.
    patience : int
        Stop after this many epochs without validation-loss improvement.
    device : {"cpu", "cuda", "auto"}
    bn_calibration : int
        Training samples used to recompute the head's BatchNorm statistics after every
        epoch (0: keep the running averages, which lag behind the weights and made
        validation curves jump and some seeds stop early at chance).
    """

    # runs stored before BatchNorm recalibration existed were made with it off
    key_neutral: ClassVar[dict[str, Any]] = {"bn_calibration": 0}

    @classmethod
    def key_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """As :meth:`Learner.key_config`, with the preset under its :data:`PRESETS` key, so
        that ``"small-setting"`` and ``"small"`` find the same stored runs."""
        out = super().key_config(config)
        if "preset" in out:
            out["preset"] = preset_key(out["preset"])
        return out

    name = "highmmt"
    supports_interactions = True

    def __init__(
        self,
        preset: str = "small",
        num_latents: int | None = 8,
        latent_dim: int | None = 32,
        latent_heads: int | None = 4,
        dim_head: int | None = 16,
        token_width: int | None = None,
        max_epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 5,
        device: str = "cpu",
        bn_calibration: int = 256,
    ):
        self.bn_calibration = bn_calibration
        self.preset = preset
        self.num_latents = num_latents
        self.latent_dim = latent_dim
        self.latent_heads = latent_heads
        self.dim_head = dim_head
        self.token_width = token_width
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device

    # ------------------------------------------------------------------ building
    def _hparams(self) -> dict[str, Any]:
        hp: dict[str, Any] = {"preset": self.preset, "token_width": self.token_width}
        for key, value in (
            ("num_latents", self.num_latents),
            ("latent_dim", self.latent_dim),
            ("latent_heads", self.latent_heads),
        ):
            if value is not None:
                hp[key] = int(value)
        if self.dim_head is not None:
            hp["cross_dim_head"] = hp["latent_dim_head"] = int(self.dim_head)
        return hp

    @staticmethod
    def _modality_spec(task, name: str) -> ModalitySpec:
        m = task.modality(name)
        return ModalitySpec(
            m.name,
            tuple(int(p) for p in m.positions),
            int(m.channels),
            int(m.num_freq_bands),
            float(m.max_freq),
        )

    def _spec(self, task, unit) -> ModelSpec:
        mods = [self._modality_spec(task, name) for name in unit.modalities]
        partner = None
        if task.target == "retrieval" and len(unit.modalities) == 1:
            (other,) = [m for m in task.modality_names if m not in unit.modalities]
            partner = self._modality_spec(task, other)
        t = TaskSpec(task.name, tuple(mods), int(task.n_outputs), str(task.target), partner=partner)
        return ModelSpec.from_tasks([t])

    def _data(self, task, unit, split: str, device) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Raw arrays of a split as tensors (the model standardises them itself); a
        retrieval unit gets both modalities (the other one feeds the partner encoder)."""
        names = task.modality_names if task.target == "retrieval" else list(unit.modalities)
        arrays, y = task.data.split(split, list(names))
        x = {
            name: torch.as_tensor(np.asarray(a, dtype=np.float32)).to(device)
            for name, a in arrays.items()
        }
        yt = torch.as_tensor(np.asarray(y))
        yt = yt.float() if task.target == "regression" else yt.long()
        return x, yt.to(device)

    # ------------------------------------------------------------------ state
    def _layout(self, model: HighMMT) -> np.ndarray:
        widest = max(m.channels for m in model.spec.tasks[0].modalities)
        return np.array([model.standardizer.width, widest], dtype=np.int64)

    def parameter_roles(self) -> dict[str, str]:
        self._check_fitted()
        roles = {_LAYOUT_KEY: "input"}
        for key in self.model_.state_dict():
            if _is_stat(key):
                continue
            roles[key] = (
                "head" if key.startswith("heads.") else "input" if _is_input(key) else "body"
            )
        return roles

    def export_state(self) -> TransferState:
        self._check_fitted()
        state = {
            k: v.detach().cpu().numpy().copy()
            for k, v in self.model_.state_dict().items()
            if not _is_stat(k)
        }
        state[_LAYOUT_KEY] = self._layout(self.model_)
        return state

    def _import(self, model: HighMMT, state: TransferState, mode: str, keep_head: bool) -> None:
        own = model.state_dict()
        new = {}
        layout = state.get(_LAYOUT_KEY)
        mine = self._layout(model)
        for key, target in own.items():
            if _is_stat(key):
                continue
            if mode == FROZEN_FRESH and _is_input(key):
                continue  # keeps its fresh initialisation (seed + offset), whatever the source
            if key.startswith("heads."):
                if keep_head and mode == "finetune":
                    if key not in state or tuple(state[key].shape) != tuple(target.shape):
                        raise LearnerError("keep_head: the transferred head does not fit this task")
                    new[key] = torch.as_tensor(state[key])
                continue
            if key not in state:
                if key.startswith("crossmodal.") and not any(
                    k.startswith("crossmodal.") for k in state
                ):
                    continue  # unimodal source -> interaction target: fresh crossmodal block
                raise LearnerError(f"transferred state lacks {key!r} (probe sizes must agree)")
            src = torch.as_tensor(state[key])
            if tuple(src.shape) == tuple(target.shape):
                new[key] = src
            elif _is_input(key) and layout is not None:
                new[key] = _align_columns(src, target, layout, mine)
            else:
                raise LearnerError(
                    f"transferred {key!r} has shape {tuple(src.shape)}, expected "
                    f"{tuple(target.shape)} (probe sizes must agree)"
                )
        model.load_state_dict(new, strict=False)

    # ------------------------------------------------------------------ protocol
    @staticmethod
    def check_mode(mode: str) -> str:
        """The base modes plus :data:`~hetero.learners.reference.FROZEN_FRESH` and the
        closed-form modes (:data:`hetero.measure.closed_form.CLOSED_FORM_MODES`)."""
        if mode == FROZEN_FRESH or mode in CLOSED_FORM_MODES:
            return mode
        return Learner.check_mode(mode)

    # ------------------------------------------------------------------ public helpers
    def new_model(self, task, unit, seed: int = 0) -> HighMMT:
        """An untrained probe model of ``unit`` initialised from ``seed`` (exactly as a
        scratch :meth:`fit` builds it), with its input statistics fitted on ``task``'s
        train split; on the CPU."""
        with seeded_init(int(seed)):
            model = HighMMT(self._spec(task, unit), **self._hparams())
        model.standardizer.fit_task(task)
        return model

    def unit_tensors(
        self, task, unit, split: str, device: str | torch.device = "cpu"
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Raw inputs (per modality) and targets of ``split`` as tensors on ``device``."""
        return self._data(task, unit, split, torch.device(device))

    @staticmethod
    @torch.no_grad()
    def features(model: HighMMT, task_name: str, x: dict[str, torch.Tensor]) -> np.ndarray:
        """The representation the head reads (the encoder's last latent vector; the
        crossmodal outputs for an interaction unit), in evaluation mode, as numpy."""
        was = model.training
        model.eval()
        try:
            n = int(next(iter(x.values())).shape[0])
            parts = [
                model.fuse(model.encode({task_name: {k: v[i : i + 512] for k, v in x.items()}}))[
                    task_name
                ]
                for i in range(0, n, 512)
            ]
        finally:
            model.train(was)
        return torch.cat(parts).float().cpu().numpy().astype(np.float64)

    def _fit_closed_form(self, task, unit, seed: int, init_state: TransferState, mode: str):
        """Closed-form probe (``ridge`` / ``logme``) on the frozen source encoder's features
        of the target's inputs: the body and the input part are taken from the source as
        in ``mode="frozen"`` (aligned when widths differ); nothing is trained. A retrieval
        unit has no labels: the probe predicts the other side's standardised input from each
        side's pooled encoder features
        (:func:`hetero.learners.reference.closed_form_retrieval_score`)."""
        with seeded_init(int(seed)):
            model = HighMMT(self._spec(task, unit), **self._hparams())
        self._import(model, init_state, "frozen", keep_head=False)
        model.standardizer.fit_task(task)
        device = resolve_device(self.device)
        model.to(device)
        x_tr, y_tr = self._data(task, unit, "train", device)
        x_va, y_va = self._data(task, unit, "val", device)
        n_out = int(task.n_outputs)
        if task.target == "retrieval":
            score, info = self._closed_form_retrieval(model, task, unit, mode, x_tr, x_va)
        else:
            score, info = closed_form_score(
                mode,
                self.features(model, task.name, x_tr),
                target_matrix(y_tr.cpu().numpy(), task.loss, n_out),
                self.features(model, task.name, x_va),
                target_matrix(y_va.cpu().numpy(), task.loss, n_out),
            )
        self.model_ = model
        self.task_ = task.name
        self.closed_form_ = mode
        return FitResult.closed_form(score, mode, info)

    def _closed_form_retrieval(self, model, task, unit, mode: str, x_tr, x_va):
        """Score of :func:`~hetero.learners.reference.closed_form_retrieval_score` with the
        encoder's mean-pooled latents of the sides it encodes (own side; both for a pair)."""
        own = [m.name for m in model.spec.task(task.name).modalities]
        names = [*own, *(m for m in task.modality_names if m not in own)]

        def flat(x: dict[str, torch.Tensor]) -> list[np.ndarray]:
            return [x[m].reshape(x[m].shape[0], -1).cpu().numpy().astype(np.float64) for m in names]

        raw_tr, raw_va = flat(x_tr), flat(x_va)
        inputs_tr, inputs_va = [], []
        for a, b in zip(raw_tr, raw_va, strict=True):
            mean, scale = a.mean(axis=0), a.std(axis=0)
            scale = np.where(scale > 1e-8, scale, 1.0)
            inputs_tr.append((a - mean) / scale)
            inputs_va.append((b - mean) / scale)
        f_tr = self.features(model, task.name, x_tr)  # (n, encoded sides, D)
        f_va = self.features(model, task.name, x_va)
        sides = range(f_tr.shape[1])
        return closed_form_retrieval_score(
            mode, [f_tr[:, k] for k in sides], inputs_tr, [f_va[:, k] for k in sides], inputs_va
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise LearnerError("the learner is not fitted; call fit first")

    def fit(
        self,
        task,
        unit,
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
            if return_state:
                raise LearnerError(f"mode={mode!r} trains nothing: there is no state to return")
            return self._fit_closed_form(task, unit, seed, init_state, mode)
        device = resolve_device(self.device)
        cap = int(self.max_epochs if max_epochs is None else max_epochs)
        if cap < 1:
            raise LearnerError(f"max_epochs must be >= 1, got {cap}")
        # Every random choice comes from the seed, none from (or into) torch's global state:
        # the initial weights from a seeded fork of the default generator, the batch order
        # from a generator of its own. Thread counts are the executor's business.
        # frozen_fresh: input part and head from a stream no scratch run uses (module doc)
        init_seed = int(seed) + (FRESH_SEED_OFFSET if mode == FROZEN_FRESH else 0)
        with seeded_init(init_seed):
            model = HighMMT(self._spec(task, unit), **self._hparams())
        if init_state is not None:
            self._import(model, init_state, mode, keep_head)
        model.to(device)
        frozen = init_state is not None and mode in FROZEN_MODES
        for key, p in model.named_parameters():
            p.requires_grad_(not (frozen and not key.startswith("heads.") and not _is_input(key)))
        # train-split statistics of this unit's inputs (never transferred: see _is_stat)
        model.standardizer.fit_task(task)
        x_tr, y_tr = self._data(task, unit, "train", device)
        x_va, y_va = self._data(task, unit, "val", device)
        opt = torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            weight_decay=self.weight_decay,
        )
        n = int(y_tr.shape[0])
        n_batches = max(1, math.ceil(n / max(2, int(self.batch_size))))
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        cal_gen = torch.Generator().manual_seed(int(seed) + 104729)
        best = (math.inf, 0, copy.deepcopy(model.state_dict()))
        curve: list[float] = []
        stale, converged, train_loss = 0, False, float("nan")
        for epoch in range(1, cap + 1):
            model.train()
            total = 0.0
            for idx in torch.tensor_split(torch.randperm(n, generator=gen), n_batches):
                if len(idx) < 2:
                    continue  # BatchNorm needs two samples
                idx = idx.to(device)
                xb = {k: v.index_select(0, idx) for k, v in x_tr.items()}
                loss = _loss(task, model(task.name, xb), y_tr.index_select(0, idx))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / n
            if self.bn_calibration:  # BatchNorm statistics of this epoch's weights
                sub = torch.randperm(n, generator=cal_gen)[: int(self.bn_calibration)]
                parts = [p.to(device) for p in sub.split(max(2, int(self.batch_size)))]
                recalibrate_batchnorm(
                    model,
                    (
                        {task.name: {k: v.index_select(0, p) for k, v in x_tr.items()}}
                        for p in parts
                        if len(p) > 1
                    ),
                )
            val_loss = self._loss_on(model, task, x_va, y_va)[0]
            if not math.isfinite(val_loss):
                raise LearnerError(f"{unit.label}: training diverged at epoch {epoch}")
            curve.append(val_loss)
            if val_loss < best[0]:
                best = (val_loss, epoch, copy.deepcopy(model.state_dict()))
                stale = 0
            else:
                stale += 1
                if stale >= self.patience:
                    converged = True
                    break
        model.load_state_dict(best[2])
        self.model_ = model
        self.task_ = task.name
        self.closed_form_ = None
        val_loss, val_metric = self._loss_on(model, task, x_va, y_va)
        return FitResult(
            val_loss=val_loss,
            val_metric=val_metric,
            curve=curve,
            epochs=len(curve),
            best_epoch=best[1],
            converged=converged,
            state=self.export_state() if return_state else None,
            info={"train_loss": train_loss, "parameters": model.parameter_report()["total"]},
        )

    @torch.no_grad()
    def _loss_on(self, model, task, x, y) -> tuple[float, float]:
        model.eval()
        logits = torch.cat(
            [
                model(task.name, {k: v[i : i + 512] for k, v in x.items()})
                for i in range(0, int(y.shape[0]), 512)
            ]
        )
        loss = float(_loss(task, logits, y))
        metrics = compute_metrics(task.target, logits.float().cpu().numpy(), y.cpu().numpy())
        return loss, float(metrics.get(task.metric, float("nan")))

    def evaluate(self, task, unit, split: str = "val") -> tuple[float, float]:
        self._check_fitted()
        if getattr(self, "closed_form_", None):
            raise LearnerError(
                f"a {self.closed_form_} fit trains no head to evaluate; its score is the "
                "fit's val_loss"
            )
        device = next(self.model_.parameters()).device
        x, y = self._data(task, unit, split, device)
        return self._loss_on(self.model_, task, x, y)


def _align_columns(src: torch.Tensor, target: torch.Tensor, src_layout, dst_layout) -> torch.Tensor:
    """Copy the channel block (left) and the positional/one-hot tail (right) of the last axis."""
    out = target.clone()
    w1, c1 = int(src_layout[0]), int(src_layout[1])
    w2, c2 = int(dst_layout[0]), int(dst_layout[1])
    left = min(c1, c2)
    out[..., :left] = src[..., :left]
    tail = min(w1 - c1, w2 - c2)
    if tail > 0:
        out[..., w2 - tail :] = src[..., w1 - tail :]
    return out
