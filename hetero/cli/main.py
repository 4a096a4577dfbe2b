"""Entry point of the ``hetero`` command.

Command groups live in their own modules, each exposing ``register(app)``. Other packages
(``hetero_models`` adds ``hetero train``) plug in through the ``hetero.cli`` entry-point
group; a plug-in that fails to import (e.g. torch missing) is skipped, so the torch-free
commands always work.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import typer

__all__ = ["app", "main"]

# Built-in command modules, in the order their commands are listed by --help.
_COMMAND_MODULES: tuple[str, ...] = (
    "hetero.cli.analysis",
    "hetero.cli.datasets",
    "hetero.cli.measure",
    "hetero.cli.report",
)

app = typer.Typer(
    name="hetero",
    help="Measure modality and interaction heterogeneity and turn it into parameter-sharing plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an unexpected error (for bug reports)."
    ),
) -> None:
    from hetero.cli._common import set_debug

    set_debug(debug)
    if version:
        from hetero import __version__

        typer.echo(f"hetero {__version__}")
        raise typer.Exit(0)


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for ep in entry_points(group="hetero.cli"):
        try:
            register = ep.load()
        except ImportError as exc:  # e.g. torch absent: keep the core commands usable
            print(f"warning: CLI plug-in {ep.name!r} unavailable ({exc})", file=sys.stderr)
            continue
        register(app)


_register_commands()


def main() -> None:
    """Run the CLI (console-script entry point)."""
    app()
