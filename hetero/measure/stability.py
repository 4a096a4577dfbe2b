"""Reliability of a measurement: split-half test-retest and plan stability over seeds.

Test-retest splits the seeds in two disjoint halves (transfer seeds and baseline seeds
alike, so pairing is kept), estimates the matrices from each half and reports the Spearman
correlation of their off-diagonal entries (T and d) and the adjusted Rand index of the plans
clustered from each half. Each half has half the seeds of the full measurement; the
Spearman-Brown formula ``2r / (1 + r)`` projects the reliability of the full one.

Plan stability re-estimates the matrix on bootstrap samples of the seeds, re-clusters, and
reports how often each pair of units lands in the same group, and how close the bootstrap
plans are to the plan itself (adjusted Rand index); :func:`plan_stability` turns it into the
``stability`` section of a plan file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hetero.measure.estimators import estimate_transfer
from hetero.nulls import main_effects

__all__ = [
    "RELIABLE_SPEARMAN",
    "co_assignment",
    "co_assignment_summary",
    "offdiag_spearman",
    "plan_stability",
    "reliability_statement",
    "split_half_retest",
]

#: Split-half Spearman of d (projected to the full seed count) from which a matrix is
#: called reliable enough to act on.
RELIABLE_SPEARMAN = 0.7


def offdiag_spearman(a: np.ndarray, b: np.ndarray, *, upper: bool = False) -> float:
    """Spearman correlation of the off-diagonal entries finite in both (NaN if < 3 or flat)."""
    from scipy.stats import spearmanr

    n = a.shape[0]
    mask = np.triu(np.ones((n, n), dtype=bool), 1) if upper else ~np.eye(n, dtype=bool)
    mask &= np.isfinite(a) & np.isfinite(b)
    x, y = a[mask], b[mask]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _halves(seeds: Sequence[int]) -> tuple[list[int], list[int]]:
    seeds = sorted(seeds)
    return seeds[0::2], seeds[1::2]


def split_half_retest(
    labels: list[str],
    transfer_scores: Mapping[tuple[str, str, int], float],
    baseline_scores: Mapping[tuple[str, int], float],
    *,
    seeds: Sequence[int],
    baseline_seeds: Sequence[int],
    to_distance: Callable[[np.ndarray], np.ndarray],
    to_groups: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any] | None:
    """Test-retest from two disjoint halves of the seeds (None with fewer than 2 seeds).

    Parameters
    ----------
    to_distance : callable T -> d
        Turns a transfer matrix into the (completed, when sampled) distance matrix.
    to_groups : callable d -> group labels, optional
        Clusters a distance matrix (for the plan ARI).
    """
    if len(seeds) < 2:
        return None
    from sklearn.metrics import adjusted_rand_score

    ta, tb = _halves(seeds)
    ba, bb = _halves(baseline_seeds)
    ea = estimate_transfer(labels, transfer_scores, baseline_scores, seeds=ta, baseline_seeds=ba)
    eb = estimate_transfer(labels, transfer_scores, baseline_scores, seeds=tb, baseline_seeds=bb)
    da, db = to_distance(ea.values), to_distance(eb.values)
    rho_t = offdiag_spearman(ea.values, eb.values)
    rho_d = offdiag_spearman(da, db, upper=True)
    # the same after removing each half's main effects a_i + a_j: how reliably the matrix
    # ranks *pairs*, beyond which units are far from everything
    rho_c = offdiag_spearman(main_effects(da).residual, main_effects(db).residual, upper=True)
    out: dict[str, Any] = {
        "halves": {"seeds": [ta, tb], "baseline_seeds": [ba, bb]},
        "spearman_T": rho_t,
        "spearman_d": rho_d,
        "spearman_d_centred": rho_c,
        "spearman_T_full": _brown(rho_t),
        "spearman_d_full": _brown(rho_d),
        "spearman_d_centred_full": _brown(rho_c),
        "plan_ari": None,
    }
    if to_groups is not None and np.isfinite(da).all() and np.isfinite(db).all():
        out["plan_ari"] = float(adjusted_rand_score(to_groups(da), to_groups(db)))
    # the verdict rests on the double-centred figure (main effects inflate the raw one)
    out["reliable"] = bool(
        np.isfinite(out["spearman_d_centred_full"])
        and out["spearman_d_centred_full"] >= RELIABLE_SPEARMAN
    )
    out["statement"] = reliability_statement(out)
    return out


def _brown(r: float) -> float:
    """Spearman-Brown projection to twice the seeds (only meaningful for r > 0)."""
    if not np.isfinite(r):
        return float("nan")
    return float(2 * r / (1 + r)) if r > 0 else float(r)


def reliability_statement(retest: Mapping[str, Any] | None) -> str:
    """One plain sentence on whether the matrix can be acted on."""
    if retest is None:
        return "reliability unknown: no test-retest was run (use --retest with at least 2 seeds)"
    rd, rfull = retest.get("spearman_d"), retest.get("spearman_d_full")
    rc, rcfull = retest.get("spearman_d_centred"), retest.get("spearman_d_centred_full")
    if rc is None or not np.isfinite(rc):
        return "reliability unknown: too few comparable entries for a test-retest correlation"
    ari = retest.get("plan_ari")
    ari_txt = "" if ari is None else f", plan ARI between halves {ari:.2f}"
    raw_txt = f"; raw d {rd:.2f}, projected {rfull:.2f}" if rd is not None else ""
    if retest.get("reliable"):
        return (
            f"reliable: split-half Spearman of the double-centred d {rc:.2f} (projected "
            f"{rcfull:.2f} for all seeds{raw_txt}){ari_txt}"
        )
    return (
        f"NOT reliable enough to act on: split-half Spearman of the double-centred d {rc:.2f} "
        f"(projected {rcfull:.2f} for all seeds, below {RELIABLE_SPEARMAN}{raw_txt})"
        f"{ari_txt}; add seeds (--seeds N or --seeds auto) or use a lower-noise estimator"
    )


def co_assignment_summary(
    labels: list[str],
    assignments: Sequence[Sequence[int] | np.ndarray],
    reference: Sequence[int] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Co-assignment frequencies of a set of plans (group labels per item) and, with a
    ``reference`` plan, their adjusted Rand index against it.

    Returns ``{"labels", "frequency" (n x n), "n_boot", "mean_stability"}`` where
    ``mean_stability`` is the mean over pairs of ``max(f, 1 - f)`` (1 = every plan the
    same); with ``reference`` also ``ari_mean``, ``ari_low`` / ``ari_high`` (2.5 / 97.5
    percentiles over the plans) and ``identical`` (share of plans equal to the reference
    up to group numbering).
    """
    from sklearn.metrics import adjusted_rand_score

    n = len(labels)
    if not assignments:
        raise ValueError("co_assignment_summary: no plans given")
    freq = np.zeros((n, n))
    for g in assignments:
        g = np.asarray(g)
        freq += g[:, None] == g[None, :]
    freq /= len(assignments)
    iu = np.triu_indices(n, 1)
    stab = float(np.mean(np.maximum(freq[iu], 1 - freq[iu]))) if n > 1 else 1.0
    out: dict[str, Any] = {
        "labels": list(labels),
        "frequency": freq,
        "n_boot": len(assignments),
        "mean_stability": stab,
    }
    if reference is not None:
        ref = np.asarray(reference)
        same_ref = ref[:, None] == ref[None, :]
        aris = np.array([adjusted_rand_score(ref, np.asarray(g)) for g in assignments])
        same = [bool((same_ref == (np.asarray(g)[:, None] == np.asarray(g)[None, :])).all())
                for g in assignments]  # fmt: skip
        out.update(
            ari_mean=float(aris.mean()),
            ari_low=float(np.percentile(aris, 2.5)),
            ari_high=float(np.percentile(aris, 97.5)),
            identical=float(np.mean(same)),
        )
    return out


