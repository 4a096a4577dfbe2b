"""Suites of multimodal tasks: modalities, tasks, units, YAML + npz loading and validation.

A :class:`Suite` is a list of :class:`Task` objects. Each task holds one array per
:class:`Modality` (first axis = samples), the targets ``y`` and train / val / test index
arrays. A *unit* is one (task, modality) pair, labelled ``task/modality``; an *interaction
unit* is one unordered pair of modalities of a task, labelled ``task/modA+modB`` with the two
names in alphabetical order.

Suites are declared in Python (:meth:`Task.from_arrays`, :class:`Suite`) or in YAML
(:func:`load_suite`), where each task points at an ``.npz`` file (one array per modality,
``y``, optional ``train_idx`` / ``val_idx`` / ``test_idx``) or at a dataset loader::

    name: my-suite               # optional; defaults to the file's stem
    tasks:
      - name: speech
        data: speech.npz         # relative to the YAML file
        target: multiclass       # multiclass | binary | multilabel | regression
        modalities:
          - {name: audio, kind: audio}
          - {name: lips, kind: video}
        split: {val: 0.2, test: 0.2, seed: 0}   # used when the npz has no index arrays
      - name: digits
        dataset: mfeat           # hetero.datasets.load_task("mfeat", **options)
        options: {views: [image, fourier]}

Array layout: ``(samples, *positional axes, channels)``. By default the last per-sample axis
holds the channels and the earlier ones are positions, except a 1-D per-sample shape
``(F,)``, which is F positions with one channel. ``positional_axes`` overrides this.

Defaults per target (overridable with ``loss:``, ``metric:``, ``higher_is_better:``):

============ ======================= ========== ================ ==========================
target       loss                    metric     higher_is_better n_outputs
============ ======================= ========== ================ ==========================
multiclass   cross_entropy           accuracy   True             number of classes K
binary       binary_cross_entropy    accuracy   True             1
multilabel   binary_cross_entropy    f1_macro   True             number of label columns
regression   mse                     mse        False            number of target columns
============ ======================= ========== ================ ==========================

Binary tasks default to accuracy rather than AUROC because accuracy is defined on every
split, including a small test split that happens to hold a single class.

Every problem the user can cause raises :class:`hetero.errors.SuiteError` with a one-line
message naming the file, the task, the field and what was expected. ``.npz`` files are read
with ``allow_pickle=False``: they are never unpickled.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import math
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hetero.errors import HeteroError, SuiteError

__all__ = [
    "DEFAULT_SPLIT",
    "LOSSES",
    "METRICS",
    "MODALITY_KINDS",
    "SPLIT_NAMES",
    "TARGETS",
    "Modality",
    "Suite",
    "Task",
    "TaskData",
    "Unit",
    "fraction_split",
    "load_suite",
]

MODALITY_KINDS: tuple[str, ...] = (
    "image",
    "video",
    "audio",
    "timeseries",
    "table",
    "text",
    "set",
    "graph",
    "other",
)
TARGETS: tuple[str, ...] = ("multiclass", "binary", "multilabel", "regression")
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
DEFAULT_SPLIT: dict[str, Any] = {"val": 0.2, "test": 0.2, "seed": 0}

#: loss name -> targets it applies to
LOSSES: dict[str, tuple[str, ...]] = {
    "cross_entropy": ("multiclass",),
    "binary_cross_entropy": ("binary", "multilabel"),
    "mse": ("regression",),
    "l1": ("regression",),
}
#: metric name -> (higher_is_better, targets it applies to)
METRICS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "accuracy": (True, ("multiclass", "binary")),
    "balanced_accuracy": (True, ("multiclass", "binary")),
    "f1_macro": (True, ("multiclass", "binary", "multilabel")),
    "f1_micro": (True, ("multiclass", "binary", "multilabel")),
    "auroc": (True, ("binary", "multilabel")),
    "mse": (False, ("regression",)),
    "mae": (False, ("regression",)),
    "r2": (True, ("regression",)),
}
_DEFAULT_LOSS = {
    "multiclass": "cross_entropy",
    "binary": "binary_cross_entropy",
    "multilabel": "binary_cross_entropy",
    "regression": "mse",
}
_DEFAULT_METRIC = {
    "multiclass": "accuracy",
    "binary": "accuracy",
    "multilabel": "f1_macro",
    "regression": "mse",
}
# npz keys that are not modalities
_RESERVED = ("y", "train_idx", "val_idx", "test_idx")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

_SUITE_KEYS = ("name", "description", "tasks")
_NPZ_TASK_KEYS = (
    "name",
    "data",
    "target",
    "modalities",
    "split",
    "loss",
    "metric",
    "higher_is_better",
    "n_classes",
    "description",
)
_DATASET_TASK_KEYS = ("name", "dataset", "options", "description")
_MODALITY_KEYS = ("name", "kind", "array", "shape", "positional_axes", "num_freq_bands", "max_freq")
_SPLIT_KEYS = ("val", "test", "seed")


# --------------------------------------------------------------------------- helpers


def _join(items: Sequence[Any]) -> str:
    return ", ".join(str(x) for x in items) if len(items) else "none"


def _fail(source: str | None, task: str | None, fld: str | None, reason: str) -> SuiteError:
    prefix = "" if task is None else f"task '{task}': "
    if fld:
        prefix += f"{fld}: "
    return SuiteError(prefix + reason, source=source)


def _unknown_key_reason(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}; valid keys: {_join(sorted(valid))}"


def _check_name(value: Any) -> str | None:
    """Return why ``value`` is not a valid task/modality name, or None."""
    if not isinstance(value, str) or not value:
        return f"expected a non-empty string, got {value!r}"
    if not _NAME_RE.match(value):
        return (
            f"invalid name {value!r}; expected letters, digits, '_', '.' or '-' "
            "(no '/', '+' or spaces, which separate unit labels)"
        )
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _modality_field_problem(
    name: Any,
    kind: Any,
    shape: Any,
    positional_axes: Any,
    num_freq_bands: Any,
    max_freq: Any,
) -> tuple[str, str] | None:
    """Return (field, reason) for the first invalid Modality field, or None."""
    why = _check_name(name)
    if why is not None:
        return "name", why
    if name in _RESERVED:
        return "name", f"'{name}' is reserved for npz keys ({_join(_RESERVED)}); pick another name"
    if kind not in MODALITY_KINDS:
        return "kind", f"unknown kind {kind!r}; expected one of: {_join(MODALITY_KINDS)}"
    if not isinstance(shape, tuple) or not all(_is_int(s) and s > 0 for s in shape):
        return "shape", f"expected a tuple of positive ints, got {shape!r}"
    if positional_axes is not None:
        if not _is_int(positional_axes) or positional_axes < 0:
            return "positional_axes", f"expected an int >= 0 or null, got {positional_axes!r}"
        if shape and positional_axes > len(shape):
            return (
                "positional_axes",
                f"{positional_axes} exceeds the {len(shape)} per-sample axes of shape {shape}",
            )
    if not _is_int(num_freq_bands) or num_freq_bands < 0:
        return "num_freq_bands", f"expected an int >= 0, got {num_freq_bands!r}"
    if (
        isinstance(max_freq, bool)
        or not isinstance(max_freq, (int, float, np.integer, np.floating))
        or not _finite_float(max_freq)
        or float(max_freq) <= 0
    ):
        return "max_freq", f"expected a positive finite number, got {max_freq!r}"
    return None


def _finite_float(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        return False


# --------------------------------------------------------------------------- Modality


@dataclass(frozen=True)
class Modality:
    """One input modality of a task.

    Parameters
    ----------
    name : str
        Modality name. The same name in two tasks denotes the same modality (it shares its
        embedding index in HighMMT), so it must have the same ``kind`` and ``channels``.
    kind : str, default "other"
        One of :data:`MODALITY_KINDS`.
    shape : tuple of int, default ()
        Per-sample shape as stored; filled from the data by :meth:`Task.from_arrays`.
    positional_axes : int or None, default None
        How many leading axes of ``shape`` are positions; the remaining axes are flattened
        into channels. None applies the layout rule: all but the last axis are positions,
        except a 1-D shape ``(F,)``, which is F positions with one channel.
    num_freq_bands : int, default 6
        Fourier bands used to encode positions (``hetero_models``).
    max_freq : float, default 10.0
        Highest Fourier frequency (``hetero_models``).
    """

    name: str
    kind: str = "other"
    shape: tuple[int, ...] = ()
    positional_axes: int | None = None
    num_freq_bands: int = 6
    max_freq: float = 10.0

    def __post_init__(self) -> None:
        shape = self.shape
        if isinstance(shape, (list, np.ndarray)):
            shape = tuple(int(s) for s in shape)
            object.__setattr__(self, "shape", shape)
        problem = _modality_field_problem(
            self.name, self.kind, shape, self.positional_axes, self.num_freq_bands, self.max_freq
        )
        if problem is not None:
            raise SuiteError(f"modality {self.name!r}: {problem[0]}: {problem[1]}")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        if self.positional_axes is not None:
            object.__setattr__(self, "positional_axes", int(self.positional_axes))
        object.__setattr__(self, "num_freq_bands", int(self.num_freq_bands))
        object.__setattr__(self, "max_freq", float(self.max_freq))

    @property
    def effective_positional_axes(self) -> int:
        """Number of leading per-sample axes that are positions (after the default rule)."""
        if self.positional_axes is not None:
            return self.positional_axes
        if len(self.shape) <= 1:
            return len(self.shape)
        return len(self.shape) - 1

    @property
    def positions(self) -> tuple[int, ...]:
        """Sizes of the positional axes (``()`` = a single position)."""
        return self.shape[: self.effective_positional_axes]

    @property
    def n_positions(self) -> int:
        """Number of positions (tokens) per sample: the product of :attr:`positions`."""
        return math.prod(self.positions)

    @property
    def channels(self) -> int:
        """Features per position: the product of the non-positional axes."""
        return math.prod(self.shape[self.effective_positional_axes :])

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict description (JSON-able), including the derived layout."""
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "positional_axes": self.positional_axes,
            "positions": list(self.positions),
            "channels": self.channels,
            "num_freq_bands": self.num_freq_bands,
            "max_freq": self.max_freq,
        }


