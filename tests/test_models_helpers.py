"""Small synthetic suites shared by the hetero_models tests (no tests in this module)."""

from __future__ import annotations

import numpy as np

from hetero.suite import Modality, Suite, Task


def make_suite(n: int = 48, seed: int = 0) -> Suite:
    """Three tiny tasks with planted signal.

    * ``alpha`` (multiclass, 3 classes): ``img`` 4x4 grid of 3 channels, ``seq`` 6 steps x 2.
    * ``beta`` (binary): ``seq`` (shared name with alpha), ``vec`` 5 positions x 1 channel,
      ``tab`` one position of 8 features.
    * ``gamma`` (regression): ``img`` and ``tab``.
    """
    rng = np.random.default_rng(seed)
    ya = rng.integers(0, 3, n)
    img = rng.normal(size=(n, 4, 4, 3)).astype(np.float32)
    img[:, :, :, 0] += ya[:, None, None]
    seq = rng.normal(size=(n, 6, 2)).astype(np.float32)
    seq[:, :, 1] -= ya[:, None]
    alpha = Task.from_arrays(
        "alpha",
        {"img": img, "seq": seq},
        ya,
        target="multiclass",
        modalities=[
            Modality("img", kind="image", num_freq_bands=2, max_freq=4.0),
            Modality("seq", kind="timeseries", num_freq_bands=3),
        ],
        split={"val": 0.25, "test": 0.25, "seed": seed},
    )
    yb = rng.integers(0, 2, n)
    seq_b = rng.normal(size=(n, 6, 2)).astype(np.float32) + yb[:, None, None]
    vec = rng.normal(size=(n, 5)).astype(np.float32) - yb[:, None]
    tab = rng.normal(size=(n, 8)).astype(np.float32)
    tab[:, 0] += 2 * yb
    beta = Task.from_arrays(
        "beta",
        {"seq": seq_b, "vec": vec, "tab": tab},
        yb,
        target="binary",
        modalities=[
            Modality("seq", kind="timeseries", num_freq_bands=3),
            Modality("vec", num_freq_bands=2),
            Modality("tab", kind="table", positional_axes=0),
        ],
        split={"val": 0.25, "test": 0.25, "seed": seed},
    )
    img_c = rng.normal(size=(n, 4, 4, 3)).astype(np.float32)
    tab_c = rng.normal(size=(n, 8)).astype(np.float32)
    yc = (img_c[:, :, :, 1].mean((1, 2)) + tab_c[:, 2]).astype(np.float32)
    gamma = Task.from_arrays(
        "gamma",
        {"img": img_c, "tab": tab_c},
        yc,
        target="regression",
        modalities=[
            Modality("img", kind="image", num_freq_bands=2, max_freq=4.0),
            Modality("tab", kind="table", positional_axes=0),
        ],
        split={"val": 0.25, "test": 0.25, "seed": seed},
    )
    return Suite([alpha, beta, gamma], name="tiny")


#: small hyperparameters for fast tests
TINY = {
    "preset": "small",
    "num_latents": 4,
    "latent_dim": 16,
    "latent_heads": 2,
    "cross_dim_head": 8,
    "latent_dim_head": 8,
    "crossmodal_cross_heads": 2,
}
