"""Analyses on real (tiny) models: overlap known answers on a hand-built model, interference
with a no-op corruption, few-shot subsets, the transfer baseline's early stopping."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from hetero.errors import HeteroError  # noqa: E402
from hetero.plan import GroupingPlan  # noqa: E402
from hetero.suite import Suite, Task  # noqa: E402
from hetero_models.analysis import (  # noqa: E402
    few_shot,
    interference,
    involvement,
    parameter_overlap,
    read_result,
    transfer,
)
from hetero_models.analysis.common import (  # noqa: E402
    TrainedModel,
    arm_of,
    fit,
    train_models,
)
from hetero_models.grouping import GroupedBlock, GroupedModel  # noqa: E402
from tests.test_models_helpers import TINY, make_suite  # noqa: E402

torch.set_num_threads(1)
SUITE = make_suite()
PLAN = GroupingPlan(
    [["alpha/img", "gamma/img"], ["alpha/seq", "beta/seq"], ["beta/vec", "beta/tab", "gamma/tab"]],
    [["alpha/img+seq", "gamma/img+tab"], ["beta/seq+tab", "beta/seq+vec", "beta/tab+vec"]],
).validate(SUITE)
KW = {"hparams": TINY, "device": "cpu", "trainer_kwargs": {"batch_size": 8, "lr": 3e-3}}


# ------------------------------------------------------------------- a hand-built model


class _ListLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1, bias=False)

    def forward(self, items):
        return [self.lin(x) for x in items]


class _Toy(GroupedModel):
    """One shared linear map of 4 features; task ``a`` feeds features 0-1, ``b`` 1-2."""

    def __init__(self):
        super().__init__()
        self.spec = SimpleNamespace(task_names=["a", "b"])
        self.unimodal = GroupedBlock(_ListLinear(), "unimodal")
        with torch.no_grad():
            self.unimodal.copies["0"].lin.weight.copy_(torch.tensor([[0.5, -0.3, 0.2, 0.1]]))

    def unit_labels(self, kind):
        return ["a/x", "b/x"] if kind == "unimodal" else []

    def forward(self, batches):
        labels = [f"{t}/x" for t in batches]
        outs = self.unimodal(labels, [b["x"] for b in batches.values()])
        return {t: o for t, o in zip(batches, outs, strict=True)}


def _toy_suite() -> Suite:
    rng = np.random.default_rng(0)
    tasks = []
    for name, cols in (("a", [0, 1]), ("b", [1, 2])):
        x = np.zeros((20, 4), np.float32)
        x[:, cols] = rng.normal(size=(20, 2)) + 1.0
        tasks.append(
            Task.from_arrays(
                name,
                {"x": x},
                rng.normal(size=20).astype(np.float32),
                target="regression",
                split={"val": 0.2, "test": 0.2, "seed": 0},
            )
        )
    return Suite(tasks, name="toy")


def test_involvement_is_the_mean_absolute_per_sample_gradient():
    suite, net = _toy_suite(), _Toy()
    inv = involvement(net, suite, "a", device="cpu")
    (name,) = inv
    x, y = suite.task("a").data.split("train")
    w = np.array([0.5, -0.3, 0.2, 0.1])
    # d/dw (w.x - y)^2 = 2 (w.x - y) x, per sample, absolute, averaged
    expected = np.mean(np.abs(2 * ((x["x"] @ w) - y)[:, None] * x["x"]), axis=0)
    np.testing.assert_allclose(inv[name].ravel(), expected, rtol=1e-5)
    assert inv[name].ravel()[2] == 0 and inv[name].ravel()[3] == 0  # unused features


def test_overlap_of_a_task_with_itself_is_one_and_known_answer():
    suite, net = _toy_suite(), _Toy()
    res = parameter_overlap(net, suite, top_fraction=0.5, components=["unimodal"], device="cpu")
    cell = {(r["task_a"], r["task_b"]): r["overlap"] for r in res.rows}
    # a uses weights {0, 1}, b uses {1, 2}; top 2 of 4 each: they share weight 1
    assert cell[("a", "a")] == cell[("b", "b")] == 1.0
    assert cell[("a", "b")] == 0.5
    assert res.tables["means"][0]["null"] == 0.5 and res.rows[0]["arm"] == "share-all"
    counts = {r["n_tasks"]: r["fraction"] for r in res.tables["counts"]}
    assert counts[2] > 0 and counts[1] + counts[2] == pytest.approx(1.0)
    # one copy per task: nothing is shared any more
    net.apply_plan({"unimodal_groups": [["a/x"], ["b/x"]], "crossmodal_groups": []})
    assert arm_of(net) == "share-none"
    res = parameter_overlap(net, suite, top_fraction=0.25, components=["unimodal"], device="cpu")
    cell = {(r["task_a"], r["task_b"]): r["overlap"] for r in res.rows}
    assert cell[("a", "b")] == 0.0 and cell[("a", "a")] == 1.0


@pytest.fixture(scope="module")
def models():
    return train_models(SUITE, PLAN, seeds=[0], pretrain_epochs=1, finetune_epochs=1, **KW)


def test_train_models_pairs_the_arms_by_seed(models):
    assert [(m.arm, m.seed) for m in models] == [("share-all", 0), ("grouped", 0)]
    from hetero_models.trainer import train_two_stage

    # the grouped arm is exactly what train_two_stage trains with the plan (and the
    # analyses' trainer defaults)
    net, _ = train_two_stage(
        SUITE,
        PLAN,
        model="highmmt",
        hparams=TINY,
        pretrain_epochs=1,
        finetune_epochs=1,
        seed=0,
        device="cpu",
        batch_size=8,
        lr=3e-3,
        task_sampling="proportional",
        lr_schedule="constant",
    )
    for (k, a), b in zip(
        net.state_dict().items(), models[1].model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


def test_a_share_all_plan_is_not_a_second_arm():
    with pytest.raises(HeteroError, match="it is the share-all arm"):
        train_models(SUITE, GroupingPlan.share_all(SUITE), seeds=[0], **KW)


def test_overlap_on_highmmt_models(models, tmp_path):
    res = parameter_overlap(models, SUITE, max_samples=8, device="cpu")
    comps = {(r["arm"], r["component"]) for r in res.summary}
    assert comps == {
        (a, c) for a in ("share-all", "grouped") for c in ("unimodal", "crossmodal", "all")
    }
    for r in res.rows:
        assert 0 <= r["overlap"] <= 1
        if r["task_a"] == r["task_b"] and r["set_a"] == r["k"]:
            assert r["overlap"] == 1.0
    assert any("share-all" in v and "grouped" in v for v in res.verdicts)
    back = read_result(res.write(tmp_path)["json"])
    assert back.tables["counts"] == res.tables["counts"]


def test_interference_with_a_noop_corruption_changes_nothing(models):
    res = interference(SUITE, models, corrupt=["alpha", "gamma"], mode="none", epochs=1, **KW)
    assert len(res.rows) == 2 * 2 * 3
    for r in res.rows:
        assert r["change"] == pytest.approx(0.0, abs=1e-9), r
    assert any("no change larger than 0.000" in v or "fewer than 2" in v for v in res.verdicts)


def test_interference_with_flipped_labels_moves_the_corrupted_task(models):
    res = interference(SUITE, models[:1], corrupt=["gamma"], mode="flip", epochs=2, **KW)
    own = next(r for r in res.rows if r["task"] == "gamma")
    assert own["metric"] == "mse" and own["drop"] > 0  # reflected targets: a worse fit
    assert own["drop"] == pytest.approx(own["corrupted_value"] - own["clean"])


def test_interference_trains_only_the_chosen_part(models):
    from hetero_models.analysis.interfere import _continue

    base = models[1].model
    _, net = _continue(
        base,
        SUITE,
        epochs=1,
        seed=0,
        part="crossmodal",
        device="cpu",
        trainer_kwargs=KW["trainer_kwargs"],
    )
    before, after = base.state_dict(), net.state_dict()
    moved = {
        k.split(".")[0] for k, p in net.named_parameters() if not torch.equal(before[k], after[k])
    }
    assert moved == {"crossmodal"}
    assert all(p.requires_grad for p in base.parameters())  # the base model is left as it was


def test_few_shot_subsets_follow_the_seed_and_arms_are_paired():
    res = few_shot(
        SUITE,
        "alpha",
        fractions=[0.25, 1.0],
        seeds=[0],
        pretrain_epochs=1,
        finetune_epochs=1,
        alone_epochs=1,
        patience=None,
        **KW,
    )
    n_train = len(SUITE.task("alpha").data.train_idx)
    sizes = {(r["fraction"], r["arm"]): r["n_train"] for r in res.rows}
    assert sizes == {
        (0.25, "alone"): 6,
        (0.25, "pre-trained"): 6,
        (1.0, "alone"): n_train,
        (1.0, "pre-trained"): n_train,
    }
    assert [g["fraction"] for g in res.tables["gains"]] == [0.25, 1.0]
    assert res.config["sources"] == ["beta", "gamma"] and len(res.verdicts) == 2


def test_transfer_baseline_trains_to_convergence_with_early_stopping():
    res = transfer(
        SUITE,
        ["alpha"],
        seeds=[0],
        pretrain_epochs=1,
        finetune_epochs=2,
        alone_epochs=40,
        patience=1,
        **KW,
    )
    alone = next(r for r in res.rows if r["config"] == "alone")
    assert alone["epoch_cap"] == 40 and alone["stopped_early"]
    assert alone["epochs_run"] == alone["best_epoch"] + 1 < 40
    pre = next(r for r in res.rows if r["config"] == "pre-trained on 2")
    assert pre["sources"] == "beta+gamma" and pre["epoch_cap"] == 2
    assert res.tables["convergence"][0] == {
        "target": "alpha",
        "config": "alone",
        "runs": 1,
        "stopped_early": 1,
        "mean_epochs": float(alone["epochs_run"]),
    }
    with pytest.raises(HeteroError, match="patience must be >= 1"):
        transfer(SUITE, ["alpha"], patience=0)


def test_plain_models_and_trained_models_are_accepted(models):
    one = parameter_overlap(models[0].model, SUITE, max_samples=4, components=["all"], device="cpu")
    two = parameter_overlap(
        [TrainedModel(models[0].model, "share-all", 7)],
        SUITE,
        max_samples=4,
        components=["all"],
        device="cpu",
    )
    assert [r["overlap"] for r in one.rows] == [r["overlap"] for r in two.rows]
    assert {r["seed"] for r in two.rows} == {7}


def test_analyses_train_with_the_earlier_trainer_defaults_unless_told():
    from hetero_models import create_model

    net = create_model("highmmt", SUITE, **TINY)
    plain = fit(net, SUITE, epochs=0, seed=0, device="cpu")
    assert (plain.task_sampling, plain.lr_schedule) == ("proportional", "constant")
    told = fit(net, SUITE, epochs=0, seed=0, device="cpu", trainer_kwargs={"lr_schedule": "cosine"})
    assert (told.task_sampling, told.lr_schedule) == ("proportional", "cosine")
