"""One compiled pass over a block of rows: everything between the two products.

The driver (:mod:`._encode`) hands each row block of a call, in its thread
pool, to :func:`solve_block_rows` between two BLAS products that release the
GIL (``B = X Dᵀ`` before, ``C = R Dᵀ`` for the certificate after), then to
the certificate's reductions (:func:`._objective._certificate_rows`). So a
block holds the GIL only for a handful of calls, whatever its number of rows,
and the pool's threads run concurrently (all kernels are compiled with
``nogil``). Per row the kernel does what the Python pipeline of
:mod:`._encode` does with :class:`~latentmodels.sparse.LassoProblem` and the
registry:

1. screening: ``α ≥ alpha_max = ‖b‖_∞`` (``max(max b, 0)`` for ``h ≥ 0``)
   gives the exact code zero;
2. the warm start ``h₀`` (projected onto ``h ≥ 0`` for non-negative codes)
   and its correlations ``c = b − h₀ G`` over the nonzero entries of ``h₀``;
3. the solver (feature-sign search, handing rows over to coordinate descent
   as the registry's fallback does, or coordinate descent);
4. the residual ``r = x − hD`` over the nonzero codes, for the independent
   certificate, and optionally the objective of the warm start.
"""

from __future__ import annotations

from ._numba_cd import cd_one
from ._numba_feature_sign import _fs_solve, _workspace
from ._numba_jit import njit

#: Method codes of :func:`solve_block_rows`.
CD, FEATURE_SIGN = 0, 1


@njit()
def _residual_row(x, D, h, r):
    """``r = x − hD`` over the nonzero entries of ``h``; returns ``‖h‖₁``."""
    for f in range(x.shape[0]):
        r[f] = x[f]
    l1 = 0.0
    for j in range(h.shape[0]):
        hj = h[j]
        if hj != 0.0:
            l1 += abs(hj)
            for f in range(x.shape[0]):
                r[f] -= hj * D[j, f]
    return l1


@njit()
def solve_block_rows(
    X,
    D,
    B,
    G,
    H0,
    alpha,
    positive,
    method,
    tol,
    max_iter,
    fallback_max_iter,
    max_active,
    H,
    C,
    R,
    n_iter,
    init_obj,
):
    """Screen, warm-start, solve and form the residuals of a block of rows.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Signals of the block (C-contiguous).
    D : ndarray of shape (k, d)
        Atoms as rows.
    B : ndarray of shape (n, k)
        ``X Dᵀ`` (BLAS, before the call).
    G : ndarray of shape (k, k)
        ``D Dᵀ``.
    H0 : ndarray of shape (n, k) or (0, k)
        Warm start; no rows for a start at zero.
    alpha, positive, tol, max_iter :
        As in :func:`~latentmodels.sparse.encode` (``tol`` is the solvers'
        own, Gram-form target).
    method : int
        ``FEATURE_SIGN`` or ``CD``.
    fallback_max_iter : int
        Coordinate-descent budget of rows feature-sign search hands over.
    max_active : int
        Largest active set of feature-sign search.
    H, C, R, n_iter : ndarray
        Outputs: codes ``(n, k)``, the solver's correlations ``B − HG``
        ``(n, k)``, residuals ``X − HD`` ``(n, d)`` and iterations ``(n,)``.
    init_obj : ndarray of shape (n,) or (0,)
        Output: objective ``½‖x − h₀D‖² + α‖h₀‖₁`` of the (unprojected)
        warm start; no entries to skip it.

    Returns
    -------
    n_screened : int
        Rows solved by the ``α ≥ alpha_max`` shortcut.
    """
    n, k = B.shape
    warm = H0.shape[0] == n
    ws = _workspace(k, max_active)
    n_screened = 0
    for i in range(n):
        b, h, c = B[i], H[i], C[i]
        cmax = 0.0
        for j in range(k):
            h[j] = 0.0
            c[j] = b[j]
            v = b[j] if positive else abs(b[j])
            if v > cmax:
                cmax = v
        if init_obj.shape[0] == n:
            l1 = _residual_row(X[i], D, H0[i], R[i])
            r2 = 0.0
            for f in range(R.shape[1]):
                r2 += R[i, f] * R[i, f]
            init_obj[i] = 0.5 * r2 + alpha * l1
        n_iter[i] = 0
        if cmax <= alpha:  # h = 0 is optimal: nothing to solve, r = x
            n_screened += 1
            for f in range(X.shape[1]):
                R[i, f] = X[i, f]
            continue
        if warm:
            for j in range(k):
                hj = H0[i, j]
                if positive and hj < 0.0:
                    hj = 0.0
                if hj != 0.0:
                    h[j] = hj
                    for m in range(k):
                        c[m] -= hj * G[j, m]
        xx = 0.0
        for f in range(X.shape[1]):
            xx += X[i, f] * X[i, f]
        if method == FEATURE_SIGN:
            it = _fs_solve(
                h, c, b, G, xx, alpha, positive, tol, max_iter, max_active, ws
            )
            if it < 0:  # singular G_AA or too many atoms: coordinate descent
                budget = fallback_max_iter
                it = -it + cd_one(h, c, b, G, xx, alpha, positive, tol, budget)
        else:
            it = cd_one(h, c, b, G, xx, alpha, positive, tol, max_iter)
        n_iter[i] = it
        _residual_row(X[i], D, h, R[i])
    return n_screened
