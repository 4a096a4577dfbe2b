"""Heterogeneity matrices: labelled square matrices with "not measured" entries.

A :class:`HeterogeneityMatrix` holds one value per ordered pair of units (a transfer matrix
``T[i, j]`` = transfer from source ``i`` to target ``j``) or per unordered pair (a distance
matrix). ``NaN`` marks an entry that was not measured. Optional per-entry ``std`` and
``count`` record the spread and the number of repeated measurements.

File format (JSON)::

    {"kind": "modality" | "interaction",
     "labels": ["task/mod", ...],
     "values": [[number | null, ...], ...],
     "std": [[...]], "count": [[...]],     # optional, same shape
     "provenance": {...}}                  # optional

``null`` means "not measured".
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hetero._io import read_json, write_json
from hetero.errors import MatrixFormatError

__all__ = ["MATRIX_KINDS", "HeterogeneityMatrix", "read_matrix", "square_values"]

MATRIX_KINDS = ("modality", "interaction")


def _as_square(
    name: str, data: Any, n: int, *, source: str | None, allow_nan: bool = True
) -> np.ndarray:
    """Convert nested lists / arrays to an (n, n) float array with one-line errors."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise MatrixFormatError(
                f"'{name}': expected a square 2-D array, got {data.ndim} dimension(s)",
                source=source,
            )
        if data.shape != (n, n):
            raise MatrixFormatError(
                f"'{name}': expected shape ({n}, {n}) to match {n} labels, got {data.shape}",
                source=source,
            )
        if data.dtype == object or not (
            np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_
        ):
            rows = data.tolist()
        else:
            out = data.astype(float)
            return _check_finite(name, out, source=source, allow_nan=allow_nan)
    else:
        rows = data
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise MatrixFormatError(
            f"'{name}': expected a list of {n} rows, got {type(rows).__name__}", source=source
        )
    if len(rows) != n:
        raise MatrixFormatError(
            f"'{name}': expected {n} rows to match {n} labels, got {len(rows)}", source=source
        )
    out = np.empty((n, n), dtype=float)
    for i, row in enumerate(rows):
        if not isinstance(row, (Sequence, np.ndarray)) or isinstance(row, (str, bytes)):
            raise MatrixFormatError(
                f"'{name}'[{i}]: expected a list of {n} numbers, got {type(row).__name__}",
                source=source,
            )
        if len(row) != n:
            raise MatrixFormatError(
                f"'{name}'[{i}]: matrix is not square: expected {n} entries, got {len(row)}",
                source=source,
            )
        for j, value in enumerate(row):
            if value is None:
                if not allow_nan:
                    raise MatrixFormatError(
                        f"'{name}'[{i}][{j}]: expected a number, got null", source=source
                    )
                out[i, j] = math.nan
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise MatrixFormatError(
                    f"'{name}'[{i}][{j}]: expected a number or null, got {value!r}",
                    source=source,
                )
            else:
                try:
                    out[i, j] = float(value)
                except OverflowError:
                    raise MatrixFormatError(
                        f"'{name}'[{i}][{j}]: number too large for a float; expected a finite "
                        "number or null",
                        source=source,
                    ) from None
    return _check_finite(name, out, source=source, allow_nan=allow_nan)


def _check_finite(name: str, arr: np.ndarray, *, source: str | None, allow_nan: bool) -> np.ndarray:
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        what = "a finite number or null" if allow_nan else "a finite number"
        raise MatrixFormatError(
            f"'{name}'[{i}][{j}]: expected {what}, got {arr[i, j]}", source=source
        )
    return arr


