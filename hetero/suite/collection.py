"""Suite: a collection of tasks, their units and interaction units."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hetero.errors import SuiteError
from hetero.suite._checks import _join
from hetero.suite.modality import Modality
from hetero.suite.task import Task
from hetero.suite.units import Unit

__all__ = ["Suite", "load_suite"]


class Suite:
    """A collection of tasks.

    Parameters
    ----------
    tasks : sequence of Task
        Task names must be distinct. A modality name used by several tasks must have the
        same ``kind`` and ``channels`` everywhere (it is one modality).
    name : str, default "suite"
    source : str, optional
        File the suite came from (for error messages).
    """

    def __init__(
        self, tasks: Sequence[Task], name: str = "suite", *, source: str | os.PathLike | None = None
    ):
        src = None if source is None else str(source)
        tasks = tuple(tasks)
        if not isinstance(name, str) or not name:
            raise SuiteError(f"name: expected a non-empty string, got {name!r}", source=src)
        if not tasks:
            raise SuiteError("tasks: no tasks; expected at least one", source=src)
        names: set[str] = set()
        first: dict[str, tuple[Task, Modality]] = {}
        for i, t in enumerate(tasks):
            if not isinstance(t, Task):
                raise SuiteError(f"tasks[{i}]: expected a Task, got {type(t).__name__}", source=src)
            if t.name in names:
                raise SuiteError(f"tasks[{i}].name: duplicate task name '{t.name}'", source=src)
            names.add(t.name)
            for m in t.modalities:
                if m.name not in first:
                    first[m.name] = (t, m)
                    continue
                t0, m0 = first[m.name]
                for attr in ("kind", "channels"):
                    if getattr(m, attr) != getattr(m0, attr):
                        raise SuiteError(
                            f"task '{t.name}': modality '{m.name}': {attr} {getattr(m, attr)!r} differs "
                            f"from {getattr(m0, attr)!r} in task '{t0.name}'; expected the same {attr} "
                            "for a modality name shared by tasks (or rename one)",
                            source=src,
                        )
        self.name: str = name
        self.tasks: tuple[Task, ...] = tasks
        self.source: str | None = src

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_yaml(
        cls,
        path: str | os.PathLike,
        *,
        data_dir: str | os.PathLike | None = None,
        trust_pickle: bool = False,
    ) -> Suite:
        """Load a suite from a YAML file (see :mod:`hetero.suite` for the format).

        Parameters
        ----------
        path : path-like
            The suite file; relative ``data:`` paths are resolved against its folder and
            the suite's name defaults to the file's stem.
        data_dir : path-like, optional
            Folder of local copies of public datasets (default $HETERO_DATA_DIR), passed to
            every ``dataset:`` task whose loader takes ``data_dir`` and was given no
            ``path``; such tasks without a folder are refused before any data is read.
        trust_pickle : bool
            Let ``dataset:`` tasks whose loader reads a pickle (MultiBench ``affect``,
            ``mimic``) unpickle their file. Only the caller can grant this: a suite file
            that sets ``trust_pickle`` in a task's options is rejected.
        """
        from hetero.suite.loading import suite_from_yaml

        return suite_from_yaml(cls, path, data_dir=data_dir, trust_pickle=trust_pickle)

    @classmethod
    def from_dict(
        cls,
        d: Mapping[str, Any],
        base_dir: str | os.PathLike | None = None,
        source: str | os.PathLike | None = None,
        *,
        data_dir: str | os.PathLike | None = None,
        trust_pickle: bool = False,
    ) -> Suite:
        """Build a suite from a parsed YAML mapping.

        Parameters
        ----------
        d : mapping
            ``{"name": ..., "tasks": [...]}`` as in the YAML format.
        base_dir : path-like, optional
            Folder that relative ``data:`` paths are resolved against (default: cwd).
        source : path-like, optional
            File the mapping came from (for error messages).
        data_dir : path-like, optional
            Folder of local dataset copies for the ``dataset:`` tasks (see :meth:`from_yaml`).
        trust_pickle : bool
            Allow ``dataset:`` loaders that read pickles to unpickle (the caller's decision;
            ``trust_pickle`` inside the mapping is rejected).
        """
        from hetero.suite.loading import suite_from_dict

        return suite_from_dict(
            cls, d, base_dir, source, data_dir=data_dir, trust_pickle=trust_pickle
        )

    # ---------------------------------------------------------------- accessors

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in declaration order."""
        return tuple(t.name for t in self.tasks)

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise SuiteError(
            f"no task {name!r} in suite '{self.name}'; expected one of: {_join(self.task_names)}",
            source=self.source,
        )

    def units(self) -> list[Unit]:
        """One unit per (task, modality): tasks and modalities in declaration order."""
        return [u for t in self.tasks for u in t.units()]

    def interaction_units(self) -> list[Unit]:
        """One interaction unit per (task, unordered modality pair).

        Tasks in declaration order; within a task, pairs (i, j), i < j, in modality
        declaration order. Each unit's modalities (and label) are alphabetical.
        """
        return [u for t in self.tasks for u in t.interaction_units()]

    def unit(self, label: str | Unit) -> Unit:
        """Look up a unit or interaction unit of this suite by its label."""
        u = label if isinstance(label, Unit) else Unit.parse(label)
        task = self.task(u.task)
        missing = [m for m in u.modalities if m not in task.modality_names]
        if missing:
            raise SuiteError(
                f"unit '{u.label}': task '{task.name}' has no modality '{missing[0]}'; "
                f"expected one of: {_join(task.modality_names)}",
                source=self.source,
            )
        return u

    def modality_names(self) -> list[str]:
        """Distinct modality names over all tasks, sorted (the one-hot order of HighMMT)."""
        return sorted({m.name for t in self.tasks for m in t.modalities})

    def modality_index(self, name: str) -> int:
        """Position of modality ``name`` in :meth:`modality_names`."""
        names = self.modality_names()
        if name not in names:
            raise SuiteError(
                f"no modality {name!r} in suite '{self.name}'; expected one of: {_join(names)}",
                source=self.source,
            )
        return names.index(name)

    def summary(self) -> dict[str, Any]:
        """JSON-able description for ``hetero datasets show``."""
        mods: dict[str, dict[str, Any]] = {}
        for t in self.tasks:
            for m in t.modalities:
                entry = mods.setdefault(
                    m.name, {"name": m.name, "kind": m.kind, "channels": m.channels, "tasks": []}
                )
                entry["tasks"].append(t.name)
        return {
            "name": self.name,
            "source": self.source,
            "n_tasks": len(self.tasks),
            "n_units": len(self.units()),
            "n_interaction_units": len(self.interaction_units()),
            "modalities": [mods[k] for k in sorted(mods)],
            "tasks": [t.summary() for t in self.tasks],
        }

    def describe(self) -> str:
        """Human-readable multi-line table of the suite."""
        s = self.summary()
        lines = [
            f"suite {s['name']}: {s['n_tasks']} tasks, {s['n_units']} units, "
            f"{s['n_interaction_units']} interaction units, {len(s['modalities'])} modalities"
        ]
        for t in s["tasks"]:
            lines.append(
                f"  task {t['name']}: {t['target']} ({t['n_outputs']} outputs, loss {t['loss']}, "
                f"metric {t['metric']}), {t['n_samples']} samples "
                f"(train {t['n_train']} / val {t['n_val']} / test {t['n_test']})"
            )
            for m in t["modalities"]:
                pos = "x".join(str(p) for p in m["positions"]) or "1"
                lines.append(
                    f"    {m['name']:<16} {m['kind']:<10} shape {tuple(m['shape'])!s:<16} "
                    f"positions {pos:<10} channels {m['channels']}"
                )
        return "\n".join(lines)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Suite):
            return NotImplemented
        return self.name == other.name and self.tasks == other.tasks

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Suite({self.name!r}, tasks=[{', '.join(self.task_names)}])"


def load_suite(
    path: str | os.PathLike | Suite,
    *,
    data_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
) -> Suite:
    """Load a suite from a YAML file (a :class:`Suite` is returned unchanged).

    ``data_dir`` and ``trust_pickle`` are passed to the ``dataset:`` loaders; see
    :meth:`Suite.from_yaml`.
    """
    if isinstance(path, Suite):
        return path
    return Suite.from_yaml(path, data_dir=data_dir, trust_pickle=trust_pickle)
