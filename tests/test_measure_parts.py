"""Run keys, run store, estimators, planner, stability (no training)."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from hetero.errors import HeteroError
from hetero.measure.estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    Estimator,
    estimate_transfer,
    get_estimator,
    register_estimator,
)
from hetero.measure.keys import run_key
from hetero.measure.planner import RunPlanner, baseline_seed_count
from hetero.measure.stability import (
    co_assignment,
    offdiag_spearman,
    reliability_statement,
    split_half_retest,
)
from hetero.measure.store import RunRecord, RunStore
from hetero.measure.synthetic import planted_suite

KEY_ARGS = dict(
    fingerprint="f" * 64,
    unit="t/a",
    learner="reference",
    learner_config={"hidden": 8},
    seed=0,
    kind="transfer",
    mode="finetune",
    keep_head=False,
    max_epochs=None,
    source_key="s" * 64,
)


def test_run_key_is_stable_and_depends_on_every_field():
    base = run_key(**KEY_ARGS)
    assert base == run_key(**dict(KEY_ARGS)) and len(base) == 64
    changes = {
        "fingerprint": "g" * 64,
        "unit": "t/b",
        "learner": "other",
        "learner_config": {"hidden": 9},
        "seed": 1,
        "kind": "scratch",
        "mode": "frozen",
        "keep_head": True,
        "max_epochs": 5,
        "source_key": "x" * 64,
    }
    keys = {run_key(**{**KEY_ARGS, k: v}) for k, v in changes.items()}
    assert base not in keys and len(keys) == len(changes)


def _record(key: str, **kw) -> RunRecord:
    fields = dict(
        key=key, status="ok", kind="scratch", level="modality", unit="t/a", seed=0,
        learner="reference", learner_config={"hidden": 8}, val_loss=0.5, val_metric=0.8,
        metric="accuracy", curve=[0.9, 0.5], epochs=2, best_epoch=2, converged=True,
        wall_time=0.1, versions={"hetero": "0"},
    )  # fmt: skip
    fields.update(kw)
    return RunRecord(**fields)


def test_store_round_trip_state_and_reopen(tmp_path):
    path = tmp_path / "sub" / "runs.sqlite"
    state = {"body.W1": np.arange(4.0).reshape(2, 2)}
    with RunStore(path) as store:
        store.put(_record("k1"), state)
        store.put(_record("k2", status="failed", error="boom", val_loss=None, attempts=3,
                          info={"lr": np.float32(0.5), "hist": np.arange(2), "obj": object}))  # fmt: skip
        assert len(store) == 2
        assert store.has_state("k1") and not store.has_state("k2")
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with RunStore(path, readonly=True) as store:
        rec = store.get("k1")
        assert rec.ok and rec.curve == [0.9, 0.5] and rec.converged is True
        assert rec.learner_config == {"hidden": 8}
        np.testing.assert_array_equal(store.state("k1")["body.W1"], state["body.W1"])
        failed = store.records(status="failed")
        assert [r.key for r in failed] == ["k2"] and failed[0].attempts == 3
        assert failed[0].error == "boom"
        assert failed[0].info["lr"] == 0.5 and failed[0].info["hist"] == [0, 1]
        assert failed[0].info["obj"] == str(object)
        assert store.get("missing") is None
        with pytest.raises(HeteroError, match="has no stored state"):
            store.state("k2")


def test_store_errors(tmp_path):
    with pytest.raises(HeteroError, match="no run store here"):
        RunStore(tmp_path / "none.sqlite", readonly=True)
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    with pytest.raises(HeteroError, match=r"bad\.sqlite"):
        RunStore(bad)


# -- estimators ------------------------------------------------------------------------------
def test_estimators_registry_and_default():
    assert set(ESTIMATORS) == {
        *("finetune", "budgeted", "frozen", "frozen_fresh", "frozen_short", "ridge", "logme")
    }
    assert DEFAULT_ESTIMATOR in ESTIMATORS
    assert get_estimator("budgeted", budget_epochs=3).budget_epochs == 3
    with pytest.raises(
        HeteroError,
        match=r"unknown estimator 'x' \(valid: budgeted, finetune, frozen, frozen_fresh, "
        r"frozen_short, logme, ridge\)",
    ):
        get_estimator("x")
    with pytest.raises(HeteroError, match="did you mean 'frozen_short'"):
        get_estimator("frozen-short")


def test_register_an_estimator_variant():
    short3 = Estimator("frozen_3", transfer_mode="frozen", baseline="self", transfer_epochs=3)
    try:
        assert register_estimator(short3) is short3
        assert get_estimator("frozen_3").transfer_max_epochs == 3
        with pytest.raises(HeteroError, match="estimator 'frozen_3' is already registered"):
            register_estimator(Estimator("frozen_3"))
        with pytest.raises(HeteroError, match="expected an Estimator"):
            register_estimator("frozen_3")
    finally:
        ESTIMATORS.unregister("frozen_3")
    assert "frozen_3" not in ESTIMATORS


def test_budgeted_score_is_mean_of_first_k_epochs_padded_with_best():
    est = get_estimator("budgeted", budget_epochs=4)
    assert est.run_score(0.1, [1.0, 0.8, 0.6, 0.4, 0.1]) == pytest.approx(0.7)
    assert est.run_score(0.5, [1.0, 0.5]) == pytest.approx((1.0 + 0.5 + 0.5 + 0.5) / 4)
    assert get_estimator("finetune").run_score(0.3, [1.0, 0.3]) == 0.3


def test_estimate_transfer_known_answer_and_standard_error():
    labels = ["t/a", "t/b"]
    # baseline of b over 4 seeds; transfers a->b over 2 seeds paired with baseline seeds 0, 1
    base = {("t/b", s): v for s, v in enumerate([1.0, 1.2, 0.9, 1.1])}
    base.update({("t/a", s): 2.0 for s in range(4)})
    trans = {("t/a", "t/b", 0): 1.3, ("t/a", "t/b", 1): 1.6}
    e = estimate_transfer(labels, trans, base)
    assert e.values[0, 1] == pytest.approx(1.45 - 1.05)
    assert np.isnan(e.values[1, 0]) and e.count[1, 0] == 0 and e.count[0, 1] == 2
    x, y = np.array([1.3, 1.6]), np.array([1.0, 1.2, 0.9, 1.1])
    cov = np.cov(x, y[:2], ddof=1)[0, 1]
    var = x.var(ddof=1) / 2 + y.var(ddof=1) / 4 - 2 * cov * 2 / (2 * 4)
    assert e.se[0, 1] == pytest.approx(math.sqrt(var))
    assert e.std[0, 1] == pytest.approx(np.std(x - y[:2], ddof=1))
    np.testing.assert_allclose(e.per_seed[0][0, 1], 1.3 - 1.05)
    assert e.baseline[1] == pytest.approx(1.05) and e.baseline_count[1] == 4
    # seed subsets (retest halves) and repeated seeds (bootstrap)
    half = estimate_transfer(labels, trans, base, seeds=[0], baseline_seeds=[0, 2])
    assert half.values[0, 1] == pytest.approx(1.3 - 0.95) and np.isnan(half.se[0, 1])
    boot = estimate_transfer(labels, trans, base, seeds=[1, 1], baseline_seeds=[1, 1])
    assert boot.values[0, 1] == pytest.approx(0.4)


def test_significance_and_unclipped_sum():
    labels = ["a/x", "a/y"]
    base = {(lab, s): 1.0 + 0.01 * s for lab in labels for s in range(4)}
    trans = {("a/x", "a/y", s): 1.5 + 0.01 * s for s in range(2)}
    trans.update({("a/y", "a/x", s): 1.0 + 0.05 * (-1) ** s for s in range(2)})
    e = estimate_transfer(labels, trans, base)
    sig = e.significant()
    assert sig[0, 1] and not sig[1, 0]
    total, se = e.symmetric_sum()
    assert total[0, 1] == pytest.approx(e.values[0, 1] + e.values[1, 0])
    assert se[0, 1] == pytest.approx(math.hypot(e.se[0, 1], e.se[1, 0]))


# -- planner --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_suite():
    return planted_suite(1, 2, n_noise=1, n_samples=120, width=4)[0]


def test_planner_counts_pairing_and_frozen_baselines(small_suite):
    labels = [u.label for u in small_suite.units()]
    m = len(labels)
    ft = RunPlanner(small_suite, "reference", {"hidden": 8}, get_estimator("finetune"))
    runs = ft.plan_level("modality", labels, seeds=[0, 1], baseline_seeds=[0, 1, 2, 3])
    assert len(runs.scratch) == m * 4 and len(runs.transfer) == m * (m - 1) * 2
    assert len(runs.specs()) == m * 4 + m * (m - 1) * 2  # baselines are the scratch runs
    for (src, _tgt, s), spec in runs.transfer.items():
        assert spec.source_key == runs.scratch[(src, s)].key  # paired by seed
        assert spec.mode == "finetune" and not spec.save_state
    fz = RunPlanner(small_suite, "reference", {"hidden": 8}, get_estimator("frozen"))
    runs = fz.plan_level("modality", labels, seeds=[0], baseline_seeds=[0, 1])
    for (lab, s), spec in runs.baseline.items():
        assert spec.kind == "transfer" and spec.source == lab == spec.unit and spec.mode == "frozen"
        assert spec.source_key == runs.scratch[(lab, s)].key
    assert len(runs.specs()) == 2 * m + 2 * m + m * (m - 1)
    new = fz.add_seed(runs, [(0, 1)], 5)
    assert {s.kind for s in new} == {"scratch", "transfer"}
    assert (labels[0], labels[1], 5) in runs.transfer and (labels[1], 5) in runs.baseline


def test_frozen_short_caps_target_side_fits_only(small_suite):
    labels = [u.label for u in small_suite.units()]
    short = RunPlanner(small_suite, "reference", {"hidden": 8}, get_estimator("frozen_short"))
    full = RunPlanner(small_suite, "reference", {"hidden": 8}, get_estimator("frozen"))
    runs = short.plan_level("modality", labels, seeds=[0], baseline_seeds=[0, 1])
    assert {spec.max_epochs for spec in runs.transfer.values()} == {5}
    assert {spec.max_epochs for spec in runs.baseline.values()} == {5}  # self-transfers
    assert all(spec.max_epochs is None for spec in runs.scratch.values())
    a, b = labels[:2]
    # sources are shared with the uncapped probe; the capped target fits are other runs
    assert short.scratch(a, 0).key == full.scratch(a, 0).key
    assert short.transfer(a, b, 0).key != full.transfer(a, b, 0).key
    assert get_estimator("frozen_short", transfer_epochs=3).transfer_max_epochs == 3


def test_keep_head_only_within_a_task_and_keys_change(small_suite):
    labels = [u.label for u in small_suite.units()]
    p = RunPlanner(small_suite, "reference", {}, get_estimator("finetune"), keep_head=True)
    q = RunPlanner(small_suite, "reference", {}, get_estimator("finetune"))
    a, b = labels[:2]
    assert p.transfer(a, b, 0).keep_head and not q.transfer(a, b, 0).keep_head
    assert p.transfer(a, b, 0).key != q.transfer(a, b, 0).key
    assert p.scratch(a, 0).key == q.scratch(a, 0).key


def test_baseline_seed_count():
    assert baseline_seed_count(2) == 4 and baseline_seed_count(3, 3) == 3
    with pytest.raises(HeteroError, match="at least as many"):
        baseline_seed_count(3, 2)
    with pytest.raises(HeteroError, match="at least 1"):
        baseline_seed_count(0)


# -- stability ------------------------------------------------------------------------------
def _planted_scores(noise: float, n_seeds: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = [f"t/m{i}" for i in range(6)]
    group = np.array([0, 0, 0, 1, 1, 1])
    true = np.where(group[:, None] == group[None, :], 0.0, 0.5)
    trans, base = {}, {}
    for s in range(n_seeds):
        for j, tgt in enumerate(labels):
            base[(tgt, s)] = 1.0 + noise * rng.normal()
            for i, src in enumerate(labels):
                if i != j:
                    trans[(src, tgt, s)] = 1.0 + true[i, j] + noise * rng.normal()
    return labels, trans, base, group


def _to_d(t):
    p = np.where(np.isnan(t), np.nan, np.maximum(t, 0))
    d = p + p.T
    np.fill_diagonal(d, 0)
    return d


def _groups(d):
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    return fcluster(linkage(squareform(d, checks=False), "average"), 2, "maxclust")


def test_split_half_retest_reliable_vs_noise():
    labels, trans, base, _ = _planted_scores(0.02)
    out = split_half_retest(labels, trans, base, seeds=range(6), baseline_seeds=range(6),
                            to_distance=_to_d, to_groups=_groups)  # fmt: skip
    assert out["spearman_d"] > 0.7 and out["plan_ari"] == pytest.approx(1.0) and out["reliable"]
    assert out["halves"]["seeds"] == [[0, 2, 4], [1, 3, 5]]
    assert out["statement"].startswith("reliable")
    labels, trans, base, _ = _planted_scores(5.0)
    out = split_half_retest(labels, trans, base, seeds=range(6), baseline_seeds=range(6),
                            to_distance=_to_d, to_groups=_groups)  # fmt: skip
    assert not out["reliable"] and "NOT reliable enough to act on" in out["statement"]
    assert split_half_retest(labels, trans, base, seeds=[0], baseline_seeds=[0, 1],
                             to_distance=_to_d) is None  # fmt: skip
    assert "use --retest with at least 2 seeds" in reliability_statement(None)


def test_co_assignment_frequencies():
    labels, trans, base, group = _planted_scores(0.02)
    out = co_assignment(labels, trans, base, seeds=range(6), baseline_seeds=range(6),
                        to_distance=_to_d, to_groups=_groups, n_boot=20)  # fmt: skip
    same = group[:, None] == group[None, :]
    np.testing.assert_array_equal(out["frequency"], same.astype(float))
    assert out["mean_stability"] == 1.0 and out["n_boot"] == 20


def test_offdiag_spearman():
    a = np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], dtype=float)
    assert offdiag_spearman(a, a * 2) == pytest.approx(1.0)
    assert offdiag_spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(offdiag_spearman(a, np.ones_like(a)))
