"""`hetero export` and :mod:`hetero.export`: one long table per measurement (CSV, Parquet,
LaTeX), the same rows as ``hetero measure``'s ``<level>_long.csv``, read back by pandas."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError
from hetero.export import (
    GROUP_COLUMNS,
    LONG_COLUMNS,
    csv_text,
    export_columns,
    export_rows,
    latex_escape,
    latex_table,
    long_rows,
    write_export,
)
from hetero.plan import GroupingPlan
from tests.test_report import measured  # noqa: F401  (the measurement fixture)

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["export", *map(str, args)])


def _one_line_error(res) -> str:
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


# ----------------------------------------------------------------------------- rows


def test_long_rows_known_answer():
    t = [[0.0, 0.5], [-0.2, 0.0]]
    d = [[0.0, 0.5], [0.5, 0.0]]
    rows = long_rows(
        ["a/x", "b/y"],
        t,
        d,
        se=[[np.nan, 0.1], [0.05, np.nan]],
        df=[[np.nan, 2], [2, np.nan]],
        half_width=[[np.nan, 0.43], [0.2, np.nan]],
        significant=[[False, True], [False, False]],
        completed=None,
        measured=[[False, True], [True, False]],
    )
    assert [(r["source"], r["target"]) for r in rows] == [("a/x", "b/y"), ("b/y", "a/x")]
    first, second = rows
    assert first["T"] == 0.5 and first["se"] == 0.1 and first["df"] == 2.0
    assert first["ci_low"] == pytest.approx(0.07) and first["ci_high"] == pytest.approx(0.93)
    assert first["significant"] and not second["significant"]
    assert second["ci_low"] == pytest.approx(-0.4) and second["ci_high"] == pytest.approx(0.0)
    assert not first["completed"] and first["measured"] and first["d"] == 0.5
    assert set(first) == set(LONG_COLUMNS)


def test_missing_numbers_are_nan_and_empty_csv_cells():
    rows = long_rows(["a", "b"], None, [[0, 1], [1, 0]])
    assert all(math.isnan(r["T"]) and math.isnan(r["ci_low"]) for r in rows)
    text = csv_text(rows, LONG_COLUMNS)
    assert text.splitlines()[1] == "a,b,,,,,,False,1.0,False,False"


def test_export_matches_the_measure_long_csv_and_the_plan(measured):  # noqa: F811
    import pandas as pd

    rows, columns = export_rows(measured)
    assert columns == ("level", *LONG_COLUMNS, *GROUP_COLUMNS)
    frame = pd.DataFrame(rows, columns=list(columns))
    plan = GroupingPlan.read(measured / "plan.json")
    for level in ("modality", "interaction"):
        mine = frame[frame["level"] == level].reset_index(drop=True)
        n = len(json.loads((measured / f"{level}.json").read_text())["labels"])
        assert len(mine) == n * (n - 1)
        theirs = pd.read_csv(measured / f"{level}_long.csv")
        back = pd.read_csv(pd.io.common.StringIO(csv_text(rows, columns)))
        back = back[back["level"] == level].reset_index(drop=True)
        # the same rows as hetero measure wrote (one implementation), after a CSV round trip
        pd.testing.assert_frame_equal(back[list(LONG_COLUMNS)], theirs)
        assert list(mine["source_group"]) == [plan.group_of(s) for s in mine["source"]]
        assert list(mine["target_group"]) == [plan.group_of(t) for t in mine["target"]]
    assert frame["level"].tolist()[0] == "modality"  # modality first


def test_level_filter_and_no_plan(measured, tmp_path):  # noqa: F811
    rows, _ = export_rows(measured, "interaction")
    assert {r["level"] for r in rows} == {"interaction"}
    copy = tmp_path / "m"
    shutil.copytree(measured, copy)
    (copy / "plan.json").unlink()
    rows, columns = export_rows(copy, "modality")
    assert columns == export_columns(False) and "source_group" not in rows[0]
    (copy / "interaction.json").unlink()
    with pytest.raises(HeteroError, match="no interaction level in this measurement"):
        export_rows(copy, "interaction")


def test_older_transfer_files_get_intervals_from_std_and_count(measured, tmp_path):  # noqa: F811
    copy = tmp_path / "m"
    shutil.copytree(measured, copy)
    path = copy / "modality_transfer.json"
    data = json.loads(path.read_text())
    for key in ("se", "df", "half_width", "significant", "measured"):
        data["provenance"].pop(key, None)
    path.write_text(json.dumps(data))
    rows, _ = export_rows(copy, "modality")
    labels = data["labels"]
    std = np.array(data["std"], dtype=float)
    count = np.array(data["count"], dtype=float)
    for r in rows:
        i, j = labels.index(r["source"]), labels.index(r["target"])
        assert r["se"] == pytest.approx(std[i, j] / math.sqrt(count[i, j]))
        assert r["df"] == count[i, j] - 1
        assert r["measured"]  # the pairs with a value


# ----------------------------------------------------------------------------- latex


def test_latex_escapes_and_is_a_booktabs_table():
    assert latex_escape("a_b & 50% $x$ #1 {y} ~^\\") == (
        r"a\_b \& 50\% \$x\$ \#1 \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    rows = long_rows(["t/img_1", "t/txt"], [[0, 0.25], [np.nan, 0]], [[0, 0.3], [0.3, 0]],
                     half_width=[[0, 0.05], [0, 0]], df=[[0, 3], [np.nan, 0]],
                     measured=[[0, 1], [0, 0]])  # fmt: skip
    for r in rows:
        r["level"] = "modality"
        r["source_group"], r["target_group"] = 0, None
    text = latex_table(rows, export_columns(True))
    lines = text.splitlines()
    assert r"\begin{tabular}{lllrrrclrllrr}" in lines
    assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")
    body = lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]
    assert body == [
        r"modality & t/img\_1 & t/txt & 0.2500 & -- & 3 & [0.2000, 0.3000] & no & 0.3000 & no "
        r"& yes & 0 & -- \\",
        r"modality & t/txt & t/img\_1 & -- & -- & -- & -- & no & 0.3000 & no & no & 0 & -- \\",
    ]
    assert all(line.count("&") == 12 for line in body)


# ----------------------------------------------------------------------------- CLI


def test_cli_csv_default_path_and_folder(measured, tmp_path):  # noqa: F811
    import pandas as pd

    copy = tmp_path / "m"
    shutil.copytree(measured, copy)
    res = _invoke(copy, "-q")
    assert res.exit_code == 0 and res.output == ""
    frame = pd.read_csv(copy / "long.csv")
    assert frame["significant"].dtype == bool and frame["source_group"].dtype == np.int64
    folder = tmp_path / "exports"
    folder.mkdir()
    res = _invoke(copy, "-o", folder, "--level", "modality")
    assert res.exit_code == 0, res.output
    assert "long.csv" in res.output and "rows, csv" in res.output
    assert set(pd.read_csv(folder / "long.csv")["level"]) == {"modality"}
    assert [p.name for p in folder.iterdir()] == ["long.csv"]  # no temporary file left


def test_cli_latex_from_the_suffix(measured, tmp_path):  # noqa: F811
    out = tmp_path / "table.tex"
    res = _invoke(measured, "-o", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    n_rows = len(export_rows(measured)[0])
    assert text.count(r" \\") == n_rows + 1  # the header and one line per row
    assert r"\toprule" in text and "planted/g0m0" in text


def test_parquet_without_pyarrow_is_one_line_and_writes_nothing(measured, tmp_path, monkeypatch):  # noqa: F811
    real = importlib.util.find_spec

    def no_pyarrow(name, *args, **kwargs):
        return None if name == "pyarrow" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_pyarrow)
    line = _one_line_error(_invoke(measured, "--format", "parquet", "-o", tmp_path / "x.pq"))
    assert "pyarrow" in line and "pip install 'hetero[parquet]'" in line
    assert list(tmp_path.iterdir()) == []


def test_parquet_round_trip(measured, tmp_path):  # noqa: F811
    pytest.importorskip("pyarrow")
    import pandas as pd

    out = tmp_path / "long.parquet"
    res = _invoke(measured, "-o", out)
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    rows, columns = export_rows(measured)
    assert tuple(frame.columns) == columns and len(frame) == len(rows)
    np.testing.assert_allclose(frame["T"], [r["T"] for r in rows], equal_nan=True)
    assert frame["source_group"].tolist() == [r["source_group"] for r in rows]


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--format", "xlsx"], "--format: expected one of csv, parquet, latex, got 'xlsx'"),
        (["--level", "pairs"], "--level: expected one of modality, interaction, all"),
    ],
)
def test_bad_options_fail_before_reading(tmp_path, args, expected):
    line = _one_line_error(_invoke(tmp_path / "nowhere", *args))
    assert expected in line


def test_not_a_measurement_and_unwritable_output(measured, tmp_path):  # noqa: F811
    assert "modality.json missing" in _one_line_error(_invoke(tmp_path))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_error(_invoke(measured, "-o", blocker / "sub" / "long.csv"))
    assert "is not a directory" in line
    assert blocker.read_text() == "x"


def test_a_corrupt_matrix_names_the_file(measured, tmp_path):  # noqa: F811
    copy = tmp_path / "m"
    shutil.copytree(measured, copy)
    (copy / "interaction_transfer.json").write_text("{")
    line = _one_line_error(_invoke(copy, "-o", tmp_path / "x.csv"))
    assert "interaction_transfer.json" in line
    assert not (tmp_path / "x.csv").exists()


def test_write_export_returns_path_and_count(measured, tmp_path):  # noqa: F811
    path, n = write_export(measured, tmp_path / "a.csv", "csv", level="modality")
    assert path == tmp_path / "a.csv" and n == len(path.read_text().splitlines()) - 1


def test_export_module_is_torch_free():
    import subprocess
    import sys

    from tests.conftest import BLOCK_TORCH, REPO_ROOT

    code = (
        BLOCK_TORCH + "import hetero.export, hetero.cli.export\nassert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(REPO_ROOT / "hetero" / "export.py").is_file()
