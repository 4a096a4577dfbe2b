"""Coverage of the quality benchmark's gap intervals in simulation (docs/benchmarks.md).

A planted world with a known gap of 0: per-sample easiness (70 % of the test samples easy,
p 0.9, the rest p 0.45), model ``a`` trained with ``--seeds`` seeds, each seed shifting its
hit rate by a normal offset of sd ``sigma``; model ``b`` deterministic. Each trial draws a
new test set and new seeds and asks whether each interval covers 0:

* ``seed_and_sample_interval`` (what bench_quality's verdicts read);
* ``paired_bootstrap`` over the test samples with the models held fixed (the earlier one).

Usage::

    python benchmarks/sim_gap_interval.py [--trials 2000] [--samples 250]
"""

from __future__ import annotations

import argparse

import numpy as np

from hetero.compare.stats import paired_bootstrap, seed_and_sample_interval


def coverage(sigma: float, seeds: int, n: int, trials: int, resamples: int) -> tuple[float, float]:
    rng = np.random.default_rng(5)
    two = fixed = 0
    for t in range(trials):
        easy = np.where(rng.random(n) < 0.7, 0.9, 0.45)
        offsets = rng.normal(0.0, sigma, size=(seeds, 1))
        a = (rng.random((seeds, n)) < easy + offsets).astype(float)
        b = (rng.random(n) < easy).astype(float)
        iv = seed_and_sample_interval(a, b)
        two += iv.lo <= 0.0 <= iv.hi
        iv = paired_bootstrap(a, b, resamples=resamples, seed=t)
        fixed += iv.lo <= 0.0 <= iv.hi
    return two / trials, fixed / trials


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=250)
    ap.add_argument("--resamples", type=int, default=400, help="of the paired bootstrap")
    args = ap.parse_args(argv)
    print("| seed sd | seeds | seed + sample interval | fixed-model bootstrap |")
    print("|---:|---:|---:|---:|")
    for sigma in (0.0, 0.03, 0.06):
        for seeds in (3, 5):
            two, fixed = coverage(sigma, seeds, args.samples, args.trials, args.resamples)
            print(f"| {sigma} | {seeds} | {two:.3f} | {fixed:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
