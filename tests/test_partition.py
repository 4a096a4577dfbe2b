"""Partition search (exact MILP and local search) against brute force, planted structure,
minimum group sizes; the search options of make_plan; plan stability sections; the
``hetero plan`` sweep and share options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import PlanError
from hetero.grouping import assign_groups, make_plan, normalised_distance
from hetero.matrix import HeterogeneityMatrix
from hetero.measure.stability import co_assignment_summary, plan_stability
from hetero.partition import (
    canonical_labels,
    exact_partition,
    groups_for_budget,
    local_partition,
    partition,
    within_cost,
)
from hetero.plan import GroupingPlan

runner = CliRunner()


def set_partitions(n: int, k: int):
    """Every partition of range(n) into exactly k non-empty groups (restricted growth)."""

    def grow(labels: list[int], used: int):
        i = len(labels)
        if i == n:
            if used == k:
                yield np.array(labels)
            return
        if k - used > n - i:
            return
        for g in range(min(used + 1, k)):
            yield from grow([*labels, g], max(used, g + 1))

    yield from grow([], 0)


def brute_force(D: np.ndarray, k: int, m: int = 1) -> float:
    return min(
        within_cost(D, lab)
        for lab in set_partitions(len(D), k)
        if np.bincount(lab, minlength=k).min() >= m
    )


def random_distance(n: int, seed: int, *, signed: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(n, n)) if signed else rng.random((n, n))
    D = E + E.T
    np.fill_diagonal(D, 0)
    return D


def planted(sizes, noise: float, seed: int, outlier: float = 0.0):
    """Block distances (0.1 within, about 1 between) plus noise; ``outlier`` adds a main
    effect to the last item (far from everything)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    D = np.where(truth[:, None] == truth[None, :], 0.1, 1.0)
    E = rng.normal(scale=noise, size=D.shape)
    D = np.maximum(D + (E + E.T) / 2, 0)
    D[-1, :] += outlier
    D[:, -1] += outlier
    np.fill_diagonal(D, 0)
    return D, truth


# ------------------------------------------------------------------------ partition search
def test_set_partitions_enumerates_stirling_numbers():
    assert sum(1 for _ in set_partitions(6, 3)) == 90  # S(6, 3)
    assert sum(1 for _ in set_partitions(8, 4)) == 1701  # S(8, 4)


@pytest.mark.parametrize(
    ("n", "k", "m", "seed"),
    [(6, 2, 1, 0), (7, 3, 1, 1), (8, 3, 1, 2), (8, 4, 1, 3), (8, 3, 2, 4), (8, 2, 3, 5)],
)
def test_exact_and_local_reach_the_brute_force_optimum(n, k, m, seed):
    D = random_distance(n, seed)
    best = brute_force(D, k, m)
    exact = exact_partition(D, k, min_group_size=m)
    assert exact.optimal and exact.cost == pytest.approx(best, abs=1e-9)
    assert exact.bound == pytest.approx(best, abs=1e-6)
    local = local_partition(D, k, min_group_size=m, seed=seed)
    assert local.cost == pytest.approx(best, abs=1e-9) and not local.optimal
    for res in (exact, local):
        assert res.labels.max() + 1 == k
        assert np.bincount(res.labels).min() >= m
        assert within_cost(D, res.labels) == pytest.approx(res.cost)


def test_signed_distances_brute_force():
    """Main-effect-removed distances are signed; both searches still find the optimum."""
    D = random_distance(7, 11, signed=True)
    best = brute_force(D, 3)
    assert exact_partition(D, 3).cost == pytest.approx(best)
    assert local_partition(D, 3).cost == pytest.approx(best)


def test_min_group_size_respected_where_the_unconstrained_optimum_has_singletons():
    D, _ = planted([5, 5], 0.02, 0, outlier=3.0)  # item 9 far from everything
    free = exact_partition(D, 3)
    assert sorted(np.bincount(free.labels)) == [1, 4, 5]  # the outlier alone
    for res in (exact_partition(D, 3, min_group_size=3), local_partition(D, 3, min_group_size=3)):
        assert np.bincount(res.labels).min() >= 3
        assert res.cost >= free.cost
    assert exact_partition(D, 3, min_group_size=3).cost == pytest.approx(brute_force(D, 3, 3))
    with pytest.raises(PlanError, match="3 groups of at least 4 need 12 units, there are 10"):
        exact_partition(D, 3, min_group_size=4)


@pytest.mark.parametrize("search", ["exact", "local"])
def test_planted_blocks_recovered(search):
    D, truth = planted([4, 5, 3], 0.05, 3)
    res = partition(D, 3, search=search)
    assert adjusted_rand_score(truth, res.labels) == 1.0
    assert res.labels[0] == 0  # numbered by first member


