"""Experiment 5: ablations (the paper's Table 5).

Per seed, against the full method (homogeneous pre-training, then fine-tuning with the
plan cut from the measured transfer matrices at ``--k`` groups in total):

* random groups: the same group sizes, units assigned at random (seeded);
* feature-distance groups: the units' mean encoder representations (last latent vector,
  validation split) from the jointly pre-trained shared model, cosine distances between
  them (interaction units: the crossmodal block's outputs), clustered into the same numbers
  of groups, instead of transfer;
* no homogeneous pre-training: the grouped model trained from scratch (pre-training plus
  fine-tuning epochs, so the same number of updates);
* no modality embedding: the one-hot modality part of every token set to zero (both
  stages);
* no crossmodal layer: each task's head reads the concatenated last latent vectors of its
  modalities instead of the crossmodal block's outputs (both stages).

Reports the average test metric and parameters, mean +- std over seeds.

Usage::

    python examples/experiments/exp5_ablations.py --out DIR [--matrices DIR] [--k 6]
        [--seeds 3] [--device cuda] [--jobs 3] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

ORDER = ["transfer plan (full method)", "random groups", "feature-distance groups",
         "no homogeneous pre-training", "no modality embedding", "no crossmodal layer"]  # fmt: skip


# --------------------------------------------------------------------------- variants


def _register_nocross() -> None:
    """Register ``highmmt_nocross``: HighMMT whose heads read the unimodal latents only."""
    import torch
    from torch import nn

    from hetero_models.highmmt import HighMMT
    from hetero_models.registry import list_models, register_model

    if "highmmt_nocross" in list_models():
        return

    @register_model("highmmt_nocross")
    class HighMMTNoCross(HighMMT):
        def __init__(self, spec, **kw):
            super().__init__(spec, **kw)
            d = self.hparams["latent_dim"]
            for i, task in enumerate(self.spec.tasks):
                width = len(task.modalities) * d
                norm = (
                    nn.BatchNorm1d(width)
                    if self.hparams["norm"] == "batch"
                    else nn.LayerNorm(width)
                )
                self.heads[str(i)] = nn.Sequential(norm, nn.Linear(width, task.n_outputs))
            for p in self.crossmodal.parameters():
                p.requires_grad_(False)  # unused: not trained, not counted

        def fuse(self, latents):
            return {task: torch.cat([z[:, -1] for z in zs], dim=1) for task, zs in latents.items()}

        def apply_plan(self, plan):
            super().apply_plan(plan)
            for p in self.crossmodal.parameters():
                p.requires_grad_(False)
            return self


def zero_modality_embedding(net) -> None:
    """Set the one-hot modality part of every token to zero (the last n_modalities columns)."""
    std = net.standardizer
    k = std.n_modalities
    for name, buf in std.named_buffers():
        if name.startswith("suffix_"):
            buf[:, buf.shape[1] - k :] = 0.0


def random_plan(plan, seed: int):
    """Same group sizes as ``plan``, members shuffled (seeded)."""
    from hetero.plan import GroupingPlan

    rng = np.random.default_rng(seed)

    def shuffle(groups):
        members = [m for g in groups for m in g]
        perm = [members[i] for i in rng.permutation(len(members))]
        out, at = [], 0
        for g in groups:
            out.append(perm[at : at + len(g)])
            at += len(g)
        return out

    return GroupingPlan(shuffle(plan.unimodal_groups), shuffle(plan.crossmodal_groups))


def feature_plan(net, suite, plan, args):
    """Plan from cosine distances between units' mean pre-trained representations."""
    import torch

    from hetero.grouping import make_plan
    from hetero.matrix import HeterogeneityMatrix
    from hetero_models.highmmt import interaction_label, unit_label

    net.eval()
    dev = next(net.parameters()).device
    uni, cross = {}, {}
    with torch.no_grad():
        for task in suite.tasks:
            arrays, _ = task.data.split("val")
            x = {m: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)
                 for m, a in arrays.items()}  # fmt: skip
            zs = net.encode({task.name: x})[task.name]
            names = [m.name for m in net.spec.task(task.name).modalities]
            for name, z in zip(names, zs, strict=True):
                uni[unit_label(task.name, name)] = z[:, -1].float().mean(0).cpu().numpy()
            for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
                lab = interaction_label(task.name, a, b)
                out = net.crossmodal([lab], [(zs[i], zs[j])])[0]
                cross[lab] = out.float().mean(0).cpu().numpy()

    def cos_matrix(vecs, labels, kind):
        v = np.stack([vecs[lab] for lab in labels])
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        d = np.clip(1.0 - v @ v.T, 0.0, None)
        np.fill_diagonal(d, 0.0)
        return HeterogeneityMatrix(labels, d, kind=kind)

    ulabels = [u.label for u in suite.units()]
    clabels = [u.label for u in suite.interaction_units()]
    mod = cos_matrix(uni, ulabels, "modality")
    inter = cos_matrix(cross, clabels, "interaction") if len(clabels) >= 2 else None
    kw = {"unimodal_groups": plan.n_unimodal_groups}
    if inter is not None:
        kw["crossmodal_groups"] = plan.n_crossmodal_groups
    return make_plan(mod, inter, **kw), mod


