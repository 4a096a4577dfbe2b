"""Marking a report stale when the measurement it was made from is rewritten.

A report is a snapshot: ``report.html`` and ``report.md`` show what the measurement folder
held when ``hetero report`` ran (and the training folders it was given, which cannot be
re-read later). When ``hetero measure`` rewrites the folder's outputs (a resumed or extended
measurement, another number of groups, another estimator), a report left in the folder
would silently disagree with the files next to it. It is not regenerated (its training
folders were trained with the earlier plan and are not known here) and not deleted (it
may be the only copy of those training results): :func:`mark_stale` puts a banner at its
top that says since when and why it is stale and how to refresh it. ``hetero report``
writes a fresh report without the banner.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
from pathlib import Path

from hetero._io import atomic_write_text, read_text_file
from hetero.errors import HeteroError

__all__ = ["STALE_MARK", "is_stale", "mark_stale"]

#: Marks the banner (an HTML comment in ``report.html``, the banner's first words in
#: ``report.md``): a report carrying it is stale.
STALE_MARK = "hetero-report-stale"

_HTML_BANNER = re.compile(rf"\n<!-- {STALE_MARK} -->.*?<!-- /{STALE_MARK} -->", flags=re.DOTALL)
_MD_BANNER = re.compile(rf"^> \*\*Stale report\*\* <!-- {STALE_MARK} -->.*?\n\n", flags=re.DOTALL)


def _message(directory: Path, reason: str, when: str) -> str:
    return (
        f"the measurement in this folder was rewritten on {when} ({reason}), "
        "after this report was made; its numbers and figures may no longer match the files "
        f"next to it. Refresh it with `hetero report {directory}` (and the --train folders "
        "of models trained with the new plan)."
    )


def mark_stale(directory: str | os.PathLike, reason: str) -> list[Path]:
    """Put a "stale report" banner at the top of ``directory``'s ``report.html`` and
    ``report.md`` (those that exist); return the files marked.

    A banner already there is replaced (the newest date and reason show), so marking
    twice leaves one banner. The files are rewritten atomically; a file that cannot be
    read as UTF-8 text, or an HTML file without a ``<body>``, is left alone.

    Parameters
    ----------
    directory : path-like
        The measurement folder (where ``hetero report DIR`` writes by default).
    reason : str
        What changed, e.g. ``"hetero measure wrote new matrices and a new plan"``.
    """
    folder = Path(directory)
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = _message(folder, reason, when)
    marked = []
    page = folder / "report.html"
    old = _read(page)
    if old is not None and "<body>" in old:
        body = _HTML_BANNER.sub("", old)
        banner = (
            f'<!-- {STALE_MARK} --><div class="callout warn" role="alert" '
            'style="padding:.8em 1em;margin:1em 0;background:#fff3e0;'
            f'border-left:5px solid #e65100;font-weight:600">Stale report: {_code(text)}</div>'
            f"<!-- /{STALE_MARK} -->"
        )
        atomic_write_text(page, body.replace("<body>", "<body>\n" + banner, 1))
        marked.append(page)
    md = folder / "report.md"
    old = _read(md)
    if old is not None:
        body = _MD_BANNER.sub("", old)
        atomic_write_text(md, f"> **Stale report** <!-- {STALE_MARK} -->: {text}\n\n{body}")
        marked.append(md)
    return marked


def _code(text: str) -> str:
    """Escaped HTML with `code` spans as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def is_stale(directory: str | os.PathLike) -> bool:
    """Whether ``directory/report.html`` carries the stale banner of :func:`mark_stale`."""
    text = _read(Path(directory) / "report.html")
    return text is not None and f"<!-- {STALE_MARK} -->" in text


def _read(path: Path) -> str | None:
    """The report file's text; None when absent or not a readable UTF-8 regular file
    (then it is not a report hetero wrote, and it is left alone)."""
    if not path.exists():
        return None
    try:
        return read_text_file(path, what="a report")
    except HeteroError:
        return None
