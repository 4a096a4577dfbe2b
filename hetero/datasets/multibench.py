"""Loaders for the MultiBench file formats used by the HighMMT paper's suites.

- AV-MNIST: a folder with ``image/`` and ``audio/`` sub-folders holding ``train_data.npy``
  and ``test_data.npy``, and ``train_labels.npy`` / ``test_labels.npy`` (at the top level as
  MultiBench writes them, or inside ``image/``). Read with ``np.load(allow_pickle=False)``.
- Affect (MOSI / MOSEI / UR-FUNNY style): one pickle holding ``train`` / ``valid`` / ``test``
  dicts with ``vision``, ``audio``, ``text`` arrays (samples, steps, features) and
  ``labels``.
- MIMIC: one pickle holding ``ep_tdata`` (samples, 24, 12) time series,
  ``adm_features_all`` (samples, 5) static features, ``adm_labels_all`` and ``y_icd9``.

Unpickling a file can run arbitrary code, so the pickle formats are read only when the
caller passes ``trust_pickle=True`` (``--trust-pickle`` on the command line).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import read_npy
from hetero.datasets._catalog import register_dataset
from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    resolve_data_path,
    standardize,
    stratified_split,
)

__all__ = ["load_affect", "load_avmnist", "load_mimic", "read_trusted_pickle"]

AFFECT_KINDS = {"vision": "video", "audio": "audio", "text": "text"}
AFFECT_SPLITS = ("train", "valid", "test")


def read_trusted_pickle(path: Path, what: str, trust_pickle: bool) -> Any:
    """Unpickle ``path`` only if ``trust_pickle``; otherwise say how to opt in."""
    if not trust_pickle:
        raise DatasetError(
            f"dataset '{what}' is a pickle, which can run arbitrary code when read; pass "
            "--trust-pickle (trust_pickle=True) only for a file from a source you trust",
            source=path,
        )
    if not path.is_file():
        raise DatasetError("expected a pickle file", source=path)
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise DatasetError(f"cannot unpickle ({type(exc).__name__}: {exc})", source=path) from None


def _npy(path: Path) -> np.ndarray:
    return read_npy(path, error=DatasetError)  # never unpickled; header checked first


def _clean(a: Any, source: Path, field: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{field}: expected a numeric array", source=source) from None
    return np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)


@register_dataset(
    "avmnist",
    origin="multibench",
    requires="avmnist/{image,audio}/{train,test}_data.npy + labels",
    summary="AV-MNIST (MultiBench): image + audio spectrogram",
    data_path="avmnist/",
)
def load_avmnist(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> RawTask:
    """AV-MNIST: ``image`` (28 x 28 grid) and ``audio`` (spectrogram, frames x bands).

    The archive's train/test split is kept; ``val_fraction`` of the training samples
    (stratified, seeded) form the validation split. Pixel values above 1 are scaled by 1/255;
    audio is standardised with training statistics.
    """
    root = resolve_data_path(path, data_dir, "avmnist", "avmnist")
    parts = {}
    for split in ("train", "test"):
        img = _npy(root / "image" / f"{split}_data.npy")
        aud = _npy(root / "audio" / f"{split}_data.npy")
        lab_path = root / f"{split}_labels.npy"
        if not lab_path.is_file():
            lab_path = root / "image" / f"{split}_labels.npy"
        lab = _npy(lab_path).reshape(-1)
        n = len(lab)
        if img.shape[0] != n or aud.shape[0] != n:
            raise DatasetError(
                f"{split}: {img.shape[0]} images, {aud.shape[0]} audio clips, {n} labels; expected equal counts",
                source=root,
            )
        if img[0].size != 784:
            raise DatasetError(
                f"image/{split}_data.npy: expected 28x28 images, got {img.shape[1:]}", source=root
            )
        img = img.reshape(n, 28, 28).astype(np.float64)
        aud = (
            aud.reshape(n, aud.shape[-2], aud.shape[-1]) if aud.ndim >= 3 else aud.reshape(n, -1, 1)
        )
        parts[split] = (img, aud, lab.astype(np.int64))
    img = np.concatenate([parts["train"][0], parts["test"][0]])
    aud = np.concatenate([parts["train"][1], parts["test"][1]])
    y = np.concatenate([parts["train"][2], parts["test"][2]])
    n_tr = len(parts["train"][2])
    train, val, _ = stratified_split(y[:n_tr], (1.0 - val_fraction, val_fraction, 0.0), seed)
    test = np.arange(n_tr, len(y), dtype=np.int64)
    if img.max() > 1.0:
        img = img / 255.0
    return RawTask(
        name="avmnist",
        arrays={"image": img.astype(np.float32), "audio": standardize(aud, train, (0, 1))},
        modalities=[
            ModalitySpec("image", "image", positional_axes=2),
            ModalitySpec("audio", "audio"),
        ],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=str(root),
        classes=[str(c) for c in range(int(y.max()) + 1)],
        description="AV-MNIST (MultiBench): MNIST image + spoken-digit spectrogram",
    )


@register_dataset(
    "affect",
    origin="multibench",
    requires="a MultiBench affect .pkl (trust_pickle=True)",
    summary="MOSI/MOSEI/UR-FUNNY style: vision, audio, text sequences",
)
def load_affect(
    path: str | os.PathLike,
    *,
    trust_pickle: bool = False,
    target: str = "binary",
    modalities: tuple[str, ...] = ("vision", "audio", "text"),
) -> RawTask:
    """Affect pickles (MOSI, MOSEI, UR-FUNNY as processed by MultiBench).

    Parameters
    ----------
    path : path-like
        The ``.pkl`` file.
    trust_pickle : bool
        Must be True: the file is unpickled.
    target : {"binary", "regression"}
        ``binary``: label > 0 (positive sentiment; humour for 0/1 labels); ``regression``:
        the label itself.
    modalities : sequence of str
        Which of ``vision`` (kind video), ``audio``, ``text`` to load; each is
        (steps, features), standardised per feature with training statistics, NaN/inf -> 0.
    """
    if target not in ("binary", "regression"):
        raise DatasetError(
            f"dataset 'affect': option target: expected 'binary' or 'regression', got {target!r}"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError("file not found", source=path)
    data = read_trusted_pickle(path, "affect", trust_pickle)
    if not isinstance(data, Mapping):
        raise DatasetError(
            f"expected a dict with keys {AFFECT_SPLITS}, got {type(data).__name__}", source=path
        )
    missing = [s for s in AFFECT_SPLITS if s not in data]
    if missing:
        raise DatasetError(f"splits {missing} missing; expected keys {AFFECT_SPLITS}", source=path)
    mods = list(modalities)
    bad = [m for m in mods if m not in AFFECT_KINDS]
    if bad or not mods:
        raise DatasetError(
            f"dataset 'affect': option modalities: unknown {bad}; choose from {list(AFFECT_KINDS)}"
        )
    arrays: dict[str, list[np.ndarray]] = {m: [] for m in mods}
    labels, sizes = [], []
    for split in AFFECT_SPLITS:
        part = data[split]
        if not isinstance(part, Mapping):
            raise DatasetError(f"{split}: expected a dict, got {type(part).__name__}", source=path)
        for key in [*mods, "labels"]:
            if key not in part:
                raise DatasetError(
                    f"{split}.{key}: missing (found: {', '.join(map(str, part))})", source=path
                )
        lab = _clean(part["labels"], path, f"{split}.labels")
        n = lab.shape[0]
        labels.append(lab.reshape(n, -1)[:, 0])
        sizes.append(n)
        for m in mods:
            a = _clean(part[m], path, f"{split}.{m}")
            if a.ndim != 3 or a.shape[0] != n:
                raise DatasetError(
                    f"{split}.{m}: shape {a.shape}; expected ({n}, steps, features)", source=path
                )
            arrays[m].append(a)
    bounds = np.cumsum([0, *sizes])
    train, val, test = (np.arange(bounds[i], bounds[i + 1], dtype=np.int64) for i in range(3))
    out = {}
    for m in mods:
        shapes = {a.shape[1:] for a in arrays[m]}
        if len(shapes) != 1:
            raise DatasetError(
                f"{m}: splits differ in (steps, features): {sorted(shapes)}", source=path
            )
        out[m] = standardize(np.concatenate(arrays[m]), train, (0, 1))
    raw = np.concatenate(labels)
    y = (raw > 0).astype(np.int64) if target == "binary" else raw.astype(np.float32)
    return RawTask(
        name="affect",
        arrays=out,
        modalities=[ModalitySpec(m, AFFECT_KINDS[m]) for m in mods],
        y=y,
        target=target,
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=str(path),
        classes=["negative", "positive"] if target == "binary" else [],
        description="MultiBench affect pickle (MOSI/MOSEI/UR-FUNNY style): vision, audio, text",
    )


def _mortality(adm_labels: np.ndarray) -> np.ndarray:
    """MultiBench's 6-way mortality class: first positive column among 1..5, else 0."""
    y = np.zeros(adm_labels.shape[0], dtype=np.int64)
    for col in range(5, 0, -1):  # reverse so the first positive column wins
        y[adm_labels[:, col] > 0] = col
    return y


