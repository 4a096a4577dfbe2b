"""Plan-driven parameter groups for any model that declares shareable blocks.

A *shareable block* is an ``nn.Module`` that maps a list of per-unit inputs to a list of
per-unit outputs (and batches the list internally). Wrapping it in a :class:`GroupedBlock`
with a kind -- ``"unimodal"`` (routes unit labels ``task/modality``) or ``"crossmodal"``
(routes interaction labels ``task/modA+modB``) -- is all a model needs to do:
:meth:`GroupedModel.apply_plan` then holds one copy of the block per plan group (an
``nn.ModuleDict`` keyed by ``str(group)``), every copy initialised from the current
(e.g. pre-trained, fully shared) weights, and each call routes every unit to its group's
copy, one batched call per group. Share-all and share-none are ordinary plans.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from torch import nn

from hetero.errors import PlanError

__all__ = ["KINDS", "GroupedBlock", "GroupedModel", "count_parameters", "plan_groups"]

#: block kind -> the plan field that groups its units
KINDS = {"unimodal": "unimodal_groups", "crossmodal": "crossmodal_groups"}


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (shared tensors counted once)."""
    seen = set()
    total = 0
    for p in module.parameters():
        if id(p) not in seen and p.requires_grad:
            seen.add(id(p))
            total += p.numel()
    return total


def plan_groups(plan: Any, kind: str) -> list[list[str]]:
    """The label groups of ``plan`` for a block ``kind`` (a GroupingPlan or a plain dict)."""
    field = KINDS[kind]
    groups = plan[field] if isinstance(plan, dict) else getattr(plan, field)
    return [list(g) for g in groups]


class GroupedBlock(nn.Module):
    """A shareable block held once per parameter group.

    Parameters
    ----------
    block : nn.Module
        ``block(items: list) -> list`` (one output per item, same order).
    kind : {"unimodal", "crossmodal"}
        Which plan field groups this block's labels.

    Attributes
    ----------
    copies : nn.ModuleDict
        One block per group, keyed ``"0"``, ``"1"``, ...
    assignment : dict
        label -> group key; empty while there is one shared copy.
    """

    def __init__(self, block: nn.Module, kind: str):
        super().__init__()
        if kind not in KINDS:
            raise PlanError(f"block kind must be one of {sorted(KINDS)}, got {kind!r}")
        self.kind = kind
        self.copies = nn.ModuleDict({"0": block})
        self.assignment: dict[str, str] = {}

    @property
    def n_groups(self) -> int:
        return len(self.copies)

    def group_key(self, label: str) -> str:
        """Key of the copy that serves ``label``."""
        if len(self.copies) == 1 and not self.assignment:
            return "0"
        try:
            return self.assignment[label]
        except KeyError:
            raise PlanError(
                f"unit {label!r} is not in the {self.kind} groups of the plan"
            ) from None

    def regroup(self, groups: Sequence[Sequence[str]], labels: Sequence[str]) -> None:
        """Hold one copy per group; group ``g`` starts from the copy now serving its first
        member (so from the one shared copy when splitting a fully shared model).

        Every label in ``labels`` (the units this block will see) must be in a group;
        labels of other tasks in the plan are allowed and ignored.
        """
        groups = [list(g) for g in groups if len(g)]
        placed = {label: str(g) for g, members in enumerate(groups) for label in members}
        missing = [label for label in labels if label not in placed]
        if missing:
            raise PlanError(
                f"{self.kind} groups of the plan do not cover unit(s) {', '.join(missing)}"
            )
        if not groups:  # no units of this kind: keep the single copy
            return
        new = nn.ModuleDict()
        for g, members in enumerate(groups):
            new[str(g)] = copy.deepcopy(self._source(members))
        self.copies = new
        self.assignment = placed

    def _source(self, members: Sequence[str]) -> nn.Module:
        """The copy a new group starts from: the one serving its first placed member."""
        if len(self.copies) == 1:
            return next(iter(self.copies.values()))
        for label in members:
            if label in self.assignment:
                return self.copies[self.assignment[label]]
        return self.copies["0"]

    def forward(self, labels: Sequence[str], items: Sequence[Any]) -> list[Any]:
        """Route ``items[i]`` (the input of unit ``labels[i]``) to its group's copy.

        Items of one group go through their copy in one call; outputs come back in order.
        """
        if len(self.copies) == 1:
            (block,) = self.copies.values()
            return block(list(items))
        by_group: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_group.setdefault(self.group_key(label), []).append(i)
        out: list[Any] = [None] * len(items)
        for key, idx in by_group.items():
            results = self.copies[key]([items[i] for i in idx])
            for i, r in zip(idx, results, strict=True):
                out[i] = r
        return out


class GroupedModel(nn.Module):
    """Base class for models whose shareable blocks follow a :class:`GroupingPlan`.

    Subclasses create their shareable blocks as :class:`GroupedBlock` attributes and
    implement :meth:`unit_labels` (the labels each kind of block routes).
    """

    def grouped_blocks(self) -> dict[str, GroupedBlock]:
        """``{attribute path: block}`` for every grouped block of the model."""
        return {name: m for name, m in self.named_modules() if isinstance(m, GroupedBlock)}

    def unit_labels(self, kind: str) -> list[str]:  # pragma: no cover - abstract
        """Labels routed by blocks of ``kind`` ("unimodal" or "crossmodal")."""
        raise NotImplementedError

    def apply_plan(self, plan: Any | None) -> GroupedModel:
        """Split every grouped block by ``plan`` (None = share all); returns ``self``.

        Copies start from the current weights, so calling this after pre-training the
        fully shared model gives the paper's heterogeneity-aware initialisation.
        """
        for block in self.grouped_blocks().values():
            labels = self.unit_labels(block.kind)
            groups = [] if plan is None else plan_groups(plan, block.kind)
            if not groups:  # share all (also for a plan without groups of this kind)
                groups = [labels] if labels else []
            block.regroup(groups, labels)
        return self

    def groups(self) -> dict[str, list[list[str]]]:
        """Current grouping per kind: ``{"unimodal_groups": [...], "crossmodal_groups": [...]}``."""
        out: dict[str, list[list[str]]] = {}
        for block in self.grouped_blocks().values():
            labels = self.unit_labels(block.kind)
            if block.assignment:
                keys = sorted(block.copies.keys(), key=int)
                members = {k: [lab for lab, g in block.assignment.items() if g == k] for k in keys}
                out[KINDS[block.kind]] = [members[k] for k in keys]
            else:
                out[KINDS[block.kind]] = [labels] if labels else []
        return out

    def parameter_report(self) -> dict[str, Any]:
        """Parameters per group of every grouped block, in the rest (``"other"``) and total."""
        report: dict[str, Any] = {}
        in_blocks = 0
        for name, block in self.grouped_blocks().items():
            per = {key: count_parameters(m) for key, m in block.copies.items()}
            report[name] = {"kind": block.kind, "groups": per, "total": sum(per.values())}
            in_blocks += sum(per.values())
        total = count_parameters(self)
        report["other"] = total - in_blocks
        report["total"] = total
        return report
