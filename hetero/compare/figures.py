"""Figures of a plan comparison: a forest plot of the paired differences and the score
against the number of parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from hetero.compare.result import RANDOM_MEDIAN, CompareResult
from hetero.plotting._common import new_figure

__all__ = ["forest_figure", "score_parameters_figure"]


def forest_figure(result: CompareResult) -> Any:
    """Paired difference ``reference - candidate`` with its 95 % interval, one row per
    candidate (and the median random plan); the band is +-resolution."""
    diffs = result.differences()
    names = list(diffs)
    fig, ax = new_figure(6.0, 0.9 + 0.42 * max(len(names), 1))
    if not names:
        ax.text(0.5, 0.5, "nothing to compare", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    y = np.arange(len(names))[::-1]
    mean = np.array([diffs[n].mean for n in names])
    lo = np.array([diffs[n].lo for n in names])
    hi = np.array([diffs[n].hi for n in names])
    finite = np.isfinite(lo) & np.isfinite(hi)
    colours = np.where(
        finite & (lo > 0), "tab:green", np.where(finite & (hi < 0), "tab:red", "0.35")
    )
    ax.axvspan(-result.resolution, result.resolution, color="0.92", zorder=0, label="+-resolution")
    ax.axvline(0, color="0.5", lw=0.8)
    for yi, m, a, b, c, ok in zip(y, mean, lo, hi, colours, finite, strict=True):
        if ok:
            ax.plot([a, b], [yi, yi], color=c, lw=2)
        ax.plot([m], [yi], "o", color=c)
    ax.set_yticks(y, [n if n != RANDOM_MEDIAN else "median random plan" for n in names])
    ax.set_xlabel(f"{result.reference} - candidate (average test metric, 95 % t interval)")
    ax.set_title(f"paired differences over {len(result.seeds)} seeds")
    return fig


def score_parameters_figure(result: CompareResult) -> Any:
    """Average test metric (95 % interval) against the number of parameters."""
    summary = result.summary()
    fig, ax = new_figure(6.0, 4.2)
    kinds = {"random": ("0.6", "random plan"), "share_none": ("tab:red", "share-none")}
    shown: set[str] = set()
    for c in summary["candidates"]:
        score, params = c["score"], c.get("parameters")
        if score["mean"] is None or params is None:
            continue
        colour, label = kinds.get(c["kind"], ("tab:blue", None))
        if c["name"] == result.reference:
            colour = "tab:green"
        if c["kind"] == "share_all":
            colour = "tab:orange"
        err = None
        if score["lo"] is not None:
            err = [[score["mean"] - score["lo"]], [score["hi"] - score["mean"]]]
        front = 3 if c["name"] == result.reference else 2  # the reference over random plans
        ax.errorbar(
            [params], [score["mean"]], yerr=err, fmt="o", color=colour, capsize=3, zorder=front
        )
        if label is None or label not in shown:
            ax.annotate(
                label or c["name"],
                (params, score["mean"]),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
            if label is not None:
                shown.add(label)
    ax.set_xlabel("parameters")
    ax.set_ylabel("average test metric (95 % t interval)")
    ax.set_title(f"score vs parameters ({len(result.seeds)} seeds)")
    return fig
