"""Experiment 4: performance against parameters (the paper's Table 2 sweep).

Per seed: homogeneous pre-training of the fully shared HighMMT on all tasks of the suite,
then fine-tuning (same number of epochs for every configuration) with

* share-all (one unimodal and one crossmodal block),
* share-none (one block per unit and per interaction unit),
* plans cut from the measured heterogeneity matrices with k = 2, 4, 6, 7, 9 groups in total
  (split between unimodal and crossmodal by the core's ``split_budget``).

Reports the average test metric over the tasks (accuracy for every task of the suites
here), per-task metrics and total parameters, mean +- std over seeds, and a Pareto plot.
Plans come from ``--matrices DIR`` (``modality.json`` / ``interaction.json`` written by
experiment 1 or ``hetero measure``), else from a campaign measurement run here.

Usage::

    python examples/experiments/exp4_pareto.py --out DIR [--matrices DIR] [--seeds 3]
        [--device cuda] [--jobs 3] [--pretrain-epochs 8] [--finetune-epochs 6] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

KS = (2, 4, 6, 7, 9)
ORDER = ["share-all", "share-none"] + [f"k={k}" for k in KS]


def plans(suite, mod, inter) -> dict:
    from hetero.grouping import make_plan
    from hetero.plan import GroupingPlan

    n_u, n_i = len(suite.units()), len(suite.interaction_units())
    out = {"share-all": GroupingPlan.share_all(suite), "share-none": GroupingPlan.share_none(suite)}
    for k in KS:
        if 2 <= k <= n_u + n_i:
            out[f"k={k}"] = make_plan(mod, inter, total_groups=k)
    return out


def run_seed(args, seed: int) -> None:
    import torch

    torch.set_num_threads(args.threads)
    suite = C.cap_train(C.load_suite(args), args.max_train, seed)
    mod, inter = C.matrices_for_plans(args, suite)
    ps = plans(suite, mod, inter)
    net = C.new_model(suite, args, seed)
    C.train(net, suite, epochs=args.pretrain_epochs, seed=seed, args=args, stage="pretrain")
    pre = copy.deepcopy(net.state_dict())
    wanted = args.configs.split(",") if args.configs else ORDER
    for name in ORDER:
        if name not in ps or name not in wanted:
            continue
        plan = ps[name]
        m = C.new_model(suite, args, seed)
        m.load_state_dict(pre)
        m.apply_plan(plan)
        tr = C.train(m, suite, epochs=args.finetune_epochs, seed=seed + 1, args=args,
                     stage="finetune")  # fmt: skip
        scores = C.test_scores(tr, suite)
        row = {"config": name, "seed": seed, "unimodal_groups": plan.n_unimodal_groups,
               "crossmodal_groups": plan.n_crossmodal_groups,
               "params": int(m.parameter_report()["total"]),
               "avg_test_metric": sum(scores.values()) / len(scores),
               **{f"test/{t}": v for t, v in scores.items()}}  # fmt: skip
        C.append_jsonl(args.out / "rows.jsonl", row)
        C.log(f"seed {seed} {name}: avg {row['avg_test_metric']:.4f} params {row['params']}")


def aggregate(args) -> list[dict]:
    rows = C.read_jsonl(args.out / "rows.jsonl")
    keys = ["avg_test_metric", *sorted({k for r in rows for k in r if k.startswith("test/")})]
    table = C.summarise_rows(rows, keys, ORDER)
    C.write_table(
        table,
        args.out,
        "exp4_pareto",
        title="Experiment 4: average test metric and parameters (mean ± std over seeds)",
    )
    figure(table, args.out / "exp4_pareto.png")
    return table


def figure(table, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in table:
        ax.errorbar(r["params"], r["avg_test_metric_mean"], yerr=r["avg_test_metric_std"],
                    fmt="o", capsize=3)  # fmt: skip
        ax.annotate(r["config"], (r["params"], r["avg_test_metric_mean"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("total parameters")
    ax.set_ylabel("average test accuracy")
    ax.set_title("Experiment 4: performance vs parameters")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_training_args(
        C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    )
    ap.add_argument("--matrices", type=Path, default=None)
    C.add_measurement_args(ap)
    ap.add_argument("--configs", default=None, help="comma-separated subset, e.g. k=4,k=6")
    args = ap.parse_args()
    C.setup(args)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.pretrain_epochs, args.finetune_epochs = 1, 1
    if not args.aggregate:
        if args.matrices is None:  # measure once here, before the seeds fork
            mod, inter = C.matrices_for_plans(args, C.load_suite(args))
            args.matrices = args.out / "matrices"
            args.matrices.mkdir(parents=True, exist_ok=True)
            mod.write(args.matrices / "modality.json")
            if inter is not None:
                inter.write(args.matrices / "interaction.json")
        (args.out / "rows.jsonl").unlink(missing_ok=True)
        C.run_seeds(run_seed, args, list(range(args.seeds)))
    aggregate(args)


if __name__ == "__main__":
    main()
