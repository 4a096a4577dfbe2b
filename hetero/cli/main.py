"""Entry point of the ``hetero`` command.

Command groups live in their own modules, each exposing ``register(app)``; they are kept in
:data:`COMMAND_GROUPS`, a :class:`hetero.registry.Registry` of ``register`` functions. Other
packages (``hetero_models`` adds ``hetero train``) plug in through the ``hetero.cli``
entry-point group. A plug-in that fails to load (e.g. torch missing) is skipped with a
warning, so the torch-free commands always work.

Importing this module adds no command and loads no plug-in: :func:`get_app` does, once,
when :func:`main` runs or when ``app`` is first read (``from hetero.cli.main import app``,
as typer's ``CliRunner`` tests and ``docs/gen_cli.py`` do).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from hetero.errors import HeteroError
from hetero.registry import Registry

# ``app`` is served by the module __getattr__ below (built on first access)
__all__ = ["COMMAND_GROUPS", "ENTRY_POINT_GROUP", "app", "get_app", "main"]  # noqa: F822

ENTRY_POINT_GROUP = "hetero.cli"

# Built-in command modules, in the order their commands are listed by --help.
_COMMAND_MODULES: tuple[str, ...] = (
    "hetero.cli.analysis",
    "hetero.cli.datasets",
    "hetero.cli.measure",
    "hetero.cli.report",
    "hetero.cli.export",
)

#: ``register(app)`` functions of the command groups by name: the built-ins (named after
#: their modules) and the ``hetero.cli`` entry points.
COMMAND_GROUPS: Registry[Callable[[typer.Typer], None]] = Registry(
    "CLI command group", group=ENTRY_POINT_GROUP, error=HeteroError
)


def _builtin(module: str) -> Callable[[typer.Typer], None]:
    """``register(app)`` of a built-in command module, which is imported only when called."""

    def register(app: typer.Typer) -> None:
        importlib.import_module(module).register(app)

    register.__doc__ = f"Add the commands of :mod:`{module}` to ``app``."
    return register


_BUILTIN_NAMES: tuple[str, ...] = tuple(m.rsplit(".", 1)[1] for m in _COMMAND_MODULES)
for _module, _name in zip(_COMMAND_MODULES, _BUILTIN_NAMES, strict=True):
    COMMAND_GROUPS.register(_name, _builtin(_module))
del _module, _name

_app = typer.Typer(
    name="hetero",
    help="Measure modality and interaction heterogeneity and turn it into parameter-sharing plans.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_complete = False


def _print_version(value: bool) -> None:
    if value:
        from hetero import __version__

        typer.echo(f"hetero {__version__}")
        raise typer.Exit(0)


@_app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,  # answered before any command is looked for
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the traceback of an unexpected error (for bug reports)."
        ),
    ] = False,
) -> None:
    from hetero.cli._common import set_debug

    set_debug(debug)


def get_app() -> typer.Typer:
    """The ``hetero`` typer app with every command group added (done once per process).

    Built-in groups come first, in their fixed order, then plug-ins sorted by name.
    """
    global _complete
    if _complete:
        return _app
    _complete = True  # first: a failing group is not added twice by a second call
    names = COMMAND_GROUPS.names()
    ordered = [n for n in _BUILTIN_NAMES if n in names]
    ordered += [n for n in names if n not in _BUILTIN_NAMES]
    for name in ordered:
        try:
            register = COMMAND_GROUPS.get(name)
        except HeteroError as exc:  # e.g. torch absent: keep the core commands usable
            print(f"warning: CLI plug-in {name!r} unavailable ({exc})", file=sys.stderr)
            continue
        register(_app)
    return _app


def __getattr__(name: str) -> typer.Typer:
    # ``app`` is built on first access (PEP 562), so that importing this module stays cheap
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI (console-script entry point)."""
    from hetero.malloc import tune_malloc

    tune_malloc()  # a process-wide setting: the command's, not the library's
    get_app()()
