"""Experiment 0: test-retest reliability of the measurement against seeds and budget.

Two measurements with disjoint seeds are compared (Spearman of their T and d entries, and
the adjusted Rand index of the plans clustered from each) for

* the naive estimator: converged fine-tuning gap (``finetune``), 1 transfer seed, a single
  scratch baseline;
* the product default: frozen-body probe (``frozen``), S transfer seeds and 2S baseline
  seeds per measurement, at two training budgets (probe epoch cap E = 30 and 10).

The runs come from ``campaign.py`` (``--records``), or are trained here (``--quick`` or
no ``--records``). Each condition is evaluated on several random disjoint splits of the
stored seeds (``--splits``); the table gives mean +- std over the splits and the compute of
one measurement (single-core seconds of the runs it uses).

Usage::

    python examples/experiments/exp0_reliability.py --out DIR [--records R.jsonl.gz ...]
        [--quick] [--splits 3] [--k 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign

#: condition name -> (estimator, epoch cap, transfer seeds S, baseline seeds B per measurement)
CONDITIONS = [
    ("naive finetune", "finetune", 30, 1, 1),
    ("finetune S=2", "finetune", 30, 2, 2),
    ("frozen E=10 S=1", "frozen", 10, 1, 2),
    ("frozen E=10 S=2", "frozen", 10, 2, 4),
    ("frozen E=30 S=1", "frozen", 30, 1, 2),
    ("frozen E=30 S=2", "frozen", 30, 2, 4),
]


def split_seeds(n_t: int, n_b: int, s: int, b: int, rep: int):
    """Two disjoint (transfer, baseline) seed sets; baseline sets contain the transfer sets."""
    rng = np.random.default_rng(1000 + rep)
    t = rng.permutation(n_t)
    ta, tb = sorted(t[:s].tolist()), sorted(t[s : 2 * s].tolist())
    extra_pool = [x for x in range(n_b) if x not in set(t[: 2 * s].tolist())]
    extra = rng.permutation(extra_pool).tolist()
    need = b - s
    ba = sorted(ta + extra[:need])
    bb = sorted(tb + extra[need : 2 * need])
    return (ta, ba), (tb, bb)


def cost(runs, records, ts, bs) -> float:
    keys = {runs.transfer[k].key for k in runs.transfer if k[2] in ts}
    keys |= {runs.baseline[k].key for k in runs.baseline if k[1] in bs}
    keys |= {runs.scratch[k].key for k in runs.scratch if k[1] in set(ts) | set(bs)}
    return float(sum(records[k].wall_time or 0.0 for k in keys if k in records))


QUICK_CONDITIONS = [("naive finetune", "finetune", 3, 1, 1), ("frozen E=3 S=1", "frozen", 3, 1, 1)]


def evaluate(suite, records, *, quick: bool, splits: int, k: int) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    from hetero.measure.stability import RELIABLE_SPEARMAN, offdiag_spearman

    rows = []
    for name, est, epochs, s, b in QUICK_CONDITIONS if quick else CONDITIONS:
        e_cap = epochs
        probe = campaign.probe_config(e_cap, quick)
        # the largest seed pools stored for this condition
        levels = C.campaign_levels(suite, estimator=est, probe=probe, seeds=range(16),
                                   baseline_seeds=range(16), interactions=False)  # fmt: skip
        runs = levels["modality"]
        n_t = 0
        while all(
            runs.transfer[(a, c, n_t)].key in records for (a, c, sd) in runs.transfer if sd == 0
        ):
            n_t += 1
        n_b = 0
        while all(runs.baseline[(u, n_b)].key in records for u in runs.labels):
            n_b += 1
        n_b = max(n_b, n_t)
        if n_t < 2 * s or n_b < 2 * b:
            C.log(f"{name}: stored seeds {n_t}/{n_b} < needed {2 * s}/{2 * b}; skipped")
            continue
        res = {"T": [], "d": [], "ari": [], "cost": []}
        seen = set()
        for rep in range(splits * 4):
            (ta, ba), (tb, bb) = split_seeds(n_t, n_b, s, b, rep)
            sig = (tuple(ta), tuple(ba), tuple(tb), tuple(bb))
            if sig in seen or (sig[2], sig[3], sig[0], sig[1]) in seen:
                continue
            seen.add(sig)
            ea = C.level_estimate(runs, records, est, seeds=ta, baseline_seeds=ba)
            eb = C.level_estimate(runs, records, est, seeds=tb, baseline_seeds=bb)
            da = C.distance_matrix(runs.labels, ea.values, "modality").values
            db = C.distance_matrix(runs.labels, eb.values, "modality").values
            res["T"].append(offdiag_spearman(ea.values, eb.values))
            res["d"].append(offdiag_spearman(da, db, upper=True))
            kk = min(k, len(runs.labels) - 1)
            ga, gb = C.groups_of(runs.labels, da, kk), C.groups_of(runs.labels, db, kk)
            res["ari"].append(float(adjusted_rand_score(ga, gb)))
            res["cost"].append((cost(runs, records, ta, ba) + cost(runs, records, tb, bb)) / 2)
            if len(res["T"]) >= splits:
                break
        row = {
            "condition": name,
            "estimator": est,
            "epoch_cap": e_cap,
            "transfer_seeds": s,
            "baseline_seeds": b,
            "n_splits": len(res["T"]),
        }
        for key, col in (("T", "spearman_T"), ("d", "spearman_d"), ("ari", "plan_ari"),
                         ("cost", "core_s")):  # fmt: skip
            m, sd, _ = C.mean_std(res[key])
            row[f"{col}_mean"] = m
            row[f"{col}_std"] = sd
        row["reliable"] = bool(
            np.isfinite(row["spearman_d_mean"]) and row["spearman_d_mean"] >= RELIABLE_SPEARMAN
        )
        rows.append(row)
        C.log(name, {k2: round(v, 3) for k2, v in row.items() if isinstance(v, float)})
    return rows


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for r in rows:
        for ax, col in zip(axes, ("spearman_d", "plan_ari"), strict=True):
            ax.errorbar(r["core_s_mean"], r[f"{col}_mean"], yerr=r[f"{col}_std"], fmt="o",
                        capsize=3, label=r["condition"])  # fmt: skip
    axes[0].set_ylabel("test-retest Spearman of d")
    axes[1].set_ylabel("plan ARI between halves")
    for ax in axes:
        ax.set_xlabel("core-seconds per measurement")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].axhline(0.7, color="red", lw=0.7, ls="--")
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle("Experiment 0: reliability vs compute")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    ap.add_argument("--records", type=Path, nargs="*", default=None)
    ap.add_argument("--splits", type=int, default=3, help="random disjoint seed splits")
    ap.add_argument("--k", type=int, default=4, help="plan groups for the ARI")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    C.setup(args)
    suite = C.load_suite(args, small=args.quick)
    records_files = args.records
    if not records_files:
        stages = ["s1", "s2"] if args.quick else list(campaign.STAGES)
        campaign.run_campaign(suite, args.out / "campaign", stages=stages, quick=args.quick,
                              workers=args.workers, deadline=None)  # fmt: skip
        records_files = [args.out / "campaign" / "records.jsonl.gz"]
    records = C.load_records(records_files)
    rows = evaluate(suite, records, quick=args.quick, splits=args.splits, k=args.k)
    C.write_table(rows, args.out, "exp0_reliability",
                  title="Experiment 0: test-retest reliability (modality level)")  # fmt: skip
    figure(rows, args.out / "exp0_reliability.png")


if __name__ == "__main__":
    main()