class HeterogeneityMatrix:
    """A labelled square matrix of transfer values or distances; NaN = not measured.

    Parameters
    ----------
    labels : sequence of str
        Unit labels (``task/modality`` or ``task/modA+modB``), distinct; row ``i`` and
        column ``i`` belong to ``labels[i]``.
    values : array-like of shape (n, n)
        Numbers; ``NaN`` (``None`` in lists) marks an entry that was not measured.
    kind : {"modality", "interaction"}, default="modality"
        Whether the rows are units or interaction units.
    std : array-like of shape (n, n), optional
        Standard deviation of each entry over repeated measurements (NaN where unknown).
    count : array-like of shape (n, n), optional
        Number of measurements behind each entry (non-negative integers).
    provenance : dict, optional
        How the matrix was produced.
    source : str, optional
        File the matrix came from, used in error messages.

    Raises
    ------
    MatrixFormatError
        Labels not distinct strings, values not square or not matching the labels,
        non-numeric or infinite entries, unknown kind.
    """

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def __init__(
        self,
        labels: Sequence[str],
        values: Any,
        *,
        kind: str = "modality",
        std: Any = None,
        count: Any = None,
        provenance: Mapping[str, Any] | None = None,
        source: str | os.PathLike | None = None,
    ):
        src = None if source is None else str(source)
        if kind not in MATRIX_KINDS:
            raise MatrixFormatError(
                f"'kind': expected one of {', '.join(MATRIX_KINDS)}, got {kind!r}", source=src
            )
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
            raise MatrixFormatError(
                f"'labels': expected a list of strings, got {type(labels).__name__}", source=src
            )
        labels = list(labels)
        for i, label in enumerate(labels):
            if not isinstance(label, str) or not label.strip():
                raise MatrixFormatError(
                    f"'labels'[{i}]: expected a non-empty string, got {label!r}", source=src
                )
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise MatrixFormatError(f"'labels': duplicate label {label!r}", source=src)
            seen.add(label)
        n = len(labels)
        if n == 0:
            raise MatrixFormatError("'labels': expected at least one label", source=src)
        if not isinstance(values, np.ndarray):
            if isinstance(values, Sequence) and len(values) != n:
                raise MatrixFormatError(
                    f"'values': {len(values)} rows do not match {n} labels", source=src
                )
        self.labels: tuple[str, ...] = tuple(labels)
        self.values: np.ndarray = _as_square("values", values, n, source=src)
        self.std: np.ndarray | None = None
        if std is not None:
            self.std = _as_square("std", std, n, source=src)
            if (self.std < 0).any():
                i, j = (int(v) for v in np.argwhere(self.std < 0)[0])
                raise MatrixFormatError(
                    f"'std'[{i}][{j}]: expected a non-negative number, got {self.std[i, j]}",
                    source=src,
                )
        self.count: np.ndarray | None = None
        if count is not None:
            cnt = _as_square("count", count, n, source=src)
            cnt = np.where(np.isnan(cnt), 0.0, cnt)
            if (cnt < 0).any() or (cnt != np.round(cnt)).any():
                i, j = (int(v) for v in np.argwhere((cnt < 0) | (cnt != np.round(cnt)))[0])
                raise MatrixFormatError(
                    f"'count'[{i}][{j}]: expected a non-negative integer, got {cnt[i, j]}",
                    source=src,
                )
            self.count = cnt.astype(np.int64)
        self.kind: str = kind
        self.provenance: dict[str, Any] = dict(provenance or {})
        self.source: str | None = src

    # ------------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        """Number of rows (units)."""
        return len(self.labels)

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of measured entries (``~isnan(values)``)."""
        return ~np.isnan(self.values)

    @property
    def is_complete(self) -> bool:
        """True when no entry is NaN."""
        return bool(self.observed.all())

    def index(self, label: str) -> int:
        """Row index of ``label``; :class:`MatrixFormatError` if absent."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise MatrixFormatError(
                f"label {label!r} not in matrix (labels: {', '.join(self.labels[:8])}"
                f"{', ...' if self.n > 8 else ''})",
                source=self.source,
            ) from None

    # ------------------------------------------------------------------ transforms
    def copy(self, **changes: Any) -> HeterogeneityMatrix:
        """Return a copy with some of ``labels, values, kind, std, count, provenance`` changed."""
        fields = {
            "labels": self.labels,
            "values": self.values.copy(),
            "kind": self.kind,
            "std": None if self.std is None else self.std.copy(),
            "count": None if self.count is None else self.count.copy(),
            "provenance": dict(self.provenance),
        }
        fields.update(changes)
        labels = fields.pop("labels")
        values = fields.pop("values")
        return HeterogeneityMatrix(labels, values, source=self.source, **fields)

    def reorder(self, labels: Sequence[str]) -> HeterogeneityMatrix:
        """Return the matrix with rows and columns in the order of ``labels``.

        ``labels`` must be a permutation of :attr:`labels`.
        """
        labels = list(labels)
        if sorted(labels) != sorted(self.labels) or len(set(labels)) != len(labels):
            missing = sorted(set(self.labels) - set(labels))
            extra = sorted(set(labels) - set(self.labels))
            raise MatrixFormatError(
                "reorder: labels must be a permutation of the matrix labels"
                f" (missing: {missing[:5]}, unknown: {extra[:5]})",
                source=self.source,
            )
        idx = np.array([self.labels.index(label) for label in labels], dtype=int)
        sel = np.ix_(idx, idx)
        return self.copy(
            labels=tuple(labels),
            values=self.values[sel],
            std=None if self.std is None else self.std[sel],
            count=None if self.count is None else self.count[sel],
        )

    def to_frame(self):
        """Return the values as a :class:`pandas.DataFrame` indexed by label (rows = sources)."""
        import pandas as pd

        return pd.DataFrame(self.values.copy(), index=list(self.labels), columns=list(self.labels))

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the file format (NaN becomes ``None``)."""
        from hetero._io import to_jsonable

        out: dict[str, Any] = {
            "kind": self.kind,
            "labels": list(self.labels),
            "values": to_jsonable(self.values),
        }
        if self.std is not None:
            out["std"] = to_jsonable(self.std)
        if self.count is not None:
            out["count"] = self.count.tolist()
        if self.provenance:
            out["provenance"] = to_jsonable(self.provenance)
        return out

    @classmethod
    def from_dict(cls, d: Any, source: str | os.PathLike | None = None) -> HeterogeneityMatrix:
        """Build a matrix from the file format's dict; one-line :class:`MatrixFormatError`."""
        src = None if source is None else str(source)
        if not isinstance(d, Mapping):
            raise MatrixFormatError(
                f"expected a JSON object with 'labels' and 'values', got {type(d).__name__}",
                source=src,
            )
        for key in ("labels", "values"):
            if key not in d:
                raise MatrixFormatError(f"missing field '{key}'", source=src)
        unknown = sorted(set(d) - {"kind", "labels", "values", "std", "count", "provenance"})
        if unknown:
            raise MatrixFormatError(
                f"unknown field(s) {', '.join(repr(k) for k in unknown)}"
                " (expected kind, labels, values, std, count, provenance)",
                source=src,
            )
        provenance = d.get("provenance")
        if provenance is not None and not isinstance(provenance, Mapping):
            raise MatrixFormatError("'provenance': expected a JSON object", source=src)
        return cls(
            d["labels"],
            d["values"],
            kind=d.get("kind", "modality"),
            std=d.get("std"),
            count=d.get("count"),
            provenance=provenance,
            source=src,
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> HeterogeneityMatrix:
        """Read a matrix JSON file."""
        return cls.from_dict(read_json(path, error=MatrixFormatError), source=path)

    def write(self, path: str | os.PathLike) -> None:
        """Write the matrix as JSON (atomically)."""
        write_json(path, self.to_dict())

    # ------------------------------------------------------------------ misc
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeterogeneityMatrix):
            return NotImplemented

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            if a is None or b is None:
                return a is None and b is None
            return bool(np.array_equal(a, b, equal_nan=True))

        return (
            self.labels == other.labels
            and self.kind == other.kind
            and same(self.values, other.values)
            and same(self.std, other.std)
            and same(
                None if self.count is None else self.count.astype(float),
                None if other.count is None else other.count.astype(float),
            )
        )

    def __repr__(self) -> str:
        return (
            f"HeterogeneityMatrix(kind={self.kind!r}, n={self.n}, "
            f"observed={int(self.observed.sum())}/{self.n * self.n})"
        )

    def _repr_html_(self) -> str:
        """Notebook display (:func:`hetero.report.display.matrix_html`)."""
        from hetero.report.display import matrix_html

        return matrix_html(self)


