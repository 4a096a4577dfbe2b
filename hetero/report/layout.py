"""Laying a :class:`Report` out as blocks: summary, plan, one section per level, training.

Every number shown comes from the report (read from the measurement); the layout only
chooses, formats and explains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from hetero.plotting.render import spectrum_rank
from hetero.report.blocks import (
    Block,
    Bullets,
    Callout,
    Cell,
    FigRef,
    Heading,
    Para,
    Table,
    fix,
    fmt,
    make_row,
    pct,
    secs,
)
from hetero.report.model import MAX_TABLE_UNITS, Figure, LevelReport, Report, as_number

__all__ = ["layout"]


def _level_title(level: str) -> str:
    return {"modality": "Modality heterogeneity", "interaction": "Interaction heterogeneity"}.get(
        level, level
    )


def _controls_blocks(report: Report) -> list[Any]:
    """Controls passed / failed per level, and per unit where each control ranks."""
    if not report.controls:
        return []
    out: list[Any] = []
    for level, ctl in report.controls.items():
        s = ctl["summary"]
        out.append(Callout(f"{level}: {s.get('statement', '')}", bool(s.get("passed"))))
        rows = tuple(
            make_row(
                r.get("unit"),
                fmt(r.get("twin_rank")),
                fmt(r.get("twin_d"), 3),
                fmt(r.get("nearest_stranger"), 3),
                fmt(r.get("null_rank")),
                fmt(r.get("null_d"), 3),
                "yes" if r.get("twin_passed") and r.get("null_passed") else "NO",
            )
            for r in ctl.get("rows") or []
            if isinstance(r, Mapping)
        )
        if rows:
            out.append(
                Table(
                    (
                        "unit",
                        "twin rank",
                        "d(twin)",
                        "nearest stranger",
                        "shuffled rank",
                        "d(shuffled)",
                        "passed",
                    ),
                    rows,
                    caption=f"{level} controls (controls.json): rank 1 = nearer than every "
                    "other unit. The relabelled twin must be nearest (ties allowed) and nearer "
                    "than the label-shuffled copy.",
                )
            )
    return out


def _summary_blocks(report: Report) -> list[Any]:
    m = report.measure
    out: list[Any] = [Heading(2, "Summary")]
    facts = []
    if m.get("suite"):
        facts.append(f"suite {m['suite']}")
    if m.get("learner"):
        facts.append(f"learner {m['learner']}")
    est = m.get("estimator")
    if isinstance(est, Mapping) and est.get("name"):
        facts.append(f"estimator {est['name']}")
    if m.get("sampled"):
        facts.append("sampled design with completion")
    if m.get("auto_seeds"):
        facts.append("seeds added automatically where entries were undecided")
    if facts:
        out.append(Para("Measured with " + ", ".join(facts) + "."))
    rows = []
    for lev in report.levels:
        s = lev.summary
        rt = s.get("retest") if isinstance(s.get("retest"), Mapping) else {}
        stab = s.get("stability") if isinstance(s.get("stability"), Mapping) else {}
        seeds_t = s.get("transfer_seeds")
        seeds_b = s.get("baseline_seeds")
        pairs = (
            f"{s['measured_pairs']}/{s['ordered_pairs']}"
            if "measured_pairs" in s and "ordered_pairs" in s
            else f"{lev.n_measured}/{lev.n * (lev.n - 1)}"
        )
        rows.append(
            make_row(
                lev.level,
                lev.n,
                pairs,
                lev.n_completed,
                "-" if seeds_t is None else len(seeds_t),
                "-" if seeds_b is None else len(seeds_b),
                f"{lev.n_significant}/{lev.n_with_se}",
                pct(_scratch_converged(s)),
                fix(rt.get("spearman_d")) + f" ({fix(rt.get('spearman_d_full'))})" if rt else "-",
                fix(rt.get("plan_ari")) if rt else "-",
                fix(stab.get("mean_stability")) if stab else "-",
            )
        )
    out.append(
        Table(
            (
                "level",
                "units",
                "ordered pairs measured",
                "entries completed",
                "transfer seeds",
                "baseline seeds",
                "significant / with s.e.",
                "scratch runs converged before the epoch cap",
                "retest Spearman d (projected)",
                "retest plan ARI",
                "plan stability",
            ),
            tuple(rows),
            caption="Significant: the interval T ± z·s.e. excludes zero. Retest: split-half "
            "Spearman correlation of the distances between two disjoint halves of the seeds, "
            "projected to all seeds (Spearman-Brown). Plan stability: mean over unit pairs of "
            "how consistently bootstrap samples of the seeds put them together or apart.",
        )
    )
    runs = report.runs
    run_stats = m.get("runs") if isinstance(m.get("runs"), Mapping) else {}
    if runs is not None:
        parts = []
        for level, kinds in sorted(runs["by_level"].items()):
            ktxt = ", ".join(
                f"{sum(st.values())} {kind}"
                + (f" ({st.get('failed', 0)} failed)" if st.get("failed") else "")
                for kind, st in sorted(kinds.items())
            )
            parts.append(f"{level}: {ktxt}")
        text = f"{runs['total']} runs in runs.sqlite ({'; '.join(parts)})"
        text += f", {secs(runs['wall_time'])} of training in total (all workers)"
        kinds = runs.get("converged_by_kind") or {}
        if "scratch" in kinds:
            text += f", {pct(kinds['scratch'])} of the scratch runs converged before the epoch cap"
            if "transfer" in kinds:
                text += f" (transfers: {pct(kinds['transfer'])}; short estimators cap them)"
        elif runs["converged_fraction"] is not None:
            text += f", {pct(runs['converged_fraction'])} converged before the epoch cap"
        if run_stats:
            text += (
                f"; the last `hetero measure` trained {run_stats.get('trained', '-')}, "
                f"reused {run_stats.get('cached', '-')} from the store and took "
                f"{secs(run_stats.get('wall_time'))}"
            )
        out.append(Para(text + "."))
        completed = sum(lev.n_completed for lev in report.levels)
        measured = sum(lev.n_measured for lev in report.levels)
        out.append(
            Para(
                f"Entries: {measured} ordered transfer entries measured, {completed} distance "
                "entries completed (not measured)."
            )
        )
    return out


def _plan_blocks(report: Report) -> list[Any]:
    out: list[Any] = [Heading(2, "Grouping plan")]
    if report.plan is None:
        out.append(Para("No plan (plan.json is absent)."))
        return out
    out.append(
        Para(
            f"{report.plan.n_unimodal_groups} unimodal group(s) and "
            f"{report.plan.n_crossmodal_groups} crossmodal group(s): units in one group share "
            "one copy of the corresponding HighMMT block."
        )
    )
    for lev in report.levels:
        if not lev.groups:
            continue
        kind = "unimodal" if lev.level == "modality" else "crossmodal"
        rows = tuple(make_row(str(g), len(m), ", ".join(m)) for g, m in enumerate(lev.groups))
        caption = ""
        if lev.stability and as_number(lev.stability.get("mean_stability")) is not None:
            caption = (
                f"Plan stability over {lev.stability.get('n_boot', '?')} bootstrap samples of "
                f"the seeds: {fix(lev.stability['mean_stability'])} (1 = always the same)."
            )
        out.append(Heading(3, f"{kind.capitalize()} groups ({lev.level} units)"))
        out.append(Table(("group", "size", "units"), rows, caption=caption))
    return out


def _check_blocks(lev: LevelReport) -> list[Any]:
    c = lev.check
    if not c:
        return []
    out: list[Any] = [Heading(3, "Metric checks")]
    min_c = "inf" if c.get("min_c_infinite") else fmt(c.get("min_c"), 4)
    rows = (
        make_row("symmetric", fmt(c.get("symmetric"))),
        make_row("max |d_ij - d_ji|", fmt(c.get("max_asymmetry"), 4)),
        make_row("non-negative", fmt(c.get("nonnegative"))),
        make_row("zero diagonal", fmt(c.get("zero_diagonal"))),
        make_row("triples checked", fmt(c.get("n_triples"))),
        make_row("triangle inequality, exact", pct(c.get("triangle_exact"))),
        make_row(
            f"triangle inequality, relaxed (c = {fmt(c.get('c'))})",
            pct(c.get("triangle_relaxed")),
        ),
        make_row("smallest c for all triples", min_c),
    )
    out.append(Table(("check", "value"), rows, caption="From check.json."))
    out += _null_blocks(c.get("null"))
    worst = c.get("worst") or []
    if worst:
        wrows = tuple(
            make_row(
                f"{w.get('i')} → {w.get('j')} → {w.get('k')}",
                fmt(w.get("d_ik"), 3),
                fmt(w.get("d_ij"), 3),
                fmt(w.get("d_jk"), 3),
                fmt(w.get("ratio"), 3) if w.get("ratio") is not None else "inf",
            )
            for w in worst[:10]
            if isinstance(w, Mapping)
        )
        out.append(
            Table(
                ("worst triples i → j → k", "d_ik", "d_ij", "d_jk", "d_ik / (d_ij + d_jk)"),
                wrows,
            )
        )
    return out


def _null_blocks(null: Any) -> list[Any]:
    """The statistics next to their null models (check.json's ``null``), with a verdict."""
    if not isinstance(null, Mapping) or not isinstance(null.get("stats"), Mapping):
        return []
    rows = []
    beyond = []
    for name, s in null["stats"].items():
        if not isinstance(s, Mapping):
            continue
        p, pm = s.get("p"), s.get("main_effects_p")
        rows.append(
            make_row(
                name.replace("_", " "),
                pct(s.get("observed")),
                f"{pct(s.get('null_mean'))} [{pct(s.get('null_low'))}, {pct(s.get('null_high'))}]",
                fmt(p, 3),
                pct(s.get("additive")),
                fmt(pm, 3),
            )
        )
        if isinstance(p, (int, float)) and isinstance(pm, (int, float)) and max(p, pm) < 0.05:
            beyond.append(name.replace("_", " "))
    share = null.get("main_effect_share")
    verdict = (
        "Above both nulls (p < 0.05): " + ", ".join(beyond) + "."
        if beyond
        else "No statistic is above both nulls at p < 0.05: the matrix shows no metric or "
        "low-rank structure beyond chance and per-unit main effects."
    )
    return [
        Para(
            f"Main effects (d_ij ≈ a_i + a_j) explain {pct(share)} of the variance of the "
            f"distances. {verdict}"
        ),
        Table(
            ("statistic", "observed", "shuffled null [95 %]", "p", "a_i + a_j", "p (main effects)"),
            tuple(rows),
            caption=f"Null models from check.json: {null.get('n_perm')} symmetric shuffles of "
            "the off-diagonal entries, and a_i + a_j plus shuffled residuals; one-sided "
            "p-values (the null at least as large as observed).",
        ),
    ]


def _scratch_converged(summary: Mapping[str, Any]) -> Any:
    """Fraction of a level's scratch runs that stopped by patience (older measure.json
    files without the split: the fraction over all runs)."""
    conv = summary.get("convergence")
    scratch = conv.get("scratch") if isinstance(conv, Mapping) else None
    if isinstance(scratch, Mapping):
        return scratch.get("fraction")
    return summary.get("converged_fraction")


def _spectrum_blocks(lev: LevelReport, figures: Mapping[str, Figure]) -> list[Any]:
    if lev.spectrum is None:
        return []
    s, cum = lev.spectrum
    out: list[Any] = [Heading(3, "Singular-value spectrum")]
    if f"{lev.level}_spectrum" in figures:
        out.append(FigRef(f"{lev.level}_spectrum"))
    k = min(len(s), 8)
    rank90 = spectrum_rank(cum) if len(cum) else 0
    out.append(
        Table(
            ("rank", *[str(r + 1) for r in range(k)]),
            (
                make_row("singular value", *[fmt(v, 3) for v in s[:k]]),
                make_row("cumulative explained", *[pct(v) for v in cum[:k]]),
            ),
            caption=f"Rank {rank90} captures 90% of the squared norm of the distance matrix.",
        )
    )
    return out


def _matrix_table(
    lev: LevelReport,
    values: np.ndarray,
    *,
    se: np.ndarray | None,
    marks: np.ndarray | None,
    em: np.ndarray | None = None,
    upper: bool = False,
) -> Table:
    labels = lev.labels
    rows = []
    for i, row_label in enumerate(labels):
        cells: list[Cell] = [Cell(row_label, strong=True)]
        for j in range(len(labels)):
            if i == j or (upper and j < i):
                cells.append(Cell(""))
                continue
            v = values[i, j]
            txt = f"{v:.3f}" if np.isfinite(v) else "-"
            if se is not None and np.isfinite(se[i, j]) and np.isfinite(v):
                txt += f" ± {se[i, j]:.3f}"
            strong = bool(marks is not None and marks[i, j])
            if strong:
                txt += " *"
            italic = bool(em is not None and em[i, j])
            if italic:
                txt += " (c)"
            cells.append(Cell(txt, strong=strong, em=italic))
        rows.append(tuple(cells))
    short = [str(j + 1) for j in range(len(labels))]
    header = ("row → column", *short)
    rows = [(Cell(f"{i + 1}. {r[0].text}", strong=True), *r[1:]) for i, r in enumerate(rows)]
    return Table(header, tuple(rows))


def _level_blocks(report: Report, lev: LevelReport, figures: Mapping[str, Figure]) -> list[Any]:
    out: list[Any] = [Heading(2, _level_title(lev.level))]
    out.append(
        Para(
            f"{lev.n} {'interaction ' if lev.level == 'interaction' else ''}units. "
            "T(i → j) = L(i → j) − L(j): the target's validation loss after transfer from the "
            "source minus its loss trained from scratch (negative: the source helps). The "
            "distance is d = max(T(i → j), 0) + max(T(j → i), 0)."
        )
    )
    for suffix in ("heatmap", "transfer_heatmap", "dendrogram", "clustermap", "graph"):
        if f"{lev.level}_{suffix}" in figures:
            out.append(FigRef(f"{lev.level}_{suffix}"))
    out += _check_blocks(lev)
    out += _spectrum_blocks(lev, figures)

    out.append(Heading(3, "Standard errors and significance"))
    if lev.transfer is None:
        out.append(Para(f"No {lev.level}_transfer.json: no standard errors to show."))
    else:
        sig = lev.significant
        out.append(
            Para(
                f"{lev.n_significant} of {lev.n_measured} measured transfer entries differ "
                f"from zero significantly ({lev.interval_text}); {lev.n_with_se} have a "
                "standard error (entries from a single seed have none and no interval)."
            )
        )
        entries = lev.significant_entries()
        if entries:
            rows = tuple(
                make_row(
                    e["source"],
                    e["target"],
                    fmt(e["T"], 3),
                    f"[{fmt(e['lo'], 3)}, {fmt(e['hi'], 3)}]",
                    fmt(e["se"], 2),
                    fmt(e["ratio"], 3),
                )
                for e in entries[:20]
            )
            more = f" (the 20 largest of {len(entries)})" if len(entries) > 20 else ""
            out.append(
                Table(
                    (
                        "source",
                        "target",
                        "T",
                        f"{100 * lev.confidence:g} % interval",
                        "s.e.",
                        "T / s.e.",
                    ),
                    rows,
                    caption=f"Significant entries{more}, largest |T| / s.e. first.",
                )
            )
        if lev.n <= MAX_TABLE_UNITS:
            table = _matrix_table(lev, lev.transfer.values, se=lev.se, marks=sig)
            out.append(
                Table(
                    table.header,
                    table.rows,
                    caption="T ± s.e. (rows: source, columns: target); * marks a significant "
                    "entry; - not measured.",
                )
            )
        if lev.unclipped_sum is not None and lev.n <= MAX_TABLE_UNITS:
            marks = lev.unclipped_sum_significant
            table = _matrix_table(
                lev, lev.unclipped_sum, se=lev.unclipped_sum_se, marks=marks, upper=True
            )
            out.append(
                Table(
                    table.header,
                    table.rows,
                    caption="Unclipped T(i → j) + T(j → i) ± s.e. (before the distance clips "
                    "negative transfer to zero); * significant.",
                )
            )
    if lev.n <= MAX_TABLE_UNITS:
        table = _matrix_table(
            lev, lev.distance.values, se=None, marks=None, em=lev.completed, upper=True
        )
        out.append(
            Table(
                table.header,
                table.rows,
                caption="Distances d; (c) marks an entry completed rather than measured.",
            )
        )
    rt = lev.summary.get("retest")
    if isinstance(rt, Mapping):
        out.append(Heading(3, "Test-retest"))
        rows = (
            make_row("Spearman of T between halves", fix(rt.get("spearman_T"))),
            make_row("Spearman of d between halves", fix(rt.get("spearman_d"))),
            make_row("projected to all seeds (T)", fix(rt.get("spearman_T_full"))),
            make_row("projected to all seeds (d)", fix(rt.get("spearman_d_full"))),
            make_row(
                "Spearman of double-centred d between halves", fix(rt.get("spearman_d_centred"))
            ),
            make_row(
                "projected to all seeds (double-centred d; the verdict)",
                fix(rt.get("spearman_d_centred_full")),
            ),
            make_row("plan ARI between halves", fix(rt.get("plan_ari"))),
        )
        statement = lev.summary.get("reliability") or rt.get("statement") or ""
        out.append(Table(("retest", "value"), rows, caption=str(statement)))
    return out


def _train_blocks(report: Report) -> list[Any]:
    if not report.train:
        return []
    out: list[Any] = [Heading(2, "Training results")]
    runs = report.train
    base = next((t for t in runs if t.sharing == "share-all"), None)
    out.append(
        Para(
            "Test-split results of the HighMMT models trained with `hetero train`: "
            + "; ".join(f"{t.name} = {t.description}" for t in runs)
            + ". Each is one training run (one seed): differences between them carry no "
            "standard error."
            + (
                ""
                if report.actionable
                else " The plan comes from a matrix that is not shown to be reliable (see "
                "above), so a difference need not reflect the measured heterogeneity."
            )
        )
    )
    tasks: list[str] = []
    for t in runs:
        tasks += [k for k in t.tasks if k not in tasks]
    header = ["task", "metric"] + [t.name for t in runs]
    others = [t for t in runs if t is not base]
    if base is not None:
        header += [f"{t.name} − {base.name}" for t in others]
    rows = []
    for task in tasks:
        metric = next((t.primary[task] for t in runs if task in t.primary), None)
        for name in ([metric] if metric else []) + ["loss"]:
            vals = [t.tasks.get(task, {}).get(name) for t in runs]
            cells: list[Any] = [task, name] + [fmt(v, 4) for v in vals]
            if base is not None:
                bv = base.tasks.get(task, {}).get(name)
                for t in others:
                    v = t.tasks.get(task, {}).get(name)
                    if v is None or bv is None or math.isnan(v) or math.isnan(bv):
                        cells.append("-")
                        continue
                    diff = v - bv
                    higher = True if name != "loss" else False
                    if name == metric:
                        higher = next(
                            (r.higher_is_better[task] for r in runs if task in r.higher_is_better),
                            True,
                        )
                    better = diff > 0 if higher else diff < 0
                    cells.append(Cell(f"{diff:+.4f}", strong=better and diff != 0))
            rows.append(make_row(*cells))
    out.append(
        Table(
            tuple(header),
            tuple(rows),
            caption="Differences in bold favour the grouped model (higher metric or lower loss).",
        )
    )
    prow = [
        make_row("total", *[fmt(t.params_total) for t in runs]),
    ]
    kinds: list[str] = []
    for t in runs:
        kinds += [k for k in t.params_shared if k not in kinds]
    for kind in kinds:
        prow.append(
            make_row(
                f"{kind} blocks (all copies)",
                *[
                    f"{fmt(t.params_shared.get(kind))}"
                    + (f" in {t.groups[kind]} group(s)" if kind in t.groups else "")
                    for t in runs
                ],
            )
        )
    out.append(Table(("parameters", *[t.name for t in runs]), tuple(prow)))
    return out


def layout(report: Report, figures: Mapping[str, Figure]) -> list[Block]:
    """The whole report as blocks; ``figures`` (by name) decides which figures are shown."""
    blocks: list[Any] = [Heading(1, report.title)]
    blocks.append(
        Para(f"Measurement directory {report.directory}; report created {report.created}.")
    )
    blocks += _controls_blocks(report)  # first: a measurement that fails them shows nothing
    blocks.append(Callout(report.verdict, report.actionable))
    if report.notes:
        blocks.append(Bullets(tuple(report.notes)))
    blocks += _summary_blocks(report)
    blocks += _plan_blocks(report)
    for lev in report.levels:
        blocks += _level_blocks(report, lev, figures)
    blocks += _train_blocks(report)
    if report.compare is not None:
        from hetero.report.compare import compare_blocks

        blocks += compare_blocks(report.compare, figures)
    if report.analyses:
        from hetero.report.analysis import analysis_blocks

        blocks.append(Heading(2, "Analyses of the trained models"))
        for name, result in report.analyses:
            blocks += analysis_blocks(
                result, level=3, figure_name=name if name in figures else None
            )
            source = getattr(result, "source", None)
            if source is not None:
                blocks.append(Para(f"Read from `{source}`."))
    prov = report.measure.get("provenance")
    if isinstance(prov, Mapping):
        facts = [f"{k} {prov[k]}" for k in ("hetero_version", "python", "numpy") if k in prov]
        if facts:
            blocks.append(Heading(2, "Provenance"))
            blocks.append(Para("Measured with " + ", ".join(facts) + "."))
        cfg = report.measure.get("learner_config")
        if isinstance(cfg, Mapping) and cfg:
            blocks.append(
                Para(
                    "Learner configuration: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(cfg.items()))
                    + "."
                )
            )
    return blocks
