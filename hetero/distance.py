"""From directed transfer values to heterogeneity distances.

Convention: ``T[i, j]`` is the transfer from source ``i`` to target ``j``,
``T(i -> j) = L*(i -> j) - L*(j)``: the loss on target ``j`` of a model first trained on
``i`` minus the loss of a model trained on ``j`` from scratch (HighMMT, sec. 2.1). The
distance aggregates the positive parts of both directions:

    d_ij = max(T_ij, 0) + max(T_ji, 0),   d_ii = 0.

Positive transfer (``T < 0``) counts as zero distance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hetero._provenance import provenance as _provenance
from hetero.errors import MatrixFormatError
from hetero.matrix import HeterogeneityMatrix

__all__ = ["transfer_to_distance"]


def _scratch_vector(
    scratch_loss: Mapping[str, float] | Sequence[float] | np.ndarray, labels: tuple[str, ...]
) -> np.ndarray:
    n = len(labels)
    if isinstance(scratch_loss, Mapping):
        missing = [label for label in labels if label not in scratch_loss]
        if missing:
            raise MatrixFormatError(
                f"scratch_loss: no from-scratch loss for {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}"
            )
        vec = np.array([float(scratch_loss[label]) for label in labels], dtype=float)
    else:
        vec = np.asarray(scratch_loss, dtype=float).reshape(-1)
        if vec.shape != (n,):
            raise MatrixFormatError(
                f"scratch_loss: expected {n} values (one per label), got {vec.size}"
            )
    bad = ~np.isfinite(vec) | (vec <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise MatrixFormatError(
            f"scratch_loss[{labels[i]!r}]: expected a positive finite loss to normalise by,"
            f" got {vec[i]}"
        )
    return vec


def transfer_to_distance(
    transfer: HeterogeneityMatrix,
    *,
    scratch_loss: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
    normalize: bool = False,
) -> HeterogeneityMatrix:
    """Turn a directed transfer matrix into a symmetric distance matrix.

    Parameters
    ----------
    transfer : HeterogeneityMatrix
        ``T[i, j]`` = transfer from source ``i`` to target ``j`` (NaN = not measured).
        The diagonal is ignored.
    scratch_loss : mapping label -> float or array of shape (n,), optional
        From-scratch loss ``L*(j)`` of each target; required when ``normalize=True``.
    normalize : bool, default=False
        Divide each transfer by its target's from-scratch loss, ``T_ij / L*(j)``, so that
        tasks with different loss scales become comparable (relative loss increase).

    Returns
    -------
    HeterogeneityMatrix
        Symmetric, non-negative, zero diagonal; ``d_ij`` is NaN when either direction is
        unmeasured. When ``transfer.std`` is given, ``std`` is propagated to first order:
        ``max(T, 0)`` has standard deviation ``std(T)`` where ``T > 0`` and 0 where
        ``T <= 0``, and the two directions are treated as independent,
        ``std(d_ij) = sqrt(s_ij**2 + s_ji**2)`` (divided by ``L*`` when normalised). When
        ``transfer.count`` is given, ``count[i, j] = min(count_ij, count_ji)``.
    """
    if not isinstance(transfer, HeterogeneityMatrix):
        raise MatrixFormatError(
            f"transfer: expected a HeterogeneityMatrix, got {type(transfer).__name__}"
        )
    T = transfer.values.copy()
    n = transfer.n
    scale = np.ones(n)
    if normalize:
        if scratch_loss is None:
            raise MatrixFormatError(
                "normalize=True needs scratch_loss (the from-scratch loss of each target)",
                source=transfer.source,
            )
        scale = _scratch_vector(scratch_loss, transfer.labels)
    elif scratch_loss is not None:
        _scratch_vector(scratch_loss, transfer.labels)  # validate even if unused
    T = T / scale[None, :]  # column j = target j
    pos = np.where(np.isnan(T), np.nan, np.maximum(T, 0.0))
    d = pos + pos.T  # NaN propagates when either direction is NaN
    np.fill_diagonal(d, 0.0)

    std = None
    if transfer.std is not None:
        s = transfer.std / scale[None, :]
        s_pos = np.where(np.isnan(T), np.nan, np.where(T > 0, s, 0.0))
        std = np.sqrt(s_pos**2 + s_pos.T**2)
        std = np.where(np.isnan(d), np.nan, std)
        np.fill_diagonal(std, 0.0)
    count = None
    if transfer.count is not None:
        count = np.minimum(transfer.count, transfer.count.T)
        count = np.where(np.isnan(d), 0, count)
        np.fill_diagonal(count, 0)

    config: dict[str, Any] = {"step": "transfer_to_distance", "normalize": bool(normalize)}
    if normalize:
        config["scratch_loss"] = dict(zip(transfer.labels, scale.tolist(), strict=True))
    prov = _provenance(**config)
    if transfer.provenance:
        prov["input"] = transfer.provenance
    return HeterogeneityMatrix(
        transfer.labels,
        d,
        kind=transfer.kind,
        std=std,
        count=count,
        provenance=prov,
        source=transfer.source,
    )
