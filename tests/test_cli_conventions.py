"""One CLI style across commands: help on every option, capital metavars without Python
types, -o/--out for every output, -q on the long commands, an eager --version."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from hetero.cli.main import app


def _commands():
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    out = []
    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        if hasattr(cmd, "list_commands"):  # a group (hetero datasets ...)
            sub_ctx = typer.Context(cmd)
            out += [
                (f"{name} {s}", cmd.get_command(sub_ctx, s)) for s in cmd.list_commands(sub_ctx)
            ]
        else:
            out.append((name, cmd))
    return out


COMMANDS = _commands()


def test_every_command_is_there():
    names = {n for n, _ in COMMANDS}
    assert {"check", "complete", "plan", "plot", "measure", "runs", "report", "export",
            "datasets list", "datasets show"} <= names  # fmt: skip


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_options_have_help_and_capital_metavars(name, cmd):
    for p in cmd.params:
        if p.param_type_name != "option" or p.name == "help":
            continue
        assert p.help, f"{name} {p.opts}: no help text"
        if not p.is_flag:
            assert p.metavar and p.metavar == p.metavar.upper(), f"{name} {p.opts}: {p.metavar!r}"
            assert "<" not in p.metavar and "[" not in p.metavar


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_outputs_are_dash_o_out(name, cmd):
    opts = [o for p in cmd.params for o in getattr(p, "opts", [])]
    assert "--output" not in opts
    if "-o" in opts or "--out" in opts:
        param = next(p for p in cmd.params if "-o" in p.opts or "--out" in p.opts)
        assert set(param.opts) == {"-o", "--out"}, (name, param.opts)


@pytest.mark.parametrize("name", ["measure", "report", "train"])
def test_long_commands_take_quiet(name):
    cmds = dict(COMMANDS)
    if name not in cmds:
        pytest.skip(f"{name} not available (torch missing)")
    opts = [o for p in cmds[name].params for o in getattr(p, "opts", [])]
    assert "-q" in opts and "--quiet" in opts


def test_version_needs_no_command():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("hetero ")


@pytest.mark.parametrize("name", ["plot", "report"])
def test_figure_commands_share_format_and_dpi(name):
    """--format (repeatable) and --dpi come from one definition (hetero.cli._common)."""
    params = {p.name: p for p in dict(COMMANDS)[name].params}
    fmt = next(p for p in params.values() if "--format" in p.opts)
    dpi = next(p for p in params.values() if "--dpi" in p.opts)
    assert fmt.multiple and fmt.metavar == "FMT" and dpi.metavar == "N"
    assert "png (default), svg or pdf" in fmt.help


_SUITE_COMMANDS = ["measure", "train", "compare", "analyze overlap", "analyze interference",
                   "analyze few-shot", "analyze transfer"]  # fmt: skip


@pytest.mark.parametrize("name", _SUITE_COMMANDS)
def test_suite_commands_share_data_dir(name):
    """Every command that loads a suite takes --data-dir with measure's help and metavar."""
    cmds = dict(COMMANDS)
    if name not in cmds:
        pytest.skip(f"{name} not available (torch missing)")

    def option(cmd):
        return next(p for p in cmd.params if "--data-dir" in getattr(p, "opts", []))

    ours, measure = option(cmds[name]), option(cmds["measure"])
    assert ours.metavar == measure.metavar == "DIR" and ours.default is None
    assert ours.help == measure.help and "$HETERO_DATA_DIR" in ours.help


@pytest.mark.parametrize(
    "args",
    [
        ["train", "full"],
        ["compare", "full", "--share-all", "--share-none"],
        ["analyze", "overlap", "full"],
        ["analyze", "interference", "full"],
        ["analyze", "few-shot", "full", "--target", "spoken_digits"],
        ["analyze", "transfer", "full"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_data_dir_is_where_path_loaders_look(args, tmp_path, monkeypatch):
    """--data-dir wins over $HETERO_DATA_DIR: the fsdd loader of the full suite looks there
    (both folders are empty, so it stops with one line naming the folder it searched)."""
    if args[0] in ("train", "compare", "analyze"):
        pytest.importorskip("torch")  # without it these commands only say so
    given, env = tmp_path / "given", tmp_path / "env"
    given.mkdir()
    env.mkdir()
    monkeypatch.setenv("HETERO_DATA_DIR", str(env))
    res = CliRunner().invoke(app, [*args, "--data-dir", str(given), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert f"{given}/fsdd/recordings not found" in res.output
    assert str(env) not in res.output
    assert not (tmp_path / "out").exists()
