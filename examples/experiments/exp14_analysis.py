"""Experiment 14's pre-registered analysis (exp14_preregistration.md) of one suite's rows.

    python examples/experiments/exp14_analysis.py examples/experiments/data/exp14_schedule_mini.csv

Per seed, the mean test accuracy over the suite's tasks; C - A (primary), B - A and C - B,
each the mean paired difference with its 95 % t interval; the same per task; median
seconds per run of each arm.
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict

from hetero.compare.stats import paired_difference

ARMS = {"A": "constant, proportional", "B": "cosine, proportional", "C": "cosine, balanced"}
CONTRASTS = (("C", "A"), ("B", "A"), ("C", "B"))


def main(path: str) -> None:
    acc: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)  # (arm, task) -> seed
    seconds: dict[str, dict[int, float]] = defaultdict(dict)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            acc[r["arm"], r["task"]][int(r["seed"])] = float(r["accuracy"])
            seconds[r["arm"]][int(r["seed"])] = float(r["seconds"])
    tasks = sorted({t for _, t in acc})
    mean: dict[str, dict[int, float]] = {}
    for arm in ARMS:
        seeds = set.intersection(*(set(acc[arm, t]) for t in tasks))
        mean[arm] = {s: statistics.fmean(acc[arm, t][s] for t in tasks) for s in seeds}
    print(f"{path}: {len(tasks)} tasks, seeds per arm {[len(mean[a]) for a in ARMS]}")
    for arm, label in ARMS.items():
        print(
            f"  {arm} ({label}): mean {statistics.fmean(mean[arm].values()):.4f}, "
            f"median {statistics.median(seconds[arm].values()):.0f} s per run"
        )
    for x, y in CONTRASTS:
        d = paired_difference(mean[x], mean[y])
        print(f"{x} - {y}, mean over tasks: {d.mean:+.4f} [{d.lo:+.4f}, {d.hi:+.4f}] ({d.n} seeds)")
        for t in tasks:
            d = paired_difference(acc[x, t], acc[y, t])
            print(f"    {t:14s} {d.mean:+.4f} [{d.lo:+.4f}, {d.hi:+.4f}]")


if __name__ == "__main__":
    main(sys.argv[1])
