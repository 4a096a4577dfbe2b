"""Analysis results (``hetero analyze``) and their report sections, without torch.

An :class:`AnalysisResult` holds the tables of one analysis (per-seed rows, summaries with
95 % t intervals over seeds), its verdicts, configuration and provenance; it writes
``<kind>.json``, one CSV per table and its figure, and :func:`read_result` /
:func:`read_analyses` read them back. The four kinds (:class:`OverlapResult`,
:class:`InterferenceResult`, :class:`FewShotResult`, :class:`TransferResult`) draw their
figures from their tables alone. :func:`analysis_blocks` lays a result out as report
blocks (heading, what was done, verdicts, tables, figure) for ``hetero report --analysis``;
:func:`render_section` renders them on their own as Markdown or an HTML fragment.

``hetero_models.analysis`` computes the results (with torch) and imports everything here,
so there is one reader, one writer and one layout of each analysis.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hetero._io import atomic_write_bytes, atomic_write_text, read_json, write_json
from hetero.errors import HeteroError
from hetero.report.blocks import Block, Bullets, Cell, FigRef, Heading, Para, Table
from hetero.report.model import Figure

__all__ = [
    "ANALYSIS_KINDS",
    "ARMS",
    "ARMS_FEW_SHOT",
    "AnalysisResult",
    "FewShotResult",
    "InterferenceResult",
    "OverlapResult",
    "TransferResult",
    "analysis_blocks",
    "fmt_interval",
    "read_analyses",
    "read_result",
    "render_section",
    "section_figure",
    "to_csv",
]

#: Sharing arms, in display order: one copy of every block, a plan's groups, one per unit.
ARMS = ("share-all", "grouped", "share-none")
#: Analysis kinds, in report order (``<kind>.json`` is each one's result file).
ANALYSIS_KINDS = ("overlap", "interference", "few_shot", "transfer")
RESULT_FORMAT = 1
ARMS_FEW_SHOT = ("alone", "pre-trained")


def fmt_interval(stats: Mapping[str, Any], digits: int = 3) -> str:
    """``"0.812 [0.790, 0.834]"`` (the mean alone when there is no interval)."""
    mean, low, high = (stats.get(k) for k in ("mean", "low", "high"))
    if mean is None or not math.isfinite(float(mean)):
        return "n/a"
    if low is None or high is None or not math.isfinite(float(low)):
        return f"{float(mean):.{digits}f} (one seed)"
    return f"{float(mean):.{digits}f} [{float(low):.{digits}f}, {float(high):.{digits}f}]"


# --------------------------------------------------------------------------- results


class AnalysisResult:
    """Outcome of one analysis: tables of per-seed rows and summaries, verdicts, config.

    Parameters
    ----------
    tables : dict of str -> list of dict
        ``"rows"`` (one row per seed and measured cell) and ``"summary"`` (means and t
        intervals over seeds) always; analyses may add more (e.g. ``"counts"``).
    verdicts : list of str
        Sentences worded by the intervals.
    config : dict
        The analysis' settings (seeds, epochs, inputs).
    provenance : dict, optional
        :func:`hetero._provenance.provenance` record.

    Subclasses set :attr:`kind` and implement :meth:`figure`.
    """

    kind: ClassVar[str] = "analysis"
    _types: ClassVar[dict[str, type[AnalysisResult]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        AnalysisResult._types[cls.kind] = cls

    def __init__(
        self,
        tables: Mapping[str, list[dict[str, Any]]],
        verdicts: Sequence[str] = (),
        config: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ):
        self.tables = {str(k): [dict(r) for r in v] for k, v in tables.items()}
        for name in ("rows", "summary"):
            self.tables.setdefault(name, [])
        self.verdicts = [str(v) for v in verdicts]
        self.config = dict(config or {})
        self.provenance = dict(provenance or {})
        #: The file it was read from (None: computed here).
        self.source: Path | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per-seed rows."""
        return self.tables["rows"]

    @property
    def summary(self) -> list[dict[str, Any]]:
        """Means and t intervals over seeds."""
        return self.tables["summary"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes null)."""
        return {
            "kind": self.kind,
            "format": RESULT_FORMAT,
            "config": self.config,
            "verdicts": self.verdicts,
            "tables": self.tables,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: Any, source: Any = None) -> AnalysisResult:
        """Rebuild a result (of the subclass named by ``d["kind"]``) from :meth:`to_dict`."""
        if not isinstance(d, Mapping) or not isinstance(d.get("tables"), Mapping):
            raise HeteroError("tables: missing (expected an analysis result JSON)", source=source)
        kind = d.get("kind")
        sub = AnalysisResult._types.get(str(kind))
        if sub is None:
            known = ", ".join(sorted(k for k in AnalysisResult._types if k != "analysis"))
            raise HeteroError(
                f"kind: unknown analysis {kind!r}; expected one of: {known}", source=source
            )
        for name, want in (("config", Mapping), ("provenance", Mapping), ("verdicts", list)):
            if d.get(name) is not None and not isinstance(d[name], want):
                what = "an object" if want is Mapping else "a list of sentences"
                raise HeteroError(f"{name}: expected {what}", source=source)
        tables = {}
        for name, rows in d["tables"].items():
            if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
                raise HeteroError(f"tables.{name}: expected a list of objects", source=source)
            tables[name] = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows]
        return sub(
            tables, d.get("verdicts") or [], d.get("config") or {}, d.get("provenance") or {}
        )

    def figure(self) -> Any:  # pragma: no cover - abstract
        """The analysis' figure (a matplotlib Figure on an Agg canvas)."""
        raise NotImplementedError

    def figure_png(self) -> bytes:
        """:meth:`figure` as PNG bytes."""
        from hetero.plotting._common import to_png

        return to_png(self.figure())

    def figure_files(
        self, formats: str | Sequence[str] = "png", *, dpi: int = 110
    ) -> dict[str, bytes]:
        """:meth:`figure` in each of ``formats`` (png, svg, pdf; PNG at ``dpi``)."""
        from hetero.plotting._common import check_formats, save_figure

        fig = self.figure()
        return {fmt: save_figure(fig, fmt, dpi=dpi) for fmt in check_formats(formats)}

    def write(self, directory: str | Path, *, figure: bool = True) -> dict[str, Path]:
        """Write ``<kind>.json``, ``<kind>_<table>.csv`` per table and ``<kind>.png``.

        Returns the written paths by name (``json``, ``png`` and the table names).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {"json": write_json(directory / f"{self.kind}.json", self.to_dict())}
        for name, rows in self.tables.items():
            paths[name] = atomic_write_text(directory / f"{self.kind}_{name}.csv", to_csv(rows))
        if figure:
            paths["png"] = atomic_write_bytes(directory / f"{self.kind}.png", self.figure_png())
        return paths

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.tables.items())
        return f"{type(self).__name__}({sizes}, verdicts={len(self.verdicts)})"


class OverlapResult(AnalysisResult):
    """Result of :func:`hetero_models.analysis.parameter_overlap`.

    Tables: ``rows`` (arm, seed, component, task pair, overlap), ``means`` (per model and
    component: mean overlap over the pairs of distinct tasks), ``counts`` (per model and
    component: fraction of parameters involved in ``n_tasks`` tasks), ``summary`` (mean
    pairwise overlap per arm and component over seeds, with the random-set null), ``pairs``
    (per task pair) and ``counts_summary``.
    """

    kind = "overlap"

    def figure(self) -> Any:
        """Heatmaps of the mean pairwise overlap: one row per arm, one column per component."""
        from hetero.plotting._common import new_figure

        pairs = self.tables.get("pairs", [])
        arms = [a for a in ARMS if any(r["arm"] == a for r in pairs)]
        comps = list(dict.fromkeys(r["component"] for r in pairs))
        fig, _ = new_figure(3.2 * max(1, len(comps)), 2.9 * max(1, len(arms)), axes=False)
        if not pairs:
            fig.add_subplot().text(0.5, 0.5, "no overlap measured", ha="center")
            return fig
        tasks = list(dict.fromkeys([r["task_a"] for r in pairs] + [r["task_b"] for r in pairs]))
        image = None
        for i, arm in enumerate(arms):
            for j, comp in enumerate(comps):
                ax = fig.add_subplot(len(arms), len(comps), i * len(comps) + j + 1)
                m = np.full((len(tasks), len(tasks)), np.nan)
                for r in pairs:
                    if r["arm"] == arm and r["component"] == comp:
                        a, b = tasks.index(r["task_a"]), tasks.index(r["task_b"])
                        m[a, b] = m[b, a] = r["mean"]
                image = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
                for a in range(len(tasks)):
                    for b in range(len(tasks)):
                        if np.isfinite(m[a, b]):
                            ax.text(
                                b,
                                a,
                                f"{m[a, b]:.2f}",
                                ha="center",
                                va="center",
                                fontsize=7,
                                color="white" if m[a, b] < 0.6 else "black",
                            )
                ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right", fontsize=7)
                ax.set_yticks(range(len(tasks)), tasks if j == 0 else [], fontsize=7)
                ax.set_title(f"{arm}: {comp}", fontsize=9)
        if image is not None:
            fig.colorbar(image, ax=fig.axes, shrink=0.6, label="top-parameter overlap")
        return fig


class InterferenceResult(AnalysisResult):
    """Result of :func:`hetero_models.analysis.interference`.

    Tables: ``rows`` (arm, seed, corrupted task, task, clean and corrupted test metric,
    ``drop``: positive = worse with the corruption), ``summary`` (per arm, corrupted task
    and task over seeds), ``others`` (per arm, seed and corrupted task: mean drop of the
    other tasks; ``corrupted = "any"`` averages over the corrupted tasks) and
    ``others_summary``.
    """

    kind = "interference"

    def figure(self) -> Any:
        """Heatmaps of the mean drop (rows: corrupted task, columns: task), one per arm."""
        from hetero.plotting._common import new_figure

        summary = self.summary
        arms = [a for a in ARMS if any(r["arm"] == a for r in summary)]
        corrupted = list(dict.fromkeys(r["corrupted"] for r in summary))
        tasks = list(dict.fromkeys(r["task"] for r in summary))
        fig, _ = new_figure(
            1.0 + 3.4 * max(1, len(arms)), 0.9 + 0.45 * max(3, len(corrupted)), axes=False
        )
        if not summary:
            fig.add_subplot().text(0.5, 0.5, "no interference measured", ha="center")
            return fig
        values = [abs(r["mean"]) for r in summary if math.isfinite(r["mean"])]
        vmax = max(values, default=1.0) or 1.0
        image = None
        for i, arm in enumerate(arms):
            ax = fig.add_subplot(1, len(arms), i + 1)
            m = np.full((len(corrupted), len(tasks)), np.nan)
            for r in summary:
                if r["arm"] == arm:
                    m[corrupted.index(r["corrupted"]), tasks.index(r["task"])] = r["mean"]
            image = ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
            for a in range(len(corrupted)):
                for b in range(len(tasks)):
                    if np.isfinite(m[a, b]):
                        ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(corrupted)), corrupted if i == 0 else [], fontsize=7)
            ax.set_title(f"{arm}", fontsize=9)
            if i == 0:
                ax.set_ylabel("corrupted task", fontsize=8)
        if image is not None:
            fig.colorbar(image, ax=fig.axes, shrink=0.8, label="test-metric drop (+ = worse)")
        return fig


class FewShotResult(AnalysisResult):
    """Result of :func:`hetero_models.analysis.few_shot`.

    Tables: ``rows`` (seed, fraction, training samples, arm, target test metric, epochs
    run, best epoch), ``summary`` (per fraction and arm over seeds) and ``gains`` (per
    fraction: pre-trained minus alone, paired by seed; positive = pre-training helps).
    """

    kind = "few_shot"

    def figure(self) -> Any:
        """Target test metric against the fraction of training data, both arms, t intervals."""
        from hetero.plotting._common import new_figure

        fig, ax = new_figure(5.0, 3.4)
        for k, arm in enumerate(ARMS_FEW_SHOT):
            rs = sorted((r for r in self.summary if r["arm"] == arm), key=lambda r: r["fraction"])
            if not rs:
                continue
            x = np.array([r["fraction"] for r in rs]) * (1 + 0.02 * (k - 0.5))
            y = np.array([r["mean"] for r in rs])
            err = np.nan_to_num(np.array([r["half_width"] for r in rs], dtype=float))
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=arm)
        ax.set_xscale("log")
        ax.set_xlabel("fraction of the target's training data")
        target = self.config.get("target", "target")
        ax.set_ylabel(f"{target} test {self.config.get('metric', 'metric')}")
        ax.set_title(f"Few-shot: {target} (95 % t intervals)", fontsize=10)
        ax.legend(fontsize=8)
        return fig


class TransferResult(AnalysisResult):
    """Result of :func:`hetero_models.analysis.transfer`.

    Tables: ``rows`` (target, seed, config, sources, target test metric, epochs run, best
    epoch, stopped early), ``summary`` (per target and config over seeds), ``gains`` (per
    target and source count: pre-trained minus alone, paired by seed; positive = transfer
    helps; ``target = "mean"`` averages the targets per seed) and ``convergence`` (per
    target and config: runs ended by early stopping).
    """

    kind = "transfer"

    def figure(self) -> Any:
        """Gain of each pre-trained config over the target alone, per target (t intervals).

        Gains are in the target's own metric, signed so that positive means transfer helps.
        """
        from hetero.plotting._common import new_figure

        gains = self.tables.get("gains", [])
        targets = list(dict.fromkeys(r["target"] for r in gains))
        configs = list(dict.fromkeys(r["config"] for r in gains))
        metric = {r["target"]: r["metric"] for r in self.rows}
        fig, ax = new_figure(1.8 + 1.1 * max(1, len(targets)), 3.4)
        width = 0.7 / max(1, len(configs))
        for k, cfg in enumerate(configs):
            xs, ys, es = [], [], []
            for i, t in enumerate(targets):
                r = next((r for r in gains if r["target"] == t and r["config"] == cfg), None)
                if r is not None and np.isfinite(r["mean"]):
                    xs.append(i + (k - (len(configs) - 1) / 2) * width)
                    ys.append(r["mean"])
                    es.append(r["half_width"] if np.isfinite(r["half_width"]) else 0.0)
            ax.errorbar(xs, ys, yerr=es, fmt="o", capsize=3, label=cfg)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xticks(
            range(len(targets)),
            [f"{t}\n({metric[t]})" if t in metric else t for t in targets],
            fontsize=8,
        )
        ax.set_ylabel("gain over target alone")
        ax.set_title("Transfer to a held-out task (95 % t intervals)", fontsize=10)
        ax.legend(fontsize=7)
        return fig


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV text (columns: the union of the keys in first-seen order; NaN/None empty)."""
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        out = {}
        for c in cols:
            v = r.get(c)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out[c] = ""
            elif isinstance(v, (list, tuple)):
                out[c] = "+".join(str(x) for x in v)
            else:
                out[c] = v
        writer.writerow(out)
    return buf.getvalue()


