"""HeterogeneityMatrix: JSON round trips, DataFrame, reordering and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix

LABELS = ["mfeat/pixel", "mfeat/fourier", "watch/accelerometer"]


def _matrix(**kw):
    values = np.array([[0.0, 1.5, np.nan], [1.5, 0.0, 2.0], [np.nan, 2.0, 0.0]])
    return HeterogeneityMatrix(LABELS, values, **kw)


def test_json_round_trip_keeps_nan_std_count_provenance(tmp_path):
    m = _matrix(
        std=np.where(np.isnan(_matrix().values), np.nan, 0.1),
        count=[[0, 3, 0], [3, 0, 2], [0, 2, 0]],
        provenance={"seed": 4},
    )
    path = tmp_path / "m.json"
    m.write(path)
    raw = json.loads(path.read_text())
    assert raw["values"][0][2] is None  # NaN is written as null
    assert raw["kind"] == "modality" and raw["labels"] == LABELS
    back = HeterogeneityMatrix.read(path)
    assert back == m
    assert back.provenance == {"seed": 4}
    assert back.count[0, 1] == 3 and back.count.dtype.kind == "i"
    assert back.observed.sum() == 7


def test_to_frame_and_reorder():
    m = _matrix()
    frame = m.to_frame()
    assert list(frame.index) == LABELS and frame.loc["mfeat/fourier", "watch/accelerometer"] == 2.0
    r = m.reorder(LABELS[::-1])
    assert r.labels == tuple(LABELS[::-1])
    assert r.values[0, 1] == 2.0 and np.isnan(r.values[0, 2])
    with pytest.raises(MatrixFormatError, match="permutation"):
        m.reorder(LABELS[:2])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"labels": ["a", "b"], "values": [[0, 1], [1]]}, r"'values'\[1\]: matrix is not square"),
        ({"labels": ["a", "b", "c"], "values": [[0, 1], [1, 0]]}, "2 rows do not match 3 labels"),
        ({"labels": ["a", "a"], "values": [[0, 1], [1, 0]]}, "duplicate label 'a'"),
        (
            {"labels": ["a", "b"], "values": [[0, "x"], [1, 0]]},
            r"'values'\[0\]\[1\]: expected a number",
        ),
        ({"labels": ["a", "b"], "values": [[0, True], [1, 0]]}, "expected a number or null"),
        (
            {"labels": ["a", "b"], "values": [[0, 1], [1, 0]], "kind": "pair"},
            "'kind': expected one of",
        ),
        ({"labels": ["a"]}, "missing field 'values'"),
        ({"labels": ["a"], "values": [[0]], "extra": 1}, "unknown field"),
        (
            {"labels": ["a", "b"], "values": [[0, 1], [1, 0]], "std": [[0, -1], [1, 0]]},
            "non-negative",
        ),
        (
            {"labels": ["a", "b"], "values": [[0, 1], [1, 0]], "count": [[0, 1.5], [1, 0]]},
            "integer",
        ),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_validation_errors_are_one_line(doc, message):
    with pytest.raises(MatrixFormatError, match=message) as info:
        HeterogeneityMatrix.from_dict(doc, source="m.json")
    text = str(info.value)
    assert "\n" not in text and text.startswith("m.json: ")


def test_file_errors(tmp_path):
    with pytest.raises(MatrixFormatError, match="file not found"):
        HeterogeneityMatrix.read(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MatrixFormatError, match="malformed JSON at line 1"):
        HeterogeneityMatrix.read(bad)


def test_infinite_values_are_refused():
    with pytest.raises(MatrixFormatError, match="finite"):
        HeterogeneityMatrix(["a", "b"], np.array([[0, np.inf], [1, 0]]))
