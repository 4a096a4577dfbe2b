"""hetero_models: HighMMT and plan-driven parameter sharing (PyTorch side of hetero)."""

from __future__ import annotations

from hetero_models.grouping import GroupedBlock, GroupedModel, count_parameters
from hetero_models.highmmt import PRESETS, HighMMT
from hetero_models.inputs import (
    InputStandardizer,
    ModalitySpec,
    ModelSpec,
    TaskSpec,
    fourier_encode,
    positional_encoding,
)
from hetero_models.registry import create_model, list_models, load_model, register_model, save_model

__all__ = [
    "PRESETS",
    "GroupedBlock",
    "GroupedModel",
    "HighMMT",
    "InputStandardizer",
    "ModalitySpec",
    "ModelSpec",
    "TaskSpec",
    "count_parameters",
    "create_model",
    "fourier_encode",
    "list_models",
    "load_model",
    "positional_encoding",
    "register_model",
    "save_model",
]