@register_dataset(
    "mimic",
    origin="multibench",
    requires="MultiBench im.pk (trust_pickle=True)",
    summary="MIMIC: static features + vital-sign time series",
)
def load_mimic(
    path: str | os.PathLike,
    *,
    trust_pickle: bool = False,
    task: str | int = "mortality",
    n_steps: int = 24,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> RawTask:
    """MIMIC as processed by MultiBench: ``static`` (5 features) and ``timeseries`` (24 x 12).

    Parameters
    ----------
    path : path-like
        The pickle (``im.pk``).
    trust_pickle : bool
        Must be True: the file is unpickled.
    task : "mortality", int or "icd9:K"
        ``mortality``: 6-way class from ``adm_labels_all`` (MultiBench's rule: the first of
        columns 1-5 that is positive, else 0); an int K or ``"icd9:K"``: binary ICD-9 group K
        from ``y_icd9``.
    n_steps : int
        Time steps of ``ep_tdata`` when it is stored flattened (samples, steps * channels).
    fractions : (float, float, float)
        Train/val/test shares (stratified, seeded). NaN/inf become 0; both modalities are
        standardised with training statistics.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError("file not found", source=path)
    data = read_trusted_pickle(path, "mimic", trust_pickle)
    if not isinstance(data, Mapping):
        raise DatasetError(f"expected a dict, got {type(data).__name__}", source=path)
    need = ["ep_tdata", "adm_features_all", "adm_labels_all" if task == "mortality" else "y_icd9"]
    for key in need:
        if key not in data:
            raise DatasetError(f"{key}: missing (found: {', '.join(map(str, data))})", source=path)
    ts = _clean(data["ep_tdata"], path, "ep_tdata")
    static = _clean(data["adm_features_all"], path, "adm_features_all")
    n = ts.shape[0]
    if ts.ndim == 2:
        if ts.shape[1] % n_steps:
            raise DatasetError(
                f"ep_tdata: {ts.shape[1]} columns not divisible by n_steps={n_steps}", source=path
            )
        ts = ts.reshape(n, n_steps, -1)
    if ts.ndim != 3 or static.ndim != 2 or static.shape[0] != n:
        raise DatasetError(
            f"ep_tdata {ts.shape}, adm_features_all {static.shape}; expected (n, steps, channels), (n, features)",
            source=path,
        )
    if task == "mortality":
        y = _mortality(_clean(data["adm_labels_all"], path, "adm_labels_all"))
        target, classes = "multiclass", ["none", "1 day", "2 days", "3 days", "1 week", "1 year"]
    else:
        k = task
        if isinstance(task, str):
            if not task.startswith("icd9:") or not task[5:].isdigit():
                raise DatasetError(
                    f"dataset 'mimic': option task: expected 'mortality', K or 'icd9:K', got {task!r}"
                )
            k = int(task[5:])
        icd = _clean(data["y_icd9"], path, "y_icd9")
        if not 0 <= int(k) < icd.shape[1]:
            raise DatasetError(
                f"dataset 'mimic': option task: ICD-9 group {k} out of 0..{icd.shape[1] - 1}"
            )
        y = (icd[:, int(k)] > 0).astype(np.int64)
        target, classes = "binary", ["0", "1"]
    if y.shape[0] != n:
        raise DatasetError(f"labels: {y.shape[0]} rows, expected {n}", source=path)
    train, val, test = stratified_split(y, fractions, seed)
    return RawTask(
        name="mimic",
        arrays={
            "static": standardize(static, train, (0,)),
            "timeseries": standardize(ts, train, (0, 1)),
        },
        modalities=[
            ModalitySpec("static", "table", positional_axes=0),
            ModalitySpec("timeseries", "timeseries"),
        ],
        y=y,
        target=target,
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=str(path),
        classes=classes,
        description="MIMIC (MultiBench): static admission features + 24 h of 12 vital-sign series",
    )
