"""hetero_models: HighMMT and plan-driven parameter sharing (the PyTorch side of hetero).

Public names are loaded lazily so that importing :mod:`hetero_models.cli` (the ``hetero
train`` plug-in) does not import torch; the first access to a model name does.
"""

from __future__ import annotations

from hetero._lazy import lazy_exports

# public name -> defining module
_EXPORTS: dict[str, str] = {
    "PRESETS": "hetero_models.highmmt",
    "HighMMT": "hetero_models.highmmt",
    "GroupedBlock": "hetero_models.grouping",
    "GroupedModel": "hetero_models.grouping",
    "count_parameters": "hetero_models.grouping",
    "InputStandardizer": "hetero_models.inputs",
    "ModalitySpec": "hetero_models.inputs",
    "ModelSpec": "hetero_models.inputs",
    "Standardized": "hetero_models.inputs",
    "TaskSpec": "hetero_models.inputs",
    "fourier_encode": "hetero_models.inputs",
    "positional_encoding": "hetero_models.inputs",
    "MODELS": "hetero_models.registry",
    "create_model": "hetero_models.registry",
    "list_models": "hetero_models.registry",
    "load_model": "hetero_models.registry",
    "register_model": "hetero_models.registry",
    "save_model": "hetero_models.registry",
    "HighMMTProbe": "hetero_models.probes",
    "Trainer": "hetero_models.trainer",
    "compute_metrics": "hetero_models.trainer",
    "few_shot_weights": "hetero_models.trainer",
    "multitask_schedule": "hetero_models.trainer",
    "train_two_stage": "hetero_models.trainer",
    "AnalysisResult": "hetero_models.analysis.common",
    "read_result": "hetero_models.analysis.common",
    "parameter_overlap": "hetero_models.analysis.overlap",
    "interference": "hetero_models.analysis.interfere",
    "few_shot": "hetero_models.analysis.fewshot",
    "transfer": "hetero_models.analysis.heldout",
    "render_section": "hetero_models.analysis.report",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
