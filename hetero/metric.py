"""Metric checks of a (partially measured) distance matrix.

Symmetry, non-negativity, zero diagonal, and the triangle inequality over every observed
triple: exactly, ``d_ik <= d_ij + d_jk``, and relaxed, ``d_ik <= c (d_ij + d_jk)``
(HighMMT appendix A.1 reports c = 5.0). The triple loop is vectorised with numpy
broadcasting over blocks of middle indices ``j``, so memory stays bounded (M = 500 needs a
few tens of MB) and M = 200 takes a few tens of milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix, square_values

__all__ = ["MetricReport", "Triple", "check_metric"]

_BLOCK_BYTES = 32 * 2**20  # memory of one broadcast block of float64 triples


@dataclass(frozen=True)
class Triple:
    """One triangle inequality ``d(i, k) <= c (d(i, j) + d(j, k))`` and its ratio."""

    i: str
    j: str
    k: str
    d_ik: float
    d_ij: float
    d_jk: float
    ratio: float  # d_ik / (d_ij + d_jk); inf when the right side is 0 and d_ik > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (an infinite ratio becomes ``None``)."""
        return {
            "i": self.i,
            "j": self.j,
            "k": self.k,
            "d_ik": self.d_ik,
            "d_ij": self.d_ij,
            "d_jk": self.d_jk,
            "ratio": self.ratio if math.isfinite(self.ratio) else None,
        }


