"""Retrieval tasks: suite format, metrics, InfoNCE, HighMMT, trainer, probes, measure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetero.errors import HeteroError, SuiteError
from hetero.learners.reference import ReferenceLearner, info_nce_numpy
from hetero.scoring import retrieval_metrics, retrieval_ranks, task_metrics
from hetero.suite import Suite, Task, Unit, load_suite

# --------------------------------------------------------------------------- data


def _lookup(n: int = 48, seed: int = 0, match: str | None = None) -> Task:
    """Two views of one latent vector: b is a fixed linear map of a plus a little noise."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 6))
    b = a @ rng.normal(size=(6, 5)) + 0.05 * rng.normal(size=(n, 5))
    y = None if match != "label" else np.arange(n) % 4
    return Task.from_arrays(
        "lookup",
        {"query": a, "gallery": b},
        y,
        target="retrieval",
        modalities=[{"name": "query", "kind": "table"}, {"name": "gallery", "kind": "table"}],
        match=match,
    )


def _classes(n: int = 48, seed: int = 1) -> Task:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    series = rng.normal(size=(n, 4, 3))
    y = (x[:, 0] > 0).astype(np.int64) + (series[:, 0, 0] > 0)
    return Task.from_arrays(
        "cls",
        {"query": x, "series": series},
        y,
        target="multiclass",
        modalities=[{"name": "query", "kind": "table"}, {"name": "series", "kind": "timeseries"}],
    )


def _mixed() -> Suite:
    return Suite([_lookup(), _classes()], name="mixed")


TINY = {"preset": "small", "num_latents": 4, "latent_dim": 16, "cross_dim_head": 8,
        "latent_dim_head": 8, "latent_heads": 2}  # fmt: skip

# --------------------------------------------------------------------------- InfoNCE

LOGITS = np.array([[2.0, 0.0, 1.0], [0.5, 1.5, 0.0], [1.0, -1.0, 3.0]])


def _hand_info_nce(logits: np.ndarray, targets: np.ndarray) -> float:
    """Written out element by element: mean of row and column cross-entropies."""
    n = logits.shape[0]
    rows = cols = 0.0
    for i in range(n):
        row_norm = sum(math.exp(logits[i, k]) for k in range(n))
        col_norm = sum(math.exp(logits[k, i]) for k in range(n))
        for j in range(n):
            rows -= targets[i, j] * math.log(math.exp(logits[i, j]) / row_norm)
            cols -= targets[i, j] * math.log(math.exp(logits[j, i]) / col_norm)
    return 0.5 * (rows + cols) / n


def test_info_nce_pair_by_hand():
    # CLIP: the diagonal is the positive of every row and column
    hand = _hand_info_nce(LOGITS, np.eye(3))
    # rows: log(e^2 + e^0 + e^1) - 2 = 0.40760, 0.46436, 0.14289 (mean 0.33828); columns:
    # log(e^2 + e^0.5 + e^1) - 2 = 0.46436, 0.26641, 0.16990 (mean 0.30022); loss = their mean
    assert hand == pytest.approx(0.5 * (0.33828 + 0.30022), abs=2e-5)
    assert hand == pytest.approx(0.3192482, abs=1e-7)
    loss, grad = info_nce_numpy(LOGITS, np.arange(3))
    assert loss == pytest.approx(hand, abs=1e-12)
    eps = 1e-6  # the gradient matches finite differences
    for i, j in [(0, 0), (1, 2), (2, 0)]:
        bumped = LOGITS.copy()
        bumped[i, j] += eps
        up = info_nce_numpy(bumped, np.arange(3), need_grad=False)[0]
        bumped[i, j] -= 2 * eps
        down = info_nce_numpy(bumped, np.arange(3), need_grad=False)[0]
        assert grad[i, j] == pytest.approx((up - down) / (2 * eps), abs=1e-7)


