"""Low-rank completion of partially measured heterogeneity matrices.

Measuring every ordered pair costs ``M (M - 1)`` transfer runs; heterogeneity matrices are
close to low rank (HighMMT appendix A.2: the top 3 singular values explain >= 97 % of the
variance), so a sampled subset of entries plus a low-rank completion recovers the rest.

All completers share one interface, :class:`Completer`: ``fit_transform(X)`` takes a square
array with NaN for missing entries and returns a full array in which every observed entry
is kept as given. Backends:

``symmetric`` (:class:`SymmetricCompleter`, ours, the default)
    Fits ``X = U S U^T`` (``U`` of shape (n, r), ``S`` symmetric r x r, sign-indefinite:
    distance matrices are not positive semi-definite) to the observed entries, with the
    zero diagonal treated as observed, a penalty on negative entries, and L-BFGS on the
    factors. Output is symmetric, hollow and non-negative.
``additive`` (:class:`AdditiveCompleter`, ours)
    Fits ``d_ij = a_i + a_j + (U S U^T)_ij`` off the diagonal: per-unit main effects plus a
    symmetric rank-r residual (r = 0: main effects alone), the diagonal left free and set
    to 0. Real distance matrices are mostly main effects, which a hollow low-rank model
    cannot represent (docs/results.md, experiment 3).
``softimpute``, ``iterativesvd``, ``matrixfactorization``, ``nuclearnorm``
    fancyimpute 0.7.0 solvers (the ``completion`` extra; imported lazily: the package is
    slow to import). They ignore symmetry, the zero diagonal and non-negativity.
    ``nuclearnorm`` solves a convex program with cvxpy and is only practical for small
    matrices (M up to about 50).

When ``rank`` is None it is chosen by held-out observed entries (:func:`select_rank`).

The package's modules: :mod:`.base` (the interface, input check, rank selection),
:mod:`.symmetric`, :mod:`.additive`, :mod:`.fancy` (the backends), :mod:`.registry` (names) and
:mod:`.complete` (:func:`complete_matrix`, :func:`singular_spectrum`).
"""

from __future__ import annotations

from hetero.completion.additive import AdditiveCompleter
from hetero.completion.base import Completer, select_rank
from hetero.completion.complete import complete_matrix, singular_spectrum
from hetero.completion.fancy import (
    FancyImputeCompleter,
    IterativeSVDCompleter,
    MatrixFactorizationCompleter,
    NuclearNormCompleter,
    SoftImputeCompleter,
)
from hetero.completion.registry import (
    COMPLETERS,
    get_completer,
    list_completers,
    register_completer,
)
from hetero.completion.symmetric import SymmetricCompleter

__all__ = [
    "COMPLETERS",
    "AdditiveCompleter",
    "Completer",
    "FancyImputeCompleter",
    "IterativeSVDCompleter",
    "MatrixFactorizationCompleter",
    "NuclearNormCompleter",
    "SoftImputeCompleter",
    "SymmetricCompleter",
    "complete_matrix",
    "get_completer",
    "list_completers",
    "register_completer",
    "select_rank",
    "singular_spectrum",
]