def test_trivial_group_counts_and_errors():
    D = random_distance(5, 0)
    assert exact_partition(D, 1).labels.tolist() == [0] * 5
    assert exact_partition(D, 5).labels.tolist() == [0, 1, 2, 3, 4]
    assert exact_partition(D, 5).cost == 0.0
    with pytest.raises(PlanError, match="between 1 and the number of units"):
        local_partition(D, 6)
    with pytest.raises(PlanError, match="unknown partition search 'milp'"):
        partition(D, 2, search="milp")
    with pytest.raises(PlanError, match="expected finite numbers"):
        partition(np.full((3, 3), np.nan), 2)


def test_time_limit_falls_back_to_local_search():
    D = random_distance(14, 0)
    res = partition(D, 3, search="exact", time_limit=0.01)
    assert not res.optimal and res.labels.max() + 1 == 3
    assert res.cost == pytest.approx(local_partition(D, 3).cost)


def test_local_search_warm_start_never_worse():
    D = random_distance(12, 5)
    start = np.arange(12) % 4
    res = local_partition(D, 4, n_starts=1, init=[start])
    assert res.cost <= within_cost(D, start) and res.n_starts == 2


def test_within_cost_and_canonical_labels():
    D = np.array([[0, 1, 2, 3], [1, 0, 4, 5], [2, 4, 0, 6], [3, 5, 6, 0]], dtype=float)
    assert within_cost(D, [0, 0, 1, 1]) == 1 + 6
    assert within_cost(D, [0, 0, 0, 0]) == D.sum() / 2
    assert canonical_labels([2, 2, 0, 1, 0]).tolist() == [0, 0, 1, 2, 1]


def test_groups_for_budget():
    assert groups_for_budget(1000, per_group=100) == 10
    assert groups_for_budget(1050, per_group=100, fixed=300) == 7
    assert groups_for_budget(10**6, per_group=100, n_items=8) == 8
    with pytest.raises(PlanError, match="does not pay for one group"):
        groups_for_budget(150, per_group=100, fixed=100)
    with pytest.raises(PlanError, match="per_group: expected a positive"):
        groups_for_budget(100, per_group=0)


# ------------------------------------------------------------------------ make_plan options
LABELS = [f"t{i}/m" for i in range(10)]


def test_search_beats_linkage_on_outlier_structure_and_removal_of_main_effects():
    """Two planted groups and one unit far from everything: average linkage at k=2 puts the
    outlier alone; the searches (and linkage on main-effect-removed distances) do not."""
    D, truth = planted([5, 5], 0.02, 1, outlier=3.0)
    link, _, info = assign_groups(D, 2)
    assert sorted(np.bincount(link)) == [1, 9] and info["singletons"] == 1
    for kw in ({"search": "exact"}, {"search": "local"}, {"remove_main_effects": True}):
        lab, _, info = assign_groups(D, 2, **kw)
        assert adjusted_rand_score(truth, lab) == 1.0, kw
        assert info["singletons"] == 0
        if "search" in kw:
            assert info["objective"] < info["linkage_objective"]


def test_make_plan_search_options_and_round_trip(tmp_path):
    D, truth = planted([4, 3, 3], 0.05, 2)
    m = HeterogeneityMatrix(LABELS, D)
    plan = make_plan(m, unimodal_groups=3, search="auto", min_group_size=2, seed=3)
    assert [sorted(plan.group_of(x) for x in LABELS)] == [sorted(truth)]
    assert plan.unimodal_linkage is None  # the groups are not a cut of a tree
    cfg, part = plan.provenance["config"], plan.provenance["partition"]["unimodal"]
    assert (cfg["search"], cfg["min_group_size"], cfg["seed"]) == ("auto", 2, 3)
    assert part["search"] == "exact" and part["optimal"] and part["sizes"] == [4, 3, 3]
    plan.write(tmp_path / "p.json")
    assert GroupingPlan.read(tmp_path / "p.json") == plan
    linked = make_plan(m, unimodal_groups=3)
    assert linked.unimodal_linkage is not None
    assert linked.provenance["partition"]["unimodal"]["search"] == "linkage"
    with pytest.raises(PlanError, match="min_group_size needs a partition search"):
        make_plan(m, unimodal_groups=3, min_group_size=2)
    with pytest.raises(PlanError, match="unknown search 'milp'"):
        make_plan(m, search="milp")
    with pytest.raises(PlanError, match="unimodal: 4 groups of at least 3 need 12 units"):
        make_plan(m, unimodal_groups=4, search="local", min_group_size=3)


