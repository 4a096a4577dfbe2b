"""The report's section on a plan comparison (``hetero compare``): the table of candidates,
the paired differences worded by their intervals and the two figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hetero.compare import CompareResult
from hetero.report.blocks import Bullets, Callout, Cell, FigRef, Heading, Para, Table, make_row
from hetero.report.model import Figure

__all__ = ["compare_blocks", "compare_figures"]


def _interval(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("mean") is None:
        return "-"
    if d.get("lo") is None:
        return f"{d['mean']:.4f} (1 seed)"
    return f"{d['mean']:.4f} [{d['lo']:.4f}, {d['hi']:.4f}]"


def compare_figures(
    result: CompareResult, *, formats: str | Sequence[str] = "png", dpi: int = 110
) -> list[Figure]:
    """The forest plot and the score-vs-parameters plot as report figures (each in every
    one of ``formats``, PNG at ``dpi``)."""
    from hetero.compare.figures import forest_figure, score_parameters_figure
    from hetero.plotting._common import check_formats, save_figure

    fmts = check_formats(formats)

    def files(fig: Any) -> dict[str, bytes]:
        return {fmt: save_figure(fig, fmt, dpi=dpi) for fmt in fmts}

    seeds = len(result.seeds)
    return [
        Figure(
            "compare_forest",
            f"Paired differences {result.reference} − candidate over {seeds} seeds, with 95 % "
            "t intervals; the grey band is ± the resolution.",
            files(forest_figure(result)),
        ),
        Figure(
            "compare_score_parameters",
            "Average test metric (95 % t interval) against the number of parameters.",
            files(score_parameters_figure(result)),
        ),
    ]


def compare_blocks(result: CompareResult, figures: Mapping[str, Figure]) -> list[Any]:
    """Blocks of the comparison section."""
    s = result.summary()
    seeds = s["seeds"]
    out: list[Any] = [Heading(2, "Plan comparison")]
    out.append(
        Para(
            f"Every candidate trained with the same {len(seeds)} paired seeds (one pre-training "
            "checkpoint and one batch order per seed, shared by the candidates that fine-tune; "
            "share-none trains one independent model per task). Score: "
            f"{s['score']}. Intervals are 95 % t intervals over seeds ({len(seeds) - 1} "
            f"degrees of freedom); stopped because: {s['stop_reason'] or '-'}."
        )
    )
    verdicts = [c["verdict"] for c in s["candidates"] if c.get("verdict")]
    if s.get("random"):
        verdicts.append(s["random"]["verdict"])
        if s["random"].get("rank"):
            verdicts.append(
                f"{s['reference']} ranks {s['random']['rank']} of {s['random']['of']} among "
                f"{s['random']['random_plans']} random plans of the same group sizes (1 = best)"
            )
    wins = any(" beats " in v for v in verdicts) and not any(
        " is worse than " in v for v in verdicts
    )
    out.append(
        Callout(
            "; ".join(verdicts) if verdicts else "nothing to compare",
            bool(verdicts) and wins and s["resolved"],
        )
    )
    tasks: list[str] = []
    for c in s["candidates"]:
        tasks += [t for t in c["tasks"] if t not in tasks]
    rows = []
    for c in s["candidates"]:
        name = c["name"] + (" (reference)" if c["name"] == s["reference"] else "")
        cells: list[Any] = [
            Cell(name, strong=c["name"] == s["reference"]),
            c["kind"],
            f"{c['parameters']:,}" if c.get("parameters") is not None else "-",
            _interval(c["score"]),
            _interval(c.get("difference_to_reference")),
        ]
        cells += [_interval(c["tasks"].get(t)) for t in tasks]
        rows.append(make_row(*cells))
    out.append(
        Table(
            ("candidate", "kind", "parameters", "score", f"{s['reference']} − candidate", *tasks),
            tuple(rows),
            caption="Test metric per task and on average (mean [95 % t interval] over seeds).",
        )
    )
    for name in ("compare_forest", "compare_score_parameters"):
        if name in figures:
            out.append(FigRef(name))
    if not s["resolved"]:
        out.append(
            Bullets(
                (
                    "Not every difference is resolved: add seeds (`hetero compare ... --seeds "
                    "auto --max-seeds N` resumes and adds them) before reading an "
                    "inconclusive row as no difference.",
                )
            )
        )
    return out
