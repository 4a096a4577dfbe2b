"""The custom-architecture example runs on the public API and learns its planted signal."""

from __future__ import annotations

import runpy

import torch

from hetero.plan import GroupingPlan
from hetero_models import create_model, load_model, save_model
from hetero_models.registry import MODELS
from tests.conftest import REPO_ROOT


def test_custom_architecture_example(capsys, tmp_path):
    torch.set_num_threads(1)
    try:
        _run_example(capsys, tmp_path)
    finally:
        MODELS.unregister("poolmlp")  # the example registers it; a re-run registers it anew


def _run_example(capsys, tmp_path):
    ns = runpy.run_path(str(REPO_ROOT / "examples" / "custom_architecture.py"))
    ns["main"]()
    out = capsys.readouterr().out
    accuracies = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("test")]
    assert len(accuracies) == 2 and min(accuracies) >= 0.8
    # grouping came for free: share-none gives one copy per unit / interaction unit
    suite = ns["synthetic_suite"](n=40)
    shared = create_model("poolmlp", suite).parameter_report()
    none = create_model("poolmlp", suite, plan=GroupingPlan.share_none(suite))
    rep = none.parameter_report()
    assert rep["unimodal"]["total"] == 4 * shared["unimodal"]["total"]
    assert rep["crossmodal"]["total"] == 2 * shared["crossmodal"]["total"]
    save_model(none, tmp_path)
    assert load_model(tmp_path).groups() == none.groups()
