"""The report's figures: a measurement's figure set (:func:`hetero.plotting.render_measurement`)
with a caption each.

The report draws exactly what ``hetero measure`` draws into ``figures/`` (same renderer,
same file names), from what it read: the plan's groups and tree, the stored significance
flags and completed entries. Nothing is clustered or re-checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hetero.report.model import Figure, LevelReport, Report, page_formats

__all__ = ["REPORT_DPI", "render_figures"]

#: Resolution of the report's figures (embedded in the page: sized for a screen).
REPORT_DPI = 110


def _captions(lev: LevelReport, method: str) -> dict[str, Callable[[], str]]:
    """Caption of each figure of a level, by file-name suffix."""
    level = lev.level
    grouped = bool(lev.groups)
    k = len(lev.groups or ())
    return {
        "heatmap": lambda: (
            f"{level.capitalize()} distances d"
            + (
                " ordered by plan group: lines mark the group boundaries, label colours "
                "are the groups"
                if grouped
                else ""
            )
            + ("; italic entries were completed, not measured" if lev.n_completed else "")
            + "."
        ),
        "transfer_heatmap": lambda: (
            f"Directed {level} transfer T (rows: source, columns: target)"
            + (", in the same order" if grouped else "")
            + ": blue (negative) means the source helps the target, red that it hurts; "
            f"framed entries (starred where values are shown) differ from zero "
            f"significantly ({lev.interval_text})."
        ),
        "dendrogram": lambda: (
            f"The plan's {method}-linkage tree of the {level} distances"
            + (f" with the cut into {k} groups" if k else "")
            + "; links within one group and the unit labels take the group's colour."
        ),
        "clustermap": lambda: (
            f"{level.capitalize()} distances in the order of the plan's tree, drawn on both "
            "sides" + ("; the strips show the plan's groups." if grouped else ".")
        ),
        "graph": lambda: (
            f"Units placed by their {level} distances (closer on the page: more alike) and "
            "linked where their distance is among the smallest quarter"
            + (", coloured by plan group." if grouped else ".")
        ),
        "spectrum": lambda: (
            f"Singular values of the {level} distance matrix and the cumulative fraction of "
            "its squared norm they explain; the dotted line marks the rank that reaches 90%."
        ),
    }


def render_figures(
    report: Report, *, formats: str | Sequence[str] = "png", dpi: int = REPORT_DPI
) -> list[Figure]:
    """Draw the report's figures (Agg canvases, no pyplot) in every format asked for.

    Per level, as :func:`hetero.plotting.render_measurement` draws them: the distance
    heatmap with the plan's group boundaries, the signed transfer heatmap with the
    significant entries framed, the plan's dendrogram and clustermap, a graph of the closest
    units coloured by group and the singular-value spectrum of complete distances; then the
    plan comparison's figures and one figure per analysis.

    Parameters
    ----------
    report : Report
    formats : str or sequence of str
        ``png``, ``svg`` and/or ``pdf``; PNG is added when neither PNG nor SVG is asked
        for, so that the pages can show every figure (:func:`~hetero.report.model.page_formats`).
    dpi : int
        Resolution of PNG files (and of raster parts of vector files).

    Returns
    -------
    list of Figure
        Named by file stem (``modality_heatmap``, ``modality_transfer_heatmap``, ...).
    """
    from hetero.plotting import render_measurement
    from hetero.plotting._common import check_dpi, check_formats
    from hetero.plotting.render import linkage_method

    fmts = page_formats(check_formats(formats))
    dpi = check_dpi(dpi)
    levels = {}
    for lev in report.levels:
        transfer = lev.transfer
        if transfer is not None and lev.significant is not None:
            # box exactly the entries the report counts as significant (the stored flags, or
            # those derived from std/count for a transfer file without them)
            prov = {**(transfer.provenance or {}), "significant": lev.significant.tolist()}
            transfer = transfer.copy(provenance=prov)
        levels[lev.level] = (transfer, lev.distance)
    files = render_measurement(levels, report.plan, formats=fmts, dpi=dpi)
    method = linkage_method(report.plan)
    captions = {lev.level: _captions(lev, method) for lev in report.levels}
    by_stem: dict[str, dict[str, bytes]] = {}
    for file_name, content in files.items():
        stem, fmt = file_name.rsplit(".", 1)
        by_stem.setdefault(stem, {})[fmt] = content
    figures = []
    for stem, per_format in by_stem.items():
        level, suffix = stem.split("_", 1)
        figures.append(Figure(stem, captions[level][suffix](), per_format))
    if report.compare is not None:
        from hetero.report.compare import compare_figures

        figures += compare_figures(report.compare, formats=fmts, dpi=dpi)
    for name, result in report.analyses:
        from hetero.report.analysis import section_figure

        figures.append(section_figure(result, name, formats=fmts, dpi=dpi))
    return figures
