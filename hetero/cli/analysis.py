"""Analysis commands: ``hetero check``, ``complete``, ``plan``, ``plot``.

Every command reads and validates all its inputs before writing anything, and writes
atomically, so a failed command leaves no (partial) output file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hetero._io import atomic_write_bytes, check_output_dir, check_output_file
from hetero.cli._common import add_command
from hetero.errors import HeteroError

__all__ = ["register"]


def _read_matrix(path: Path):
    from hetero.matrix import HeterogeneityMatrix

    return HeterogeneityMatrix.read(path)


def check(
    matrix: Annotated[Path, typer.Argument(metavar="MATRIX", help="Distance matrix JSON.")],
    c: Annotated[
        float,
        typer.Option("--c", metavar="C", help="Constant of the relaxed triangle inequality."),
    ] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    n_worst: Annotated[
        int, typer.Option("--worst", metavar="N", help="How many violating triples to list.")
    ] = 10,
    n_perm: Annotated[
        int,
        typer.Option(
            "--null",
            metavar="N",
            min=0,
            help="Shuffles of the permutation and main-effects nulls (0: no null models).",
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed of the nulls.")] = 0,
) -> None:
    """Check symmetry, non-negativity and the (relaxed) triangle inequality, each statistic
    next to its null models (a complete matrix)."""
    from hetero.metric import check_metric
    from hetero.nulls import null_models

    m = _read_matrix(matrix)
    report = check_metric(m, c=c, n_worst=n_worst)
    null = null_models(m, c=c, n_perm=n_perm, seed=seed) if n_perm > 0 else None
    if as_json:
        out = report.to_dict()
        if null is not None:
            out["null"] = null.to_dict()
        typer.echo(json.dumps(out, allow_nan=False))
    else:
        typer.echo(report.summary())
        if null is not None:
            typer.echo(null.summary())


def complete(
    matrix: Annotated[
        Path, typer.Argument(metavar="MATRIX", help="Matrix JSON with null entries.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--out", metavar="FILE", help="Completed matrix JSON to write.")
    ],
    rank: Annotated[
        int | None,
        typer.Option("--rank", metavar="R", help="Rank (default: chosen on held-out entries)."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            metavar="NAME",
            help="Completer: symmetric (default; ours), softimpute, iterativesvd, "
            "matrixfactorization or nuclearnorm (the last four need the completion extra).",
        ),
    ] = "symmetric",
    seed: Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed of the completer.")] = 0,
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


def plan(
    matrix: Annotated[
        Path,
        typer.Argument(metavar="MATRIX", help="Modality distance matrix JSON (complete)."),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--out", metavar="FILE", help="Plan JSON to write.")
    ],
    interaction: Annotated[
        Path | None,
        typer.Option(
            "--interaction", metavar="MATRIX", help="Interaction distance matrix JSON (complete)."
        ),
    ] = None,
    unimodal_groups: Annotated[
        int | None,
        typer.Option(
            "--unimodal-groups", metavar="K", help="Unimodal groups (default: largest gap)."
        ),
    ] = None,
    crossmodal_groups: Annotated[
        int | None,
        typer.Option(
            "--crossmodal-groups", metavar="K", help="Crossmodal groups (default: largest gap)."
        ),
    ] = None,
    total_groups: Annotated[
        int | None,
        typer.Option("--total-groups", metavar="K", help="Total budget split between both sides."),
    ] = None,
    method: Annotated[
        str,
        typer.Option("--method", metavar="LINKAGE", help="average (default), complete or single."),
    ] = "average",
    remove_main_effects: Annotated[
        bool,
        typer.Option(
            "--remove-main-effects",
            help="Cluster d_ij - e_i - e_j (per-unit main effects removed), so that groups "
            "follow relations between units rather than which units are far from all.",
        ),
    ] = False,
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
        remove_main_effects=remove_main_effects,
    )
    result.write(output)
    typer.echo(
        f"{result.n_unimodal_groups} unimodal and {result.n_crossmodal_groups} crossmodal"
        f" groups -> {output}"
    )


def plot(
    matrix: Annotated[Path, typer.Argument(metavar="MATRIX", help="Distance matrix JSON.")],
    output: Annotated[
        Path, typer.Option("-o", "--out", metavar="DIR", help="Directory for the PNG files.")
    ],
    plan_path: Annotated[
        Path | None,
        typer.Option("--plan", metavar="PLAN", help="Plan JSON (group order and colours)."),
    ] = None,
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
    for name, func in (("check", check), ("complete", complete), ("plan", plan), ("plot", plot)):
        add_command(app, name, func)