def test_normalised_distance():
    T = np.array([[0.0, 0.2, -0.1], [0.4, 0.0, 0.3], [0.6, 0.1, 0.0]])
    loss = {"a/x": 1.0, "a/y": 2.0, "a/z": 4.0}
    m = HeterogeneityMatrix(list(loss), T, provenance={"baseline_loss": loss})
    d = normalised_distance(m).values
    assert d[0, 1] == pytest.approx(0.2 / 2 + 0.4 / 1)
    assert d[0, 2] == pytest.approx(0.0 + 0.6 / 1)  # T_02 < 0 counts as 0
    assert d[1, 2] == pytest.approx(0.3 / 4 + 0.1 / 2)
    plan = make_plan(m, unimodal_groups=2, normalise=True)
    assert plan.provenance["config"]["representation"] == "baseline-normalised distances"
    with pytest.raises(PlanError, match="needs the baseline loss"):
        normalised_distance(HeterogeneityMatrix(list(loss), T))
    dist = HeterogeneityMatrix(
        list(loss), d, provenance={"config": {"step": "transfer_to_distance"}}
    )
    with pytest.raises(PlanError, match="got a distance matrix"):
        make_plan(dist, normalise=True)


# ------------------------------------------------------------------------ plan stability
def _stability(labels, reference, plans):
    return plan_stability(co_assignment_summary(labels, plans, reference), seed=0)


def test_co_assignment_summary_known_answers():
    labels = ["a/x", "a/y", "b/x", "b/y"]
    ref = [0, 0, 1, 1]
    same = co_assignment_summary(labels, [[1, 1, 0, 0]] * 4, ref)
    assert same["ari_mean"] == 1.0 and same["identical"] == 1.0 and same["mean_stability"] == 1.0
    mixed = co_assignment_summary(labels, [[0, 0, 1, 1], [0, 1, 0, 1]], ref)
    assert mixed["frequency"][0, 1] == 0.5 and mixed["frequency"][0, 2] == 0.5
    assert mixed["identical"] == 0.5
    worst = adjusted_rand_score(ref, [0, 1, 0, 1])
    assert mixed["ari_mean"] == pytest.approx((1 + worst) / 2)
    assert worst <= mixed["ari_low"] < mixed["ari_mean"] < mixed["ari_high"] <= 1.0


def test_plan_stability_section_round_trip_and_old_files(tmp_path):
    D, _ = planted([2, 2], 0.0, 0)
    units = LABELS[:4]
    plan = make_plan(HeterogeneityMatrix(units, D), unimodal_groups=2)
    old = plan.to_dict()
    assert "stability" not in old  # files without the section are unchanged
    assert GroupingPlan.from_dict(old).stability is None
    plan.stability = {"unimodal": _stability(units, [0, 0, 1, 1], [[0, 0, 1, 1], [0, 1, 0, 1]])}
    plan.write(tmp_path / "p.json")
    raw = json.loads((tmp_path / "p.json").read_text())
    assert raw["stability"]["unimodal"]["co_assignment"][0] == [1.0, 0.5, 0.5, 0.0]
    back = GroupingPlan.read(tmp_path / "p.json")
    assert back == plan
    np.testing.assert_array_equal(
        back.stability["unimodal"]["co_assignment"], plan.stability["unimodal"]["co_assignment"]
    )
    assert back.stability["unimodal"]["identical"] == 0.5


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"labels": ["t0/m", "t1/m"], "co_assignment": [[1, 0], [0, 1]], "n_boot": 2},
         "expected the 4 labels of the unimodal groups"),
        ({"labels": LABELS[:4], "co_assignment": [[1, 0], [0, 1]], "n_boot": 2},
         r"co_assignment: expected an 4 x 4 matrix of shares in \[0, 1\]"),
        ({"labels": LABELS[:4], "co_assignment": np.full((4, 4), 2.0).tolist(), "n_boot": 2},
         "shares in"),
        ({"labels": LABELS[:4], "co_assignment": np.eye(4).tolist(), "n_boot": 0},
         "n_boot: expected a positive integer"),
    ],
)  # fmt: skip
def test_plan_stability_errors(section, message):
    doc = {"version": 1, "unimodal": {"groups": [LABELS[:2], LABELS[2:4]]}}
    with pytest.raises(PlanError, match=message) as info:
        GroupingPlan.from_dict({**doc, "stability": {"unimodal": section}}, source="p.json")
    assert str(info.value).startswith("p.json: 'stability.unimodal")
    with pytest.raises(PlanError, match="unknown section 'modality'"):
        GroupingPlan.from_dict({**doc, "stability": {"modality": section}})


