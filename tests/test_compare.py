"""Plan comparison: paired statistics, verdicts, random plans, result files (no torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hetero.compare import (
    Candidate,
    CompareResult,
    Interval,
    mean_interval,
    paired_bootstrap,
    paired_difference,
    random_plans_like,
    rank_among,
    read_compare,
    resolved,
    seed_and_sample_interval,
    verdict,
)
from hetero.compare.result import RANDOM_MEDIAN
from hetero.errors import HeteroError, PlanError
from hetero.plan import GroupingPlan


def test_paired_interval_matches_a_hand_computed_t_interval():
    a = {0: 0.90, 1: 0.85, 2: 0.88, 3: 0.91}
    b = {0: 0.86, 1: 0.84, 2: 0.85, 3: 0.86, 9: 0.0}  # seed 9 unpaired: ignored
    d = np.array([0.04, 0.01, 0.03, 0.05])
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    diff = paired_difference(a, b)
    assert diff.n == 4
    assert diff.mean == pytest.approx(0.0325)
    assert (diff.lo, diff.hi) == pytest.approx((0.0325 - half, 0.0325 + half))


def test_one_seed_has_no_interval_and_is_never_resolved():
    one = mean_interval([0.5])
    assert one.n == 1 and math.isinf(one.lo) and math.isinf(one.hi)
    assert not resolved(one, resolution=1.0)
    assert "inconclusive" in verdict("p", "q", one)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.02, 0.03, 0.025], "p beats q by 0.025"),
        ([-0.02, -0.03, -0.025], "p is worse than q by 0.025"),
        ([0.001, -0.001, 0.0005, -0.0004], "no difference larger than"),
        ([0.2, -0.2, 0.1], "inconclusive (underpowered)"),
    ],
)
def test_verdict_is_worded_by_the_interval(values, expected):
    diff = mean_interval(values)
    assert expected in verdict("p", "q", diff, resolution=0.01)


def test_resolved_by_sign_or_by_width():
    assert resolved(mean_interval([0.02, 0.03, 0.025]), 0.001)  # excludes 0
    assert resolved(mean_interval([0.001, -0.001, 0.0005]), 0.01)  # narrow
    assert not resolved(mean_interval([0.2, -0.2, 0.1]), 0.01)


def test_rank_counts_ties_against():
    assert rank_among(0.9, [0.8, 0.7]) == 1
    assert rank_among(0.75, [0.8, 0.7]) == 2
    assert rank_among(0.8, [0.8, 0.7]) == 2
    assert rank_among(0.1, [0.2, 0.3], higher_is_better=False) == 1


PLAN = GroupingPlan(
    [["a/x", "b/x", "c/x"], ["a/y", "b/y"], ["c/y"]], [["a/x+y", "b/x+y"], ["c/x+y"]]
)


def test_random_plans_keep_sizes_differ_and_repeat_by_seed():
    plans = random_plans_like(PLAN, 5, seed=3)
    keys = set()
    for p in plans:
        assert sorted(map(len, p.unimodal_groups)) == [1, 2, 3]
        assert sorted(map(len, p.crossmodal_groups)) == [1, 2]
        assert sorted(u for g in p.unimodal_groups for u in g) == sorted(PLAN.units)
        keys.add(tuple(frozenset(g) for g in p.unimodal_groups + p.crossmodal_groups))
    assert len(keys) == 5
    again = random_plans_like(PLAN, 5, seed=3)
    assert [p.unimodal_groups for p in again] == [p.unimodal_groups for p in plans]
    assert random_plans_like(PLAN, 5, seed=4)[0].unimodal_groups != plans[0].unimodal_groups
    with pytest.raises(PlanError, match="expected an integer >= 0"):
        random_plans_like(PLAN, -1)


def test_candidate_checks():
    with pytest.raises(PlanError, match="candidate name"):
        Candidate("bad name", "plan", PLAN)
    with pytest.raises(PlanError, match="expected one of"):
        Candidate("p", "shared", PLAN)
    with pytest.raises(PlanError, match="needs a plan"):
        Candidate("p", "plan")


def _rows(scores: dict[str, list[float]], tasks=("t1", "t2")):
    """Rows whose task values average to the given per-seed scores (t1 +0.01, t2 -0.01)."""
    rows = []
    for name, per_seed in scores.items():
        kind = "random" if name.startswith("random") else "plan"
        for seed, s in enumerate(per_seed):
            for task, shift in zip(tasks, (0.01, -0.01), strict=True):
                rows.append(
                    {
                        "candidate": name,
                        "kind": kind,
                        "seed": seed,
                        "task": task,
                        "metric": "accuracy",
                        "value": s + shift,
                        "higher_is_better": True,
                        "parameters": 100,
                    }
                )
    return rows


def _result(scores):
    cands = [
        {"name": n, "kind": "random" if n.startswith("random") else "plan", "parameters": 100}
        for n in scores
    ]
    return CompareResult(rows=_rows(scores), candidates=cands, reference="plan")


def test_result_differences_rank_and_round_trip(tmp_path):
    r = _result(
        {
            "plan": [0.90, 0.92, 0.91],
            "other": [0.85, 0.88, 0.86],
            "random-1": [0.80, 0.83, 0.82],
            "random-2": [0.91, 0.95, 0.93],
            "random-3": [0.84, 0.86, 0.85],
        }
    )
    assert r.seeds == [0, 1, 2]
    diffs = r.differences()
    assert set(diffs) == {"other", RANDOM_MEDIAN}
    assert diffs["other"].mean == pytest.approx(0.0467, abs=1e-4)
    # the median random plan per seed is random-3: 0.84, 0.86, 0.85
    assert diffs[RANDOM_MEDIAN].mean == pytest.approx(0.06)
    assert r.reference_rank() == {"rank": 2, "of": 4, "random_plans": 3}
    assert r.per_task()["plan"]["t1"].mean == pytest.approx(0.92)
    assert r.is_resolved()
    assert "plan beats other by 0.047" in r.verdicts()["other"]
    r.write(tmp_path)
    back = read_compare(tmp_path)
    assert back.summary()["candidates"] == r.summary()["candidates"]
    assert back.verdicts() == r.verdicts()
    header = (tmp_path / "compare.csv").read_text().splitlines()[0]
    assert header.startswith("candidate,kind,seed,task,metric,value")


def test_incomplete_seeds_are_left_out():
    r = _result({"plan": [0.9, 0.9, 0.9], "other": [0.8, 0.8]})
    assert r.seeds == [0, 1]
    assert r.differences()["other"].n == 2


def test_read_compare_errors(tmp_path):
    (tmp_path / "compare.json").write_text('{"version": 7}')
    with pytest.raises(HeteroError, match="'version': expected 1"):
        read_compare(tmp_path)
    (tmp_path / "compare.json").write_text('{"version": 1, "candidates": []}')
    with pytest.raises(HeteroError, match="not a comparison result"):
        read_compare(tmp_path)


def test_figures_render():
    from hetero.compare.figures import forest_figure, score_parameters_figure
    from hetero.plotting._common import to_png

    r = _result({"plan": [0.9, 0.92, 0.91], "other": [0.85, 0.88, 0.86], "random-1": [0.8] * 3})
    for fig in (forest_figure(r), score_parameters_figure(r)):
        assert to_png(fig).startswith(b"\x89PNG")
    ax = forest_figure(r).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["other", "median random plan"]


def test_ablation_plans_share_one_side_only():
    from hetero.compare import ablation_plans
    from hetero.suite import Suite, Task

    rng = np.random.default_rng(0)
    tasks = [
        Task.from_arrays(name, {"x": rng.normal(size=(20, 3)), "z": rng.normal(size=(20, 2))},
                         rng.integers(0, 2, 20), target="multiclass")
        for name in ("a", "b")
    ]  # fmt: skip
    plans = ablation_plans(Suite(tasks))
    uni = plans["share-unimodal-only"]
    assert uni.unimodal_groups == [["a/x", "a/z", "b/x", "b/z"]]
    assert uni.crossmodal_groups == [["a/x+z"], ["b/x+z"]]
    cross = plans["share-crossmodal-only"]
    assert cross.unimodal_groups == [["a/x", "a/z"], ["b/x", "b/z"]]
    assert cross.crossmodal_groups == [["a/x+z", "b/x+z"]]


# ------------------------------------------------------------ paired bootstrap (test samples)


def test_paired_bootstrap_known_answers():
    ones, zeros = np.ones((2, 50)), np.zeros((3, 50))
    iv = paired_bootstrap(ones, zeros)
    assert (iv.mean, iv.lo, iv.hi, iv.n) == (1.0, 1.0, 1.0, 50)
    same = np.random.default_rng(0).integers(0, 2, size=(3, 40))
    iv = paired_bootstrap(same, same)
    assert (iv.mean, iv.lo, iv.hi) == (0.0, 0.0, 0.0)  # paired: identical models never differ


def test_paired_bootstrap_averages_rows_and_is_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, size=(2, 60)), rng.integers(0, 2, size=60)
    by_rows = paired_bootstrap(a, b, seed=3)
    by_mean = paired_bootstrap(a.mean(0), b, seed=3)
    assert by_rows == by_mean
    assert by_rows.mean == pytest.approx(a.mean() - b.mean())
    # continuous scores: another resampling seed moves the percentile bounds
    x, y = rng.random(60), rng.random(60)
    assert paired_bootstrap(x, y, seed=3) == paired_bootstrap(x, y, seed=3)
    assert paired_bootstrap(x, y, seed=4).lo != paired_bootstrap(x, y, seed=3).lo


def test_paired_bootstrap_width_matches_the_normal_approximation_on_many_samples():
    # two classifiers that disagree on 30 % of 2000 samples: sd of the per-sample difference
    rng = np.random.default_rng(2)
    n = 2000
    b = rng.integers(0, 2, size=n)
    flip = rng.random(n) < 0.3
    a = np.where(flip, 1 - b, b)
    d = a - b
    half = stats.norm.ppf(0.975) * d.std(ddof=1) / math.sqrt(n)
    iv = paired_bootstrap(a, b, resamples=8000)
    assert iv.lo < d.mean() < iv.hi
    assert 0.5 * (iv.hi - iv.lo) == pytest.approx(half, rel=0.1)


def test_paired_bootstrap_rejects_different_test_sets_and_bad_settings():
    with pytest.raises(ValueError, match=r"same test samples.*\(1, 5\) and \(1, 6\)"):
        paired_bootstrap(np.ones(5), np.ones(6))
    with pytest.raises(ValueError, match="resamples >= 1 and 0 < level < 1, got 0 and"):
        paired_bootstrap(np.ones(5), np.ones(5), resamples=0)
    with pytest.raises(ValueError, match="got 4000 and 95"):
        paired_bootstrap(np.ones(5), np.ones(5), level=95)


# ---------------------------------------- seed and test-sample interval (two sources of noise)


def test_seed_and_sample_interval_known_answers():
    rng = np.random.default_rng(0)
    # deterministic baseline (identical rows) and one row: the test samples' t interval
    a, b = rng.integers(0, 2, size=60), rng.integers(0, 2, size=60)
    iv = seed_and_sample_interval(a, np.tile(b, (3, 1)))
    d = a - b
    half = stats.t.ppf(0.975, 59) * d.std(ddof=1) / math.sqrt(60)
    assert (iv.mean, iv.n) == (pytest.approx(d.mean()), 60)
    assert (iv.lo, iv.hi) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    # three seeds: seed variance of the row means added, Welch-Satterthwaite degrees of freedom
    rows = (rng.random((3, 60)) < [[0.5], [0.7], [0.9]]).astype(float)
    iv = seed_and_sample_interval(rows, b)
    d = rows.mean(0) - b
    v_test, v_seed = d.var(ddof=1) / 60, rows.mean(1).var(ddof=1) / 3
    df = (v_test + v_seed) ** 2 / (v_test**2 / 59 + v_seed**2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(v_test + v_seed)
    assert (iv.lo, iv.hi) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert iv.hi - iv.lo > 2 * stats.t.ppf(0.975, 59) * math.sqrt(v_test)
    # identical deterministic models: no difference and no noise; the same seeded model
    # twice still has its seed variance (the rows are not paired by seed)
    assert seed_and_sample_interval(b, np.tile(b, (3, 1))) == Interval(0.0, 0.0, 0.0, 60)
    assert seed_and_sample_interval(rows, rows).hi > 0.1


def test_seed_and_sample_interval_covers_seed_variation_that_the_bootstrap_misses():
    # planted: per-sample easiness, a per-seed offset of model a (sd 0.06), true gap 0
    rng = np.random.default_rng(5)
    n, seeds, trials = 250, 3, 500
    covered_two, covered_fixed = 0, 0
    for t in range(trials):
        easy = np.where(rng.random(n) < 0.7, 0.9, 0.45)
        offsets = rng.normal(0.0, 0.06, size=(seeds, 1))
        a = (rng.random((seeds, n)) < easy + offsets).astype(float)
        b = (rng.random(n) < easy).astype(float)
        two = seed_and_sample_interval(a, b)
        fixed = paired_bootstrap(a, b, resamples=400, seed=t)
        covered_two += two.lo <= 0.0 <= two.hi
        covered_fixed += fixed.lo <= 0.0 <= fixed.hi
    # Welch-Satterthwaite with 2 seed degrees of freedom: about 0.93 in 2000 trials
    assert covered_two / trials >= 0.90
    assert covered_fixed / trials <= 0.80


def test_seed_and_sample_interval_rejects_different_test_sets_and_bad_level():
    with pytest.raises(
        ValueError, match=r"same \(at least 2\) test samples.*\(1, 5\) and \(1, 6\)"
    ):
        seed_and_sample_interval(np.ones(5), np.ones(6))
    with pytest.raises(ValueError, match="0 < level < 1, got 95"):
        seed_and_sample_interval(np.ones(5), np.ones(5), level=95)
