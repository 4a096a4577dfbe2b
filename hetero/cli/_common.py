"""Shared CLI plumbing: one-line errors with exit code 2, clean Ctrl-C."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from hetero.errors import HeteroError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "fail", "handle_errors"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def handle_errors(func: F) -> F:
    """Turn bad-input exceptions into a one-line message and exit code 2 (no traceback).

    ``KeyboardInterrupt`` exits with 130 after saying that finished work was kept; the
    commands themselves are responsible for only ever writing complete files.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
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

    return wrapper  # type: ignore[return-value]