# --------------------------------------------------------------------------- runs


def run_seed(args, seed: int) -> None:
    import torch

    from hetero.grouping import make_plan

    torch.set_num_threads(args.threads)
    _register_nocross()
    suite = C.cap_train(C.load_suite(args), args.max_train, seed)
    mod, inter = C.matrices_for_plans(args, suite)
    k = min(args.k, len(suite.units()) + len(suite.interaction_units()))
    plan = make_plan(mod, inter, total_groups=k)
    P, F = args.pretrain_epochs, args.finetune_epochs

    def finish(name, net, p, *, pre_state=None, model="highmmt", epochs=F, prep=None):
        m = C.new_model(suite, args, seed, model)
        if prep is not None:
            prep(m)
        if pre_state is not None:
            m.load_state_dict(pre_state)
        m.apply_plan(p)
        tr = C.train(m, suite, epochs=epochs, seed=seed + 1, args=args, stage="finetune")
        scores = C.test_scores(tr, suite)
        row = {"config": name, "seed": seed, "unimodal_groups": p.n_unimodal_groups,
               "crossmodal_groups": p.n_crossmodal_groups,
               "params": int(m.parameter_report()["total"]),
               "avg_test_metric": sum(scores.values()) / len(scores),
               **{f"test/{t}": v for t, v in scores.items()}}  # fmt: skip
        C.append_jsonl(args.out / "rows.jsonl", row)
        C.log(f"seed {seed} {name}: avg {row['avg_test_metric']:.4f} params {row['params']}")

    def pretrained(model="highmmt", prep=None):
        net = C.new_model(suite, args, seed, model)
        if prep is not None:
            prep(net)
        C.train(net, suite, epochs=P, seed=seed, args=args, stage="pretrain")
        return net

    net = pretrained()
    pre = copy.deepcopy(net.state_dict())
    finish(ORDER[0], net, plan, pre_state=pre)
    finish(ORDER[1], net, random_plan(plan, 10_000 + seed), pre_state=pre)
    fplan, _ = feature_plan(net, suite, plan, args)
    C.append_jsonl(args.out / "feature_plans.jsonl", {"seed": seed, **fplan.to_dict()})
    finish(ORDER[2], net, fplan, pre_state=pre)
    finish(ORDER[3], None, plan, epochs=P + F)
    net_e = pretrained(prep=zero_modality_embedding)
    finish(ORDER[4], net_e, plan, pre_state=copy.deepcopy(net_e.state_dict()),
           prep=zero_modality_embedding)  # fmt: skip
    net_c = pretrained(model="highmmt_nocross")
    finish(ORDER[5], net_c, plan, pre_state=copy.deepcopy(net_c.state_dict()),
           model="highmmt_nocross")  # fmt: skip


def aggregate(args) -> list[dict]:
    rows = C.read_jsonl(args.out / "rows.jsonl")
    keys = ["avg_test_metric", *sorted({k for r in rows for k in r if k.startswith("test/")})]
    table = C.summarise_rows(rows, keys, ORDER)
    C.write_table(table, args.out, "exp5_ablations",
                  title="Experiment 5: ablations (mean ± std over seeds)")  # fmt: skip
    figure(table, args.out / "exp5_ablations.png")
    return table


def figure(table, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    y = np.arange(len(table))
    ax.barh(y, [r["avg_test_metric_mean"] for r in table],
            xerr=[r["avg_test_metric_std"] for r in table], capsize=3)  # fmt: skip
    ax.set_yticks(y, [r["config"] for r in table], fontsize=8)
    ax.invert_yaxis()
    lo = min(r["avg_test_metric_mean"] - r["avg_test_metric_std"] for r in table)
    ax.set_xlim(max(0.0, lo - 0.05), None)
    ax.set_xlabel("average test accuracy")
    ax.set_title("Experiment 5: ablations")
    C.save_png(fig, path)


def main() -> None:
    ap = C.add_training_args(
        C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    )
    ap.add_argument("--matrices", type=Path, default=None)
    C.add_measurement_args(ap)
    ap.add_argument("--k", type=int, default=6, help="total groups of the plan")
    args = ap.parse_args()
    C.setup(args)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.pretrain_epochs, args.finetune_epochs = 1, 1
        args.k = 4
    if not args.aggregate:
        if args.matrices is None:
            mod, inter = C.matrices_for_plans(args, C.load_suite(args))
            args.matrices = args.out / "matrices"
            args.matrices.mkdir(parents=True, exist_ok=True)
            mod.write(args.matrices / "modality.json")
            if inter is not None:
                inter.write(args.matrices / "interaction.json")
        for f in ("rows.jsonl", "feature_plans.jsonl"):
            (args.out / f).unlink(missing_ok=True)
        C.run_seeds(run_seed, args, list(range(args.seeds)))
    aggregate(args)


if __name__ == "__main__":
    main()
