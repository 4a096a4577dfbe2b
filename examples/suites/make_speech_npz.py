"""Write ``speech.npz`` for ``speech_example.yaml``: a small synthetic two-modality task.

Each sample belongs to one of ``n_classes`` classes. ``audio`` is a (time, channels)
sequence whose dominant frequency depends on the class; ``lips`` is a (frames,) mouth-opening
curve whose number of openings depends on the class. Both carry the label plus noise, so a
model can learn the task from either modality. The file holds ``audio``, ``lips`` and ``y``
(no index arrays, so the YAML's ``split:`` fractions are used).

Usage::

    python examples/suites/make_speech_npz.py            # writes speech.npz beside this file
    python examples/suites/make_speech_npz.py OUT.npz --samples 500 --seed 1
    hetero datasets show examples/suites/speech_example.yaml
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from hetero._io import atomic_write_bytes


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


def write_speech_npz(path: str | Path, **kwargs) -> Path:
    """Write :func:`make_speech_arrays` to ``path`` (atomically) and return the path."""
    buf = io.BytesIO()
    np.savez(buf, **make_speech_arrays(**kwargs))
    return atomic_write_bytes(path, buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).with_name("speech.npz")))
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = write_speech_npz(
        args.out, n_samples=args.samples, n_classes=args.classes, seed=args.seed
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
