"""MultiBench-format loaders on small generated files (AV-MNIST folders, affect and MIMIC pickles)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hetero.datasets import DatasetError, load_raw, load_task
from hetero.datasets.multibench import load_affect, load_avmnist, load_mimic


def _avmnist(root, n_train=40, n_test=20, seed=0, labels_inside=False):
    rng = np.random.default_rng(seed)
    for sub in ("image", "audio"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 10
        img = rng.integers(0, 256, size=(n, 784)).astype(np.float32)
        img[:, 0] = y * 20  # planted: first pixel encodes the label
        aud = rng.standard_normal((n, 12, 8)).astype(np.float32)
        np.save(root / "image" / f"{split}_data.npy", img)
        np.save(root / "audio" / f"{split}_data.npy", aud)
        np.save((root / "image" if labels_inside else root) / f"{split}_labels.npy", y)
    return root


def test_avmnist_folders(tmp_path):
    root = _avmnist(tmp_path / "avmnist")
    raw = load_avmnist(root, val_fraction=0.2, seed=0)
    assert raw.arrays["image"].shape == (60, 28, 28) and raw.arrays["audio"].shape == (60, 12, 8)
    assert np.array_equal(raw.test_idx, np.arange(40, 60))
    assert len(raw.train_idx) == 30 and len(raw.val_idx) == 10
    assert raw.arrays["image"].max() <= 1.0
    np.testing.assert_allclose(raw.arrays["image"][:, 0, 0] * 255, raw.y * 20, atol=1e-3)
    task = raw.to_task()
    assert task.modality("image").positions == (28, 28) and task.modality("audio").channels == 8
    # labels inside image/ are found too; data_dir resolves the avmnist folder
    _avmnist(tmp_path / "b" / "avmnist", labels_inside=True)
    assert load_task("avmnist", data_dir=tmp_path / "b").n_samples == 60


def test_avmnist_errors(tmp_path):
    root = _avmnist(tmp_path / "avmnist")
    np.save(root / "audio" / "test_data.npy", np.zeros((5, 12, 8)))
    with pytest.raises(DatasetError, match="expected equal counts"):
        load_avmnist(root)
    obj = np.empty(3, dtype=object)
    np.save(root / "audio" / "test_data.npy", obj, allow_pickle=True)
    with pytest.raises(DatasetError, match="would need unpickling"):
        load_avmnist(root)
    (root / "image" / "train_data.npy").unlink()
    with pytest.raises(DatasetError, match=r"train_data\.npy: file not found"):
        load_avmnist(root)


def _affect(path, sizes=(30, 10, 10), seed=0, labels_shape=3):
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes, strict=True):
        lab = rng.uniform(-3, 3, size=n)
        lab[:2] = [-1.5, 2.0]
        text = rng.standard_normal((n, 5, 7))
        text[:, 0, 0] = lab  # planted signal
        vision = rng.standard_normal((n, 5, 4))
        vision[0, 0, 0] = np.nan
        audio = rng.standard_normal((n, 5, 3))
        audio[0, 1, 1] = -np.inf
        labels = lab.reshape(n, 1, 1) if labels_shape == 3 else lab
        data[split] = {
            "vision": vision,
            "audio": audio,
            "text": text,
            "labels": labels,
            "id": np.arange(n),
        }
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return path


def test_affect_needs_trust_pickle(tmp_path):
    path = _affect(tmp_path / "mosi.pkl")
    with pytest.raises(DatasetError) as info:
        load_task("affect", path=path)
    msg = str(info.value)
    assert "--trust-pickle" in msg and "trust_pickle=True" in msg and str(path) in msg


def test_affect_pickle_binary_and_regression(tmp_path):
    path = _affect(tmp_path / "mosi.pkl")
    raw = load_affect(path, trust_pickle=True)
    assert raw.target == "binary"
    assert [m.name for m in raw.modalities] == ["vision", "audio", "text"]
    assert [m.kind for m in raw.modalities] == ["video", "audio", "text"]
    assert raw.arrays["vision"].shape == (50, 5, 4) and np.isfinite(raw.arrays["vision"]).all()
    assert np.isfinite(raw.arrays["audio"]).all()
    assert np.array_equal(raw.train_idx, np.arange(30)) and np.array_equal(
        raw.test_idx, np.arange(40, 50)
    )
    assert raw.y[0] == 0 and raw.y[1] == 1
    reg = load_affect(path, trust_pickle=True, target="regression", modalities=("text", "audio"))
    assert reg.y.dtype == np.float32 and reg.y[1] == pytest.approx(2.0)
    # the planted text feature tracks the label after standardisation
    assert np.corrcoef(reg.arrays["text"][:, 0, 0], reg.y)[0, 1] > 0.999
    task = load_task(
        "affect", path=_affect(tmp_path / "flat.pkl", labels_shape=1), trust_pickle=True
    )
    assert task.target == "binary"


def test_affect_malformed(tmp_path):
    path = tmp_path / "bad.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"train": {}, "valid": {}}, fh)
    with pytest.raises(DatasetError, match=r"splits \['test'\] missing"):
        load_affect(path, trust_pickle=True)
    with open(path, "wb") as fh:
        pickle.dump(
            {
                s: {"vision": np.zeros((2, 3)), "labels": np.zeros(2)}
                for s in ("train", "valid", "test")
            },
            fh,
        )
    with pytest.raises(DatasetError, match="expected \\(2, steps, features\\)"):
        load_affect(path, trust_pickle=True, modalities=("vision",))
    path.write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="cannot unpickle"):
        load_affect(path, trust_pickle=True)


def _mimic(path, n=120, flat=False, seed=0):
    rng = np.random.default_rng(seed)
    ts = rng.standard_normal((n, 24, 12))
    ts[0, 0, 0] = np.nan
    adm = np.zeros((n, 6))
    cls = np.arange(n) % 6
    for i, c in enumerate(cls):
        if c:
            adm[i, c:] = 1  # later columns positive too; the first positive column wins
    icd = (rng.random((n, 20)) < 0.5).astype(float)
    static = rng.standard_normal((n, 5))
    static[:, 0] += icd[:, 3] * 3
    data = {
        "ep_tdata": ts.reshape(n, -1) if flat else ts,
        "adm_features_all": static,
        "adm_labels_all": adm,
        "y_icd9": icd,
    }
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return path, cls, icd


def test_mimic_mortality_and_icd9(tmp_path):
    path, cls, icd = _mimic(tmp_path / "im.pk")
    with pytest.raises(DatasetError, match="--trust-pickle"):
        load_mimic(path)
    raw = load_mimic(path, trust_pickle=True)
    assert np.array_equal(raw.y, cls) and raw.target == "multiclass"
    assert raw.arrays["static"].shape == (120, 5) and raw.arrays["timeseries"].shape == (
        120,
        24,
        12,
    )
    assert np.isfinite(raw.arrays["timeseries"]).all()
    assert len(raw.train_idx) == 96 and len(raw.val_idx) == 12 and len(raw.test_idx) == 12
    icd_raw = load_mimic(path, trust_pickle=True, task="icd9:3")
    assert icd_raw.target == "binary" and np.array_equal(icd_raw.y, icd[:, 3].astype(int))
    assert np.array_equal(load_mimic(path, trust_pickle=True, task=3).y, icd_raw.y)
    flat, _, _ = _mimic(tmp_path / "flat.pk", flat=True)
    assert load_mimic(flat, trust_pickle=True).arrays["timeseries"].shape == (120, 24, 12)
    with pytest.raises(DatasetError, match="option task"):
        load_mimic(path, trust_pickle=True, task="icd10:1")
    with pytest.raises(DatasetError, match=r"out of 0\.\.19"):
        load_mimic(path, trust_pickle=True, task=25)
    task = load_raw("mimic", path=path, trust_pickle=True, max_samples=60).to_task()
    assert task.n_outputs == 6 and task.n_samples <= 60
