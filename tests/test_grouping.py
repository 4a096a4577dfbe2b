"""Clustering recovers planted groups; cuts, budget split and make_plan."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hetero.errors import MatrixFormatError, PlanError
from hetero.grouping import auto_n_groups, cluster, make_plan, split_budget
from hetero.matrix import HeterogeneityMatrix


def planted(sizes, noise, seed):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    centers = rng.normal(scale=3.0, size=(len(sizes), 3))
    between = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    D = between[np.ix_(truth, truth)] + 0.2 * (truth[:, None] != truth[None, :])
    D = D + 0.1 * (truth[:, None] == truth[None, :])
    E = rng.normal(scale=noise, size=D.shape)
    D = np.maximum(D + (E + E.T) / 2, 0)
    np.fill_diagonal(D, 0)
    return D, truth


@pytest.mark.parametrize("method", ["average", "complete", "single"])
def test_recovers_planted_groups_noise_free(method):
    D, truth = planted([4, 6, 3, 5], 0.0, 0)
    labels, Z = cluster(D, n_groups=4, method=method)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert Z.shape == (17, 4)


def test_largest_gap_finds_number_of_groups():
    truth = np.repeat(np.arange(3), [3, 4, 2])
    D = np.where(truth[:, None] == truth[None, :], 0.1, 1.0)
    np.fill_diagonal(D, 0)
    labels, Z = cluster(D)  # neither n_groups nor threshold
    assert adjusted_rand_score(truth, labels) == 1.0
    assert auto_n_groups(Z, 9) == 3


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_recovers_planted_groups_with_noise(seed):
    D, truth = planted([5, 5, 6, 4], 0.15, seed)
    labels, _ = cluster(D, n_groups=4)
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_exact_number_of_groups_with_ties_and_threshold():
    D = np.ones((5, 5)) - np.eye(5)  # all merges at the same height
    for k in range(1, 6):
        labels, _ = cluster(D, n_groups=k)
        assert len(set(labels)) == k and labels[0] == 0
    D, truth = planted([3, 3], 0.0, 1)
    _, Z = cluster(D, n_groups=1)
    labels, _ = cluster(D, threshold=0.5 * Z[-1, 2])  # cut below the last merge
    assert adjusted_rand_score(truth, labels) == 1.0
    assert auto_n_groups(Z, 6) == 2


def test_cluster_errors():
    D, _ = planted([2, 2], 0.0, 0)
    with pytest.raises(PlanError, match="between 1 and the number of units"):
        cluster(D, n_groups=5)
    with pytest.raises(PlanError, match="unknown linkage method 'ward'"):
        cluster(D, n_groups=2, method="ward")
    D[0, 1] = np.nan
    with pytest.raises(MatrixFormatError, match="complete it first"):
        cluster(D, n_groups=2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((4, 10, 0), (4, 0)),
        ((4, 10, 10), (2, 2)),
        ((5, 12, 3), (4, 1)),
        ((2, 12, 3), (1, 1)),
        ((10, 8, 2), (8, 2)),
        ((15, 12, 3), (12, 3)),
    ],
)
def test_split_budget(args, expected):
    u, c = split_budget(*args)
    assert (u, c) == expected and u + c == args[0]


def test_split_budget_errors():
    with pytest.raises(PlanError, match="between 2 and"):
        split_budget(1, 5, 3)
    with pytest.raises(PlanError, match=r"\(8\)"):
        split_budget(9, 5, 3)


def _matrices():
    D, truth = planted([3, 2], 0.0, 4)
    units = [f"t{i}/m{i}" for i in range(5)]
    mod = HeterogeneityMatrix(units, D, kind="modality")
    Di, _ = planted([2, 2], 0.0, 5)
    inter = HeterogeneityMatrix([f"t{i}/a+b" for i in range(4)], Di, kind="interaction")
    return mod, inter, truth


def test_make_plan():
    mod, inter, truth = _matrices()
    plan = make_plan(mod, inter, unimodal_groups=2, crossmodal_groups=2)
    assert plan.n_unimodal_groups == 2 and plan.n_crossmodal_groups == 2
    got = [plan.group_of(label) for label in mod.labels]
    assert adjusted_rand_score(truth, got) == 1.0
    assert plan.unimodal_linkage.shape == (4, 4)
    total = make_plan(mod, inter, total_groups=4)
    assert (total.n_unimodal_groups, total.n_crossmodal_groups) == split_budget(4, 5, 4)
    only = make_plan(mod, unimodal_groups=1)
    assert only.crossmodal_groups == [] and only.group_of("t0/a+b") == 0


def test_make_plan_errors():
    mod, _, _ = _matrices()
    with pytest.raises(PlanError, match="expected kind 'interaction'"):
        make_plan(mod, mod)
    with pytest.raises(PlanError, match="no interaction matrix"):
        make_plan(mod, crossmodal_groups=2)
    with pytest.raises(PlanError, match="unimodal: number of groups 6"):
        make_plan(mod, unimodal_groups=6)
