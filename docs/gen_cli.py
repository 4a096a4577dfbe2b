"""Generate docs/cli.md from the real ``--help`` texts of the ``hetero`` command.

    .venv/bin/python docs/gen_cli.py            # rewrite docs/cli.md
    .venv/bin/python docs/gen_cli.py --check    # exit 1 when docs/cli.md is out of date

Every command (and command group) of ``hetero.cli.main.app`` is invoked with ``--help``
through typer's ``CliRunner`` at a fixed terminal width, so the page is exactly what a user
sees. ``tests/test_docs.py`` fails when the committed page drifts from the current help.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["CLI_MD", "COLUMNS", "command_paths", "help_text", "normalise", "render"]

CLI_MD = Path(__file__).resolve().parent / "cli.md"
#: Terminal width of the rendered help (click wraps at min(COLUMNS, 80) - 2 characters).
COLUMNS = 100

_HEADER = """\
# CLI reference

Generated from the `--help` texts by `docs/gen_cli.py` (do not edit by hand; run
`.venv/bin/python docs/gen_cli.py` after changing a command; `tests/test_docs.py` fails
when this page and the real help drift apart). The [user guide](user-guide.md) explains the
commands in context.

Every command exits with code 2 and a one-line `error: ...` on stderr when its input is bad
(missing or malformed file, unknown name, impossible option), and with 130 on Ctrl-C after
keeping the work already finished.

hetero train comes from `hetero_models` through the `hetero.cli` entry point (it is listed
when the `hetero` distribution is installed; torch is imported only when it runs).
"""


def _app():
    from hetero.cli.main import app

    return app


def command_paths() -> list[tuple[str, ...]]:
    """Every command path of the app, depth first, in the order ``--help`` lists them."""
    import typer.main

    root = typer.main.get_command(_app())
    out: list[tuple[str, ...]] = [()]

    def walk(cmd, prefix: tuple[str, ...]) -> None:
        sub = getattr(cmd, "commands", None)
        if not sub:
            return
        ctx = cmd.context_class(cmd, info_name="hetero")
        for name in cmd.list_commands(ctx):
            child = cmd.get_command(ctx, name)
            if child is None or getattr(child, "hidden", False):
                continue
            path = (*prefix, name)
            out.append(path)
            walk(child, path)

    walk(root, ())
    return out


def help_text(path: tuple[str, ...]) -> str:
    """The ``--help`` output of ``hetero <path>`` at :data:`COLUMNS` columns, normalised."""
    from typer.testing import CliRunner

    runner = CliRunner(env={"COLUMNS": str(COLUMNS), "NO_COLOR": "1", "TERM": "dumb"})
    result = runner.invoke(_app(), [*path, "--help"], prog_name="hetero", color=False)
    if result.exit_code != 0:
        raise RuntimeError(
            f"`hetero {' '.join(path)} --help` exited {result.exit_code}: {result.output}"
        )
    return normalise(result.output)


def normalise(text: str) -> str:
    """Unix newlines, no trailing spaces, no leading/trailing blank lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def render() -> str:
    """The full Markdown page."""
    parts = [_HEADER]
    paths = command_paths()
    parts.append("Commands:\n")
    for path in paths:
        name = " ".join(("hetero", *path))
        anchor = name.replace(" ", "-")
        parts.append(f"- [`{name}`](#{anchor})")
    parts.append("")
    for path in paths:
        name = " ".join(("hetero", *path))
        parts.append(f"## {name}\n")
        parts.append("```text")
        parts.append(help_text(path))
        parts.append("```\n")
    return normalise("\n".join(parts)) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else ""
        if normalise(current) != normalise(text):
            print(f"{CLI_MD} is out of date; run: python docs/gen_cli.py", file=sys.stderr)
            return 1
        return 0
    from hetero._io import atomic_write_text

    atomic_write_text(CLI_MD, text)
    print(f"wrote {CLI_MD} ({len(command_paths())} commands)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