@pytest.mark.slow
def test_measurement_writes_plan_stability(tmp_path):
    """plan.json of a measurement carries the bootstrap co-assignment and its ARI."""
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite

    suite, truth = planted_suite(2, 2, n_noise=0, n_samples=240, seed=0)
    measure(suite, tmp_path, learner="reference", seeds=2, figures=False, max_epochs=20,
            stability_boot=10)  # fmt: skip
    plan = GroupingPlan.read(tmp_path / "plan.json")
    uni = plan.stability["unimodal"]
    assert uni["n_boot"] == 10 and uni["labels"] == list(truth)
    same = np.array([[truth[a] == truth[b] for b in truth] for a in truth], dtype=float)
    np.testing.assert_array_equal(uni["co_assignment"], same)
    assert uni["ari_mean"] == 1.0 and uni["identical"] == 1.0
    assert set(plan.stability) == {"unimodal", "crossmodal"}
    summary = plan.provenance["stability"]["modality"]  # what the report reads
    assert summary["mean_stability"] == 1.0 and "frequency" not in summary


# ------------------------------------------------------------------------ CLI
@pytest.fixture
def matrices(tmp_path):
    D, _ = planted([4, 3, 3], 0.05, 2)
    HeterogeneityMatrix(LABELS, D).write(tmp_path / "mod.json")
    inter = [f"t{i}/a+b" for i in range(6)]
    Di, _ = planted([3, 3], 0.05, 4)
    HeterogeneityMatrix(inter, Di, kind="interaction").write(tmp_path / "inter.json")
    return tmp_path


def _run(args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def test_cli_sweep_and_share_plans(matrices):
    out = matrices / "plans"
    res = _run(["plan", matrices / "mod.json", "--interaction", matrices / "inter.json",
                "--sweep", "2:5", "--search", "auto", "--share-all", "--share-none", "-o", out])  # fmt: skip
    names = sorted(p.name for p in out.iterdir())
    assert names == [*(f"plan_k{k}.json" for k in range(2, 6)), "share_all.json",
                     "share_none.json", "sweep.csv"]  # fmt: skip
    rows = (out / "sweep.csv").read_text().splitlines()
    assert rows[0].startswith("k,unimodal_groups,crossmodal_groups,unimodal_sizes")
    assert len(rows) == 5 and "W uni" in res.output
    for k in range(2, 6):
        p = GroupingPlan.read(out / f"plan_k{k}.json")
        assert p.n_unimodal_groups + p.n_crossmodal_groups == k
    assert GroupingPlan.read(out / "share_all.json").n_crossmodal_groups == 1
    none = GroupingPlan.read(out / "share_none.json")
    assert (none.n_unimodal_groups, none.n_crossmodal_groups) == (10, 6)
    single = matrices / "all.json"
    _run(["plan", matrices / "mod.json", "--share-all", "-o", single, "-q"])
    assert GroupingPlan.read(single).units == LABELS


def test_cli_search_and_min_group_size(matrices):
    out = matrices / "p.json"
    _run(["plan", matrices / "mod.json", "--search", "exact", "--min-group-size", "3",
          "--unimodal-groups", "3", "-o", out])  # fmt: skip
    plan = GroupingPlan.read(out)
    assert min(len(g) for g in plan.unimodal_groups) >= 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give MATRIX (a distance matrix) or --suite SUITE"),
        (["--suite", "mini"], "--suite only names the units of --share-all/--share-none"),
        (["MOD", "--suite", "mini", "--share-all"], "give MATRIX or --suite, not both"),
        (["MOD", "--sweep", "2:4", "--total-groups", "3"], "drop --total-groups"),
        (["MOD", "--sweep", "4:2"], "expected 1 <= KMIN <= KMAX"),
        (["MOD", "--sweep", "two"], "expected KMIN:KMAX"),
        (["MOD", "--share-all", "--search", "exact"], "write fixed plans: drop --search"),
        (["MOD", "--min-group-size", "2"], "--min-group-size needs --search"),
        (["MOD", "--search", "milp"], "--search: expected one of linkage, exact"),
        (["MOD", "--normalise"], "needs the baseline loss"),
        (["MOD", "--sweep", "2:9", "--search", "local", "--min-group-size", "3"],
         "K=4: unimodal: 4 groups of at least 3"),
    ],
)  # fmt: skip
def test_cli_plan_errors(matrices, args, message):
    out = matrices / "x"
    args = [matrices / "mod.json" if a == "MOD" else a for a in args]
    res = _run(["plan", *args, "-o", out], code=2)
    assert message in " ".join(res.output.split())
    assert not out.exists()
