"""Loaders of local copies of public datasets (FSDD, RacketSports, CiteSeer) and audio features.

The real-file tests read ../shared/data through the ``shared_data`` fixture, which skips
with the reason when that folder is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from hetero.datasets import DATA_DIR_ENV, DatasetError, load_raw, load_task
from hetero.datasets.audio import fix_frames, log_mel_spectrogram, mel_filterbank
from hetero.datasets.citeseer import load_citeseer, read_citeseer, spectral_embedding
from hetero.datasets.fsdd import load_fsdd, load_spoken_digits
from hetero.datasets.racketsports import load_racketsports, read_ts

# ------------------------------------------------------------------ audio features


def test_mel_filterbank_peaks_at_increasing_frequencies():
    fb = mel_filterbank(8000, 256, 20)
    assert fb.shape == (20, 129)
    assert np.all(fb >= 0) and np.allclose(fb.max(axis=1), 1.0, atol=0.2)
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]


def test_log_mel_of_a_tone_peaks_in_the_right_band():
    sr = 8000
    t = np.arange(sr) / sr
    low = log_mel_spectrogram(np.sin(2 * np.pi * 300 * t), sr, n_mels=32)
    high = log_mel_spectrogram(np.sin(2 * np.pi * 3000 * t), sr, n_mels=32)
    assert low.shape == high.shape == ((sr - 256) // 128 + 1, 32)
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()
    fb = mel_filterbank(sr, 256, 32)
    centre = lambda hz: np.argmax(fb[:, round(hz / (sr / 2) * 128)])  # noqa: E731
    assert abs(int(low.mean(axis=0).argmax()) - int(centre(300))) <= 1
    assert abs(int(high.mean(axis=0).argmax()) - int(centre(3000))) <= 1


def test_fix_frames_keeps_the_loudest_run_and_pads_short():
    spec = np.zeros((10, 2))
    spec[6:9] = 5.0
    out = fix_frames(spec, 3)
    assert np.array_equal(out, spec[6:9])
    short = np.arange(4.0).reshape(2, 2)
    padded = fix_frames(short, 5)
    assert padded.shape == (5, 2)
    assert np.array_equal(padded[1:3], short) and np.all(padded[[0, 3, 4]] == 0.0)


# ------------------------------------------------------------------ data folder resolution


def test_path_loader_without_a_path_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DatasetError) as info:
        load_task("racketsports")
    assert DATA_DIR_ENV in str(info.value) and "data_dir" in str(info.value)


def test_path_loader_with_a_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"not found \(expected citeseer/CiteSeer.mat\)"):
        load_task("citeseer", data_dir=tmp_path)


def test_data_dir_env_var(monkeypatch, shared_data):
    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    task = load_task("racketsports")
    assert task.n_samples == 303


# ------------------------------------------------------------------ .ts parser


TS_TEXT = """# a comment
@problemName tiny
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down
@data
1,2,3:4,5,6:up
7,8,9:1,1,1:down
"""


def test_read_ts_known_answer(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text(TS_TEXT)
    x, y, classes = read_ts(path)
    assert classes == ["up", "down"]
    assert y.tolist() == [0, 1]
    assert x.shape == (2, 3, 2)
    assert x[0, :, 0].tolist() == [1, 2, 3] and x[0, :, 1].tolist() == [4, 5, 6]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("1,2,3:4,5,6:sideways\n", "not declared"),
        ("1,2,3:4,5:up\n", "unequal length"),
        ("1,2,?:4,5,6:up\n", "non-numeric"),
    ],
)
def test_read_ts_errors(tmp_path, body, match):
    path = tmp_path / "bad.ts"
    path.write_text(TS_TEXT.split("@data")[0] + "@data\n" + body)
    with pytest.raises(DatasetError, match=match) as info:
        read_ts(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------ real files


def test_racketsports_real_files(shared_data):
    raw = load_racketsports(data_dir=shared_data, val_fraction=0.2, seed=0)
    assert raw.arrays["accelerometer"].shape == (303, 30, 3)
    assert raw.arrays["gyroscope"].shape == (303, 30, 3)
    assert len(raw.test_idx) == 152 and len(raw.train_idx) + len(raw.val_idx) == 151
    assert np.array_equal(raw.test_idx, np.arange(151, 303))
    assert raw.classes[0] == "Badminton_Smash" and len(raw.classes) == 4
    # channels 0-2 of the file are the accelerometer: compare with the raw parse
    x_tr, y_tr, _ = read_ts(shared_data / "racketsports" / "RacketSports_TRAIN.ts")
    assert np.array_equal(raw.y[:151], y_tr)
    for c in range(3):
        r = np.corrcoef(raw.arrays["accelerometer"][:151, :, c].ravel(), x_tr[:, :, c].ravel())[
            0, 1
        ]
        g = np.corrcoef(raw.arrays["gyroscope"][:151, :, c].ravel(), x_tr[:, :, 3 + c].ravel())[
            0, 1
        ]
        assert r > 0.99999 and g > 0.99999
    task = raw.to_task()
    assert task.n_outputs == 4


def test_citeseer_real_file(shared_data):
    path = shared_data / "citeseer" / "CiteSeer.mat"
    adj, words, y = read_citeseer(path)
    assert adj.shape == (3312, 3312) and words.shape == (3312, 3703)
    assert (adj != adj.T).nnz == 0 and adj.diagonal().sum() == 0
    assert np.bincount(y).tolist() == [596, 668, 701, 249, 508, 590]
    raw = load_citeseer(path, graph="spectral", graph_dim=16, seed=0)
    assert raw.arrays["text"].shape == (3312, 3703) and raw.arrays["graph"].shape == (3312, 16)
    # the spectral embedding is deterministic and does not depend on the start vector
    e1 = spectral_embedding(adj, 8, seed=0)
    e2 = spectral_embedding(adj, 8, seed=5)
    np.testing.assert_allclose(np.abs(e1), np.abs(e2), atol=1e-4)
    adj_mode = load_citeseer(path, graph="adjacency", text="svd", text_dim=16)
    assert adj_mode.arrays["graph"].shape == (3312, 3312)
    assert np.array_equal(adj_mode.arrays["graph"], adj.toarray().astype(np.float32))
    assert adj_mode.arrays["text"].shape == (3312, 16)

    # a 0/1 bag of words or neighbour set is declared unscaled (learners would otherwise
    # standardise each word); embeddings are scaled as usual
    def scaled(r):
        return {m.name: m.standardize for m in r.modalities}

    assert scaled(raw) == {"text": False, "graph": True}
    assert scaled(adj_mode) == {"text": True, "graph": False}
    assert raw.to_task().modality("text").standardize is False
    # the graph carries the topic: neighbours share labels far more than chance
    rows, cols = adj.nonzero()
    assert np.mean(y[rows] == y[cols]) > 0.5
    with pytest.raises(DatasetError, match="option graph"):
        load_citeseer(path, graph="walks")


def test_fsdd_real_files_split_by_take(shared_data):
    raw = load_fsdd(data_dir=shared_data, n_mels=24, n_frames=20)
    assert raw.arrays["audio"].shape == (3000, 20, 24)
    assert len(raw.test_idx) == 300 and len(raw.val_idx) == 300 and len(raw.train_idx) == 2400
    assert np.bincount(raw.y[raw.test_idx]).tolist() == [30] * 10
    task = raw.to_task()
    assert task.modality("audio").positions == (20,) and task.modality("audio").channels == 24


def test_spoken_digits_pairs_mnist_by_label(shared_data):
    raw = load_spoken_digits(data_dir=shared_data, pool=4, n_frames=16)
    assert raw.arrays["audio"].shape == (3000, 16, 32) and raw.arrays["image"].shape == (3000, 7, 7)
    images = raw.arrays["image"].reshape(3000, -1)
    assert len(np.unique(images, axis=0)) >= 2990  # distinct MNIST images (rare exact duplicates)
    # the image of each pair shows the pair's digit: a nearest-centroid check on MNIST-5k
    from hetero.datasets.packaged import _mnist_images

    x_m, y_m = _mnist_images(4)
    centroids = np.stack([x_m[y_m == d].reshape(-1, 49).mean(axis=0) for d in range(10)])
    pred = np.argmin(((images[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(pred == raw.y) > 0.7


def test_fsdd_bad_folder(tmp_path):
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    with pytest.raises(DatasetError, match="file name is not"):
        load_fsdd(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no \.wav files"):
        load_raw("fsdd", path=empty)
