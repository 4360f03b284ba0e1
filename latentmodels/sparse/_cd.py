"""Coordinate descent on the lasso with the Gram matrix (numpy twin).

For one sample, with ``G = D Dᵀ``, ``b = D x`` and the correlations
``c = b − h G`` kept up to date, the exact minimiser along coordinate ``j`` is

.. math::

    h_j \\leftarrow \\frac{S_\\alpha(c_j + G_{jj} h_j)}{G_{jj}}, \\qquad
    c \\leftarrow c - (h_j^{new} - h_j^{old})\\, G_{j,:},

with ``S_α`` soft thresholding (``max(z − α, 0)`` for non-negative codes).
Coordinates are swept cyclically; after each sweep the relative duality gap
(:class:`~latentmodels.sparse.LassoProblem`) decides whether the sample is
done (Friedman, Hastie, Höfling & Tibshirani 2007, Ann. Appl. Stat.
1:302–332; Wu & Lange 2008). The cost per sweep is ``O(k)`` plus ``O(k)`` per
coordinate that moves, independent of ``n_features``.

This is the numpy twin, vectorised over the unfinished samples; the compiled
twin (:mod:`._numba_cd`) adds working sets and is registered beside it in
:mod:`._registry`.
"""

from __future__ import annotations

import numpy as np

from ._formulas import soft_threshold_np


def cd_numpy(problem, H, C, *, tol: float, max_iter: int) -> np.ndarray:
    """Cyclic sweeps on every row of ``H`` (in place, with ``C = B − HG``).

    Returns the sweeps per row.
    """
    n, k = H.shape
    G, diag, alpha = problem.G, problem.gram.diag, problem.alpha
    n_iter = np.full(n, max_iter, dtype=np.int64)
    rows = np.arange(n)
    for sweep in range(max_iter):
        sub = problem.rows(rows)
        done = sub.relative_gap(H[rows], C[rows]) <= tol
        n_iter[rows[done]] = sweep
        rows = rows[~done]
        if rows.size == 0:
            break
        Hr, Cr = H[rows], C[rows]
        for j in range(k):
            gjj = diag[j]
            if gjj <= 0.0:
                continue
            hj = Hr[:, j]
            new = soft_threshold_np(Cr[:, j] + gjj * hj, alpha, problem.positive) / gjj
            d = new - hj
            moved = np.flatnonzero(d != 0.0)
            if moved.size:
                Hr[moved, j] = new[moved]
                Cr[moved] -= d[moved, None] * G[j]
        H[rows], C[rows] = Hr, Cr
    return n_iter
