"""UEA RacketSports loader: sktime ``.ts`` files of smart-watch accelerometer and gyroscope.

Each case has 6 channels of 30 steps (10 Hz, 3 s); channels 0-2 are the accelerometer and
3-5 the gyroscope (as inferred from the channel statistics; the archive does not say).
The archive's ``_TRAIN.ts`` / ``_TEST.ts`` files give the train/test split; a stratified,
seeded share of the training cases is held out for validation.
"""

from __future__ import annotations

import os

import numpy as np

from hetero._io import require_regular_file
from hetero.datasets._catalog import register_dataset
from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    resolve_data_path,
    standardize,
    stratified_split,
)

__all__ = ["load_racketsports", "read_ts"]

RACKET_DEFAULT = "racketsports"


def read_ts(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parse an equal-length, multivariate sktime ``.ts`` file with class labels.

    Returns
    -------
    x : ndarray, shape (n_cases, series_length, n_dimensions)
    y : ndarray of int64, index into ``classes``
    classes : list of str
        The labels declared by ``@classLabel true ...`` in declaration order.
    """
    path = require_regular_file(path, what="a .ts file", error=DatasetError)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read file ({exc.strerror or exc})", source=path) from None
    header: dict[str, str] = {}
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DatasetError(f"line {lineno}: expected an @header before @data", source=path)
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
            else:
                header[key] = value.strip()
            continue
        parts = line.split(":")
        if len(parts) < 2:
            raise DatasetError(
                f"line {lineno}: expected dimensions separated by ':' then a label", source=path
            )
        try:
            dims = [np.array([float(v) for v in p.split(",")]) for p in parts[:-1]]
        except ValueError:
            raise DatasetError(
                f"line {lineno}: non-numeric value (missing values '?' unsupported)", source=path
            ) from None
        if len({len(d) for d in dims}) != 1:
            raise DatasetError(f"line {lineno}: dimensions of unequal length", source=path)
        cases.append(np.stack(dims, axis=1))
        labels.append(parts[-1].strip())
    if not cases:
        raise DatasetError("no cases after @data", source=path)
    shapes = {c.shape for c in cases}
    if len(shapes) != 1:
        raise DatasetError(
            f"cases differ in shape {sorted(shapes)}; expected equal length", source=path
        )
    declared = header.get("classlabel", "").split()
    if not declared or declared[0].lower() != "true":
        raise DatasetError("@classLabel true <labels...> header missing", source=path)
    classes = declared[1:]
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DatasetError(f"labels {unknown} not declared in @classLabel", source=path)
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    return np.stack(cases).astype(np.float32), y, classes


@register_dataset(
    "racketsports",
    origin="path",
    requires="racketsports/RacketSports_{TRAIN,TEST}.ts",
    summary="UEA RacketSports: accelerometer + gyroscope strokes",
    data_path="racketsports/",
)
def load_racketsports(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> RawTask:
    """RacketSports: ``accelerometer`` (30 x 3) and ``gyroscope`` (30 x 3), 4 strokes.

    Parameters
    ----------
    path : path-like, optional
        Folder with ``RacketSports_TRAIN.ts`` and ``RacketSports_TEST.ts``; default
        ``data_dir/racketsports`` or $HETERO_DATA_DIR/racketsports.
    val_fraction : float
        Share of the training cases held out for validation (stratified, seeded).
    """
    folder = resolve_data_path(path, data_dir, RACKET_DEFAULT, "racketsports")
    x_tr, y_tr, classes = read_ts(folder / "RacketSports_TRAIN.ts")
    x_te, y_te, classes_te = read_ts(folder / "RacketSports_TEST.ts")
    if classes_te != classes or x_tr.shape[1:] != x_te.shape[1:]:
        raise DatasetError("train and test files differ in classes or series shape", source=folder)
    if x_tr.shape[2] != 6:
        raise DatasetError(f"expected 6 dimensions, found {x_tr.shape[2]}", source=folder)
    x = np.concatenate([x_tr, x_te])
    y = np.concatenate([y_tr, y_te])
    n_tr = len(y_tr)
    sub_tr, sub_val, _ = stratified_split(y_tr, (1.0 - val_fraction, val_fraction, 0.0), seed)
    test = np.arange(n_tr, len(y), dtype=np.int64)
    x = standardize(x, sub_tr, (0, 1))
    return RawTask(
        name="racketsports",
        arrays={"accelerometer": x[:, :, :3], "gyroscope": x[:, :, 3:]},
        modalities=[
            ModalitySpec("accelerometer", "timeseries"),
            ModalitySpec("gyroscope", "timeseries"),
        ],
        y=y,
        target="multiclass",
        train_idx=sub_tr,
        val_idx=sub_val,
        test_idx=test,
        source=str(folder),
        classes=classes,
        description="UEA RacketSports: smart-watch strokes (badminton/squash), 10 Hz, 3 s",
    )