def read_result(path: str | os.PathLike) -> AnalysisResult:
    """Read a result written by :meth:`AnalysisResult.write` (its JSON file, or the folder
    holding exactly one ``<kind>.json``)."""
    path = Path(path)
    if path.is_dir():
        found = [path / f"{k}.json" for k in ANALYSIS_KINDS if (path / f"{k}.json").is_file()]
        if len(found) != 1:
            raise HeteroError(
                "expected one analysis result (overlap.json, interference.json, "
                f"few_shot.json or transfer.json), found {len(found)}",
                source=path,
            )
        path = found[0]
    result = AnalysisResult.from_dict(read_json(path), source=path)
    result.source = path
    return result


def read_analyses(path: str | os.PathLike) -> list[AnalysisResult]:
    """Every analysis result at ``path`` (``hetero report --analysis``), checked.

    Parameters
    ----------
    path : path-like
        A result JSON file, or an output folder of ``hetero analyze`` holding one or more
        of ``overlap.json``, ``interference.json``, ``few_shot.json`` and
        ``transfer.json`` (read in that order).

    Returns
    -------
    list of AnalysisResult
        Each with ``source`` set to its file.

    Raises
    ------
    HeteroError
        A missing path, a folder without a result, or a result that is not valid JSON or
        lacks what its section shows (one line naming the file).
    """
    path = Path(path)
    if not path.exists():
        raise HeteroError("analysis result not found (expected a `hetero analyze` -o folder)",
                          source=path)  # fmt: skip
    if path.is_dir():
        files = [path / f"{k}.json" for k in ANALYSIS_KINDS if (path / f"{k}.json").exists()]
        if not files:
            raise HeteroError(
                "no analysis result here (expected overlap.json, interference.json, "
                "few_shot.json or transfer.json, as `hetero analyze` writes them)",
                source=path,
            )
    else:
        files = [path]
    results = []
    for file in files:
        result = read_result(file)
        try:  # a result the section cannot show is refused now, naming its file
            analysis_blocks(result)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise HeteroError(
                f"malformed {result.kind} result: {_why(exc)} (expected the JSON "
                "`hetero analyze` writes)",
                source=file,
            ) from None
        results.append(result)
    return results


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "a field is missing"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


