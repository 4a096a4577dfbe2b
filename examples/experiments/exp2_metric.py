"""Experiment 2: metric structure of the measured distances.

For the modality and interaction distance matrices of the campaign's measurement
(``--estimator logme``, the default, stage s7; ``frozen``, stage s1; epoch cap 30): the fraction of triples satisfying the triangle inequality
exactly and relaxed with c = 5, the smallest c that makes every triple hold, and the
variance (squared Frobenius norm) explained by the top 3 singular values. Each statistic
is computed on every transfer seed's matrix (mean +- std over seeds) and on the matrix of
all seeds together; the pooled matrix's statistics are also set against a permutation null
and a main-effects null (exp2_nulls). Paper: 87 % / 86 % exact, 96 % / 95 % relaxed (unimodal /
interaction), top-3 singular values 97 %.

Usage::

    python examples/experiments/exp2_metric.py --out DIR [--records R.jsonl.gz ...] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign

PAPER = {
    ("modality", "triangle_exact"): 0.87,
    ("interaction", "triangle_exact"): 0.86,
    ("modality", "triangle_relaxed_c5"): 0.96,
    ("interaction", "triangle_relaxed_c5"): 0.95,
    ("modality", "top3_variance"): 0.97,
    ("interaction", "top3_variance"): 0.97,
}


def stats(d, d_complete) -> dict[str, float]:
    """Triangle checks on the measured entries ``d``; spectrum of the completed matrix."""
    from hetero.completion import singular_spectrum
    from hetero.metric import check_metric

    rep = check_metric(d, c=5.0)
    _, cum = singular_spectrum(d_complete)
    return {
        "triangle_exact": float(rep.triangle_exact),
        "triangle_relaxed_c5": float(rep.triangle_relaxed),
        "min_c": float(rep.min_c),
        "top3_variance": float(cum[min(2, len(cum) - 1)]),
        "n_triples": float(rep.n_triples),
    }


NULL_STATS = {
    "triangle_exact": "triangle_exact",
    "triangle_relaxed_c5": "triangle_relaxed",
    "top3_variance": "top3_energy",
}


def null_rows(levels: dict, n_perm: int) -> list[dict]:
    """Each statistic of the pooled, completed matrix next to its null models
    (:func:`hetero.nulls.null_models`: symmetric shuffles and a_i + a_j + shuffled
    residuals; one-sided p-values)."""
    from hetero.nulls import null_models

    rows = []
    for level, lev in levels.items():
        # the units whose distances were all measured (nulls need a complete matrix, and a
        # completed entry is a model's guess, not a measurement)
        d = C.distance_matrix(lev["runs"].labels, lev["estimate"].values, level)
        values = d.values.copy()
        np.fill_diagonal(values, 0.0)
        keep = np.ones(len(values), dtype=bool)
        while not np.isfinite(values[np.ix_(keep, keep)]).all():  # drop the most-missing unit
            missing = (~np.isfinite(values[np.ix_(keep, keep)])).sum(axis=1)
            keep[np.flatnonzero(keep)[int(np.argmax(missing))]] = False
        rep = null_models(values[np.ix_(keep, keep)], c=5.0, n_perm=n_perm, seed=0)
        for key, name in NULL_STATS.items():
            s = rep.stats[name]
            rows.append({
                "level": level, "statistic": key, "observed": s["observed"],
                "shuffled_mean": s["null_mean"], "shuffled_2.5%": s["null_low"],
                "shuffled_97.5%": s["null_high"], "p_shuffled": s["p"],
                "additive_fit": s["additive"], "p_main_effects": s["main_effects_p"],
                "main_effect_share": rep.main_effect_share, "n_units": int(keep.sum()),
                "n_perm": n_perm,
            })  # fmt: skip
    return rows


def analyse(levels: dict) -> tuple[list[dict], dict]:
    from hetero.completion import singular_spectrum

    rows, spectra = [], {}
    for level, lev in levels.items():
        labels = lev["runs"].labels
        e = lev["estimate"]
        full = C.distance_matrix(labels, e.values, level)
        full_c = C.level_distance(lev, level)
        s_full = stats(full, full_c)
        per = [
            stats(C.distance_matrix(labels, e.per_seed[s], level),
                  C.level_distance(lev, level, e.per_seed[s]))
            for s in lev["seeds"]
        ]  # fmt: skip
        spectra[level] = singular_spectrum(full_c)
        for key in ("triangle_exact", "triangle_relaxed_c5", "min_c", "top3_variance"):
            m, sd, n = C.mean_std([p[key] for p in per])
            rows.append({
                "level": level, "statistic": key, "all_seeds": s_full[key],
                "per_seed_mean": m, "per_seed_std": sd, "n_seeds": n,
                "n_units": len(labels), "n_triples": int(s_full["n_triples"]),
                "measured_pairs": int(np.triu(full.observed, 1).sum()),
                "paper": PAPER.get((level, key), float("nan")),
            })  # fmt: skip
    return rows, spectra


def figure(spectra: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for level, (_, cum) in spectra.items():
        ax.plot(np.arange(1, len(cum) + 1), cum, "o-", label=level)
    ax.axhline(0.97, color="grey", ls="--", lw=0.8, label="paper: top-3 = 97 %")
    ax.axvline(3, color="grey", lw=0.5)
    ax.set_xlabel("rank r")
    ax.set_ylabel("variance explained by top r")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("Experiment 2: singular spectrum of d")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    C.add_measurement_args(ap, rescoring=True)
    args = ap.parse_args()
    C.setup(args)
    suite = C.load_suite(args)
    records = C.records_or_campaign(args, suite, [C.STAGE_OF[args.estimator]])
    probe = campaign.probe_config(3 if args.quick else args.epochs, args.quick)
    levels = C.campaign_estimates(
        suite, records, estimator=args.estimator, probe=probe, epoch_cap=args.score_cap
    )
    rows, spectra = analyse(levels)
    C.write_table(rows, args.out, "exp2_metric",
                  title="Experiment 2: metric structure (per seed: mean ± std)")  # fmt: skip
    C.write_table(null_rows(levels, 50 if args.quick else 1000), args.out, "exp2_nulls",
                  title="Experiment 2: the statistics next to their null models")  # fmt: skip
    figure(spectra, args.out / "exp2_spectrum.png")


if __name__ == "__main__":
    main()