def test_info_nce_label_targets_and_torch_agree():
    torch = pytest.importorskip("torch")
    from hetero_models.trainer import info_nce

    y = np.array([0, 0, 1])  # rows 0 and 1 match each other: half the mass on each
    targets = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    hand = _hand_info_nce(LOGITS, targets)
    assert info_nce_numpy(LOGITS, y)[0] == pytest.approx(hand, abs=1e-12)
    # torch takes embeddings: a = logits, b = identity gives a @ b.T = logits
    emb = torch.tensor(np.stack([LOGITS, np.eye(3)], axis=1), dtype=torch.float64)
    for labels, t in ((np.arange(3), np.eye(3)), (y, targets)):
        got = float(info_nce(emb, torch.as_tensor(labels)))
        assert got == pytest.approx(_hand_info_nce(LOGITS, t), abs=1e-6)


# --------------------------------------------------------------------------- metrics

# S[i, j]: query a_i against gallery b_j; outputs a = I, b = S.T give a @ b.T = S
S = np.array(
    [
        [0.9, 0.1, 0.0, 0.0],  # rank 1
        [0.8, 0.5, 0.0, 0.0],  # rank 2 (item 0 above)
        [0.3, 0.2, 0.1, 0.4],  # rank 4
        [0.0, 0.0, 0.0, 0.7],  # rank 1
    ]
)
OUTPUTS = np.stack([np.eye(4), S.T], axis=1)


def test_recall_and_mrr_planted_pairs():
    assert retrieval_ranks(S, np.arange(4)).tolist() == [1, 2, 4, 1]
    m = retrieval_metrics(OUTPUTS, np.arange(4))
    assert m["recall@1_a2b"] == 0.5 and m["recall@5_a2b"] == 1.0
    assert m["mrr_a2b"] == pytest.approx((1 + 0.5 + 0.25 + 1) / 4)
    # columns: every gallery item's own query scores highest
    assert m["recall@1_b2a"] == 1.0 and m["mrr_b2a"] == 1.0
    assert m["recall@1"] == 0.75 and m["mrr"] == pytest.approx((0.6875 + 1) / 2)
    assert m["recall@10"] == 1.0  # k beyond the gallery: every query hits
    assert task_metrics("retrieval", OUTPUTS, np.arange(4), names=("mrr",)) == {"mrr": m["mrr"]}


def test_recall_and_mrr_planted_labels():
    y = np.array([0, 1, 0, 1])  # any same-label item is a hit
    assert retrieval_ranks(S, y).tolist() == [1, 2, 2, 1]
    m = retrieval_metrics(OUTPUTS, y)
    assert m["recall@1_a2b"] == 0.5 and m["mrr_a2b"] == pytest.approx(0.75)
    assert retrieval_ranks(S, np.array([0, 0, 1, 1])).tolist() == [1, 1, 1, 1]


def test_ties_count_against_the_query():
    flat = np.ones((5, 2, 3))
    m = retrieval_metrics(flat, np.arange(5))
    assert m["recall@1"] == 0.0 and m["mrr"] == pytest.approx(0.2)
    with pytest.raises(HeteroError, match="expected \\(n, 2, embedding\\)"):
        retrieval_metrics(np.ones((5, 3)), np.arange(5))
    with pytest.raises(HeteroError, match="not defined for retrieval"):
        task_metrics("retrieval", OUTPUTS, np.arange(4), names=("accuracy",))


# --------------------------------------------------------------------------- suite format


def test_task_defaults_and_pair_rows():
    t = _lookup()
    assert (t.target, t.match, t.loss, t.metric, t.higher_is_better) == (
        "retrieval", "pair", "info_nce", "recall@1", True,
    )  # fmt: skip
    assert t.n_outputs == 2 and t.data.y.tolist() == list(range(48))
    assert t.summary()["match"] == "pair" and "match" not in _classes().summary()
    lab = _lookup(match="label")
    assert lab.match == "label" and lab.data.y.tolist()[:5] == [0, 1, 2, 3, 0]
    # the fingerprint of a retrieval unit covers the partner modality and the match mode
    assert t.fingerprint(["query"]) == t.fingerprint() != lab.fingerprint()
    assert t.rename("other").match == "pair" and t.rename("other").data == t.data


