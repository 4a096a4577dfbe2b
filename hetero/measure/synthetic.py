"""Planted suites with known heterogeneity structure (tests, benchmarks, examples).

Each *group* has its own latent signal ``z_g`` and feature map ``A_g``; every modality of the
group is a different noisy invertible elementwise transform of ``z_g @ A_g`` (identity,
tanh, cube root, affine, signed square), so modalities of one group share their feature
space and their label information. The label (quantile bins of a score) depends on all groups' latents,
so every group is informative, about different parts of the label. Optional noise modalities carry
nothing. The expected structure: modalities of a group are closer to each other than to
modalities of other groups or to noise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["planted_suite"]

_TRANSFORMS = (
    lambda x: x,
    np.tanh,
    np.cbrt,
    lambda x: 2.0 * x - 0.5,
    lambda x: np.sign(x) * np.sqrt(np.abs(x)),
)


def planted_suite(
    n_groups: int = 2,
    per_group: int = 2,
    *,
    n_noise: int = 1,
    n_samples: int = 600,
    n_classes: int = 4,
    latent: int = 6,
    width: int = 16,
    noise: float = 0.3,
    seed: int = 0,
    name: str = "planted",
):
    """A one-task suite with ``n_groups * per_group`` signal and ``n_noise`` noise modalities.

    Returns
    -------
    suite : Suite
    groups : dict of str -> int
        Unit label -> planted group (noise modalities get ``-1``).
    """
    from hetero.suite import Suite, Task

    rng = np.random.default_rng(seed)
    zs = [rng.normal(size=(n_samples, latent)) for _ in range(n_groups)]
    score = sum(z @ rng.normal(size=latent) + 0.5 * np.sin(z @ rng.normal(size=latent)) for z in zs)
    cuts = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.searchsorted(cuts, score)  # balanced classes (quantile bins of the score)
    arrays: dict[str, np.ndarray] = {}
    groups: dict[str, int] = {}
    for g, z in enumerate(zs):
        base = z @ rng.normal(size=(latent, width)) / np.sqrt(latent)
        for k in range(per_group):
            f = _TRANSFORMS[k % len(_TRANSFORMS)]
            x = f(base + noise * rng.normal(size=base.shape))
            arrays[f"g{g}m{k}"] = x.astype(np.float32)
            groups[f"{name}/g{g}m{k}"] = g
    for k in range(n_noise):
        arrays[f"noise{k}"] = rng.normal(size=(n_samples, width)).astype(np.float32)
        groups[f"{name}/noise{k}"] = -1
    modalities = [{"name": m, "kind": "table", "positional_axes": 0} for m in arrays]
    task = Task.from_arrays(
        name,
        arrays,
        y,
        target="multiclass",
        modalities=modalities,
        split={"val": 0.25, "test": 0.15, "seed": seed},
        n_classes=n_classes,
    )
    return Suite([task], name=name), groups