def square_values(
    matrix: HeterogeneityMatrix | Any, *, name: str = "matrix", allow_nan: bool = True
) -> tuple[np.ndarray, tuple[str, ...], str | None]:
    """The one check of a square matrix given as a :class:`HeterogeneityMatrix` or an array.

    Returns a float copy of the values, the labels (``"0"``, ``"1"``, ... for an array) and
    the source file (or None). Raises a one-line :class:`MatrixFormatError` naming ``name``
    for a non-square shape, infinite values, or NaN when ``allow_nan`` is False.
    """
    if isinstance(matrix, HeterogeneityMatrix):
        values, labels, source = np.array(matrix.values, dtype=float), matrix.labels, matrix.source
    else:
        try:
            values = np.array(matrix, dtype=float)
        except (TypeError, ValueError) as exc:
            raise MatrixFormatError(f"{name}: expected a square numeric matrix ({exc})") from None
        labels, source = (), None
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise MatrixFormatError(
            f"{name}: expected a square matrix, got shape {values.shape}", source=source
        )
    if not isinstance(matrix, HeterogeneityMatrix):
        labels = tuple(str(i) for i in range(values.shape[0]))
    if np.isinf(values).any():
        raise MatrixFormatError(f"{name}: expected finite values or NaN, found inf", source=source)
    if not allow_nan and np.isnan(values).any():
        raise MatrixFormatError(
            f"{name}: {int(np.isnan(values).sum())} unmeasured entries; complete it first "
            "(hetero complete)",
            source=source,
        )
    return values, tuple(labels), source


def read_matrix(path: str | os.PathLike) -> HeterogeneityMatrix:
    """Read a matrix JSON file (same as :meth:`HeterogeneityMatrix.read`)."""
    return HeterogeneityMatrix.read(path)
