"""Experiment 3: measuring less -- completion error and plan agreement vs fraction measured.

The campaign's measurement (``--estimator logme``, the default, stage s7; ``frozen``, stage
s1; epoch cap 30, every stored seed) is the full
measurement. For each fraction f of ordered transfer pairs (10 % ... 100 %) and each design
seed, the core's measurement design picks the pairs to keep, the others are hidden, the
distance matrix is completed with the symmetric low-rank completer, and compared with the
full one: relative error on the completed entries, and adjusted Rand index of the plan
(same number of groups) with the full-measurement plan. Hiding already-measured pairs is
the same as not measuring them: every transfer run is independent of the other pairs.

The null (``*_additive`` columns): the hidden entries filled by the main-effects model
``a_i + a_j`` fitted to the measured ones. Completion that is no better than it recovers
nothing beyond which units are far from everything.

Usage::

    python examples/experiments/exp3_measure_less.py --out DIR [--records R.jsonl.gz ...]
        [--quick] [--seeds 3] [--k 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def one(labels, t_full, level, k, fraction, seed):
    from sklearn.metrics import adjusted_rand_score

    from hetero.completion import complete_matrix
    from hetero.design import measurement_design
    from hetero.errors import HeteroError

    n = len(labels)
    d_full = C.distance_matrix(labels, t_full, level)
    try:
        mask = measurement_design(n, fraction=fraction, min_per_row=min(3, n - 1), seed=seed)
    except HeteroError as exc:
        C.log(f"{level} f={fraction}: {exc}")
        return None
    t = np.where(mask | np.eye(n, dtype=bool), t_full, np.nan)
    d = C.distance_matrix(labels, t, level)
    hidden = ~d.observed & d_full.observed  # hidden here, measured in the full measurement
    # the null: main effects alone (the additive completer at rank 0)
    d_add = (
        complete_matrix(d, method="additive", rank=0).values if not d.observed.all() else d.values
    )
    if not d.observed.all():
        d = complete_matrix(d, method="symmetric", seed=seed)
    if not d_full.observed.all():  # an incomplete full measurement: its plan is completed too
        d_full = complete_matrix(d_full, method="symmetric", seed=0)

    def rel_error(filled: np.ndarray) -> float:
        if not hidden.any():
            return 0.0
        diff = np.linalg.norm((filled - d_full.values)[hidden])
        return float(diff / max(np.linalg.norm(d_full.values[hidden]), 1e-12))

    g_full = C.groups_of(labels, d_full.values, k)
    g = C.groups_of(labels, d.values, k)
    g_add = C.groups_of(labels, d_add, k)
    return {
        "measured_fraction": float((mask & np.isfinite(t_full)).sum() / (n * (n - 1))),
        "rel_error": rel_error(d.values),
        "ari": float(adjusted_rand_score(g_full, g)),
        "same_plan": float(adjusted_rand_score(g_full, g) > 0.999),
        "rel_error_additive": rel_error(d_add),
        "ari_additive": float(adjusted_rand_score(g_full, g_add)),
    }


def analyse(levels: dict, n_design: int, k: int) -> list[dict]:
    rows = []
    for level, lev in levels.items():
        labels = lev["runs"].labels
        kk = min(k, len(labels) - 1)
        for f in FRACTIONS:
            res = [one(labels, lev["estimate"].values, level, kk, f, s) for s in range(n_design)]
            res = [r for r in res if r is not None]
            if not res:
                continue
            row = {"level": level, "fraction": f, "groups": kk, "n_designs": len(res)}
            for key in ("measured_fraction", "rel_error", "ari", "same_plan",
                        "rel_error_additive", "ari_additive"):  # fmt: skip
                m, sd, _ = C.mean_std([r[key] for r in res])
                row[f"{key}_mean"] = m
                row[f"{key}_std"] = sd
            rows.append(row)
    return rows


def smallest_same_plan(rows: list[dict]) -> dict[str, float | None]:
    out = {}
    for level in {r["level"] for r in rows}:
        ok = [r["measured_fraction_mean"] for r in rows
              if r["level"] == level and r["same_plan_mean"] >= 0.999]  # fmt: skip
        # the smallest fraction from which every larger fraction also gives the same plan
        fr = sorted((r["fraction"], r["same_plan_mean"] >= 0.999, r["measured_fraction_mean"])
                    for r in rows if r["level"] == level)  # fmt: skip
        best = None
        for _, same, mf in reversed(fr):
            if not same:
                break
            best = mf
        out[level] = best if ok else None
    return out


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for level in sorted({r["level"] for r in rows}):
        rs = [r for r in rows if r["level"] == level]
        x = [r["measured_fraction_mean"] for r in rs]
        axes[0].errorbar(x, [r["rel_error_mean"] for r in rs], [r["rel_error_std"] for r in rs],
                         fmt="o-", capsize=3, label=level)  # fmt: skip
        axes[1].errorbar(x, [r["ari_mean"] for r in rs], [r["ari_std"] for r in rs],
                         fmt="o-", capsize=3, label=level)  # fmt: skip
    axes[0].set_ylabel("relative error of completed d")
    axes[1].set_ylabel("ARI with full-measurement plan")
    for ax in axes:
        ax.set_xlabel("fraction of ordered pairs measured")
        ax.legend(fontsize=8)
    fig.suptitle("Experiment 3: measuring less")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    C.add_measurement_args(ap, rescoring=True)
    ap.add_argument("--k", type=int, default=4, help="plan groups per level")
    args = ap.parse_args()
    C.setup(args)
    suite = C.load_suite(args)
    records = C.records_or_campaign(args, suite, [C.STAGE_OF[args.estimator]])
    probe = campaign.probe_config(3 if args.quick else args.epochs, args.quick)
    levels = C.campaign_estimates(
        suite, records, estimator=args.estimator, probe=probe, epoch_cap=args.score_cap
    )
    rows = analyse(levels, args.seeds, args.k)
    C.write_table(
        rows,
        args.out,
        "exp3_measure_less",
        title="Experiment 3: completion error and plan ARI vs fraction measured",
    )
    from hetero._io import write_json

    write_json(args.out / "exp3_smallest_fraction.json", smallest_same_plan(rows))
    figure(rows, args.out / "exp3_measure_less.png")


if __name__ == "__main__":
    main()
