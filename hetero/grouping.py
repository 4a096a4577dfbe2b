"""Grouping heterogeneity distances into parameter-sharing groups.

HighMMT (appendix A.3) clusters units on the modality heterogeneity matrix and interaction
units on the interaction heterogeneity matrix; the number of clusters is a parameter
budget. Linkage is scipy's on the condensed distance form; cuts replay the merges so that
asking for ``k`` groups always gives exactly ``k`` groups, even with tied heights.

Besides a linkage cut, :func:`make_plan` can search for the ``k`` groups of least
within-group heterogeneity (:mod:`hetero.partition`), with a minimum group size, on the
distances as measured, baseline-normalised (:func:`normalised_distance`) or with the
per-unit main effects removed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hetero.errors import HeteroWarning, PlanError
from hetero.matrix import HeterogeneityMatrix, square_values
from hetero.plan import GroupingPlan

__all__ = [
    "LINKAGE_METHODS",
    "SEARCHES",
    "assign_groups",
    "auto_n_groups",
    "cluster",
    "cut",
    "make_plan",
    "normalised_distance",
    "split_budget",
]

LINKAGE_METHODS = ("average", "complete", "single")

#: How :func:`make_plan` forms groups: a linkage cut, or a partition search
#: (:mod:`hetero.partition`).
SEARCHES = ("linkage", "exact", "local", "auto")


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


def normalised_distance(transfer: HeterogeneityMatrix) -> HeterogeneityMatrix:
    """Baseline-normalised distances of a directed transfer matrix.

    ``d_ij = max(T_ij, 0) / L_j + max(T_ji, 0) / L_i`` with ``L_j`` the from-scratch
    (baseline) loss of unit ``j``, read from the matrix's provenance (``baseline_loss``,
    which ``hetero measure`` records in ``<level>_transfer.json``): transfer as a share of
    the target's own loss, so that units with large losses do not dominate the distances.

    Raises
    ------
    PlanError
        A distance matrix (the directions are already summed and cannot be normalised
        separately), or no baseline loss for some unit.
    """
    from hetero.distance import transfer_to_distance
    from hetero.errors import MatrixFormatError

    prov = transfer.provenance or {}
    config = prov.get("config")
    if isinstance(config, dict) and config.get("step") == "transfer_to_distance":
        raise PlanError(
            "normalising needs the directed transfer matrix (<level>_transfer.json of hetero "
            "measure), got a distance matrix",
            source=transfer.source,
        )
    loss = prov.get("baseline_loss")
    if not isinstance(loss, dict):
        raise PlanError(
            "normalising needs the baseline loss of each unit in the matrix's provenance "
            "('baseline_loss', as in <level>_transfer.json of hetero measure)",
            source=transfer.source,
        )
    try:
        return transfer_to_distance(transfer, scratch_loss=loss, normalize=True)
    except MatrixFormatError as exc:
        raise PlanError(f"normalising: {exc.detail}", source=transfer.source) from None


def _residual(D: np.ndarray) -> np.ndarray:
    """``d_ij - (e_i - e) - (e_j - e)``: the least-squares main effects ``e_i`` replaced by
    their mean ``e``, so that every unit is as far from all others on average while the mean
    distance (the price of sharing at all) is kept; zero diagonal. ``D`` as it is with fewer
    than 3 items (no main effects to fit)."""
    from hetero.nulls import main_effects

    if len(D) < 3:
        return D.copy()
    fit = main_effects(D)
    r = fit.residual + 2.0 * float(np.mean(fit.effects))
    np.fill_diagonal(r, 0.0)
    return r


def _shifted(r: np.ndarray) -> np.ndarray:
    """``r`` shifted so that its smallest off-diagonal entry is 0 (linkage merge orders do
    not change under a constant shift)."""
    off = ~np.eye(len(r), dtype=bool)
    return np.where(off, r - (r[off].min() if off.any() else 0.0), 0.0)


def _check_search(search: str, min_group_size: Any) -> None:
    if search not in SEARCHES:
        raise PlanError(f"unknown search {search!r} (expected one of {', '.join(SEARCHES)})")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, (int, np.integer)):
        raise PlanError(f"min_group_size: expected a positive integer, got {min_group_size!r}")
    if min_group_size < 1:
        raise PlanError(f"min_group_size: expected a positive integer, got {min_group_size}")
    if search == "linkage" and min_group_size > 1:
        raise PlanError(
            "min_group_size needs a partition search (search 'exact', 'local' or 'auto'); "
            "a linkage cut cannot enforce it"
        )


def assign_groups(
    distance: HeterogeneityMatrix | np.ndarray,
    n_groups: int | None = None,
    *,
    search: str = "linkage",
    method: str = "average",
    min_group_size: int = 1,
    remove_main_effects: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Groups of one side of a plan: a linkage cut or a partition search.

    Parameters
    ----------
    distance : HeterogeneityMatrix or array of shape (n, n)
        Complete distances (symmetrised, clipped at 0, zero diagonal).
    n_groups : int, optional
        Number of groups; by default the largest gap in the linkage merge heights
        (:func:`auto_n_groups`), also for the partition searches.
    search : {"linkage", "exact", "local", "auto"}
        ``linkage``: cut the ``method`` linkage tree. The others minimise the
        within-group heterogeneity ``sum_g sum_{i<j in g} d_ij``
        (:mod:`hetero.partition`): ``exact`` (MILP), ``local`` (multi-start local search,
        started also from the linkage cut), ``auto`` (exact up to
        :data:`hetero.partition.EXACT_MAX_N` items).
    method : {"average", "complete", "single"}
    min_group_size : int, default=1
        Smallest group allowed (partition searches only).
    remove_main_effects : bool
        Work on ``d_ij - e_i - e_j``: linkage on it shifted to be non-negative, the
        partition searches on it as it is (its rows sum to 0, so no unit is cheap to
        isolate).
    seed : int
        Seed of the local search.

    Returns
    -------
    labels : ndarray of int, shape (n,)
        Group of each item, numbered by first member.
    linkage : ndarray of shape (n - 1, 4)
        Linkage tree of the representation (the groups are its cut only for ``linkage``).
    info : dict
        ``search`` (the search that produced the groups), ``objective`` (within-group
        heterogeneity of the groups on the searched representation), ``linkage_objective``
        (the same for the linkage cut), ``optimal``, ``bound``, ``sizes``, ``singletons``.
    """
    from hetero.partition import partition, within_cost

    _check_method(method)
    _check_search(search, min_group_size)
    D = _prepare(distance)
    search_D = _residual(D) if remove_main_effects else D
    link_D = _shifted(search_D) if remove_main_effects else D
    link_labels, Z = cluster(link_D, n_groups=n_groups, method=method)
    k = int(link_labels.max()) + 1
    info: dict[str, Any] = {"search": search, "optimal": False, "bound": None}
    if search == "linkage":
        labels = link_labels
    else:
        res = partition(
            search_D, k, min_group_size=min_group_size, search=search, seed=seed,
            init=[link_labels],
        )  # fmt: skip
        labels = res.labels
        info.update({k: v for k, v in res.to_dict().items() if k != "cost"})
    info["objective"] = within_cost(search_D, labels)
    info["linkage_objective"] = within_cost(search_D, link_labels)
    sizes = np.bincount(labels)
    info["sizes"] = sorted((int(s) for s in sizes), reverse=True)
    info["singletons"] = int((sizes == 1).sum())
    return labels, Z, info


