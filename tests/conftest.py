"""Shared fixtures: paths to the real datasets in ../shared/data (tests and CI only)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# The torch-free core is tested alone too (`make test-core`): there the model tests, which
# import torch at module level, are not collected. Tests elsewhere that need torch or
# fancyimpute skip themselves.
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob = ["test_models_*.py"]

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Python source that makes ``import torch`` fail in the process that runs it (prepend it to
#: a ``python -c`` program to prove a code path never imports torch).
BLOCK_TORCH = """import sys
class _BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked for this test")
        return None
sys.meta_path.insert(0, _BlockTorch())
"""
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets beside the checkout; skip (with the reason) when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (see shared/data/README.md)")
    return SHARED_DATA