def _write(tmp_path, task_yaml: str, **arrays) -> str:
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 2)), **arrays}
    np.savez(tmp_path / "t.npz", **{k: v for k, v in data.items() if v is not None})
    path = tmp_path / "suite.yaml"
    path.write_text("tasks:\n  - " + task_yaml.strip().replace("\n", "\n    ") + "\n")
    return str(path)


MODS2 = "modalities: [{name: a}, {name: b}]"


@pytest.mark.parametrize(
    "task_yaml, arrays, field, expected",
    [
        ("name: r\ndata: t.npz\ntarget: retrieval\nmodalities: [{name: a}]", {}, "modalities",
         "exactly two modalities (query, gallery), got 1"),
        (f"name: r\ndata: t.npz\ntarget: retrieval\nmatch: row\n{MODS2}", {}, "match",
         "unknown match 'row'; expected one of: pair, label"),
        (f"name: r\ndata: t.npz\ntarget: multiclass\nmatch: label\n{MODS2}",
         {"y": np.arange(20) % 2}, "match", "only valid for target retrieval, not multiclass"),
        (f"name: r\ndata: t.npz\ntarget: retrieval\nmatch: label\n{MODS2}", {}, "y",
         "match: label needs one class label per sample"),
        (f"name: r\ndata: t.npz\ntarget: retrieval\nmatch: label\n{MODS2}",
         {"y": np.ones((20, 2))}, "y", "expected one class id per sample"),
        (f"name: r\ndata: t.npz\ntarget: retrieval\nloss: mse\n{MODS2}", {}, "loss",
         "does not apply to retrieval; expected one of: info_nce"),
        (f"name: r\ndata: t.npz\ntarget: retrieval\nmetric: accuracy\n{MODS2}", {}, "metric",
         "does not apply to retrieval"),
    ],
)  # fmt: skip
def test_suite_validation_errors(tmp_path, task_yaml, arrays, field, expected):
    path = _write(tmp_path, task_yaml, **arrays)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    msg = str(info.value)
    assert "\n" not in msg and f"{field}: " in msg and expected in msg
    assert ("suite.yaml" in msg) or ("t.npz" in msg)


def test_suite_yaml_pair_without_y_and_small_splits(tmp_path):
    path = _write(tmp_path, f"name: r\ndata: t.npz\ntarget: retrieval\n{MODS2}")
    task = load_suite(path).task("r")
    assert task.match == "pair" and task.data.y.tolist() == list(range(20))
    # y given with match: pair stratifies the split, then rows are the labels
    path = _write(
        tmp_path, f"name: r\ndata: t.npz\ntarget: retrieval\n{MODS2}", y=np.arange(20) % 2
    )
    assert load_suite(path).task("r").data.y.tolist() == list(range(20))
    with pytest.raises(SuiteError, match="test_idx: the test split has 1 sample; a retrieval"):
        Task.from_arrays(
            "r", {"a": np.ones((5, 2)), "b": np.ones((5, 2))}, None, target="retrieval",
            train_idx=[0, 1], val_idx=[2, 3], test_idx=[4],
        )  # fmt: skip


def test_controls_of_a_retrieval_task():
    from hetero.measure.controls import control_tasks

    task = _lookup()
    twin, null = control_tasks(task)
    assert twin.match == null.match == "pair" and null.data.y.tolist() == list(range(48))
    # the null re-pairs the gallery rows within each split; the query side is untouched
    np.testing.assert_array_equal(null.data.arrays["query"], task.data.arrays["query"])
    moved = ~np.all(null.data.arrays["gallery"] == task.data.arrays["gallery"], axis=1)
    assert moved.mean() > 0.5
    for split in ("train", "val", "test"):
        idx = task.data.indices(split)
        assert sorted(map(tuple, null.data.arrays["gallery"][idx])) == sorted(
            map(tuple, task.data.arrays["gallery"][idx])
        )
    lab_twin, lab_null = control_tasks(_lookup(match="label"))
    assert lab_twin.match == lab_null.match == "label"


