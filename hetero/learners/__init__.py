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
from hetero.learners.reference import ReferenceLearner
from hetero.learners.registry import (
    LEARNERS,
    default_learner_name,
    get_learner,
    list_learners,
    register_learner,
)

__all__ = [
    "FIT_MODES",
    "LEARNERS",
    "PARAMETER_ROLES",
    "FitResult",
    "Learner",
    "ReferenceLearner",
    "default_learner_name",
    "get_learner",
    "list_learners",
    "register_learner",
    "state_from_bytes",
    "state_to_bytes",
]
