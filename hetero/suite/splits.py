"""Seeded train / val / test splits: the one owner of stratified splitting.

Two sizing rules share one implementation (a seeded shuffle within each stratum, then each
stratum cut into consecutive train / val / test runs):

- :func:`fraction_split` (suite YAML ``split:`` and :meth:`Task.from_arrays`): split sizes
  are fractions of the whole task, apportioned over strata by the largest-remainder rule;
- :func:`stratified_split` (the dataset loaders): each class is cut by the fractions on its
  own, and a class of three or more samples gets at least one sample in every split.

The sizes and the order of the cut differ between the two (so that built-in suites and
existing seeds keep their splits); the shuffle and the cut are shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError, SuiteError
from hetero.suite._checks import (
    DEFAULT_SPLIT,
    SPLIT_NAMES,
    _fail,
    _is_int,
    _unknown_key_reason,
)

__all__ = ["fraction_split", "stratified_split"]

_SPLIT_KEYS = ("val", "test", "seed")


def _parse_split_spec(split: Any, *, source, task) -> tuple[float, float, int]:
    if split is None:
        split = {}
    if not isinstance(split, Mapping):
        raise _fail(
            source,
            task,
            "split",
            f"expected a mapping like {{val: 0.2, test: 0.2, seed: 0}}, got {split!r}",
        )
    for key in split:
        if key not in _SPLIT_KEYS:
            raise _fail(source, task, "split", _unknown_key_reason(key, _SPLIT_KEYS))
    spec = {**DEFAULT_SPLIT, **split}
    for key in ("val", "test"):
        v = spec[key]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.integer, np.floating))
            or not 0 < float(v) < 1
        ):
            raise _fail(
                source,
                task,
                f"split.{key}",
                f"expected a fraction strictly between 0 and 1, got {v!r}",
            )
    if float(spec["val"]) + float(spec["test"]) >= 1:
        raise _fail(
            source,
            task,
            "split",
            f"val + test = {float(spec['val']) + float(spec['test']):g}; expected less than 1 (train must be non-empty)",
        )
    if not _is_int(spec["seed"]) or spec["seed"] < 0:
        raise _fail(source, task, "split.seed", f"expected an int >= 0, got {spec['seed']!r}")
    return float(spec["val"]), float(spec["test"]), int(spec["seed"])


def _allocate(sizes: np.ndarray, frac: float, total: int, caps: np.ndarray) -> np.ndarray:
    """Split ``total`` over groups proportionally to ``sizes`` (largest remainder), <= caps."""
    quotas = frac * sizes
    counts = np.minimum(np.floor(quotas).astype(np.int64), caps)
    remaining = int(total - counts.sum())
    order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
    while remaining > 0:
        progressed = False
        for g in order:
            if remaining == 0:
                break
            if counts[g] < caps[g]:
                counts[g] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            break
    return counts


def _shuffled_strata(
    n: int, strata: np.ndarray | None, rng: np.random.Generator
) -> list[np.ndarray]:
    """Sample indices of each stratum (strata in sorted order), each shuffled by ``rng``.

    Without strata, one group holding every sample.
    """
    if strata is None:
        return [rng.permutation(n)]
    strata = np.asarray(strata)
    return [rng.permutation(np.flatnonzero(strata == c)) for c in np.unique(strata)]


def _cut(
    groups: Sequence[np.ndarray], counts: Iterable[tuple[int, int]], order: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each shuffled group into three consecutive runs and gather them by split.

    ``counts`` gives the sizes of a group's first two runs (the third takes the rest);
    ``order`` names the split of each run. Returns train, val, test indices, sorted int64.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    for g, (first, second) in zip(groups, counts, strict=True):
        parts[order[0]].append(g[:first])
        parts[order[1]].append(g[first : first + second])
        parts[order[2]].append(g[first + second :])
    out = tuple(np.sort(np.concatenate(parts[k])).astype(np.int64) for k in SPLIT_NAMES)
    return out  # type: ignore[return-value]


def fraction_split(
    n: int, val: float, test: float, seed: int, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train / val / test split by fractions, stratified when ``strata`` is given.

    Sizes are ``max(1, round(frac * n))`` for val and test, apportioned over strata by the
    largest-remainder rule, while every stratum keeps at least one sample in train (so a
    split can come out smaller than asked when strata are tiny).

    Parameters
    ----------
    n : int
        Number of samples.
    val, test : float
        Fractions in (0, 1) with ``val + test < 1``.
    seed : int
        Seed of the shuffle within each stratum.
    strata : ndarray of shape (n,), optional
        Class id of each sample (stratification); None for a plain random split.

    Returns
    -------
    train_idx, val_idx, test_idx : ndarray of int64
        Disjoint, sorted, together covering ``range(n)``.
    """
    rng = np.random.default_rng(seed)
    groups = _shuffled_strata(n, strata, rng)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    n_test = max(1, round(test * n))
    n_val = max(1, round(val * n))
    t = _allocate(sizes, test, n_test, np.maximum(sizes - 1, 0))
    v = _allocate(sizes, val, n_val, np.maximum(sizes - t - 1, 0))
    return _cut(groups, zip(t, v, strict=True), ("test", "val", "train"))


def stratified_split(
    y: np.ndarray,
    fractions: tuple[float, float, float],
    seed: int,
    *,
    error: type[HeteroError] = SuiteError,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/val/test split keeping class proportions (every class in every split).

    Each class is cut on its own: ``round(n_c * fraction)`` samples for val and test, and a
    class with at least three samples gets at least one sample in each split whose fraction
    is positive.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class id of each sample.
    fractions : tuple of float
        (train, val, test) shares summing to 1.
    seed : int
        Seed of the shuffle within each class.
    error : type of HeteroError, default SuiteError
        Raised for invalid ``fractions`` (the dataset loaders raise ``DatasetError``).

    Returns
    -------
    train_idx, val_idx, test_idx : ndarray of int64
        Disjoint, sorted, together covering ``range(len(y))``.
    """
    frac = np.asarray(fractions, dtype=float)
    if frac.shape != (3,) or np.any(frac < 0) or not np.isclose(frac.sum(), 1.0):
        raise error(f"split fractions must be three shares summing to 1, got {fractions}")
    y = np.asarray(y)
    groups = _shuffled_strata(len(y), y, np.random.default_rng(seed))
    counts = []
    for idx in groups:
        n = len(idx)
        n_val = round(n * frac[1])
        n_test = round(n * frac[2])
        if n >= 3:
            n_val = max(n_val, 1) if frac[1] > 0 else 0
            n_test = max(n_test, 1) if frac[2] > 0 else 0
        counts.append((n - n_val - n_test, n_val))
    return _cut(groups, counts, ("train", "val", "test"))