# --------------------------------------------------------------------------- Unit


@dataclass(frozen=True, order=True)
class Unit:
    """A unit (one modality of a task) or an interaction unit (two modalities of a task).

    The modalities of an interaction unit are stored in alphabetical order, so
    ``Unit("t", ("b", "a")) == Unit("t", ("a", "b"))`` and labels are canonical.
    """

    task: str
    modalities: tuple[str, ...]

    def __post_init__(self) -> None:
        mods = self.modalities
        if isinstance(mods, str):
            mods = (mods,)
        mods = tuple(mods)
        if len(mods) not in (1, 2) or len(set(mods)) != len(mods):
            raise SuiteError(
                f"unit of task {self.task!r}: expected one modality or two distinct ones, "
                f"got {mods!r}"
            )
        for value in (self.task, *mods):
            why = _check_name(value)
            if why is not None:
                raise SuiteError(f"unit: {why}")
        object.__setattr__(self, "modalities", tuple(sorted(mods)))

    @property
    def label(self) -> str:
        """``task/modality`` or ``task/modA+modB``."""
        return f"{self.task}/{'+'.join(self.modalities)}"

    @property
    def is_interaction(self) -> bool:
        """True for an interaction unit (two modalities)."""
        return len(self.modalities) == 2

    @classmethod
    def parse(cls, label: str) -> Unit:
        """Parse ``task/mod`` or ``task/modA+modB`` into a :class:`Unit`."""
        if not isinstance(label, str) or label.count("/") != 1:
            raise SuiteError(f"unit label {label!r}: expected 'task/modality' or 'task/modA+modB'")
        task, mods = label.split("/")
        parts = tuple(mods.split("+"))
        if len(parts) > 2 or not all(parts) or not task:
            raise SuiteError(f"unit label {label!r}: expected 'task/modality' or 'task/modA+modB'")
        return cls(task, parts)

    def __str__(self) -> str:
        return self.label


