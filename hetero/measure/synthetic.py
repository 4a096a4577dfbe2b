"""Planted suites with known heterogeneity structure (tests, benchmarks, examples).

Each *group* has its own latent signal ``z_g`` and feature map ``A_g``; every modality of the
group is a different noisy invertible elementwise transform of ``z_g @ A_g`` (identity,
tanh, cube root, affine, signed square), so modalities of one group share their feature
space and their label information. Optional noise modalities carry nothing. The expected
structure: modalities of a group are closer to each other than to modalities of other
groups or to noise.

Labels are quantile bins of a score (balanced classes). With ``task_per_group=False`` (one
task) the score sums every group's contribution, so each group is informative about part
of the label; with ``task_per_group=True`` group ``g`` is task ``{name}{g}`` whose label
depends on ``z_g`` only (noise modalities join task 0).

:func:`planted_sharing_suite` plants *sharing gains* instead: every unit is a task of its
own with its own samples, and units of one *family* share the rule that maps inputs to
labels, so training two of them on one body pools their data, while units of different
families ask for different rules (validity tests of ``benchmarks/bench_validity.py``).
"""

from __future__ import annotations

import numpy as np

from hetero.errors import HeteroError

__all__ = ["planted_sharing_suite", "planted_suite"]

_TRANSFORMS = (
    lambda x: x,
    np.tanh,
    np.cbrt,
    lambda x: 2.0 * x - 0.5,
    lambda x: np.sign(x) * np.sqrt(np.abs(x)),
)


def _labels(score: np.ndarray, n_classes: int) -> np.ndarray:
    cuts = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    return np.searchsorted(cuts, score)


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
    task_per_group: bool = False,
    seed: int = 0,
    name: str = "planted",
):
    """A suite with ``n_groups * per_group`` signal and ``n_noise`` noise modalities.

    Returns
    -------
    suite : Suite
    groups : dict of str -> int
        Unit label -> planted group (noise modalities get ``-1``).
    """
    from hetero.suite import Suite, Task

    rng = np.random.default_rng(seed)
    zs = [rng.normal(size=(n_samples, latent)) for _ in range(n_groups)]
    scores = [z @ rng.normal(size=latent) + 0.5 * np.sin(z @ rng.normal(size=latent)) for z in zs]
    task_names = [f"{name}{g}" for g in range(n_groups)] if task_per_group else [name]
    arrays: dict[str, dict[str, np.ndarray]] = {t: {} for t in task_names}
    groups: dict[str, int] = {}
    for g, z in enumerate(zs):
        task = task_names[g] if task_per_group else name
        base = z @ rng.normal(size=(latent, width)) / np.sqrt(latent)
        for k in range(per_group):
            f = _TRANSFORMS[k % len(_TRANSFORMS)]
            x = f(base + noise * rng.normal(size=base.shape))
            arrays[task][f"g{g}m{k}"] = x.astype(np.float32)
            groups[f"{task}/g{g}m{k}"] = g
    for k in range(n_noise):
        arrays[task_names[0]][f"noise{k}"] = rng.normal(size=(n_samples, width)).astype(np.float32)
        groups[f"{task_names[0]}/noise{k}"] = -1
    tasks = []
    for t, task in enumerate(task_names):
        y = _labels(scores[t] if task_per_group else np.sum(scores, axis=0), n_classes)
        modalities = [{"name": m, "kind": "table", "positional_axes": 0} for m in arrays[task]]
        tasks.append(
            Task.from_arrays(
                task,
                arrays[task],
                y,
                target="multiclass",
                modalities=modalities,
                split={"val": 0.25, "test": 0.15, "seed": seed},
                n_classes=n_classes,
            )
        )
    return Suite(tasks, name=name), groups


def planted_sharing_suite(
    n_families: int = 2,
    per_family: int = 2,
    *,
    n_samples: int = 240,
    n_classes: int = 3,
    width: int = 8,
    noise: float = 0.3,
    val: float = 0.25,
    test: float = 0.25,
    seed: int = 0,
    name: str = "share",
):
    """A suite in which sharing a body helps exactly the pairs of units of one family.

    Unit ``{name}{f}_{k}/x`` (family ``f``, member ``k``) is a task of its own with one
    modality ``x`` of ``width`` features: ``n_samples`` fresh samples ``x ~ N(0, I)`` and
    balanced labels from family ``f``'s rule, quantile bins of
    ``x @ a_f + 0.5 sin(x @ b_f) + noise * e``. The input distribution is the same for every
    unit; only the rule differs between families (directions ``a_f`` are orthogonal). Two
    members of a family are one problem with twice the data when they share a body; two
    units of different families are two unrelated problems competing for one body.
    ``val`` and ``test`` are the shares of the samples held out (a small training share
    leaves each unit short of data, so that pooling it matters).

    Returns
    -------
    suite : Suite
    families : dict of str -> int
        Unit label -> family.
    """
    from hetero.suite import Suite, Task

    if n_families < 1 or per_family < 1 or n_families > width:
        raise HeteroError(f"need 1 <= n_families <= width and per_family >= 1, got "
                         f"{n_families}, {per_family}, width {width}")  # fmt: skip
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(width, width)))
    rules = [(q[:, f] * 2.0, rng.normal(size=width) / np.sqrt(width)) for f in range(n_families)]
    tasks, families = [], {}
    for f, (a, b) in enumerate(rules):
        for k in range(per_family):
            x = rng.normal(size=(n_samples, width))
            score = x @ a + 0.5 * np.sin(x @ b) + noise * rng.normal(size=n_samples)
            task = f"{name}{f}_{k}"
            tasks.append(
                Task.from_arrays(
                    task,
                    {"x": x.astype(np.float32)},
                    _labels(score, n_classes),
                    target="multiclass",
                    modalities=[{"name": "x", "kind": "table", "positional_axes": 0}],
                    split={"val": val, "test": test, "seed": seed + 1 + k + per_family * f},
                    n_classes=n_classes,
                )
            )
            families[f"{task}/x"] = f
    return Suite(tasks, name=name), families
