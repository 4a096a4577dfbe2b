"""Shared CLI plumbing: one-line errors with exit code 2, clean Ctrl-C, ``--debug``."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from hetero.errors import HeteroError, HeteroWarning

__all__ = [
    "DEBUG_ENV",
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "Dpi",
    "FigureFormats",
    "TrustPickleOpt",
    "add_command",
    "fail",
    "figure_options",
    "handle_errors",
    "parse_seeds",
    "set_debug",
]

#: ``--trust-pickle`` of the commands that load a suite: the person running the command,
#: not a file, decides whether anything is unpickled.
TrustPickleOpt = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Let pickle-reading dataset loaders (affect, mimic) unpickle files you trust.",
    ),
]

EXIT_BAD_INPUT = 2
#: The command ran but produced nothing usable (e.g. every training run failed).
EXIT_FAILED = 1
#: An error hetero did not anticipate: a bug to report, not bad input.
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
#: Set to 1 to show the traceback of unexpected errors (as ``hetero --debug`` does).
DEBUG_ENV = "HETERO_DEBUG"

F = TypeVar("F", bound=Callable[..., Any])

#: ``--format`` of the commands that draw figures (``hetero plot``, ``hetero report``).
FigureFormats = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        metavar="FMT",
        help="Figure format: png (default), svg or pdf; repeatable or comma-separated "
        "(--format png,pdf).",
    ),
]
#: ``--dpi`` of the commands that draw figures (each command sets its own default).
Dpi = Annotated[
    int, typer.Option("--dpi", metavar="N", help="Resolution of PNG figures (dots per inch).")
]


def figure_options(formats: list[str] | None, dpi: int) -> tuple[tuple[str, ...], int]:
    """``--format`` and ``--dpi`` checked (one-line errors) before any work: the formats
    as a tuple (PNG when none was given) and the resolution."""
    from hetero.plotting._common import check_dpi, check_formats

    return check_formats(formats or ["png"]), check_dpi(dpi)


def parse_seeds(value: str) -> int | str:
    """``--seeds N|auto``: a positive integer or ``"auto"`` (one-line error otherwise)."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise HeteroError(f"--seeds: expected a positive integer or 'auto', got {value!r}")
    return n


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def add_command(app: typer.Typer, name: str, func: Callable[..., Any]) -> None:
    """Add ``func`` as command ``name`` of ``app``, its errors handled by
    :func:`handle_errors`: the one way every hetero command (and plug-in) is registered."""
    app.command(name)(handle_errors(func))


def handle_errors(func: F) -> F:
    """Turn every exception into a one-line message (no traceback) and an exit code.

    Bad input (:class:`~hetero.errors.HeteroError`, unreadable or unwritable files, any
    ``OSError``) exits with 2. Running
    out of memory or recursion on an input exits with 2 too, naming the cause. Anything else
    is a bug: it exits with 70 and says so, and ``hetero --debug`` (or $HETERO_DEBUG=1) shows
    the traceback instead. ``KeyboardInterrupt`` exits with 130 after saying that finished
    work was kept; the commands themselves only ever write complete files.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except _CLI_EXCEPTIONS:  # exits and usage errors: typer/click print them
            raise
        except HeteroError as exc:
            raise fail(str(exc)) from None
        except FileNotFoundError as exc:
            raise fail(f"{exc.filename}: file not found") from None
        except PermissionError as exc:
            raise fail(f"{exc.filename}: permission denied") from None
        except IsADirectoryError as exc:
            raise fail(f"{exc.filename}: is a directory") from None
        except KeyboardInterrupt:
            typer.echo("interrupted: finished work was kept", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except ModuleNotFoundError as exc:
            extra = _EXTRAS.get((exc.name or "").split(".")[0])
            if extra is None or _debug():
                raise
            raise fail(
                f"this needs {exc.name}, which is not installed: pip install 'hetero[{extra}]'"
            ) from None
        except OSError as exc:  # the file system said no: the environment, not a bug
            if _debug():
                raise
            where = exc.filename if exc.filename is not None else "error"
            raise fail(f"{where}: {exc.strerror or exc}") from None
        except (MemoryError, RecursionError) as exc:
            if _debug():
                raise
            what = "memory" if isinstance(exc, MemoryError) else "recursion depth"
            raise fail(f"input too large: ran out of {what} ({type(exc).__name__})") from None
        except Exception as exc:
            if _debug():
                raise
            typer.echo(
                f"error: internal error {type(exc).__name__}: {' '.join(str(exc).split())[:500]} "
                "(a bug in hetero; rerun with --debug for the traceback and report it)",
                err=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


#: Optional dependencies and the extra that installs them (pyproject.toml).
_EXTRAS = {"torch": "models", "safetensors": "models", "fancyimpute": "completion",
           "cvxpy": "completion", "distributed": "distributed", "dask": "distributed",
           "pyarrow": "parquet"}  # fmt: skip


def _cli_exception_types() -> tuple[type[BaseException], ...]:
    # typer >= 0.2x vendors click (typer._click), older ones use click itself: find the
    # ClickException base through a class both expose rather than importing click.
    found: list[type[BaseException]] = [typer.Exit, typer.Abort]
    found += [c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"]
    return tuple(found)


_CLI_EXCEPTIONS = _cli_exception_types()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """hetero's own warnings as one ``warning:`` line; others as Python prints them."""
    if issubclass(category, HeteroWarning):
        typer.echo(f"warning: {' '.join(str(message).split())}", err=True)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


_PYTHON_SHOWWARNING = warnings.showwarning


# Set by the root callback on every invocation (so it never leaks into the next one).
_debug_flag = False


def set_debug(enabled: bool) -> None:
    """Record ``hetero --debug`` for :func:`handle_errors` (called by the root callback)."""
    global _debug_flag
    _debug_flag = bool(enabled)


def _debug() -> bool:
    return _debug_flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")
