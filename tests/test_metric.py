"""Metric checks against brute force, on true metrics and on known violations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix
from hetero.metric import check_metric


def _brute(D, c):
    n = D.shape[0]
    sym = np.array_equal(D, D.T, equal_nan=True)
    tot = ex = rel = 0
    min_c = 0.0
    for i, j, k in itertools.permutations(range(n), 3):
        if sym and i > k:
            continue
        a, b, e = D[i, k], D[i, j], D[j, k]
        if np.isnan(a) or np.isnan(b) or np.isnan(e):
            continue
        tot += 1
        ex += a <= b + e + 1e-9
        rel += a <= c * (b + e) + 1e-9
        with np.errstate(over="ignore"):
            min_c = max(min_c, a / (b + e) if b + e > 0 else (np.inf if a > 1e-9 else 0))
    return tot, ex, rel, min_c


sym_matrices = arrays(
    float,
    st.integers(3, 7).map(lambda n: (n, n)),
    elements=st.one_of(st.floats(0, 10, allow_nan=False), st.just(np.nan)),
).map(lambda a: np.where(np.eye(a.shape[0], dtype=bool), 0.0, np.triu(a, 1) + np.triu(a, 1).T))


@given(sym_matrices, st.sampled_from([1.0, 1.5, 5.0]))
@settings(max_examples=60, deadline=None)
def test_matches_brute_force(D, c):
    r = check_metric(D, c=c)
    tot, ex, rel, min_c = _brute(D, c)
    assert r.n_triples == tot
    if tot:
        assert r.triangle_exact == pytest.approx(ex / tot)
        assert r.triangle_relaxed == pytest.approx(rel / tot)
        assert r.min_c == pytest.approx(min_c)
    assert r.symmetric and r.nonnegative and r.zero_diagonal


@given(st.integers(3, 12), st.integers(1, 4), st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_euclidean_metrics_satisfy_triangle(n, dim, seed):
    x = np.random.default_rng(seed).normal(size=(n, dim))
    D = np.linalg.norm(x[:, None] - x[None], axis=-1)
    r = check_metric(D)
    assert r.triangle_exact == 1.0 and r.min_c <= 1.0 + 1e-9 and not r.worst
    # squared distances are not metrics but satisfy the relaxed inequality with c = 2
    r2 = check_metric(D**2, c=2.0)
    assert r2.triangle_relaxed == 1.0 and r2.min_c <= 2.0 + 1e-9


def test_known_violation_and_flags():
    labels = ["t/a", "t/b", "t/c"]
    D = np.array([[0.0, 1.0, 10.0], [1.0, 0.0, 1.0], [10.0, 1.0, 0.0]])
    r = check_metric(HeterogeneityMatrix(labels, D), c=4.0)
    assert r.n_triples == 3  # the three inequalities of one triangle
    assert r.triangle_exact == pytest.approx(2 / 3)
    assert r.triangle_relaxed == pytest.approx(2 / 3)  # 10 > 4 * 2
    assert r.min_c == pytest.approx(5.0)
    worst = r.worst[0]
    assert (worst.i, worst.j, worst.k) == ("t/a", "t/b", "t/c") and worst.ratio == pytest.approx(5)
    d = r.to_dict()
    for key in (
        "symmetric",
        "nonnegative",
        "zero_diagonal",
        "triangle_exact",
        "triangle_relaxed",
        "c",
        "min_c",
        "n_triples",
        "worst",
    ):
        assert key in d
    bad = D.copy()
    bad[0, 1] = -1.0
    bad[2, 2] = 0.5
    r = check_metric(bad)
    assert not r.symmetric and not r.nonnegative and not r.zero_diagonal
    assert r.max_asymmetry == pytest.approx(2.0)


def test_zero_bridge_gives_infinite_min_c():
    D = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    r = check_metric(D)
    assert np.isinf(r.min_c) and r.to_dict()["min_c"] is None


def test_bad_arguments():
    with pytest.raises(MatrixFormatError, match="c: expected"):
        check_metric(np.zeros((3, 3)), c=0.5)
    with pytest.raises(MatrixFormatError, match="square"):
        check_metric(np.zeros((3, 2)))


def test_m200_counts_every_symmetric_triple():
    # Speed is measured in benchmarks/bench_matrix.py, never asserted in a unit test.
    rng = np.random.default_rng(0)
    A = rng.random((200, 200))
    D = A + A.T
    np.fill_diagonal(D, 0)
    r = check_metric(D)
    assert r.n_triples == 200 * 199 * 198 // 2


def test_summary_reports_the_requested_c_and_scalars_are_refused():
    """Regression: a loop variable once shadowed ``c`` when listing the worst triples."""
    import numpy as np

    from hetero.errors import MatrixFormatError
    from hetero.metric import check_metric

    d = np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 1.0], [5.0, 1.0, 0.0]])  # violates at c = 1
    report = check_metric(d, c=5.0)
    assert report.c == 5.0 and report.worst and "relaxed (c = 5)" in report.summary()
    with pytest.raises(MatrixFormatError, match=r"expected a square matrix, got shape \(\)"):
        check_metric(np.float64(3.0))
