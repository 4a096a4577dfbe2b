"""A custom architecture that gets plan-driven parameter groups for free.

Uses only the public API of ``hetero_models``:

* :func:`register_model` makes the architecture available to ``create_model`` (and to
  ``hetero train --model poolmlp`` once this module is imported or exposed through the
  ``hetero.models`` entry-point group);
* :class:`GroupedModel` + :class:`GroupedBlock` declare the two shareable blocks; the model
  only says which labels each block routes (``unit_labels``);
* :class:`InputStandardizer` gives HighMMT's parameter-free tokens;
* :func:`train_two_stage` pre-trains the fully shared model, then fine-tunes one copy of
  each block per plan group.

Run: ``python examples/custom_architecture.py`` (about ten seconds on one core).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from hetero.plan import GroupingPlan
from hetero.suite import Modality, Suite, Task
from hetero_models import (
    GroupedBlock,
    GroupedModel,
    InputStandardizer,
    Trainer,
    create_model,
    register_model,
    train_two_stage,
)


class TokenPoolEncoder(nn.Module):
    """Shareable unimodal block: per-token MLP, then mean over tokens -> ``(B, dim)``.

    A shareable block maps the list of its units' inputs to the list of their outputs.
    """

    def __init__(self, width: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, items):
        return [self.net(item.tokens()).mean(dim=1) for item in items]


class PairMixer(nn.Module):
    """Shareable crossmodal block: ``(z_a, z_b) -> MLP([z_a, z_b])``, all pairs in one batch."""

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, items):
        sizes = [a.shape[0] for a, _ in items]
        out = self.net(torch.cat([torch.cat([a, b], dim=1) for a, b in items]))
        return list(out.split(sizes))


@register_model("poolmlp")
class PoolMLP(GroupedModel):
    """Token-pooling encoder per modality, pair mixer per modality pair, one head per task.

    What a model needs for plans, ``save_model`` / ``load_model`` and the trainer:
    ``spec`` and ``hparams`` attributes, shareable blocks wrapped in ``GroupedBlock``
    (kind ``"unimodal"`` or ``"crossmodal"``), ``unit_labels(kind)``, and
    ``forward({task: inputs}) -> {task: logits}``.
    """

    def __init__(self, spec, dim: int = 32):
        super().__init__()
        self.spec, self.hparams = spec, {"dim": dim}
        self.standardizer = InputStandardizer(spec)
        self.unimodal = GroupedBlock(TokenPoolEncoder(self.standardizer.width, dim), "unimodal")
        self.crossmodal = GroupedBlock(PairMixer(dim), "crossmodal")
        self.heads = nn.ModuleDict(
            {
                t.name: nn.Linear(
                    dim * max(1, len(t.modalities) * (len(t.modalities) - 1) // 2), t.n_outputs
                )
                for t in spec.tasks
            }
        )

    def _pairs(self, task):
        return list(itertools.combinations([m.name for m in task.modalities], 2))

    def unit_labels(self, kind):
        if kind == "unimodal":
            return [f"{t.name}/{m.name}" for t in self.spec.tasks for m in t.modalities]
        return [f"{t.name}/{'+'.join(sorted(p))}" for t in self.spec.tasks for p in self._pairs(t)]

    def forward(self, batches):
        labels, items = [], []
        for task, inputs in batches.items():
            for m, item in zip(
                self.spec.task(task).modalities, self.standardizer(task, inputs), strict=True
            ):
                labels.append(f"{task}/{m.name}")
                items.append(item)
        z = dict(zip(labels, self.unimodal(labels, items), strict=True))  # one call per group
        pair_labels, pairs, owners = [], [], []
        for task in batches:
            for a, b in self._pairs(self.spec.task(task)):
                pair_labels.append(f"{task}/{'+'.join(sorted((a, b)))}")
                pairs.append((z[f"{task}/{a}"], z[f"{task}/{b}"]))
                owners.append(task)
        mixed = self.crossmodal(pair_labels, pairs) if pairs else []
        out = {}
        for task in batches:
            reps = [r for r, o in zip(mixed, owners, strict=True) if o == task]
            if not reps:  # single-modality task: its encoding
                reps = [z[f"{task}/{self.spec.task(task).modalities[0].name}"]]
            out[task] = self.heads[task](torch.cat(reps, dim=1))
        return out


def synthetic_suite(n: int = 160, seed: int = 0) -> Suite:
    """Two tasks with planted signal; ``signal`` is one modality shared by both."""
    rng = np.random.default_rng(seed)
    y1, y2 = rng.integers(0, 3, n), rng.integers(0, 2, n)
    sig1 = rng.normal(size=(n, 10, 2)).astype(np.float32) + y1[:, None, None]
    sig2 = rng.normal(size=(n, 10, 2)).astype(np.float32) - y2[:, None, None]
    grid = rng.normal(size=(n, 4, 4, 3)).astype(np.float32)
    grid[..., 0] += y1[:, None, None]
    table = rng.normal(size=(n, 6)).astype(np.float32) + y2[:, None]
    shapes = Task.from_arrays(
        "shapes",
        {"signal": sig1, "grid": grid},
        y1,
        target="multiclass",
        modalities=["signal", Modality("grid", kind="image")],
    )
    tilts = Task.from_arrays(
        "tilts",
        {"signal": sig2, "table": table},
        y2,
        target="binary",
        modalities=["signal", Modality("table", positional_axes=0)],
    )
    return Suite([shapes, tilts], name="custom-demo")


def main() -> None:
    torch.set_num_threads(1)
    suite = synthetic_suite()
    plan = GroupingPlan(
        [["shapes/signal", "tilts/signal"], ["shapes/grid"], ["tilts/table"]],
        [["shapes/grid+signal"], ["tilts/signal+table"]],
    ).validate(suite)
    shared = create_model("poolmlp", suite)
    print("fully shared:", shared.parameter_report())
    model, history = train_two_stage(
        suite,
        plan,
        model="poolmlp",
        pretrain_epochs=5,
        finetune_epochs=5,
        batch_size=16,
        lr=3e-3,
        device="cpu",
    )
    print("grouped:     ", model.parameter_report())
    print(
        "stages:      ",
        [(row["stage"], row["epoch"], round(row["val_score"], 3)) for row in history],
    )
    for task, metrics in Trainer(model, suite, device="cpu").evaluate("test").items():
        print(f"test {task}: accuracy {metrics['accuracy']:.3f}")


if __name__ == "__main__":
    main()
