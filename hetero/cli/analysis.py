"""Analysis commands: ``hetero check``, ``complete``, ``plan``, ``plot``.

Every command reads and validates all its inputs before writing anything, and writes
atomically, so a failed command leaves no (partial) output file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hetero._io import atomic_write_bytes, atomic_write_text, check_output_dir, check_output_file
from hetero.cli._common import Dpi, FigureFormats, add_command, figure_options
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
            help="Completer: symmetric (default; ours), additive (main effects plus a "
            "low-rank residual; ours), auto (the better of the two on held-out entries), "
            "softimpute, iterativesvd, matrixfactorization or nuclearnorm (the last four "
            "need the completion extra).",
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


def _parse_sweep(text: str) -> tuple[int, int] | None:
    """``KMIN:KMAX`` -> (KMIN, KMAX); ``all`` -> None."""
    if text.strip().lower() == "all":
        return None
    try:
        lo_text, hi_text = text.split(":")
        lo, hi = int(lo_text), int(hi_text)
    except ValueError:
        raise HeteroError(
            f"--sweep: expected KMIN:KMAX (e.g. 2:9) or 'all', got {text!r}"
        ) from None
    if not 1 <= lo <= hi:
        raise HeteroError(f"--sweep: expected 1 <= KMIN <= KMAX, got {text!r}")
    return lo, hi


def _plan_checks(
    matrix: Path | None,
    suite: str | None,
    *,
    sweep: str | None,
    share: bool,
    grouping_options: dict[str, bool],
) -> None:
    """One-line errors for option combinations that make no sense (before any work)."""
    if matrix is None and suite is None:
        raise HeteroError(
            "give MATRIX (a distance matrix) or --suite SUITE (with --share-all/--share-none)"
        )
    if matrix is not None and suite is not None:
        raise HeteroError("give MATRIX or --suite, not both")
    if suite is not None and (not share or sweep is not None):
        raise HeteroError(
            "--suite only names the units of --share-all/--share-none plans; grouping "
            "(and --sweep) needs MATRIX"
        )
    counts = [o for o in ("--unimodal-groups", "--crossmodal-groups", "--total-groups")
              if grouping_options[o]]  # fmt: skip
    if sweep is not None and counts:
        raise HeteroError(f"--sweep chooses the number of groups: drop {', '.join(counts)}")
    if share and sweep is None:
        given = [o for o, on in grouping_options.items() if on]
        if given:
            raise HeteroError(
                f"--share-all/--share-none write fixed plans: drop {', '.join(given)} "
                "(or add --sweep to group as well)"
            )


def _side_summary(plan) -> dict:
    """Row of sweep.csv: groups, sizes, objective per side, singletons, optimality."""
    part = (plan.provenance or {}).get("partition") or {}
    sides = [(side, part[side]) for side in ("unimodal", "crossmodal") if side in part]
    row: dict = {f"{side}_groups": len(info["sizes"]) for side, info in sides}
    row.update({f"{side}_sizes": "-".join(map(str, info["sizes"])) for side, info in sides})
    row.update({f"{side}_objective": info["objective"] for side, info in sides})
    row["singletons"] = sum(info["singletons"] for _, info in sides)
    if any(info.get("search") != "linkage" for _, info in sides):
        row["optimal"] = all(bool(info.get("optimal")) for _, info in sides)
    return row


#: Short headers of the printed sweep table.
_SHORT = {
    "unimodal_groups": "uni",
    "crossmodal_groups": "cross",
    "unimodal_sizes": "uni sizes",
    "crossmodal_sizes": "cross sizes",
    "unimodal_objective": "W uni",
    "crossmodal_objective": "W cross",
}


def _table(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols and c != "file"]

    def cell(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    head = [_SHORT.get(c, c) for c in cols]
    cells = [[cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _csv(rows: list[dict]) -> str:
    import csv
    import io

    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def plan(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            metavar="PATH",
            help="Plan JSON to write; a folder with --sweep or with both --share-all and "
            "--share-none.",
        ),
    ],
    matrix: Annotated[
        Path | None,
        typer.Argument(
            metavar="[MATRIX]",
            help="Modality distance matrix JSON (complete); the transfer matrix "
            "(modality_transfer.json) with --normalise.",
        ),
    ] = None,
    interaction: Annotated[
        Path | None,
        typer.Option(
            "--interaction",
            metavar="MATRIX",
            help="Interaction distance matrix JSON (complete; the transfer matrix with "
            "--normalise).",
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
            help="Group on d_ij - e_i - e_j (per-unit main effects removed), so that groups "
            "follow relations between units rather than which units are far from all.",
        ),
    ] = False,
    normalise: Annotated[
        bool,
        typer.Option(
            "--normalise",
            help="Group on baseline-normalised distances (transfer divided by the target's "
            "from-scratch loss); MATRIX and --interaction are then the transfer matrices "
            "hetero measure wrote (<level>_transfer.json).",
        ),
    ] = False,
    search: Annotated[
        str,
        typer.Option(
            "--search",
            metavar="NAME",
            help="linkage (default): cut the linkage tree; exact, local or auto: the groups "
            "with the least sum of within-group distances (exact program, multi-start local "
            "search, or exact up to 12 units).",
        ),
    ] = "linkage",
    min_group_size: Annotated[
        int,
        typer.Option(
            "--min-group-size",
            metavar="M",
            help="Smallest group of either side (needs --search exact, local or auto).",
        ),
    ] = 1,
    seed: Annotated[
        int, typer.Option("--seed", metavar="SEED", help="Seed of the local search.")
    ] = 0,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            metavar="KMIN:KMAX",
            help="One plan per total number of groups K (plan_kK.json in the -o folder) and "
            "sweep.csv (objective, sizes, singletons per K); 'all' for every K.",
        ),
    ] = None,
    share_all: Annotated[
        bool,
        typer.Option("--share-all", help="Write the share-all plan (one group per side)."),
    ] = False,
    share_none: Annotated[
        bool,
        typer.Option(
            "--share-none",
            help="Write the share-none plan (one group per unit and interaction unit).",
        ),
    ] = False,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            metavar="SUITE",
            help="Suite YAML or built-in name whose units the --share-all/--share-none plans "
            "cover (instead of MATRIX).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Folder of local dataset copies for --suite (default $HETERO_DATA_DIR).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Group heterogeneity matrices into a parameter-sharing plan (or one plan per number of
    groups with --sweep); write share-all and share-none plans."""
    import warnings

    from hetero.errors import HeteroWarning
    from hetero.grouping import SEARCHES, make_plan
    from hetero.plan import GroupingPlan

    say = (lambda *_: None) if quiet else typer.echo
    share = share_all or share_none
    _plan_checks(
        matrix, suite, sweep=sweep, share=share,
        grouping_options={
            "--unimodal-groups": unimodal_groups is not None,
            "--crossmodal-groups": crossmodal_groups is not None,
            "--total-groups": total_groups is not None,
            "--search": search != "linkage",
            "--min-group-size": min_group_size != 1,
            "--method": method != "average",
            "--remove-main-effects": remove_main_effects,
            "--normalise": normalise,
        },
    )  # fmt: skip
    if search not in SEARCHES:
        raise HeteroError(f"--search: expected one of {', '.join(SEARCHES)}, got {search!r}")
    if min_group_size < 1:
        raise HeteroError(f"--min-group-size: expected a positive integer, got {min_group_size}")
    if search == "linkage" and min_group_size > 1:
        raise HeteroError("--min-group-size needs --search exact, local or auto")
    k_range = _parse_sweep(sweep) if sweep is not None else None
    many = sweep is not None or (share_all and share_none)
    if many:
        check_output_dir(output, create=False)
    else:
        check_output_file(output)

    plans: dict[str, GroupingPlan] = {}  # file name (or "" for -o itself) -> plan
    rows: list[dict] = []
    if suite is not None:
        from hetero.datasets import get_suite

        suite_obj = get_suite(suite, data_dir=data_dir)
        units = [u.label for u in suite_obj.units()]
        inter_units = [u.label for u in suite_obj.interaction_units()]
    else:
        assert matrix is not None
        modality = _read_matrix(matrix)
        inter = _read_matrix(interaction) if interaction is not None else None
        units = list(modality.labels)
        inter_units = list(inter.labels) if inter is not None else []
        if share_none and inter is None:
            warnings.warn(
                "--share-none without --interaction: the plan has no crossmodal groups, so "
                "all interaction units would share one",
                HeteroWarning,
                stacklevel=1,
            )
        options: dict[str, Any] = {
            "method": method, "remove_main_effects": remove_main_effects, "search": search,
            "min_group_size": min_group_size, "normalise": normalise, "seed": seed,
        }  # fmt: skip
        if sweep is not None:
            n_total = modality.n + (inter.n if inter is not None else 0)
            sides = 1 + (inter is not None)
            lo, hi = k_range if k_range is not None else (sides, n_total)
            if k_range is None and min_group_size > 1:
                hi = modality.n // min_group_size + (
                    inter.n // min_group_size if inter is not None else 0
                )
            for k in range(lo, hi + 1):
                try:
                    p = make_plan(modality, inter, total_groups=k, **options)
                except HeteroError as exc:
                    raise HeteroError(f"--sweep K={k}: {exc.detail}", source=exc.source) from None
                name = f"plan_k{k}.json"
                plans[name] = p
                rows.append({"k": k, **_side_summary(p), "file": name})
        elif not share:
            p = make_plan(
                modality,
                inter,
                unimodal_groups=unimodal_groups,
                crossmodal_groups=crossmodal_groups,
                total_groups=total_groups,
                **options,
            )
            plans[""] = p
    if share_all:
        plans["share_all.json" if many else ""] = GroupingPlan.share_all_labels(units, inter_units)
    if share_none:
        plans["share_none.json" if many else ""] = GroupingPlan.share_none_labels(
            units, inter_units
        )

    if many:
        check_output_dir(output)  # created now that every plan is computed
    for name, p in plans.items():
        p.write(output / name if name else output)
    if not many and output.name == "plan.json" and (output.parent / "measure.json").is_file():
        # a measurement's plan was replaced: its report (if any) no longer shows this plan
        from hetero.report.stale import mark_stale

        if mark_stale(output.parent, "hetero plan wrote a new plan.json"):
            say(f"marked {output.parent}/report.html stale: run hetero report again")
    if rows:
        atomic_write_text(output / "sweep.csv", _csv(rows))
        say(_table(rows))
    for name, p in plans.items():
        if name.startswith("plan_k"):
            continue
        say(
            f"{p.n_unimodal_groups} unimodal and {p.n_crossmodal_groups} crossmodal groups"
            f" -> {output / name if name else output}"
        )
    if rows:
        say(f"{len(rows)} plans and sweep.csv -> {output}")


