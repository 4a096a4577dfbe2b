"""Multitask training for grouped models: schedule, losses, metrics, checkpoints, DDP, AMP.

* :func:`multitask_schedule` -- within an epoch, tasks with fewer batches start later so
  that all tasks end together (paper appendix B.5).
* :class:`Trainer` -- per step, the weighted sum of the present tasks' losses (all present
  tasks go through the model in one fused call); per-task validation metrics, a weighted
  aggregate, best checkpoint (kept in memory and restored; ``keep="last"`` keeps the last
  epoch instead), early stopping, seeded
  shuffling, device ``"auto"``, bf16 autocast on CUDA (inside the model), distributed data
  parallel when launched with ``torchrun``.
* :func:`train_two_stage` -- homogeneous pre-training of the fully shared model, then
  fine-tuning with a plan (group copies start from the pre-trained weights).
* :func:`few_shot_weights` -- loss / evaluation weights for few-shot transfer to a target.
* :func:`seeded_init` -- build a model with weights that depend on a seed only, leaving
  torch's global random state as it was.
* :func:`recalibrate_batchnorm` -- recompute BatchNorm running statistics under the
  current weights (done after every epoch, before validation).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hetero.errors import HeteroError, HeteroWarning
from hetero.scoring import task_metrics

# re-exported: the options are named in a torch-free module so the CLI and analyses can read them
from hetero_models.training_options import (
    EARLIER_DEFAULTS,
    KEEP,
    LR_SCHEDULES,
    TASK_SAMPLING,
    check_numbers,
)

__all__ = [
    "EARLIER_DEFAULTS",
    "KEEP",
    "LR_SCHEDULES",
    "TASK_SAMPLING",
    "Trainer",
    "compute_metrics",
    "few_shot_weights",
    "info_nce",
    "lr_factor",
    "multitask_schedule",
    "recalibrate_batchnorm",
    "resolve_device",
    "seeded_init",
    "train_two_stage",
]


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based) of
    ``total``: linear warm-up over the first ``warmup`` steps (from ``1 / warmup``), then a
    half cosine from 1 down to 0 after the last step."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise HeteroError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise HeteroError("device 'cuda' requested but no CUDA device is available")
    return torch.device(device)


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build models inside this block to initialise their weights from ``seed`` alone.

    torch's layers draw their initial weights from the default CPU generator. The block
    forks that generator (:func:`torch.random.fork_rng`), seeds the fork and restores the
    caller's state on exit, so the weights depend on ``seed`` only and the caller's random
    stream is left as it was (no global seeding). Build on the CPU and move the model
    afterwards: CUDA generators are not forked. Two threads building models at the same
    time would share the generator; the executors run fits in processes.

    Examples
    --------
    >>> with seeded_init(0):
    ...     a = torch.nn.Linear(2, 2)
    >>> with seeded_init(0):
    ...     b = torch.nn.Linear(2, 2)
    >>> bool((a.weight == b.weight).all())
    True
    """
    with torch.random.fork_rng(devices=[]):
        # only the CPU generator: torch.manual_seed would also queue a seed for CUDA,
        # applied at CUDA's (later) initialisation and outside this block
        torch.default_generator.manual_seed(int(seed))
        yield


