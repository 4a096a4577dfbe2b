"""Experiment 6: transfer to a new task (the paper's Table 3).

Per seed and held-out target task: a HighMMT model (one model over the sources and the
target, so the sizes match) is pre-trained on the first 1, 2 or 3 source tasks (multitask,
shared blocks), then fine-tuned on the target alone; against the same model trained on the
target alone for the same number of target epochs. Reports the target's test metric,
mean +- std over seeds.

Usage::

    python examples/experiments/exp6_transfer.py --out DIR [--target racketsports]
        [--sources watch,watch_side,mfeat] [--seeds 3] [--device cuda] [--jobs 3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C


def configs(sources: list[str]) -> list[tuple[str, list[str]]]:
    out = [("target alone", [])]
    for m in range(1, len(sources) + 1):
        out.append((f"pre-train on {m} task{'s' if m > 1 else ''} ({'+'.join(sources[:m])})",
                    sources[:m]))  # fmt: skip
    return out


def run_seed(args, seed: int) -> None:
    import torch

    from hetero.suite import Suite

    torch.set_num_threads(args.threads)
    full = C.cap_train(C.load_suite(args), args.max_train, seed)
    target, sources = args.target, args.sources
    for name, src in configs(sources):
        suite = Suite([full.task(t) for t in [*src, target]], name="transfer")
        net = C.new_model(suite, args, seed)
        if src:
            C.train(net, suite, epochs=args.pretrain_epochs, seed=seed, args=args, tasks=src,
                    stage="pretrain")  # fmt: skip
        tr = C.train(net, suite, epochs=args.finetune_epochs, seed=seed + 1, args=args,
                     tasks=[target], stage="finetune")  # fmt: skip
        score = C.test_scores(tr, suite, tasks=[target])[target]
        row = {"config": name, "seed": seed, "target": target, "n_sources": len(src),
               "test_metric": score}  # fmt: skip
        C.append_jsonl(args.out / "rows.jsonl", row)
        C.log(f"seed {seed} {name}: {score:.4f}")


def aggregate(args) -> list[dict]:
    rows = C.read_jsonl(args.out / "rows.jsonl")
    order = [c for c, _ in configs(args.sources)]
    table = C.summarise_rows(rows, ["test_metric"], order)
    alone = next((r for r in table if r["config"] == "target alone"), None)
    for r in table:
        r["target"] = args.target
        if alone is not None:
            r["gain_vs_alone"] = r["test_metric_mean"] - alone["test_metric_mean"]
    C.write_table(
        table,
        args.out,
        "exp6_transfer",
        title=f"Experiment 6: transfer to {args.target} (mean ± std over seeds)",
    )
    figure(table, args.out / "exp6_transfer.png", args.target)
    return table


def figure(table, path, target) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = list(range(len(table)))
    ax.errorbar(x, [r["test_metric_mean"] for r in table], [r["test_metric_std"] for r in table],
                fmt="o-", capsize=3)  # fmt: skip
    ax.set_xticks(x, ["alone" if r["config"] == "target alone" else r["config"].split(" (")[0]
                      .replace("pre-train on ", "") for r in table])  # fmt: skip
    ax.set_ylabel(f"{target} test accuracy")
    ax.set_title("Experiment 6: transfer to a new task")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_training_args(
        C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    )
    ap.add_argument("--target", default="racketsports")
    ap.add_argument("--sources", default="watch,watch_side,mfeat")
    args = ap.parse_args()
    C.setup(args)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.pretrain_epochs, args.finetune_epochs = 1, 1
        args.target, args.sources = "watch", "mfeat"
    args.sources = [s for s in args.sources.split(",") if s]
    if not args.aggregate:
        (args.out / "rows.jsonl").unlink(missing_ok=True)
        C.run_seeds(run_seed, args, list(range(args.seeds)))
    aggregate(args)


if __name__ == "__main__":
    main()