# --------------------------------------------------------------------------- reference learner


def test_reference_learner_retrieval_units_and_transfer():
    task, cls = _lookup(n=96), _classes()
    lr = ReferenceLearner(hidden=16, max_epochs=40, patience=8)
    pair = lr.fit(task, Unit("lookup", ("gallery", "query")), seed=0, return_state=True)
    assert pair.val_metric > 0.5  # 19 validation items: chance is about 0.05
    assert {"input.a2", "head.Wa", "head.Wb", "head.t"} <= set(pair.state)
    assert set(lr.parameter_roles()) == set(pair.state)
    uni = lr.fit(task, Unit("lookup", ("query",)), seed=0, return_state=True)
    assert {"head.WG", "head.bG"} <= set(uni.state) and "input.a2" not in uni.state
    assert uni.val_metric > 0.3
    assert lr.evaluate(task, Unit("lookup", ("query",)), "test")[1] >= 0.0
    # classification body -> retrieval unit, frozen: the body stays, the head trains
    src = ReferenceLearner(hidden=16, max_epochs=3).fit(
        cls, Unit("cls", ("query",)), seed=0, return_state=True
    )
    frozen = ReferenceLearner(hidden=16, max_epochs=3)
    frozen.fit(task, Unit("lookup", ("query",)), seed=0, init_state=src.state, mode="frozen")
    after = frozen.export_state()
    np.testing.assert_array_equal(after["body.W2"], src.state["body.W2"])
    # retrieval body -> classification unit
    res = ReferenceLearner(hidden=16, max_epochs=3).fit(
        cls, Unit("cls", ("query",)), seed=0, init_state=uni.state
    )
    assert math.isfinite(res.val_loss)
    for mode in ("ridge", "logme"):
        cf = ReferenceLearner(hidden=16).fit(
            task, Unit("lookup", ("gallery", "query")), seed=0, init_state=src.state, mode=mode
        )
        assert math.isfinite(cf.val_loss) and cf.info["directions"] == 2.0


def test_measure_mixed_suite_with_reference(tmp_path):
    from hetero.measure import measure

    res = measure(
        _mixed(), tmp_path, learner="reference", learner_config={"hidden": 8, "max_epochs": 5},
        seeds=1, estimator="frozen_fresh", figures=False,
    )  # fmt: skip
    labels = res.modality.distance.labels
    assert {"lookup/query", "lookup/gallery", "cls/query"} <= set(labels)
    d = res.modality.distance.values
    assert np.isfinite(d[np.triu_indices(len(labels), 1)]).all()
    assert "lookup/gallery+query" in res.interaction.distance.labels
    assert (tmp_path / "plan.json").is_file()


# --------------------------------------------------------------------------- HighMMT


def test_highmmt_retrieval_head_outputs_and_routing():
    torch = pytest.importorskip("torch")
    from hetero_models import create_model
    from hetero_models.highmmt import LOGIT_SCALE_MAX, RetrievalHead

    suite = _mixed()
    model = create_model("highmmt", suite, **TINY)
    assert isinstance(model.head("lookup"), RetrievalHead)
    # the retrieval pair skips the crossmodal block; its units use the shared encoder
    assert model.unit_labels("crossmodal") == ["cls/query+series"]
    assert "lookup/query" in model.unit_labels("unimodal")
    assert model.hparams["retrieval_dim"] == 16
    x = {m: torch.as_tensor(a[:5]) for m, a in _lookup().data.arrays.items()}
    model.eval()
    out = model("lookup", x)
    assert out.shape == (5, 2, 16)
    scale = model.head("lookup").scale()
    assert torch.allclose(out.norm(dim=-1), scale.sqrt().expand(5, 2))
    with torch.no_grad():
        model.head("lookup").logit_scale.fill_(10.0)
    assert float(model.head("lookup").scale()) == pytest.approx(math.exp(LOGIT_SCALE_MAX))
    # a classification-only model keeps the hparams it had
    assert "retrieval_dim" not in create_model("highmmt", Suite([_classes()]), **TINY).hparams


