"""Completing a :class:`~hetero.matrix.HeterogeneityMatrix` and its singular spectrum."""

from __future__ import annotations

from typing import Any

import numpy as np

from hetero.completion.registry import get_completer
from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix

__all__ = ["complete_matrix", "singular_spectrum"]


def singular_spectrum(values: HeterogeneityMatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values of a complete matrix and the cumulative variance they explain.

    Parameters
    ----------
    values : HeterogeneityMatrix or array of shape (n, n)
        Must be complete (complete it first with :func:`complete_matrix`).

    Returns
    -------
    singular_values : ndarray of shape (n,)
        Descending.
    cumulative_explained : ndarray of shape (n,)
        ``cumsum(s**2) / sum(s**2)``: entry ``r - 1`` is the fraction of the squared
        Frobenius norm captured by the best rank-r approximation.
    """
    A = values.values if isinstance(values, HeterogeneityMatrix) else np.asarray(values, float)
    if A.ndim != 2:
        raise MatrixFormatError(f"spectrum: expected a 2-D matrix, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise MatrixFormatError(
            "spectrum: matrix has unmeasured (NaN) entries; complete it first",
            source=getattr(values, "source", None),
        )
    s = np.linalg.svd(A, compute_uv=False)
    total = float(np.sum(s**2))
    cum = np.cumsum(s**2) / total if total > 0 else np.ones_like(s)
    return s, cum


def complete_matrix(
    matrix: HeterogeneityMatrix,
    method: str = "symmetric",
    rank: int | None = None,
    seed: int = 0,
    **params: Any,
) -> HeterogeneityMatrix:
    """Fill the unmeasured entries of ``matrix``.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
    method : str, default="symmetric"
        A name from :func:`list_completers`.
    rank : int, optional
        Rank of the completion; None chooses it by held-out observed entries.
    seed : int, default=0
    **params
        Further parameters of the completer.

    Returns
    -------
    HeterogeneityMatrix
        No NaN values; observed entries unchanged; ``count`` (if present) is 0 on completed
        entries; ``std`` is dropped (completed entries have none). ``provenance`` records
        the method, rank and number of completed entries.
    """
    from hetero._provenance import provenance as _provenance

    completer = get_completer(method, rank=rank, seed=seed, **params)
    observed = matrix.observed
    values = completer.fit_transform(matrix.values)
    prov = _provenance(
        step="complete",
        method=completer.name,
        rank=completer.rank_,
        rank_requested=rank,
        rank_scores=completer.rank_scores_,
        seed=seed,
        n_completed=int((~observed).sum()),
    )
    if matrix.provenance:
        prov["input"] = matrix.provenance
    count = None if matrix.count is None else np.where(observed, matrix.count, 0)
    return HeterogeneityMatrix(
        matrix.labels,
        values,
        kind=matrix.kind,
        count=count,
        provenance=prov,
        source=matrix.source,
    )
