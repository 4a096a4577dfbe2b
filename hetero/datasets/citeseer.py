"""CiteSeer multi-view loader (a local ``CiteSeer.mat``): paper text and citation graph.

The MATLAB file holds ``X`` (a 1 x 2 cell: the 3312 x 3312 citation adjacency and the
3312 x 3703 binary bag of words) and ``Y`` (labels 1-6). The graph becomes a per-paper input
in one of three ways (``graph=``): ``spectral`` (default; the leading eigenvectors of the
symmetrically normalised adjacency), ``svd`` (truncated SVD of the adjacency) or
``adjacency`` (the paper's neighbour set as a 0/1 indicator row). The embeddings use the whole
graph's structure, never labels (the usual transductive setting for citation graphs).
"""

from __future__ import annotations

import os

import numpy as np

from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    resolve_data_path,
    standardize,
    stratified_split,
)

__all__ = ["load_citeseer", "read_citeseer", "spectral_embedding"]

CITESEER_DEFAULT = "citeseer/CiteSeer.mat"
GRAPH_MODES = ("spectral", "svd", "adjacency")
TEXT_MODES = ("bow", "svd")


def read_citeseer(path) -> tuple:
    """Adjacency (sparse, symmetric, no self-loops, 0/1), bag of words (sparse) and labels 0-5."""
    import scipy.io
    import scipy.sparse as sp

    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise DatasetError(f"cannot read MATLAB file ({exc})", source=path) from None
    if "X" not in mat or "Y" not in mat:
        raise DatasetError(
            f"expected variables X and Y, found {sorted(k for k in mat if not k.startswith('__'))}",
            source=path,
        )
    views = mat["X"].ravel()
    if len(views) != 2:
        raise DatasetError(
            f"X: expected a 1x2 cell (graph, text), got {len(views)} views", source=path
        )
    adj, words = (sp.csr_matrix(v) for v in views)
    y = np.asarray(mat["Y"]).ravel().astype(np.int64)
    n = len(y)
    if adj.shape != (n, n) or words.shape[0] != n:
        raise DatasetError(
            f"X: view shapes {adj.shape}, {words.shape} do not match {n} labels", source=path
        )
    adj = ((adj + adj.T) > 0).astype(np.float64).tolil()
    adj.setdiag(0)
    adj = adj.tocsr()
    adj.eliminate_zeros()
    return adj, words, y - y.min()


def spectral_embedding(adj, dim: int, seed: int) -> np.ndarray:
    """Leading ``dim`` eigenvectors of ``D^-1/2 A D^-1/2`` (isolated nodes get zero rows).

    Signs are fixed (largest-magnitude entry positive) so the result is deterministic;
    ``seed`` sets the Lanczos start vector.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.zeros_like(deg)
    inv[deg > 0] = deg[deg > 0] ** -0.5
    norm = sp.diags(inv) @ adj @ sp.diags(inv)
    v0 = np.random.default_rng(seed).standard_normal(adj.shape[0])
    vals, vecs = eigsh(norm, k=dim, which="LA", v0=v0)
    vecs = vecs[:, np.argsort(vals)[::-1]]
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(dim)])
    return vecs * signs * np.sqrt(adj.shape[0])


def load_citeseer(
    path: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    graph: str = "spectral",
    graph_dim: int = 32,
    text: str = "bow",
    text_dim: int = 128,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> RawTask:
    """CiteSeer: ``text`` (bag of words or its SVD) and ``graph`` (see the module docstring).

    Both are feature vectors: one position with F channels. Splits are stratified and seeded.
    """
    from sklearn.decomposition import TruncatedSVD

    if graph not in GRAPH_MODES:
        raise DatasetError(
            f"dataset 'citeseer': option graph: expected one of {GRAPH_MODES}, got {graph!r}"
        )
    if text not in TEXT_MODES:
        raise DatasetError(
            f"dataset 'citeseer': option text: expected one of {TEXT_MODES}, got {text!r}"
        )
    path = resolve_data_path(path, data_dir, CITESEER_DEFAULT, "citeseer")
    adj, words, y = read_citeseer(path)
    train, val, test = stratified_split(y, fractions, seed)
    if graph == "spectral":
        g = standardize(spectral_embedding(adj, int(graph_dim), seed), train, (0,))
    elif graph == "svd":
        g = TruncatedSVD(int(graph_dim), random_state=seed).fit_transform(adj)
        g = standardize(g, train, (0,))
    else:
        g = adj.toarray().astype(np.float32)
    if text == "bow":
        t = words.toarray().astype(np.float32)
    else:
        t = standardize(
            TruncatedSVD(int(text_dim), random_state=seed).fit_transform(words), train, (0,)
        )
    return RawTask(
        name="citeseer",
        arrays={"text": t, "graph": g},
        modalities=[
            ModalitySpec("text", "text", positional_axes=0),
            ModalitySpec("graph", "graph", positional_axes=0),
        ],
        y=y,
        target="multiclass",
        train_idx=train,
        val_idx=val,
        test_idx=test,
        source=str(path),
        classes=[str(c + 1) for c in range(int(y.max()) + 1)],
        description=f"CiteSeer papers: bag-of-words text + citation graph ({graph}), 6 topics",
    )