# --------------------------------------------------------------------------- TaskData


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
    if strata is None:
        groups = [rng.permutation(n)]
    else:
        groups = [rng.permutation(np.flatnonzero(strata == c)) for c in np.unique(strata)]
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    n_test = max(1, round(test * n))
    n_val = max(1, round(val * n))
    t = _allocate(sizes, test, n_test, np.maximum(sizes - 1, 0))
    v = _allocate(sizes, val, n_val, np.maximum(sizes - t - 1, 0))
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for g, tc, vc in zip(groups, t, v, strict=True):
        parts["test"].append(g[:tc])
        parts["val"].append(g[tc : tc + vc])
        parts["train"].append(g[tc + vc :])
    out = tuple(np.sort(np.concatenate(parts[k])).astype(np.int64) for k in SPLIT_NAMES)
    return out  # type: ignore[return-value]


def _resolve_objective(
    target: str, loss: Any, metric: Any, higher_is_better: Any
) -> tuple[Any, ...]:
    """Return (loss, metric, higher_is_better), or ((field, reason),) for the first problem."""
    loss = _DEFAULT_LOSS[target] if loss is None else loss
    if not isinstance(loss, str) or loss not in LOSSES:
        return (("loss", f"unknown loss {loss!r}; expected one of: {_join(list(LOSSES))}"),)
    if target not in LOSSES[loss]:
        valid = [k for k, v in LOSSES.items() if target in v]
        reason = f"loss '{loss}' does not apply to {target}; expected one of: {_join(valid)}"
        return (("loss", reason),)
    metric = _DEFAULT_METRIC[target] if metric is None else metric
    if not isinstance(metric, str) or metric not in METRICS:
        return (("metric", f"unknown metric {metric!r}; expected one of: {_join(list(METRICS))}"),)
    if target not in METRICS[metric][1]:
        valid = [k for k, v in METRICS.items() if target in v[1]]
        reason = f"metric '{metric}' does not apply to {target}; expected one of: {_join(valid)}"
        return (("metric", reason),)
    if higher_is_better is None:
        higher_is_better = METRICS[metric][0]
    elif not isinstance(higher_is_better, (bool, np.bool_)):
        return (("higher_is_better", f"expected true or false, got {higher_is_better!r}"),)
    return loss, metric, bool(higher_is_better)


