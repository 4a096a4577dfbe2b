"""The report as one self-contained HTML page (standard library only)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence

from hetero.report.blocks import Block, Bullets, Callout, Cell, FigRef, Heading, Para, Table
from hetero.report.layout import layout
from hetero.report.model import Figure, Report

__all__ = ["inline_svg", "render_blocks_html", "render_html"]

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.86em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}
caption{caption-side:bottom;text-align:left;font-size:.9em;color:#555;padding-top:.3em}
.callout{padding:.8em 1em;border-radius:4px;margin:1em 0;font-weight:600}
.ok{background:#e8f5e9;border-left:5px solid #2e7d32}
.warn{background:#fff3e0;border-left:5px solid #e65100}
figure{margin:1em 0}figure img,figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.scroll{overflow-x:auto}
"""


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].lstrip("+-")
    return bool(head) and (head[0].isdigit() or head in ("inf", "-"))


def _html_cell(c: Cell, tag: str = "td") -> str:
    text = html.escape(c.text)
    if c.strong:
        text = f"<strong>{text}</strong>"
    if c.em:
        text = f"<em>{text}</em>"
    cls = ' class="n"' if tag == "td" and _is_number(c.text) else ""
    title = f' title="{html.escape(c.title)}"' if c.title else ""
    return f"<{tag}{cls}{title}>{text}</{tag}>"


def _html_text(text: str) -> str:
    """Escape, and turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def render_blocks_html(blocks: Iterable[Block], figures: Mapping[str, Figure]) -> list[str]:
    """HTML of each block (a figure as a PNG ``data:`` URI or inline SVG, by its
    :attr:`~hetero.report.model.Figure.page_format`)."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{_html_text(block.text)}</p>")
        elif isinstance(block, Callout):
            cls = "ok" if block.ok else "warn"
            out.append(f'<div class="callout {cls}">{_html_text(block.text)}</div>')
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_html_text(i)}</li>" for i in block.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            rows = ["<tr>" + "".join(_html_cell(Cell(h), "th") for h in block.header) + "</tr>"]
            rows += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in block.rows]
            cap = f"<caption>{_html_text(block.caption)}</caption>" if block.caption else ""
            out.append(f'<div class="scroll"><table>{cap}{"".join(rows)}</table></div>')
        elif isinstance(block, FigRef):
            out.append(_html_figure(figures[block.name]))
    return out


def _html_figure(fig: Figure) -> str:
    caption = html.escape(fig.caption)
    if fig.page_format == "svg":
        body = inline_svg(fig.page_bytes, fig.name, fig.caption)
    else:
        data = base64.b64encode(fig.page_bytes).decode("ascii")
        body = f'<img alt="{caption}" src="data:image/png;base64,{data}">'
    return f"<figure>{body}<figcaption>{caption}</figcaption></figure>"


_SVG_REF = re.compile(r'(\bid="|href="#|url\(#)')


def inline_svg(data: bytes, prefix: str, title: str = "") -> str:
    """An SVG file as an inline ``<svg>`` element for an HTML page.

    The XML prolog and doctype go; every ``id`` (and each reference to it: ``#id``
    links, ``url(#id)``) gets ``prefix`` so that several inline figures on one page never
    share an id; ``title`` becomes the element's accessible name.
    """
    text = data.decode("utf-8")
    start = text.find("<svg")
    if start < 0:
        raise ValueError(f"figure {prefix!r}: not an SVG document")
    text = text[start:]
    # matplotlib's SVG refers to its own ids only (href="#id", url(#id))
    text = _SVG_REF.sub(lambda m: f"{m.group(1)}{prefix}-", text)
    label = f' role="img" aria-label="{html.escape(title)}"' if title else ""
    return text.replace("<svg", f'<svg class="figure"{label}', 1).rstrip() + "\n"


def render_html(report: Report, figures: Sequence[Figure] = ()) -> str:
    """The report as one self-contained HTML page (PNG figures as base64 ``data:`` URIs,
    SVG figures inline).

    Parameters
    ----------
    report : Report
    figures : sequence of Figure
        From :func:`render_figures`.

    Returns
    -------
    str
    """
    figs = {f.name: f for f in figures}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    out += render_blocks_html(layout(report, figs), figs)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