def plan_stability(stability: dict[str, Any] | None, *, seed: int | None = None) -> Any:
    """One side of a plan's ``stability`` section from :func:`co_assignment`'s result
    (``frequency`` becomes ``co_assignment``); None passes through."""
    if stability is None:
        return None
    out = {k: v for k, v in stability.items() if k != "frequency"}
    out["co_assignment"] = np.asarray(stability["frequency"], dtype=float)
    out["resampled"] = "transfer and baseline seeds (bootstrap)"
    if seed is not None:
        out["seed"] = int(seed)
    return out


def co_assignment(
    labels: list[str],
    transfer_scores: Mapping[tuple[str, str, int], float],
    baseline_scores: Mapping[tuple[str, int], float],
    *,
    seeds: Sequence[int],
    baseline_seeds: Sequence[int],
    to_distance: Callable[[np.ndarray], np.ndarray],
    to_groups: Callable[[np.ndarray], np.ndarray],
    n_boot: int = 50,
    seed: int = 0,
    reference: Sequence[int] | np.ndarray | None = None,
) -> dict[str, Any] | None:
    """How often each pair of units shares a group over bootstrap samples of the seeds.

    Each bootstrap sample draws the transfer seeds and the baseline seeds with
    replacement, re-estimates the transfer matrix, turns it into distances and groups
    them (``to_groups``). Returns :func:`co_assignment_summary` of the bootstrap plans
    (against ``reference``, the plan of all seeds, when given); None with fewer than 2
    transfer seeds.
    """
    if len(seeds) < 2:
        return None
    rng = np.random.default_rng(seed)
    seeds = sorted(seeds)
    bseeds = sorted(baseline_seeds)
    plans = []
    for _ in range(n_boot):
        ts = rng.choice(seeds, size=len(seeds), replace=True).tolist()
        bs = rng.choice(bseeds, size=len(bseeds), replace=True).tolist()
        est = estimate_transfer(
            labels, transfer_scores, baseline_scores, seeds=ts, baseline_seeds=bs
        )
        d = to_distance(est.values)
        if not np.isfinite(d).all():
            continue
        plans.append(np.asarray(to_groups(d)))
    if not plans:
        return None
    return co_assignment_summary(labels, plans, reference)