def plot(
    matrix: Annotated[
        Path,
        typer.Argument(
            metavar="MATRIX",
            help="Distance matrix JSON, or a transfer matrix JSON (signed heatmap; the other "
            "figures from its distances).",
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--out", metavar="DIR", help="Directory for the figure files.")
    ],
    plan_path: Annotated[
        Path | None,
        typer.Option("--plan", metavar="PLAN", help="Plan JSON (group order and colours)."),
    ] = None,
    formats: FigureFormats = None,
    dpi: Dpi = 150,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Write heatmap, dendrogram, clustermap, spectrum and graph figures (PNG, SVG or PDF)."""
    from hetero.plan import GroupingPlan
    from hetero.plotting import render_all

    fmts, dpi = figure_options(formats, dpi)
    check_output_dir(output, create=False)
    m = _read_matrix(matrix)
    grouping = GroupingPlan.read(plan_path) if plan_path is not None else None
    if grouping is not None:
        grouping.validate_matrix(m)
    images = render_all(m, grouping, formats=fmts, dpi=dpi)  # all rendered in memory first
    for name, data in images.items():
        atomic_write_bytes(output / name, data)
    if not quiet:
        typer.echo(f"wrote {', '.join(images)} -> {output}")


def register(app: typer.Typer) -> None:
    """Add the analysis commands to the ``hetero`` app."""
    for name, func in (("check", check), ("complete", complete), ("plan", plan), ("plot", plot)):
        add_command(app, name, func)
