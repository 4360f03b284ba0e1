"""Batched FISTA with adaptive restart on the Gram matrix.

All samples are updated at once. With ``G = D Dᵀ`` and ``B = X Dᵀ`` the
gradient of the smooth part ``½‖x − hD‖²`` for every row is ``H G − B``, one
matrix product (BLAS-3) per iteration, whatever ``n_features``. The proximal
step is the problem's soft-thresholding at ``α / L`` (``L = λ_max(G)``), or
its one-sided version for non-negative codes.

FISTA (Beck & Teboulle 2009, SIAM J. Imaging Sci. 2:183–202) is restarted per
sample with the gradient scheme of O'Donoghue & Candès (2015, Found. Comput.
Math. 15:715–732): the momentum of a row is reset when
``(y_{k-1} − h_k)·(h_k − h_{k-1}) > 0``, which recovers linear convergence on
the (locally) strongly convex lasso. Every few iterations the duality gap of
each row is computed by the problem (Gram form) and converged rows leave the
batch.
"""

from __future__ import annotations

import numpy as np


def fista(problem, H, C, *, tol: float, max_iter: int, check_every: int = 10):
    """Batched, restarted FISTA on every row of ``H`` (in place).

    ``C`` (``B − HG`` on entry) is left as it is: FISTA does not keep the
    correlations, and the driver certifies the result from the residual.
    Returns the iterations per row.
    """
    n, k = H.shape
    n_iter = np.zeros(n, dtype=np.int64)
    L = problem.gram.lipschitz
    if L <= 0.0:  # all atoms zero: h = 0 is optimal
        H[:] = 0.0
        return n_iter
    step = 1.0 / L
    G = problem.G
    active = np.flatnonzero(problem.relative_gap(H, C) > tol)
    sub = problem.rows(active)
    Ha, Ba = H[active], sub.B
    Y, t = Ha.copy(), np.ones(active.size)
    it = 0
    while active.size and it < max_iter:
        it += 1
        H_old = Ha
        Ha = problem.prox(Y - step * (Y @ G - Ba), step)
        diff = Ha - H_old
        restart = np.einsum("ij,ij->i", Y - Ha, diff) > 0.0
        t[restart] = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Y = Ha + ((t - 1.0) / t_new)[:, None] * diff
        t = t_new
        if it % check_every == 0 or it == max_iter:
            n_iter[active] = it
            done = sub.relative_gap(Ha) <= tol
            if done.any():
                H[active[done]] = Ha[done]
                keep = ~done
                active, Ha, Y, t = active[keep], Ha[keep], Y[keep], t[keep]
                sub = sub.rows(keep)
                Ba = sub.B
    H[active] = Ha
    n_iter[active] = it
    return n_iter
