"""Rich display of result objects in notebooks: HTML (``_repr_html_``) and one-line reprs.

Jupyter shows an object through its ``_repr_html_`` method; the result types delegate to
the functions here, which build small, self-contained HTML with the standard library
only (inline styles, no script, no figure): a summary line, then the numbers a reader
looks for first. Large matrices are summarised rather than printed whole
(:data:`MAX_CELLS_UNITS`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_CELLS_UNITS",
    "level_html",
    "level_repr",
    "matrix_html",
    "measure_html",
    "measure_repr",
    "plan_html",
]

#: Matrices with more units than this are shown as a summary without their cells.
MAX_CELLS_UNITS = 20

_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
_CELL = "border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap"
_HEAD = "border:1px solid #ddd;padding:2px 6px;text-align:left;background:#f4f4f4"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "-" if not math.isfinite(v) else f"{v:.{digits}f}"


def _pct(value: Any) -> str:
    return "-" if value is None or not math.isfinite(float(value)) else f"{100 * value:.0f}%"


def _shade(v: float, vmax: float, signed: bool) -> str:
    """A light background: blue (negative) to red (positive) when signed, else white to
    purple with the distance."""
    if not math.isfinite(v) or vmax <= 0:
        return "#eeeeee"
    t = max(-1.0, min(1.0, v / vmax))
    if signed:
        r, g, b = (255, int(255 - 130 * t), int(255 - 130 * t)) if t >= 0 else (
            int(255 + 130 * t), int(255 + 130 * t), 255)  # fmt: skip
    else:
        r, g, b = int(255 - 90 * t), int(255 - 120 * t), int(255 - 40 * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def _cells(matrix: Any, marks: np.ndarray | None = None) -> str:
    """The matrix as an HTML table, cells shaded, marked entries starred."""
    values = np.asarray(matrix.values, dtype=float)
    finite = values[np.isfinite(values)]
    signed = bool(np.any(finite < 0))
    vmax = float(np.max(np.abs(finite))) if finite.size else 0.0
    labels = list(matrix.labels)
    head = "".join(
        f'<th style="{_HEAD}" title="{_e(lab)}">{k + 1}</th>' for k, lab in enumerate(labels)
    )
    rows = [f'<tr><th style="{_HEAD}">source \\ target</th>{head}</tr>']
    for i, label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            v = float(values[i, j])
            text = "" if i == j else _num(v)
            if marks is not None and i != j and marks[i, j]:
                text += "*"
            style = f"{_CELL};background:{_shade(v, vmax, signed) if i != j else '#fafafa'}"
            cells.append(f'<td style="{style}">{text}</td>')
        rows.append(f'<tr><th style="{_HEAD}">{i + 1}. {_e(label)}</th>{"".join(cells)}</tr>')
    return f'<table style="{_TABLE}">{"".join(rows)}</table>'


def matrix_html(matrix: Any, *, max_units: int = MAX_CELLS_UNITS) -> str:
    """HTML of a :class:`~hetero.matrix.HeterogeneityMatrix`: kind, units, observed
    entries and, up to ``max_units`` units, its cells (starred: ``significant`` in the
    provenance; shaded: blue negative, red positive for a signed matrix)."""
    n = matrix.n
    observed = int(matrix.observed.sum())
    values = np.asarray(matrix.values, dtype=float)
    off = ~np.eye(n, dtype=bool) & np.isfinite(values)
    signed = bool(np.any(values[off] < 0))
    what = "transfer T (signed)" if signed else "distances d"
    head = (
        f"<b>HeterogeneityMatrix</b> ({_e(matrix.kind)}, {what}): {n} units, "
        f"{observed}/{n * n} entries observed"
    )
    if off.any():
        head += f", off-diagonal range [{_num(values[off].min())}, {_num(values[off].max())}]"
    marks = None
    sig = (matrix.provenance or {}).get("significant")
    if sig is not None:
        try:
            marks = np.asarray(sig, dtype=bool).reshape(n, n)
            head += f", {int((marks & ~np.eye(n, dtype=bool)).sum())} significant (*)"
        except (TypeError, ValueError):
            marks = None
    if n > max_units:
        shown = ", ".join(_e(lab) for lab in matrix.labels[:8])
        return f"<div>{head}<br>units: {shown}, ...</div>"
    return f"<div>{head}{_cells(matrix, marks)}</div>"


def _groups_list(groups: Sequence[Sequence[str]]) -> str:
    items = "".join(
        f"<li>group {g} ({len(members)}): {', '.join(_e(m) for m in members)}</li>"
        for g, members in enumerate(groups)
    )
    return f'<ul style="margin:2px 0">{items}</ul>'


def plan_html(plan: Any) -> str:
    """HTML of a :class:`~hetero.plan.GroupingPlan`: its groups of both kinds and, when
    its provenance holds them, the stability of the plan over seed bootstraps."""
    parts = [
        f"<b>GroupingPlan</b>: {plan.n_unimodal_groups} unimodal groups over "
        f"{len(plan.units)} units, {plan.n_crossmodal_groups} crossmodal groups over "
        f"{len(plan.interaction_units)} interaction units",
        "<div>unimodal</div>" + _groups_list(plan.unimodal_groups),
    ]
    if plan.crossmodal_groups:
        parts.append("<div>crossmodal</div>" + _groups_list(plan.crossmodal_groups))
    stability = (plan.provenance or {}).get("stability")
    if isinstance(stability, Mapping):
        means = [
            f"{_e(level)} {_num(s.get('mean_stability'), 2)}"
            for level, s in stability.items()
            if isinstance(s, Mapping) and s.get("mean_stability") is not None
        ]
        if means:
            parts.append("<div>stability over seed bootstraps: " + ", ".join(means) + "</div>")
    return "<div>" + "".join(parts) + "</div>"


def _level_facts(res: Any) -> dict[str, str]:
    n = len(res.labels) if hasattr(res, "labels") else res.distance.n
    mask = np.asarray(res.runs.mask, dtype=bool)
    sig = np.asarray((res.transfer.provenance or {}).get("significant", np.zeros((n, n))), bool)
    completed = np.asarray(res.completed, dtype=bool)
    rt = res.retest or {}
    stab = res.stability or {}
    return {
        "units": str(n),
        "pairs measured": f"{int(mask.sum())}/{n * (n - 1)}",
        "completed": str(int(np.triu(completed, 1).sum())),
        "significant": str(int((sig & ~np.eye(n, dtype=bool)).sum())),
        "converged": _pct((res.transfer.provenance or {}).get("converged_fraction")),
        "retest rho_d": _num(rt.get("spearman_d"), 2) if rt else "-",
        "retest ARI": _num(rt.get("plan_ari"), 2) if rt else "-",
        "stability": _num(stab.get("mean_stability"), 2) if stab else "-",
    }


def level_repr(res: Any) -> str:
    """One line: ``LevelResult(level='modality', units=4, pairs measured=12/12, ...)``."""
    facts = _level_facts(res)
    keep = ("units", "pairs measured", "completed", "significant")
    inner = ", ".join(f"{k.replace(' ', '_')}={facts[k]}" for k in keep)
    return f"LevelResult(level={res.level!r}, {inner})"


def level_html(res: Any) -> str:
    """HTML of a :class:`~hetero.measure.analysis.LevelResult`: its facts and its
    distances (cells up to :data:`MAX_CELLS_UNITS` units)."""
    facts = _level_facts(res)
    head = "".join(f'<th style="{_HEAD}">{_e(k)}</th>' for k in facts)
    row = "".join(f'<td style="{_CELL}">{_e(v)}</td>' for v in facts.values())
    return (
        f"<div><b>LevelResult</b> ({_e(res.level)})"
        f'<table style="{_TABLE}"><tr>{head}</tr><tr>{row}</tr></table>'
        f"{matrix_html(res.distance)}</div>"
    )


def _levels(result: Any) -> dict[str, Any]:
    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    return levels


def measure_repr(result: Any) -> str:
    """One line naming the suite, learner, estimator, levels, plan and runs."""
    s = result.summary or {}
    levels = ", ".join(f"{k}: {len(v.labels)} units" for k, v in _levels(result).items())
    runs = s.get("runs") or {}
    where = "" if result.out_dir is None else f", out_dir={str(result.out_dir)!r}"
    return (
        f"MeasureResult(suite={s.get('suite')!r}, learner={result.learner!r}, "
        f"estimator={result.estimator.name!r}, levels={{{levels}}}, plan={result.plan!r}, "
        f"runs={runs.get('total', '-')} ({runs.get('trained', '-')} trained, "
        f"{runs.get('cached', '-')} from the store){where})"
    )


def measure_html(result: Any) -> str:
    """HTML of a :class:`~hetero.measure.outputs.MeasureResult`: the controls' verdict,
    a row of facts per level, runs, reliability, the plan and the distance matrices."""
    s = result.summary or {}
    parts = [
        f"<b>MeasureResult</b>: suite {_e(s.get('suite'))}, learner {_e(result.learner)}, "
        f"estimator {_e(result.estimator.name)}"
        + ("" if result.out_dir is None else f", written to <code>{_e(result.out_dir)}</code>")
    ]
    for level, ctl in (s.get("controls") or {}).items():
        colour = "#2e7d32" if ctl.get("passed") else "#c62828"
        parts.append(
            f'<div style="color:{colour}"><b>{_e(level)}</b>: {_e(ctl.get("statement"))}</div>'
        )
    levels = _levels(result)
    facts = {level: _level_facts(res) for level, res in levels.items()}
    keys = list(next(iter(facts.values())))
    head = f'<th style="{_HEAD}">level</th>' + "".join(
        f'<th style="{_HEAD}">{_e(k)}</th>' for k in keys
    )
    rows = "".join(
        f'<tr><th style="{_HEAD}">{_e(level)}</th>'
        + "".join(f'<td style="{_CELL}">{_e(f[k])}</td>' for k in keys)
        + "</tr>"
        for level, f in facts.items()
    )
    parts.append(f'<table style="{_TABLE}"><tr>{head}</tr>{rows}</table>')
    runs = s.get("runs") or {}
    if runs:
        parts.append(
            f"<div>runs: {runs.get('trained')} trained, {runs.get('cached')} from the store, "
            f"{runs.get('failed')} failed; wall time {_num(runs.get('wall_time'), 1)} s</div>"
        )
    if s.get("reliability"):
        parts.append(f"<div>reliability: {_e(s['reliability'])}</div>")
    parts.append(plan_html(result.plan) if result.plan is not None else "<div>no plan</div>")
    for level, res in levels.items():
        parts.append(f"<div><b>{_e(level)} distances</b></div>{matrix_html(res.distance)}")
    return "<div>" + "".join(parts) + "</div>"
