"""Experiment 1: heterogeneity matrices (heatmaps, dendrograms) and what they group.

From the campaign's measurement (``--estimator logme``, the default: stage s7; ``frozen``:
stage s1; scratch bodies with epoch cap 30, every stored seed) this writes
the modality and interaction distance matrices (``modality.json``, ``interaction.json``,
with the directed ``*_transfer.json``), heatmaps ordered by the plan and dendrograms, and a
table answering two questions, each statistic computed per transfer seed (the seed's
transfer runs against the mean baseline) and given as mean +- std over seeds:

* are units of the same modality (the same name in two tasks: image, accelerometer,
  gyroscope) or the same kind closer to each other than to other units?
* is there more interaction heterogeneity than unimodal heterogeneity (mean distance)?

Usage::

    python examples/experiments/exp1_matrices.py --out DIR [--records R.jsonl.gz ...] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign


def pair_categories(suite, labels: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Unordered unit pairs by relation: same modality name, same kind, different kind."""
    info = {}
    for lab in labels:
        u = suite.unit(lab)
        m = suite.task(u.task).modality(u.modalities[0])
        info[lab] = (m.name, m.kind)
    cats: dict[str, list[tuple[int, int]]] = {"same name": [], "same kind": [], "other kind": []}
    for i, j in itertools.combinations(range(len(labels)), 2):
        (ni, ki), (nj, kj) = info[labels[i]], info[labels[j]]
        if ni == nj:
            cats["same name"].append((i, j))
        elif ki == kj:
            cats["same kind"].append((i, j))
        else:
            cats["other kind"].append((i, j))
    return cats


def same_name_auc(d: np.ndarray, cats: dict[str, list[tuple[int, int]]]) -> float:
    """P(d of a same-name pair < d of an other-kind pair), ties counted half."""
    a = np.array([d[i, j] for i, j in cats["same name"]])
    b = np.array([d[i, j] for i, j in cats["other kind"]])
    return float(np.mean(a[:, None] < b[None, :]) + 0.5 * np.mean(a[:, None] == b[None, :]))


def same_name_nulls(d: np.ndarray, cats: dict, n_perm: int = 1000, seed: int = 0) -> list[dict]:
    """The same-name statistic of the pooled ``d`` against a unit-permutation null (units
    relabelled, as a Mantel test: the pairs of one unit are not independent), raw and after
    removing the main effects ``a_i + a_j`` (double-centred: do same-name pairs stay close
    once "unit i is near everything" is taken out?)."""
    from hetero.nulls import main_effects

    rng = np.random.default_rng(seed)
    rows = []
    for name, m in (("pooled d", d), ("double-centred d", main_effects(d).residual)):
        obs = same_name_auc(m, cats)
        null = np.empty(n_perm)
        for k in range(n_perm):
            perm = rng.permutation(len(m))
            null[k] = same_name_auc(m[np.ix_(perm, perm)], cats)
        p = (1 + int(np.sum(null >= obs))) / (n_perm + 1)
        rows.append({"statistic": f"P(d same-name pair < d other-kind pair), {name}",
                     "level": "modality", "n_pairs": len(cats["same name"]), "mean": obs,
                     "std": float("nan"), "n_seeds": 1, "null_mean": float(null.mean()),
                     "p_permutation": p})  # fmt: skip
    return rows


def per_seed_d(lev: dict, level: str) -> list[np.ndarray]:
    """Each transfer seed's distance matrix (unmeasured entries completed)."""
    e = lev["estimate"]
    return [C.level_distance(lev, level, e.per_seed[s]).values for s in lev["seeds"]]


