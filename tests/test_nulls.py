"""Null models of the matrix statistics: planted structure is found, chance and main
effects are not mistaken for it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.nulls import main_effects, null_models


def _planted_metric(seed: int = 0) -> np.ndarray:
    """Euclidean distances of points in three clusters: metric, low rank, real relations."""
    rng = np.random.default_rng(seed)
    pts = np.concatenate([rng.normal(c, 0.3, size=(5, 2)) for c in ([0, 0], [3, 0], [0, 3])])
    return np.linalg.norm(pts[:, None] - pts[None], axis=-1)


def _random(seed: int = 0, n: int = 15) -> np.ndarray:
    u = np.random.default_rng(seed).uniform(size=(n, n))
    u = (u + u.T) / 2
    np.fill_diagonal(u, 0)
    return u


def test_planted_structure_beats_both_nulls():
    r = null_models(_planted_metric(), n_perm=1000)
    for name in ("triangle_exact", "top3_energy"):
        assert r.stats[name]["p"] < 0.01 and r.stats[name]["main_effects_p"] < 0.01, name


def test_random_entries_do_not():
    r = null_models(_random(), n_perm=1000)
    assert all(s["p"] > 0.05 for s in r.stats.values())


def test_main_effects_explain_an_additive_matrix_and_its_structure_is_not_credited():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 2, size=15)
    d = a[:, None] + a[None] + rng.normal(0, 0.02, size=(15, 15))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    r = null_models(d, n_perm=500)
    assert r.main_effect_share > 0.99
    assert r.stats["triangle_exact"]["p"] < 0.01  # above the plain shuffle...
    assert r.stats["triangle_exact"]["main_effects_p"] > 0.05  # ...but not above main effects


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 9), st.integers(0, 10_000))
def test_main_effects_recover_an_exactly_additive_matrix(n, seed):
    e = np.random.default_rng(seed).uniform(0, 3, size=n)
    d = e[:, None] + e[None]
    np.fill_diagonal(d, 0)
    fit = main_effects(d)
    np.testing.assert_allclose(fit.fitted, d, atol=1e-9)
    np.testing.assert_allclose(fit.residual, 0, atol=1e-9)
    if np.ptp(d[~np.eye(n, dtype=bool)]) > 1e-6:
        assert fit.share == pytest.approx(1.0)


def test_incomplete_or_tiny_matrices_are_not_tested():
    d = _random(n=5)
    d[0, 1] = d[1, 0] = np.nan
    assert "unmeasured" in null_models(d).notes[0]
    assert "fewer than 3" in null_models(np.zeros((2, 2))).notes[0]


def test_check_command_prints_and_writes_the_nulls(tmp_path):
    labels = [f"t/m{i}" for i in range(15)]
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"kind": "modality", "labels": labels,
                                "values": _planted_metric().tolist()}))  # fmt: skip
    res = CliRunner().invoke(app, ["check", str(path), "--null", "200"])
    assert res.exit_code == 0 and "null models (200 symmetric shuffles" in res.output
    res = CliRunner().invoke(app, ["check", str(path), "--json", "--null", "200"])
    out = json.loads(res.output)
    assert out["null"]["stats"]["triangle_exact"]["p"] < 0.01
    res = CliRunner().invoke(app, ["check", str(path), "--null", "0"])
    assert "null models" not in res.output


def test_grouping_on_main_effect_removed_distances_recovers_relations():
    """An outlier unit far from everything splits off in raw clustering; with the main
    effects removed the planted blocks come back."""
    from sklearn.metrics import adjusted_rand_score

    from hetero.grouping import make_plan
    from hetero.matrix import HeterogeneityMatrix

    blocks = np.repeat([0, 1, 2], 4)
    e = np.zeros(12)
    e[0] = 3.0  # one unit far from every other
    d = (blocks[:, None] != blocks[None]).astype(float) + e[:, None] + e[None]
    np.fill_diagonal(d, 0)
    m = HeterogeneityMatrix([f"t/m{i}" for i in range(12)], d)
    raw = make_plan(m, unimodal_groups=3)
    centred = make_plan(m, unimodal_groups=3, remove_main_effects=True)

    def labels(plan):
        return [plan.group_of(f"t/m{i}") for i in range(12)]

    assert adjusted_rand_score(blocks, labels(centred)) == 1.0
    assert adjusted_rand_score(blocks, labels(raw)) < 1.0
    assert centred.provenance["config"]["representation"] == "main-effects removed"