def multitask_schedule(n_batches: Mapping[str, int]) -> list[list[str]]:
    """Tasks present at each step of an epoch.

    The epoch has ``max(n_batches)`` steps; a task with ``n`` batches takes part in the last
    ``n`` of them, so all tasks end together. Tasks keep the order of ``n_batches``.

    >>> multitask_schedule({"a": 3, "b": 2, "c": 1})
    [['a'], ['a', 'b'], ['a', 'b', 'c']]
    """
    if not n_batches:
        return []
    total = max(n_batches.values())
    return [[task for task, n in n_batches.items() if step >= total - n] for step in range(total)]


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, batches: Iterable[Any]) -> bool:
    """Set every BatchNorm's running statistics to those of the model's current weights.

    BatchNorm normalises with batch statistics in training and with running averages
    (momentum 0.1) in evaluation. When the features entering a BatchNorm vary little
    between samples compared with how fast their mean moves while the weights change
    (HighMMT's head: the last latent is mostly the learned latent array), the running
    averages lag behind by several standard deviations of the features and evaluation
    sees garbage. Re-estimating the statistics with the final weights of an epoch removes
    the lag: ``model(batch)`` for each of ``batches`` (model inputs) with the BatchNorms in
    training mode and a cumulative average over the batches (as "precise BN": the mean is
    exact, the variance the mean of the per-batch variances), no gradients, every other
    layer in evaluation mode. Batches of about the training batch size are also the
    fastest on a CPU. A BatchNorm that none of the batches reaches (the head of a task not
    among them) keeps its statistics. Returns whether the model has any BatchNorm.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    norms = [m for m in norms if m.track_running_stats]
    if not norms:
        return False
    was = model.training
    momenta = [m.momentum for m in norms]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    try:
        model.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calls
            m.train()
        for batch in batches:
            model(batch)
        for m, state in zip(norms, saved, strict=True):
            if int(m.num_batches_tracked) == 0:  # saw no data (another task's head): keep
                m.load_state_dict(state)
            else:  # the counter keeps counting training steps
                m.num_batches_tracked.copy_(state["num_batches_tracked"])
    finally:
        for m, mom in zip(norms, momenta, strict=True):
            m.momentum = mom
        model.train(was)
    return True


# ------------------------------------------------------------------------------ metrics


def compute_metrics(target: str, outputs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Every metric of the task's target from logits (:func:`hetero.scoring.task_metrics`,
    the one implementation the reference learner uses too)."""
    return task_metrics(target, outputs, y)


