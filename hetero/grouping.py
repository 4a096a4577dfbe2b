"""Agglomerative clustering of heterogeneity distances into parameter-sharing groups.

HighMMT (appendix A.3) clusters units on the modality heterogeneity matrix and interaction
units on the interaction heterogeneity matrix; the number of clusters is a parameter
budget. Linkage is scipy's on the condensed distance form; cuts replay the merges so that
asking for ``k`` groups always gives exactly ``k`` groups, even with tied heights.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hetero.errors import HeteroWarning, PlanError
from hetero.matrix import HeterogeneityMatrix, square_values
from hetero.plan import GroupingPlan

__all__ = ["LINKAGE_METHODS", "auto_n_groups", "cluster", "cut", "make_plan", "split_budget"]

LINKAGE_METHODS = ("average", "complete", "single")


def _prepare(distance: HeterogeneityMatrix | np.ndarray) -> np.ndarray:
    """Complete, symmetric (averaged), non-negative, hollow copy of the distances."""
    D, _, source = square_values(distance, name="distance matrix", allow_nan=False)
    where = f"{source}: " if source else ""
    scale = max(float(np.abs(D).max()), 1e-300)
    asym = float(np.abs(D - D.T).max())
    if asym > 1e-9 * scale:
        i, j = np.unravel_index(int(np.argmax(np.abs(D - D.T))), D.shape)
        warnings.warn(
            f"{where}distance matrix is not symmetric (max |D[i,j] - D[j,i]| = {asym:.4g} at "
            f"[{i}][{j}]); clustering uses (D + D^T) / 2. A directed transfer matrix? Use its "
            "distance matrix (modality.json, not modality_transfer.json)",
            HeteroWarning,
            stacklevel=3,
        )
    D = 0.5 * (D + D.T)
    off = ~np.eye(len(D), dtype=bool)
    if (D[off] < 0).any():
        warnings.warn(
            f"{where}{int((D[off] < 0).sum())} off-diagonal distances are negative (min "
            f"{float(D[off].min()):.4g}); clustering treats them as 0",
            HeteroWarning,
            stacklevel=3,
        )
    if np.abs(np.diag(D)).max() > 1e-9 * scale:
        warnings.warn(
            f"{where}distance matrix has a non-zero diagonal; clustering ignores it",
            HeteroWarning,
            stacklevel=3,
        )
    D = np.maximum(D, 0.0)
    np.fill_diagonal(D, 0.0)
    return D


def _check_method(method: str) -> str:
    if method not in LINKAGE_METHODS:
        raise PlanError(
            f"unknown linkage method {method!r} (expected one of {', '.join(LINKAGE_METHODS)})"
        )
    return method


def cut(
    linkage: np.ndarray, n: int, *, n_groups: int | None = None, threshold: float | None = None
) -> np.ndarray:
    """Flat groups from a linkage matrix.

    Replays the merges in order: the first ``n - n_groups`` of them, or those with
    height ``<= threshold``. Groups are numbered by their first member (group 0 holds
    item 0).
    """
    parent = list(range(2 * n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for step, (a, b, height, _) in enumerate(np.asarray(linkage).reshape(-1, 4)):
        if n_groups is not None and step >= n - n_groups:
            break
        if threshold is not None and height > threshold:
            break
        parent[find(int(a))] = n + step
        parent[find(int(b))] = n + step
    roots = [find(i) for i in range(n)]
    numbering: dict[int, int] = {}
    return np.array([numbering.setdefault(r, len(numbering)) for r in roots], dtype=int)


def auto_n_groups(linkage: np.ndarray, n: int) -> int:
    """Number of groups at the largest gap between successive merge heights.

    Cutting after ``m`` merges (``n - m`` groups, 2 <= groups <= n - 1) where
    ``h[m] - h[m - 1]`` is largest; 1 when ``n <= 2``.
    """
    if n <= 2:
        return 1
    h = np.asarray(linkage)[:, 2]
    gaps = np.diff(h)  # gaps[m - 1] = h[m] - h[m - 1], m = 1 .. n - 2
    m = int(np.argmax(gaps)) + 1
    return n - m


def cluster(
    distance: HeterogeneityMatrix | np.ndarray,
    *,
    n_groups: int | None = None,
    threshold: float | None = None,
    method: str = "average",
) -> tuple[np.ndarray, np.ndarray]:
    """Agglomerative clustering on precomputed distances.

    Parameters
    ----------
    distance : HeterogeneityMatrix or array of shape (n, n)
        Complete distances; averaged with its transpose, clipped at 0, zero diagonal.
    n_groups : int, optional
        Exact number of groups, 1 <= n_groups <= n.
    threshold : float, optional
        Merge height at which to cut instead. With neither, :func:`auto_n_groups`.
    method : {"average", "complete", "single"}

    Returns
    -------
    labels : ndarray of int, shape (n,)
        Group of each item (numbered by first member).
    linkage : ndarray of shape (n - 1, 4)
        scipy linkage matrix.
    """
    from scipy.cluster.hierarchy import linkage as _linkage
    from scipy.spatial.distance import squareform

    _check_method(method)
    D = _prepare(distance)
    n = D.shape[0]
    if n_groups is not None and threshold is not None:
        raise PlanError("give n_groups or threshold, not both")
    if n_groups is not None:
        if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)):
            raise PlanError(f"number of groups: expected an integer, got {n_groups!r}")
        if not 1 <= n_groups <= n:
            raise PlanError(
                f"number of groups {n_groups} must be between 1 and the number of units ({n})"
            )
    if n == 1:
        return np.zeros(1, dtype=int), np.zeros((0, 4))
    Z = _linkage(squareform(D, checks=False), method=method)
    if n_groups is None and threshold is None:
        n_groups = auto_n_groups(Z, n)
    return cut(Z, n, n_groups=n_groups, threshold=threshold), Z


def split_budget(k: int, n_units: int, n_interaction_units: int) -> tuple[int, int]:
    """Split a total group budget ``k`` into unimodal and crossmodal groups.

    Rule: proportional to the number of units and interaction units,
    ``u = round(k * n_units / (n_units + n_interaction_units))``, then clamped so that each
    side gets at least 1 group (when it has items) and at most its number of items, the
    surplus going to the other side. Without interaction units all of ``k`` is unimodal.

    Raises
    ------
    PlanError
        ``k`` below the number of non-empty sides or above the total number of items.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise PlanError(f"total groups: expected an integer, got {k!r}")
    if n_units < 1:
        raise PlanError("total groups: there are no units to group")
    total = n_units + n_interaction_units
    sides = 1 + (n_interaction_units > 0)
    if not sides <= k <= total:
        raise PlanError(
            f"total groups {k} must be between {sides} and the number of units plus"
            f" interaction units ({total})"
        )
    if n_interaction_units == 0:
        return int(k), 0
    u = round(k * n_units / total)
    u = min(max(u, 1), n_units, k - 1)
    c = k - u
    if c > n_interaction_units:
        u, c = k - n_interaction_units, n_interaction_units
    return int(u), int(c)