def test_train_mixed_suite_python_api_plan_and_save_load(tmp_path):
    torch = pytest.importorskip("torch")
    from hetero.plan import GroupingPlan
    from hetero_models import load_model, save_model
    from hetero_models.trainer import Trainer, train_two_stage

    suite = _mixed()
    plan = GroupingPlan.share_none(suite)  # holds the retrieval pair: routed by nothing
    model, history = train_two_stage(
        suite, plan, hparams=TINY, pretrain_epochs=1, finetune_epochs=1, device="cpu", seed=0
    )
    assert [r["stage"] for r in history] == ["pretrain", "finetune"]
    assert {"val/lookup/recall@1", "val/lookup/mrr_b2a", "val/cls/accuracy"} <= set(history[0])
    assert model.groups()["crossmodal_groups"] == [["cls/query+series"]]
    test = Trainer(model, suite, device="cpu").evaluate("test")
    assert 0.0 <= test["lookup"]["recall@1"] <= 1.0 and math.isfinite(test["lookup"]["loss"])
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    x = {m: torch.as_tensor(a[:7]) for m, a in suite.task("lookup").data.arrays.items()}
    model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again("lookup", x), model("lookup", x), rtol=0, atol=0)


def _write_mixed_suite(tmp_path):
    """``tmp_path/s.yaml``: a retrieval task (query <-> gallery) and a binary task, 40 rows."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 4))
    np.savez(tmp_path / "lookup.npz", query=a, gallery=a @ rng.normal(size=(4, 3)))
    np.savez(tmp_path / "cls.npz", query=a[::-1], y=np.arange(40) % 2)
    (tmp_path / "s.yaml").write_text(
        "tasks:\n"
        "  - {name: lookup, data: lookup.npz, target: retrieval,"
        " modalities: [{name: query}, {name: gallery}]}\n"
        "  - {name: cls, data: cls.npz, target: binary, modalities: [{name: query}]}\n"
    )


def test_cli_train_mixed_suite(tmp_path):
    pytest.importorskip("torch")
    import typer
    from typer.testing import CliRunner

    from hetero_models.cli import register

    _write_mixed_suite(tmp_path)
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer in multi-command mode
        pass

    out = tmp_path / "out"
    res = CliRunner().invoke(app, [
        "train", str(tmp_path / "s.yaml"), "--preset", "small", "--pretrain-epochs", "1",
        "--finetune-epochs", "0", "--device", "cpu", "-o", str(out), "-q",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["lookup"]["recall@1"] <= 1.0
    assert "accuracy" in metrics["test"]["cls"]
    config = json.loads((out / "config.json").read_text())
    assert config["spec"]["tasks"][0]["target"] == "retrieval"


# --------------------------------------------------------------------------- probe learner


def test_highmmt_probe_retrieval_units():
    pytest.importorskip("torch")
    from hetero_models.probes import HighMMTProbe

    task = _lookup(n=30)
    probe = HighMMTProbe(num_latents=4, latent_dim=16, latent_heads=2, dim_head=8, max_epochs=1)
    uni = probe.fit(task, Unit("lookup", ("gallery",)), seed=0, return_state=True)
    assert uni.epochs == 1 and 0.0 <= uni.val_metric <= 1.0
    roles = probe.parameter_roles()
    partner = [k for k in roles if ".partner." in k]
    assert partner and {roles[k] for k in partner} == {"head"}
    assert roles["heads.0.logit_scale"] == "head"
    pair = probe.fit(task, Unit("lookup", ("gallery", "query")), seed=0, init_state=uni.state)
    assert math.isfinite(pair.val_loss)
    # a classification target from the retrieval unit's body, and closed-form on retrieval
    cls = _classes(n=30)
    res = probe.fit(cls, Unit("cls", ("query",)), seed=0, init_state=uni.state)
    assert math.isfinite(res.val_loss)
    cf = probe.fit(task, Unit("lookup", ("query",)), seed=0, init_state=uni.state, mode="ridge")
    assert math.isfinite(cf.val_loss) and cf.info["directions"] == 1.0


# --------------------------------------------------------------------------- datasets


def test_mfeat_pairs_rows_and_splits_match_mfeat():
    from hetero.datasets import load_task
    from hetero.datasets._common import DatasetError

    pairs = load_task("mfeat_pairs", image_pool=2, max_samples=300)
    mfeat = load_task("mfeat", views=["image", "fourier"], image_pool=2, max_samples=300)
    assert pairs.target == "retrieval" and pairs.match == "pair"
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(pairs.data.indices(split), mfeat.data.indices(split))
    np.testing.assert_array_equal(pairs.data.arrays["fourier"], mfeat.data.arrays["fourier"])
    lab = load_task("mfeat_pairs", views=["profile", "zernike"], match="label", max_samples=300)
    np.testing.assert_array_equal(lab.data.y, mfeat.data.y)
    with pytest.raises(DatasetError, match="expected two views"):
        load_task("mfeat_pairs", views=["image"])
    with pytest.raises(DatasetError, match="option match"):
        load_task("mfeat_pairs", match="rows")


def test_spoken_digits_retrieval_on_shared_data(shared_data):
    from hetero.datasets import load_task

    t = load_task("spoken_digits", data_dir=shared_data, target="retrieval", pool=4,
                  max_samples=200)  # fmt: skip
    assert (
        t.target == "retrieval" and t.match == "label" and set(t.data.y.tolist()) <= set(range(10))
    )


# --------------------------------------------------------------------------- compare, analyses


def _one_thread() -> None:
    """torch on one thread, as the other model tests (many threads on a shared machine
    make these small fits several times slower)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)


