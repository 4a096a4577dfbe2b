"""Per-seed rows of the `hetero train` runs of experiments 13 and 14, as one CSV.

    python examples/experiments/train_rows.py WORK CSV COLUMN

WORK holds one folder per run, named ``<arm>_s<seed>`` (its metrics.json), each with a
``<folder>.seconds`` file beside it; COLUMN names the arm column (``mode`` in experiment
13, ``arm`` in 14). One row per run and task: arm, seed, task, test accuracy, seconds.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(work: Path, dest: Path, column: str) -> None:
    rows = []
    for metrics in sorted(work.glob("*/metrics.json")):
        arm, seed = metrics.parent.name.rsplit("_s", 1)
        seconds = float((work / f"{metrics.parent.name}.seconds").read_text())
        for task, m in json.loads(metrics.read_text())["test"].items():
            rows.append({column: arm, "seed": int(seed), "task": task,
                         "accuracy": round(m["accuracy"], 6), "seconds": round(seconds, 1)})  # fmt: skip
    rows.sort(key=lambda r: (r["seed"], r[column], r["task"]))
    tmp = dest.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(dest)
    print(f"{len(rows)} rows -> {dest}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
