"""hetero: measure modality and interaction heterogeneity and plan parameter sharing.

The core package is model-agnostic and never imports torch. Public names are loaded lazily
on first access so that ``import hetero`` stays fast.
"""

from __future__ import annotations

from hetero._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> defining module
_EXPORTS: dict[str, str] = {
    "HeteroError": "hetero.errors",
    "SuiteError": "hetero.errors",
    "MatrixFormatError": "hetero.errors",
    "PlanError": "hetero.errors",
    "LearnerError": "hetero.errors",
    "HeterogeneityMatrix": "hetero.matrix",
    "read_matrix": "hetero.matrix",
    "transfer_to_distance": "hetero.distance",
    "check_metric": "hetero.metric",
    "MetricReport": "hetero.metric",
    "Completer": "hetero.completion",
    "SymmetricCompleter": "hetero.completion",
    "complete_matrix": "hetero.completion",
    "get_completer": "hetero.completion",
    "list_completers": "hetero.completion",
    "singular_spectrum": "hetero.completion",
    "measurement_design": "hetero.design",
    "cluster": "hetero.grouping",
    "split_budget": "hetero.grouping",
    "make_plan": "hetero.grouping",
    "GroupingPlan": "hetero.plan",
    "read_plan": "hetero.plan",
    "Modality": "hetero.suite",
    "Task": "hetero.suite",
    "TaskData": "hetero.suite",
    "Suite": "hetero.suite",
    "Unit": "hetero.suite",
    "load_suite": "hetero.suite",
    "load_task": "hetero.datasets",
    "get_suite": "hetero.datasets",
    "list_datasets": "hetero.datasets",
    "list_suites": "hetero.datasets",
    "Learner": "hetero.learners",
    "FitResult": "hetero.learners",
    "get_learner": "hetero.learners",
    "list_learners": "hetero.learners",
    "register_learner": "hetero.learners",
    "MeasureResult": "hetero.measure",
    "RunStore": "hetero.measure",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