def analyse(suite, levels: dict, *, quick: bool = False) -> list[dict]:
    rows = []
    mod = levels["modality"]
    labels = mod["runs"].labels
    cats = pair_categories(suite, labels)
    ds = per_seed_d(mod, "modality")
    for cat, pairs in cats.items():
        if not pairs:
            continue
        vals = [float(np.mean([d[i, j] for i, j in pairs])) for d in ds]
        m, s, n = C.mean_std(vals)
        rows.append({"statistic": f"mean d, {cat} pairs", "level": "modality",
                     "n_pairs": len(pairs), "mean": m, "std": s, "n_seeds": n})  # fmt: skip
    # rank-based: fraction of (same-name pair, other-kind pair) comparisons won
    if cats["same name"] and cats["other kind"]:
        vals = [same_name_auc(d, cats) for d in ds]
        m, s, n = C.mean_std(vals)
        rows.append({"statistic": "P(d same-name pair < d other-kind pair)", "level": "modality",
                     "n_pairs": len(cats["same name"]), "mean": m, "std": s, "n_seeds": n})  # fmt: skip
        pooled = C.level_distance(mod, "modality").values
        if np.isfinite(pooled).all():
            rows.extend(same_name_nulls(pooled, cats, n_perm=200 if quick else 1000))
    for level_name, lev in levels.items():
        dl = per_seed_d(lev, level_name)
        n = len(lev["runs"].labels)
        iu = np.triu_indices(n, 1)
        for stat, fn in (
            ("mean d (all pairs)", lambda d, iu=iu: float(np.mean(d[iu]))),
            ("fraction of pairs with d > 0", lambda d, iu=iu: float(np.mean(d[iu] > 0))),
            ("mean d / mean baseline loss", None),
        ):
            if fn is None:
                base = float(np.nanmean(lev["estimate"].baseline))
                if not base > 0:  # a score that is not a positive loss (logme: -evidence)
                    continue
                vals = [float(np.mean(d[iu])) / base for d in dl]
            else:
                vals = [fn(d) for d in dl]
            m, s, k = C.mean_std(vals)
            rows.append({"statistic": stat, "level": level_name, "n_pairs": len(iu[0]),
                         "mean": m, "std": s, "n_seeds": k})  # fmt: skip
    return rows


def write_matrices_and_figures(levels: dict, out: Path, k_uni: int | None, k_cross: int | None):
    import matplotlib

    matplotlib.use("Agg")
    from hetero import plotting
    from hetero.grouping import make_plan
    from hetero.matrix import HeterogeneityMatrix

    mats = {}
    for level, lev in levels.items():
        e = lev["estimate"]
        labels = lev["runs"].labels
        t = HeterogeneityMatrix(labels, e.values, kind=level, std=np.where(np.isfinite(e.std), e.std, np.nan), count=e.count,
                                provenance={"seeds": lev["seeds"], "baseline_seeds": lev["baseline_seeds"]})  # fmt: skip
        d = C.level_distance(lev, level)
        t.write(out / f"{level}_transfer.json")
        d.write(out / f"{level}.json")
        mats[level] = d
    kw = {}
    if k_uni:
        kw["unimodal_groups"] = k_uni
    if k_cross and "interaction" in mats:
        kw["crossmodal_groups"] = k_cross
    plan = make_plan(mats["modality"], mats.get("interaction"), **kw)
    plan.write(out / "plan.json")
    for level, d in mats.items():
        C.save_png(plotting.plot_heatmap(d, plan), out / f"exp1_{level}_heatmap.png")
        link = plan.unimodal_linkage if level == "modality" else plan.crossmodal_linkage
        ng = plan.n_unimodal_groups if level == "modality" else plan.n_crossmodal_groups
        if link is not None:
            C.save_png(plotting.plot_dendrogram(link, d.labels, n_groups=ng),
                       out / f"exp1_{level}_dendrogram.png")  # fmt: skip
    return plan


def main() -> None:
    ap = C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    C.add_measurement_args(ap, rescoring=True)
    ap.add_argument("--unimodal-groups", type=int, default=None)
    ap.add_argument("--crossmodal-groups", type=int, default=None)
    args = ap.parse_args()
    C.setup(args)
    suite = C.load_suite(args)
    records = C.records_or_campaign(args, suite, [C.STAGE_OF[args.estimator]])
    probe = campaign.probe_config(3 if args.quick else args.epochs, args.quick)
    levels = C.campaign_estimates(
        suite, records, estimator=args.estimator, probe=probe, epoch_cap=args.score_cap
    )
    plan = write_matrices_and_figures(
        levels, args.out, args.unimodal_groups, args.crossmodal_groups
    )
    rows = analyse(suite, levels, quick=args.quick)
    C.write_table(rows, args.out, "exp1_matrices",
                  title="Experiment 1: what the matrices group (mean ± std over seeds)")  # fmt: skip
    C.log("plan:", plan.unimodal_groups, plan.crossmodal_groups)
    C.log("seeds:", {lv: (v["seeds"], v["baseline_seeds"]) for lv, v in levels.items()})


if __name__ == "__main__":
    main()
