"""Report sections for the analyses (a hook for ``hetero report``).

:func:`analysis_blocks` lays a result out as the blocks of :mod:`hetero.report.blocks`
(heading, what was done, verdicts, summary tables, the figure), the same block types the
report's Markdown and HTML renderers translate, so the sections can be appended to a
report's layout. :func:`render_section` renders them on their own as Markdown or as an HTML
fragment; :func:`section_figure` gives the figure as a :class:`hetero.report.model.Figure`.
No torch needed::

    from hetero_models.analysis import read_result, render_section
    text = render_section(read_result("out/overlap"), "markdown", figure_dir="figs")
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hetero.errors import HeteroError
from hetero.report.blocks import Block, Bullets, Cell, FigRef, Heading, Para, Table
from hetero.report.model import Figure
from hetero_models.analysis.common import ARMS, AnalysisResult, fmt_interval

__all__ = ["analysis_blocks", "render_section", "section_figure"]

_TITLES = {
    "overlap": "Parameter overlap between tasks",
    "interference": "Parameter interference",
    "few_shot": "Few-shot learning of a target task",
    "transfer": "Transfer to held-out tasks",
}


def _ci(row: Mapping[str, Any] | None, digits: int = 3) -> str:
    return "-" if row is None else fmt_interval(row, digits)


def _pm(row: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``mean ± half-width`` (compact, for matrices)."""
    if row is None or not math.isfinite(float(row.get("mean", math.nan))):
        return "-"
    hw = float(row.get("half_width", math.nan))
    tail = f" ± {hw:.{digits}f}" if math.isfinite(hw) else ""
    return f"{float(row['mean']):.{digits}f}{tail}"


