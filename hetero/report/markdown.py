"""The report as Markdown, figures linked as files next to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hetero.report.blocks import Block, Bullets, Callout, Cell, FigRef, Heading, Para, Table
from hetero.report.layout import layout
from hetero.report.model import FIGURE_DIR, Figure, Report

__all__ = ["render_blocks_markdown", "render_markdown"]


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _md_cell(c: Cell) -> str:
    text = _md_escape(c.text) if c.text else " "
    if c.strong and c.text:
        text = f"**{text}**"
    if c.em and c.text:
        text = f"_{text}_"
    return text


def render_blocks_markdown(
    blocks: Iterable[Block], figures: Mapping[str, Figure], *, figure_dir: str = FIGURE_DIR
) -> list[str]:
    """Markdown of each block; a figure links ``figure_dir/<name>.<page format>``."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Callout):
            out.append(f"> **{'OK' if block.ok else 'Caution'}:** {block.text}")
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {i}" for i in block.items))
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(_md_escape(h) for h in block.header) + " |",
                "|" + "|".join("---" for _ in block.header) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            if block.caption:
                lines += ["", f"_{_md_escape(block.caption)}_"]
            out.append("\n".join(lines))
        elif isinstance(block, FigRef):
            fig = figures[block.name]
            link = f"{figure_dir}/{fig.name}.{fig.page_format}"
            out.append(f"![{fig.caption}]({link})\n\n_{fig.caption}_")
    return out


def render_markdown(
    report: Report, figures: Sequence[Figure] = (), *, figure_dir: str = FIGURE_DIR
) -> str:
    """The report as Markdown; figures are linked as ``figure_dir/<name>.png`` (``.svg``
    when only SVG was rendered).

    Parameters
    ----------
    report : Report
    figures : sequence of Figure
    figure_dir : str
        Folder of the figure files, relative to the Markdown file.

    Returns
    -------
    str
    """
    figs = {f.name: f for f in figures}
    out = render_blocks_markdown(layout(report, figs), figs, figure_dir=figure_dir)
    return "\n\n".join(out) + "\n"
