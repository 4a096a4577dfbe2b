"""GroupingPlan: which units share unimodal parameters and which interaction units share
crossmodal parameters.

JSON (version 1)::

    {"version": 1,
     "unimodal": {"groups": [["task/mod", ...], ...],
                  "labels": [...], "linkage": [[a, b, height, size], ...]},   # optional
     "crossmodal": {"groups": [["task/modA+modB", ...], ...]},               # [] if none
     "stability": {"unimodal": {"labels": [...], "co_assignment": [[...]],   # optional
                                "n_boot": 50, "mean_stability": 0.9,
                                "ari_mean": 0.8, "ari_low": 0.5, "ari_high": 1.0, ...},
                   "crossmodal": {...}},
     "provenance": {...}}

``linkage`` is scipy's linkage matrix over ``labels`` (the matrix order). Unit labels have
no ``+``; interaction-unit labels have one, which is how :meth:`GroupingPlan.group_of`
tells them apart. An empty crossmodal section means that all interaction units share one
crossmodal group (group 0), the HighMMT default without interaction heterogeneity.

``stability`` (optional; files without it load as before) says how reproducible the groups
are: ``co_assignment[i][j]`` is the share of bootstrap re-estimates (over the measurement's
seeds) whose plan puts ``labels[i]`` and ``labels[j]`` in the same group; ``ari_*`` the mean
and 2.5 / 97.5 percentiles of the adjusted Rand index of those plans against this one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hetero._io import read_json, to_jsonable, write_json
from hetero.errors import PlanError
from hetero.suite.units import is_interaction_label, unit_label

__all__ = ["PLAN_VERSION", "GroupingPlan", "read_plan"]

PLAN_VERSION = 1


def _labels_of(units: Iterable[Any]) -> list[str]:
    return [unit_label(u) for u in units]


def _check_groups(
    section: str, groups: Any, *, interaction: bool, source: str | None
) -> list[list[str]]:
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (Sequence, np.ndarray)):
        raise PlanError(
            f"'{section}.groups': expected a list of lists of labels, got {type(groups).__name__}",
            source=source,
        )
    out: list[list[str]] = []
    seen: dict[str, int] = {}
    for g, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not isinstance(group, (Sequence, np.ndarray)):
            raise PlanError(
                f"'{section}.groups'[{g}]: expected a list of labels, got {group!r}", source=source
            )
        if len(group) == 0:
            raise PlanError(f"'{section}.groups'[{g}]: empty group", source=source)
        members = []
        for label in group:
            if not isinstance(label, str) or not label:
                raise PlanError(
                    f"'{section}.groups'[{g}]: expected label strings, got {label!r}",
                    source=source,
                )
            if is_interaction_label(label) != interaction:
                what = (
                    "interaction-unit labels 'task/modA+modB'"
                    if interaction
                    else ("unit labels 'task/modality' (no '+')")
                )
                raise PlanError(
                    f"'{section}.groups'[{g}]: {label!r}: expected {what}", source=source
                )
            if label in seen:
                raise PlanError(
                    f"'{section}.groups': label {label!r} is in group {seen[label]} and {g}",
                    source=source,
                )
            seen[label] = g
            members.append(label)
        out.append(members)
    return out


def _check_linkage(
    section: str, linkage: Any, labels: Any, groups: list[list[str]], source: str | None
) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    if linkage is None:
        return None, None
    try:
        Z = np.asarray(linkage, dtype=float)
    except (TypeError, ValueError):
        raise PlanError(f"'{section}.linkage': expected a list of numbers", source=source) from None
    members = {label for group in groups for label in group}
    if labels is None:
        raise PlanError(f"'{section}.labels': needed with a linkage", source=source)
    labels = tuple(labels)
    if set(labels) != members or len(labels) != len(members):
        raise PlanError(
            f"'{section}.labels': expected the {len(members)} grouped labels", source=source
        )
    n = len(labels)
    bad = Z.shape != (n - 1, 4) if n > 1 else Z.size != 0
    if bad or not np.isfinite(Z).all():
        raise PlanError(
            f"'{section}.linkage': expected finite numbers of shape ({n - 1}, 4) for {n}"
            f" labels, got shape {Z.shape}",
            source=source,
        )
    return Z.reshape(max(n - 1, 0), 4), labels


def _check_stability(stab: Any, sides: dict[str, list[str]], source: str | None) -> dict | None:
    """The optional ``stability`` section: per side labels matching the grouped ones, a
    square ``co_assignment`` of shares in [0, 1]; other entries kept as they are."""
    if stab is None:
        return None
    if not isinstance(stab, Mapping):
        raise PlanError("'stability': expected a JSON object", source=source)
    out: dict[str, Any] = {}
    for side, sec in stab.items():
        where = f"'stability.{side}'"
        if side not in sides:
            raise PlanError(
                f"'stability': unknown section {side!r} (expected unimodal or crossmodal)",
                source=source,
            )
        if not isinstance(sec, Mapping):
            raise PlanError(f"{where}: expected a JSON object", source=source)
        labels = sec.get("labels")
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
            raise PlanError(f"{where}.labels: expected a list of labels", source=source)
        labels = [str(x) for x in labels]
        if sorted(labels) != sorted(sides[side]):
            raise PlanError(
                f"{where}.labels: expected the {len(sides[side])} labels of the {side} groups",
                source=source,
            )
        n = len(labels)
        try:
            co = np.asarray(sec.get("co_assignment"), dtype=float)
        except (TypeError, ValueError):
            co = np.full(1, np.nan)
        if co.shape != (n, n) or not np.isfinite(co).all() or (co < 0).any() or (co > 1).any():
            raise PlanError(
                f"{where}.co_assignment: expected an {n} x {n} matrix of shares in [0, 1]",
                source=source,
            )
        n_boot = sec.get("n_boot")
        if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
            raise PlanError(f"{where}.n_boot: expected a positive integer, got {n_boot!r}",
                            source=source)  # fmt: skip
        out[side] = {**dict(sec), "labels": labels, "co_assignment": co, "n_boot": int(n_boot)}
    return out


class GroupingPlan:
    """Parameter-sharing plan: unimodal groups over units, crossmodal groups over
    interaction units.

    Parameters
    ----------
    unimodal_groups : list of list of str
        Unit labels (``task/modality``), each in exactly one group.
    crossmodal_groups : list of list of str, default=()
        Interaction-unit labels (``task/modA+modB``). Empty: all interaction units share
        one crossmodal group, 0.
    unimodal_linkage, crossmodal_linkage : ndarray of shape (m - 1, 4), optional
        scipy linkage matrices the groups were cut from.
    unimodal_labels, crossmodal_labels : sequence of str, optional
        Leaf order of the linkage matrices (required with a linkage).
    provenance : dict, optional
    stability : dict, optional
        ``{"unimodal": {...}, "crossmodal": {...}}`` (either optional): bootstrap
        co-assignment of each side (format in the module docstring);
        :func:`hetero.measure.stability.co_assignment` computes it from a measurement.
    source : str, optional
        File the plan came from (error messages).

    Raises
    ------
    PlanError
        Empty groups, a label in two groups, a label of the wrong kind, a bad linkage.
    """

    def __init__(
        self,
        unimodal_groups: Sequence[Sequence[str]],
        crossmodal_groups: Sequence[Sequence[str]] = (),
        *,
        unimodal_linkage: Any = None,
        crossmodal_linkage: Any = None,
        unimodal_labels: Sequence[str] | None = None,
        crossmodal_labels: Sequence[str] | None = None,
        provenance: Mapping[str, Any] | None = None,
        stability: Mapping[str, Any] | None = None,
        source: str | os.PathLike | None = None,
    ):
        src = None if source is None else str(source)
        self.source = src
        self.unimodal_groups = _check_groups(
            "unimodal", unimodal_groups, interaction=False, source=src
        )
        if not self.unimodal_groups:
            raise PlanError("'unimodal.groups': expected at least one group", source=src)
        self.crossmodal_groups = _check_groups(
            "crossmodal", crossmodal_groups, interaction=True, source=src
        )
        self.unimodal_linkage, self.unimodal_labels = _check_linkage(
            "unimodal", unimodal_linkage, unimodal_labels, self.unimodal_groups, src
        )
        self.crossmodal_linkage, self.crossmodal_labels = _check_linkage(
            "crossmodal", crossmodal_linkage, crossmodal_labels, self.crossmodal_groups, src
        )
        self.provenance: dict[str, Any] = dict(provenance or {})
        self.stability = stability
        self._index = {label: g for g, group in enumerate(self.unimodal_groups) for label in group}
        self._index.update(
            {label: g for g, group in enumerate(self.crossmodal_groups) for label in group}
        )

    # ------------------------------------------------------------------ stability
    @property
    def stability(self) -> dict[str, Any] | None:
        """Bootstrap co-assignment of each side (``{"unimodal": {...}, "crossmodal": {...}}``)
        or None; checked when set."""
        return self._stability

    @stability.setter
    def stability(self, value: Mapping[str, Any] | None) -> None:
        sides = {"unimodal": self.units, "crossmodal": self.interaction_units}
        self._stability = _check_stability(value or None, sides, self.source)

    # ------------------------------------------------------------------ lookups
    @property
    def n_unimodal_groups(self) -> int:
        """Number of unimodal groups."""
        return len(self.unimodal_groups)

    @property
    def n_crossmodal_groups(self) -> int:
        """Number of crossmodal groups (0 = one shared crossmodal group for all)."""
        return len(self.crossmodal_groups)

    @property
    def units(self) -> list[str]:
        """Unit labels in group order."""
        return [label for group in self.unimodal_groups for label in group]

    @property
    def interaction_units(self) -> list[str]:
        """Interaction-unit labels in group order."""
        return [label for group in self.crossmodal_groups for label in group]

    def group_of(self, label: Any) -> int:
        """Group index of a unit or interaction unit (a label or an object with ``.label``).

        Interaction units (labels with ``+``) are looked up in the crossmodal groups;
        with no crossmodal groups every interaction unit is in group 0.
        """
        label = unit_label(label)
        interaction = is_interaction_label(label)
        if interaction and not self.crossmodal_groups:
            return 0
        try:
            return self._index[label]
        except KeyError:
            kind = "crossmodal" if interaction else "unimodal"
            raise PlanError(
                f"{label!r} is not in the plan's {kind} groups", source=self.source
            ) from None

    def validate(self, suite: Any) -> GroupingPlan:
        """Check that the plan covers exactly the units of ``suite``; return ``self``.

        ``suite`` is anything with ``units()`` and ``interaction_units()`` returning
        objects with a ``label`` (a :class:`hetero.suite.Suite`). Crossmodal groups are
        checked only when the plan has some.
        """
        checks = [("unimodal", _labels_of(suite.units()), self.units)]
        if self.crossmodal_groups:
            checks.append(
                ("crossmodal", _labels_of(suite.interaction_units()), self.interaction_units)
            )
        for section, wanted, have in checks:
            self._check_covers(section, wanted, have, "suite")
        return self

    def validate_matrix(self, matrix: Any) -> GroupingPlan:
        """Check that the plan groups exactly the labels of ``matrix``; return ``self``.

        A modality matrix is checked against the unimodal groups, an interaction matrix
        (``kind == "interaction"``) against the crossmodal groups.
        """
        if matrix.kind == "interaction":
            if not self.crossmodal_groups:
                raise PlanError(
                    "an interaction matrix needs a plan with crossmodal groups", source=self.source
                )
            self._check_covers("crossmodal", list(matrix.labels), self.interaction_units, "matrix")
        else:
            self._check_covers("unimodal", list(matrix.labels), self.units, "matrix")
        return self

    def _check_covers(self, section: str, wanted: list[str], have: list[str], what: str) -> None:
        missing = [label for label in wanted if label not in set(have)]
        extra = [label for label in have if label not in set(wanted)]
        if missing:
            raise PlanError(
                f"'{section}.groups': {what} units not in the plan: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}",
                source=self.source,
            )
        if extra:
            raise PlanError(
                f"'{section}.groups': labels not in the {what}: "
                f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}",
                source=self.source,
            )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def share_all_labels(
        cls, units: Iterable[Any], interaction_units: Iterable[Any] = ()
    ) -> GroupingPlan:
        """One unimodal group of all units, one crossmodal group of all interaction units."""
        from hetero._provenance import provenance

        u, c = _labels_of(units), _labels_of(interaction_units)
        return cls([u], [c] if c else [], provenance=provenance(plan="share_all"))

    @classmethod
    def share_none_labels(
        cls, units: Iterable[Any], interaction_units: Iterable[Any] = ()
    ) -> GroupingPlan:
        """One group per unit and one per interaction unit."""
        from hetero._provenance import provenance

        u, c = _labels_of(units), _labels_of(interaction_units)
        return cls([[x] for x in u], [[x] for x in c], provenance=provenance(plan="share_none"))

    @classmethod
    def share_all(cls, suite: Any) -> GroupingPlan:
        """Share-all plan of a suite (anything with ``units()``/``interaction_units()``)."""
        return cls.share_all_labels(suite.units(), suite.interaction_units())

    @classmethod
    def share_none(cls, suite: Any) -> GroupingPlan:
        """Share-none plan of a suite."""
        return cls.share_none_labels(suite.units(), suite.interaction_units())

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the plan file format."""

        def section(groups, linkage, labels) -> dict[str, Any]:
            out: dict[str, Any] = {"groups": [list(g) for g in groups]}
            if linkage is not None:
                out["labels"] = list(labels)
                out["linkage"] = to_jsonable(linkage)
            return out

        out = {
            "version": PLAN_VERSION,
            "unimodal": section(self.unimodal_groups, self.unimodal_linkage, self.unimodal_labels),
            "crossmodal": section(
                self.crossmodal_groups, self.crossmodal_linkage, self.crossmodal_labels
            ),
        }
        if self.stability:
            out["stability"] = to_jsonable(self.stability)
        out["provenance"] = to_jsonable(self.provenance)
        return out

    @classmethod
    def from_dict(cls, d: Any, source: str | os.PathLike | None = None) -> GroupingPlan:
        """Build a plan from its JSON dict; one-line :class:`PlanError` on bad input."""
        src = None if source is None else str(source)
        if not isinstance(d, Mapping):
            raise PlanError(f"expected a JSON object, got {type(d).__name__}", source=src)
        if "version" not in d:
            raise PlanError("missing field 'version'", source=src)
        if d["version"] != PLAN_VERSION:
            raise PlanError(
                f"'version': unsupported plan version {d['version']!r} (expected {PLAN_VERSION})",
                source=src,
            )
        sections = {}
        for name in ("unimodal", "crossmodal"):
            sec = d.get(name, {"groups": []} if name == "crossmodal" else None)
            if not isinstance(sec, Mapping) or "groups" not in sec:
                raise PlanError(f"'{name}': expected an object with 'groups'", source=src)
            sections[name] = sec
        prov = d.get("provenance")
        if prov is not None and not isinstance(prov, Mapping):
            raise PlanError("'provenance': expected a JSON object", source=src)
        if d.get("stability") is not None and not isinstance(d["stability"], Mapping):
            raise PlanError("'stability': expected a JSON object", source=src)
        u, c = sections["unimodal"], sections["crossmodal"]
        return cls(
            u["groups"],
            c["groups"],
            unimodal_linkage=u.get("linkage"),
            crossmodal_linkage=c.get("linkage"),
            unimodal_labels=u.get("labels"),
            crossmodal_labels=c.get("labels"),
            provenance=prov,
            stability=d.get("stability"),
            source=src,
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> GroupingPlan:
        """Read a plan JSON file."""
        return cls.from_dict(read_json(path, error=PlanError), source=path)

    def write(self, path: str | os.PathLike) -> None:
        """Write the plan as JSON (atomically)."""
        write_json(path, self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupingPlan):
            return NotImplemented
        return self.to_dict() | {"provenance": None} == other.to_dict() | {"provenance": None}

    __hash__ = None  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        """Rich display in notebooks: the groups of each kind as lists."""
        from hetero.report.display import plan_html

        return plan_html(self)

    def __repr__(self) -> str:
        return (
            f"GroupingPlan(unimodal={self.n_unimodal_groups} groups over {len(self.units)} units,"
            f" crossmodal={self.n_crossmodal_groups} groups over"
            f" {len(self.interaction_units)} interaction units)"
        )


def read_plan(path: str | os.PathLike) -> GroupingPlan:
    """Read a plan JSON file (same as :meth:`GroupingPlan.read`)."""
    return GroupingPlan.read(path)
