"""Run planning: which scratch, baseline and transfer runs a measurement needs.

For each level (modality units, interaction units) and estimator the planner produces
:class:`~hetero.measure.keys.RunSpec` objects with content keys:

- scratch runs: every unit x every baseline seed (they are the transfer sources and, for
  the fine-tuning estimators, the baselines; the baseline of a column is shared by the whole
  column, so it gets more seeds than each transfer);
- baseline runs of the ``frozen`` estimator: the target's self-transfer (own scratch body,
  frozen) per baseline seed;
- transfer runs: every measured ordered pair (all off-diagonal pairs, or the pairs chosen by
  :func:`hetero.design.measurement_design`) x every transfer seed; transfer seed ``s``
  starts from the source's scratch seed ``s`` (runs paired by seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.measure.estimators import Estimator
from hetero.measure.keys import RunSpec, run_key
from hetero.suite.units import is_interaction_label, label_task

__all__ = ["LevelRuns", "RunPlanner", "baseline_seed_count", "design_mask"]


def baseline_seed_count(seeds: int, baseline_seeds: int | None = None, factor: float = 2.0) -> int:
    """Seeds of each scratch baseline: ``baseline_seeds`` or ``ceil(factor * seeds)``."""
    if seeds < 1:
        raise HeteroError(f"seeds: expected at least 1, got {seeds}")
    if baseline_seeds is None:
        return max(seeds, math.ceil(factor * seeds))
    if baseline_seeds < seeds:
        raise HeteroError(
            f"baseline_seeds: expected at least as many as the transfer seeds ({seeds}), "
            f"got {baseline_seeds}"
        )
    return int(baseline_seeds)


def design_mask(
    n: int, *, fraction: float | None = None, budget: int | None = None, seed: int = 0
) -> np.ndarray:
    """Ordered pairs to measure: all off-diagonal pairs, or a sampled design."""
    if fraction is None and budget is None:
        mask = ~np.eye(n, dtype=bool)
        return mask
    if fraction is not None and budget is not None:
        raise HeteroError("give either fraction or budget, not both")
    from hetero.design import measurement_design

    min_per_row = min(3, max(n - 1, 0))
    return np.asarray(
        measurement_design(n, fraction=fraction, budget=budget, min_per_row=min_per_row, seed=seed),
        dtype=bool,
    )


@dataclass
class LevelRuns:
    """The runs of one level (``"modality"`` or ``"interaction"``).

    Attributes
    ----------
    level : str
    labels : list of str
        Unit labels in matrix order.
    mask : ndarray of bool (n, n)
        Measured ordered pairs (source row, target column).
    scratch, baseline : dict (label, seed) -> RunSpec
    transfer : dict (source, target, seed) -> RunSpec
    """

    level: str
    labels: list[str]
    mask: np.ndarray
    scratch: dict[tuple[str, int], RunSpec] = field(default_factory=dict)
    baseline: dict[tuple[str, int], RunSpec] = field(default_factory=dict)
    transfer: dict[tuple[str, str, int], RunSpec] = field(default_factory=dict)

    def specs(self) -> list[RunSpec]:
        """All runs, each once: scratch first, then baselines, then transfers."""
        out: dict[str, RunSpec] = {}
        for group in (self.scratch, self.baseline, self.transfer):
            for spec in group.values():
                out.setdefault(spec.key, spec)
        return list(out.values())

    @property
    def n(self) -> int:
        return len(self.labels)


class RunPlanner:
    """Creates run specs with content keys for one suite, learner and estimator.

    Parameters
    ----------
    suite : Suite
    learner_name : str
    learner_config : dict
        JSON-able learner config (part of every key).
    estimator : Estimator
    keep_head : bool
        Keep the transferred head for transfers within the same task.
    """

    def __init__(
        self,
        suite: Any,
        learner_name: str,
        learner_config: dict[str, Any],
        estimator: Estimator,
        *,
        keep_head: bool = False,
    ):
        self.suite = suite
        self.learner_name = learner_name
        self.learner_config = learner_config
        self.estimator = estimator
        self.keep_head = bool(keep_head)
        self._fingerprints: dict[str, str] = {}

    def fingerprint(self, label: str) -> str:
        if label not in self._fingerprints:
            unit = self.suite.unit(label)
            task = self.suite.task(unit.task)
            self._fingerprints[label] = task.fingerprint(unit.modalities)
        return self._fingerprints[label]

    def _key(self, label: str, seed: int, **kw: Any) -> str:
        return run_key(
            fingerprint=self.fingerprint(label),
            unit=label,
            learner=self.learner_name,
            learner_config=self.learner_config,
            seed=seed,
            **kw,
        )

    @staticmethod
    def _level(label: str) -> str:
        return "interaction" if is_interaction_label(label) else "modality"

    def scratch(self, label: str, seed: int) -> RunSpec:
        """From-scratch run of ``label`` (its state is stored: it is a transfer source)."""
        key = self._key(label, seed, kind="scratch")
        return RunSpec(
            key=key, kind="scratch", level=self._level(label), unit=label, seed=int(seed),
            save_state=True,
        )  # fmt: skip

    def transfer(self, source: str, target: str, seed: int, *, mode: str | None = None) -> RunSpec:
        """Transfer run ``source -> target`` starting from the source's scratch run ``seed``."""
        est = self.estimator
        mode = mode or est.transfer_mode
        src = self.scratch(source, seed)
        same_task = label_task(source) == label_task(target)
        keep = self.keep_head and same_task and mode == "finetune" and source != target
        max_epochs = est.transfer_max_epochs
        key = self._key(
            target, seed, kind="transfer", mode=mode, keep_head=keep, max_epochs=max_epochs,
            source_key=src.key,
        )  # fmt: skip
        return RunSpec(
            key=key, kind="transfer", level=self._level(target), unit=target, seed=int(seed),
            source=source, source_key=src.key, mode=mode, keep_head=keep, max_epochs=max_epochs,
        )  # fmt: skip

    def baseline(self, label: str, seed: int) -> RunSpec:
        """Baseline run of column ``label``: scratch, or the frozen self-transfer."""
        if self.estimator.baseline == "self":
            return self.transfer(label, label, seed)
        return self.scratch(label, seed)

    def plan_level(
        self,
        level: str,
        labels: Sequence[str],
        *,
        seeds: Sequence[int],
        baseline_seeds: Sequence[int],
        mask: np.ndarray | None = None,
    ) -> LevelRuns:
        """All runs of one level.

        Parameters
        ----------
        level : {"modality", "interaction"}
        labels : sequence of str
        seeds : sequence of int
            Transfer seeds (each measured pair gets one transfer run per seed).
        baseline_seeds : sequence of int
            Baseline seeds (a superset of ``seeds``).
        mask : ndarray of bool (n, n), optional
            Ordered pairs to measure; default all off-diagonal pairs.
        """
        labels = list(labels)
        n = len(labels)
        if mask is None:
            mask = ~np.eye(n, dtype=bool)
        mask = np.asarray(mask, dtype=bool).copy()
        np.fill_diagonal(mask, False)
        if set(seeds) - set(baseline_seeds):
            raise HeteroError("baseline seeds must include every transfer seed (pairing)")
        runs = LevelRuns(level=level, labels=labels, mask=mask)
        for label in labels:
            for s in baseline_seeds:
                runs.scratch[(label, s)] = self.scratch(label, s)
                runs.baseline[(label, s)] = self.baseline(label, s)
        for i, j in zip(*np.nonzero(mask), strict=True):
            for s in seeds:
                runs.transfer[(labels[i], labels[j], s)] = self.transfer(labels[i], labels[j], s)
        return runs

    def add_seed(
        self, runs: LevelRuns, pairs: Sequence[tuple[int, int]], seed: int
    ) -> list[RunSpec]:
        """Add transfer seed ``seed`` to the ``(i, j)`` entries (with their sources and
        baselines); return the specs this needs (some may be stored already)."""
        new: list[RunSpec] = []
        for i, j in pairs:
            src, tgt = runs.labels[i], runs.labels[j]
            for label in (src, tgt):
                spec = runs.scratch.setdefault((label, seed), self.scratch(label, seed))
                new.append(spec)
            spec = runs.baseline.setdefault((tgt, seed), self.baseline(tgt, seed))
            new.append(spec)
            spec = self.transfer(src, tgt, seed)
            runs.transfer[(src, tgt, seed)] = spec
            new.append(spec)
        return new
