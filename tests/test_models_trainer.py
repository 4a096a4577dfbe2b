"""Trainer: schedule rule, metrics, checkpoints, two-stage plan fine-tuning, transfer, CLI, DDP."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from hetero.errors import HeteroError
from hetero.plan import GroupingPlan
from hetero_models import create_model, load_model
from hetero_models.trainer import (
    Trainer,
    compute_metrics,
    few_shot_weights,
    lr_factor,
    multitask_schedule,
    train_two_stage,
)
from tests.conftest import REPO_ROOT
from tests.test_models_helpers import TINY, make_suite

torch.set_num_threads(1)

SUITE = make_suite()
PLAN = GroupingPlan(
    [["alpha/img", "gamma/img"], ["alpha/seq", "beta/seq"], ["beta/vec", "beta/tab", "gamma/tab"]],
    [["alpha/img+seq", "gamma/img+tab"], ["beta/seq+tab", "beta/seq+vec", "beta/tab+vec"]],
).validate(SUITE)


def test_schedule_tasks_with_fewer_batches_start_later():
    steps = multitask_schedule({"a": 300, "b": 200, "c": 100})
    assert len(steps) == 300
    assert all(s == ["a"] for s in steps[:100])
    assert all(s == ["a", "b"] for s in steps[100:200])
    assert all(s == ["a", "b", "c"] for s in steps[200:])
    counts = {t: sum(t in s for s in steps) for t in "abc"}
    assert counts == {"a": 300, "b": 200, "c": 100}
    assert multitask_schedule({"x": 2, "y": 2}) == [["x", "y"], ["x", "y"]]


def test_metrics_known_answers():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    m = compute_metrics("multiclass", logits, np.array([0, 1, 1, 0]))
    assert m["accuracy"] == 0.75
    b = compute_metrics("binary", np.array([[-1.0], [2.0], [0.5], [-3.0]]), np.array([0, 1, 0, 0]))
    assert b["accuracy"] == 0.75 and b["auroc"] == 1.0
    r = compute_metrics("regression", np.array([[1.0], [2.0]]), np.array([0.0, 4.0]))
    assert r["mse"] == 2.5 and r["mae"] == 1.5
    ml = compute_metrics(
        "multilabel", np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([[1, 0], [0, 1]])
    )
    assert ml["f1_macro"] == 1.0 and ml["auroc"] == 1.0


def test_few_shot_weights():
    loss_w, eval_w = few_shot_weights(["a", "b", "c"], "c", target_weight=5.0)
    assert loss_w == {"a": 1.0, "b": 1.0, "c": 5.0}
    assert eval_w == {"a": 0.0, "b": 0.0, "c": 1.0}


def test_trainer_learns_and_restores_the_best_checkpoint():
    torch.manual_seed(0)
    net = create_model("highmmt", SUITE, **TINY)
    trainer = Trainer(net, SUITE, epochs=6, batch_size=8, lr=3e-3, device="cpu", seed=1)
    before = trainer.evaluate("val")
    trainer.fit()
    assert len(trainer.history_) == 6
    scores = [row["val_score"] for row in trainer.history_]
    assert trainer.best_score_ == max(scores)
    assert trainer.best_epoch_ == int(np.argmax(scores)) + 1
    after = trainer.evaluate("val")
    assert trainer._score(after) == pytest.approx(trainer.best_score_, abs=1e-6)
    assert after["alpha"]["loss"] < before["alpha"]["loss"]
    assert {"val/alpha/accuracy", "val/beta/auroc", "val/gamma/mse"} <= set(trainer.history_[0])


def test_predict_gives_the_outputs_evaluate_scores():
    net = create_model("highmmt", SUITE, **TINY)
    trainer = Trainer(net, SUITE, epochs=1, batch_size=8, device="cpu", seed=1)
    outputs = trainer.predict("test", batch_size=5)  # batches of 5 stitched in split order
    metrics = trainer.evaluate("test")
    for task in SUITE.tasks:
        logits, y = outputs[task.name]
        labels = np.asarray(task.data.split("test", task.modality_names)[1])
        assert np.allclose(y.numpy(), labels)  # every sample, in split order
        assert logits.shape[0] == len(labels) and logits.dtype == torch.float32
        expected = compute_metrics(task.target, logits.numpy(), y.numpy())[task.metric]
        assert metrics[task.name][task.metric] == pytest.approx(expected)


def test_same_seed_same_training():
    def run():
        torch.manual_seed(0)
        net = create_model("highmmt", SUITE, **TINY)
        Trainer(net, SUITE, epochs=2, batch_size=8, device="cpu", seed=3).fit()
        return net.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_stops_after_patience():
    torch.manual_seed(0)
    net = create_model("highmmt", SUITE, **TINY, norm="layer")  # no running statistics
    trainer = Trainer(net, SUITE, epochs=30, batch_size=8, lr=0.0, device="cpu", patience=2)
    trainer.fit()  # lr 0: nothing improves after epoch 1
    assert len(trainer.history_) == 3 and trainer.best_epoch_ == 1


def test_keep_last_holds_the_last_epoch_and_trains_the_same_way():
    def run(keep):
        torch.manual_seed(0)
        net = create_model("highmmt", SUITE, **TINY)
        t = Trainer(net, SUITE, epochs=5, batch_size=8, lr=3e-3, device="cpu", seed=1, keep=keep)
        return net, t.fit()

    last_net, last = run("last")
    best_net, best = run("best")
    # the option changes what is kept, never the training itself
    assert [r["val_score"] for r in last.history_] == [r["val_score"] for r in best.history_]
    assert last.best_epoch_ == best.best_epoch_ and last.best_score_ == best.best_score_
    assert last.kept_epoch_ == 5 and best.kept_epoch_ == best.best_epoch_
    # the kept weights score what their epoch scored in the history
    assert last._score(last.evaluate("val")) == pytest.approx(
        last.history_[-1]["val_score"], abs=1e-6
    )
    assert best._score(best.evaluate("val")) == pytest.approx(best.best_score_, abs=1e-6)
    same = all(torch.equal(v, best_net.state_dict()[k]) for k, v in last_net.state_dict().items())
    assert same == (best.best_epoch_ == 5)


def test_keep_last_with_early_stopping_keeps_the_epoch_it_stopped_on():
    torch.manual_seed(0)
    net = create_model("highmmt", SUITE, **TINY, norm="layer")
    trainer = Trainer(
        net, SUITE, epochs=30, batch_size=8, lr=0.0, device="cpu", patience=2, keep="last"
    )
    trainer.fit()
    assert len(trainer.history_) == 3 and trainer.best_epoch_ == 1 and trainer.kept_epoch_ == 3


def test_keep_rejects_unknown_values():
    net = create_model("highmmt", SUITE, **TINY)
    with pytest.raises(HeteroError, match=r"^keep: expected one of best, last, got 'first'$"):
        Trainer(net, SUITE, keep="first")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("lr", -1.0, "lr: expected a finite number >= 0, got -1.0"),
        ("lr", float("nan"), "lr: expected a finite number >= 0, got nan"),
        ("lr", float("inf"), "lr: expected a finite number >= 0, got inf"),
        ("weight_decay", -0.1, "weight_decay: expected a finite number >= 0, got -0.1"),
        ("patience", 0, "patience: expected an integer >= 1, got 0"),
        ("patience", 2.5, "patience: expected an integer >= 1, got 2.5"),
        ("epochs", "ten", "epochs: expected an integer >= 0, got 'ten'"),
    ],
)
def test_trainer_rejects_numbers_out_of_range(option, value, message):
    net = create_model("highmmt", SUITE, **TINY)
    with pytest.raises(HeteroError, match=f"^{re.escape(message)}$"):
        Trainer(net, SUITE, **{option: value})


def test_training_that_diverges_stops_with_an_error_naming_the_learning_rate():
    net = create_model("highmmt", SUITE, **TINY)
    with pytest.raises(HeteroError, match=r"training diverged at epoch 1 .*lr 1e\+06"):
        Trainer(net, SUITE, epochs=3, lr=1e6, device="cpu").fit()


@pytest.mark.parametrize("keep", ["best", "last"])
def test_a_late_divergence_keeps_the_best_epoch_or_fails_without_one(monkeypatch, keep):
    from hetero.errors import HeteroWarning

    real, calls = Trainer.evaluate, []

    def evaluate(self, split="test", tasks=None, batch_size=256):
        out = real(self, split, tasks, batch_size)
        if split == "val":
            calls.append(split)
            if len(calls) == 2:  # the second epoch's validation: a non-finite loss
                out["alpha"]["loss"] = float("nan")
        return out

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    trainer = Trainer(create_model("highmmt", SUITE, **TINY), SUITE, epochs=4, keep=keep,
                      device="cpu")  # fmt: skip
    message = r"diverged at epoch 2 \(validation loss of alpha not finite\)"
    if keep == "last":  # the last weights are what diverged: nothing to keep
        with pytest.raises(HeteroError, match=message):
            trainer.fit()
        return
    with pytest.warns(HeteroWarning, match=message + ".*kept epoch 1$"):
        trainer.fit()
    assert len(trainer.history_) == 1 and trainer.kept_epoch_ == 1


@pytest.mark.parametrize(
    ("hparam", "value"), [("latent_dim", -3), ("num_latents", 0), ("depth", 1.5), ("depth", True)]
)
def test_model_sizes_must_be_positive_integers(hparam, value):
    with pytest.raises(HeteroError, match=f"^{hparam} must be a positive integer, got {value!r}$"):
        create_model("highmmt", SUITE, **{**TINY, hparam: value})


def test_balanced_task_sampling_gives_every_task_as_many_batches_as_the_largest():
    net = create_model("highmmt", SUITE, **TINY)
    sizes = {"alpha": 4, "beta": 8, "gamma": 16}  # different batch counts per task
    prop = Trainer(net, SUITE, batch_size=sizes, seed=3, task_sampling="proportional")
    bal = Trainer(net, SUITE, batch_size=sizes, seed=3)  # the default
    data = {t: prop._tensors(t) for t in prop.tasks}
    a, b = prop._epoch_batches(data, 1), bal._epoch_batches(data, 1)
    longest = max(len(v) for v in a.values())
    assert len({len(v) for v in a.values()}) > 1  # proportional: counts differ
    for task, batches in b.items():
        n = data[task].n("train")
        assert len(batches) == longest
        # the first pass is the proportional epoch's; every later pass covers the data once
        assert all(torch.equal(x, y) for x, y in zip(batches, a[task], strict=False))
        k = len(a[task])
        for start in range(0, longest - k + 1, k):
            seen = torch.cat(batches[start : start + k])
            assert sorted(seen.tolist()) == list(range(n))
    with pytest.raises(HeteroError, match="task_sampling: expected one of proportional, balanced"):
        Trainer(net, SUITE, task_sampling="uniform")


def test_lr_factor_warms_up_linearly_then_decays_by_half_cosine():
    values = [lr_factor(k, 10, 4) for k in range(10)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == 1.0 and values[7] == pytest.approx(0.5)  # the cosine's midpoint
    assert all(a > b for a, b in itertools.pairwise(values[4:]))
    assert 0 < values[-1] < 0.1 and lr_factor(10, 10, 4) == pytest.approx(0.0)


def test_cosine_lr_schedule_sets_every_steps_learning_rate(monkeypatch):
    seen = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    net = create_model("highmmt", SUITE, **TINY)
    trainer = Trainer(net, SUITE, epochs=3, lr=0.01, batch_size=8)  # cosine: the default
    data = {t: trainer._tensors(t) for t in trainer.tasks}
    batches = trainer._epoch_batches(data, 1)
    per_epoch = len(multitask_schedule({t: len(b) for t, b in batches.items()}))
    trainer.fit()
    total = 3 * per_epoch
    warmup = max(1, total // 10)  # below 10 epochs: a tenth of the steps
    assert seen == pytest.approx([0.01 * lr_factor(k, total, warmup) for k in range(total)])
    seen.clear()
    Trainer(net, SUITE, epochs=1, lr=0.01, batch_size=8).fit()  # one epoch: warm-up, decay
    assert max(seen) == pytest.approx(0.01) and seen[-1] < 0.6 * max(seen)
    seen.clear()
    Trainer(net, SUITE, epochs=2, lr=0.01, batch_size=8, lr_schedule="constant").fit()
    assert seen == [0.01] * (2 * per_epoch)
    with pytest.raises(HeteroError, match="lr_schedule: expected one of constant, cosine"):
        Trainer(net, SUITE, lr_schedule="linear")


def test_two_stage_keep_last_applies_to_both_stages():
    net, history = train_two_stage(
        SUITE,
        PLAN,
        hparams=TINY,
        pretrain_epochs=2,
        finetune_epochs=3,
        batch_size=8,
        lr=3e-3,
        device="cpu",
        keep="last",
    )
    assert [r["stage"] for r in history] == ["pretrain"] * 2 + ["finetune"] * 3
    evaluator = Trainer(net, SUITE, device="cpu")
    assert evaluator._score(evaluator.evaluate("val")) == pytest.approx(
        history[-1]["val_score"], abs=1e-6
    )


def test_two_stage_copies_diverge_while_shared_parts_stay_tied():
    net, history = train_two_stage(
        SUITE,
        PLAN,
        hparams=TINY,
        pretrain_epochs=2,
        finetune_epochs=2,
        batch_size=8,
        lr=3e-3,
        device="cpu",
    )
    assert [r["stage"] for r in history] == ["pretrain"] * 2 + ["finetune"] * 2
    copies = net.unimodal.copies
    assert len(copies) == 3 and len(net.crossmodal.copies) == 2
    assert not torch.equal(copies["0"].latents, copies["1"].latents)
    assert not torch.equal(copies["1"].latents, copies["2"].latents)
    # units of one group are served by the very same parameters
    assert net.unimodal.group_key("alpha/img") == net.unimodal.group_key("gamma/img") == "0"
    assert net.crossmodal.group_key("beta/seq+tab") == net.crossmodal.group_key("beta/tab+vec")
    names = [n for n, _ in net.named_parameters()]
    assert len(names) == len(set(names))


def test_transfer_to_a_new_task_leaves_source_heads_untouched():
    torch.manual_seed(0)
    net = create_model("highmmt", SUITE, **TINY)
    Trainer(net, SUITE, tasks=["alpha", "beta"], epochs=1, batch_size=8, device="cpu").fit()
    head_alpha = {k: v.clone() for k, v in net.head("alpha").state_dict().items()}
    head_gamma = {k: v.clone() for k, v in net.head("gamma").state_dict().items()}
    t = Trainer(net, SUITE, tasks=["gamma"], epochs=2, batch_size=8, device="cpu", lr=3e-3)
    t.fit()
    assert all(torch.equal(v, net.head("alpha").state_dict()[k]) for k, v in head_alpha.items())
    assert not all(torch.equal(v, net.head("gamma").state_dict()[k]) for k, v in head_gamma.items())
    assert set(t.evaluate("test")) == {"gamma"}


def test_cli_train_writes_outputs(tmp_path):
    import typer
    from typer.testing import CliRunner

    from hetero_models.cli import register

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    plan_path = tmp_path / "plan.json"
    PLAN.write(plan_path)
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer in multi-command mode
        pass

    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "train",
            str(yaml_path),
            "--plan",
            str(plan_path),
            "--preset",
            "small",
            "--pretrain-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--device",
            "cpu",
            "--batch-size",
            "16",
            "--quiet",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) == {"alpha", "beta", "gamma"}
    assert "accuracy" in metrics["test"]["alpha"] and "mse" in metrics["test"]["gamma"]
    params = metrics["parameters"]
    assert len(params["unimodal"]["groups"]) == 3 and len(params["crossmodal"]["groups"]) == 2
    assert (
        params["total"]
        == params["unimodal"]["total"] + params["crossmodal"]["total"] + params["other"]
    )
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0].startswith("stage,epoch,train_loss") and len(lines) == 3
    assert load_model(out).groups() == metrics["groups"]

    res = CliRunner().invoke(app, ["train", str(tmp_path / "missing.yaml"), "-o", str(out)])
    assert res.exit_code == 2 and "missing.yaml" in res.output

    from hetero_models import MODELS
    from hetero_models.highmmt import HighMMT

    def _factory(spec, hidden: int = 4):
        return HighMMT(spec, **TINY)

    with MODELS.registered("no-preset-test", _factory):
        res = CliRunner().invoke(
            app, ["train", str(yaml_path), "--model", "no-preset-test", "--preset", "small",
                  "-o", str(tmp_path / "np")],
        )  # fmt: skip
    assert res.exit_code == 2
    assert "--preset: model 'no-preset-test' takes no preset" in res.output
    assert not (tmp_path / "np").exists()
    with MODELS.registered("no-preset-test", _factory):
        res = CliRunner().invoke(
            app, ["train", str(yaml_path), "--model", "no-preset-test", "--hparam", "width=3",
                  "-o", str(tmp_path / "np")],
        )  # fmt: skip
    assert res.exit_code == 2 and "does not take the options ['width']" in res.output, res.output
    assert not (tmp_path / "np").exists()


def _write_suite_yaml(folder):
    lines = ["name: tiny", "tasks:"]
    for task in SUITE.tasks:
        arrays, y = {}, task.data.y
        for m in task.modalities:
            arrays[m.name] = np.asarray(task.data.arrays[m.name])
        np.savez(
            folder / f"{task.name}.npz",
            y=y,
            train_idx=task.data.train_idx,
            val_idx=task.data.val_idx,
            test_idx=task.data.test_idx,
            **arrays,
        )
        lines += [
            f"  - name: {task.name}",
            f"    data: {task.name}.npz",
            f"    target: {task.target}",
            "    modalities:",
        ]
        for m in task.modalities:
            lines.append(
                f"      - {{name: {m.name}, kind: {m.kind}, num_freq_bands: "
                f"{m.num_freq_bands}, max_freq: {m.max_freq}"
                + (
                    f", positional_axes: {m.positional_axes}"
                    if m.positional_axes is not None
                    else ""
                )
                + "}"
            )
    path = folder / "suite.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_predict_reproduces_the_saved_test_metrics_and_refuses_other_suites(tmp_path):
    import csv

    from typer.testing import CliRunner

    from hetero.cli.main import app

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    out = tmp_path / "model"
    res = CliRunner().invoke(app, ["train", str(yaml_path), "--preset", "small", "-q",
                                   "--pretrain-epochs", "1", "--device", "cpu", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "metrics.json").read_text())["test"]
    csv_path = tmp_path / "pred.csv"
    res = CliRunner().invoke(app, ["predict", str(out), str(yaml_path), "-o", str(csv_path),
                                   "--split", "test", "--split", "val", "--device", "cpu"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(csv_path.open()))
    for task in SUITE.tasks:
        mine = [r for r in rows if r["task"] == task.name and r["split"] == "test"]
        assert [int(r["index"]) for r in mine] == list(task.data.test_idx)
        y = task.data.y[task.data.test_idx]
        if task.target == "regression":
            assert np.allclose([float(r["target"]) for r in mine], y, rtol=1e-5)
            err = [float(r["prediction"]) - float(r["target"]) for r in mine]
            assert np.mean(np.square(err)) == pytest.approx(saved[task.name]["mse"], rel=1e-4)
        else:
            assert [r["target"] for r in mine] == [str(int(v)) for v in y]
            hits = np.mean([r["prediction"] == r["target"] for r in mine])
            assert hits == pytest.approx(saved[task.name]["accuracy"])
        assert f"test {task.name}: loss {saved[task.name]['loss']:.4f}" in res.output
        assert len([r for r in rows if r["task"] == task.name and r["split"] == "val"]) == len(
            task.data.val_idx
        )
    # the model's stored input statistics are used, not the suite's: the same test rows
    # in a suite whose training rows are on another scale give the same predictions
    for npz in suite_dir.glob("*.npz"):
        data = dict(np.load(npz))
        for key in [k for k in data if k not in ("y", "train_idx", "val_idx", "test_idx")]:
            data[key] = data[key].astype(np.float64)
            data[key][data["train_idx"]] = 10.0 * data[key][data["train_idx"]] + 5.0
        np.savez(npz, **data)
    res = CliRunner().invoke(app, ["predict", str(out), str(yaml_path), "-o", str(tmp_path / "p2.csv"),
                                   "--device", "cpu"])  # fmt: skip
    assert res.exit_code == 0, res.output
    again = list(csv.DictReader((tmp_path / "p2.csv").open()))
    assert again == [r for r in rows if r["split"] == "test"]
    bad = CliRunner().invoke(app, ["predict", str(out), "mini", "-o", str(csv_path)])
    assert (
        bad.exit_code == 2
        and "the model's tasks (alpha, beta, gamma) are not in suite 'mini'" in bad.output
    )
    bad = CliRunner().invoke(app, ["predict", str(out), str(yaml_path), "-o", str(tmp_path / "x.csv"),
                                   "--split", "dev"])  # fmt: skip
    assert (
        bad.exit_code == 2 and "--split: expected one of train, val, test, got 'dev'" in bad.output
    )
    assert not (tmp_path / "x.csv").exists()


DDP_SCRIPT = """
import os, sys, json, torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
torch.distributed.init_process_group("gloo")
from tests.test_models_helpers import make_suite, TINY
from hetero_models import create_model
from hetero_models.trainer import Trainer
suite = make_suite(n=64)
torch.manual_seed(0)
net = create_model("highmmt", suite, **TINY)
t = Trainer(net, suite, epochs=2, batch_size=8, device="cpu", seed=0)
t.fit()
flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
rank = torch.distributed.get_rank()
with open(os.path.join({out!r}, f"rank{{rank}}.json"), "w") as fh:
    json.dump({{"sum": float(flat.double().sum()), "n": len(t.history_),
               "score": t.best_score_}}, fh)
