"""GroupingPlan: JSON round trip, validation, lookups, share-all / share-none."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from hetero.errors import PlanError
from hetero.grouping import make_plan
from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan


@dataclass(frozen=True)
class FakeUnit:
    label: str


class FakeSuite:
    """Duck-typed suite: units() / interaction_units() with `.label`."""

    def __init__(self, units, inter):
        self._u, self._c = units, inter

    def units(self):
        return [FakeUnit(x) for x in self._u]

    def interaction_units(self):
        return [FakeUnit(x) for x in self._c]


UNITS = ["mfeat/pixel", "mfeat/fourier", "watch/accelerometer"]
INTER = ["mfeat/fourier+pixel", "watch/accelerometer+gyroscope"]
SUITE = FakeSuite(UNITS, INTER)


def _plan():
    D = np.array([[0, 0.1, 1.0], [0.1, 0, 1.0], [1.0, 1.0, 0]])
    Di = np.array([[0, 1.0], [1.0, 0]])
    return make_plan(
        HeterogeneityMatrix(UNITS, D),
        HeterogeneityMatrix(INTER, Di, kind="interaction"),
        unimodal_groups=2,
        crossmodal_groups=2,
    )


def test_round_trip(tmp_path):
    plan = _plan()
    path = tmp_path / "plan.json"
    plan.write(path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 1
    assert raw["unimodal"]["groups"] == [["mfeat/pixel", "mfeat/fourier"], ["watch/accelerometer"]]
    assert raw["crossmodal"]["groups"] == [[INTER[0]], [INTER[1]]]
    assert "provenance" in raw and len(raw["unimodal"]["linkage"]) == 2
    back = GroupingPlan.read(path)
    assert back == plan
    assert np.allclose(back.unimodal_linkage, plan.unimodal_linkage)
    assert back.unimodal_labels == tuple(UNITS)


def test_lookups_and_validate():
    plan = _plan()
    assert plan.group_of("mfeat/fourier") == 0 and plan.group_of("watch/accelerometer") == 1
    assert plan.group_of(FakeUnit(INTER[1])) == 1
    with pytest.raises(PlanError, match="not in the plan's unimodal groups"):
        plan.group_of("speech/audio")
    assert plan.validate(SUITE) is plan
    with pytest.raises(PlanError, match="suite units not in the plan: speech/audio"):
        plan.validate(FakeSuite([*UNITS, "speech/audio"], INTER))
    with pytest.raises(PlanError, match="labels not in the suite: watch/accelerometer"):
        plan.validate(FakeSuite(UNITS[:2], INTER))
    with pytest.raises(PlanError, match=r"'crossmodal\.groups'"):
        plan.validate(FakeSuite(UNITS, INTER[:1]))


def test_share_all_and_none():
    everything = GroupingPlan.share_all(SUITE)
    assert everything.n_unimodal_groups == 1 and everything.n_crossmodal_groups == 1
    assert {everything.group_of(u) for u in UNITS + INTER} == {0}
    nothing = GroupingPlan.share_none(SUITE)
    assert nothing.n_unimodal_groups == 3 and nothing.n_crossmodal_groups == 2
    assert [nothing.group_of(u) for u in UNITS] == [0, 1, 2]
    assert GroupingPlan.share_all_labels(UNITS).crossmodal_groups == []
    everything.validate(SUITE)
    nothing.validate(SUITE)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"unimodal": {"groups": [["a/x"]]}}, "missing field 'version'"),
        ({"version": 2, "unimodal": {"groups": [["a/x"]]}}, "unsupported plan version 2"),
        ({"version": 1}, "'unimodal': expected an object with 'groups'"),
        ({"version": 1, "unimodal": {"groups": []}}, "at least one group"),
        ({"version": 1, "unimodal": {"groups": [["a/x"], []]}}, r"\[1\]: empty group"),
        ({"version": 1, "unimodal": {"groups": [["a/x"], ["a/x"]]}}, "is in group 0 and 1"),
        ({"version": 1, "unimodal": {"groups": [["a/x+y"]]}}, "no '\\+'"),
        (
            {"version": 1, "unimodal": {"groups": [["a/x"]]}, "crossmodal": {"groups": [["a/x"]]}},
            "interaction-unit labels",
        ),
        (
            {
                "version": 1,
                "unimodal": {
                    "groups": [["a/x", "a/y"]],
                    "labels": ["a/x", "a/y"],
                    "linkage": [[0, 1]],
                },
            },
            "linkage': expected finite numbers of shape",
        ),
    ],
)
def test_validation_errors(doc, message):
    with pytest.raises(PlanError, match=message) as info:
        GroupingPlan.from_dict(doc, source="plan.json")
    assert str(info.value).startswith("plan.json: ") and "\n" not in str(info.value)


def test_read_errors(tmp_path):
    with pytest.raises(PlanError, match="file not found"):
        GroupingPlan.read(tmp_path / "nope.json")


def test_stability_section_is_optional_and_checked():
    plan = _plan()
    assert plan.stability is None and "stability" not in plan.to_dict()  # old files unchanged
    co = np.eye(3)
    plan.stability = {"unimodal": {"labels": UNITS, "co_assignment": co, "n_boot": 5}}
    back = GroupingPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    np.testing.assert_array_equal(back.stability["unimodal"]["co_assignment"], co)
    with pytest.raises(PlanError, match=r"'stability\.crossmodal'\.labels: expected the 2 labels"):
        plan.stability = {"crossmodal": {"labels": UNITS, "co_assignment": co, "n_boot": 5}}
