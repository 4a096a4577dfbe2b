"""Statistics of a plan comparison: per-seed rows -> paired differences, intervals, verdicts.

A comparison trains every candidate (a grouping plan, share-all, share-none, random plans)
with the same seeds. Seed ``s`` fixes what the candidates share: the initial weights, the
pre-training checkpoint and the batch order, so the difference between two candidates is
taken seed by seed (a paired design) and its interval is a t interval on the per-seed
differences with ``n_seeds - 1`` degrees of freedom.

The score of one trained model is the average over tasks of each task's test metric,
with lower-is-better metrics negated (every task in the built-in suites is scored by a
higher-is-better metric, where this is the plain average). A retrieval task's metric,
recall@1, is a fraction in [0, 1] where higher is better, like an accuracy, so it enters
the average as it is; as with accuracies of tasks with different numbers of classes, its
chance level (1 / gallery size) differs from the other tasks', which the paired
differences between candidates (same task, same seed) take out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetero.measure.estimators import CONFIDENCE, t_half_width

__all__ = [
    "Interval",
    "candidate_scores",
    "mean_interval",
    "paired_bootstrap",
    "paired_difference",
    "rank_among",
    "resolved",
    "seed_and_sample_interval",
    "verdict",
]


@dataclass(frozen=True)
class Interval:
    """A mean with its t interval over ``n`` seeds (``lo``/``hi`` infinite when n < 2)."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        return 0.5 * (self.hi - self.lo)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {"mean": num(self.mean), "lo": num(self.lo), "hi": num(self.hi), "n": self.n}

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.3f} (1 seed, no interval)"
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def mean_interval(values: Sequence[float], level: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` with its t interval (``n - 1`` degrees of freedom)."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return Interval(math.nan, -math.inf, math.inf, 0)
    mean = float(a.mean())
    if a.size < 2:
        return Interval(mean, -math.inf, math.inf, int(a.size))
    se = float(a.std(ddof=1) / math.sqrt(a.size))
    half = float(t_half_width(np.array(se), np.array(a.size - 1.0), level))
    return Interval(mean, mean - half, mean + half, int(a.size))


def candidate_scores(
    rows: Iterable[Mapping[str, Any]],
) -> dict[str, dict[int, float]]:
    """``{candidate: {seed: score}}``: the signed average of the task metrics of each
    (candidate, seed) whose every task has a finite metric.

    Rows carry ``candidate``, ``seed``, ``task``, ``value`` and ``higher_is_better``.
    """
    per: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        v = float(r["value"])
        signed = v if r.get("higher_is_better", True) else -v
        per.setdefault((str(r["candidate"]), int(r["seed"])), {})[str(r["task"])] = signed
    tasks = {t for values in per.values() for t in values}
    out: dict[str, dict[int, float]] = {}
    for (name, seed), values in sorted(per.items()):
        if set(values) == tasks and all(math.isfinite(x) for x in values.values()):
            out.setdefault(name, {})[seed] = float(np.mean(list(values.values())))
    return out


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], level: float = CONFIDENCE
) -> Interval:
    """Mean of ``a[s] - b[s]`` over the seeds both have, with its paired t interval."""
    seeds = sorted(set(a) & set(b))
    return mean_interval([a[s] - b[s] for s in seeds], level)


def _score_rows(a: Any, b: Any, caller: str, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as (rows, n_samples) float arrays of the same test samples."""
    a2, b2 = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if a2.ndim != 2 or b2.ndim != 2 or a2.shape[1] != b2.shape[1] or a2.shape[1] < min_samples:
        at_least = f"(at least {min_samples}) " if min_samples > 1 else ""
        raise ValueError(
            f"{caller}: expected scores of the same {at_least}test samples, got shapes "
            f"{a2.shape} and {b2.shape}"
        )
    return a2, b2


def paired_bootstrap(
    a: Any,
    b: Any,
    level: float = CONFIDENCE,
    *,
    resamples: int = 4000,
    seed: int = 0,
) -> Interval:
    """Difference of two models' mean per-sample scores on one test set, ``a`` minus ``b``,
    with a percentile bootstrap interval over the test samples.

    Parameters
    ----------
    a, b : array-like of shape (rows, n_samples) or (n_samples,)
        Per-sample scores (1 correct / 0 wrong for an accuracy) of each model on the same
        test samples in the same order; a row per seed (the rows are averaged first).
    level : float
        Coverage of the interval.
    resamples : int
        Bootstrap resamples; each draws ``n_samples`` indices with replacement, the same
        for every row of ``a`` and ``b`` (paired).
    seed : int
        Seed of the resampling.

    Returns
    -------
    Interval
        ``n`` is the number of test samples. The interval covers the test set's sampling
        noise with the trained models held fixed, not the variation from seed to seed.
    """
    if resamples < 1 or not 0.0 < level < 1.0:
        raise ValueError(
            f"paired_bootstrap: expected resamples >= 1 and 0 < level < 1, got {resamples} "
            f"and {level}"
        )
    a2, b2 = _score_rows(a, b, "paired_bootstrap", min_samples=1)
    diff = a2.mean(0) - b2.mean(0)
    n = diff.size
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [  # in chunks: resamples x n indices at once can be large
            diff[rng.integers(0, n, size=(min(512, resamples - start), n))].mean(1)
            for start in range(0, resamples, 512)
        ]
    )
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(diff.mean()), float(lo), float(hi), int(n))


def seed_and_sample_interval(a: Any, b: Any, level: float = CONFIDENCE) -> Interval:
    """Difference of two models' mean per-sample scores on one test set, ``a`` minus ``b``,
    with a t interval for both sources of noise: new seeds and a new test set.

    The variance of the difference of seed means is the sum of each model's seed-to-seed
    variance of its score (the score of row ``s`` is the mean of row ``s``), divided by its
    number of rows, and the test set's sampling variance of the seed-averaged per-sample
    difference (:func:`paired_bootstrap`'s source of noise, here its normal-theory
    variance). The interval is a t interval with Welch-Satterthwaite degrees of freedom,
    so with 3 seeds a large seed variance gets the wide quantile of 2 degrees of freedom.
    Per-sample disagreement between seeds enters both terms, which makes the interval
    slightly conservative.

    Parameters
    ----------
    a, b : array-like of shape (rows, n_samples) or (n_samples,)
        Per-sample scores of each model on the same test samples in the same order, a row
        per seed. A model given by one row (or identical rows: a deterministic model such
        as a logistic regression) contributes no seed variance.
    level : float
        Coverage of the interval.

    Returns
    -------
    Interval
        ``n`` is the number of test samples.

    Notes
    -----
    The test samples are taken as independent. Where they come in clusters (windows of a
    few subjects' recordings), the interval is too narrow and no resampling of these
    scores can tell by how much.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"seed_and_sample_interval: expected 0 < level < 1, got {level}")
    a2, b2 = _score_rows(a, b, "seed_and_sample_interval", min_samples=2)
    n = a2.shape[1]
    diff = a2.mean(0) - b2.mean(0)
    # (variance of the mean, degrees of freedom) per source of noise
    parts = [(float(np.var(diff, ddof=1)) / n, n - 1)]
    for rows in (a2, b2):
        if rows.shape[0] >= 2:
            parts.append((float(np.var(rows.mean(1), ddof=1)) / rows.shape[0], rows.shape[0] - 1))
    var = sum(v for v, _ in parts)
    mean = float(diff.mean())
    if var == 0.0:
        return Interval(mean, mean, mean, n)
    df = var**2 / sum(v**2 / d for v, d in parts)
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(var)
    return Interval(mean, mean - half, mean + half, n)


def resolved(diff: Interval, resolution: float) -> bool:
    """Whether a difference is settled: its interval excludes 0, or it is no wider than
    ``resolution`` on either side (at least 2 seeds either way)."""
    if diff.n < 2:
        return False
    return diff.lo > 0 or diff.hi < 0 or diff.half_width <= resolution


def verdict(subject: str, other: str, diff: Interval, resolution: float | None = None) -> str:
    """A sentence worded by the interval of ``subject - other``.

    "P beats Q by 0.021 [0.008, 0.034]", "P is worse than Q by ...", "no difference larger
    than 0.012 between P and Q" (the interval inside +-resolution), or "inconclusive".
    """
    if diff.n < 2:
        return f"{subject} vs {other}: inconclusive (1 seed, no interval)"
    if diff.lo > 0:
        return f"{subject} beats {other} by {diff.mean:.3f} [{diff.lo:.3f}, {diff.hi:.3f}]"
    if diff.hi < 0:
        return (
            f"{subject} is worse than {other} by {-diff.mean:.3f} [{-diff.hi:.3f}, {-diff.lo:.3f}]"
        )
    bound = max(abs(diff.lo), abs(diff.hi))
    if resolution is not None and bound <= resolution:
        return f"no difference larger than {bound:.3f} between {subject} and {other}"
    return (
        f"{subject} vs {other}: inconclusive (underpowered): {diff.mean:+.3f} "
        f"[{diff.lo:+.3f}, {diff.hi:+.3f}], {diff.n} seeds"
    )


def rank_among(value: float, others: Sequence[float], *, higher_is_better: bool = True) -> int:
    """1-based rank of ``value`` among ``others`` (1 = better than all; ties count against)."""
    arr = np.asarray(others, dtype=float)
    better = arr >= value if higher_is_better else arr <= value
    return int(better.sum()) + 1
