"""The one registry helper: duplicates refused, suggestions, lazy built-ins and plug-ins."""

from __future__ import annotations

import doctest
import sys
import types
from importlib.metadata import EntryPoint

import pytest

import hetero.registry
from hetero.errors import HeteroError, LearnerError
from hetero.registry import Registry


def test_doctest():
    assert doctest.testmod(hetero.registry).failed == 0


def test_register_get_list_unregister_and_errors():
    reg: Registry = Registry("widget", error=LearnerError)
    reg.register("alpha", 1)

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("alpha") == 1 and reg.get("beta") is beta
    assert reg.names() == ["alpha", "beta"] and "alpha" in reg and len(reg) == 2
    with pytest.raises(LearnerError, match=r"widget 'alpha' is already registered"):
        reg.register("alpha", 3)
    reg.register("alpha", 1)  # the same object again is fine
    reg.register("alpha", 3, overwrite=True)
    assert reg.get("alpha") == 3
    with pytest.raises(
        LearnerError, match=r"unknown widget 'alhpa' \(valid: alpha, beta\); did you mean 'alpha'\?"
    ):
        reg.get("alhpa")
    with pytest.raises(LearnerError, match="non-empty word"):
        reg.register("two words", 4)
    assert reg.unregister("alpha") == 3 and reg.names() == ["beta"]
    with reg.registered("gamma", 5):
        assert reg.get("gamma") == 5
    assert "gamma" not in reg


def test_builtins_are_imported_on_first_use_only(monkeypatch):
    reg: Registry = Registry("thing", builtins=["_hetero_test_builtin"])
    module = types.ModuleType("_hetero_test_builtin")
    module.__dict__["loaded"] = True
    calls = []

    def fake_import(name):
        calls.append(name)
        reg.register("builtin", 7)
        return module

    monkeypatch.setattr(hetero.registry.importlib, "import_module", fake_import)
    assert calls == []
    assert reg.get("builtin") == 7 and calls == ["_hetero_test_builtin"]
    reg.names()
    assert calls == ["_hetero_test_builtin"]


def test_entry_points_load_lazily_and_failures_name_the_plug_in(monkeypatch):
    eps = [
        EntryPoint("good", "json:dumps", "hetero.test"),
        EntryPoint("broken", "no_such_module_xyz:thing", "hetero.test"),
    ]
    monkeypatch.setattr(hetero.registry, "entry_points", lambda group: eps)
    reg: Registry = Registry("plug-in", group="hetero.test")
    assert reg.names() == ["broken", "good"]
    assert "no_such_module_xyz" not in sys.modules
    import json

    assert reg.get("good") is json.dumps
    with pytest.raises(
        HeteroError, match=r"plug-in 'broken' cannot be loaded from no_such_module_xyz:thing"
    ):
        reg.get("broken")
    failures = []
    loaded = reg.load_all(on_error=lambda name, exc: failures.append(name))
    assert list(loaded) == ["good"] and failures == ["broken"]
