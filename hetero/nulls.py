"""Null models for the statistics of a distance matrix: is there structure beyond chance
and beyond per-unit main effects?

A distance matrix can look "metric" or "low-rank" for reasons that say nothing about
relations between units: most triangle inequalities hold for any matrix whose entries are
similar in size, a constant matrix is rank one, and when ``d_ij`` is mostly ``a_i + a_j``
(some units are far from everything) both properties follow from the main effects alone.
:func:`null_models` therefore reports each statistic next to

- a **permutation null**: the off-diagonal entries shuffled symmetrically (the same values,
  no structure), with a one-sided p-value ``(1 + #{null >= observed}) / (1 + n_perm)``;
- the **additive model** ``a_i + a_j`` fitted by least squares (:func:`main_effects`), its
  share of the variance of ``d``, the statistic of the fitted matrix itself, and a
  **main-effects null**: ``a_i + a_j`` plus symmetrically shuffled residuals (keeps the main
  effects, destroys any relation between pairs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero.matrix import square_values

__all__ = ["MainEffects", "NullReport", "main_effects", "null_models"]

#: At most this many triples enter the triangle statistics of the nulls (sampled beyond).
MAX_TRIPLES = 20_000


@dataclass
class MainEffects:
    """``d_ij ~ mu + a_i + a_j`` over the off-diagonal entries (least squares).

    Attributes
    ----------
    effects : ndarray (n,)
        Per-unit main effects ``mu / 2 + a_i`` (so the fit is ``effects_i + effects_j``).
    fitted : ndarray (n, n)
        The additive fit (zero diagonal).
    residual : ndarray (n, n)
        ``d - fitted`` (NaN where ``d`` is not measured; zero diagonal): the double-centred
        distances, what is left of the relations between pairs.
    share : float
        Share of the variance of the off-diagonal distances explained by the fit.
    """

    effects: np.ndarray
    fitted: np.ndarray
    residual: np.ndarray
    share: float


def main_effects(distance: Any) -> MainEffects:
    """Fit the additive model ``d_ij = e_i + e_j`` to the measured off-diagonal entries."""
    D, _, _ = square_values(distance, name="distance")
    n = D.shape[0]
    iu, ju = np.triu_indices(n, 1)
    vals = 0.5 * (D[iu, ju] + D[ju, iu])  # symmetric part; NaN where either is missing
    ok = np.isfinite(vals)
    if n < 3 or ok.sum() < n:
        nan = np.full((n, n), np.nan)
        return MainEffects(np.full(n, np.nan), nan, nan.copy(), float("nan"))
    X = np.zeros((int(ok.sum()), n))
    rows = np.arange(X.shape[0])
    X[rows, iu[ok]] = 1.0
    X[rows, ju[ok]] = 1.0
    effects, *_ = np.linalg.lstsq(X, vals[ok], rcond=None)
    fitted = effects[:, None] + effects[None, :]
    np.fill_diagonal(fitted, 0.0)
    residual = D - fitted
    np.fill_diagonal(residual, 0.0)
    r = vals[ok] - X @ effects
    total = float(np.sum((vals[ok] - vals[ok].mean()) ** 2))
    share = 1.0 - float(np.sum(r**2)) / total if total > 0 else float("nan")
    return MainEffects(effects, fitted, residual, share)


@dataclass
class NullReport:
    """Observed statistics of a distance matrix next to their null models.

    ``stats[name]`` holds ``observed``, ``null_mean``, ``null_low`` / ``null_high`` (2.5 and
    97.5 percentiles of the permutation null), ``p`` (one-sided: the null at least as large),
    ``additive`` (the statistic of the fitted ``a_i + a_j`` matrix) and ``main_effects_p``
    (against the main-effects null). Names: ``triangle_exact``, ``triangle_relaxed`` (with
    ``c``) and ``top{k}_energy`` (share of the squared singular values in the top ``k``).
    """

    stats: dict[str, dict[str, float]]
    main_effect_share: float
    n_perm: int
    c: float
    top_k: int
    n_triples: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite numbers become ``None``)."""

        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "stats": {k: {f: num(v) for f, v in s.items()} for k, s in self.stats.items()},
            "main_effect_share": num(self.main_effect_share),
            "n_perm": self.n_perm,
            "c": self.c,
            "top_k": self.top_k,
            "n_triples": self.n_triples,
            "seed": self.seed,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """A table: each statistic, observed, permutation null (mean [2.5, 97.5 %], p),
        the additive model's value and the main-effects null's p."""
        lines = [
            f"null models ({self.n_perm} symmetric shuffles; main effects a_i + a_j explain "
            f"{_pct(self.main_effect_share)} of the variance of d)",
            f"  {'statistic':<18} {'observed':>9} {'shuffled null':>24} {'p':>7} "
            f"{'a_i+a_j':>9} {'p (main eff.)':>14}",
        ]
        for name, s in self.stats.items():
            null = f"{_pct(s['null_mean'])} [{_pct(s['null_low'])}, {_pct(s['null_high'])}]"
            lines.append(
                f"  {name:<18} {_pct(s['observed']):>9} {null:>24} {_p(s['p']):>7} "
                f"{_pct(s['additive']):>9} {_p(s['main_effects_p']):>14}"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _p(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def null_models(
    distance: Any, *, c: float = 5.0, n_perm: int = 1000, top_k: int = 3, seed: int = 0
) -> NullReport:
    """Triangle and low-rank statistics of ``distance`` next to their null models.

    Parameters
    ----------
    distance : HeterogeneityMatrix or array (n, n)
        Distances; only a complete matrix (no unmeasured entry) is tested, as the nulls
        shuffle every off-diagonal entry.
    c : float
        Relaxation constant of the relaxed triangle inequality.
    n_perm : int
        Shuffles of each null (1000 resolve p-values down to 0.001).
    top_k : int
        Singular values counted by the energy statistic.
    seed : int
        Seed of the shuffles and of the triple sample.
    """
    D, _, _ = square_values(distance, name="distance")
    n = D.shape[0]
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    rng = np.random.default_rng(seed)
    name_e = f"top{top_k}_energy"
    names = ("triangle_exact", "triangle_relaxed", name_e)
    empty = {k: dict.fromkeys(_FIELDS, float("nan")) for k in names}
    if n < 3 or not np.isfinite(D).all():
        note = "fewer than 3 units" if n < 3 else "the matrix has unmeasured entries"
        return NullReport(empty, float("nan"), 0, c, top_k, 0, seed, [f"not tested: {note}"])
    triples = _triples(n, rng)
    fit = main_effects(D)

    def stats(M: np.ndarray) -> np.ndarray:
        return np.array([*_triangle(M, triples, c), _energy(M, top_k)])

    observed = stats(D)
    additive = stats(fit.fitted)
    iu = np.triu_indices(n, 1)
    shuffled = np.empty((n_perm, 3))
    main_null = np.empty((n_perm, 3))
    resid = fit.residual[iu]
    for b in range(n_perm):
        shuffled[b] = stats(_symmetric(n, rng.permutation(D[iu]), iu))
        r = _symmetric(n, rng.permutation(resid), iu)
        main_null[b] = stats(np.maximum(fit.fitted + r, 0.0))
    out = {}
    for k, name in enumerate(names):
        out[name] = {
            "observed": float(observed[k]),
            "null_mean": float(shuffled[:, k].mean()),
            "null_low": float(np.percentile(shuffled[:, k], 2.5)),
            "null_high": float(np.percentile(shuffled[:, k], 97.5)),
            "p": (1 + int(np.sum(shuffled[:, k] >= observed[k] - 1e-12))) / (1 + n_perm),
            "additive": float(additive[k]),
            "main_effects_p": (1 + int(np.sum(main_null[:, k] >= observed[k] - 1e-12)))
            / (1 + n_perm),
        }
    notes = []
    if len(triples) < n * (n - 1) * (n - 2) // 2:
        notes.append(f"triangle statistics on a random sample of {len(triples)} triples")
    return NullReport(out, fit.share, n_perm, float(c), top_k, len(triples), seed, notes)


_FIELDS = ("observed", "null_mean", "null_low", "null_high", "p", "additive", "main_effects_p")


def _symmetric(n: int, upper: np.ndarray, iu: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    M = np.zeros((n, n))
    M[iu] = upper
    return M + M.T


def _triples(n: int, rng: np.random.Generator) -> np.ndarray:
    """Triples (i, j, k), i < k, j distinct from both: every one, or a sample."""
    total = n * (n - 1) * (n - 2) // 2
    if total <= MAX_TRIPLES:
        i, j, k = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
        keep = (i < k) & (j != i) & (j != k)
        return np.stack([i[keep], j[keep], k[keep]], axis=1)
    t = rng.integers(0, n, size=(3 * MAX_TRIPLES, 3))
    t = t[(t[:, 0] < t[:, 2]) & (t[:, 1] != t[:, 0]) & (t[:, 1] != t[:, 2])]
    return t[:MAX_TRIPLES]


def _triangle(M: np.ndarray, triples: np.ndarray, c: float) -> tuple[float, float]:
    i, j, k = triples.T
    lhs = M[i, k]
    rhs = M[i, j] + M[j, k]
    tol = 1e-9 * max(float(np.abs(M).max()), 1.0)
    return float(np.mean(lhs <= rhs + tol)), float(np.mean(lhs <= c * rhs + tol))


def _energy(M: np.ndarray, k: int) -> float:
    s = np.linalg.svd(M, compute_uv=False)
    total = float(np.sum(s**2))
    return float(np.sum(s[:k] ** 2) / total) if total > 0 else float("nan")
