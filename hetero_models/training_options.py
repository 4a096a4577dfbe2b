"""Names of the :class:`~hetero_models.trainer.Trainer` options that the command line, the
run keys of ``hetero compare`` and the analyses read without importing torch."""

from __future__ import annotations

__all__ = ["EARLIER_DEFAULTS", "KEEP", "LR_SCHEDULES", "TASK_SAMPLING"]

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
