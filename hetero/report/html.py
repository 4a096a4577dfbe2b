"""The report as one self-contained HTML page (standard library only)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from hetero.report.blocks import Bullets, Callout, Cell, FigRef, Heading, Para, Table
from hetero.report.layout import layout
from hetero.report.model import Figure, Report

__all__ = ["render_html"]

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
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
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


def render_html(report: Report, figures: Sequence[Figure] = ()) -> str:
    """The report as one self-contained HTML page (figures as base64 ``data:`` URIs).

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
    for block in layout(report, figs):
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
            fig = figs[block.name]
            data = base64.b64encode(fig.png).decode("ascii")
            out.append(
                f'<figure><img alt="{html.escape(fig.caption)}" '
                f'src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
