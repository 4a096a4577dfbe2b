"""Units and their labels: ``task/modality`` (a unit) and ``task/modA+modB`` (an interaction
unit, the two names in alphabetical order).

This module owns the label format: :class:`Unit` formats and parses labels, and
:func:`unit_label`, :func:`is_interaction_label` and :func:`label_task` serve code that
handles labels as plain strings (run planning, grouping plans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hetero.errors import SuiteError
from hetero.suite._checks import _check_name

__all__ = ["PAIR_SEP", "TASK_SEP", "Unit", "is_interaction_label", "label_task", "unit_label"]

#: separates the task from the modality part of a label
TASK_SEP = "/"
#: separates the two modalities of an interaction unit's label
PAIR_SEP = "+"


@dataclass(frozen=True, order=True)
class Unit:
    """A unit (one modality of a task) or an interaction unit (two modalities of a task).

    The modalities of an interaction unit are stored in alphabetical order, so
    ``Unit("t", ("b", "a")) == Unit("t", ("a", "b"))`` and labels are canonical.
    """

    task: str
    modalities: tuple[str, ...]

    def __post_init__(self) -> None:
        mods = self.modalities
        if isinstance(mods, str):
            mods = (mods,)
        mods = tuple(mods)
        if len(mods) not in (1, 2) or len(set(mods)) != len(mods):
            raise SuiteError(
                f"unit of task {self.task!r}: expected one modality or two distinct ones, "
                f"got {mods!r}"
            )
        for value in (self.task, *mods):
            why = _check_name(value)
            if why is not None:
                raise SuiteError(f"unit: {why}")
        object.__setattr__(self, "modalities", tuple(sorted(mods)))

    @property
    def label(self) -> str:
        """``task/modality`` or ``task/modA+modB``."""
        return f"{self.task}{TASK_SEP}{PAIR_SEP.join(self.modalities)}"

    @property
    def is_interaction(self) -> bool:
        """True for an interaction unit (two modalities)."""
        return len(self.modalities) == 2

    @classmethod
    def parse(cls, label: str) -> Unit:
        """Parse ``task/mod`` or ``task/modA+modB`` into a :class:`Unit`."""
        if not isinstance(label, str) or label.count(TASK_SEP) != 1:
            raise SuiteError(f"unit label {label!r}: expected 'task/modality' or 'task/modA+modB'")
        task, mods = label.split(TASK_SEP)
        parts = tuple(mods.split(PAIR_SEP))
        if len(parts) > 2 or not all(parts) or not task:
            raise SuiteError(f"unit label {label!r}: expected 'task/modality' or 'task/modA+modB'")
        return cls(task, parts)

    def __str__(self) -> str:
        return self.label


def unit_label(unit: Any) -> str:
    """The label of ``unit``: a label string as is, else the object's ``label``."""
    return unit if isinstance(unit, str) else unit.label


def is_interaction_label(label: str) -> bool:
    """True for an interaction-unit label (``task/modA+modB``), False for a unit label.

    Only the separator is looked at, so that a malformed label can still be classified (and
    reported) without raising: names cannot contain ``+``, so it marks a modality pair.
    """
    return PAIR_SEP in label


def label_task(label: str) -> str:
    """The task part of a unit or interaction-unit label (``task`` of ``task/...``)."""
    return label.split(TASK_SEP, 1)[0]
