"""Measurement design: budget, symmetry, per-row coverage, seeding, impossible budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetero.design import measurement_design
from hetero.errors import HeteroError


@given(
    n=st.integers(2, 25),
    m=st.integers(0, 6),
    extra=st.floats(0, 1),
    symmetric=st.booleans(),
    seed=st.integers(0, 1000),
)
@settings(max_examples=80, deadline=None)
def test_design_properties(n, m, extra, symmetric, seed):
    m = min(m, n - 1)
    total = n * (n - 1)
    need = 2 * math.ceil(n * m / 2) if symmetric else n * m
    budget = need + int(extra * (total - need))
    mask = measurement_design(n, budget=budget, min_per_row=m, symmetric=symmetric, seed=seed)
    assert mask.dtype == bool and mask.shape == (n, n)
    assert not mask.diagonal().any()
    assert mask.sum() == (budget - budget % 2 if symmetric else budget)
    assert (mask.sum(axis=1) >= m).all()
    if symmetric:
        assert np.array_equal(mask, mask.T)
    else:
        assert (mask.sum(axis=0) >= m).all()


def test_fraction_and_seeding():
    a = measurement_design(30, fraction=0.35, seed=1)
    assert a.sum() == 2 * round(0.35 * 435)
    assert np.array_equal(a, measurement_design(30, fraction=0.35, seed=1))
    assert not np.array_equal(a, measurement_design(30, fraction=0.35, seed=2))
    assert measurement_design(5, fraction=1.0).sum() == 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 10, "budget": 20, "min_per_row": 3}, "too small: at least 30"),
        ({"n": 10, "fraction": 0.5, "budget": 10}, "exactly one of"),
        ({"n": 10}, "exactly one of"),
        ({"n": 10, "fraction": 1.5}, r"fraction: expected a number in \(0, 1\]"),
        ({"n": 10, "budget": 200}, "out of range"),
        ({"n": 4, "budget": 12, "min_per_row": 4}, "min_per_row=4 impossible"),
        ({"n": 0, "budget": 0}, "n: expected a positive integer"),
    ],
)
def test_errors(kwargs, message):
    n = kwargs.pop("n")
    with pytest.raises(HeteroError, match=message):
        measurement_design(n, **kwargs)
