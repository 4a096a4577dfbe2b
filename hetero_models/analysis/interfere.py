"""Parameter interference (paper section 3.4, Table 7).

Start from a trained multitask model, corrupt the training labels of one task (flip them),
keep training on the whole (modified) training set, and measure how every task's test
metric moves against the *same* continued training on clean labels: same starting
weights, same batch order, same epochs -- the only difference is the corrupted labels, so
the change is the interference (a no-op corruption changes nothing). A model whose tasks
share no parameters would show no change on the other tasks.

Continued training is one :class:`~hetero_models.trainer.Trainer` fit of ``epochs``
epochs with ``keep="last"`` and no early stopping: the trainer's normal schedule (one Adam
optimizer whose moments carry over from epoch to epoch, as in any other training), and
the model scored is the one after the last epoch. The default ``keep="best"`` would be
wrong here: it restores the epoch with the best validation aggregate, and the validation
labels are clean, so on the corrupted run it would pick the least damaged epoch (the
corruption's effect would be hidden by model selection, not absent); early stopping
would also let the clean and the corrupted run train for different numbers of epochs.
(Before ``keep="last"`` existed this ran ``epochs`` one-epoch fits, each with a fresh
optimizer; results of that version are not comparable number for number.) ``part``
trains only the unimodal encoder or only the crossmodal layer (the paper's Table 7 b and
c), everything else frozen.

Retrieval tasks are scored like the others (their ``recall@1``, higher is better), but
their labels cannot be corrupted: a retrieval sample's two sides match by position, which
no change of ``y`` undoes, so naming one in ``corrupt`` is an error and the default
corrupts every task that is not a retrieval task.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.report.analysis import InterferenceResult
from hetero_models.analysis.common import (
    ARMS,
    TrainedModel,
    base_provenance,
    component_of,
    effect,
    fit,
    paired_differences,
    replace_train_labels,
    scores_on_test,
    summarise,
    train_models,
    trainer_options,
    verdict,
)

__all__ = ["MODES", "PARTS", "InterferenceResult", "corrupt_labels", "interference"]

#: Label corruptions: every label moved to another class (``flip``), labels permuted among
#: the samples (``shuffle``), or left as they are (``none``: the null / a control).
MODES = ("flip", "shuffle", "none")
#: What continued training updates.
PARTS = ("all", "unimodal", "crossmodal")


def corrupt_labels(
    suite: Any, task: str, *, mode: str = "flip", fraction: float = 1.0, seed: int = 0
) -> Any:
    """``suite`` with part of ``task``'s training labels corrupted (validation and test kept).

    Parameters
    ----------
    suite : Suite
    task : str
    mode : {"flip", "shuffle", "none"}
        ``flip``: class ``c`` becomes ``(c + 1) mod C`` (multiclass), ``1 - y`` (binary,
        multilabel), ``2 mean - y`` (regression: reflected about the training mean);
        ``shuffle``: the chosen labels are permuted among themselves; ``none``: unchanged.
    fraction : float
        Share of the training samples corrupted (a seeded subset).
    seed : int

    Raises :class:`~hetero.errors.HeteroError` for a retrieval task (its two sides match
    by position; no label corruption applies).

    Examples
    --------
    >>> from hetero.suite import Suite, Task
    >>> t = Task.from_arrays("t", {"x": np.zeros((6, 2))}, [0, 1, 2, 0, 1, 2], target="multiclass",
    ...                      train_idx=[0, 1, 2, 3], val_idx=[4], test_idx=[5])
    >>> s = corrupt_labels(Suite([t]), "t", mode="flip")
    >>> s.task("t").data.y.tolist()
    [1, 2, 0, 1, 1, 2]
    """
    if mode not in MODES:
        raise HeteroError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not 0 <= float(fraction) <= 1:
        raise HeteroError(f"fraction must be in [0, 1], got {fraction}")
    t = suite.task(task)
    _check_corruptible(t)
    y = np.array(t.data.y[t.data.train_idx], copy=True)
    rng = np.random.default_rng(seed)
    n = len(y)
    chosen = np.sort(rng.choice(n, size=round(float(fraction) * n), replace=False))
    if mode == "flip":
        if t.target == "multiclass":
            y[chosen] = (y[chosen] + 1) % int(t.n_outputs)
        elif t.target in ("binary", "multilabel"):
            y[chosen] = 1 - y[chosen]
        else:
            y[chosen] = 2 * y.mean(axis=0) - y[chosen]
    elif mode == "shuffle":
        y[chosen] = y[chosen][rng.permutation(len(chosen))]
    return replace_train_labels(suite, task, y)


def _check_corruptible(task: Any) -> None:
    if task.target == "retrieval":
        raise HeteroError(
            f"task {task.name!r}: a retrieval task's labels cannot be corrupted (its two "
            "sides match by position); corrupt a classification or regression task"
        )


def _continue(
    base: Any,
    suite: Any,
    *,
    epochs: int,
    seed: int,
    part: str,
    device: str,
    trainer_kwargs: Any,
) -> tuple[dict[str, float], Any]:
    """Copy ``base``, train ``part`` of it for ``epochs`` epochs (one fit, the last epoch
    kept, no early stopping); return the test scores and the trained copy."""
    net = copy.deepcopy(base)
    component = component_of(net)
    for name, p in net.named_parameters():
        p.requires_grad_(part == "all" or component(name) == part)
    options = {**dict(trainer_kwargs or {}), "keep": "last", "patience": None}
    trainer = fit(
        net,
        suite,
        epochs=epochs,
        seed=seed * 1009,
        stage="interference",
        device=device,
        trainer_kwargs=options,
    )
    return scores_on_test(trainer, suite), net


def interference(
    suite: Any,
    models: Sequence[TrainedModel] | None = None,
    *,
    plan: Any = None,
    seeds: Sequence[int] = (0, 1, 2),
    corrupt: Sequence[str] | None = None,
    mode: str = "flip",
    fraction: float = 1.0,
    epochs: int = 2,
    part: str = "all",
    pretrain_epochs: int = 4,
    finetune_epochs: int = 4,
    model: str = "highmmt",
    hparams: Any = None,
    device: str = "auto",
    trainer_kwargs: Any = None,
    resolution: float = 0.02,
    log: Callable[[str], None] | None = None,
) -> InterferenceResult:
    """Test-metric change of every task when one task's training labels are corrupted.

    Parameters
    ----------
    suite : Suite
    models : sequence of TrainedModel, optional
        Trained models to start from (:func:`~hetero_models.analysis.common.load_trained`);
        default: train them here (:func:`~hetero_models.analysis.common.train_models` with
        ``plan``, ``seeds``, ``pretrain_epochs``, ``finetune_epochs``): share-all and, with
        a plan, grouped, paired by seed.
    plan : GroupingPlan, optional
    seeds : sequence of int
    corrupt : sequence of str, optional
        Tasks whose labels are corrupted, one at a time (default: every task that is not a
        retrieval task; naming a retrieval task is an error).
    mode, fraction
        See :func:`corrupt_labels` (the corruption's seed is the model's seed).
    epochs : int
        Epochs of continued training (clean and corrupted alike): one fit that keeps the
        last epoch (``keep="last"``) and never stops early, whatever ``trainer_kwargs``
        says about ``keep`` and ``patience``.
    part : {"all", "unimodal", "crossmodal"}
        What continued training updates (the rest is frozen).
    model, hparams, device, trainer_kwargs
        Model and :class:`~hetero_models.trainer.Trainer` options (``lr``, ``batch_size``, ...).
    resolution : float
        Differences below this are "no difference" in the verdicts (metric units).
    log : callable, optional

    Returns
    -------
    InterferenceResult
    """
    if part not in PARTS:
        raise HeteroError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if mode not in MODES:
        raise HeteroError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if int(epochs) < 1:
        raise HeteroError(f"epochs must be >= 1, got {epochs}")
    names = list(suite.task_names)
    if corrupt is None:
        targets = [t.name for t in suite.tasks if t.target != "retrieval"]
        if not targets:
            raise HeteroError(
                "every task is a retrieval task: there is no task whose labels can be corrupted"
            )
    else:
        targets = list(corrupt)
    for t in targets:
        _check_corruptible(suite.task(t))  # unknown names raise
    if models is None:
        models = train_models(
            suite,
            plan,
            seeds=seeds,
            pretrain_epochs=pretrain_epochs,
            finetune_epochs=finetune_epochs,
            model=model,
            hparams=hparams,
            device=device,
            trainer_kwargs=trainer_kwargs,
            log=log,
        )
    if not models:
        raise HeteroError("no models to analyse")
    rows: list[dict[str, Any]] = []
    for tm in models:
        component = component_of(tm.model)
        if part != "all" and not any(component(n) == part for n, _ in tm.model.named_parameters()):
            raise HeteroError(f"part {part!r}: the model has no {part} parameters")
        base = scores_on_test(
            fit(tm.model, suite, epochs=0, seed=0, device=device, trainer_kwargs=trainer_kwargs),
            suite,
        )
        common = {
            "epochs": epochs,
            "part": part,
            "device": device,
            "trainer_kwargs": trainer_kwargs,
        }
        clean, _ = _continue(tm.model, suite, seed=tm.seed, **common)
        for c in targets:
            bad = corrupt_labels(suite, c, mode=mode, fraction=fraction, seed=tm.seed)
            moved, _ = _continue(tm.model, bad, seed=tm.seed, **common)
            for t in names:
                task = suite.task(t)
                sign = 1.0 if task.higher_is_better else -1.0
                rows.append(
                    {
                        "arm": tm.arm,
                        "seed": tm.seed,
                        "corrupted": c,
                        "task": t,
                        "metric": task.metric,
                        "base": base[t],
                        "clean": clean[t],
                        "corrupted_value": moved[t],
                        "change": moved[t] - clean[t],
                        "drop": sign * (clean[t] - moved[t]),
                    }
                )
            if log:
                log(f"interference: {tm.arm} seed {tm.seed}, {c} corrupted")
    summary = summarise(rows, ["arm", "corrupted", "task"], "drop")
    others = _others(rows)
    others_summary = summarise(others, ["arm", "corrupted"], "mean_other_drop")
    verdicts = []
    for arm in ARMS:
        per_seed = [
            r["mean_other_drop"] for r in others if r["arm"] == arm and r["corrupted"] == "any"
        ]
        if per_seed:
            verdicts.append(
                effect(
                    per_seed,
                    f"{arm}: the other tasks (mean over the corrupted tasks)",
                    "lose",
                    "gain",
                    resolution=resolution,
                )
            )
        own_seed: dict[int, list[float]] = {}
        for r in rows:
            if r["arm"] == arm and r["task"] == r["corrupted"]:
                own_seed.setdefault(r["seed"], []).append(r["drop"])
        if own_seed:
            verdicts.append(
                effect(
                    [float(np.mean(v)) for v in own_seed.values()],
                    f"{arm}: the corrupted task itself",
                    "loses",
                    "gains",
                    resolution=resolution,
                )
            )
    diffs = paired_differences(
        [r for r in others if r["corrupted"] == "any"],
        [],
        "mean_other_drop",
        by="arm",
        a="share-all",
        b="grouped",
    )
    for d in diffs.values():
        if d:
            verdicts.append(
                verdict(
                    d,
                    "share-all",
                    "grouped",
                    verb="suffers more interference than",
                    resolution=resolution,
                )
            )
    config = {
        "seeds": sorted({m.seed for m in models}),
        "corrupt": targets,
        "mode": mode,
        "fraction": fraction,
        "epochs": epochs,
        "part": part,
        "pretrain_epochs": pretrain_epochs,
        "finetune_epochs": finetune_epochs,
        "model": model,
        "hparams": hparams,
        "trainer_kwargs": trainer_options(trainer_kwargs),
        "resolution": resolution,
        "models": [{"arm": m.arm, "seed": m.seed, "source": m.source} for m in models],
    }
    return InterferenceResult(
        {"rows": rows, "summary": summary, "others": others, "others_summary": others_summary},
        verdicts,
        config,
        base_provenance("interference", config),
    )


def _others(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per arm, seed and corrupted task: the mean drop of the other tasks (and "any")."""
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        if r["task"] != r["corrupted"]:
            cells.setdefault((r["arm"], r["seed"], r["corrupted"]), []).append(r["drop"])
    out = [
        {"arm": a, "seed": s, "corrupted": c, "mean_other_drop": float(np.mean(v))}
        for (a, s, c), v in cells.items()
    ]
    pooled: dict[tuple, list[float]] = {}
    for r in out:
        pooled.setdefault((r["arm"], r["seed"]), []).append(r["mean_other_drop"])
    out += [
        {"arm": a, "seed": s, "corrupted": "any", "mean_other_drop": float(np.mean(v))}
        for (a, s), v in pooled.items()
    ]
    return out
