"""examples/quickstart.ipynb: a valid nbformat-4 notebook whose code cells run as they are.

Validated without nbformat/jupyter (not dependencies): the structure the v4 schema asks
for, then every code cell executed in order in one namespace, in a scratch folder.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def _load() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_quickstart_is_valid_nbformat_4():
    nb = _load()
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = []
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert isinstance(cell["metadata"], dict)
        src = cell["source"]
        assert isinstance(src, str) or all(isinstance(line, str) for line in src)
        if isinstance(src, list):  # every line but the last ends with its newline
            assert all(line.endswith("\n") for line in src[:-1])
        if nb["nbformat_minor"] >= 5:
            assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cell["id"])
            ids.append(cell["id"])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None  # stored clean
            ast.parse(_source(cell))  # plain Python: no magics, no shell escapes
    assert len(ids) == len(set(ids))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 5 and "measure(" in "".join(map(_source, code))


def _run_cell(source: str, namespace: dict) -> object:
    """Execute a cell like IPython: the value of a final expression is returned."""
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), namespace)
    return None if last is None else eval(compile(last, "<cell>", "eval"), namespace)


@pytest.mark.slow
def test_quickstart_cells_execute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    shown = []
    for cell in _load()["cells"]:
        if cell["cell_type"] == "code":
            shown.append(_run_cell(_source(cell), namespace))
    out = tmp_path / "quickstart-out"
    for name in ("modality.json", "modality_long.csv", "plan.json", "report.html"):
        assert (out / name).is_file(), name
    assert (out / "modality_transfer.pdf").read_bytes().startswith(b"%PDF")
    result = namespace["result"]
    # the planted groups come out as the plan's unimodal groups
    truth = namespace["truth"]
    planted = sorted(sorted(u for u in truth if truth[u] == g) for g in set(truth.values()))
    assert sorted(sorted(g) for g in result.plan.unimodal_groups) == planted
    # what the cells display: rich HTML for the result and the matrix, a figure, the frames
    html = [value._repr_html_() for value in shown if hasattr(value, "_repr_html_")]
    assert any("MeasureResult" in h for h in html)
    assert any("HeterogeneityMatrix" in h for h in html)
    assert len(namespace["pairs"]) == 12 and namespace["d"].shape == (4, 4)
    assert namespace["files"]["modality_heatmap.svg"].lstrip().startswith(b"<?xml")
