"""Learners: the model families ``hetero measure`` trains on units (see :mod:`.base`)."""

from __future__ import annotations

from hetero.learners.base import (
    FIT_MODES,
    PARAMETER_ROLES,
    FitResult,
    Learner,
    state_from_bytes,
    state_to_bytes,
)

__all__ = [
    "FIT_MODES",
    "PARAMETER_ROLES",
    "FitResult",
    "Learner",
    "state_from_bytes",
    "state_to_bytes",
]
