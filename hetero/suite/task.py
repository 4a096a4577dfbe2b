"""Task: one supervised task (modalities, target, data, splits, loss and metric)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hetero.errors import SuiteError
from hetero.suite._checks import (
    _RESERVED,
    MATCH_MODES,
    SPLIT_NAMES,
    TARGETS,
    _check_name,
    _fail,
    _is_int,
    _join,
    _resolve_objective,
)
from hetero.suite.data import TaskData, _convert_index, _convert_y, _to_float32
from hetero.suite.modality import Modality, _modality_decls
from hetero.suite.splits import _parse_split_spec, fraction_split
from hetero.suite.units import Unit

__all__ = ["Task"]


class Task:
    """One supervised task: its modalities, target kind, data, splits, loss and metric.

    Most users build tasks with :meth:`from_arrays` (Python) or :func:`load_suite` (YAML).
    The constructor checks that ``data`` is consistent with the declaration and raises
    :class:`~hetero.errors.SuiteError` otherwise.

    Parameters
    ----------
    name : str
    modalities : sequence of Modality
        In declaration order, with ``shape`` filled.
    target : {"multiclass", "binary", "multilabel", "regression", "retrieval"}
    data : TaskData
    n_outputs : int, optional
        Derived from ``y`` when None: classes (max label + 1) for multiclass, 1 for binary,
        label columns for multilabel, target columns (1 for 1-D ``y``) for regression, 2
        for retrieval (one embedding per modality of a sample).
    loss, metric : str, optional
        Defaults by target (see the module docstring); see :data:`LOSSES`, :data:`METRICS`.
    higher_is_better : bool, optional
        Defaults to the metric's direction.
    source : str, optional
        File the task came from (used in error messages).
    match : {"pair", "label"}, optional
        Retrieval tasks only (default ``"pair"``): items match when their ``y`` is equal.
        ``pair``: ``y`` holds the row indices ``0..n-1`` (row i of one modality matches
        row i of the other only); ``label``: ``y`` holds class labels (any same-label item
        is a match). None for other targets.

    Attributes
    ----------
    name, modalities, target, data, n_outputs, loss, metric, higher_is_better, source, match
    """

    def __init__(
        self,
        name: str,
        modalities: Sequence[Modality],
        target: str,
        data: TaskData,
        *,
        n_outputs: int | None = None,
        loss: str | None = None,
        metric: str | None = None,
        higher_is_better: bool | None = None,
        source: str | os.PathLike | None = None,
        match: str | None = None,
    ):
        src = None if source is None else str(source)
        _check_name_and_target(src, name, target)
        match = _check_match(src, name, target, match)
        modalities = tuple(modalities)
        if not modalities:
            raise _fail(src, name, "modalities", "no modalities; expected at least one")
        _check_retrieval_modalities(src, name, target, len(modalities))
        seen: set[str] = set()
        for i, m in enumerate(modalities):
            if not isinstance(m, Modality):
                raise _fail(
                    src, name, f"modalities[{i}]", f"expected a Modality, got {type(m).__name__}"
                )
            if m.name in seen:
                raise _fail(
                    src, name, f"modalities[{i}].name", f"duplicate modality name '{m.name}'"
                )
            seen.add(m.name)
        if not isinstance(data, TaskData):
            raise _fail(src, name, "data", f"expected a TaskData, got {type(data).__name__}")

        self.name: str = name
        self.modalities: tuple[Modality, ...] = modalities
        self.target: str = target
        self.data: TaskData = data
        self.source: str | None = src
        self.match: str | None = match
        self._check_data()
        self.n_outputs: int = self._resolve_n_outputs(n_outputs)
        self._check_labels()
        self.loss, self.metric, self.higher_is_better = self._resolve_objective(
            loss, metric, higher_is_better
        )
        self._fingerprints: dict[tuple[str, ...], str] = {}

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_arrays(
        cls,
        name: str,
        arrays: Mapping[str, Any],
        y: Any,
        *,
        target: str,
        modalities: Sequence[Modality | Mapping[str, Any] | str] | None = None,
        train_idx: Any = None,
        val_idx: Any = None,
        test_idx: Any = None,
        split: Mapping[str, Any] | None = None,
        n_classes: int | None = None,
        loss: str | None = None,
        metric: str | None = None,
        higher_is_better: bool | None = None,
        source: str | os.PathLike | None = None,
        copy: bool = True,
        match: str | None = None,
    ) -> Task:
        """Build and validate a task from numpy arrays.

        Parameters
        ----------
        name : str
            Task name.
        arrays : mapping of str -> array-like
            One array per modality, first axis = samples. Keys that no modality uses are
            ignored.
        y : array-like or None
            Targets: class ids 0..K-1 (multiclass), 0/1 (binary), a 0/1 matrix
            (multilabel), numbers (regression) or, for retrieval, one integer label per
            sample (required with ``match="label"``; with ``match="pair"`` optional and used
            only to stratify the split: the task stores the row indices as ``y``).
        target : {"multiclass", "binary", "multilabel", "regression", "retrieval"}
        modalities : sequence of Modality, dict or str, optional
            Declared modalities, in order. A dict takes the :class:`Modality` fields plus
            ``array`` (the key in ``arrays`` when it differs from the name); a str is a name.
            Shapes are filled from the data (a declared non-empty shape must match).
            Default: one modality of kind ``"other"`` per key of ``arrays``.
        train_idx, val_idx, test_idx : array-like of int, optional
            Split indices; give all three or none. They take precedence over ``split``.
        split : mapping, optional
            ``{"val": 0.2, "test": 0.2, "seed": 0}`` (missing keys take these defaults);
            used when no index arrays are given. Stratified by class for multiclass and
            binary targets.
        n_classes : int, optional
            Number of classes of a multiclass task (default: max label + 1).
        loss, metric, higher_is_better : optional
            Override the defaults of the target.
        source : str or path-like, optional
            File the data came from (for error messages).
        copy : bool, default True
            Copy input arrays that are already float32 and C-contiguous, so that later
            changes to them cannot alter the task.
        match : {"pair", "label"}, optional
            Retrieval tasks only (default ``"pair"``); see :class:`Task`.

        Returns
        -------
        Task
        """
        src = None if source is None else str(source)
        _check_name_and_target(src, name, target)
        match = _check_match(src, name, target, match)
        if not isinstance(arrays, Mapping):
            raise _fail(
                src,
                name,
                "arrays",
                f"expected a mapping name -> array, got {type(arrays).__name__}",
            )

        # declared modalities -> (Modality without shape check, array key)
        if modalities is None:
            modalities = [k for k in arrays if k not in _RESERVED]
        decls = _modality_decls(modalities, src, name)
        _check_retrieval_modalities(src, name, target, len(decls))

        # arrays
        found = sorted(arrays) + ([] if y is None else ["y"])
        found = sorted(set(found))
        conv: dict[str, np.ndarray] = {}
        mods: list[Modality] = []
        for i, (m, key, key_fld) in enumerate(decls):
            if key not in arrays:
                raise _fail(src, name, key_fld, f"array '{key}' not found (found: {_join(found)})")
            a = _to_float32(
                arrays[key], copy=copy, source=src, task=name, fld=key_fld, array_name=key
            )
            per_sample = tuple(int(s) for s in a.shape[1:])
            if m.shape and m.shape != per_sample:
                raise _fail(
                    src,
                    name,
                    f"modalities[{i}].shape",
                    f"declared {m.shape} but array '{key}' has per-sample shape {per_sample}",
                )
            if m.positional_axes is not None and m.positional_axes > len(per_sample):
                raise _fail(
                    src,
                    name,
                    f"modalities[{i}].positional_axes",
                    f"{m.positional_axes} exceeds the {len(per_sample)} per-sample axes of "
                    f"array '{key}' (shape {per_sample})",
                )
            if 0 in per_sample:
                raise _fail(
                    src, name, key_fld, f"array '{key}' has an empty axis (shape {a.shape})"
                )
            mods.append(replace(m, shape=per_sample))
            conv[m.name] = a

        if y is None and not (target == "retrieval" and match == "pair"):
            need = " (match: label needs one class label per sample)" if match else ""
            raise _fail(src, name, "y", f"targets 'y' not found{need} (found: {_join(found)})")
        if y is None:  # retrieval by pair: the rows are the labels
            yy = np.arange(int(conv[decls[0][0].name].shape[0]), dtype=np.int64)
        else:
            yy = _convert_y(y, target, source=src, task=name)
        n = int(yy.shape[0])
        if n == 0:
            raise _fail(src, name, "y", "no samples; expected at least 3 (train, val, test)")
        for m, key, key_fld in decls:
            if conv[m.name].shape[0] != n:
                raise _fail(
                    src,
                    name,
                    key_fld,
                    f"array '{key}' has {conv[m.name].shape[0]} samples but y has {n}; "
                    "expected the same first axis",
                )

        # splits
        given = {"train_idx": train_idx, "val_idx": val_idx, "test_idx": test_idx}
        present = [k for k, v in given.items() if v is not None]
        if present and len(present) < 3:
            absent = [k for k in given if given[k] is None]
            raise _fail(
                src,
                name,
                absent[0],
                f"found {_join(present)} but not {_join(absent)}; expected all three index arrays or none",
            )
        if present:
            idx = [_convert_index(given[k], k, source=src, task=name) for k in given]
        else:
            val, test, seed = _parse_split_spec(split, source=src, task=name)
            stratify = target in ("multiclass", "binary") or (
                target == "retrieval" and y is not None
            )
            strata = yy if stratify else None
            idx = list(fraction_split(n, val, test, seed, strata))
        if target == "retrieval" and match == "pair":  # each row matches only itself
            yy = np.arange(n, dtype=np.int64)

        if n_classes is not None:
            if target != "multiclass":
                raise _fail(
                    src, name, "n_classes", f"only valid for multiclass tasks, not {target}"
                )
            if not _is_int(n_classes) or n_classes < 2:
                raise _fail(src, name, "n_classes", f"expected an int >= 2, got {n_classes!r}")
        data = TaskData(conv, yy, *idx)
        return cls(
            name,
            mods,
            target,
            data,
            n_outputs=None if n_classes is None else int(n_classes),
            loss=loss,
            metric=metric,
            higher_is_better=higher_is_better,
            source=src,
            match=match,
        )

    # ---------------------------------------------------------------- validation

    def _err(self, fld: str | None, reason: str) -> SuiteError:
        return _fail(self.source, self.name, fld, reason)

    def _check_data(self) -> None:
        d = self.data
        n = d.n_samples
        for i, m in enumerate(self.modalities):
            fld = f"modalities[{i}].name"
            if m.name not in d.arrays:
                raise self._err(
                    fld, f"array '{m.name}' not found (found: {_join(sorted(d.arrays))})"
                )
            a = d.arrays[m.name]
            if a.dtype != np.float32:
                raise self._err(
                    fld,
                    f"array '{m.name}' has dtype {a.dtype}; expected float32 (use Task.from_arrays)",
                )
            if tuple(a.shape[1:]) != m.shape:
                raise self._err(
                    f"modalities[{i}].shape",
                    f"declared {m.shape} but array '{m.name}' has per-sample shape {tuple(a.shape[1:])}",
                )
            if a.shape[0] != n:
                raise self._err(
                    fld,
                    f"array '{m.name}' has {a.shape[0]} samples but y has {n}; expected the same first axis",
                )
        want = np.float32 if self.target == "regression" else np.int64
        if d.y.dtype != want:
            raise self._err(
                "y",
                f"y has dtype {d.y.dtype}; expected {np.dtype(want)} for {self.target} (use Task.from_arrays)",
            )
        seen = np.zeros(n, dtype=bool)
        for split in SPLIT_NAMES:
            key = f"{split}_idx"
            idx = d.indices(split)
            if idx.size == 0:
                raise self._err(key, f"the {split} split is empty; expected at least one sample")
            out = (idx < 0) | (idx >= n)
            if out.any():
                raise self._err(
                    key,
                    f"{int(out.sum())} indices out of range (e.g. {int(idx[out][0])}); expected 0..{n - 1}",
                )
            uniq = np.unique(idx)
            if uniq.size != idx.size:
                raise self._err(
                    key,
                    f"{idx.size - uniq.size} duplicate indices; expected each sample at most once",
                )
            overlap = seen[uniq]
            if overlap.any():
                raise self._err(
                    key,
                    f"{int(overlap.sum())} indices (e.g. {int(uniq[overlap][0])}) also appear in an "
                    "earlier split; expected disjoint train/val/test",
                )
            seen[uniq] = True

    def _resolve_n_outputs(self, n_outputs: int | None) -> int:
        y = self.data.y
        if self.target == "binary":
            derived = 1
        elif self.target == "multilabel":
            derived = int(y.shape[1])
        elif self.target == "regression":
            derived = 1 if y.ndim == 1 else int(y.shape[1])
        elif self.target == "retrieval":
            derived = 2
        else:
            derived = int(y.max()) + 1 if y.size else 0
        if n_outputs is None:
            return derived
        if not _is_int(n_outputs) or n_outputs < 1:
            raise self._err("n_outputs", f"expected a positive int, got {n_outputs!r}")
        if self.target != "multiclass" and n_outputs != derived:
            raise self._err(
                "n_outputs", f"{n_outputs} does not match y ({derived} for {self.target})"
            )
        return int(n_outputs)

    def _check_labels(self) -> None:
        y = self.data.y
        train = y[self.data.train_idx]
        if self.target == "retrieval":
            self._check_retrieval()
        elif self.target in ("multiclass", "binary"):
            k = 2 if self.target == "binary" else self.n_outputs
            expected = "0 or 1 for binary" if self.target == "binary" else f"class ids 0..{k - 1}"
            bad = (y < 0) | (y >= k)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise self._err(
                    "y",
                    f"label {int(y[i])} at sample {i} out of range ({int(bad.sum())} in all); expected {expected}",
                )
            if self.target == "multiclass" and k < 2:
                raise self._err(
                    "y", f"only {k} class found; expected at least 2 classes for multiclass"
                )
            counts = np.bincount(train, minlength=k)
            absent = np.flatnonzero(counts == 0)
            if absent.size:
                c = int(absent[0])
                where = [s for s in ("val", "test") if np.any(y[self.data.indices(s)] == c)]
                elsewhere = (
                    f"present only in {_join(where)}" if where else "absent from every split"
                )
                raise self._err(
                    "y",
                    f"class {c} has no sample in the train split ({elsewhere}; {absent.size} such classes); "
                    f"expected every class 0..{k - 1} in train",
                )
        elif self.target == "multilabel":
            pos = train.sum(axis=0)
            absent = np.flatnonzero(pos == 0)
            if absent.size:
                raise self._err(
                    "y",
                    f"label column {int(absent[0])} has no positive sample in the train split "
                    f"({absent.size} such columns); expected every label positive at least once in train",
                )

    def _check_retrieval(self) -> None:
        y = self.data.y
        if y.ndim != 1:
            raise self._err("y", f"y has shape {y.shape}; expected one label per sample (samples,)")
        if self.match == "pair" and not np.array_equal(y, np.arange(y.shape[0])):
            raise self._err(
                "y", "match 'pair' needs y = the row indices 0..n-1 (use Task.from_arrays)"
            )
        for split in SPLIT_NAMES:
            if self.data.indices(split).size < 2:
                raise self._err(
                    f"{split}_idx",
                    f"the {split} split has {self.data.indices(split).size} sample; a retrieval "
                    "task needs at least 2 per split (a gallery to rank)",
                )

    def _resolve_objective(
        self, loss: str | None, metric: str | None, higher_is_better: bool | None
    ) -> tuple[str, str, bool]:
        resolved = _resolve_objective(self.target, loss, metric, higher_is_better)
        if isinstance(resolved[0], tuple):
            raise self._err(*resolved[0])
        return resolved  # type: ignore[return-value,unused-ignore]

    # ---------------------------------------------------------------- accessors

    @property
    def modality_names(self) -> tuple[str, ...]:
        """Modality names in declaration order."""
        return tuple(m.name for m in self.modalities)

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.data.n_samples

    @property
    def is_classification(self) -> bool:
        """True for multiclass and binary targets."""
        return self.target in ("multiclass", "binary")

    def modality(self, name: str) -> Modality:
        """The modality called ``name``."""
        for m in self.modalities:
            if m.name == name:
                return m
        raise self._err(
            "modalities", f"no modality {name!r}; expected one of: {_join(self.modality_names)}"
        )

    def standardized_columns(self, names: Sequence[str]) -> np.ndarray:
        """Boolean mask over the flattened features of modalities ``names`` concatenated in
        that order: True for the columns of modalities to standardise, False for those
        declared ``standardize: false``."""
        return np.concatenate(
            [
                np.full(int(np.prod(m.shape)), m.standardize)
                for m in (self.modality(name) for name in names)
            ]
        )

    def units(self) -> list[Unit]:
        """One :class:`Unit` per modality, in declaration order."""
        return [Unit(self.name, (m,)) for m in self.modality_names]

    def interaction_units(self) -> list[Unit]:
        """One :class:`Unit` per unordered modality pair (i < j in declaration order)."""
        names = self.modality_names
        return [
            Unit(self.name, (names[i], names[j]))
            for i in range(len(names))
            for j in range(i + 1, len(names))
        ]

    def fingerprint(self, modalities: Sequence[str] | None = None) -> str:
        """SHA-256 hex digest of the data this task gives a learner.

        Covers the target, ``y``, the split indices and, for each used modality (in
        declaration order, whatever the order of ``modalities``), its name, layout
        (positions, channels, and ``standardize`` when it is off), dtype, shape and bytes.
        It does not cover the task name, the modality kinds, the Fourier settings, loss or
        metric. Stable across processes.

        Parameters
        ----------
        modalities : sequence of str, optional
            Modalities to include (default: all).
        """
        if modalities is None or self.target == "retrieval":
            # a retrieval unit's loss reads both modalities (the other one is its partner)
            used = self.modality_names
        else:
            if isinstance(modalities, str):
                modalities = (modalities,)
            wanted = set(modalities)
            unknown = sorted(wanted - set(self.modality_names))
            if unknown:
                raise self._err(
                    "modalities",
                    f"no modality {unknown[0]!r}; expected some of: {_join(self.modality_names)}",
                )
            used = tuple(m for m in self.modality_names if m in wanted)
        cached = self._fingerprints.get(used)
        if cached is not None:
            return cached
        h = hashlib.sha256()

        def put(b: bytes) -> None:
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)

        def put_array(a: np.ndarray) -> None:
            a = np.ascontiguousarray(a)
            put(f"{a.dtype.str}|{a.shape}".encode())
            h.update(a.size.to_bytes(8, "little"))
            h.update(a.tobytes())  # contiguous, so the same bytes as a memoryview

        put(b"hetero.task.v1")
        put(self.target.encode())
        if self.match is not None:
            put(f"match|{self.match}".encode())
        for name in used:
            m = self.modality(name)
            # an opted-out standardisation changes what a learner sees; the default adds
            # nothing, so fingerprints from before the field existed stay the same
            raw = "" if m.standardize else "|raw"
            put(f"{m.name}|{m.positions}|{m.channels}{raw}".encode())
            put_array(self.data.arrays[name])
        put_array(self.data.y)
        for s in SPLIT_NAMES:
            put_array(self.data.indices(s))
        digest = h.hexdigest()
        self._fingerprints[used] = digest
        return digest

    def rename(self, name: str) -> Task:
        """A copy of this task under another name (data shared, not copied)."""
        return Task(
            name,
            self.modalities,
            self.target,
            self.data,
            n_outputs=self.n_outputs,
            loss=self.loss,
            metric=self.metric,
            higher_is_better=self.higher_is_better,
            source=self.source,
            match=self.match,
        )

    def summary(self) -> dict[str, Any]:
        """JSON-able description: target, sizes, splits, objective and modality layouts."""
        return {
            "name": self.name,
            "target": self.target,
            "n_outputs": self.n_outputs,
            "loss": self.loss,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            **({} if self.match is None else {"match": self.match}),
            "n_samples": self.n_samples,
            "n_train": len(self.data.train_idx),
            "n_val": len(self.data.val_idx),
            "n_test": len(self.data.test_idx),
            "source": self.source,
            "modalities": [m.to_dict() for m in self.modalities],
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return (
            self.name == other.name
            and self.modalities == other.modalities
            and self.target == other.target
            and self.n_outputs == other.n_outputs
            and self.loss == other.loss
            and self.metric == other.metric
            and self.higher_is_better == other.higher_is_better
            and self.match == other.match
            and self.data == other.data
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        mods = ", ".join(f"{m.name}:{m.kind}{m.shape}" for m in self.modalities)
        return f"Task({self.name!r}, {self.target}, n={self.n_samples}, n_outputs={self.n_outputs}, [{mods}])"


def _check_name_and_target(src: str | None, name: Any, target: Any) -> None:
    """The checks every way of building a task starts with."""
    why = _check_name(name)
    if why is not None:
        raise _fail(src, None, "name", why)
    if target not in TARGETS:
        raise _fail(
            src, name, "target", f"unknown target {target!r}; expected one of: {_join(TARGETS)}"
        )


def _check_match(src: str | None, name: str, target: str, match: Any) -> str | None:
    """The resolved ``match`` of a task: ``"pair"`` by default for retrieval, else None."""
    if target != "retrieval":
        if match is not None:
            raise _fail(src, name, "match", f"only valid for target retrieval, not {target}")
        return None
    if match is None:
        return "pair"
    if match not in MATCH_MODES:
        raise _fail(
            src, name, "match", f"unknown match {match!r}; expected one of: {_join(MATCH_MODES)}"
        )
    return str(match)


def _check_retrieval_modalities(src: str | None, name: str, target: str, n: int) -> None:
    if target == "retrieval" and n != 2:
        raise _fail(
            src,
            name,
            "modalities",
            f"a retrieval task needs exactly two modalities (query, gallery), got {n}",
        )