# --------------------------------------------------------------------------- Task


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
    target : {"multiclass", "binary", "multilabel", "regression"}
    data : TaskData
    n_outputs : int, optional
        Derived from ``y`` when None: classes (max label + 1) for multiclass, 1 for binary,
        label columns for multilabel, target columns (1 for 1-D ``y``) for regression.
    loss, metric : str, optional
        Defaults by target (see the module docstring); see :data:`LOSSES`, :data:`METRICS`.
    higher_is_better : bool, optional
        Defaults to the metric's direction.
    source : str, optional
        File the task came from (used in error messages).

    Attributes
    ----------
    name, modalities, target, data, n_outputs, loss, metric, higher_is_better, source
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
    ):
        src = None if source is None else str(source)
        why = _check_name(name)
        if why is not None:
            raise _fail(src, None, "name", why)
        if target not in TARGETS:
            raise _fail(
                src, name, "target", f"unknown target {target!r}; expected one of: {_join(TARGETS)}"
            )
        modalities = tuple(modalities)
        if not modalities:
            raise _fail(src, name, "modalities", "no modalities; expected at least one")
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
    ) -> Task:
        """Build and validate a task from numpy arrays.

        Parameters
        ----------
        name : str
            Task name.
        arrays : mapping of str -> array-like
            One array per modality, first axis = samples. Keys that no modality uses are
            ignored.
        y : array-like
            Targets: class ids 0..K-1 (multiclass), 0/1 (binary), a 0/1 matrix
            (multilabel) or numbers (regression).
        target : {"multiclass", "binary", "multilabel", "regression"}
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

        Returns
        -------
        Task
        """
        src = None if source is None else str(source)
        why = _check_name(name)
        if why is not None:
            raise _fail(src, None, "name", why)
        if target not in TARGETS:
            raise _fail(
                src, name, "target", f"unknown target {target!r}; expected one of: {_join(TARGETS)}"
            )
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

        if y is None:
            raise _fail(src, name, "y", f"targets 'y' not found (found: {_join(found)})")
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
            strata = yy if target in ("multiclass", "binary") else None
            idx = list(fraction_split(n, val, test, seed, strata))

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
        if self.target in ("multiclass", "binary"):
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

    def _resolve_objective(
        self, loss: str | None, metric: str | None, higher_is_better: bool | None
    ) -> tuple[str, str, bool]:
        resolved = _resolve_objective(self.target, loss, metric, higher_is_better)
        if isinstance(resolved[0], tuple):
            raise self._err(*resolved[0])
        return resolved  # type: ignore[return-value]

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
        (positions, channels), dtype, shape and bytes. It does not cover the task name, the
        modality kinds, the Fourier settings, loss or metric. Stable across processes.

        Parameters
        ----------
        modalities : sequence of str, optional
            Modalities to include (default: all).
        """
        if modalities is None:
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
            h.update(memoryview(a).cast("B"))

        put(b"hetero.task.v1")
        put(self.target.encode())
        for name in used:
            m = self.modality(name)
            put(f"{m.name}|{m.positions}|{m.channels}".encode())
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
            and self.data == other.data
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        mods = ", ".join(f"{m.name}:{m.kind}{m.shape}" for m in self.modalities)
        return f"Task({self.name!r}, {self.target}, n={self.n_samples}, n_outputs={self.n_outputs}, [{mods}])"


# --------------------------------------------------------------------------- Suite


class Suite:
    """A collection of tasks.

    Parameters
    ----------
    tasks : sequence of Task
        Task names must be distinct. A modality name used by several tasks must have the
        same ``kind`` and ``channels`` everywhere (it is one modality).
    name : str, default "suite"
    source : str, optional
        File the suite came from (for error messages).
    """

    def __init__(
        self, tasks: Sequence[Task], name: str = "suite", *, source: str | os.PathLike | None = None
    ):
        src = None if source is None else str(source)
        tasks = tuple(tasks)
        if not isinstance(name, str) or not name:
            raise SuiteError(f"name: expected a non-empty string, got {name!r}", source=src)
        if not tasks:
            raise SuiteError("tasks: no tasks; expected at least one", source=src)
        names: set[str] = set()
        first: dict[str, tuple[Task, Modality]] = {}
        for i, t in enumerate(tasks):
            if not isinstance(t, Task):
                raise SuiteError(f"tasks[{i}]: expected a Task, got {type(t).__name__}", source=src)
            if t.name in names:
                raise SuiteError(f"tasks[{i}].name: duplicate task name '{t.name}'", source=src)
            names.add(t.name)
            for m in t.modalities:
                if m.name not in first:
                    first[m.name] = (t, m)
                    continue
                t0, m0 = first[m.name]
                for attr in ("kind", "channels"):
                    if getattr(m, attr) != getattr(m0, attr):
                        raise SuiteError(
                            f"task '{t.name}': modality '{m.name}': {attr} {getattr(m, attr)!r} differs "
                            f"from {getattr(m0, attr)!r} in task '{t0.name}'; expected the same {attr} "
                            "for a modality name shared by tasks (or rename one)",
                            source=src,
                        )
        self.name: str = name
        self.tasks: tuple[Task, ...] = tasks
        self.source: str | None = src

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, *, trust_pickle: bool = False) -> Suite:
        """Load a suite from a YAML file (see the module docstring for the format).

        ``trust_pickle=True`` lets ``dataset:`` tasks whose loader reads a pickle (MultiBench
        ``affect``, ``mimic``) unpickle their file. Only the caller can grant this: a suite
        file that sets ``trust_pickle`` in a task's options is rejected.
        """
        from hetero._io import read_yaml

        path = Path(path).expanduser()
        if not path.exists():
            raise SuiteError("suite file not found", source=path)
        d = read_yaml(path, error=SuiteError)
        if isinstance(d, Mapping) and "name" not in d:
            d = {"name": path.stem, **d}
        return cls.from_dict(d, base_dir=path.parent, source=path, trust_pickle=trust_pickle)

    @classmethod
    def from_dict(
        cls,
        d: Mapping[str, Any],
        base_dir: str | os.PathLike | None = None,
        source: str | os.PathLike | None = None,
        *,
        trust_pickle: bool = False,
    ) -> Suite:
        """Build a suite from a parsed YAML mapping.

        Parameters
        ----------
        d : mapping
            ``{"name": ..., "tasks": [...]}`` as in the YAML format.
        base_dir : path-like, optional
            Folder that relative ``data:`` paths are resolved against (default: cwd).
        source : path-like, optional
            File the mapping came from (for error messages).
        trust_pickle : bool
            Allow ``dataset:`` loaders that read pickles to unpickle (the caller's decision;
            ``trust_pickle`` inside the mapping is rejected).
        """
        src = None if source is None else str(source)
        base = Path.cwd() if base_dir is None else Path(base_dir)
        if not isinstance(d, Mapping):
            raise SuiteError(
                f"expected a mapping with a 'tasks' list at the top level, got {type(d).__name__}",
                source=src,
            )
        for key in d:
            if key not in _SUITE_KEYS:
                raise SuiteError(_unknown_key_reason(key, _SUITE_KEYS), source=src)
        raw_tasks = d.get("tasks")
        if not isinstance(raw_tasks, list) or not raw_tasks:
            raise SuiteError(
                f"tasks: expected a non-empty list of tasks, got {raw_tasks!r}", source=src
            )
        tasks: list[Task] = []
        seen: dict[str, int] = {}
        for i, td in enumerate(raw_tasks):
            task = _task_from_dict(td, i, base, src, trust_pickle)
            if task.name in seen:
                raise SuiteError(
                    f"tasks[{i}].name: duplicate task name '{task.name}' (also tasks[{seen[task.name]}])",
                    source=src,
                )
            seen[task.name] = i
            tasks.append(task)
        if "description" in d and not isinstance(d["description"], str):
            raise SuiteError(
                f"description: expected a string, got {type(d['description']).__name__}",
                source=src,
            )
        name = d.get("name", "suite")
        if not isinstance(name, str) or not name:
            raise SuiteError(f"name: expected a non-empty string, got {name!r}", source=src)
        return cls(tasks, name=name, source=src)

    # ---------------------------------------------------------------- accessors

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in declaration order."""
        return tuple(t.name for t in self.tasks)

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise SuiteError(
            f"no task {name!r} in suite '{self.name}'; expected one of: {_join(self.task_names)}",
            source=self.source,
        )

    def units(self) -> list[Unit]:
        """One unit per (task, modality): tasks and modalities in declaration order."""
        return [u for t in self.tasks for u in t.units()]

    def interaction_units(self) -> list[Unit]:
        """One interaction unit per (task, unordered modality pair).

        Tasks in declaration order; within a task, pairs (i, j), i < j, in modality
        declaration order. Each unit's modalities (and label) are alphabetical.
        """
        return [u for t in self.tasks for u in t.interaction_units()]

    def unit(self, label: str | Unit) -> Unit:
        """Look up a unit or interaction unit of this suite by its label."""
        u = label if isinstance(label, Unit) else Unit.parse(label)
        task = self.task(u.task)
        missing = [m for m in u.modalities if m not in task.modality_names]
        if missing:
            raise SuiteError(
                f"unit '{u.label}': task '{task.name}' has no modality '{missing[0]}'; "
                f"expected one of: {_join(task.modality_names)}",
                source=self.source,
            )
        return u

    def modality_names(self) -> list[str]:
        """Distinct modality names over all tasks, sorted (the one-hot order of HighMMT)."""
        return sorted({m.name for t in self.tasks for m in t.modalities})

    def modality_index(self, name: str) -> int:
        """Position of modality ``name`` in :meth:`modality_names`."""
        names = self.modality_names()
        if name not in names:
            raise SuiteError(
                f"no modality {name!r} in suite '{self.name}'; expected one of: {_join(names)}",
                source=self.source,
            )
        return names.index(name)

    def summary(self) -> dict[str, Any]:
        """JSON-able description for ``hetero datasets show``."""
        mods: dict[str, dict[str, Any]] = {}
        for t in self.tasks:
            for m in t.modalities:
                entry = mods.setdefault(
                    m.name, {"name": m.name, "kind": m.kind, "channels": m.channels, "tasks": []}
                )
                entry["tasks"].append(t.name)
        return {
            "name": self.name,
            "source": self.source,
            "n_tasks": len(self.tasks),
            "n_units": len(self.units()),
            "n_interaction_units": len(self.interaction_units()),
            "modalities": [mods[k] for k in sorted(mods)],
            "tasks": [t.summary() for t in self.tasks],
        }

    def describe(self) -> str:
        """Human-readable multi-line table of the suite."""
        s = self.summary()
        lines = [
            f"suite {s['name']}: {s['n_tasks']} tasks, {s['n_units']} units, "
            f"{s['n_interaction_units']} interaction units, {len(s['modalities'])} modalities"
        ]
        for t in s["tasks"]:
            lines.append(
                f"  task {t['name']}: {t['target']} ({t['n_outputs']} outputs, loss {t['loss']}, "
                f"metric {t['metric']}), {t['n_samples']} samples "
                f"(train {t['n_train']} / val {t['n_val']} / test {t['n_test']})"
            )
            for m in t["modalities"]:
                pos = "x".join(str(p) for p in m["positions"]) or "1"
                lines.append(
                    f"    {m['name']:<16} {m['kind']:<10} shape {tuple(m['shape'])!s:<16} "
                    f"positions {pos:<10} channels {m['channels']}"
                )
        return "\n".join(lines)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Suite):
            return NotImplemented
        return self.name == other.name and self.tasks == other.tasks

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Suite({self.name!r}, tasks=[{', '.join(self.task_names)}])"