def test_compare_scores_recall_at_1_with_the_accuracies(tmp_path):
    _one_thread()
    from hetero.compare import Candidate, candidate_scores, read_compare
    from hetero.plan import GroupingPlan
    from hetero_models.compare import CompareConfig, compare_plans

    suite = _mixed()
    config = CompareConfig(hparams=TINY, pretrain_epochs=1, finetune_epochs=1, batch_size=16)
    candidates = [
        Candidate("share-all", "share_all", GroupingPlan.share_all(suite)),
        Candidate("share-none", "share_none"),
    ]
    result = compare_plans(suite, candidates, seeds=2, config=config, device="cpu")
    lookup = [r for r in result.rows if r["task"] == "lookup"]
    assert len(lookup) == 4
    assert all(r["metric"] == "recall@1" and r["higher_is_better"] is True for r in lookup)
    assert all(0.0 <= r["value"] <= 1.0 and 0.0 <= r["val_value"] <= 1.0 for r in lookup)
    # the score of a (candidate, seed) is the plain mean of accuracy and recall@1: both are
    # higher-is-better fractions, so neither is negated
    value = {(r["candidate"], r["seed"], r["task"]): r["value"] for r in result.rows}
    scores = candidate_scores(result.rows)
    for name in ("share-all", "share-none"):
        for seed in (0, 1):
            expected = 0.5 * (value[(name, seed, "lookup")] + value[(name, seed, "cls")])
            assert scores[name][seed] == pytest.approx(expected, abs=1e-12)
    result.write(tmp_path)
    back = read_compare(tmp_path).summary()
    tasks = back["candidates"][0]["tasks"]
    assert set(tasks) == {"lookup", "cls"}
    assert tasks["lookup"]["mean"] == pytest.approx(
        np.mean([value[("share-all", s, "lookup")] for s in (0, 1)])
    )