@dataclass
class MetricReport:
    """Result of :func:`check_metric`.

    Attributes
    ----------
    symmetric : bool
        Observed pattern symmetric and ``|d_ij - d_ji| <= tol`` where both are observed.
    nonnegative : bool
        Every observed entry ``>= -tol``.
    zero_diagonal : bool
        Every observed diagonal entry ``|d_ii| <= tol`` (an unmeasured diagonal is fine).
    n_triples : int
        Number of triangle inequalities checked: distinct ``(i, j, k)`` with ``d_ik``,
        ``d_ij``, ``d_jk`` all observed; only ``i < k`` when the matrix is symmetric (the
        inequality for ``(k, j, i)`` is then the same one).
    triangle_exact, triangle_relaxed : float
        Fraction of those triples satisfying the exact / relaxed inequality (NaN if none).
    c : float
        Relaxation constant used.
    min_c : float
        Smallest ``c`` for which every checked triple holds: the largest
        ``d_ik / (d_ij + d_jk)``; ``inf`` when some ``d_ik > 0`` has ``d_ij + d_jk = 0``;
        0 when there is no triple. Below 1 means the exact inequality holds with room.
    worst : list of Triple
        The triples with the largest ratio among those violating the exact inequality,
        worst first.
    max_asymmetry : float
        Largest ``|d_ij - d_ji|`` over pairs observed in both directions.
    one_sided : int
        Pairs measured in one direction only (``d_ij`` observed, ``d_ji`` not): such a
        matrix is not symmetric whatever its values.
    labels : tuple of str
    """

    symmetric: bool
    nonnegative: bool
    zero_diagonal: bool
    n_triples: int
    triangle_exact: float
    triangle_relaxed: float
    c: float
    min_c: float
    worst: list[Triple] = field(default_factory=list)
    max_asymmetry: float = 0.0
    labels: tuple[str, ...] = ()
    one_sided: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite numbers (no triples, infinite ``min_c``) become ``None``."""

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "symmetric": bool(self.symmetric),
            "nonnegative": bool(self.nonnegative),
            "zero_diagonal": bool(self.zero_diagonal),
            "triangle_exact": num(self.triangle_exact),
            "triangle_relaxed": num(self.triangle_relaxed),
            "c": float(self.c),
            "min_c": num(self.min_c),
            "min_c_infinite": bool(math.isinf(self.min_c)),
            "n_triples": int(self.n_triples),
            "max_asymmetry": float(self.max_asymmetry),
            "one_sided": int(self.one_sided),
            "n_units": len(self.labels),
            "worst": [t.to_dict() for t in self.worst],
        }

    def summary(self) -> str:
        """A few human-readable lines."""

        def pct(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{100 * x:.1f}%"

        lines = [
            f"units: {len(self.labels)}   triples checked: {self.n_triples}",
            f"symmetric: {'yes' if self.symmetric else 'no'}"
            f" (max |d_ij - d_ji| = {self.max_asymmetry:.4g}"
            + (
                f" where both are measured; {self.one_sided} pair(s) measured in one direction"
                " only)"
                if self.one_sided
                else ")"
            ),
            f"non-negative: {'yes' if self.nonnegative else 'no'}",
            f"zero diagonal: {'yes' if self.zero_diagonal else 'no'}",
            f"triangle inequality, exact: {pct(self.triangle_exact)}",
            f"triangle inequality, relaxed (c = {self.c:g}): {pct(self.triangle_relaxed)}",
            "smallest c for all triples: "
            + (f"{self.min_c:.4g}" if self.n_triples else "n/a (no triple fully measured)"),
        ]
        if self.worst:
            lines.append("worst violations (d_ik / (d_ij + d_jk)):")
            for t in self.worst:
                lines.append(
                    f"  {t.i} -> {t.j} -> {t.k}: {t.d_ik:.4g} / ({t.d_ij:.4g} + {t.d_jk:.4g})"
                    f" = {t.ratio:.4g}"
                )
        return "\n".join(lines)


def check_metric(
    distance: HeterogeneityMatrix | np.ndarray,
    c: float = 5.0,
    *,
    n_worst: int = 10,
    tol: float | None = None,
) -> MetricReport:
    """Check the metric properties of a distance matrix over its observed entries.

    Parameters
    ----------
    distance : HeterogeneityMatrix or array of shape (n, n)
        Distances; NaN = not measured (triples with an unmeasured side are skipped).
    c : float, default=5.0
        Relaxation constant of the relaxed triangle inequality (``c >= 1``).
    n_worst : int, default=10
        How many of the worst violating triples to report.
    tol : float, optional
        Absolute tolerance of all comparisons; default ``1e-9 * max|d|``.

    Returns
    -------
    MetricReport
    """
    if not (isinstance(c, (int, float)) and math.isfinite(c) and c >= 1):
        raise MatrixFormatError(f"c: expected a finite number >= 1, got {c!r}")
    D, labels, _ = square_values(distance, name="distance")
    n = D.shape[0]
    obs = ~np.isnan(D)
    scale = float(np.nanmax(np.abs(D))) if obs.any() else 0.0
    tol = 1e-9 * max(scale, 1.0) if tol is None else float(tol)

    both = obs & obs.T
    asym = np.abs(np.where(both, D - D.T, 0.0))
    max_asym = float(asym.max()) if n else 0.0
    symmetric = bool((obs == obs.T).all() and max_asym <= tol)
    nonnegative = bool((D[obs] >= -tol).all())
    diag = np.diag(D)
    zero_diagonal = bool((np.abs(diag[~np.isnan(diag)]) <= tol).all())

    # Triples: D[i, k] <= c * (D[i, j] + D[j, k]) for distinct i, j, k, all observed.
    Dz = np.where(obs, D, 0.0)
    pair_ok = obs.copy()
    np.fill_diagonal(pair_ok, False)
    if symmetric:
        pair_ok &= np.triu(np.ones((n, n), dtype=bool), k=1)  # i < k
    n_triples = 0
    n_exact = 0
    n_relaxed = 0
    min_c = 0.0
    cand_ratio: list[np.ndarray] = []
    cand_idx: list[np.ndarray] = []
    block = max(1, _BLOCK_BYTES // max(8 * n * n * 4, 1))
    L = Dz - tol  # lhs with the tolerance folded in: holds when L <= rhs
    pos = Dz > tol
    all_observed = bool(obs.all())
    for j0 in range(0, n, block):
        js = np.arange(j0, min(n, j0 + block))
        b_idx = np.arange(len(js))
        # valid[b, i, k]: (i, k) checked pair, (i, j) and (j, k) observed, j not in {i, k}
        if all_observed:
            valid = np.repeat(pair_ok[None, :, :], len(js), axis=0)
        else:
            valid = pair_ok[None, :, :] & obs[:, js].T[:, :, None] & obs[js, :][:, None, :]
        valid[b_idx, js, :] = False
        valid[b_idx, :, js] = False
        nv = np.count_nonzero(valid)
        if nv == 0:
            continue
        rhs = Dz[:, js].T[:, :, None] + Dz[js, :][:, None, :]
        exact_ok = L[None, :, :] <= rhs
        n_triples += nv
        n_exact += np.count_nonzero(exact_ok & valid)
        n_relaxed += np.count_nonzero((L[None, :, :] <= c * rhs) & valid)
        # ratio d_ik / (d_ij + d_jk) over valid triples; inf for a positive d_ik over 0
        ratio = np.full(rhs.shape, -np.inf)
        ok_div = valid & (rhs > 0)
        with np.errstate(over="ignore"):
            np.divide(np.broadcast_to(Dz[None, :, :], rhs.shape), rhs, out=ratio, where=ok_div)
        zero_rhs = valid & ~ok_div
        if zero_rhs.any():
            ratio[zero_rhs] = np.where(np.broadcast_to(pos[None], rhs.shape)[zero_rhs], np.inf, 0.0)
        min_c = max(min_c, float(ratio.max()))
        viol = valid & ~exact_ok
        if n_worst > 0 and viol.any():
            flat = np.flatnonzero(viol)
            r = ratio.reshape(-1)[flat]
            if r.size > n_worst:
                top = np.argpartition(-r, n_worst - 1)[:n_worst]
                flat, r = flat[top], r[top]
            bb, i, k = np.unravel_index(flat, viol.shape)
            cand_ratio.append(r)
            cand_idx.append(np.stack([i, js[bb], k], axis=1))
    worst: list[Triple] = []
    if cand_ratio:
        r = np.concatenate(cand_ratio)
        idx = np.concatenate(cand_idx)
        order = np.lexsort((idx[:, 2], idx[:, 1], idx[:, 0], -r))[:n_worst]
        for o in order:
            ti, tj, tk = (int(v) for v in idx[o])
            worst.append(
                Triple(
                    labels[ti],
                    labels[tj],
                    labels[tk],
                    float(D[ti, tk]),
                    float(D[ti, tj]),
                    float(D[tj, tk]),
                    float(r[o]),
                )
            )
    frac = (lambda m: m / n_triples) if n_triples else (lambda m: math.nan)
    return MetricReport(
        symmetric=symmetric,
        nonnegative=nonnegative,
        zero_diagonal=zero_diagonal,
        n_triples=n_triples,
        triangle_exact=frac(n_exact),
        triangle_relaxed=frac(n_relaxed),
        c=float(c),
        min_c=min_c,
        worst=worst,
        max_asymmetry=max_asym,
        labels=labels,
        one_sided=int(np.count_nonzero(obs != obs.T) // 2),
    )
