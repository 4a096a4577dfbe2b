"""Experiment 0: test-retest reliability of the measurement against seeds and budget.

Two measurements with disjoint seeds are compared: Spearman correlation of their T entries
and of their d entries, and the adjusted Rand index of the plans clustered from each (``--k``
groups). Conditions:

* the naive allocation: 1 transfer seed and a single baseline seed per measurement;
* the product default: frozen-body probe (``frozen``) with S transfer seeds and 2 S baseline
  seeds per measurement (the baseline is shared by a whole column, so it gets more seeds);
* training budgets: the epoch cap E of the probe fits on the target side (transfer and
  baseline runs), re-scored from the stored validation curves (see
  ``_common.level_estimate``); source bodies keep their full training;
* the converged fine-tuning gap (``finetune``, the paper's estimator) when its runs are in
  the records (campaign stage s2);
* the closed-form ``logme`` estimator (the product default) when its runs are in the
  records (campaign stage s7).

Besides the raw Spearman of ``d``, the Spearman of the double-centred ``d`` (each half's
main effects ``a_i + a_j`` removed, as ``hetero measure --retest`` reports it) says how
reliably a measurement ranks *pairs* rather than units that are far from everything.

The runs come from ``campaign.py`` (``--records``), or are trained here (``--quick``, or no
``--records``). Each condition is evaluated on every distinct disjoint split of the stored
seeds (at most ``--splits``); the table gives mean +- std over the splits and the compute
of one measurement (single-core seconds of the runs it uses, scaled by the epoch cap).

Usage::

    python examples/experiments/exp0_reliability.py --out DIR [--records R.jsonl.gz ...]
        [--quick] [--splits 6] [--k 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign

#: name -> (estimator, stored epoch cap, re-scored cap or None, S, B per measurement)
CONDITIONS = [
    ("finetune, 1 seed, 1 baseline (naive)", "finetune", 30, None, 1, 1),
    ("frozen, 1 seed, 1 baseline", "frozen", 30, None, 1, 1),
    ("frozen E=5, 1 seed, 2 baselines (as frozen_short)", "frozen", 30, 5, 1, 2),
    ("frozen E=10, 1 seed, 2 baselines", "frozen", 30, 10, 1, 2),
    ("frozen E=20, 1 seed, 2 baselines", "frozen", 30, 20, 1, 2),
    ("frozen E=30, 1 seed, 2 baselines", "frozen", 30, None, 1, 2),
    ("frozen E=30, 2 seeds, 4 baselines", "frozen", 30, None, 2, 4),
    ("logme, 1 seed, 1 baseline", "logme", 30, None, 1, 1),
    ("logme, 2 seeds, 2 baselines (the default)", "logme", 30, None, 2, 2),
]
QUICK_CONDITIONS = [
    ("finetune, 1 seed, 1 baseline (naive)", "finetune", 3, None, 1, 1),
    ("frozen, 1 seed, 1 baseline", "frozen", 3, None, 1, 1),
    ("frozen E=2, 1 seed, 1 baseline", "frozen", 3, 2, 1, 1),
    ("logme, 1 seed, 1 baseline", "logme", 3, None, 1, 1),
]


def split_seeds(n_t: int, n_b: int, s: int, b: int, rep: int):
    """Two disjoint (transfer, baseline) seed sets; baseline sets contain the transfer sets."""
    rng = np.random.default_rng(1000 + rep)
    t = rng.permutation(n_t)
    ta, tb = sorted(t[:s].tolist()), sorted(t[s : 2 * s].tolist())
    extra_pool = [x for x in range(n_b) if x not in set(t[: 2 * s].tolist())]
    extra = rng.permutation(extra_pool).tolist() if extra_pool else []
    need = b - s
    ba = sorted(ta + extra[:need])
    bb = sorted(tb + extra[need : 2 * need])
    return (ta, ba), (tb, bb)


def cost(runs, records, ts, bs, cap) -> float:
    keys = {runs.transfer[k].key for k in runs.transfer if k[2] in ts}
    keys |= {runs.baseline[k].key for k in runs.baseline if k[1] in bs}
    scratch = {runs.scratch[k].key for k in runs.scratch if k[1] in set(ts) | set(bs)}
    total = 0.0
    for k in keys | scratch:
        r = records.get(k)
        if r is None:
            continue
        w = r.wall_time or 0.0
        if cap is not None and k not in scratch and r.epochs:
            w *= min(1.0, cap / r.epochs)
        total += w
    return total


def evaluate(suite, records, *, quick: bool, splits: int, k: int) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    from hetero.measure.stability import RELIABLE_SPEARMAN, offdiag_spearman
    from hetero.nulls import main_effects

    rows = []
    for name, est, stored, cap, s, b in QUICK_CONDITIONS if quick else CONDITIONS:
        probe = campaign.probe_config(stored, quick)
        levels = C.campaign_levels(suite, estimator=est, probe=probe, seeds=range(16),
                                   baseline_seeds=range(16))  # fmt: skip
        for level, runs in levels.items():
            ts_all = sorted({k2[2] for k2, sp in runs.transfer.items() if sp.key in records})
            bs_all = sorted({k2[1] for k2, sp in runs.baseline.items() if sp.key in records})
            n_t, n_b = len(ts_all), len(bs_all)
            if (
                ts_all != list(range(n_t))
                or bs_all != list(range(n_b))
                or n_t < 2 * s
                or n_b < 2 * b
            ):
                C.log(f"{name} [{level}]: stored seeds {n_t}/{n_b} < needed {2 * s}/{2 * b}")
                continue
            res = {"T": [], "d": [], "dc": [], "ari": [], "cost": []}
            seen = set()
            for rep in range(200):
                (ta, ba), (tb, bb) = split_seeds(n_t, n_b, s, b, rep)
                sig = frozenset([(tuple(ta), tuple(ba)), (tuple(tb), tuple(bb))])
                if sig in seen:
                    continue
                seen.add(sig)
                kw = {"epoch_cap": cap}
                ea = C.level_estimate(runs, records, est, seeds=ta, baseline_seeds=ba, **kw)
                eb = C.level_estimate(runs, records, est, seeds=tb, baseline_seeds=bb, **kw)
                da = C.distance_matrix(runs.labels, ea.values, level).values
                db = C.distance_matrix(runs.labels, eb.values, level).values
                res["T"].append(offdiag_spearman(ea.values, eb.values))
                res["d"].append(offdiag_spearman(da, db, upper=True))
                if np.isfinite(da).all() and np.isfinite(db).all():
                    ca, cb = main_effects(da).residual, main_effects(db).residual
                    res["dc"].append(offdiag_spearman(ca, cb, upper=True))
                # plans need complete matrices: complete unmeasured entries (if any) first
                lev_a = {"runs": runs, "estimate": ea}
                lev_b = {"runs": runs, "estimate": eb}
                da = C.level_distance(lev_a, level).values
                db = C.level_distance(lev_b, level).values
                if np.isfinite(da).all() and np.isfinite(db).all():
                    kk = min(k, len(runs.labels) - 1)
                    ga, gb = C.groups_of(runs.labels, da, kk), C.groups_of(runs.labels, db, kk)
                    res["ari"].append(float(adjusted_rand_score(ga, gb)))
                res["cost"].append(
                    (cost(runs, records, ta, ba, cap) + cost(runs, records, tb, bb, cap)) / 2
                )
                if len(res["T"]) >= splits:
                    break
            row = {"condition": name, "level": level, "estimator": est,
                   "epoch_cap": cap or stored, "transfer_seeds": s, "baseline_seeds": b,
                   "n_splits": len(res["T"])}  # fmt: skip
            for key, col in (("T", "spearman_T"), ("d", "spearman_d"),
                             ("dc", "spearman_d_centred"), ("ari", "plan_ari"),
                             ("cost", "core_s")):  # fmt: skip
                m, sd, _ = C.mean_std(res[key])
                row[f"{col}_mean"] = m
                row[f"{col}_std"] = sd
            r = row["spearman_d_mean"]
            # Spearman-Brown: reliability of a measurement with twice these seeds
            row["spearman_d_2x_seeds"] = 2 * r / (1 + r) if np.isfinite(r) and r > 0 else r
            row["reliable"] = bool(np.isfinite(r) and r >= RELIABLE_SPEARMAN)
            rows.append(row)
            C.log(name, level, {k2: round(v, 3) for k2, v in row.items() if isinstance(v, float)})
    return rows


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    markers = {"modality": "o", "interaction": "s"}
    for r in rows:
        color = f"C{[x['condition'] for x in rows].index(r['condition']) % 10}"
        for ax, col in zip(axes, ("spearman_d", "plan_ari"), strict=True):
            ax.errorbar(r["core_s_mean"], r[f"{col}_mean"], yerr=r[f"{col}_std"],
                        fmt=markers.get(r["level"], "o"), color=color, capsize=3,
                        label=f"{r['condition']} [{r['level'][:5]}]" if col == "plan_ari" else None)  # fmt: skip
    axes[0].set_ylabel("test-retest Spearman of d")
    axes[1].set_ylabel("plan ARI between halves")
    for ax in axes:
        ax.set_xlabel("core-seconds per measurement")
        ax.set_xscale("log")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].axhline(0.7, color="red", lw=0.7, ls="--")
    axes[1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Experiment 0: reliability vs compute (circles: modality, squares: interaction)")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    C.add_measurement_args(ap)
    ap.add_argument("--splits", type=int, default=6, help="most disjoint seed splits")
    ap.add_argument("--k", type=int, default=4, help="plan groups for the ARI")
    ap.add_argument("--tasks", default=None, help="comma-separated subset of the suite's tasks")
    args = ap.parse_args()
    C.setup(args)
    tasks = args.tasks.split(",") if args.tasks and not args.quick else None
    suite = C.load_suite(args, small=args.quick, tasks=tasks)
    stages = ["s1", "s2", "s7"] if args.quick else list(campaign.STAGES)
    records = C.records_or_campaign(args, suite, stages)
    rows = evaluate(suite, records, quick=args.quick, splits=args.splits, k=args.k)
    C.write_table(rows, args.out, "exp0_reliability",
                  title="Experiment 0: test-retest reliability")  # fmt: skip
    figure(rows, args.out / "exp0_reliability.png")


if __name__ == "__main__":
    main()
