"""The statistics of benchmarks/bench_validity.py on hand-made rows and matrices."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_validity as bv


def _row(seed, fit, unit, partner, loss):
    return {"suite": "s", "seed": seed, "fit": fit, "unit": unit, "partner": partner,
            "test_loss": loss, "seconds": 1.0}  # fmt: skip


def _rows():
    # alone: a 1.0 / 3.0 (mean 2.0), b 0.5 / 0.5; pair a|b: a 1.0 / 2.0, b 0.25 / 0.5
    return [
        _row(0, "a", "a", "", 1.0), _row(1, "a", "a", "", 3.0),
        _row(0, "b", "b", "", 0.5), _row(1, "b", "b", "", 0.5),
        _row(0, "a | b", "a", "b", 1.0), _row(0, "a | b", "b", "a", 0.25),
        _row(1, "a | b", "a", "b", 2.0), _row(1, "a | b", "b", "a", 0.5),
    ]  # fmt: skip


def test_gain_matrices_by_hand():
    labels, per = bv.gain_matrices(_rows(), ["a", "b"])
    # mean baseline: seed 0: a (2 - 1)/2 = 0.5, b (0.5 - 0.25)/0.5 = 0.5 -> 0.5;
    # seed 1: a (2 - 2)/2 = 0, b 0 -> 0
    assert labels == ["a", "b"]
    assert per[0][0, 1] == per[0][1, 0] == pytest.approx(0.5)
    assert per[1][0, 1] == pytest.approx(0.0) and np.isnan(per[0][0, 0])
    _, same_seed = bv.gain_matrices(_rows(), ["a", "b"], baseline="seed")
    # seed 0: a (1 - 1)/1 = 0, b 0.5 -> 0.25; seed 1: a (3 - 2)/3 = 1/3, b 0 -> 1/6
    assert same_seed[0][0, 1] == pytest.approx(0.25)
    assert same_seed[1][0, 1] == pytest.approx(1 / 6)
    _, half = bv.gain_matrices(_rows(), ["a", "b"], seeds=[1])  # its own alone baseline
    assert half[1][0, 1] == pytest.approx((1 / 3 + 0) / 2)
    truth = bv.truth_summary(_rows(), ["a", "b"])
    assert truth["gain"][0, 1] == pytest.approx(0.25)
    assert truth["pairs"][0][2:] == ("a", "b") and truth["core_seconds"] == 6.0  # 6 fits
    with pytest.raises(ValueError, match="baseline must be one of"):
        bv.gain_matrices(_rows(), baseline="median")


def _planted_rows(n_units=9, seeds=4, noise=0.0, seed=0):
    """Rows whose true gain is about +0.2 for pairs in one family (units 0-2, 3-5, 6-8) and
    -0.1 otherwise,
    each pair a little apart from the others (so that pairs can be ranked)."""
    rng = np.random.default_rng(seed)
    labels = [f"u{i}" for i in range(n_units)]
    rows = []
    for s in range(seeds):
        for u in labels:
            rows.append(_row(s, u, u, "", 1.0))
        for i in range(n_units):
            for j in range(i + 1, n_units):
                g = (0.2 if i // 3 == j // 3 else -0.1) + 0.01 * ((3 * i + 7 * j) % 11)
                fit = f"{labels[i]} | {labels[j]}"
                for a, b in ((labels[i], labels[j]), (labels[j], labels[i])):
                    rows.append(_row(s, fit, a, b, 1.0 - g + noise * rng.normal()))
    return labels, rows


def test_split_half_reliability_of_a_planted_and_a_pure_noise_ground_truth():
    labels, rows = _planted_rows(noise=0.02)
    rel = bv.split_half(rows, labels)
    assert rel["splits"] == 3 and rel["spearman"] > 0.6 and rel["projected"] > rel["spearman"]
    labels, noisy = _planted_rows(noise=0.0)
    for r in noisy:  # replace the structure by noise: no reliability left
        if r["partner"]:
            r["test_loss"] = (
                1.0 + np.random.default_rng(hash(r["fit"] + r["unit"]) % 2**32 + r["seed"]).normal()
            )
    assert abs(bv.split_half(noisy, labels)["spearman"]) < 0.4
    assert bv.brown(0.5) == pytest.approx(2 / 3) and bv.brown(-0.2) == -0.2


def test_validity_statistics_find_a_planted_predictor_and_not_a_random_one():
    labels, rows = _planted_rows(noise=0.02)
    truth = bv.truth_summary(rows, labels)
    G = truth["gain"]
    d_good = np.where(np.isnan(G), 0.0, -G) + 0.01 * np.random.default_rng(1).normal(size=G.shape)
    d_good = 0.5 * (d_good + d_good.T)
    rng = np.random.default_rng(2)
    d_bad = rng.normal(size=G.shape)
    d_bad = 0.5 * (d_bad + d_bad.T)
    assert bv.spearman(bv.upper(-d_good), bv.upper(G)) > 0.6
    assert bv.mantel_p(-d_good, G, n_perm=300) < 0.05
    assert bv.mantel_p(-d_bad, G, n_perm=300) > 0.05
    groups = bv._groups_from(d_good, 3)
    gg = bv.group_gain(groups, G, n_random=500)
    assert gg["plan"] == pytest.approx(0.25, abs=0.06) and gg["p"] < 0.05
    assert gg["random_lo"] <= gg["random_mean"] <= gg["random_hi"] < gg["plan"]
    lo, hi = bv.seed_bootstrap(-d_good, truth["per_seed"], centre=False, n_boot=200)
    assert 0.5 < lo <= hi <= 1.0


def test_load_joint_reads_controls_and_reliability():
    labels = ["t/a", "t/b", "u/a"]
    everything = [*labels, "t.twin/a", "t.twin/b", "u.twin/a", "t.null/a", "t.null/b",
                  "u.null/a"]  # fmt: skip
    n = len(everything)
    rng = np.random.default_rng(0)

    def affinity(noise):
        A = rng.normal(scale=noise, size=(n, n))
        A = 0.5 * (A + A.T)
        for k in range(3):  # the twin is the most similar unit, the null the least
            A[k, 3 + k] = A[3 + k, k] = 1.0
            A[k, 6 + k] = A[6 + k, k] = -1.0
        np.fill_diagonal(A, np.nan)
        return A.tolist()

    seeds = {str(s): {k: affinity(0.1) for k in bv.JOINT_KINDS} | {"seconds": 5.0} for s in (0, 1)}
    payload = {"labels": everything, "seeds": seeds}
    out = bv.load_joint(payload, labels)
    m = out["joint_gradient_cosine"]
    assert m["controls"] == {"units": 3, "twin_nearest": 3, "twin_before_null": 3, "passed": True}
    assert m["d"].shape == (3, 3) and m["core_seconds"]["total"] == 10.0
    assert set(m["retest"]) == {"spearman_d_full", "spearman_d_centred_full"}


def test_truth_smoke_rows_round_trip_through_the_csv(tmp_path):
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=bv.FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(_rows())
    back = bv.read_rows(path)
    assert len(back) == 8
    assert bv.truth_summary(back, ["a", "b"])["gain"][0, 1] == pytest.approx(0.25)
    assert bv.truth_jobs(["a", "b", "c"], [0]) == [
        (0, ("a",)), (0, ("b",)), (0, ("c",)), (0, ("a", "b")), (0, ("a", "c")), (0, ("b", "c"))
    ]  # fmt: skip
