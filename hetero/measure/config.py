"""``MeasureConfig``: every setting of a measurement, validated once.

The CLI and the Python API both build one; :func:`hetero.measure.measure` and the stages
after it read it and check nothing again. A config holds no data and no open resource, so
it is cheap to build, compare and record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hetero.errors import HeteroError, LearnerError

__all__ = ["MeasureConfig"]

_EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class MeasureConfig:
    """Settings of a measurement (see :func:`hetero.measure.measure` for each one).

    Parameters
    ----------
    learner : str or Learner, optional
        Registered learner name or instance (default: ``"highmmt"`` when available, else
        ``"reference"``); ``learner_config`` updates its config, ``max_epochs`` caps it.
    estimator : str or Estimator
        Transfer estimator; None: :func:`hetero.measure.estimators.default_estimator` of the
        learner (``logme``, or ``frozen_short`` for a learner without the closed-form modes;
        see :mod:`hetero.measure.estimators` for the others).
    interactions : bool, optional
        Measure interaction units too (None: when the learner supports them).
    fraction, budget : optional
        Measure a sampled design of ordered pairs (a fraction, or a count per level) and
        complete the rest with ``completion``.
    seeds : int or "auto"
        Transfer seeds per entry; ``"auto"`` adds seeds to undecided entries within
        ``max_runs`` / ``max_time`` / ``max_seeds`` (``auto_tolerance`` in loss units).
    baseline_seeds : int, optional
        Seeds of each scratch baseline (default twice the transfer seeds).
    executor, workers, scheduler
        Where runs execute: ``serial``, ``process`` or ``dask`` (or an ``ExecutorHandle``).
    retries : int
        Retries of a failed run.
    keep_head : bool
        Keep the transferred head for transfers within a task.
    unimodal_groups, crossmodal_groups : int, optional
        Groups of the plan written at the end.
    retest : bool
        Split-half test-retest reliability.
    stability_boot : int
        Bootstrap samples of the plan-stability estimate (0: none).
    design_seed : int
        Seed of the sampled design, the completion, the bootstraps and the controls.
    controls : bool or sequence of str
        Add a relabelled twin and a label-shuffled copy of every task (True) or of the named
        tasks, measured against their own units only (:mod:`hetero.measure.controls`).
    figures : bool
        Write figures with the outputs.
    """

    learner: Any = None
    learner_config: dict[str, Any] = field(default_factory=dict)
    estimator: Any = None
    interactions: bool | None = None
    fraction: float | None = None
    budget: int | None = None
    seeds: int | str = 2
    baseline_seeds: int | None = None
    executor: Any = "serial"
    workers: int | None = None
    scheduler: str | None = None
    max_epochs: int | None = None
    retries: int = 2
    keep_head: bool = False
    unimodal_groups: int | None = None
    crossmodal_groups: int | None = None
    retest: bool = False
    max_runs: int | None = None
    max_time: float | None = None
    max_seeds: int = 16
    auto_tolerance: float = 0.005
    design_seed: int = 0
    completion: str = "symmetric"
    figures: bool = True
    stability_boot: int = 50
    controls: bool | tuple[str, ...] = False

    def __post_init__(self) -> None:
        from hetero.completion import COMPLETERS

        COMPLETERS.get(self.completion)  # an unknown name fails before anything trains
        object.__setattr__(self, "learner_config", dict(self.learner_config or {}))
        if self.seeds != "auto":
            try:
                n = int(self.seeds)
                ok = not isinstance(self.seeds, bool) and float(self.seeds) == n
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise HeteroError(
                    f"seeds: expected a positive integer or 'auto', got {self.seeds!r}"
                )
            object.__setattr__(self, "seeds", n)
        self.n_baseline_seeds  # noqa: B018  (validates baseline_seeds against seeds)
        if isinstance(self.executor, str):
            if self.executor not in _EXECUTORS:
                raise HeteroError(
                    f"unknown executor {self.executor!r} (valid: {', '.join(_EXECUTORS)})"
                )
            if self.scheduler is not None and self.executor != "dask":
                raise HeteroError("--scheduler needs --executor dask")
        if self.workers is not None and self.workers < 1:
            raise HeteroError(f"workers: expected at least 1, got {self.workers}")
        if self.retries < 0:
            raise HeteroError(f"retries: expected >= 0, got {self.retries}")
        if self.fraction is not None and self.budget is not None:
            raise HeteroError("give either fraction or budget, not both")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise HeteroError(f"fraction: expected a number in (0, 1], got {self.fraction}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise HeteroError(f"max_epochs: expected at least 1, got {self.max_epochs}")
        if not isinstance(self.controls, bool):
            object.__setattr__(self, "controls", tuple(self.controls))
        if self.stability_boot < 0:
            raise HeteroError(f"stability_boot: expected >= 0, got {self.stability_boot}")

    @classmethod
    def from_options(cls, config: MeasureConfig | None = None, **options: Any) -> MeasureConfig:
        """``config`` (or the defaults) with ``options`` replaced; unknown names refused."""
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise HeteroError(
                f"unknown measure option {unknown[0]!r} (valid: {', '.join(sorted(valid))})"
            )
        base = config if config is not None else cls()
        return dataclasses.replace(base, **options) if options else base

    # ------------------------------------------------------------------ derived
    @property
    def auto_seeds(self) -> bool:
        """Whether seeds are added adaptively (``seeds="auto"``)."""
        return self.seeds == "auto"

    @property
    def n_seeds(self) -> int:
        """Transfer seeds of the first pass (2 with ``"auto"``)."""
        return 2 if self.auto_seeds else int(self.seeds)

    @property
    def n_baseline_seeds(self) -> int:
        """Seeds of each scratch baseline (default twice the transfer seeds)."""
        from hetero.measure.planner import baseline_seed_count

        return baseline_seed_count(self.n_seeds, self.baseline_seeds)

    @property
    def sampled(self) -> bool:
        """Whether only a sampled design of pairs is measured."""
        return self.fraction is not None or self.budget is not None

    def build_estimator(self, learner: Any) -> Any:
        """The :class:`~hetero.measure.estimators.Estimator` for ``learner`` (the learner's
        default when none is named); a learner that refuses its transfer mode fails here,
        before anything trains."""
        from hetero.measure.estimators import default_estimator, get_estimator

        est = get_estimator(self.estimator or default_estimator(learner))
        try:
            learner.check_mode(est.transfer_mode)
        except LearnerError as exc:
            raise LearnerError(
                f"estimator {est.name!r} needs transfer mode {est.transfer_mode!r}, which "
                f"learner {learner.name!r} does not accept ({exc})"
            ) from None
        return est

    def build_learner(self) -> tuple[str, dict[str, Any], Any]:
        """``(name, full config, learner instance)``; validates the name and config."""
        from hetero.learners.base import Learner
        from hetero.learners.registry import default_learner_name, get_learner

        learner = self.learner
        if isinstance(learner, Learner):
            name = learner.name
            cfg = {**learner.get_config(), **self.learner_config}
        else:
            name = learner or default_learner_name()
            cfg = dict(self.learner_config)
        if self.max_epochs is not None:
            cfg["max_epochs"] = int(self.max_epochs)
        if isinstance(learner, Learner):  # an instance: workers rebuild it from its class
            try:
                obj = type(learner)(**cfg)
            except TypeError as exc:
                raise LearnerError(f"learner {name!r}: bad config {sorted(cfg)} ({exc})") from None
        else:
            obj = get_learner(name, **cfg)
        return name, obj.get_config(), obj
