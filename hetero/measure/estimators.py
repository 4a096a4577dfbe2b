"""Transfer estimators: which runs measure T(i -> j) and how their losses combine.

``T(i -> j) = L(i -> j) - L(j)``: a transfer run on target ``j`` starting from source ``i``
against a baseline on ``j``. Estimators differ in the transfer run and the baseline:

``finetune`` (the paper's converged fine-tuning gap)
    Transfer: fine-tune everything from the source state to convergence; score = validation
    loss of the best checkpoint. Baseline: from-scratch run on ``j``, same score.
``budgeted`` (budgeted fine-tuning gap)
    Transfer: fine-tune for at most ``K`` epochs; score = mean validation loss over the first
    ``K`` epochs (area under the curve; a run that stopped earlier holds its best value).
    Baseline: the first ``K`` epochs of the converged scratch run (same seed: the same
    initialisation and batch order, so the early curves are paired).
``frozen`` (frozen-body probe)
    Transfer: keep the source body fixed, train only the input projection and a fresh head.
    Baseline: the same probe on the target's own scratch body (self-transfer), so both terms
    are the same kind of run and ``T(j -> j) = 0`` by construction.
``frozen_short``
    The frozen-body probe with every target-side fit (transfers and self-transfer
    baselines) capped at 5 epochs; the source bodies are trained to convergence. The short
    probe compares what the bodies offer before the input projection and head can
    compensate for a poor body, which is both cheaper and less noisy (docs/results.md,
    experiment 0).
``frozen_fresh`` (like-for-like frozen probe)
    As ``frozen`` (fitted to the learner's own epoch cap and patience, the same for both
    terms), with transfer mode ``"frozen_fresh"``: only the body is taken from the source
    state; the input projection and the head are re-initialised from ``seed + 2**31``
    (:data:`hetero.learners.reference.FRESH_SEED_OFFSET`), for the self-transfer baseline
    exactly as for a foreign source. Under ``frozen`` a learner that copies its input
    projection when shapes allow (the HighMMT probe) gives the baseline the unit's own
    *trained* projection and a transfer a foreign one, and the fresh parts come from the
    seed the baseline's body was itself initialised with, so part of ``T`` is the head start
    of the baseline. The learner must accept the mode (the reference learner and the
    HighMMT probe do; others refuse it with a LearnerError). Measured against the others
    with the product's controls in docs/concepts.md (Estimators).
``ridge`` (closed-form probe, :mod:`hetero.measure.closed_form`)
    Transfer: the source's frozen encoder (body and input part, as ``frozen``) computes
    features of the target's inputs; a ridge regression of the targets on them, with its
    penalty chosen by exact leave-one-out on the training split, is scored by the
    validation relative squared error. Baseline: the same on the target's own encoder. No
    SGD, so no epoch cap, learning rate or batch order: only the bodies' seeds add noise.
    Needs a learner that accepts mode ``"ridge"`` (the HighMMT probe, the reference
    learner).
``logme`` (closed-form evidence, the default)
    As ``ridge``, scored by the negated LogME evidence (maximum log marginal likelihood of
    Bayesian linear regression on the training features, per sample and target column).

Every entry combines ``n_t`` transfer seeds with ``n_b >= n_t`` baseline seeds (the
baseline is shared by a whole column, so it gets more seeds) paired by seed: transfer seed
``s`` starts from source scratch seed ``s`` with the target's seed-``s`` initialisation. With
``X_s`` the transfer scores and ``Y_b`` the baseline scores,

    T = mean(X) - mean(Y),
    Var(T) = var(X)/n_t + var(Y)/n_b - 2 cov(X, Y) * n_paired / (n_t n_b),

where ``cov`` is estimated on the paired seeds (common random numbers make it positive and
shrink the standard error).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.registry import Registry

__all__ = [
    "CONFIDENCE",
    "DEFAULT_ESTIMATOR",
    "ESTIMATORS",
    "FALLBACK_ESTIMATOR",
    "VALIDITY_STATEMENT",
    "Estimator",
    "TransferEstimate",
    "default_estimator",
    "estimate_transfer",
    "get_estimator",
    "register_estimator",
    "t_half_width",
]

#: Confidence level of every interval and significance flag of a measurement.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimator:
    """How transfer and baseline runs are made and scored.

    Attributes
    ----------
    name : str
        Registry name.
    transfer_mode : {"finetune", "frozen", "frozen_fresh", "ridge", "logme"}
        ``mode`` passed to :meth:`Learner.fit` for transfer runs.
    baseline : {"scratch", "self"}
        Baseline of column ``j``: the scratch run, or a self-transfer run (``j -> j``).
    score : {"best", "auc"}
        Best-checkpoint validation loss, or mean of the first ``budget_epochs`` of the curve.
    budget_epochs : int or None
        ``K`` of the budgeted estimator (also the transfer runs' epoch cap).
    transfer_epochs : int or None
        Epoch cap of the transfer runs (target side, baselines included when they are
        self-transfers) for ``score="best"``; the sources' scratch runs keep the learner's
        own cap. None: no extra cap.
    """

    name: str
    transfer_mode: str = "finetune"
    baseline: str = "scratch"
    score: str = "best"
    budget_epochs: int | None = None
    transfer_epochs: int | None = None
    description: str = ""

    @property
    def transfer_max_epochs(self) -> int | None:
        return self.budget_epochs if self.score == "auc" else self.transfer_epochs

    def run_score(self, val_loss: float, curve: list[float]) -> float:
        """Score of one run from its best validation loss and per-epoch curve."""
        if self.score == "best":
            return float(val_loss)
        k = int(self.budget_epochs or 1)
        if not curve:
            return float(val_loss)
        vals = list(curve[:k])
        best = min(vals)
        vals += [best] * (k - len(vals))
        return float(np.mean(vals))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transfer_mode": self.transfer_mode,
            "baseline": self.baseline,
            "score": self.score,
            "budget_epochs": self.budget_epochs,
            "transfer_epochs": self.transfer_epochs,
        }


#: Estimators by name (a :class:`hetero.registry.Registry`; ``register_estimator`` adds one).
ESTIMATORS: Registry[Estimator] = Registry("estimator", error=HeteroError)


def register_estimator(estimator: Estimator, *, overwrite: bool = False) -> Estimator:
    """Register ``estimator`` under its ``name`` (e.g. a variant with another epoch cap).

    Raises
    ------
    HeteroError
        Not an :class:`Estimator`, or its name is taken (unless ``overwrite``).
    """
    if not isinstance(estimator, Estimator):
        raise HeteroError(f"expected an Estimator, got {type(estimator).__name__}")
    return ESTIMATORS.register(estimator.name, estimator, overwrite=overwrite)


for _builtin in (
    Estimator(
        "finetune", description="converged fine-tuning gap (paper): best val loss vs scratch"
    ),
    Estimator(
        "budgeted",
        score="auc",
        budget_epochs=8,
        description="fine-tuning gap over the first K=8 epochs (area under the val curve)",
    ),
    Estimator(
        "frozen",
        transfer_mode="frozen",
        baseline="self",
        description="frozen-body probe vs the target's own frozen body",
    ),
    Estimator(
        "frozen_short",
        transfer_mode="frozen",
        baseline="self",
        transfer_epochs=5,
        description="frozen-body probe with target-side fits capped at 5 epochs",
    ),
    Estimator(
        "frozen_fresh",
        transfer_mode="frozen_fresh",
        baseline="self",
        description="like-for-like frozen-body probe: both terms re-initialise the input "
        "projection and head, same epoch cap and patience",
    ),
    Estimator(
        "ridge",
        transfer_mode="ridge",
        baseline="self",
        description="closed-form ridge probe on the frozen source encoder's features of the "
        "target's inputs (leave-one-out penalty), validation relative squared error",
    ),
    Estimator(
        "logme",
        transfer_mode="logme",
        baseline="self",
        description="closed-form LogME evidence of the target on the frozen source "
        "encoder's features (negated, per sample)",
    ),
):
    register_estimator(_builtin)
del _builtin

#: Estimator used when none is named, chosen by the rule of docs/concepts.md (Estimators,
#: validity): among the estimators that pass the twin controls and reach a double-centred
#: split-half reliability of at least 0.8 on ``mini`` within 15 minutes on 2 cores, the one
#: with the best validity. Only ``logme`` passes (twin nearest and nearer than the shuffled
#: copy for 10 of 10 units, 0.88 at 172 core-seconds with the HighMMT probe;
#: ``benchmarks/bench_validity.py``); no estimator's validity could be shown
#: (:data:`VALIDITY_STATEMENT`). Before, ``frozen_short`` (the most reliable, but its
#: relabelled twins come out *farther* than a label-shuffled copy).
DEFAULT_ESTIMATOR = "logme"

#: Default for a learner that does not accept :data:`DEFAULT_ESTIMATOR`'s transfer mode
#: (a custom learner implementing only the base modes ``finetune`` and ``frozen``): the
#: most reliable estimator those modes allow.
FALLBACK_ESTIMATOR = "frozen_short"


def default_estimator(learner: Any = None) -> str:
    """The estimator used when none is named: :data:`DEFAULT_ESTIMATOR`, or
    :data:`FALLBACK_ESTIMATOR` for a ``learner`` whose ``check_mode`` refuses the default's
    transfer mode."""
    if learner is not None:
        try:
            learner.check_mode(ESTIMATORS.get(DEFAULT_ESTIMATOR).transfer_mode)
        except Exception:  # the learner's own error type (LearnerError for built-ins)
            return FALLBACK_ESTIMATOR
    return DEFAULT_ESTIMATOR


#: What is known about whether any estimator predicts the benefit of sharing (said in the
#: summary, by ``hetero measure`` and in the report; the evidence: docs/concepts.md and
#: ``benchmarks/bench_validity.py``).
VALIDITY_STATEMENT = (
    "no estimator has been shown to predict the benefit of sharing parameters: on the "
    "built-in mini suite the measured sharing gain of unit pairs did not repeat between "
    "seed halves (split-half Spearman 0.03), so no estimator could be validated against it "
    "(docs/concepts.md, validity)"
)


def get_estimator(name: str | Estimator, **overrides: Any) -> Estimator:
    """The estimator called ``name`` (``overrides`` e.g. ``budget_epochs=5``).

    Raises
    ------
    HeteroError
        Unknown name (the message lists the valid ones and suggests the closest).
    """
    est = name if isinstance(name, Estimator) else ESTIMATORS.get(name)
    if overrides:
        values = {**est.to_dict(), "description": est.description, **overrides}
        est = Estimator(**values)
    return est


@dataclass
class TransferEstimate:
    """Per-entry transfer estimates of one level (modality or interaction).

    Attributes
    ----------
    labels : list of str
    values : ndarray (n, n)
        ``T[i, j]`` (source ``i``, target ``j``); NaN where not measured; zero diagonal.
    se : ndarray (n, n)
        Standard error of ``values`` (NaN with fewer than two transfer seeds).
    std : ndarray (n, n)
        Standard deviation of the per-seed paired gaps ``X_s - Y_s``.
    count : ndarray (n, n) of int
        Transfer seeds behind each entry.
    per_seed : dict int -> ndarray (n, n)
        ``X_s - mean(Y)`` for each transfer seed ``s`` (for stability and re-tests).
    baseline : ndarray (n,)
        Mean baseline score of each target; ``baseline_count`` its seeds.
    transfer_loss : ndarray (n, n)
        Mean transfer score.
    df : ndarray (n, n)
        Degrees of freedom of each entry's t interval: transfer seeds - 1 (NaN below 2).
        Conservative: the baseline has at least as many seeds, so the true degrees of
        freedom are higher; 95 % intervals cover at 97-100 % in simulation with 2-5 seeds,
        where a normal quantile covers at 81-91 % (tests/test_measure_parts.py).
    """

    labels: list[str]
    values: np.ndarray
    se: np.ndarray
    std: np.ndarray
    count: np.ndarray
    per_seed: dict[int, np.ndarray] = field(default_factory=dict)
    baseline: np.ndarray | None = None
    baseline_count: np.ndarray | None = None
    transfer_loss: np.ndarray | None = None
    df: np.ndarray | None = None

    def half_width(self, level: float = CONFIDENCE) -> np.ndarray:
        """Half-width of each entry's two-sided t interval ``T +- t(df) se`` (inf below 2
        seeds, 0 on the diagonal)."""
        return t_half_width(self.se, self._df(), level)

    def significant(self, level: float = CONFIDENCE) -> np.ndarray:
        """Entries whose ``level`` t interval excludes zero."""
        with np.errstate(invalid="ignore"):
            return np.abs(self.values) > self.half_width(level)

    def symmetric_sum(self) -> tuple[np.ndarray, np.ndarray]:
        """Unclipped ``T12 + T21`` and its standard error (directions independent)."""
        total = self.values + self.values.T
        se = np.sqrt(self.se**2 + self.se.T**2)
        return total, se

    def symmetric_df(self) -> np.ndarray:
        """Degrees of freedom of ``T12 + T21`` (the smaller of the two directions')."""
        df = self._df()
        return np.fmin(df, df.T)

    def _df(self) -> np.ndarray:
        if self.df is not None:
            return self.df
        return np.where(self.count >= 2, self.count - 1.0, np.nan)


def t_half_width(se: np.ndarray, df: np.ndarray, level: float = CONFIDENCE) -> np.ndarray:
    """``t_{(1+level)/2}(df) * se``, inf where ``df`` is missing or below 1, 0 where se is 0."""
    from scipy import stats

    se = np.asarray(se, dtype=float)
    df = np.asarray(df, dtype=float)
    ok = np.isfinite(df) & (df >= 1) & np.isfinite(se)
    q = np.full(se.shape, np.inf)
    q[ok] = stats.t.ppf(0.5 + level / 2, df[ok])
    with np.errstate(invalid="ignore"):
        return np.where(se == 0, 0.0, np.where(ok, q * np.where(ok, se, 0.0), np.inf))


def _var(a: np.ndarray) -> float:
    return float(np.var(a, ddof=1)) if a.size >= 2 else math.nan


def estimate_transfer(
    labels: list[str],
    transfer_scores: Mapping[tuple[str, str, int], float],
    baseline_scores: Mapping[tuple[str, int], float],
    *,
    seeds: Iterable[int] | None = None,
    baseline_seeds: Iterable[int] | None = None,
) -> TransferEstimate:
    """Combine run scores into per-entry transfer estimates.

    Parameters
    ----------
    labels : list of str
        Unit labels (matrix order).
    transfer_scores : mapping (source, target, seed) -> score
        Scores of finished transfer runs.
    baseline_scores : mapping (target, seed) -> score
        Scores of finished baseline runs.
    seeds, baseline_seeds : iterable of int, optional
        Use only these seeds (a half for the re-test, a bootstrap sample); repeats count
        repeatedly. Default: all seeds present.
    """
    n = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    seed_list = None if seeds is None else list(seeds)
    bseed_list = None if baseline_seeds is None else list(baseline_seeds)

    base: dict[int, dict[int, float]] = {j: {} for j in range(n)}
    for (tgt, seed), score in baseline_scores.items():
        if tgt in index:
            base[index[tgt]][seed] = score
    trans: dict[tuple[int, int], dict[int, float]] = {}
    for (src, tgt, seed), score in transfer_scores.items():
        if src in index and tgt in index and src != tgt:
            trans.setdefault((index[src], index[tgt]), {})[seed] = score

    def pick(d: dict[int, float], wanted: list[int] | None) -> list[tuple[int, float]]:
        if wanted is None:
            return sorted(d.items())
        return [(s, d[s]) for s in wanted if s in d]

    values = np.full((n, n), np.nan)
    se = np.full((n, n), np.nan)
    std = np.full((n, n), np.nan)
    count = np.zeros((n, n), dtype=np.int64)
    df = np.full((n, n), np.nan)
    tloss = np.full((n, n), np.nan)
    baseline = np.full(n, np.nan)
    bcount = np.zeros(n, dtype=np.int64)
    per_seed: dict[int, np.ndarray] = {}
    for j in range(n):
        b = pick(base[j], bseed_list)
        if b:
            baseline[j] = float(np.mean([v for _, v in b]))
            bcount[j] = len(b)
    for (i, j), d in trans.items():
        b = pick(base[j], bseed_list)
        t = pick(d, seed_list)
        if not b or not t:
            continue
        x = np.array([v for _, v in t])
        y = np.array([v for _, v in b])
        n_t, n_b = x.size, y.size
        ymean = float(y.mean())
        values[i, j] = float(x.mean()) - ymean
        tloss[i, j] = float(x.mean())
        count[i, j] = n_t
        if n_t >= 2:
            df[i, j] = n_t - 1.0
        bdict = dict(b)
        paired = [(v, bdict[s]) for s, v in t if s in bdict]
        if len(paired) >= 2:
            px = np.array([p[0] for p in paired])
            py = np.array([p[1] for p in paired])
            cov = float(np.cov(px, py, ddof=1)[0, 1])
            std[i, j] = float(np.std(px - py, ddof=1))
        else:
            cov = 0.0
        var = _var(x) / n_t + (_var(y) / n_b if n_b >= 2 else 0.0)
        var -= 2.0 * cov * len(paired) / (n_t * n_b)
        if n_t >= 2:
            # with few seeds the covariance estimate can overshoot and drive the variance to
            # zero; never report less than half the paired-gap standard error
            floor = (std[i, j] ** 2 / n_t) if np.isfinite(std[i, j]) else 0.0
            se[i, j] = math.sqrt(max(var, floor * 0.25, 1e-12))
        for s, v in t:
            per_seed.setdefault(s, np.full((n, n), np.nan))[i, j] = v - ymean
    np.fill_diagonal(values, 0.0)
    np.fill_diagonal(se, 0.0)
    np.fill_diagonal(std, 0.0)
    for m in per_seed.values():
        np.fill_diagonal(m, 0.0)
    return TransferEstimate(
        labels=list(labels),
        values=values,
        se=se,
        std=std,
        count=count,
        per_seed=per_seed,
        baseline=baseline,
        baseline_count=bcount,
        transfer_loss=tloss,
        df=df,
    )
