"""``hetero measure`` (train and transfer to measure heterogeneity) and ``hetero runs``."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hetero.cli._common import EXIT_FAILED, TrustPickleOpt, add_command, parse_seeds

__all__ = ["register"]


def _parse_config(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they are JSON (numbers, booleans)."""
    from hetero.errors import LearnerError

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise LearnerError(f"--learner-option {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


class _Progress:
    """Rich progress bar with counts and ETA on stderr (silent when not a terminal + quiet)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None
        self.total = 0

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("runs", total=None, status="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def start(self, total: int) -> None:
        self.total += total
        if self.progress is not None:
            self.progress.update(self.task, total=self.total)

    def event(self, ev: Any) -> None:
        self.counts = getattr(self, "counts", {})
        self.counts[ev.status] = self.counts.get(ev.status, 0) + 1
        if self.progress is None or ev.status == "retry":
            return
        status = " ".join(
            f"{k} {v}"
            for k, v in sorted(self.counts.items())
            if k in ("cached", "failed", "skipped")
        )
        self.progress.update(self.task, advance=1, status=status)


def _summary_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    s = result.summary
    from rich import box

    from hetero.measure.quality import describe

    for level, ctl in (s.get("controls") or {}).items():  # the verdict comes first
        console.print(f"{level}: {ctl['statement']}", style="bold" if ctl["passed"] else "bold red")

    table = Table(
        title=f"hetero measure: {s['suite']}",
        caption="pairs: measured/all ordered pairs; compl: completed entries; signif: 95 % t "
        "interval of T excludes 0 (df = seeds - 1); conv: scratch runs stopped by patience "
        "before the epoch cap (transfers, capped by design, not counted); seeds: "
        "transfer/baseline; rho_d, rho_c, ARI: split-half test-retest of d, of the double-"
        "centred d (main effects removed) and of the plan; stab: plan stability over seeds",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    # level, units, measured/all ordered pairs, completed entries, significant entries,
    # converged runs, transfer/baseline seeds, split-half Spearman of d, plan ARI between
    # the halves, plan stability over seed bootstraps
    for col in ("level", "M", "pairs", "compl", "signif", "conv", "seeds", "rho_d", "rho_c",
                "ARI", "stab"):  # fmt: skip
        table.add_column(col, no_wrap=True)
    for level, info in s["levels"].items():
        rt = info.get("retest") or {}
        rho = rt.get("spearman_d")
        rho_c = rt.get("spearman_d_centred")
        ari = rt.get("plan_ari")
        stab = info.get("stability") or {}
        scratch = (info.get("convergence") or {}).get("scratch") or {}
        conv = scratch.get("fraction") if scratch else info.get("converged_fraction")
        table.add_row(
            level,
            str(info["units"]),
            f"{info['measured_pairs']}/{info['ordered_pairs']}",
            str(info["entries_completed"]),
            str(info["significant_entries"]),
            "-" if conv is None else f"{100 * conv:.0f}%",
            f"{len(info['transfer_seeds'])}/{len(info['baseline_seeds'])}",
            "-" if rho is None or rho != rho else f"{rho:.2f}",
            "-" if rho_c is None or rho_c != rho_c else f"{rho_c:.2f}",
            "-" if ari is None else f"{ari:.2f}",
            "-" if not stab else f"{stab['mean_stability']:.2f}",
        )
    console.print(table)
    r = s["runs"]
    console.print(
        f"runs: {r['trained']} trained, {r['cached']} reused from the store, {r['failed']} failed, "
        f"{r['skipped']} skipped ({r['retried']} retries of failed runs, "
        f"{r.get('gate_retried', 0)} retrainings by the quality gate); "
        f"wall time {r['wall_time']:.1f} s"
    )
    console.print(f"learner: {s['learner']}   estimator: {s['estimator']['name']}")
    console.print(f"reliability: {s['reliability']}")
    console.print(f"validity: {s['validity']}")
    gate_text = describe(s.get("quality_gate"))
    if gate_text:
        console.print(
            f"quality gate: {gate_text}; transfers from them measure little", style="bold red"
        )
    for f in s["failures"][:5]:
        console.print(f"failed: {f['unit']}: {f['error']}")
    if result.plan is None:
        console.print("no plan: some entries could not be measured (see failures)")
    if result.out_dir is not None:
        console.print(f"written to {result.out_dir}")


def measure_cmd(
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Output directory (resumable).", metavar="DIR")
    ],
    suite: Annotated[
        str,
        typer.Argument(
            help="Suite YAML file or built-in suite name (see hetero datasets list).",
            metavar="SUITE",
        ),
    ] = "mini",
    learner: Annotated[
        str | None,
        typer.Option(
            "--learner",
            help="Learner name, or MODULE:CLASS for a Learner subclass in a module importable "
            "from the current directory or PYTHONPATH (default: highmmt if available, else "
            "reference).",
            metavar="NAME",
        ),
    ] = None,
    learner_option: Annotated[
        list[str] | None,
        typer.Option(
            "--learner-option",
            "-L",
            help="Learner config KEY=VALUE (repeatable).",
            metavar="KEY=VALUE",
        ),
    ] = None,
    estimator: Annotated[
        str | None,
        typer.Option(
            "--estimator",
            help="logme | ridge | frozen | frozen_short | frozen_fresh | finetune | budgeted "
            "(default: logme, a closed-form probe of the frozen source body: the only one "
            "passing the twin controls with double-centred reliability >= 0.8; "
            "docs/concepts.md).",
            metavar="NAME",
        ),
    ] = None,
    interactions: Annotated[
        bool | None,
        typer.Option(
            "--interactions/--no-interactions",
            help="Measure interaction units too (default: when the learner supports them).",
        ),
    ] = None,
    fraction: Annotated[
        float | None,
        typer.Option(
            "--fraction",
            help="Measure this fraction of ordered pairs, complete the rest.",
            metavar="F",
        ),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            help="Measure this many ordered pairs per level, complete the rest.",
            metavar="N",
        ),
    ] = None,
    seeds: Annotated[
        str, typer.Option("--seeds", help="Transfer seeds per entry, or 'auto'.", metavar="N|AUTO")
    ] = "2",
    baseline_seeds: Annotated[
        int | None,
        typer.Option(
            "--baseline-seeds", help="Seeds per scratch baseline (default 2x --seeds).", metavar="N"
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: one per core).", metavar="N"),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor", help="serial | process (one worker per core) | dask.", metavar="NAME"
        ),
    ] = "process",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="dask scheduler address (default: a local cluster).",
            metavar="ADDRESS",
        ),
    ] = None,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", help="Epoch cap.", metavar="N")
    ] = None,
    unimodal_groups: Annotated[
        int | None,
        typer.Option(
            "--unimodal-groups",
            help="Unimodal groups of the plan (default: largest gap).",
            metavar="K",
        ),
    ] = None,
    crossmodal_groups: Annotated[
        int | None,
        typer.Option(
            "--crossmodal-groups",
            help="Crossmodal groups of the plan (default: largest gap).",
            metavar="K",
        ),
    ] = None,
    retest: Annotated[
        bool, typer.Option("--retest", help="Split-half test-retest report.")
    ] = False,
    keep_head: Annotated[
        bool, typer.Option("--keep-head", help="Keep the head on transfers within a task.")
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            help="Retries of a failed run; also how often a scratch body that fails the "
            "quality gate is retrained from another seed.",
            metavar="N",
        ),
    ] = 2,
    max_runs: Annotated[
        int | None,
        typer.Option(
            "--max-runs",
            help="With --seeds auto: stop adding seeds after this many runs.",
            metavar="N",
        ),
    ] = None,
    max_time: Annotated[
        float | None,
        typer.Option(
            "--max-time",
            help="With --seeds auto: stop adding seeds after SECONDS.",
            metavar="SECONDS",
        ),
    ] = None,
    design_seed: Annotated[
        int, typer.Option("--design-seed", help="Seed of the sampled design.", metavar="SEED")
    ] = 0,
    completion: Annotated[
        str,
        typer.Option(
            "--completion",
            metavar="NAME",
            help="Completer of the unmeasured entries with --fraction/--budget: symmetric "
            "(default), additive or auto (hetero complete --method lists all).",
        ),
    ] = "symmetric",
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Write figures/ with the outputs.")
    ] = True,
    figure_format: Annotated[
        list[str] | None,
        typer.Option(
            "--figure-format",
            help="Format of figures/: png (default), svg or pdf; repeatable or "
            "comma-separated (png,pdf).",
            metavar="FMT",
        ),
    ] = None,
    dpi: Annotated[
        int, typer.Option("--dpi", help="Resolution of PNG figures (dots per inch).", metavar="N")
    ] = 150,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder of local dataset copies for path loaders (default $HETERO_DATA_DIR).",
            metavar="DIR",
        ),
    ] = None,
    controls: Annotated[
        bool,
        typer.Option(
            "--controls",
            help="Add a relabelled twin (must be nearest) and a label-shuffled copy (must be "
            "far) of every task, measured against their own units only; report the verdict.",
        ),
    ] = False,
    controls_for: Annotated[
        list[str] | None,
        typer.Option(
            "--controls-for",
            metavar="TASK",
            help="Controls for this task only (repeatable; implies --controls).",
        ),
    ] = None,
    trust_pickle: TrustPickleOpt = False,
) -> None:
    """Train and transfer to measure heterogeneity; write matrices, checks and a plan."""
    from hetero.datasets import get_suite
    from hetero.learners import default_learner_name
    from hetero.measure import MeasureConfig, measure

    seeds_val = parse_seeds(seeds)
    name = learner or default_learner_name()
    # every setting validated here, every input read, before anything trains
    cfg = MeasureConfig(
        learner=name, learner_config=_parse_config(learner_option or []), estimator=estimator,
        interactions=interactions, fraction=fraction, budget=budget, seeds=seeds_val,
        baseline_seeds=baseline_seeds, executor=executor, workers=workers,
        scheduler=scheduler, max_epochs=max_epochs, retries=retries, keep_head=keep_head,
        unimodal_groups=unimodal_groups, crossmodal_groups=crossmodal_groups, retest=retest,
        max_runs=max_runs, max_time=max_time, design_seed=design_seed, completion=completion,
        figures=figures,
        controls=tuple(controls_for) if controls_for else controls,
    )  # fmt: skip
    # an unknown or misconfigured learner, or one refusing the estimator, fails before output
    est = cfg.build_estimator(cfg.build_learner()[2])
    from hetero.plotting._common import check_dpi, check_formats

    formats = check_formats(figure_format or ["png"])
    check_dpi(dpi)
    suite_obj = get_suite(suite, data_dir=data_dir, trust_pickle=trust_pickle)
    if not quiet:
        why = (
            ""
            if learner
            else " (default"
            + (": torch/hetero_models not available)" if name == "reference" else ")")
        )
        from hetero.measure.estimators import DEFAULT_ESTIMATOR

        est_why = (
            ""
            if estimator
            else " (default)"
            if est.name == DEFAULT_ESTIMATOR
            else f" (default for a learner without the {DEFAULT_ESTIMATOR} mode)"
        )
        typer.echo(f"learner: {name}{why}; estimator: {est.name}{est_why}", err=True)
    with _Progress(enabled=not quiet) as bar:
        result = measure(
            suite_obj, out, cfg, on_event=bar.event, on_start=bar.start,
            figure_formats=formats, dpi=dpi,
        )  # fmt: skip
    if not quiet:
        _summary_table(result)
        from hetero.report.stale import is_stale

        if is_stale(out):
            typer.echo(
                f"{out / 'report.html'} is now stale (marked at its top): run hetero report "
                f"{out} to refresh it",
                err=True,
            )
    if result.stats.failed:
        typer.echo(
            f"error: {result.stats.failed} runs failed past their retries, so the matrices "
            f"have gaps (hetero runs {out} lists them); rerun the same command to retry them",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED)


def runs_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Output directory of `hetero measure`.", metavar="DIR")
    ],
    as_csv: Annotated[bool, typer.Option("--csv", help="Export all runs as CSV.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Write the CSV here instead of stdout.", metavar="FILE"),
    ] = None,
) -> None:
    """List the runs stored in DIR/runs.sqlite (or export them with --csv)."""
    from hetero._io import atomic_write_text, check_output_file
    from hetero.measure.store import RUN_COLUMNS, RunStore

    if output is not None:
        check_output_file(output)
    path = directory / "runs.sqlite" if directory.is_dir() else directory
    with RunStore(path, readonly=True) as store:
        records = store.records()
    if as_csv or output is not None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(RUN_COLUMNS)
        for rec in records:  # finished as ISO 8601 UTC, no mode for scratch runs
            writer.writerow(rec.csv_cells())
        if output is not None:
            atomic_write_text(output, buf.getvalue())
        else:
            sys.stdout.write(buf.getvalue())
        return
    header = ("key", "status", "kind", "unit", "source", "seed", "mode", "val_loss",
              "metric", "epochs", "conv", "time_s", "attempts")  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    for r in records:
        rows.append(
            (
                r.key[:10],
                r.status,
                r.kind,
                r.unit,
                r.source or "-",
                str(r.seed),
                r.mode if r.kind == "transfer" else "-",
                "-" if r.val_loss is None else f"{r.val_loss:.4f}",
                "-" if r.val_metric is None else f"{r.val_metric:.3f}",
                "-" if r.epochs is None else str(r.epochs),
                "-" if r.converged is None else ("yes" if r.converged else "no"),
                "-" if r.wall_time is None else f"{r.wall_time:.2f}",
                str(r.attempts),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    typer.echo(f"{len(records)} runs in {path}")
    for row in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def register(app: typer.Typer) -> None:
    """Add ``measure`` and ``runs`` to the ``hetero`` app."""
    add_command(app, "measure", measure_cmd)
    add_command(app, "runs", runs_cmd)
