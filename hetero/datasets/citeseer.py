"""CiteSeer multi-view loader (a local copy): paper text and citation graph.

Two layouts are read. The multi-view MATLAB file ``citeseer/CiteSeer.mat`` holds ``X`` (a
1 x 2 cell: the 3312 x 3312 citation adjacency and the 3312 x 3703 binary bag of words) and
``Y`` (labels 1-6). The LINQS archive (``hetero datasets download citeseer``) holds
``citeseer/citeseer.content`` (one paper a line: id, 3703 0/1 words, topic) and
``citeseer/citeseer.cites`` (one citation a line: cited id, citing id; citations of papers
missing from the content file are dropped); its topics are numbered in sorted order
(:func:`read_linqs`). The graph becomes a per-paper input
in one of three ways (``graph=``): ``spectral`` (default; the leading eigenvectors of the
regularised, symmetrically normalised adjacency), ``svd`` (truncated SVD of the adjacency) or
``adjacency`` (the paper's neighbour set as a 0/1 indicator row). The embeddings use the whole
graph's structure, never labels (the usual transductive setting for citation graphs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hetero._io import require_regular_file
from hetero.datasets._catalog import register_dataset
from hetero.datasets._common import (
    DatasetError,
    ModalitySpec,
    RawTask,
    resolve_data_path,
    standardize,
    stratified_split,
)

__all__ = ["load_citeseer", "read_citeseer", "read_linqs", "spectral_embedding"]

CITESEER_DEFAULT = "citeseer/CiteSeer.mat"
#: The LINQS layout (what ``hetero datasets download citeseer`` unpacks).
CITESEER_LINQS = "citeseer/citeseer.content"
GRAPH_MODES = ("spectral", "svd", "adjacency")
TEXT_MODES = ("bow", "svd")


def _symmetric(adj):
    """0/1, symmetric, no self-loops, CSR."""
    adj = ((adj + adj.T) > 0).astype(np.float64).tolil()
    adj.setdiag(0)
    adj = adj.tocsr()
    adj.eliminate_zeros()
    return adj


def read_linqs(content_path) -> tuple:
    """The LINQS CiteSeer files: ``citeseer.content`` and ``citeseer.cites`` next to it.

    Returns the adjacency (sparse, symmetric, no self-loops, 0/1), the bag of words
    (sparse) and labels 0-5 (topics in sorted order), papers in content-file order.
    """
    import scipy.sparse as sp

    content = require_regular_file(content_path, what="a citeseer.content file", error=DatasetError)
    cites = require_regular_file(
        content.with_name("citeseer.cites"), what="a citeseer.cites file", error=DatasetError
    )
    ids: dict[str, int] = {}
    rows, topics = [], []
    width = None
    try:
        lines = content.read_text(encoding="utf-8", errors="replace").splitlines()
        for lineno, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            words = parts[1:-1]
            if width is None:
                width = len(words)
            if len(parts) < 3 or len(words) != width or not set(words) <= {"0", "1"}:
                raise DatasetError(
                    f"line {lineno}: expected 'id <{width} 0/1 words> topic'", source=content
                )
            if parts[0] in ids:
                raise DatasetError(f"line {lineno}: paper {parts[0]!r} twice", source=content)
            ids[parts[0]] = len(ids)
            rows.append(np.fromiter((w == "1" for w in words), dtype=np.float64, count=width))
            topics.append(parts[-1])
        edges = []
        for lineno, line in enumerate(
            cites.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise DatasetError(f"line {lineno}: expected 'cited citing'", source=cites)
            a, b = ids.get(parts[0]), ids.get(parts[1])
            if a is not None and b is not None:  # a few cite papers without content
                edges.append((a, b))
    except OSError as exc:
        raise DatasetError(f"cannot read file ({exc.strerror or exc})", source=content) from None
    if not rows:
        raise DatasetError("no papers found", source=content)
    n = len(rows)
    names = sorted(set(topics))
    y = np.array([names.index(t) for t in topics], dtype=np.int64)
    e = np.array(edges, dtype=np.int64).reshape(-1, 2)
    adj = sp.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return _symmetric(adj), sp.csr_matrix(np.vstack(rows)), y


def read_citeseer(path) -> tuple:
    """Adjacency (sparse, symmetric, no self-loops, 0/1), bag of words (sparse) and labels 0-5.

    ``path`` is the multi-view ``CiteSeer.mat`` or the LINQS ``citeseer.content`` (or a
    folder holding either).
    """
    import scipy.io
    import scipy.sparse as sp

    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("CiteSeer.mat", "citeseer.content") if (path / n).is_file()]
        if not found:
            raise DatasetError(
                "expected CiteSeer.mat or citeseer.content in this folder", source=path
            )
        path = found[0]
    if path.name.endswith(".content"):
        return read_linqs(path)
    require_regular_file(path, what="a MATLAB .mat file", error=DatasetError)
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
    return _symmetric(adj), words, y - y.min()


def spectral_embedding(adj, dim: int, seed: int, tau: float | None = None) -> np.ndarray:
    """Regularised spectral embedding: leading non-trivial eigenvectors of the normalised graph.

    The citation graph has hundreds of connected components, so the plain normalised
    adjacency has eigenvalue 1 with that multiplicity and its leading eigenvectors are an
    arbitrary basis of component indicators. Adding ``tau / n`` to every entry (``tau``
    defaults to the mean degree) connects the graph; the embedding is then the ``dim``
    eigenvectors after the trivial one of ``D_t^-1/2 (A + tau/n 11') D_t^-1/2`` with
    ``D_t = D + tau``, scaled by ``sqrt(n)``, signs fixed (largest-magnitude entry positive).
    ``seed`` sets the Lanczos start vector only.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = adj.shape[0]
    deg = np.asarray(adj.sum(axis=1)).ravel()
    tau = float(deg.mean()) if tau is None else float(tau)
    inv = (deg + tau) ** -0.5

    def matvec(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v).reshape(n, -1)
        w = inv[:, None] * v
        out = adj @ w + (tau / n) * w.sum(axis=0, keepdims=True)
        return (inv[:, None] * out).reshape(np.shape(v) if np.ndim(v) > 1 else -1)

    op = LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals, vecs = eigsh(op, k=dim + 1, which="LA", v0=v0, tol=1e-10, maxiter=50 * n)
    vecs = vecs[:, np.argsort(vals)[::-1]][:, 1:]
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(dim)])
    return vecs * signs * np.sqrt(n)


@register_dataset(
    "citeseer",
    origin="path",
    requires="citeseer/CiteSeer.mat or LINQS citeseer/citeseer.content",
    summary="CiteSeer: paper text + citation graph, 6 topics",
    data_path="citeseer/CiteSeer.mat",
)
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

    Reads ``citeseer/CiteSeer.mat`` under the data folder, else the LINQS
    ``citeseer/citeseer.content`` (and ``.cites``); ``path`` may name either file.

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
    if path is None:
        try:
            path = resolve_data_path(None, data_dir, CITESEER_DEFAULT, "citeseer")
        except DatasetError as missing:
            try:  # the LINQS layout that `hetero datasets download citeseer` unpacks
                path = resolve_data_path(None, data_dir, CITESEER_LINQS, "citeseer")
            except DatasetError:
                raise missing from None
    else:
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
            # per-word standardisation of a 0/1 bag of words (or neighbour set) would scale a
            # rare word up to 1/sqrt(frequency) and let models overfit it: logistic
            # regression on full's citeseer drops from 0.726 to 0.650 test accuracy
            ModalitySpec("text", "text", positional_axes=0, standardize=text != "bow"),
            ModalitySpec("graph", "graph", positional_axes=0, standardize=graph != "adjacency"),
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