def test_few_shot_with_a_retrieval_target():
    _one_thread()
    from hetero_models.analysis import few_shot

    res = few_shot(
        _mixed(),
        "lookup",
        fractions=[0.5, 1.0],
        seeds=[0],
        pretrain_epochs=1,
        finetune_epochs=1,
        alone_epochs=1,
        hparams=TINY,
        device="cpu",
        trainer_kwargs={"batch_size": 16},
    )
    rows = res.tables["rows"]
    assert {r["metric"] for r in rows} == {"recall@1"} and len(rows) == 4
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    assert res.config["higher_is_better"] is True
    # the fraction's subset keeps the task a retrieval task (cap_train / subsample_train)
    assert [r["n_train"] for r in rows] == [14, 14, 28, 28]


def test_transfer_to_a_retrieval_target():
    _one_thread()
    from hetero_models.analysis import transfer

    res = transfer(
        _mixed(),
        ["lookup"],
        seeds=[0],
        pretrain_epochs=1,
        finetune_epochs=1,
        alone_epochs=1,
        hparams=TINY,
        device="cpu",
        trainer_kwargs={"batch_size": 16},
    )
    rows = res.tables["rows"]
    assert [r["config"] for r in rows] == ["alone", "pre-trained on 1"]
    assert {r["metric"] for r in rows} == {"recall@1"}
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)


def test_interference_skips_retrieval_tasks_as_corrupted_and_scores_them_as_others():
    _one_thread()
    from hetero_models.analysis import interference
    from hetero_models.analysis.interfere import corrupt_labels

    suite = _mixed()
    with pytest.raises(HeteroError, match=r"^task 'lookup': a retrieval task's labels cannot"):
        corrupt_labels(suite, "lookup")
    common = {
        "seeds": [0],
        "pretrain_epochs": 1,
        "finetune_epochs": 0,
        "hparams": TINY,
        "device": "cpu",
        "trainer_kwargs": {"batch_size": 16},
    }
    with pytest.raises(HeteroError, match=r"^task 'lookup': a retrieval task's labels cannot"):
        interference(suite, corrupt=["lookup"], **common)
    res = interference(suite, epochs=1, **common)
    rows = res.tables["rows"]
    assert {r["corrupted"] for r in rows} == {"cls"}
    looked = [r for r in rows if r["task"] == "lookup"]
    assert len(looked) == 1 and looked[0]["metric"] == "recall@1"
    only = Suite([_lookup()], name="only")
    with pytest.raises(HeteroError, match="every task is a retrieval task"):
        interference(only, **common)


def test_overlap_needs_a_gradient_batch_for_retrieval_tasks():
    _one_thread()
    from hetero_models.analysis.common import new_model
    from hetero_models.analysis.overlap import check_objective, involvement, parameter_overlap

    suite = _mixed()
    with pytest.raises(HeteroError, match=r"^task 'lookup': a retrieval task's loss compares"):
        check_objective(suite, ["cls", "lookup"], "loss", 1)
    with pytest.raises(HeteroError, match=r"^task 'lookup': objective 'probability' needs"):
        check_objective(suite, ["lookup"], "probability", 8)
    check_objective(suite, ["cls", "lookup"], "loss", 2)
    net = new_model(suite, 0, hparams=TINY)
    with pytest.raises(HeteroError, match=r"^task 'lookup': a retrieval task's loss compares"):
        parameter_overlap(net, suite, device="cpu")
    # over batches of 2+ the retrieval task's gradient reaches its encoders
    inv = involvement(net, suite, "lookup", batch_size=8, max_samples=17, device="cpu")
    assert sum(float(v.sum()) for v in inv.values()) > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["interference", "--corrupt", "lookup"], "task 'lookup': a retrieval task's labels"),
        (["overlap"], "task 'lookup': a retrieval task's loss compares the samples"),
        (["overlap", "--objective", "probability"], "task 'lookup': objective 'probability'"),
    ],
    ids=["interference", "overlap", "overlap-probability"],
)
def test_cli_analyses_refuse_retrieval_tasks_before_training(tmp_path, args, message):
    _one_thread()
    from typer.testing import CliRunner

    from hetero.cli.main import app

    _write_mixed_suite(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["analyze", args[0], str(tmp_path / "s.yaml"), *args[1:], "-o", str(out)]
    )
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "trained" not in res.output and not out.exists()
