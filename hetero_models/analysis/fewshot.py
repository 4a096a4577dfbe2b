"""Few-shot learning of a target task (paper Fig. 9 and appendix B.8).

Per seed and fraction ``f`` of the target's training split (a seeded, class-stratified
subset; fractions of one seed are nested), two arms on the same subset:

* ``alone`` -- a model trained on the target alone, early stopping on its validation
  metric;
* ``pre-trained`` -- the model pre-trained on the other (source) tasks, then fine-tuned on
  the target together with the sources (appendix B.8: the target's loss weighted
  ``target_weight``, checkpoints selected by the target's validation metric only;
  :func:`~hetero_models.trainer.few_shot_weights`), or on the target alone with
  ``auxiliary=False``; early stopping as for ``alone``.

Both arms start from the same initial weights (the seed) and see the target's batches in
the same order; the pre-training is done once per seed and shared by the fractions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

from hetero.errors import HeteroError
from hetero.report.analysis import FewShotResult
from hetero_models.analysis.common import (
    base_provenance,
    fit,
    interval,
    new_model,
    paired_differences,
    scores_on_test,
    subsample_train,
    summarise,
    trainer_options,
    verdict,
)

__all__ = ["FewShotResult", "few_shot"]


def few_shot(
    suite: Any,
    target: str,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.25, 0.5, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    sources: Sequence[str] | None = None,
    pretrain_epochs: int = 4,
    finetune_epochs: int = 10,
    alone_epochs: int = 10,
    patience: int | None = 3,
    target_weight: float = 10.0,
    auxiliary: bool = True,
    min_samples: int = 4,
    model: str = "highmmt",
    hparams: Any = None,
    device: str = "auto",
    trainer_kwargs: Any = None,
    resolution: float = 0.02,
    log: Callable[[str], None] | None = None,
) -> FewShotResult:
    """Target test metric against the fraction of its training data, alone vs pre-trained.

    Parameters
    ----------
    suite : Suite
    target : str
    fractions : sequence of float
        Fractions of the target's training split in (0, 1].
    seeds : sequence of int
        Initial weights, batch order and the training subset.
    sources : sequence of str, optional
        Pre-training tasks (default: every other task).
    pretrain_epochs : int
        Multitask pre-training on the sources.
    finetune_epochs, alone_epochs : int
        Epoch caps of the two arms (early stopping with ``patience``).
    patience : int or None
    target_weight : float
        Loss weight of the target in fine-tuning with auxiliary tasks.
    auxiliary : bool
        Fine-tune on the target together with the sources (appendix B.8) or alone.
    min_samples : int
        Fewest training samples kept for a fraction.
    model, hparams, device, trainer_kwargs
        Model and :class:`~hetero_models.trainer.Trainer` options.
    resolution : float
        Differences below this are "no difference" in the verdicts.
    log : callable, optional

    Returns
    -------
    FewShotResult
    """
    from hetero_models.trainer import few_shot_weights

    names = list(suite.task_names)
    task = suite.task(target)
    srcs = [t for t in names if t != target] if sources is None else list(sources)
    if target in srcs:
        raise HeteroError(f"few-shot target {target!r} is also a source task")
    for s in srcs:
        suite.task(s)
    if not srcs:
        raise HeteroError(f"few-shot needs at least one source task besides {target!r}")
    fracs = [float(f) for f in fractions]
    if not fracs or any(not 0 < f <= 1 for f in fracs):
        raise HeteroError(f"fractions must be in (0, 1], got {list(fractions)}")
    tasks = [*srcs, target] if auxiliary else [target]
    loss_w, eval_w = few_shot_weights(tasks, target, target_weight)
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        pre = new_model(suite, seed, model, hparams)
        fit(
            pre,
            suite,
            tasks=srcs,
            epochs=pretrain_epochs,
            seed=seed,
            stage="pretrain",
            device=device,
            trainer_kwargs=trainer_kwargs,
        )
        for f in fracs:
            sub = subsample_train(suite, target, fraction=f, seed=seed, min_samples=min_samples)
            n_train = len(sub.task(target).data.train_idx)
            alone = new_model(suite, seed, model, hparams)
            runs = {
                "alone": fit(
                    alone,
                    sub,
                    tasks=[target],
                    epochs=alone_epochs,
                    seed=seed + 1,
                    patience=patience,
                    stage="alone",
                    device=device,
                    trainer_kwargs=trainer_kwargs,
                ),
                "pre-trained": fit(
                    copy.deepcopy(pre),
                    sub,
                    tasks=tasks,
                    epochs=finetune_epochs,
                    seed=seed + 1,
                    patience=patience,
                    stage="finetune",
                    loss_weights=loss_w,
                    eval_weights=eval_w,
                    device=device,
                    trainer_kwargs=trainer_kwargs,
                ),
            }
            for arm, tr in runs.items():
                value = scores_on_test(tr, sub, tasks=[target])[target]
                rows.append(
                    {
                        "seed": seed,
                        "fraction": f,
                        "n_train": n_train,
                        "arm": arm,
                        "metric": task.metric,
                        "value": value,
                        "epochs_run": len(tr.history_),
                        "best_epoch": tr.best_epoch_,
                    }
                )
            if log:
                log(f"few-shot: seed {seed}, fraction {f:g} ({n_train} samples) done")
    summary = summarise(rows, ["fraction", "arm"], "value")
    sign = 1.0 if task.higher_is_better else -1.0
    diffs = paired_differences(rows, ["fraction"], "value", by="arm", a="pre-trained", b="alone")
    gains, verdicts = [], []
    for (f,), d in diffs.items():
        d = [sign * x for x in d]
        gains.append({"fraction": f, "quantity": "gain", **interval(d)})
        verdicts.append(
            f"fraction {f:g}: " + verdict(d, "pre-trained", "alone", resolution=resolution)
        )
    config = {
        "target": target,
        "metric": task.metric,
        "higher_is_better": task.higher_is_better,
        "fractions": fracs,
        "seeds": list(seeds),
        "sources": srcs,
        "pretrain_epochs": pretrain_epochs,
        "finetune_epochs": finetune_epochs,
        "alone_epochs": alone_epochs,
        "patience": patience,
        "target_weight": target_weight,
        "auxiliary": auxiliary,
        "min_samples": min_samples,
        "model": model,
        "hparams": hparams,
        "trainer_kwargs": trainer_options(trainer_kwargs),
        "resolution": resolution,
    }
    if any(math.isnan(r["value"]) for r in rows):
        verdicts.append("some runs gave no test metric (NaN): see the rows")
    return FewShotResult(
        {"rows": rows, "summary": summary, "gains": gains},
        verdicts,
        config,
        base_provenance("few_shot", config),
    )
