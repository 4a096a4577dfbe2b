"""Transfer to a new task (paper Table 3 and appendix D.1).

Per held-out target task and seed:

* ``alone`` -- the target trained alone until early stopping ends it (``alone_epochs`` is a
  cap, ``patience`` epochs without a better validation metric stop it): a converged
  baseline, not one cut at the pre-trained model's budget;
* ``pre-trained on m`` -- the model pre-trained (multitask, fully shared) on ``m`` source
  tasks (the other tasks, largest training split first, as the paper orders them), then
  fine-tuned on the target alone with the same early stopping.

One model spans the whole suite, so both arms have the same architecture and start from the
same initial weights (the seed); the target's batches come in the same order (seed + 1).
Rows record how many epochs each run took and whether early stopping ended it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.report.analysis import TransferResult
from hetero_models.analysis.common import (
    base_provenance,
    fit,
    interval,
    new_model,
    scores_on_test,
    summarise,
    trainer_options,
    verdict,
)

__all__ = ["TransferResult", "transfer"]


def _config_name(m: int) -> str:
    return "alone" if m == 0 else f"pre-trained on {m}"


def transfer(
    suite: Any,
    targets: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_sources: Sequence[int] | None = None,
    pretrain_epochs: int = 4,
    finetune_epochs: int = 20,
    alone_epochs: int = 30,
    patience: int = 3,
    model: str = "highmmt",
    hparams: Any = None,
    device: str = "auto",
    trainer_kwargs: Any = None,
    resolution: float = 0.02,
    log: Callable[[str], None] | None = None,
) -> TransferResult:
    """Target test metric after pre-training on other tasks, against the target alone.

    Parameters
    ----------
    suite : Suite
    targets : sequence of str, optional
        Held-out targets (default: every task).
    seeds : sequence of int
    n_sources : sequence of int, optional
        Numbers of source tasks to pre-train on (the first ``m`` of the other tasks,
        largest training split first); default: all of them.
    pretrain_epochs : int
        Multitask pre-training on the sources.
    finetune_epochs, alone_epochs : int
        Epoch caps of fine-tuning and of the target-alone baseline; both stop early after
        ``patience`` epochs without improvement.
    patience : int
        Early-stopping patience (>= 1: the baseline is trained to convergence).
    model, hparams, device, trainer_kwargs
        Model and :class:`~hetero_models.trainer.Trainer` options.
    resolution : float
        Differences below this are "no difference" in the verdicts.
    log : callable, optional

    Returns
    -------
    TransferResult
    """
    names = list(suite.task_names)
    if len(names) < 2:
        raise HeteroError(f"transfer needs at least 2 tasks, got {names}")
    tgts = names if targets is None else list(targets)
    for t in tgts:
        suite.task(t)
    if int(patience) < 1:
        raise HeteroError(
            f"patience must be >= 1 (the baseline trains to convergence), got {patience}"
        )
    counts = sorted({int(m) for m in n_sources}) if n_sources is not None else [len(names) - 1]
    if not counts or counts[0] < 1 or counts[-1] > len(names) - 1:
        raise HeteroError(
            f"n_sources must be between 1 and {len(names) - 1}, got {list(n_sources or [])}"
        )
    rows: list[dict[str, Any]] = []
    for target in tgts:
        task = suite.task(target)
        others = sorted(
            (t for t in names if t != target),
            key=lambda t: (-len(suite.task(t).data.train_idx), names.index(t)),
        )
        for seed in seeds:
            for m in [0, *counts]:
                net = new_model(suite, seed, model, hparams)
                if m:
                    fit(
                        net,
                        suite,
                        tasks=others[:m],
                        epochs=pretrain_epochs,
                        seed=seed,
                        stage="pretrain",
                        device=device,
                        trainer_kwargs=trainer_kwargs,
                    )
                cap = finetune_epochs if m else alone_epochs
                tr = fit(
                    net,
                    suite,
                    tasks=[target],
                    epochs=cap,
                    seed=seed + 1,
                    patience=patience,
                    stage="finetune" if m else "alone",
                    device=device,
                    trainer_kwargs=trainer_kwargs,
                )
                value = scores_on_test(tr, suite, tasks=[target])[target]
                rows.append(
                    {
                        "target": target,
                        "seed": seed,
                        "config": _config_name(m),
                        "n_sources": m,
                        "sources": "+".join(others[:m]),
                        "metric": task.metric,
                        "value": value,
                        "epochs_run": len(tr.history_),
                        "best_epoch": tr.best_epoch_,
                        "epoch_cap": cap,
                        "stopped_early": len(tr.history_) < cap,
                    }
                )
                if log:
                    log(f"transfer: {target}, seed {seed}, {_config_name(m)}: {value:.4f}")
    summary = summarise(rows, ["target", "config"], "value")
    value_of = {(r["target"], r["seed"], r["n_sources"]): r["value"] for r in rows}
    gains: list[dict[str, Any]] = []
    verdicts: list[str] = []
    for m in counts:
        by_seed: dict[int, list[float]] = {}
        for target in tgts:
            sign = 1.0 if suite.task(target).higher_is_better else -1.0
            d = {s: sign * (value_of[(target, s, m)] - value_of[(target, s, 0)]) for s in seeds}
            for s, x in d.items():
                by_seed.setdefault(s, []).append(x)
            gains.append(
                {
                    "target": target,
                    "config": _config_name(m),
                    "quantity": "gain",
                    **interval(d.values()),
                }
            )
            verdicts.append(
                f"{target}: "
                + verdict(list(d.values()), _config_name(m), "alone", resolution=resolution)
            )
        if len(tgts) > 1:
            per_seed = [float(np.mean(v)) for v in by_seed.values()]
            gains.append(
                {
                    "target": "mean",
                    "config": _config_name(m),
                    "quantity": "gain",
                    **interval(per_seed),
                }
            )
            verdicts.append(
                f"mean over {len(tgts)} targets: "
                + verdict(per_seed, _config_name(m), "alone", resolution=resolution)
            )
    convergence = []
    for target in tgts:
        for m in [0, *counts]:
            sel = [r for r in rows if r["target"] == target and r["n_sources"] == m]
            stopped = sum(bool(r["stopped_early"]) for r in sel)
            convergence.append(
                {
                    "target": target,
                    "config": _config_name(m),
                    "runs": len(sel),
                    "stopped_early": stopped,
                    "mean_epochs": float(np.mean([r["epochs_run"] for r in sel])),
                }
            )
            if m == 0 and stopped < len(sel):
                verdicts.append(
                    f"{target}: the target-alone baseline hit its epoch cap "
                    f"({alone_epochs}) in {len(sel) - stopped} of {len(sel)} seeds "
                    "(not converged: raise alone_epochs)"
                )
    config = {
        "targets": tgts,
        "seeds": list(seeds),
        "n_sources": counts,
        "pretrain_epochs": pretrain_epochs,
        "finetune_epochs": finetune_epochs,
        "alone_epochs": alone_epochs,
        "patience": patience,
        "model": model,
        "hparams": hparams,
        "trainer_kwargs": trainer_options(trainer_kwargs),
        "resolution": resolution,
    }
    return TransferResult(
        {"rows": rows, "summary": summary, "gains": gains, "convergence": convergence},
        verdicts,
        config,
        base_provenance("transfer", config),
    )
