"""Built-in controls of a measurement: a relabelled twin and a label-shuffled copy per task.

A measurement that cannot find a task's identical twin cannot find anything. For each
chosen task ``T`` two control tasks join the measurement:

- ``T.twin`` (positive control): the same feature arrays with the rows shuffled and the
  class ids permuted (multilabel: label columns permuted; binary: labels flipped; regression:
  targets negated). Every sample keeps its split. Nothing about the inputs or the task
  changes, so each unit's twin must be its nearest unit.
- ``T.null`` (negative control): the same inputs with the labels shuffled within each split,
  so they say nothing about the inputs (a ``match: pair`` retrieval task, whose rows are its
  labels: the second modality's rows shuffled within each split, so no pair belongs
  together). No source can help a target without signal
  (``T(source -> null)`` is about 0 for every source), so ``d(u, u.null)`` measures what a
  useless body costs ``u``: the reference point a measurement must tell the twin apart from.
  Strangers nearer than it carry something ``u`` can use; farther ones are worse than a body
  that learned nothing.

Only the pairs ``u <-> u.twin`` and ``u <-> u.null`` are measured (plus the controls'
baselines), so controls cost about four transfers per unit. They never enter the matrices
or the plan. Units are ranked by the product's distance ``d = max(T_ij, 0) + max(T_ji, 0)``;
the verdict per unit: no stranger is strictly nearer than the twin (ties at the same
distance, often exactly 0, are allowed and counted), and the twin is strictly nearer than
the shuffled copy (so a measurement that puts everything at 0 fails). The unclipped
``T_ij + T_ji`` of both controls is reported beside.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError

__all__ = [
    "CONTROL_SUFFIXES",
    "control_mask",
    "control_rows",
    "control_tasks",
    "controls_summary",
    "is_control",
    "with_controls",
]

#: Task-name suffixes of the positive (twin) and negative (shuffled-label) controls.
CONTROL_SUFFIXES = (".twin", ".null")


def is_control(task_name: str) -> bool:
    """Whether ``task_name`` names a control task."""
    return task_name.endswith(CONTROL_SUFFIXES)


def control_tasks(task: Any, seed: int = 0) -> tuple[Any, Any]:
    """The relabelled twin and the label-shuffled copy of ``task`` (see the module doc)."""
    from hetero.suite import Task

    rng = np.random.default_rng([seed, 0x7A1])
    data = task.data
    n = task.n_samples
    perm = rng.permutation(n)  # new row r holds old row perm[r]
    where = np.empty(n, dtype=np.int64)
    where[perm] = np.arange(n)  # old row -> its new position
    arrays = {m: np.asarray(a)[perm] for m, a in data.arrays.items()}
    y = np.asarray(data.y)
    splits: dict[str, Any] = {
        k: np.sort(where[np.asarray(v)])
        for k, v in (("train_idx", data.train_idx), ("val_idx", data.val_idx),
                     ("test_idx", data.test_idx))
    }  # fmt: skip
    common: dict[str, Any] = dict(
        target=task.target,
        modalities=list(task.modalities),
        loss=task.loss,
        metric=task.metric,
        higher_is_better=task.higher_is_better,
        source=task.source,
    )
    if task.target == "retrieval":
        common["match"] = task.match
    if task.target == "multiclass":
        classes = rng.permutation(task.n_outputs)
        y_twin = classes[y[perm]]
        common["n_classes"] = task.n_outputs
    elif task.target == "binary":
        y_twin = 1 - y[perm]
    elif task.target == "multilabel":
        y_twin = y[perm][:, rng.permutation(y.shape[1])]
    else:
        y_twin = -y[perm]
    twin = Task.from_arrays(f"{task.name}.twin", arrays, y_twin, **splits, **common)
    y_null = y.copy()
    null_arrays = dict(data.arrays)
    paired = task.target == "retrieval" and task.match == "pair"
    last = task.modality_names[-1]
    if paired:
        null_arrays[last] = np.array(data.arrays[last])
    for idx in (data.train_idx, data.val_idx, data.test_idx):  # shuffled within each split
        idx = np.asarray(idx)
        if paired:  # rows are the labels: re-pair the second modality's rows instead
            null_arrays[last][idx] = np.asarray(data.arrays[last])[rng.permutation(idx)]
        else:
            y_null[idx] = y[rng.permutation(idx)]
    null = Task.from_arrays(
        f"{task.name}.null",
        null_arrays,
        y_null,
        train_idx=data.train_idx,
        val_idx=data.val_idx,
        test_idx=data.test_idx,
        **common,
    )
    return twin, null


def with_controls(suite: Any, tasks: Sequence[str] | None, seed: int = 0) -> tuple[Any, list[str]]:
    """``suite`` plus the control tasks of ``tasks`` (None: every task), and those names."""
    from hetero.suite import Suite

    names = list(suite.task_names) if tasks is None else list(tasks)
    for name in names:
        suite.task(name)  # unknown names raise, listing the valid ones
        clash = [f"{name}{s}" for s in CONTROL_SUFFIXES if f"{name}{s}" in suite.task_names]
        if clash:
            raise HeteroError(
                f"--controls: the suite already has a task named '{clash[0]}'; rename it"
            )
    extra = [t for name in names for t in control_tasks(suite.task(name), seed)]
    return Suite([*suite.tasks, *extra], name=suite.name), names


def control_labels(labels: Sequence[str], tasks: Sequence[str]) -> list[str]:
    """The real ``labels`` followed by the control units of those whose task is in ``tasks``."""
    from hetero.suite import Unit

    out = list(labels)
    for label in labels:
        unit = Unit.parse(label)
        if unit.task in tasks:
            out += [Unit(unit.task + s, unit.modalities).label for s in CONTROL_SUFFIXES]
    return out


def control_mask(labels: Sequence[str]) -> np.ndarray:
    """Ordered pairs to measure among ``control_labels``: each unit with its two controls."""
    from hetero.suite import Unit

    index = {label: i for i, label in enumerate(labels)}
    mask = np.zeros((len(labels), len(labels)), dtype=bool)
    for label in labels:
        unit = Unit.parse(label)
        if is_control(unit.task):
            continue
        for s in CONTROL_SUFFIXES:
            c = index.get(Unit(unit.task + s, unit.modalities).label)
            if c is not None:
                mask[index[label], c] = mask[c, index[label]] = True
    return mask


def control_rows(
    labels: Sequence[str],
    distance: np.ndarray,
    control_t: dict[tuple[str, str], tuple[float, float]],
) -> list[dict[str, Any]]:
    """Per unit: where its twin and its shuffled copy rank among the real units.

    Parameters
    ----------
    labels : sequence of str
        Real units of the level (matrix order).
    distance : ndarray (n, n)
        Distances ``d`` between real units (NaN where not measured).
    control_t : dict
        ``(unit, control unit) -> (T(unit -> control), T(control -> unit))``.
    """
    from hetero.suite import Unit

    rows = []
    for i, label in enumerate(labels):
        unit = Unit.parse(label)
        if not any((label, Unit(unit.task + s, unit.modalities).label) in control_t
                   for s in CONTROL_SUFFIXES):  # fmt: skip
            continue  # a unit of a task without controls
        strangers = np.delete(distance[i], i)
        strangers = strangers[np.isfinite(strangers)]
        row: dict[str, Any] = {"unit": label, "n_strangers": int(strangers.size)}
        for kind, suffix in (("twin", ".twin"), ("null", ".null")):
            ctrl = Unit(unit.task + suffix, unit.modalities).label
            t_to, t_from = control_t.get((label, ctrl), (float("nan"), float("nan")))
            d = max(t_to, 0.0) + max(t_from, 0.0)
            row[f"{kind}_d"] = d
            row[f"{kind}_unclipped"] = t_to + t_from
            if np.isfinite(d) and strangers.size:
                row[f"{kind}_rank"] = 1 + int(np.sum(strangers < d))
                row[f"{kind}_ties"] = int(np.sum(strangers == d))
            else:
                row[f"{kind}_rank"] = None
                row[f"{kind}_ties"] = None
        row["nearest_stranger"] = float(strangers.min()) if strangers.size else float("nan")
        row["stranger_median"] = float(np.median(strangers)) if strangers.size else float("nan")
        twin_ok = row["twin_rank"] == 1
        null_ok = bool(np.isfinite(row["twin_d"]) and row["twin_d"] < row["null_d"])
        row["twin_passed"], row["null_passed"] = bool(twin_ok), bool(null_ok)
        rows.append(row)
    return rows


def controls_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and the verdict of a level: passed only when every unit passes both."""
    n = len(rows)
    twin = sum(r["twin_passed"] for r in rows)
    null = sum(r["null_passed"] for r in rows)
    passed = n > 0 and twin == n and null == n
    below_null = [r["null_rank"] - 1 for r in rows if r["null_rank"] is not None]
    ties = sum(bool(r["twin_ties"]) for r in rows if r["twin_passed"])
    return {
        "units": n,
        "twin_nearest": twin,
        "twin_before_null": null,
        "passed": passed,
        "twin_tied": ties,
        "strangers_nearer_than_null": below_null,
        "statement": (
            f"controls {'passed' if passed else 'FAILED'}: the relabelled twin is the nearest "
            f"unit for {twin} of {n} units ({ties} tied with a stranger) and nearer than the "
            f"label-shuffled copy for {null} of {n}"
        ),
    }