def _groups(labels: tuple[str, ...], assignment: np.ndarray) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(int(assignment.max()) + 1)]
    for label, g in zip(labels, assignment, strict=True):
        groups[int(g)].append(label)
    return groups


def _centred(m: HeterogeneityMatrix) -> HeterogeneityMatrix:
    """``d_ij - e_i - e_j`` shifted so its smallest off-diagonal entry is 0 (linkage merge
    orders do not change under a constant shift)."""
    from hetero.nulls import main_effects

    values, _, _ = square_values(m, name="distance matrix", allow_nan=False)
    r = main_effects(0.5 * (values + values.T)).residual
    off = ~np.eye(len(r), dtype=bool)
    r = np.where(off, r - (r[off].min() if off.any() else 0.0), 0.0)
    return m.copy(values=r, std=None)


def make_plan(
    modality: HeterogeneityMatrix,
    interaction: HeterogeneityMatrix | None = None,
    *,
    unimodal_groups: int | None = None,
    crossmodal_groups: int | None = None,
    total_groups: int | None = None,
    method: str = "average",
    remove_main_effects: bool = False,
) -> GroupingPlan:
    """Cluster the heterogeneity matrices into a :class:`GroupingPlan`.

    Parameters
    ----------
    modality : HeterogeneityMatrix
        Complete modality distance matrix (kind ``"modality"``, unit labels).
    interaction : HeterogeneityMatrix, optional
        Complete interaction distance matrix (kind ``"interaction"``). Without it the plan
        has no crossmodal groups (all interaction units share one).
    unimodal_groups, crossmodal_groups : int, optional
        Number of groups of each side; a side left out is chosen by the largest gap in
        its merge heights (:func:`auto_n_groups`).
    total_groups : int, optional
        A total budget split by :func:`split_budget` (instead of the two counts).
    method : {"average", "complete", "single"}
    remove_main_effects : bool
        Cluster the double-centred distances ``d_ij - e_i - e_j`` (the main effects fitted
        by :func:`hetero.nulls.main_effects`, shifted to be non-negative) instead of ``d``:
        groups by how units relate, not by which units are far from everything (which
        otherwise splits off outliers as singletons).
    """
    from hetero._provenance import provenance

    _check_method(method)
    for name, m, kind in (
        ("modality", modality, "modality"),
        ("interaction", interaction, "interaction"),
    ):
        if m is None:
            continue
        if not isinstance(m, HeterogeneityMatrix):
            raise PlanError(f"{name}: expected a HeterogeneityMatrix, got {type(m).__name__}")
        if m.kind != kind:
            raise PlanError(
                f"{name} matrix: expected kind {kind!r}, got {m.kind!r}", source=m.source
            )
    if total_groups is not None:
        if unimodal_groups is not None or crossmodal_groups is not None:
            raise PlanError("give total_groups or unimodal/crossmodal groups, not both")
        n_inter = interaction.n if interaction is not None else 0
        unimodal_groups, crossmodal_groups = split_budget(total_groups, modality.n, n_inter)
    if interaction is None and crossmodal_groups:
        raise PlanError("crossmodal groups requested but no interaction matrix given")
    if remove_main_effects:
        modality = _centred(modality)
        interaction = None if interaction is None else _centred(interaction)
    try:
        u_assign, u_link = cluster(modality, n_groups=unimodal_groups, method=method)
    except PlanError as exc:
        raise PlanError(f"unimodal: {exc}", source=modality.source) from None
    kwargs: dict[str, Any] = {}
    crossmodal: list[list[str]] = []
    if interaction is not None:
        try:
            c_assign, c_link = cluster(interaction, n_groups=crossmodal_groups, method=method)
        except PlanError as exc:
            raise PlanError(f"crossmodal: {exc}", source=interaction.source) from None
        crossmodal = _groups(interaction.labels, c_assign)
        kwargs.update(crossmodal_linkage=c_link, crossmodal_labels=interaction.labels)
    prov = provenance(
        step="make_plan",
        method=method,
        unimodal_groups_requested=unimodal_groups,
        crossmodal_groups_requested=crossmodal_groups,
        total_groups=total_groups,
        representation="main-effects removed" if remove_main_effects else "distances",
        modality_source=modality.source,
        interaction_source=None if interaction is None else interaction.source,
    )
    return GroupingPlan(
        _groups(modality.labels, u_assign),
        crossmodal,
        unimodal_linkage=u_link,
        unimodal_labels=modality.labels,
        provenance=prov,
        source=None,
        **kwargs,
    )
