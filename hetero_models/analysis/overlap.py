"""Parameter overlap between tasks (paper section 3.4, Table 6).

For each task ``T`` and trainable parameter ``theta`` of a trained model, the *involvement*
``I_T(theta)`` is the mean absolute gradient of the task's objective over its training
split (Han et al., 2020, as the paper uses it; the objective is the task's loss, or the
predicted probability of the correct label as in the paper). Two summaries:

* **top-x % overlap** -- per task the ``k = ceil(x N)`` parameters of a component (``N``
  of them) with the largest involvement (exact zeros never count); the overlap of tasks
  ``a`` and ``b`` is ``|top_a & top_b| / k`` (1 on the diagonal when a task touches at least
  ``k`` parameters; two random sets overlap by ``k / N`` on average: the null).
* **involved tasks** -- the paper's Table 6: parameter ``theta`` is involved in task ``T``
  when ``I_T(theta) > epsilon * max_T' I_T'(theta)``; the fractions of parameters involved
  in 1, 2, ... tasks (parameters no task moves are left out).

Both per component: the unimodal encoder, the crossmodal layer and the whole model
(``"all"``, heads included), for every model given (share-all and grouped, several seeds).
In a grouped model, tasks whose units sit in different groups use different copies of a
block and share none of its parameters by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.report.analysis import OverlapResult
from hetero_models.analysis.common import (
    ARMS,
    TrainedModel,
    arm_of,
    base_provenance,
    component_of,
    fmt_interval,
    interval,
    paired_differences,
    subsample_order,
    summarise,
    verdict,
)

__all__ = [
    "COMPONENTS",
    "OverlapResult",
    "check_objective",
    "involved_task_counts",
    "involvement",
    "overlap_matrix",
    "parameter_overlap",
]

#: Components reported by default: the two grouped blocks and the whole model.
COMPONENTS = ("unimodal", "crossmodal", "all")
OBJECTIVES = ("loss", "probability")


def _objective(task: Any, logits: Any, y: Any, objective: str) -> Any:
    import torch

    from hetero_models.trainer import _loss

    if objective == "loss":
        return _loss(task, logits, y)
    if task.target == "multiclass":
        p = torch.softmax(logits.float(), dim=-1).gather(1, y.view(-1, 1)).squeeze(1)
    elif task.target == "binary":
        p1 = torch.sigmoid(logits.float().reshape(y.shape))
        p = torch.where(y > 0, p1, 1 - p1)
    else:
        raise HeteroError(
            f"task {task.name!r}: objective 'probability' needs a multiclass or binary task "
            f"(got {task.target}); use objective 'loss'"
        )
    return p.mean()


def check_objective(suite: Any, tasks: Sequence[str], objective: str, batch_size: int) -> None:
    """Raise before any work when ``objective`` with gradients over ``batch_size`` samples
    says nothing about one of ``tasks``.

    A retrieval task's loss (InfoNCE) compares the items of a batch with each other: over
    one sample it is identically 0 and so is its gradient, so per-sample involvement
    (``batch_size=1``, the paper's default) would report that the task uses no parameter.
    Its objective is the loss (there is no correct-label probability).
    """
    if objective not in OBJECTIVES:
        raise HeteroError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if int(batch_size) < 1:
        raise HeteroError(f"batch_size must be >= 1, got {batch_size}")
    for name in tasks:
        t = suite.task(name)
        if objective == "probability" and t.target not in ("multiclass", "binary"):
            raise HeteroError(
                f"task {t.name!r}: objective 'probability' needs a multiclass or binary task "
                f"(got {t.target}); use objective 'loss'"
            )
        if t.target == "retrieval" and int(batch_size) < 2:
            raise HeteroError(
                f"task {t.name!r}: a retrieval task's loss compares the samples of a batch, so "
                "its gradient over one sample is 0; use a gradient batch of 2 or more "
                "(--grad-batch 32) or leave the task out"
            )


def involvement(
    model: Any,
    suite: Any,
    task: str,
    *,
    split: str = "train",
    objective: str = "loss",
    batch_size: int = 1,
    max_samples: int | None = None,
    seed: int = 0,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Mean absolute gradient of ``task``'s objective for every trainable parameter.

    Parameters
    ----------
    model : GroupedModel
        Evaluated in eval mode (BatchNorm running statistics, no dropout); left unchanged.
    suite : Suite
        Holds the task's data.
    task : str
    split : {"train", "val", "test"}
    objective : {"loss", "probability"}
        The task's loss, or the predicted probability of the correct label (the paper's
        ``M(y|x)``; classification tasks only).
    batch_size : int
        Samples per gradient: 1 gives the paper's per-sample ``E|grad|``; larger batches
        average the gradient inside a batch before the absolute value (faster, smaller).
        A retrieval task needs at least 2 (:func:`check_objective`); its last batch is
        merged into the one before when it would hold a single sample.
    max_samples : int, optional
        Use a seeded, class-stratified subset of this many samples (default: the whole split).
    seed : int
        Seed of that subset.
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    dict of str -> ndarray
        ``{parameter name: involvement}`` (float64, the parameter's shape); parameters the
        task never reaches are zeros.
    """
    import torch

    from hetero_models.trainer import resolve_device

    check_objective(suite, [task], objective, batch_size)
    t = suite.task(task)
    arrays, y = t.data.split(split)
    order = np.arange(len(y))
    if max_samples is not None and max_samples < len(y):
        order = np.sort(subsample_order(y, seed)[: int(max_samples)])
    if len(order) == 0:
        raise HeteroError(f"task {task!r}: the {split} split is empty")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    acc = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    n_batches = 0
    try:
        chunks = [order[i : i + int(batch_size)] for i in range(0, len(order), int(batch_size))]
        if t.target == "retrieval" and len(chunks) > 1 and len(chunks[-1]) == 1:
            chunks[-2:] = [np.concatenate(chunks[-2:])]  # one sample alone has no gradient
        for idx in chunks:
            x = {
                m: torch.as_tensor(np.ascontiguousarray(a[idx]), dtype=torch.float32).to(dev)
                for m, a in arrays.items()
            }
            yt = torch.as_tensor(np.ascontiguousarray(y[idx]))
            yt = (yt.float() if t.target == "regression" else yt.long()).to(dev)
            logits = model({task: x})[task]
            value = _objective(t, logits, yt, objective)
            grads = torch.autograd.grad(value, params, allow_unused=True)
            for a, g in zip(acc, grads, strict=True):
                if g is not None:
                    a += g.detach().abs().double()
            n_batches += 1
    finally:
        model.train(was_training)
    return {n: (a / n_batches).cpu().numpy() for (n, _), a in zip(named, acc, strict=True)}


def overlap_matrix(
    values: Mapping[str, np.ndarray], top_fraction: float
) -> tuple[np.ndarray, int, dict[str, int]]:
    """Pairwise overlap of the tasks' top-``top_fraction`` parameter sets.

    Parameters
    ----------
    values : dict of str -> 1-D ndarray
        Involvement of each task over the same ``N`` parameters.
    top_fraction : float
        ``x`` in (0, 1]: each task's set is its ``k = ceil(x N)`` most involved parameters
        (ties broken by position; parameters with zero involvement never count, so a task
        touching fewer than ``k`` parameters has a smaller set).

    Returns
    -------
    overlap : ndarray (T, T)
        ``|top_a & top_b| / k`` in the order of ``values``.
    k : int
    sizes : dict of str -> int
        Size of each task's set.

    Examples
    --------
    >>> a = np.array([5.0, 4, 3, 0, 0, 0, 0, 0, 0, 1])
    >>> b = np.array([0.0, 4, 3, 5, 0, 0, 0, 0, 0, 0])
    >>> m, k, sizes = overlap_matrix({"a": a, "b": b}, 0.3)
    >>> k, m[0, 1], m[0, 0]
    (3, 0.6666666666666666, 1.0)
    """
    if not 0 < float(top_fraction) <= 1:
        raise HeteroError(f"top_fraction must be in (0, 1], got {top_fraction}")
    names = list(values)
    n = len(next(iter(values.values()))) if names else 0
    if any(len(v) != n for v in values.values()):
        raise HeteroError("overlap_matrix: every task needs one value per parameter")
    k = max(1, math.ceil(float(top_fraction) * n))
    sets = {}
    for name in names:
        v = np.asarray(values[name], dtype=float)
        top = np.argsort(-v, kind="stable")[:k]
        mask = np.zeros(n, bool)
        mask[top[v[top] > 0]] = True
        sets[name] = mask
    out = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if j >= i:
                out[i, j] = out[j, i] = int((sets[a] & sets[b]).sum()) / k
    return out, k, {name: int(s.sum()) for name, s in sets.items()}


def involved_task_counts(values: Mapping[str, np.ndarray], epsilon: float = 0.2) -> np.ndarray:
    """Fractions of parameters involved in 1, 2, ..., T tasks (the paper's Table 6).

    ``theta`` is involved in task ``T`` when ``I_T(theta) > epsilon * max_T' I_T'(theta)``;
    parameters with zero involvement in every task are left out of the fractions.

    >>> involved_task_counts({"a": np.array([1.0, 1, 0]), "b": np.array([0.1, 1, 0])}, 0.2)
    array([0.5, 0.5])
    """
    if not 0 <= float(epsilon) < 1:
        raise HeteroError(f"epsilon must be in [0, 1), got {epsilon}")
    m = np.stack([np.asarray(v, dtype=float) for v in values.values()])
    mx = m.max(axis=0)
    keep = mx > 0
    if not keep.any():
        return np.full(len(values), np.nan)
    involved = (m[:, keep] > float(epsilon) * mx[keep]).sum(axis=0)
    return np.bincount(involved, minlength=len(values) + 1)[1:] / keep.sum()


def _as_trained(models: Any) -> list[TrainedModel]:
    if isinstance(models, TrainedModel):
        return [models]
    if hasattr(models, "grouped_blocks"):
        return [TrainedModel(models, arm_of(models), 0)]
    out = []
    for i, m in enumerate(models):
        out.append(m if isinstance(m, TrainedModel) else TrainedModel(m, arm_of(m), i))
    if not out:
        raise HeteroError("no models to analyse")
    return out


def parameter_overlap(
    models: Any,
    suite: Any,
    *,
    top_fraction: float = 0.1,
    epsilon: float = 0.2,
    components: Sequence[str] = COMPONENTS,
    tasks: Sequence[str] | None = None,
    split: str = "train",
    objective: str = "loss",
    batch_size: int = 1,
    max_samples: int | None = None,
    seed: int = 0,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
) -> OverlapResult:
    """Top-parameter overlap between tasks and the paper's involved-task counts.

    Parameters
    ----------
    models : GroupedModel, TrainedModel or sequence of them
        Trained models; plain models get their arm from their groups and their position
        as seed. Models of two arms with the same seed are compared pairwise.
    suite : Suite
        The suite the models were trained on (its training split is what is summed over).
    top_fraction : float
        ``x`` of the top-x % sets (:func:`overlap_matrix`).
    epsilon : float
        Threshold of the involved-task counts (:func:`involved_task_counts`; paper: 0.2).
    components : sequence of {"unimodal", "crossmodal", "other", "all"}
    tasks : sequence of str, optional
        Default: every task of the model.
    split, objective, batch_size, max_samples, seed, device
        See :func:`involvement`.
    log : callable, optional
        Called with a progress line per model.

    Returns
    -------
    OverlapResult
    """
    trained = _as_trained(models)
    valid = {"unimodal", "crossmodal", "other", "all"}
    bad = [c for c in components if c not in valid]
    if bad or not components:
        raise HeteroError(
            f"components: expected some of {', '.join(sorted(valid))}, got "
            f"{', '.join(map(str, bad)) or 'none'}"
        )
    rows: list[dict[str, Any]] = []
    means: list[dict[str, Any]] = []
    counts: list[dict[str, Any]] = []
    for tm in trained:
        net = tm.model
        names = list(tasks) if tasks is not None else list(net.spec.task_names)
        if len(names) < 2:
            raise HeteroError(f"parameter overlap needs at least 2 tasks, got {names}")
        check_objective(suite, names, objective, batch_size)
        inv = {
            t: involvement(
                net,
                suite,
                t,
                split=split,
                objective=objective,
                batch_size=batch_size,
                max_samples=max_samples,
                seed=seed,
                device=device,
            )
            for t in names
        }
        component = component_of(net)
        pnames = list(inv[names[0]])
        flat = {t: np.concatenate([inv[t][p].ravel() for p in pnames]) for t in names}
        owner = np.concatenate(
            [np.full(inv[names[0]][p].size, component(p), dtype=object) for p in pnames]
        )
        for comp in components:
            mask = np.ones(len(owner), bool) if comp == "all" else owner == comp
            n_params = int(mask.sum())
            if n_params == 0:
                continue
            vals = {t: flat[t][mask] for t in names}
            m, k, sizes = overlap_matrix(vals, top_fraction)
            base = {"arm": tm.arm, "seed": tm.seed, "component": comp}
            off = []
            for i, a in enumerate(names):
                for j in range(i, len(names)):
                    rows.append(
                        {
                            **base,
                            "task_a": a,
                            "task_b": names[j],
                            "overlap": m[i, j],
                            "k": k,
                            "n_params": n_params,
                            "set_a": sizes[a],
                            "set_b": sizes[names[j]],
                        }
                    )
                    if j > i:
                        off.append(m[i, j])
            means.append(
                {
                    **base,
                    "mean_overlap": float(np.mean(off)),
                    "null": k / n_params,
                    "k": k,
                    "n_params": n_params,
                }
            )
            fractions = involved_task_counts(vals, epsilon)
            for n_tasks, frac in enumerate(fractions, start=1):
                counts.append({**base, "n_tasks": n_tasks, "fraction": float(frac)})
        if log:
            log(f"overlap: {tm.arm} model, seed {tm.seed} done")
    summary = summarise(means, ["arm", "component"], "mean_overlap")
    nulls = {(r["arm"], r["component"]): r["null"] for r in means}
    for s in summary:
        s["null"] = nulls[(s["arm"], s["component"])]
    pairs = [r for r in summarise(rows, ["arm", "component", "task_a", "task_b"], "overlap")]
    counts_summary = summarise(counts, ["arm", "component", "n_tasks"], "fraction")
    verdicts = _verdicts(means, counts, summary)
    config = {
        "top_fraction": top_fraction,
        "epsilon": epsilon,
        "components": list(components),
        "tasks": None if tasks is None else list(tasks),
        "split": split,
        "objective": objective,
        "batch_size": batch_size,
        "max_samples": max_samples,
        "seed": seed,
        "models": [{"arm": t.arm, "seed": t.seed, "source": t.source} for t in trained],
    }
    return OverlapResult(
        {
            "rows": rows,
            "summary": summary,
            "means": means,
            "counts": counts,
            "pairs": pairs,
            "counts_summary": counts_summary,
        },
        verdicts,
        config,
        base_provenance("overlap", config),
    )


def _verdicts(means: list[dict], counts: list[dict], summary: list[dict]) -> list[str]:
    out = []
    for s in summary:
        out.append(
            f"{s['arm']}, {s['component']}: mean overlap of the tasks' top sets "
            f"{fmt_interval(s)} ({s['n']} seed{'s' if s['n'] != 1 else ''}) against "
            f"{s['null']:.3f} for random sets"
        )
    diffs = paired_differences(
        means, ["component"], "mean_overlap", by="arm", a="share-all", b="grouped"
    )
    for (comp,), d in diffs.items():
        if d:
            out.append(f"{comp}: " + verdict(d, "share-all", "grouped", verb="overlaps more than"))
    # the paper's reading of Table 6: more tasks share the unimodal encoder's parameters
    # than the crossmodal layer's (fraction involved in at least 3 tasks, or all if fewer)
    for arm in ARMS:
        per_seed: dict[str, dict[int, float]] = {}
        n_tasks = max((r["n_tasks"] for r in counts if r["arm"] == arm), default=0)
        need = min(3, n_tasks)
        for r in counts:
            if r["arm"] == arm and r["n_tasks"] >= need:
                cell = per_seed.setdefault(r["component"], {})
                cell[r["seed"]] = cell.get(r["seed"], 0.0) + r["fraction"]
        if "unimodal" in per_seed and "crossmodal" in per_seed:
            uni, cross = per_seed["unimodal"], per_seed["crossmodal"]
            d = [uni[s] - cross[s] for s in sorted(uni) if s in cross]
            out.append(
                f"{arm}: parameters involved in >= {need} tasks, unimodal "
                f"{fmt_interval(interval(uni.values()))} vs crossmodal "
                f"{fmt_interval(interval(cross.values()))}: "
                + verdict(d, "unimodal", "crossmodal", verb="exceeds")
            )
    return out