torch.distributed.destroy_process_group()
"""


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(root=str(REPO_ROOT), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--standalone",  # rendezvous on a free local port
            str(script),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["n"] == r1["n"] == 2
    assert r0["sum"] == r1["sum"]  # replicas stay identical
    assert r0["score"] == r1["score"]


def test_cli_train_prints_the_test_metrics(tmp_path):
    from typer.testing import CliRunner

    from hetero.cli.main import app

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    res = CliRunner().invoke(app, ["train", str(yaml_path), "--preset", "small",
                                   "--pretrain-epochs", "1", "--finetune-epochs", "0",
                                   "--device", "cpu", "-o", str(tmp_path / "out")])  # fmt: skip
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["test"]
    for task in metrics:
        assert any(line.startswith(f"test {task}: ") for line in res.output.splitlines())


def test_cli_train_sampling_and_schedule_are_recorded_and_checked_first(tmp_path):
    from typer.testing import CliRunner

    from hetero.cli.main import app

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    args = ["train", str(yaml_path), "--preset", "small", "--pretrain-epochs", "1",
            "--finetune-epochs", "0", "--device", "cpu", "-q"]  # fmt: skip
    bad = CliRunner().invoke(app, [*args, "--task-sampling", "even", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2
    assert "--task-sampling: expected one of proportional, balanced, got 'even'" in bad.output
    assert not (tmp_path / "x").exists()
    bad = CliRunner().invoke(app, [*args, "--lr-schedule", "step", "-o", str(tmp_path / "y")])
    assert bad.exit_code == 2
    assert "--lr-schedule: expected one of constant, cosine, got 'step'" in bad.output
    assert not (tmp_path / "y").exists()
    for flag, value in (("--lr", "-1"), ("--weight-decay", "inf"), ("--patience", "0")):
        bad = CliRunner().invoke(app, [*args, flag, value, "-o", str(tmp_path / "z")])
        assert bad.exit_code == 2 and "expected a" in bad.output, bad.output
        assert not (tmp_path / "z").exists()
    res = CliRunner().invoke(
        app,
        [
            *args,
            "--task-sampling",
            "proportional",
            "--lr-schedule",
            "constant",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 0, res.output
    prov = json.loads((tmp_path / "o" / "metrics.json").read_text())["provenance"]
    assert prov["config"]["task_sampling"] == "proportional"  # not the defaults
    assert prov["config"]["lr_schedule"] == "constant"
