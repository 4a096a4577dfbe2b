"""Analyses of trained HighMMT models (the paper's section 3.4, Table 3 and Fig. 9).

* :func:`parameter_overlap` -- which parameters each task uses (gradient involvement) and how
  much the tasks' top sets overlap, share-all against grouped (paper Table 6).
* :func:`interference` -- corrupt one task's training labels, keep training, and measure
  every task's test-metric change against the same training on clean labels (Table 7).
* :func:`few_shot` -- a target's test metric against the fraction of its training data,
  trained alone against fine-tuned from multitask pre-training (Fig. 9, appendix B.8).
* :func:`transfer` -- pre-train on the other tasks, fine-tune on a held-out target, against
  the target trained alone to convergence (Table 3).

Every analysis returns an :class:`AnalysisResult` (per-seed rows, summaries with t
intervals, verdicts) that writes JSON, CSV and a figure, and that
:func:`render_section` turns into a report section (``hetero report --analysis`` adds
them). The result types, their files, figures and report sections need no torch and live
in the core, :mod:`hetero.report.analysis`; this package imports them from there. The CLI
is ``hetero analyze overlap|interference|few-shot|transfer``. Names are loaded lazily:
importing this package (as the CLI plug-in does) does not import torch.

Modules: :mod:`~hetero_models.analysis.common` (results, intervals, suite edits, trained
models), :mod:`~hetero_models.analysis.overlap`, :mod:`~hetero_models.analysis.interfere`,
:mod:`~hetero_models.analysis.fewshot`, :mod:`~hetero_models.analysis.heldout` (transfer),
:mod:`~hetero_models.analysis.report` and :mod:`~hetero_models.analysis.cli`. The module
names differ from the function names on purpose: importing a submodule sets an attribute
of the package under its name, which would hide a function of the same name.
"""

from __future__ import annotations

from hetero._lazy import lazy_exports

# public name -> defining module
_EXPORTS: dict[str, str] = {
    "AnalysisResult": "hetero_models.analysis.common",
    "TrainedModel": "hetero_models.analysis.common",
    "load_trained": "hetero_models.analysis.common",
    "read_result": "hetero_models.analysis.common",
    "replace_train_labels": "hetero_models.analysis.common",
    "subsample_order": "hetero_models.analysis.common",
    "subsample_train": "hetero_models.analysis.common",
    "train_models": "hetero_models.analysis.common",
    "OverlapResult": "hetero_models.analysis.overlap",
    "involvement": "hetero_models.analysis.overlap",
    "overlap_matrix": "hetero_models.analysis.overlap",
    "involved_task_counts": "hetero_models.analysis.overlap",
    "parameter_overlap": "hetero_models.analysis.overlap",
    "InterferenceResult": "hetero_models.analysis.interfere",
    "corrupt_labels": "hetero_models.analysis.interfere",
    "interference": "hetero_models.analysis.interfere",
    "FewShotResult": "hetero_models.analysis.fewshot",
    "few_shot": "hetero_models.analysis.fewshot",
    "TransferResult": "hetero_models.analysis.heldout",
    "transfer": "hetero_models.analysis.heldout",
    "analysis_blocks": "hetero_models.analysis.report",
    "render_section": "hetero_models.analysis.report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
