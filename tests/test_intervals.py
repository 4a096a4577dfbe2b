"""Intervals valid with few seeds: t quantiles with seeds - 1 degrees of freedom."""

from __future__ import annotations

import numpy as np
import pytest

from hetero.measure.estimators import estimate_transfer, t_half_width


def _coverage(n_t: int, reps: int, *, quantile: float | None, seed: int) -> float:
    """Share of simulated measurements whose interval holds the true T = 0.1."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        n_b = 2 * n_t
        seed_effect = rng.normal(0, 0.05, size=n_b)  # shared by runs of one seed (pairing)
        base = {("b", s): 1.0 + seed_effect[s] + rng.normal(0, 0.05) for s in range(n_b)}
        base |= {("a", s): 1.0 for s in range(n_b)}
        trans = {("a", "b", s): 1.1 + seed_effect[s] + rng.normal(0, 0.05) for s in range(n_t)}
        trans |= {("b", "a", s): 1.0 for s in range(n_t)}
        e = estimate_transfer(["a", "b"], trans, base)
        half = e.half_width()[0, 1] if quantile is None else quantile * e.se[0, 1]
        hits += abs(e.values[0, 1] - 0.1) <= half
    return hits / reps


@pytest.mark.parametrize("n_t", [2, 3])
def test_t_intervals_cover_at_least_their_level_where_normal_ones_do_not(n_t):
    reps = 600  # Monte Carlo s.e. of a coverage near 0.95: about 0.009
    assert _coverage(n_t, reps, quantile=None, seed=n_t) >= 0.93
    assert _coverage(n_t, reps, quantile=1.96, seed=n_t) < 0.92


def test_half_width_known_values():
    se = np.array([[0.0, 1.0], [2.0, 0.0]])
    df = np.array([[np.nan, 1.0], [2.0, np.nan]])
    half = t_half_width(se, df, 0.95)
    assert half[0, 0] == 0.0 and half[0, 1] == pytest.approx(12.7062, abs=1e-4)
    assert half[1, 0] == pytest.approx(2 * 4.3027, abs=1e-4)
    assert np.isinf(t_half_width(np.array([0.5]), np.array([np.nan]))[0])  # one seed: no interval


def test_one_seed_is_never_significant():
    trans = {("a", "b", 0): 5.0, ("b", "a", 0): 5.0}
    base = {(u, s): 1.0 + 0.01 * s for u in "ab" for s in range(2)}
    e = estimate_transfer(["a", "b"], trans, base)
    assert not e.significant().any() and np.isinf(e.half_width()[0, 1])