# --------------------------------------------------------------------------- report section

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


def section_figure(
    result: AnalysisResult,
    name: str | None = None,
    *,
    formats: str | Sequence[str] = "png",
    dpi: int = 110,
) -> Figure:
    """The result's figure as a report :class:`~hetero.report.model.Figure` named ``name``
    (default ``analysis_<kind>``), in each of ``formats``.

    Raises
    ------
    HeteroError
        The tables cannot be drawn (a malformed result file, named).
    """
    try:
        files = result.figure_files(formats, dpi=dpi)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise HeteroError(
            f"malformed {result.kind} result: cannot draw its figure ({_why(exc)})",
            source=result.source,
        ) from None
    return Figure(name or f"analysis_{result.kind}", _TITLES[result.kind], files)


def render_section(
    result: AnalysisResult,
    format: str = "markdown",
    *,
    level: int = 2,
    figure: bool = True,
    figure_dir: str = ".",
) -> str:
    """One analysis as a Markdown section or an HTML fragment (the report's renderers).

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

    Returns
    -------
    str
    """
    from hetero.report.html import render_blocks_html
    from hetero.report.markdown import render_blocks_markdown

    if format not in ("markdown", "html"):
        raise HeteroError(f"format must be 'markdown' or 'html', got {format!r}")
    name = result.kind
    blocks = analysis_blocks(result, level=level, figure_name=name if figure else None)
    if format == "markdown":
        figs = {name: Figure(name, _TITLES[name], {"png": b""})} if figure else {}
        return "\n\n".join(render_blocks_markdown(blocks, figs, figure_dir=figure_dir)) + "\n"
    figs = {name: section_figure(result, name)} if figure else {}
    return "\n".join(render_blocks_html(blocks, figs)) + "\n"
