"""Completion: planted low-rank recovery, observed entries kept, registry, spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from hetero.completion import (
    COMPLETERS,
    Completer,
    complete_matrix,
    get_completer,
    list_completers,
    register_completer,
    singular_spectrum,
)
from hetero.design import measurement_design
from hetero.errors import HeteroError, MatrixFormatError
from hetero.matrix import HeterogeneityMatrix


def planted_rank3(n, seed):
    """Squared distances of points on a line: symmetric, hollow, non-negative, rank 3."""
    x = np.random.default_rng(seed).normal(size=n)
    return (x[:, None] - x[None, :]) ** 2


def sample_pairs(n, fraction, seed):
    """Observed mask: a random `fraction` of off-diagonal unordered pairs (both ways)."""
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, 1)
    pick = rng.choice(iu.size, size=round(fraction * iu.size), replace=False)
    mask = np.zeros((n, n), dtype=bool)
    mask[iu[pick], ju[pick]] = True
    mask |= mask.T
    np.fill_diagonal(mask, True)
    return mask


def rel_error(Y, D, hidden):
    return np.linalg.norm(Y[hidden] - D[hidden]) / np.linalg.norm(D[hidden])


def test_planted_matrix_is_rank3():
    s, cum = singular_spectrum(planted_rank3(30, 0))
    assert s[3] < 1e-9 * s[0] and cum[2] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_completer_recovers_planted_rank3(seed):
    n = 30
    D = planted_rank3(n, seed)
    mask = sample_pairs(n, 0.35, seed + 100)
    X = np.where(mask, D, np.nan)
    completer = get_completer("symmetric", rank=3, seed=seed)
    Y = completer.fit_transform(X)
    assert rel_error(Y, D, ~mask) < 0.1
    assert np.array_equal(Y[mask], X[mask])  # observed entries kept exactly
    assert np.allclose(Y, Y.T) and np.all(np.diag(Y) == 0) and (Y >= 0).all()


def test_rank_chosen_by_held_out_entries():
    n = 30
    D = planted_rank3(n, 3)
    mask = sample_pairs(n, 0.35, 103)
    completer = get_completer("symmetric", seed=0)
    Y = completer.fit_transform(np.where(mask, D, np.nan))
    assert completer.rank_ == 3
    assert set(completer.rank_scores_) >= {1, 2, 3}
    assert completer.rank_scores_[3] < 0.1 * completer.rank_scores_[2]
    assert rel_error(Y, D, ~mask) < 0.1


def test_symmetric_completer_with_noise_stays_close():
    n = 30
    D = planted_rank3(n, 5)
    noise = np.random.default_rng(5).normal(scale=0.01 * D.std(), size=D.shape)
    Dn = np.abs(D + (noise + noise.T) / 2)
    np.fill_diagonal(Dn, 0)
    mask = measurement_design(n, fraction=0.5, min_per_row=4, seed=5)
    np.fill_diagonal(mask, True)
    Y = get_completer("symmetric", rank=3).fit_transform(np.where(mask, Dn, np.nan))
    assert rel_error(Y, D, ~mask) < 0.1


@pytest.mark.parametrize("name", ["softimpute", "iterativesvd", "matrixfactorization"])
def test_fancyimpute_backends_complete_and_keep_observed(name):
    pytest.importorskip("fancyimpute")  # the `completion` extra
    rng = np.random.default_rng(0)
    D = rng.normal(size=(20, 2)) @ rng.normal(size=(20, 2)).T
    mask = rng.random(D.shape) < 0.7
    X = np.where(mask, D, np.nan)
    Y = get_completer(name, rank=2, seed=1).fit_transform(X)
    Y2 = get_completer(name, rank=2, seed=1).fit_transform(X)
    assert np.isfinite(Y).all() and np.array_equal(Y[mask], X[mask])
    assert np.array_equal(Y, Y2)  # seeded
    # far better than filling with the mean of the observed entries
    mean_fill = np.linalg.norm(D[~mask] - X[mask].mean())
    assert np.linalg.norm(Y[~mask] - D[~mask]) < 0.2 * mean_fill


def test_fancyimpute_adapter_leaves_global_rng_untouched():
    pytest.importorskip("fancyimpute")
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    X = np.where(np.eye(6, dtype=bool), np.nan, 1.0)
    get_completer("matrixfactorization", rank=1, seed=3).fit_transform(X)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_nuclear_norm_small():
    pytest.importorskip("fancyimpute")
    rng = np.random.default_rng(0)
    A = rng.normal(size=(8, 1))
    D = A @ A.T
    mask = rng.random(D.shape) < 0.8
    mask |= mask.T
    completer = get_completer("nuclearnorm", rank=3)  # no rank parameter: ignored
    Y = completer.fit_transform(np.where(mask, D, np.nan))
    assert completer.rank_ is None
    assert np.isfinite(Y).all() and np.allclose(Y[mask], D[mask])
    assert np.allclose(Y, Y.T, atol=1e-3)


def test_registry_and_errors():
    assert list_completers() == [
        "symmetric",
        "additive",
        "auto",
        "softimpute",
        "iterativesvd",
        "matrixfactorization",
        "nuclearnorm",
    ]
    assert get_completer("Soft-Impute").name == "softimpute"
    with pytest.raises(
        HeteroError, match=r"unknown completion method 'svd' \(valid: .*softimpute, symmetric\)"
    ):
        get_completer("svd")
    with pytest.raises(HeteroError, match="rank: expected a positive integer"):
        get_completer("symmetric", rank=0)
    with pytest.raises(MatrixFormatError, match="square"):
        get_completer("symmetric").fit_transform(np.zeros((2, 3)))
    with pytest.raises(MatrixFormatError, match="no observed off-diagonal"):
        get_completer("symmetric").fit_transform(np.full((3, 3), np.nan))


def test_register_a_completer():
    class MeanFill(Completer):
        """Fills every missing entry with the mean of the observed off-diagonal ones."""

        name = "mean_fill"
        supports_rank = False

        def _complete(self, X, rank):
            off = ~np.eye(len(X), dtype=bool)
            return np.where(np.isnan(X), np.nanmean(X[off]), X)

    try:
        assert register_completer("mean_fill")(MeanFill) is MeanFill
        assert list_completers()[0] == "symmetric" and list_completers()[-1] == "mean_fill"
        X = np.array([[0.0, 1.0, np.nan], [3.0, 0.0, 2.0], [np.nan, 2.0, 0.0]])
        Y = complete_matrix(HeterogeneityMatrix(["a", "b", "c"], X), method="mean_fill")
        assert (
            Y.values[0, 2] == pytest.approx(2.0) and Y.provenance["config"]["method"] == "mean_fill"
        )
        with pytest.raises(
            HeteroError, match="completion method 'mean_fill' is already registered"
        ):
            register_completer("mean_fill", get_completer("symmetric").__class__)
    finally:
        COMPLETERS.unregister("mean_fill")
    assert "mean_fill" not in list_completers()


def test_spectrum_known_answer_and_incomplete():
    s, cum = singular_spectrum(np.diag([3.0, -4.0, 0.0]))
    assert np.allclose(s, [4, 3, 0]) and np.allclose(cum, [16 / 25, 1, 1])
    with pytest.raises(MatrixFormatError, match="complete it first"):
        singular_spectrum(np.array([[0, np.nan], [1, 0]]))


def test_complete_matrix_returns_full_matrix():
    n = 12
    D = planted_rank3(n, 7)
    mask = sample_pairs(n, 0.6, 7)
    count = np.where(mask, 2, 0)
    m = HeterogeneityMatrix(
        [f"t/m{i}" for i in range(n)],
        np.where(mask, D, np.nan),
        count=count,
        provenance={"from": "test"},
    )
    out = complete_matrix(m, rank=3)
    assert out.is_complete and out.labels == m.labels
    assert np.array_equal(out.count, count)  # completed entries have count 0
    cfg = out.provenance["config"]
    assert cfg["method"] == "symmetric" and cfg["rank"] == 3
    assert cfg["n_completed"] == int((~mask).sum())
    assert out.provenance["input"] == {"from": "test"}


# -- additive: main effects plus a low-rank residual ---------------------------------------------


def planted_additive(n, seed, residual=0.0):
    """``a_i + a_j`` off the diagonal (full rank once hollow), plus a rank-1 residual."""
    rng = np.random.default_rng(seed)
    a, u = rng.uniform(0.2, 1.0, n), rng.normal(size=n)
    D = a[:, None] + a[None, :] + residual * np.outer(u, u)
    np.fill_diagonal(D, 0.0)
    return np.maximum(D, 0.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_additive_completer_recovers_main_effects_where_symmetric_cannot(seed):
    n = 16
    D = planted_additive(n, seed)
    s, _ = singular_spectrum(D)
    assert s[-1] > 1e-3 * s[0]  # a hollow additive matrix has full rank
    mask = sample_pairs(n, 0.4, seed + 10)
    X = np.where(mask, D, np.nan)
    add = get_completer("additive", seed=seed)
    Y = add.fit_transform(X)
    assert add.rank_ == 0 and rel_error(Y, D, ~mask) < 1e-6
    a = add.main_effects_
    assert np.allclose(a[:, None] + a[None, :], D + np.diag(2 * a), atol=1e-6)
    assert np.array_equal(Y[mask], X[mask]) and np.all(np.diag(Y) == 0)
    sym = get_completer("symmetric", seed=seed).fit_transform(X)
    assert rel_error(sym, D, ~mask) > 100 * max(rel_error(Y, D, ~mask), 1e-9)


def test_additive_completer_with_a_residual_and_squared_distances():
    n = 20
    D = planted_additive(n, 0, residual=0.3)
    mask = sample_pairs(n, 0.6, 3)
    Y = get_completer("additive", rank=1, seed=0).fit_transform(np.where(mask, D, np.nan))
    assert rel_error(Y, D, ~mask) < 0.02
    # squared distances of points on a line are x_i^2 + x_j^2 - 2 x_i x_j: rank 1 here
    D = planted_rank3(n, 1)
    mask = sample_pairs(n, 0.6, 4)
    Y = get_completer("additive", rank=1, seed=0).fit_transform(np.where(mask, D, np.nan))
    assert rel_error(Y, D, ~mask) < 0.02


def test_auto_completer_picks_by_held_out_error_and_ranks_are_checked():
    n = 16
    D = planted_additive(n, 2)
    X = np.where(sample_pairs(n, 0.5, 5), D, np.nan)
    auto = get_completer("auto", seed=0)
    Y = auto.fit_transform(X)
    assert set(auto.scores_) == {"symmetric", "additive"}
    assert auto.chosen_ == "additive" and auto.scores_["additive"] < auto.scores_["symmetric"]
    assert np.isfinite(Y).all()
    m = complete_matrix(HeterogeneityMatrix([f"u{i}" for i in range(n)], X, kind="modality"),
                        method="additive")  # fmt: skip
    assert m.provenance["config"]["rank"] == 0
    assert get_completer("additive", rank=0).rank == 0
    with pytest.raises(HeteroError, match="rank: expected an integer >= 0 or None, got -1"):
        get_completer("additive", rank=-1)


def test_measure_completes_with_the_chosen_completer_and_refuses_unknown_ones(tmp_path):
    from hetero.measure import MeasureConfig, measure
    from hetero.measure.synthetic import planted_suite

    with pytest.raises(HeteroError, match=r"unknown completion method 'svd' \(valid: additive"):
        MeasureConfig(completion="svd")
    suite = planted_suite(2, 3, n_noise=1, n_samples=80, width=6, latent=3, seed=0)[0]
    res = measure(suite, tmp_path, learner="reference", learner_config={"hidden": 8},
                  seeds=1, fraction=0.6, completion="additive", interactions=False,
                  stability_boot=0, figures=False, progress=False)  # fmt: skip
    prov = HeterogeneityMatrix.read(tmp_path / "modality.json").provenance
    assert prov["config"]["method"] == "additive" and prov["config"]["n_completed"] > 0
    assert res.modality.distance.observed.all()
