"""Analysis commands: ``hetero check``, ``complete``, ``plan``, ``plot``.

Every command reads and validates all its inputs before writing anything, and writes
atomically, so a failed command leaves no (partial) output file.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hetero._io import atomic_write_bytes, check_output_dir, check_output_file
from hetero.cli._common import handle_errors
from hetero.errors import HeteroError

__all__ = ["register"]


def _read_matrix(path: Path):
    from hetero.matrix import HeterogeneityMatrix

    return HeterogeneityMatrix.read(path)


@handle_errors
def check(
    matrix: Path = typer.Argument(..., help="Distance matrix JSON."),
    c: float = typer.Option(5.0, "--c", help="Constant of the relaxed triangle inequality."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    n_worst: int = typer.Option(10, "--worst", help="How many violating triples to list."),
) -> None:
    """Check symmetry, non-negativity and the (relaxed) triangle inequality."""
    from hetero.metric import check_metric

    report = check_metric(_read_matrix(matrix), c=c, n_worst=n_worst)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), allow_nan=False))
    else:
        typer.echo(report.summary())


@handle_errors
def complete(
    matrix: Path = typer.Argument(..., help="Matrix JSON with null entries."),
    output: Path = typer.Option(..., "-o", "--output", help="Completed matrix JSON to write."),
    rank: int | None = typer.Option(None, "--rank", help="Rank (default: chosen by CV)."),
    method: str = typer.Option("symmetric", "--method", help="Completion method."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Fill the unmeasured (null) entries by low-rank completion."""
    from hetero.completion import complete_matrix, get_completer

    get_completer(method)  # unknown method fails before any work
    check_output_file(output)
    if rank is not None and rank < 1:
        raise HeteroError(f"--rank: expected a positive integer, got {rank}")
    m = _read_matrix(matrix)
    result = complete_matrix(m, method=method, rank=rank, seed=seed)
    result.provenance["config"]["input_file"] = str(matrix)
    result.write(output)
    typer.echo(
        f"completed {int((~m.observed).sum())} entries with {method!r}"
        f" (rank {result.provenance['config']['rank']}) -> {output}"
    )


@handle_errors
def plan(
    matrix: Path = typer.Argument(..., help="Modality distance matrix JSON (complete)."),
    output: Path = typer.Option(..., "-o", "--output", help="Plan JSON to write."),
    interaction: Path | None = typer.Option(
        None, "--interaction", help="Interaction distance matrix JSON (complete)."
    ),
    unimodal_groups: int | None = typer.Option(
        None, "--unimodal-groups", help="Number of unimodal groups (default: largest gap)."
    ),
    crossmodal_groups: int | None = typer.Option(
        None, "--crossmodal-groups", help="Number of crossmodal groups (default: largest gap)."
    ),
    total_groups: int | None = typer.Option(
        None, "--total-groups", help="Total budget split between both sides."
    ),
    method: str = typer.Option("average", "--method", help="average | complete | single"),
) -> None:
    """Cluster heterogeneity matrices into a parameter-sharing plan."""
    from hetero.grouping import make_plan

    check_output_file(output)
    modality = _read_matrix(matrix)
    inter = _read_matrix(interaction) if interaction is not None else None
    result = make_plan(
        modality,
        inter,
        unimodal_groups=unimodal_groups,
        crossmodal_groups=crossmodal_groups,
        total_groups=total_groups,
        method=method,
    )
    result.write(output)
    typer.echo(
        f"{result.n_unimodal_groups} unimodal and {result.n_crossmodal_groups} crossmodal"
        f" groups -> {output}"
    )


@handle_errors
def plot(
    matrix: Path = typer.Argument(..., help="Distance matrix JSON."),
    output: Path = typer.Option(..., "-o", "--output", help="Directory for the PNG files."),
    plan_path: Path | None = typer.Option(None, "--plan", help="Plan JSON (group boundaries)."),
) -> None:
    """Write heatmap, dendrogram, clustermap, spectrum and graph figures as PNG."""
    from hetero.plan import GroupingPlan
    from hetero.plotting import render_all

    check_output_dir(output, create=False)
    m = _read_matrix(matrix)
    grouping = GroupingPlan.read(plan_path) if plan_path is not None else None
    if grouping is not None:
        grouping.validate_matrix(m)
    images = render_all(m, grouping)  # everything rendered in memory first
    for name, data in images.items():
        atomic_write_bytes(output / name, data)
    typer.echo(f"wrote {', '.join(images)} -> {output}")


def register(app: typer.Typer) -> None:
    """Add the analysis commands to the ``hetero`` app."""
    app.command("check")(check)
    app.command("complete")(complete)
    app.command("plan")(plan)
    app.command("plot")(plot)
