"""Smoke tests of the experiment scripts (examples/experiments/exp*.py --quick).

Each script runs in a subprocess on a tiny package-data suite and must write its table
(CSV + Markdown) with the expected columns and finite numbers, and its figure.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXP = ROOT / "examples" / "experiments"

# script -> (table name, columns that must exist and hold finite numbers in every row,
#            figure files)
CASES = {
    "exp0_reliability": (
        "exp0_reliability",
        ["spearman_T_mean", "core_s_mean", "transfer_seeds", "baseline_seeds"],
        ["exp0_reliability.png"],
    ),
    "exp1_matrices": (
        "exp1_matrices",
        ["mean", "std", "n_seeds", "n_pairs"],
        ["exp1_modality_heatmap.png", "exp1_modality_dendrogram.png"],
    ),
    # the quick suite has 2 interaction units: no triangles there (NaN is the right answer)
    "exp2_metric": (
        "exp2_metric",
        ["n_units", "measured_pairs", "n_seeds", "modality:per_seed_mean"],
        ["exp2_spectrum.png"],
    ),
    "exp3_measure_less": (
        "exp3_measure_less",
        ["fraction", "rel_error_mean", "ari_mean", "measured_fraction_mean"],
        ["exp3_measure_less.png"],
    ),
    "exp4_pareto": (
        "exp4_pareto",
        ["params", "avg_test_metric_mean", "avg_test_metric_std", "n_seeds"],
        ["exp4_pareto.png"],
    ),
    "exp5_ablations": (
        "exp5_ablations",
        ["params", "avg_test_metric_mean", "avg_test_metric_std"],
        ["exp5_ablations.png"],
    ),
    "exp6_transfer": (
        "exp6_transfer",
        ["test_metric_mean", "test_metric_std", "gain_vs_alone"],
        ["exp6_transfer.png"],
    ),
    "exp10_retrieval": (
        "exp10_table",
        ["alone_mean", "multitask_mean", "diff_mean", "diff_lo", "diff_hi", "n_seeds"],
        [],
    ),
}


def _run(script: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("HETERO_SUITE_PICKLE", None)
    return subprocess.run(
        [sys.executable, str(EXP / f"{script}.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", sorted(CASES))
def test_quick_run_writes_table(script: str, tmp_path: Path) -> None:
    table, numeric, figures = CASES[script]
    proc = _run(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    csv_path = tmp_path / f"{table}.csv"
    md_path = tmp_path / f"{table}.md"
    assert csv_path.exists() and md_path.exists()
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "empty table"
    for spec in numeric:
        level, _, col = spec.rpartition(":")  # "level:column" checks that level's rows only
        assert col in rows[0], f"column {col!r} missing (have {list(rows[0])})"
        checked = [r for r in rows if not level or r.get("level") == level]
        assert checked, spec
        for r in checked:
            assert math.isfinite(float(r[col])), f"{col}={r[col]!r} in {r}"
    header = md_path.read_text().splitlines()
    assert any(line.startswith("| ") and numeric[0] in line for line in header)
    for fig in figures:
        p = tmp_path / fig
        assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", fig


def test_records_round_trip_and_rescoring(tmp_path: Path) -> None:
    """Exported run records reproduce the driver's matrices; an epoch cap at the full
    length changes nothing, a cap of 1 scores the first epoch only."""
    sys.path.insert(0, str(EXP))
    try:
        import _common as C
        import campaign
    finally:
        sys.path.remove(str(EXP))
    import numpy as np

    from hetero.datasets import load_task
    from hetero.measure import measure
    from hetero.suite import Suite

    suite = Suite(
        [load_task("mfeat", views=["image", "fourier", "zernike"], image_pool=2, max_samples=80)],
        name="t",
    )
    probe = campaign.probe_config(2, quick=True)
    res = measure(suite, tmp_path / "m", learner="highmmt", learner_config=probe,
                  estimator="frozen", seeds=2, baseline_seeds=2, interactions=False,
                  figures=False, stability_boot=0)  # fmt: skip
    n = C.save_records(tmp_path / "m" / "runs.sqlite", tmp_path / "r.jsonl.gz")
    assert n == res.stats.total
    records = C.load_records([tmp_path / "r.jsonl.gz"])
    levels = C.campaign_estimates(suite, records, estimator="frozen", probe=probe)
    mine = levels["modality"]["estimate"].values
    np.testing.assert_allclose(mine, res.modality.transfer.values, rtol=1e-12, atol=1e-12)
    same = C.level_estimate(levels["modality"]["runs"], records, "frozen", epoch_cap=2).values
    np.testing.assert_allclose(same, mine, atol=1e-6)
    first = C.level_estimate(levels["modality"]["runs"], records, "frozen", epoch_cap=1).values
    runs = levels["modality"]["runs"]
    src, tgt, _ = next(iter(runs.transfer))
    i, j = runs.labels.index(src), runs.labels.index(tgt)
    base = np.mean([records[runs.baseline[(tgt, b)].key].curve[0] for b in (0, 1)])
    trans = np.mean([records[runs.transfer[(src, tgt, t)].key].curve[0] for t in (0, 1)])
    assert first[i, j] == pytest.approx(trans - base)
