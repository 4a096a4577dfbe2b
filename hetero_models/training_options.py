"""Names of the :class:`~hetero_models.trainer.Trainer` options that the command line, the
run keys of ``hetero compare`` and the analyses read without importing torch."""

from __future__ import annotations

import math
from typing import Any

from hetero.errors import HeteroError

__all__ = ["EARLIER_DEFAULTS", "KEEP", "LR_SCHEDULES", "TASK_SAMPLING", "check_numbers"]

#: What :meth:`Trainer.fit` leaves in the model: the best validation checkpoint or the last
#: epoch's weights.
KEEP = ("best", "last")
#: How many batches each task contributes per epoch (:class:`Trainer`'s ``task_sampling``).
TASK_SAMPLING = ("proportional", "balanced")
#: Learning rate over the steps of :meth:`Trainer.fit` (:class:`Trainer`'s ``lr_schedule``).
LR_SCHEDULES = ("constant", "cosine")
#: :class:`Trainer`'s ``task_sampling`` and ``lr_schedule`` before experiment 14 made them
#: balanced and cosine (runs stored, analyses and experiments that keep them read this).
EARLIER_DEFAULTS = {"task_sampling": "proportional", "lr_schedule": "constant"}


def check_numbers(**values: Any) -> None:
    """One-line error unless each of ``epochs`` (an integer >= 0), ``lr``, ``weight_decay``
    (>= 0) and ``patience`` (an integer >= 1, or None) given is a finite number in its
    range. (An ``lr`` of 0 is allowed: it trains nothing, which tests use.)"""
    for name, value in values.items():
        low = 1 if name == "patience" else 0
        if value is None and name == "patience":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        whole = name in ("epochs", "patience")
        if whole and isinstance(value, bool):
            number = math.nan
        if not (math.isfinite(number) and number >= low and (not whole or number == int(number))):
            kind = "an integer" if whole else "a finite number"
            raise HeteroError(f"{name}: expected {kind} >= {low}, got {value!r}")
