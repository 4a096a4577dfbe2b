"""Transfer -> distance: d_ij = max(T_ij, 0) + max(T_ji, 0), normalisation, std propagation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hetero.distance import transfer_to_distance
from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix


def _labels(n):
    return [f"task/m{i}" for i in range(n)]


def test_known_answer():
    T = np.array([[np.nan, 0.3, -0.2], [0.1, np.nan, np.nan], [0.5, 0.4, np.nan]])
    d = transfer_to_distance(HeterogeneityMatrix(_labels(3), T)).values
    assert d[0, 1] == pytest.approx(0.4)  # 0.3 + 0.1
    assert d[0, 2] == pytest.approx(0.5)  # max(-0.2, 0) + 0.5: positive transfer counts 0
    assert np.isnan(d[1, 2]) and np.isnan(d[2, 1])  # 1 -> 2 never measured
    assert np.all(np.diag(d) == 0)


values = arrays(
    float,
    st.integers(2, 7).map(lambda n: (n, n)),
    elements=st.one_of(st.floats(-10, 10, allow_nan=False), st.just(np.nan)),
)


@given(values)
@settings(max_examples=60, deadline=None)
def test_distance_properties(T):
    n = T.shape[0]
    d = transfer_to_distance(HeterogeneityMatrix(_labels(n), T)).values
    off = ~np.eye(n, dtype=bool)
    expected = np.maximum(T, 0) + np.maximum(T.T, 0)
    unmeasured = (np.isnan(T) | np.isnan(T.T)) & off
    assert np.array_equal(np.isnan(d), unmeasured)
    ok = ~unmeasured & off
    assert np.allclose(d[ok], expected[ok])
    assert np.array_equal(d, d.T, equal_nan=True)
    assert (d[~np.isnan(d)] >= 0).all()
    assert np.all(np.diag(d) == 0)


def test_normalisation_divides_by_target_scratch_loss():
    T = np.array([[0.0, 1.0], [3.0, 0.0]])  # T[0,1]: 0 -> 1, target 1
    m = HeterogeneityMatrix(["a/x", "a/y"], T)
    d = transfer_to_distance(m, scratch_loss={"a/x": 2.0, "a/y": 4.0}, normalize=True)
    assert d.values[0, 1] == pytest.approx(1.0 / 4.0 + 3.0 / 2.0)
    with pytest.raises(MatrixFormatError, match="needs scratch_loss"):
        transfer_to_distance(m, normalize=True)
    with pytest.raises(MatrixFormatError, match="positive finite loss"):
        transfer_to_distance(m, scratch_loss=[1.0, 0.0], normalize=True)
    with pytest.raises(MatrixFormatError, match="no from-scratch loss for a/y"):
        transfer_to_distance(m, scratch_loss={"a/x": 1.0}, normalize=True)


def test_std_and_count_propagation():
    T = np.array([[0.0, 0.5, -0.1], [0.2, 0.0, 0.3], [0.4, 0.6, 0.0]])
    S = np.full((3, 3), 0.1)
    C = np.array([[0, 3, 2], [4, 0, 5], [2, 1, 0]])
    d = transfer_to_distance(HeterogeneityMatrix(_labels(3), T, std=S, count=C))
    # both directions positive: independent sum
    assert d.std[0, 1] == pytest.approx(np.sqrt(0.1**2 + 0.1**2))
    # 0 -> 2 is negative (clipped, locally constant): only 2 -> 0 contributes
    assert d.std[0, 2] == pytest.approx(0.1)
    assert d.count[1, 2] == 1 and d.count[0, 1] == 3
    assert np.all(np.diag(d.std) == 0)