def info_nce(embeddings: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) of a batch of retrieval embeddings.

    Parameters
    ----------
    embeddings : tensor of shape (B, 2, E)
        Both sides' embeddings (a :class:`~hetero_models.highmmt.RetrievalHead` output:
        normalised and scaled so that ``a_i . b_j`` is the logit).
    y : tensor of shape (B,)
        Items match when their ``y`` is equal (row indices for ``match: pair``, class
        labels for ``match: label``).

    Returns
    -------
    tensor
        ``(CE_rows + CE_columns) / 2`` of the logits ``S = A B^T`` against the targets ``P``:
        row ``i`` of ``P`` spreads mass 1 evenly over the matches of query ``i`` (the
        identity with unique ``y``: CLIP's loss), and likewise for the columns.
    """
    a, b = embeddings[:, 0].float(), embeddings[:, 1].float()
    logits = a @ b.T
    match = (y.reshape(-1, 1) == y.reshape(1, -1)).float()
    targets = match / match.sum(dim=1, keepdim=True)
    rows = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    cols = -(targets.T * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return 0.5 * (rows + cols)


def _loss(task, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    name = task.loss
    if name == "info_nce":
        return info_nce(logits, y)
    if name == "cross_entropy":
        return F.cross_entropy(logits, y)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(logits.reshape(y.shape), y.float())
    if name == "mse":
        return F.mse_loss(logits.reshape(y.shape), y.float())
    if name == "l1":
        return F.l1_loss(logits.reshape(y.shape), y.float())
    raise HeteroError(f"task {task.name!r}: unsupported loss {name!r}")


# ------------------------------------------------------------------------------ data


class _TaskTensors:
    """One task's splits as tensors on the training device."""

    def __init__(self, task, device: torch.device):
        self.task = task
        self.splits: dict[str, tuple[dict[str, torch.Tensor], torch.Tensor]] = {}
        for split in ("train", "val", "test"):
            arrays, y = task.data.split(split)
            x = {
                m: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32).to(device)
                for m, a in arrays.items()
            }
            yt = torch.as_tensor(np.ascontiguousarray(y))
            yt = yt.float() if task.target == "regression" else yt.long()
            self.splits[split] = (x, yt.to(device))

    def n(self, split: str) -> int:
        return int(self.splits[split][1].shape[0])

    def batch(self, split: str, idx: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x, y = self.splits[split]
        idx = idx.to(y.device)
        return {m: a.index_select(0, idx) for m, a in x.items()}, y.index_select(0, idx)


def few_shot_weights(
    tasks: Sequence[str], target: str, target_weight: float = 10.0
) -> tuple[dict[str, float], dict[str, float]]:
    """Loss and evaluation weights for few-shot learning of ``target`` with auxiliary tasks.

    The target's loss gets ``target_weight`` (the others 1) and checkpoints are selected by
    the target's validation metric only (paper appendix B.8).
    """
    if target not in tasks:
        raise HeteroError(f"few-shot target {target!r} is not among the tasks {list(tasks)}")
    loss_w = {t: (float(target_weight) if t == target else 1.0) for t in tasks}
    eval_w = {t: (1.0 if t == target else 0.0) for t in tasks}
    return loss_w, eval_w


# ------------------------------------------------------------------------------ trainer


class Trainer:
    """Multitask trainer.

    Parameters
    ----------
    model : GroupedModel
        Called as ``model({task: inputs}) -> {task: logits}``.
    suite : hetero.suite.Suite
        Data (``task.data``), losses and metrics.
    tasks : sequence of str, optional
        Tasks to train on (default: all of the suite). Transfer to a new task is training
        a pre-trained model with ``tasks=[target]``.
    epochs : int
    lr, weight_decay : float
        Adam.
    batch_size : int or dict
        Per task or one for all.
    loss_weights, eval_weights : dict, optional
        Weight of each task's loss in a step, and of its validation metric in the aggregate
        used for checkpoint selection and early stopping (default 1 each).
    patience : int, optional
        Stop after this many epochs without improvement of the aggregate.
    keep : {"best", "last"}
        The weights the model holds after :meth:`fit`: ``"best"`` (default) restores the
        checkpoint of the best validation aggregate; ``"last"`` keeps the weights of the
        last epoch run (the last of ``epochs``, or the epoch early stopping ended on), for
        analyses that must see what training did rather than its best moment.
    device : {"auto", "cpu", "cuda"}
    seed : int
        Shuffling (and, via :func:`train_two_stage`, initialisation).
    progress : bool
        A progress bar per epoch (when stderr is a terminal) and one line per epoch on
        stderr.
    stage : str
        Label of the ``stage`` column of :attr:`history_`.
    compile : bool
        Run the training steps through ``torch.compile(model)`` (evaluation stays eager).
    bn_calibration : int
        After every epoch, before validation, recompute the BatchNorm running statistics
        from this many training samples per task (a seeded subsample) under the epoch's
        final weights (:func:`recalibrate_batchnorm`); 0 keeps the running averages.
    task_sampling : {"balanced", "proportional"}
        Batches per task and epoch. ``"balanced"`` (default): every task takes as many
        batches as the largest, a small task cycling through fresh shuffles of its data
        (its first pass is the proportional one). ``"proportional"``: one pass over each
        task's training data, so a small task takes part in few steps.
    lr_schedule : {"cosine", "constant"}
        ``"cosine"`` (default): linear warm-up over the first epoch's steps (over the first
        tenth of all steps when ``epochs`` < 10), then a half cosine down to 0 at the end
        of ``epochs`` (:func:`lr_factor`); early stopping ends it where it is. Each
        :class:`Trainer` runs its own schedule, so the two stages of
        :func:`train_two_stage` each warm up and decay. ``"constant"``: ``lr`` at every
        step.

    The two defaults were ``"proportional"`` and ``"constant"`` until experiment 14
    (``docs/results.md``) found the pair better on ``mini`` and ``full``.

    Inputs are standardised per channel with train-split statistics held by the model
    (``model.fit_input_stats(suite, tasks)``, called by :meth:`fit` for inputs that have
    none yet; a modality declared ``standardize: false`` is left as it is).

    Attributes
    ----------
    history_ : list of dict
        One row per epoch: ``epoch``, ``train_loss``, ``val_score`` and ``val/<task>/<metric>``.
    best_epoch_, best_score_ : int, float
        The epoch with the best validation aggregate and that aggregate (its checkpoint is
        restored into the model after :meth:`fit` when ``keep="best"``).
    kept_epoch_ : int
        The epoch whose weights the model holds after :meth:`fit` (``best_epoch_`` with
        ``keep="best"``, the last epoch run with ``keep="last"``; 0: no epoch ran).
    """

    def __init__(
        self,
        model,
        suite,
        *,
        tasks: Sequence[str] | None = None,
        epochs: int = 10,
        lr: float = 8e-4,
        weight_decay: float = 0.0,
        batch_size: int | Mapping[str, int] = 32,
        loss_weights: Mapping[str, float] | None = None,
        eval_weights: Mapping[str, float] | None = None,
        patience: int | None = None,
        keep: str = "best",
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = False,
        stage: str = "train",
        compile: bool = False,
        bn_calibration: int = 256,
        task_sampling: str = "balanced",
        lr_schedule: str = "cosine",
    ):
        self.model = model
        self.suite = suite
        self.tasks = list(tasks) if tasks is not None else [t.name for t in suite.tasks]
        if not self.tasks:
            raise HeteroError("no tasks to train on")
        for name in self.tasks:
            suite.task(name)  # raises on unknown names
        check_numbers(epochs=epochs, lr=lr, weight_decay=weight_decay, patience=patience)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.batch_size = batch_size
        self.loss_weights = dict(loss_weights or {})
        self.eval_weights = dict(eval_weights or {})
        self.patience = patience
        if keep not in KEEP:
            raise HeteroError(f"keep: expected one of {', '.join(KEEP)}, got {keep!r}")
        self.keep = keep
        self.device = resolve_device(device)
        self.seed = int(seed)
        self.progress = progress
        self.stage = stage
        self.compile = compile
        if int(bn_calibration) < 0:
            raise HeteroError(f"bn_calibration must be >= 0, got {bn_calibration}")
        self.bn_calibration = int(bn_calibration)
        if task_sampling not in TASK_SAMPLING:
            raise HeteroError(
                f"task_sampling: expected one of {', '.join(TASK_SAMPLING)}, got {task_sampling!r}"
            )
        self.task_sampling = task_sampling
        if lr_schedule not in LR_SCHEDULES:
            raise HeteroError(
                f"lr_schedule: expected one of {', '.join(LR_SCHEDULES)}, got {lr_schedule!r}"
            )
        self.lr_schedule = lr_schedule

    # -------------------------------------------------------------- helpers
    def _tensors(self, name: str) -> _TaskTensors:
        cache = self.__dict__.setdefault("_cache", {})
        if name not in cache:
            cache[name] = _TaskTensors(self.suite.task(name), self.device)
        return cache[name]

    def _bs(self, task: str) -> int:
        bs = self.batch_size
        value = bs.get(task, 32) if isinstance(bs, Mapping) else bs
        if int(value) < 2:
            raise HeteroError(f"batch size of task {task!r} must be >= 2, got {value}")
        return int(value)

    @staticmethod
    def _dist() -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def _epoch_batches(
        self, data: dict[str, _TaskTensors], epoch: int
    ) -> dict[str, list[torch.Tensor]]:
        """Shuffled batch indices per task; under DDP each rank gets its share of batches."""
        rank, world = self._dist()
        passes = {
            name: max(1, math.ceil(data[name].n("train") / self._bs(name))) for name in self.tasks
        }
        out = {}
        for ti, name in enumerate(self.tasks):
            n = data[name].n("train")
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + ti)
            perm = torch.randperm(n, generator=g)
            n_batches = passes[name]
            batches = list(torch.tensor_split(perm, n_batches))
            if self.task_sampling == "balanced":
                n_batches = max(passes.values())
                while len(batches) < n_batches:  # fresh shuffles of a smaller task
                    batches += torch.tensor_split(torch.randperm(n, generator=g), passes[name])
                batches = batches[:n_batches]
            if world > 1:
                per_rank = max(1, n_batches // world)
                batches = [batches[(rank + k * world) % n_batches] for k in range(per_rank)]
            out[name] = batches
        return out

    def _calibrate(self, model, epoch: int) -> None:
        """Recompute BatchNorm statistics on a seeded subsample of every task's train split,
        in fused steps of the training batch sizes."""
        if not self.bn_calibration:
            return
        chunks: dict[str, list[torch.Tensor]] = {}
        for ti, name in enumerate(self.tasks):
            n = self._data[name].n("train")
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + ti + 499)
            idx = torch.randperm(n, generator=g)[: self.bn_calibration]
            # no chunk of one sample: BatchNorm needs two
            parts = [p for p in idx.split(self._bs(name)) if len(p) > 1]
            if parts:
                chunks[name] = parts

        def batches():
            for k in range(max((len(c) for c in chunks.values()), default=0)):
                yield {
                    name: self._data[name].batch("train", parts[k])[0]
                    for name, parts in chunks.items()
                    if k < len(parts)
                }

        recalibrate_batchnorm(model, batches())

    def _score(self, metrics: dict[str, dict[str, float]]) -> float:
        total, weight = 0.0, 0.0
        for name in self.tasks:
            w = float(self.eval_weights.get(name, 1.0))
            if w == 0:
                continue
            task = self.suite.task(name)
            value = metrics[name][task.metric]
            if not np.isfinite(value):
                value = -metrics[name]["loss"] if task.higher_is_better else metrics[name]["loss"]
            total += w * (value if task.higher_is_better else -value)
            weight += w
        return total / weight if weight else float("nan")

    def _steps(self, schedule: list[list[str]], epoch: int, show: bool):
        """Iterate over the steps of an epoch, with a transient progress bar on stderr."""
        if not show or not sys.stderr.isatty():
            yield from schedule
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            job = bar.add_task(f"[{self.stage}] epoch {epoch}/{self.epochs}", total=len(schedule))
            for step in schedule:
                yield step
                bar.advance(job)

    # -------------------------------------------------------------- evaluation
    @torch.no_grad()
    def predict(
        self, split: str = "test", tasks: Sequence[str] | None = None, batch_size: int = 256
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Outputs (logits, float32) and targets of the current model on ``split``, per
        task, samples in split order (an empty split gives no entry)."""
        model = self.model
        model.eval()
        model.to(self.device)
        out = {}
        for name in tasks or self.tasks:
            data = self._tensors(name)
            n = data.n(split)
            if n == 0:
                continue
            logits, ys = [], []
            for idx in torch.arange(n).split(batch_size):
                x, y = data.batch(split, idx)
                logits.append(model({name: x})[name].float())
                ys.append(y)
            out[name] = (torch.cat(logits), torch.cat(ys))
        return out

    def evaluate(
        self, split: str = "test", tasks: Sequence[str] | None = None, batch_size: int = 256
    ) -> dict[str, dict[str, float]]:
        """Per-task metrics (plus ``loss``) of the current model on ``split``."""
        return self.metrics(self.predict(split, tasks, batch_size), tasks)

    def metrics(
        self,
        outputs: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        tasks: Sequence[str] | None = None,
    ) -> dict[str, dict[str, float]]:
        """Per-task metrics (plus ``loss``) of :meth:`predict`'s ``outputs`` (a task with
        none, an empty split, gets only a NaN loss)."""
        out: dict[str, dict[str, float]] = {}
        for name in tasks or self.tasks:
            if name not in outputs:
                out[name] = {"loss": float("nan")}
                continue
            lg, yy = outputs[name]
            task = self.suite.task(name)
            metrics = {"loss": float(_loss(task, lg, yy))}
            metrics.update(compute_metrics(task.target, lg.cpu().numpy(), yy.cpu().numpy()))
            out[name] = metrics
        return out

    # -------------------------------------------------------------- training
    def fit(self) -> Trainer:
        """Train for ``epochs`` (or until early stopping); restore the best checkpoint
        (``keep="best"``) or keep the last epoch's weights (``keep="last"``)."""
        model = self.model.to(self.device)
        rank, world = self._dist()
        self._data = {name: self._tensors(name) for name in self.tasks}
        fit_inputs = getattr(model, "fit_input_stats", None)
        if fit_inputs is not None:  # train-split statistics, once (kept by a trained model)
            fit_inputs(self.suite, tasks=self.tasks)
        runner = torch.compile(model) if self.compile else model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            runner = DistributedDataParallel(model, find_unused_parameters=True)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        self.history_: list[dict[str, Any]] = []
        self.best_score_ = -math.inf
        self.best_epoch_ = 0
        self.kept_epoch_ = 0
        keep_best = self.keep == "best"
        best_state = copy.deepcopy(model.state_dict()) if keep_best else None
        stale = 0

        def diverged(epoch: int, what: str) -> None:
            """Stop at a divergence: keep the best epoch so far with a warning, or raise
            when there is none to keep (no finite epoch yet, or ``keep="last"``)."""
            message = (
                f"[{self.stage}] training diverged at epoch {epoch} ({what}); lower the "
                f"learning rate (lr {self.lr:g}) or check the inputs for extreme values"
            )
            if not (keep_best and self.best_epoch_ > 0):
                raise HeteroError(message)
            warnings.warn(f"{message}; kept epoch {self.best_epoch_}", HeteroWarning, stacklevel=3)

        scheduler = None
        for epoch in range(1, self.epochs + 1):
            start = time.perf_counter()
            model.train()
            batches = self._epoch_batches(self._data, epoch)
            schedule = multitask_schedule({t: len(b) for t, b in batches.items()})
            if scheduler is None and self.lr_schedule == "cosine":
                # every epoch has as many steps as the first; the warm-up is one epoch, or
                # a tenth of all steps when there are fewer than 10 epochs
                total = self.epochs * len(schedule)
                warmup = max(1, min(len(schedule), total // 10))
                scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer, functools.partial(lr_factor, total=total, warmup=warmup)
                )
            cursor = dict.fromkeys(batches, 0)
            losses = []
            for present in self._steps(schedule, epoch, show=self.progress and rank == 0):
                inputs, targets = {}, {}
                for name in present:
                    idx = batches[name][cursor[name]]
                    cursor[name] += 1
                    inputs[name], targets[name] = self._data[name].batch("train", idx)
                logits = runner(inputs)
                loss = sum(
                    float(self.loss_weights.get(name, 1.0))
                    * _loss(self.suite.task(name), logits[name], targets[name])
                    for name in present
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                losses.append(float(loss.detach()))
            # nothing useful can come of non-finite weights (nor can they be scored)
            broken = not math.isfinite(sum(losses)) or not bool(
                torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()
            )  # (one device sync per epoch)
            if world > 1:  # every replica stops together
                flag = torch.tensor(float(broken), device=self.device)
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                broken = bool(flag.item())
            if broken:
                diverged(epoch, f"mean training loss {np.mean(losses) if losses else math.nan:.4g}")
                break
            self._calibrate(model, epoch)
            if world > 1:  # replicas' BatchNorm statistics drift apart: take rank 0's
                for buf in model.buffers():
                    torch.distributed.broadcast(buf, src=0)
            val = self.evaluate("val")
            bad = [  # (a task without validation samples has a NaN loss by design)
                name
                for name, m in val.items()
                if self._data[name].n("val") and not math.isfinite(m["loss"])
            ]
            if bad:
                diverged(epoch, f"validation loss of {', '.join(bad)} not finite")
                break
            score = self._score(val)
            row: dict[str, Any] = {
                "stage": self.stage,
                "epoch": epoch,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "val_score": score,
                "time_s": round(time.perf_counter() - start, 3),
            }
            for name, metrics in val.items():
                for key, value in metrics.items():
                    row[f"val/{name}/{key}"] = value
            self.history_.append(row)
            improved = score > self.best_score_ or (self.best_epoch_ == 0 and np.isnan(score))
            if improved:
                self.best_score_, self.best_epoch_ = score, epoch
                if keep_best:
                    best_state = copy.deepcopy(model.state_dict())
                stale = 0
            else:
                stale += 1
            if self.progress and rank == 0:
                print(
                    f"[{self.stage}] epoch {epoch}/{self.epochs} train_loss "
                    f"{row['train_loss']:.4f} val_score {score:.4f}"
                    f"{' *' if improved else ''}",
                    file=sys.stderr,
                    flush=True,
                )
            if self.patience is not None and stale >= self.patience:
                break
        if keep_best:
            model.load_state_dict(best_state)
            self.kept_epoch_ = self.best_epoch_
        else:
            self.kept_epoch_ = len(self.history_)
        return self


def train_two_stage(
    suite,
    plan=None,
    *,
    model: str = "highmmt",
    hparams: Mapping[str, Any] | None = None,
    pretrain_epochs: int = 10,
    finetune_epochs: int = 10,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    keep: str = "best",
    **trainer_kwargs: Any,
):
    """Homogeneous pre-training, then heterogeneity-aware fine-tuning with ``plan``.

    Returns ``(model, history)``: the fine-tuned model (the best checkpoint of the last
    stage, or its last epoch with ``keep="last"``) and the epoch rows of both stages
    (column ``stage``). Without a plan or with ``finetune_epochs=0`` only the
    pre-training stage runs. ``keep`` (see :class:`Trainer`) and the other
    ``trainer_kwargs`` apply to both stages. ``seed`` sets the initial
    weights (:func:`seeded_init`) and the batch order of both stages (``seed`` and
    ``seed + 1``); torch's global random state is not touched.
    """
    from hetero_models.registry import create_model

    with seeded_init(seed):  # the initial weights depend on the seed only
        net = create_model(model, suite, **dict(hparams or {}))
    history = []
    trainer = Trainer(
        net,
        suite,
        tasks=tasks,
        epochs=pretrain_epochs,
        seed=seed,
        stage="pretrain",
        keep=keep,
        **trainer_kwargs,
    )
    if pretrain_epochs > 0:
        history += trainer.fit().history_
    if plan is not None and finetune_epochs > 0:
        net.apply_plan(plan)  # copies start from the pre-trained weights
        trainer = Trainer(
            net,
            suite,
            tasks=tasks,
            epochs=finetune_epochs,
            seed=seed + 1,
            stage="finetune",
            keep=keep,
            **trainer_kwargs,
        )
        history += trainer.fit().history_
    return net, history
