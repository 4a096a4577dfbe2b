"""Write the ``.npz`` files used by the example suites in this folder.

* ``speech.npz`` (for ``speech_example.yaml`` and ``two_task_example.yaml``): a synthetic
  four-class task with two modalities. ``audio`` is a (time, channels) sequence whose dominant
  frequency depends on the class; ``lips`` is a (frames,) mouth-opening curve whose number of
  openings depends on the class. No index arrays: the YAML's ``split:`` fractions are used.
* ``loudness.npz`` (for ``two_task_example.yaml``): a regression task whose ``audio`` has the
  same 4 channels as in ``speech.npz`` (so both tasks share the modality ``audio``) and whose
  ``y`` is the mean amplitude; it ships ``train_idx`` / ``val_idx`` / ``test_idx``.

Usage::

    python examples/suites/make_example_data.py                 # writes beside this file
    python examples/suites/make_example_data.py --out DIR --samples 500 --seed 1
    hetero datasets show examples/suites/speech_example.yaml
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from hetero._io import atomic_write_bytes

HERE = Path(__file__).resolve().parent


def make_speech_arrays(
    n_samples: int = 300,
    n_classes: int = 4,
    *,
    time_steps: int = 32,
    audio_channels: int = 4,
    frames: int = 24,
    noise: float = 0.5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Arrays ``audio`` (n, time_steps, audio_channels), ``lips`` (n, frames), ``y`` (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    t = np.linspace(0.0, 1.0, time_steps)
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1, audio_channels))
    freq = (2.0 + 2.0 * y)[:, None, None]
    audio = np.sin(2 * np.pi * freq * t[None, :, None] + phase)
    audio += noise * rng.normal(size=audio.shape)
    f = np.linspace(0.0, 1.0, frames)
    lips = np.abs(np.sin(np.pi * (1 + y)[:, None] * f[None, :]))
    lips += noise * rng.normal(size=lips.shape)
    return {"audio": audio.astype(np.float32), "lips": lips.astype(np.float32), "y": y}


def make_loudness_arrays(
    n_samples: int = 200, *, time_steps: int = 20, audio_channels: int = 4, seed: int = 0
) -> dict[str, np.ndarray]:
    """Arrays ``audio`` (n, time_steps, audio_channels), ``y`` (n,) and split indices."""
    rng = np.random.default_rng(seed)
    gain = rng.uniform(0.2, 2.0, size=n_samples)
    audio = gain[:, None, None] * rng.normal(size=(n_samples, time_steps, audio_channels))
    y = np.abs(audio).mean(axis=(1, 2))
    order = rng.permutation(n_samples)
    n_test = n_val = n_samples // 5
    return {
        "audio": audio.astype(np.float32),
        "y": y.astype(np.float32),
        "test_idx": np.sort(order[:n_test]),
        "val_idx": np.sort(order[n_test : n_test + n_val]),
        "train_idx": np.sort(order[n_test + n_val :]),
    }


def _write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def write_example_data(
    out: str | Path = HERE, *, n_samples: int = 300, seed: int = 0
) -> list[Path]:
    """Write ``speech.npz`` and ``loudness.npz`` into ``out``; return their paths."""
    out = Path(out)
    return [
        _write_npz(out / "speech.npz", make_speech_arrays(n_samples, seed=seed)),
        _write_npz(out / "loudness.npz", make_loudness_arrays(n_samples, seed=seed)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE), help="folder to write into")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in write_example_data(args.out, n_samples=args.samples, seed=args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
