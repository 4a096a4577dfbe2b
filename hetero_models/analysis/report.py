"""Report sections for the analyses: the torch-free layout lives in the core,
:mod:`hetero.report.analysis` (``hetero report --analysis`` uses it); these names are kept
here for ``from hetero_models.analysis.report import ...``.

:func:`analysis_blocks` lays a result out as report blocks, :func:`render_section` renders
them on their own as Markdown or as an HTML fragment, :func:`section_figure` gives the
figure as a :class:`hetero.report.model.Figure`. No torch needed::

    from hetero_models.analysis import read_result, render_section
    text = render_section(read_result("out/overlap"), "markdown", figure_dir="figs")
"""

from __future__ import annotations

from hetero.report.analysis import analysis_blocks, render_section, section_figure

__all__ = ["analysis_blocks", "render_section", "section_figure"]