def _find(rows: Sequence[Mapping[str, Any]], **match: Any) -> Mapping[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _seeds(row: Mapping[str, Any] | None) -> str:
    return "-" if row is None else str(int(row.get("n", 0)))


def _overlap_blocks(res: AnalysisResult) -> list[Block]:
    cfg = res.config
    out: list[Block] = [
        Para(
            f"Per task, the top {100 * float(cfg.get('top_fraction', 0)):.3g} % of each "
            "component's parameters by gradient involvement (mean absolute gradient of the "
            f"task's {cfg.get('objective', 'loss')} over its {cfg.get('split', 'train')} "
            "split); overlap = shared share of two tasks' sets, averaged over the pairs of "
            "distinct tasks; random sets overlap by the null. Involved tasks: a parameter is "
            f"involved in a task when its involvement exceeds {cfg.get('epsilon')} times its "
            "largest over the tasks (the paper's Table 6)."
        )
    ]
    rows = [
        (
            Cell(r["arm"]),
            Cell(r["component"]),
            Cell(_ci(r)),
            Cell(_seeds(r)),
            Cell(f"{float(r['null']):.3f}"),
        )
        for r in res.summary
    ]
    out.append(
        Table(
            ("arm", "component", "mean overlap [95 % CI]", "seeds", "null"),
            tuple(rows),
            "Mean pairwise top-set overlap over seeds.",
        )
    )
    counts = res.tables.get("counts_summary", [])
    n_max = max((int(r["n_tasks"]) for r in counts), default=0)
    keys = list(dict.fromkeys((r["arm"], r["component"]) for r in counts))
    crow = []
    for arm, comp in keys:
        cells = [Cell(arm), Cell(comp)]
        for n in range(1, n_max + 1):
            r = _find(counts, arm=arm, component=comp, n_tasks=n)
            cells.append(Cell(_pm(r)))
        crow.append(tuple(cells))
    if crow:
        out.append(
            Table(
                (
                    "arm",
                    "component",
                    *(f"{n} task{'s' if n > 1 else ''}" for n in range(1, n_max + 1)),
                ),
                tuple(crow),
                "Fraction of parameters involved in n tasks (mean ± 95 % t half-width over seeds).",
            )
        )
    return out


def _interference_blocks(res: AnalysisResult) -> list[Block]:
    cfg = res.config
    out: list[Block] = [
        Para(
            f"Training labels of one task at a time corrupted ({cfg.get('mode')}, "
            f"{100 * float(cfg.get('fraction', 1)):.3g} % of them), then {cfg.get('epochs')} "
            f"epoch(s) of continued training of {cfg.get('part')} parameters against the same "
            "training on clean labels (same weights, batches and seed). Drop = loss of test "
            "metric caused by the corruption (positive = worse)."
        )
    ]
    summary = res.summary
    tasks = list(dict.fromkeys(r["task"] for r in summary))
    for arm in [a for a in ARMS if any(r["arm"] == a for r in summary)]:
        corrupted = list(dict.fromkeys(r["corrupted"] for r in summary if r["arm"] == arm))
        rows = []
        for c in corrupted:
            cells = [Cell(c)]
            for t in tasks:
                r = _find(summary, arm=arm, corrupted=c, task=t)
                cells.append(Cell(_pm(r), strong=t == c))
            other = _find(res.tables.get("others_summary", []), arm=arm, corrupted=c)
            cells.append(Cell(_ci(other)))
            rows.append(tuple(cells))
        other = _find(res.tables.get("others_summary", []), arm=arm, corrupted="any")
        rows.append((Cell("mean", em=True), *(Cell("") for _ in tasks), Cell(_ci(other))))
        out.append(
            Table(
                ("corrupted task", *tasks, "other tasks [95 % CI]"),
                tuple(rows),
                f"{arm}: test-metric drop per task (mean ± 95 % t half-width over "
                "seeds; bold: the corrupted task itself).",
            )
        )
    return out


def _few_shot_blocks(res: AnalysisResult) -> list[Block]:
    cfg = res.config
    out: list[Block] = [
        Para(
            f"Target {cfg.get('target')} ({cfg.get('metric')}) trained on a fraction of its "
            "training split (seeded, class-stratified), alone or fine-tuned from multitask "
            f"pre-training on {', '.join(cfg.get('sources') or [])}"
            f"{' together with them (target loss weight ' + str(cfg.get('target_weight')) + ')' if cfg.get('auxiliary') else ''}"
            "; early stopping on the target's validation metric."
        )
    ]
    rows = []
    fractions = sorted({float(r["fraction"]) for r in res.summary})
    for f in fractions:
        alone = _find(res.summary, fraction=f, arm="alone")
        pre = _find(res.summary, fraction=f, arm="pre-trained")
        gain = _find(res.tables.get("gains", []), fraction=f)
        n = next((r["n_train"] for r in res.rows if float(r["fraction"]) == f), "-")
        rows.append(
            (
                Cell(f"{f:g}"),
                Cell(str(n)),
                Cell(_ci(alone)),
                Cell(_ci(pre)),
                Cell(_ci(gain)),
                Cell(_seeds(gain)),
            )
        )
    out.append(
        Table(
            (
                "fraction",
                "train samples",
                "alone [95 % CI]",
                "pre-trained [95 % CI]",
                "gain [95 % CI]",
                "seeds",
            ),
            tuple(rows),
            "Target test metric; gain = pre-trained minus alone, paired by seed "
            "(positive = pre-training helps).",
        )
    )
    return out


def _transfer_blocks(res: AnalysisResult) -> list[Block]:
    cfg = res.config
    out: list[Block] = [
        Para(
            "Each target trained alone to convergence (early stopping, patience "
            f"{cfg.get('patience')}, cap {cfg.get('alone_epochs')} epochs) against the model "
            f"pre-trained for {cfg.get('pretrain_epochs')} epochs on other tasks (largest "
            "first) and fine-tuned on the target with the same early stopping (cap "
            f"{cfg.get('finetune_epochs')})."
        )
    ]
    conv = res.tables.get("convergence", [])
    gains = res.tables.get("gains", [])
    metric = {r["target"]: r["metric"] for r in res.rows}
    rows = []
    for r in res.summary:
        g = _find(gains, target=r["target"], config=r["config"])
        c = _find(conv, target=r["target"], config=r["config"])
        stopped = "-" if c is None else f"{int(c['stopped_early'])}/{int(c['runs'])}"
        epochs = "-" if c is None else f"{float(c['mean_epochs']):.1f}"
        rows.append(
            (
                Cell(r["target"]),
                Cell(metric.get(r["target"], "")),
                Cell(r["config"]),
                Cell(_ci(r)),
                Cell(_ci(g) if g else "-"),
                Cell(epochs),
                Cell(stopped),
            )
        )
    for g in gains:
        if g["target"] == "mean":
            rows.append(
                (
                    Cell("mean", em=True),
                    Cell(""),
                    Cell(g["config"]),
                    Cell(""),
                    Cell(_ci(g)),
                    Cell(""),
                    Cell(""),
                )
            )
    out.append(
        Table(
            (
                "target",
                "metric",
                "config",
                "test metric [95 % CI]",
                "gain over alone [95 % CI]",
                "epochs",
                "stopped early",
            ),
            tuple(rows),
            "Gain signed so that positive = transfer helps; paired by seed.",
        )
    )
    return out


_LAYOUTS = {
    "overlap": _overlap_blocks,
    "interference": _interference_blocks,
    "few_shot": _few_shot_blocks,
    "transfer": _transfer_blocks,
}


def analysis_blocks(
    result: AnalysisResult, *, level: int = 2, figure_name: str | None = None
) -> list[Block]:
    """The report section of one analysis result as report blocks.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`parameter_overlap`, :func:`interference`, :func:`few_shot`,
        :func:`transfer` or :func:`~hetero_models.analysis.common.read_result`.
    level : int
        Heading level of the section.
    figure_name : str, optional
        Add a :class:`~hetero.report.blocks.FigRef` to this figure name (the caller renders
        it, e.g. with :func:`section_figure`).

    Returns
    -------
    list of Block
        Heading, description, verdicts (bullets), tables, figure reference.
    """
    layout = _LAYOUTS.get(result.kind)
    if layout is None:
        raise HeteroError(f"no report layout for analysis kind {result.kind!r}")
    blocks: list[Block] = [Heading(level, _TITLES[result.kind])]
    body = layout(result)
    blocks.append(body[0])
    if result.verdicts:
        blocks.append(Bullets(tuple(result.verdicts)))
    blocks += body[1:]
    if figure_name is not None:
        blocks.append(FigRef(figure_name))
    return blocks


def section_figure(result: AnalysisResult, name: str | None = None) -> Figure:
    """The result's figure as a report :class:`~hetero.report.model.Figure`."""
    return Figure(name or f"analysis_{result.kind}", _TITLES[result.kind], result.figure_png())


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def render_section(
    result: AnalysisResult,
    format: str = "markdown",
    *,
    level: int = 2,
    figure: bool = True,
    figure_dir: str = ".",
) -> str:
    """One analysis as a Markdown section or an HTML fragment.

    Parameters
    ----------
    result : AnalysisResult
    format : {"markdown", "html"}
    level : int
        Heading level.
    figure : bool
        Include the figure: Markdown links ``figure_dir/<kind>.png`` (the file
        :meth:`AnalysisResult.write` writes), HTML embeds it as a ``data:`` URI.
    figure_dir : str
        Folder of the figure file, relative to the Markdown file.
    """
    if format not in ("markdown", "html"):
        raise HeteroError(f"format must be 'markdown' or 'html', got {format!r}")
    name = result.kind
    blocks = analysis_blocks(result, level=level, figure_name=name if figure else None)
    out: list[str] = []
    for b in blocks:
        if format == "markdown":
            out.append(_block_md(b, f"{figure_dir}/{name}.png"))
        else:
            out.append(_block_html(b, result))
    return ("\n\n" if format == "markdown" else "\n").join(out) + "\n"


def _block_md(b: Block, figure_path: str) -> str:
    if isinstance(b, Heading):
        return f"{'#' * b.level} {b.text}"
    if isinstance(b, Para):
        return b.text
    if isinstance(b, Bullets):
        return "\n".join(f"- {i}" for i in b.items)
    if isinstance(b, Table):

        def cell(c: Cell) -> str:
            t = _md(c.text) if c.text else " "
            return f"**{t}**" if c.strong and c.text else (f"_{t}_" if c.em and c.text else t)

        lines = [
            "| " + " | ".join(_md(h) for h in b.header) + " |",
            "|" + "|".join("---" for _ in b.header) + "|",
        ]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b.rows]
        if b.caption:
            lines += ["", f"_{_md(b.caption)}_"]
        return "\n".join(lines)
    if isinstance(b, FigRef):
        return f"![{b.name}]({figure_path})"
    return ""


def _block_html(b: Block, result: AnalysisResult) -> str:
    esc = html.escape
    if isinstance(b, Heading):
        return f"<h{b.level}>{esc(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        return f"<p>{esc(b.text)}</p>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):

        def cell(c: Cell, tag: str = "td") -> str:
            t = esc(c.text)
            t = f"<strong>{t}</strong>" if c.strong else (f"<em>{t}</em>" if c.em else t)
            return f"<{tag}>{t}</{tag}>"

        rows = ["<tr>" + "".join(cell(Cell(h), "th") for h in b.header) + "</tr>"]
        rows += ["<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in b.rows]
        cap = f"<caption>{esc(b.caption)}</caption>" if b.caption else ""
        return f'<div class="scroll"><table>{cap}{"".join(rows)}</table></div>'
    if isinstance(b, FigRef):
        data = base64.b64encode(result.figure_png()).decode("ascii")
        title = esc(_TITLES[result.kind])
        return (
            f'<figure><img alt="{title}" src="data:image/png;base64,{data}">'
            f"<figcaption>{title}</figcaption></figure>"
        )
    return ""