# --------------------------------------------------------------------------- YAML tasks


def _modality_decls(
    modalities: Sequence[Modality | Mapping[str, Any] | str], src: str | None, name: str
) -> list[tuple[Modality, str, str]]:
    """Validate declared modalities: (Modality without shape check, array key, key's field).

    Only the declaration is checked (not the arrays), so a suite file's modality errors are
    reported against the YAML before its data file is read.
    """
    decls: list[tuple[Modality, str, str]] = []  # (modality, array key, field of the key)
    for i, m in enumerate(modalities):
        fld = f"modalities[{i}]"
        if isinstance(m, Modality):
            decls.append((m, m.name, f"{fld}.name"))
            continue
        if isinstance(m, str):
            m = {"name": m}
        if not isinstance(m, Mapping):
            raise _fail(src, name, fld, f"expected a Modality, a mapping or a name, got {m!r}")
        for key in m:
            if key not in _MODALITY_KEYS:
                raise _fail(src, name, fld, _unknown_key_reason(key, _MODALITY_KEYS))
        if "name" not in m:
            raise _fail(src, name, f"{fld}.name", "missing; expected the modality name")
        fields = {k: v for k, v in m.items() if k != "array"}
        if "shape" in fields:
            if not isinstance(fields["shape"], (list, tuple)):
                raise _fail(
                    src,
                    name,
                    f"{fld}.shape",
                    f"expected a list of positive ints, got {fields['shape']!r}",
                )
            fields["shape"] = tuple(fields["shape"])
        full = {
            "kind": "other",
            "shape": (),
            "positional_axes": None,
            "num_freq_bands": 6,
            "max_freq": 10.0,
            **fields,
        }
        problem = _modality_field_problem(
            full["name"],
            full["kind"],
            full["shape"],
            full["positional_axes"],
            full["num_freq_bands"],
            full["max_freq"],
        )
        if problem is not None:
            raise _fail(src, name, f"{fld}.{problem[0]}", problem[1])
        key = m.get("array", m["name"])
        key_fld = f"{fld}.array" if "array" in m else f"{fld}.name"
        if not isinstance(key, str) or not key:
            raise _fail(src, name, f"{fld}.array", f"expected an array name, got {key!r}")
        decls.append((Modality(**full), key, key_fld))
    if not decls:
        raise _fail(src, name, "modalities", "no modalities; expected at least one")
    seen: set[str] = set()
    for i, (m, _, _) in enumerate(decls):
        if m.name in seen:
            raise _fail(src, name, f"modalities[{i}].name", f"duplicate modality name '{m.name}'")
        seen.add(m.name)
    return decls


