"""The measurement engine: config, run planning, run keys, the run store, executors, the
analysis of stored runs, outputs, and ``measure()`` which orchestrates them.

Names are loaded lazily so that worker processes can import :mod:`.executors` (and limit
their thread pools) before numpy loads.
"""

from __future__ import annotations

from hetero._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "measure": "hetero.measure.driver",
    "plan_runs": "hetero.measure.driver",
    "MeasureConfig": "hetero.measure.config",
    "MeasureResult": "hetero.measure.outputs",
    "LevelResult": "hetero.measure.analysis",
    "LevelAnalysis": "hetero.measure.analysis",
    "analyse_level": "hetero.measure.analysis",
    "plan_from_levels": "hetero.measure.analysis",
    "run_scores": "hetero.measure.analysis",
    "RunStore": "hetero.measure.store",
    "RunRecord": "hetero.measure.store",
    "RunSpec": "hetero.measure.keys",
    "run_key": "hetero.measure.keys",
    "RunPlanner": "hetero.measure.planner",
    "make_executor": "hetero.measure.executors",
    "run_specs": "hetero.measure.executors",
    "SerialExecutor": "hetero.measure.executors",
    "DEFAULT_ESTIMATOR": "hetero.measure.estimators",
    "ESTIMATORS": "hetero.measure.estimators",
    "Estimator": "hetero.measure.estimators",
    "get_estimator": "hetero.measure.estimators",
    "estimate_transfer": "hetero.measure.estimators",
    "split_half_retest": "hetero.measure.stability",
    "co_assignment": "hetero.measure.stability",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
