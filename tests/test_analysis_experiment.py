"""Smoke test of experiment 7 (examples/experiments/exp7_analyses.py --quick): every analysis
writes its JSON, CSVs and figure, and the headline table holds finite numbers."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # about 40 s on a busy 2-core machine (10 s of CPU)

ROOT = Path(__file__).resolve().parents[1]


def test_exp7_quick_run_writes_every_analysis(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("HETERO_SUITE_PICKLE", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "experiments" / "exp7_analyses.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("overlap", "interference", "few_shot", "transfer"):
        data = json.loads((tmp_path / name / f"{name}.json").read_text())
        assert data["kind"] == name and data["tables"]["rows"] and data["verdicts"]
        assert (tmp_path / name / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / name / f"{name}_summary.csv").is_file()
    with open(tmp_path / "exp7_table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["analysis"] for r in rows} == {"overlap", "interference", "few_shot", "transfer"}
    assert all(math.isfinite(float(r["mean"])) and r["n_seeds"] == "2" for r in rows)
    text = (tmp_path / "exp7_analyses.md").read_text()
    for title in ("Parameter overlap", "Parameter interference", "Few-shot", "Transfer"):
        assert f"## {title}" in text
    assert set(json.loads((tmp_path / "timings.json").read_text())) >= {"overlap", "total wall"}