def make_plan(
    modality: HeterogeneityMatrix,
    interaction: HeterogeneityMatrix | None = None,
    *,
    unimodal_groups: int | None = None,
    crossmodal_groups: int | None = None,
    total_groups: int | None = None,
    method: str = "average",
    remove_main_effects: bool = False,
    search: str = "linkage",
    min_group_size: int = 1,
    normalise: bool = False,
    seed: int = 0,
) -> GroupingPlan:
    """Group the heterogeneity matrices into a :class:`GroupingPlan`.

    Parameters
    ----------
    modality : HeterogeneityMatrix
        Complete modality distance matrix (kind ``"modality"``, unit labels); the
        transfer matrix with ``normalise=True``.
    interaction : HeterogeneityMatrix, optional
        Complete interaction distance matrix (kind ``"interaction"``; the transfer matrix
        with ``normalise=True``). Without it the plan has no crossmodal groups (all
        interaction units share one).
    unimodal_groups, crossmodal_groups : int, optional
        Number of groups of each side; a side left out is chosen by the largest gap in
        its linkage merge heights (:func:`auto_n_groups`).
    total_groups : int, optional
        A total budget split by :func:`split_budget` (instead of the two counts).
    method : {"average", "complete", "single"}
        Linkage method (of the tree, the largest-gap rule and the local search's warm start).
    remove_main_effects : bool
        Group on the double-centred distances ``d_ij - e_i - e_j`` (the main effects
        fitted by :func:`hetero.nulls.main_effects`) instead of ``d``: groups by how units
        relate, not by which units are far from everything (which otherwise splits off
        outliers as singletons).
    search : {"linkage", "exact", "local", "auto"}, default="linkage"
        Cut the linkage tree, or minimise the within-group heterogeneity (sum of the
        within-group distances) with :mod:`hetero.partition` (see :func:`assign_groups`).
        Plans from a search store no linkage (their groups are not a cut of it).
    min_group_size : int, default=1
        Smallest group of either side (partition searches only).
    normalise : bool, default=False
        Group on baseline-normalised distances (:func:`normalised_distance`); the inputs
        are then the transfer matrices that carry their baseline losses.
    seed : int, default=0
        Seed of the local search.
    """
    from hetero._provenance import provenance

    _check_method(method)
    _check_search(search, min_group_size)
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
    if normalise:
        modality = normalised_distance(modality)
        interaction = None if interaction is None else normalised_distance(interaction)
    options: dict[str, Any] = {
        "search": search,
        "method": method,
        "min_group_size": min_group_size,
        "remove_main_effects": remove_main_effects,
        "seed": seed,
    }
    try:
        u_assign, u_link, u_info = assign_groups(modality, unimodal_groups, **options)
    except PlanError as exc:
        raise PlanError(f"unimodal: {exc}", source=modality.source) from None
    kwargs: dict[str, Any] = {}
    crossmodal: list[list[str]] = []
    info = {"unimodal": u_info}
    if search == "linkage":
        kwargs.update(unimodal_linkage=u_link, unimodal_labels=modality.labels)
    if interaction is not None:
        try:
            c_assign, c_link, c_info = assign_groups(interaction, crossmodal_groups, **options)
        except PlanError as exc:
            raise PlanError(f"crossmodal: {exc}", source=interaction.source) from None
        crossmodal = _groups(interaction.labels, c_assign)
        info["crossmodal"] = c_info
        if search == "linkage":
            kwargs.update(crossmodal_linkage=c_link, crossmodal_labels=interaction.labels)
    what = "baseline-normalised distances" if normalise else "distances"
    if remove_main_effects:
        what = "baseline-normalised, main-effects removed" if normalise else "main-effects removed"
    prov = provenance(
        step="make_plan",
        method=method,
        search=search,
        min_group_size=min_group_size,
        seed=seed,
        unimodal_groups_requested=unimodal_groups,
        crossmodal_groups_requested=crossmodal_groups,
        total_groups=total_groups,
        representation=what,
        modality_source=modality.source,
        interaction_source=None if interaction is None else interaction.source,
    )
    prov["partition"] = info
    return GroupingPlan(
        _groups(modality.labels, u_assign),
        crossmodal,
        provenance=prov,
        source=None,
        **kwargs,
    )
