"""Reading a ``hetero train`` output directory (``metrics.json``) into a :class:`TrainRun`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hetero._io import read_json
from hetero.errors import HeteroError
from hetero.report.model import TrainRun, as_number

__all__ = ["read_train_dir"]

_PRIMARY = (("accuracy", True), ("f1_macro", True), ("auroc", True), ("mse", False))


def _sharing(groups: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """``share-all`` / ``share-none`` / ``plan`` and the group count per kind."""
    counts: dict[str, int] = {}
    sizes: list[int] = []
    for key, value in groups.items():
        if not isinstance(value, list):
            continue
        kind = str(key).removesuffix("_groups")
        nonempty = [g for g in value if isinstance(g, list) and g]
        if nonempty:
            counts[kind] = len(nonempty)
            sizes += [len(g) for g in nonempty]
    if not counts:
        return "unknown", counts
    if all(n == 1 for n in counts.values()):
        return "share-all", counts
    if all(s == 1 for s in sizes):
        return "share-none", counts
    return "plan", counts


def read_train_dir(path: str | os.PathLike) -> TrainRun:
    """Read the test results of a ``hetero train`` output directory.

    ``metrics.json`` (written by ``hetero train``) holds ``test`` (``{task: {metric:
    value}}``), ``parameters`` (the model's parameter report: one entry per grouped block
    with ``kind``, ``groups`` and ``total``, plus ``other`` and ``total``) and ``groups``
    (``{"unimodal_groups": [[label, ...]], "crossmodal_groups": [...]}``).

    Parameters
    ----------
    path : path-like
        Directory holding ``metrics.json``.

    Returns
    -------
    TrainRun
    """
    path = Path(path)
    if not path.is_dir():
        raise HeteroError("training output directory not found", source=path)
    mpath = path / "metrics.json"
    data = read_json(mpath)
    if not isinstance(data, dict):
        raise HeteroError("expected a JSON object", source=mpath)
    run = TrainRun(name=path.name, path=path)
    test = data.get("test")
    if not isinstance(test, Mapping) or not test:
        raise HeteroError(
            "'test': expected per-task test metrics ({task: {metric: number}})", source=mpath
        )
    for task, metrics in test.items():
        if not isinstance(metrics, Mapping):
            raise HeteroError(f"test.{task}: expected an object of metric -> number", source=mpath)
        run.tasks[str(task)] = {
            str(k): math.nan if v is None else float(v)
            for k, v in metrics.items()
            if v is None or as_number(v) is not None
        }
        for name, higher in _PRIMARY:
            if name in run.tasks[str(task)]:
                run.primary[str(task)] = name
                run.higher_is_better[str(task)] = higher
                break
    params = data.get("parameters")
    if isinstance(params, Mapping):
        if as_number(params.get("total")) is not None:
            run.params_total = int(params["total"])
        for name, block in params.items():
            if isinstance(block, Mapping) and as_number(block.get("total")) is not None:
                kind = str(block.get("kind", name))
                run.params_shared[kind] = run.params_shared.get(kind, 0) + int(block["total"])
    elif as_number(params) is not None:
        run.params_total = int(as_number(params) or 0)
    groups = data.get("groups")
    if isinstance(groups, Mapping):
        run.sharing, run.groups = _sharing(groups)
        uni = groups.get("unimodal_groups")
        if isinstance(uni, list):
            run.units = {str(u) for g in uni if isinstance(g, list) for u in g}
    return run
