"""Generate the example heterogeneity matrices in this folder.

The values are synthetic (not measured): units are assigned to planted groups, the
distance between two units is the distance between their groups plus symmetric noise,
and the distance within a group is small. This gives matrices with the structure HighMMT
reports (a few groups, approximately low rank) for trying the analysis commands:

    python examples/matrices/make_example.py            # rewrites the JSON files here
    hetero check examples/matrices/modality.json
    hetero complete examples/matrices/modality_sampled.json -o completed.json
    hetero plan examples/matrices/modality.json --interaction examples/matrices/interaction.json \
        --unimodal-groups 3 --crossmodal-groups 2 -o plan.json

Files: ``modality.json`` (complete modality distances), ``modality_sampled.json`` (the
same with about 45 % of the pairs unmeasured, chosen by ``hetero.design``), and
``interaction.json`` (complete interaction distances).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hetero._provenance import provenance
from hetero.design import measurement_design
from hetero.matrix import HeterogeneityMatrix

HERE = Path(__file__).resolve().parent

# unit label -> planted group (0: image-like features, 1: inertial sensors, 2: other)
UNITS = {
    "mfeat/pixel": 0,
    "mfeat/fourier": 0,
    "mfeat/karhunen": 0,
    "mfeat/zernike": 0,
    "watch/accelerometer": 1,
    "watch/gyroscope": 1,
    "har/body_acc": 1,
    "har/total_acc": 1,
    "mfeat/morphological": 2,
    "mfeat/profile": 2,
}
INTERACTIONS = {
    "mfeat/fourier+pixel": 0,
    "mfeat/karhunen+pixel": 0,
    "mfeat/fourier+zernike": 0,
    "watch/accelerometer+gyroscope": 1,
    "har/body_acc+total_acc": 1,
    "mfeat/morphological+pixel": 1,
}
GROUP_DISTANCE = np.array([[0.0, 1.0, 0.7], [1.0, 0.0, 0.9], [0.7, 0.9, 0.0]])


def planted(groups: list[int], noise: float, rng: np.random.Generator) -> np.ndarray:
    """Distances: planted group distances + within-group 0.1 + symmetric noise, >= 0."""
    g = np.asarray(groups)
    D = GROUP_DISTANCE[np.ix_(g, g)] + 0.1
    E = rng.normal(scale=noise, size=D.shape)
    D = np.maximum(D + (E + E.T) / 2, 0.0)
    np.fill_diagonal(D, 0.0)
    return np.round(D, 4)


def main(out: Path = HERE, seed: int = 0, noise: float = 0.05) -> None:
    rng = np.random.default_rng(seed)
    prov = provenance(
        generator="examples/matrices/make_example.py",
        seed=seed,
        noise=noise,
        note="synthetic planted-group matrix, not measured",
    )
    mod = HeterogeneityMatrix(
        list(UNITS), planted(list(UNITS.values()), noise, rng), kind="modality", provenance=prov
    )
    mod.write(out / "modality.json")
    mask = measurement_design(mod.n, fraction=0.55, min_per_row=3, seed=seed)
    np.fill_diagonal(mask, True)
    sampled = mod.copy(values=np.where(mask, mod.values, np.nan))
    sampled.write(out / "modality_sampled.json")
    inter = HeterogeneityMatrix(
        list(INTERACTIONS),
        planted(list(INTERACTIONS.values()), noise, rng),
        kind="interaction",
        provenance=prov,
    )
    inter.write(out / "interaction.json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.05)
    args = parser.parse_args()
    main(args.out, args.seed, args.noise)
