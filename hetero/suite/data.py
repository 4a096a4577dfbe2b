"""TaskData (the in-memory arrays of one task) and the conversion of user arrays into it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hetero.errors import SuiteError
from hetero.suite._checks import _RESERVED, SPLIT_NAMES, _fail, _join, _readonly

__all__ = ["TaskData"]


class TaskData:
    """In-memory arrays of one task.

    Build it through :meth:`Task.from_arrays` (which converts and validates); the arrays are
    stored as read-only views.

    Parameters
    ----------
    arrays : dict of str -> ndarray
        One float32 array per modality, first axis = samples.
    y : ndarray
        int64 class ids (multiclass / binary), int64 {0, 1} matrix (multilabel) or float32
        (regression).
    train_idx, val_idx, test_idx : ndarray of int64
        Sample indices of each split.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        y: np.ndarray,
        train_idx: np.ndarray,
        val_idx: np.ndarray,
        test_idx: np.ndarray,
    ):
        self.arrays: dict[str, np.ndarray] = {
            str(k): _readonly(np.asarray(v)) for k, v in arrays.items()
        }
        self.y: np.ndarray = _readonly(np.asarray(y))
        self.train_idx: np.ndarray = _readonly(np.asarray(train_idx, dtype=np.int64))
        self.val_idx: np.ndarray = _readonly(np.asarray(val_idx, dtype=np.int64))
        self.test_idx: np.ndarray = _readonly(np.asarray(test_idx, dtype=np.int64))

    @property
    def n_samples(self) -> int:
        """Number of samples (length of ``y``)."""
        return int(self.y.shape[0])

    def indices(self, name: str) -> np.ndarray:
        """Index array of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLIT_NAMES:
            raise SuiteError(
                f"split: unknown split {name!r}; expected one of: {_join(SPLIT_NAMES)}"
            )
        return getattr(self, f"{name}_idx")

    def split(
        self, name: str, modalities: Sequence[str] | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Arrays and targets of one split.

        Parameters
        ----------
        name : {"train", "val", "test"}
        modalities : sequence of str, optional
            Restrict to these modalities (default: all).

        Returns
        -------
        arrays : dict of str -> ndarray
            Fresh (writeable) arrays holding the split's samples.
        y : ndarray
        """
        idx = self.indices(name)
        names = list(self.arrays) if modalities is None else list(modalities)
        missing = [m for m in names if m not in self.arrays]
        if missing:
            raise SuiteError(
                f"split: unknown modality {missing[0]!r}; expected one of: {_join(list(self.arrays))}"
            )
        return {m: self.arrays[m][idx] for m in names}, self.y[idx]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskData):
            return NotImplemented
        if list(self.arrays) != list(other.arrays):
            return False
        pairs = [(self.arrays[k], other.arrays[k]) for k in self.arrays]
        pairs += [(getattr(self, a), getattr(other, a)) for a in ("y", *_RESERVED[1:])]
        return all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.arrays.items())
        return (
            f"TaskData({shapes}, y={self.y.shape}, train={len(self.train_idx)}, "
            f"val={len(self.val_idx)}, test={len(self.test_idx)})"
        )


# --------------------------------------------------------------------------- conversion


def _to_float32(a: Any, *, copy: bool, source, task, fld, array_name) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object:
        raise _fail(
            source,
            task,
            fld,
            f"array '{array_name}' holds Python objects (dtype object); expected a numeric array",
        )
    if arr.dtype.kind not in "biuf":
        raise _fail(
            source,
            task,
            fld,
            f"array '{array_name}' has dtype {arr.dtype}; expected a numeric (bool/int/float) array",
        )
    if arr.ndim < 1:
        raise _fail(source, task, fld, f"array '{array_name}' is a scalar; expected samples first")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if copy and np.may_share_memory(out, arr):
        out = out.copy()
    # a float64 sum of float32 values cannot overflow, and NaN/inf propagate: one cheap pass
    if not np.isfinite(np.sum(out, dtype=np.float64)):
        bad = ~np.isfinite(out)
        n_nan = int(np.isnan(out).sum())
        n_inf = int(bad.sum()) - n_nan
        raise _fail(
            source,
            task,
            fld,
            f"array '{array_name}' has {n_nan} NaN and {n_inf} inf values "
            f"(of {out.size}); expected finite inputs",
        )
    return out


def _convert_y(y: Any, target: str, *, source, task) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        kind = "Python objects (dtype object)" if arr.dtype == object else f"dtype {arr.dtype}"
        raise _fail(source, task, "y", f"y holds {kind}; expected a numeric array")
    if arr.ndim == 0:
        raise _fail(source, task, "y", "y is a scalar; expected one target per sample")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise _fail(source, task, "y", f"y has {n_bad} NaN/inf values; expected finite targets")
    if target == "regression":
        if arr.ndim > 2:
            raise _fail(
                source,
                task,
                "y",
                f"y has shape {arr.shape}; expected (samples,) or (samples, targets)",
            )
        return np.ascontiguousarray(arr, dtype=np.float32).copy()
    if target == "multilabel":
        if arr.ndim != 2:
            raise _fail(
                source,
                task,
                "y",
                f"y has shape {arr.shape}; expected a (samples, labels) 0/1 matrix for multilabel",
            )
        bad = ~((arr == 0) | (arr == 1))
        if bad.any():
            first = arr[bad][0]
            raise _fail(
                source,
                task,
                "y",
                f"{int(bad.sum())} values are not 0/1 (e.g. {first}); expected a 0/1 matrix for multilabel",
            )
        return np.ascontiguousarray(arr, dtype=np.int64).copy()
    # multiclass / binary: one class id per sample
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise _fail(
            source,
            task,
            "y",
            f"y has shape {arr.shape}; expected one class id per sample (samples,) for {target}",
        )
    if arr.dtype.kind == "f":
        frac = arr != np.round(arr)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise _fail(
                source,
                task,
                "y",
                f"non-integer label {arr[i]} at sample {i} ({int(frac.sum())} in all); "
                f"expected integer class ids for {target}",
            )
    return np.ascontiguousarray(arr, dtype=np.int64).copy()


def _convert_index(idx: Any, name: str, *, source, task) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.dtype == object or arr.dtype.kind not in "iu":
        raise _fail(
            source, task, name, f"{name} has dtype {arr.dtype}; expected integer sample indices"
        )
    if arr.ndim != 1:
        raise _fail(source, task, name, f"{name} has shape {arr.shape}; expected a 1-D index array")
    return np.ascontiguousarray(arr, dtype=np.int64).copy()
