"""The core package imports without torch and exposes its public names."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT


def test_import_hetero_without_torch():
    # Block torch at the import system level, then import every public name of hetero.
    code = textwrap.dedent(
        """
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")
                return None
        sys.meta_path.insert(0, _Block())
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