def _task_from_dict(
    td: Any, i: int, base: Path, src: str | None, trust_pickle: bool = False
) -> Task:
    if not isinstance(td, Mapping):
        raise SuiteError(
            f"tasks[{i}]: expected a mapping with name, data, target, modalities; got {td!r}",
            source=src,
        )
    label = td.get("name") if isinstance(td.get("name"), str) else f"tasks[{i}]"
    if "description" in td and not isinstance(td["description"], str):
        raise _fail(
            src, label, "description", f"expected a string, got {type(td['description']).__name__}"
        )
    if "dataset" in td and "data" in td:
        raise _fail(src, label, "data", "give either 'data: FILE.npz' or 'dataset: NAME', not both")
    if "dataset" in td:
        return _task_from_dataset(td, label, src, trust_pickle)
    for key in td:
        if key not in _NPZ_TASK_KEYS:
            raise _fail(src, label, None, _unknown_key_reason(key, _NPZ_TASK_KEYS))
    if "name" not in td:
        raise _fail(src, None, f"tasks[{i}].name", "missing; expected the task name")
    why = _check_name(td["name"])
    if why is not None:
        raise _fail(src, None, f"tasks[{i}].name", why)
    name = td["name"]
    if "data" not in td:
        raise _fail(src, name, "data", "missing; expected 'data: FILE.npz' or 'dataset: NAME'")
    if "target" not in td:
        raise _fail(src, name, "target", f"missing; expected one of: {_join(TARGETS)}")
    if td["target"] not in TARGETS:
        raise _fail(
            src,
            name,
            "target",
            f"unknown target {td['target']!r}; expected one of: {_join(TARGETS)}",
        )
    mods = td.get("modalities")
    if mods is None or (isinstance(mods, list) and not mods):
        raise _fail(
            src,
            name,
            "modalities",
            "no modalities; expected a list like [{name: audio, kind: audio}]",
        )
    if not isinstance(mods, list):
        raise _fail(src, name, "modalities", f"expected a list of modalities, got {mods!r}")
    if "split" in td:  # report problems of the declaration against the YAML file
        _parse_split_spec(td["split"], source=src, task=name)
    resolved = _resolve_objective(
        td["target"], td.get("loss"), td.get("metric"), td.get("higher_is_better")
    )
    if isinstance(resolved[0], tuple):
        raise _fail(src, name, *resolved[0])
    n_classes = td.get("n_classes")
    if n_classes is not None and (
        td["target"] != "multiclass" or not _is_int(n_classes) or n_classes < 2
    ):
        raise _fail(
            src, name, "n_classes", f"expected an int >= 2 for a multiclass task, got {n_classes!r}"
        )
    data = td["data"]
    if not isinstance(data, str) or not data:
        raise _fail(src, name, "data", f"expected a path to an .npz file, got {data!r}")
    path = Path(data).expanduser()
    if not path.is_absolute():
        path = base / path
    if isinstance(mods, list):  # declaration errors name the YAML, before the data is read
        _modality_decls(mods, src, name)
    arrays = _read_npz(path, name, yaml_source=src)
    npz_src = str(path)
    idx = {k: arrays.pop(k) for k in ("train_idx", "val_idx", "test_idx") if k in arrays}
    y = arrays.pop("y", None)
    return Task.from_arrays(
        name,
        arrays,
        y,
        target=td["target"],
        modalities=mods,
        train_idx=idx.get("train_idx"),
        val_idx=idx.get("val_idx"),
        test_idx=idx.get("test_idx"),
        split=td.get("split"),
        n_classes=td.get("n_classes"),
        loss=td.get("loss"),
        metric=td.get("metric"),
        higher_is_better=td.get("higher_is_better"),
        source=npz_src,
        copy=False,
    )


