"""Candidates of a plan comparison: named plans, share-all, share-none, random plans.

Kinds (the ``kind`` of a :class:`Candidate`):

``plan``
    Fine-tuned from the shared pre-training checkpoint with the plan's groups.
``share_all``
    The same fine-tuning stage with every unit in one group (the fully shared model
    trained for as many epochs as the others).
``share_none``
    The paper's share-none: one independent model per task, trained from scratch on that
    task alone for the pre-training plus fine-tuning epochs (no shared pre-training).
``share_none_finetuned``
    Fine-tuned from the shared pre-training with every unit in its own group (what earlier
    experiments called share-none; a separate, named candidate).
``random``
    A plan with the reference plan's group sizes and units assigned at random (seeded).
``ablation``
    A fixed sharing pattern of the paper's Table 5 (:func:`ablation_plans`), fine-tuned
    from the shared pre-training like a plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero.errors import PlanError
from hetero.plan import GroupingPlan

__all__ = ["KINDS", "Candidate", "ablation_plans", "random_plans_like", "validate_names"]

KINDS = ("plan", "share_all", "share_none", "share_none_finetuned", "random", "ablation")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Candidate:
    """One contestant: a name, a kind (:data:`KINDS`) and the plan it fine-tunes with."""

    name: str
    kind: str
    plan: GroupingPlan | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise PlanError(
                f"candidate name {self.name!r}: expected 1-64 letters, digits, '_', '-' or '.',"
                " starting with a letter or digit"
            )
        if self.kind not in KINDS:
            raise PlanError(f"candidate kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if (self.plan is None) != (self.kind == "share_none"):
            raise PlanError(f"candidate {self.name!r}: a {self.kind} candidate needs a plan")

    def spec(self) -> dict[str, Any]:
        """What identifies the candidate's training (its run key is derived from it)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "plan": None if self.plan is None else _groups_only(self.plan),
        }


def _groups_only(plan: GroupingPlan) -> dict[str, Any]:
    return {
        "unimodal": [sorted(g) for g in plan.unimodal_groups],
        "crossmodal": [sorted(g) for g in plan.crossmodal_groups],
    }


def validate_names(candidates: Sequence[Candidate]) -> None:
    """Raise on duplicate candidate names."""
    seen: set[str] = set()
    for c in candidates:
        if c.name in seen:
            raise PlanError(f"candidate name {c.name!r} is used twice; names must be distinct")
        seen.add(c.name)


def _shuffle_like(groups: Sequence[Sequence[str]], rng: np.random.Generator) -> list[list[str]]:
    labels = [label for g in groups for label in g]
    order = [labels[i] for i in rng.permutation(len(labels))]
    out, start = [], 0
    for g in groups:
        out.append(order[start : start + len(g)])
        start += len(g)
    return out


def random_plans_like(plan: GroupingPlan, n: int, *, seed: int = 0) -> list[GroupingPlan]:
    """``n`` plans with ``plan``'s group sizes (unimodal and crossmodal) and units assigned
    uniformly at random; distinct from ``plan`` and from each other where the number of
    distinct partitions allows (up to 100 draws per plan).

    Parameters
    ----------
    plan : GroupingPlan
        The reference plan; its sizes and labels are kept.
    n : int
        Number of plans.
    seed : int
        Seed of the assignments; the same seed gives the same plans.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise PlanError(f"number of random plans: expected an integer >= 0, got {n!r}")
    rng = np.random.default_rng(seed)

    def key(p: GroupingPlan) -> tuple:
        return tuple(
            frozenset(frozenset(g) for g in groups)
            for groups in (p.unimodal_groups, p.crossmodal_groups)
        )

    seen = {key(plan)}
    out: list[GroupingPlan] = []
    for i in range(int(n)):
        for _attempt in range(100):
            candidate = GroupingPlan(
                _shuffle_like(plan.unimodal_groups, rng),
                _shuffle_like(plan.crossmodal_groups, rng),
                provenance={"step": "random_plans_like", "seed": seed, "index": i},
            )
            if key(candidate) not in seen:
                break
        seen.add(key(candidate))
        out.append(candidate)
    return out


def _by_task(labels: Sequence[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(label.split("/", 1)[0], []).append(label)
    return list(groups.values())


def ablation_plans(suite: Any) -> dict[str, GroupingPlan]:
    """The parameter-sharing ablations of the paper's Table 5 as plans.

    ``share-unimodal-only``: one unimodal encoder for every unit, one crossmodal block per
    task (the paper: "shares the unimodal layer during multitask training");
    ``share-crossmodal-only``: one unimodal encoder per task, one crossmodal block for
    every interaction unit. (Its "w/o unimodal" row removes a layer, which is an
    architecture, not a plan, and is not covered here.)
    """
    units = [u.label for u in suite.units()]
    inter = [u.label for u in suite.interaction_units()]
    return {
        "share-unimodal-only": GroupingPlan(
            [units], _by_task(inter), provenance={"step": "ablation_plans"}
        ),
        "share-crossmodal-only": GroupingPlan(
            _by_task(units), [inter] if inter else [], provenance={"step": "ablation_plans"}
        ),
    }
