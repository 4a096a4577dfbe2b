"""The core package imports without torch and exposes its public names."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import BLOCK_TORCH, REPO_ROOT


def test_import_hetero_without_torch():
    # Block torch at the import system level, then import every public name of hetero.
    code = BLOCK_TORCH + textwrap.dedent(
        """
        import hetero
        for name in hetero.__all__:
            getattr(hetero, name)
        import hetero.cli.main
        assert "torch" not in sys.modules
        print("ok", len(hetero.__all__))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_version_is_exposed():
    import hetero

    assert hetero.__version__.count(".") == 2


def test_cli_groups_are_added_when_the_app_is_used_not_at_import():
    """Importing hetero.cli.main adds nothing; the first use of ``app`` adds every group once,
    skipping (with a warning) a plug-in that cannot be loaded."""
    code = textwrap.dedent(
        """
        import sys
        from importlib.metadata import EntryPoint
        import hetero.registry
        real = hetero.registry.entry_points
        def entry_points(group):
            eps = list(real(group=group))
            if group == "hetero.cli":
                eps.append(EntryPoint("broken", "no_such_module_xyz:register", group))
            return eps
        hetero.registry.entry_points = entry_points
        import hetero.cli.main as cli
        assert "hetero.cli.measure" not in sys.modules
        assert "hetero_models.cli" not in sys.modules
        assert {"analysis", "broken", "datasets", "measure", "report"} <= set(cli.COMMAND_GROUPS)
        app = cli.app
        assert cli.get_app() is app and cli.app is app
        commands = [c.name for c in app.registered_commands]
        assert len(commands) == len(set(commands)), commands
        print(" ".join(commands + [g.name for g in app.registered_groups]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:4] == ["check", "complete", "plan", "plot"]
    assert {"measure", "runs", "report", "datasets"} <= set(out.stdout.split())
    assert "warning: CLI plug-in 'broken' unavailable" in out.stderr
    assert "no_such_module_xyz" in out.stderr