def _read_npz(path: Path, task: str, *, yaml_source: str | None) -> dict[str, np.ndarray]:
    from hetero._io import check_npy_member

    if not path.exists():
        raise _fail(yaml_source, task, "data", f"file not found: {path}")
    if path.is_dir():
        raise _fail(yaml_source, task, "data", f"{path} is a directory; expected an .npz file")
    if not path.is_file():
        raise _fail(yaml_source, task, "data", f"{path} is not a regular file (a FIFO or device?)")
    src = str(path)

    def error(message: str, source: object = None) -> SuiteError:
        return _fail(src, task, "data", message)

    expected = "expected an .npz file written by numpy.savez"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        # Every member's header is read and checked before numpy allocates anything.
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as member:
                    check_npy_member(member, info.file_size, name=key, path=src, error=error)
        npz = np.load(path, allow_pickle=False)
        with npz:
            return {key: npz[key] for key in npz.files}
    except zipfile.BadZipFile:
        if magic == b"\x93NUMPY":
            raise error(
                "holds a single array (.npy); expected an .npz archive of named arrays"
            ) from None
        raise error(f"not a zip archive; {expected}") from None
    except (OSError, ValueError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise error(f"cannot read npz ({' '.join(str(exc).split())}); {expected}") from None


def _task_from_dataset(
    td: Mapping[str, Any], label: str, src: str | None, trust_pickle: bool = False
) -> Task:
    for key in td:
        if key not in _DATASET_TASK_KEYS:
            if key in _NPZ_TASK_KEYS:
                raise _fail(
                    src,
                    label,
                    None,
                    f"key '{key}' is not valid with 'dataset:' (the loader sets it); "
                    f"valid keys: {_join(sorted(_DATASET_TASK_KEYS))}",
                )
            raise _fail(src, label, None, _unknown_key_reason(key, _DATASET_TASK_KEYS))
    dataset = td["dataset"]
    if not isinstance(dataset, str) or not dataset:
        raise _fail(src, label, "dataset", f"expected a dataset name, got {dataset!r}")
    options = td.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail(src, label, "options", f"expected a mapping of loader options, got {options!r}")
    if "trust_pickle" in options:
        # Unpickling runs code: only the person running the command may allow it.
        raise _fail(
            src,
            label,
            "options.trust_pickle",
            "a suite file cannot allow unpickling; the person running the command opts in "
            "with --trust-pickle (trust_pickle=True in Python)",
        )
    if "name" in td:
        why = _check_name(td["name"])
        if why is not None:
            raise _fail(src, None, "name", why)
    try:
        module = importlib.import_module("hetero.datasets")
    except ModuleNotFoundError as exc:
        if exc.name in ("hetero.datasets", "hetero"):
            raise _fail(
                src,
                label,
                "dataset",
                f"cannot load dataset '{dataset}': the hetero.datasets module is not available",
            ) from None
        raise
    load_task = getattr(module, "load_task", None)
    if load_task is None:
        raise _fail(
            src, label, "dataset", "hetero.datasets has no load_task(); cannot load datasets"
        )
    if trust_pickle:
        info = getattr(module, "dataset_info", None)
        try:
            takes_trust = info is not None and "trust_pickle" in info(dataset).options()
        except HeteroError:
            takes_trust = False  # unknown dataset: load_task below says so
        if takes_trust:
            options = {**options, "trust_pickle": True}
    try:
        inspect.signature(load_task).bind(dataset, **options)
    except TypeError as exc:
        raise _fail(
            src, label, "options", f"invalid options for dataset '{dataset}' ({exc})"
        ) from None
    except ValueError:
        pass  # no introspectable signature
    try:
        task = load_task(dataset, **options)
    except HeteroError as exc:
        raise _fail(src, label, "dataset", str(exc)) from exc
    if not isinstance(task, Task):
        raise _fail(
            src,
            label,
            "dataset",
            f"loader for '{dataset}' returned {type(task).__name__}; expected a Task",
        )
    if "name" in td and td["name"] != task.name:
        task = task.rename(td["name"])
    return task


# --------------------------------------------------------------------------- entry point


def load_suite(path: str | os.PathLike | Suite, *, trust_pickle: bool = False) -> Suite:
    """Load a suite from a YAML file (a :class:`Suite` is returned unchanged).

    ``trust_pickle=True`` allows pickle-reading dataset loaders to unpickle; see
    :meth:`Suite.from_yaml`.
    """
    if isinstance(path, Suite):
        return path
    return Suite.from_yaml(path, trust_pickle=trust_pickle)
