"""Compiled feature-sign search kernel (numba; runs as plain Python without it).

Rows one after the other, compiled without the GIL (the driver runs row
blocks in threads). The algorithm is described in
:mod:`latentmodels.sparse._feature_sign`; this file holds the loops.
"""

from __future__ import annotations

import numpy as np

from ._formulas import TINY, gap_and_primal
from ._numba_jit import njit


@njit()
def _chol_factor(G, act, start, a, L):
    """Rows ``start..a-1`` of the Cholesky factor of ``G[act[:a], act[:a]]``.

    Row-wise (Cholesky–Banachiewicz): row ``p`` needs only rows ``< p``, so
    when atoms are appended to the active set the factor is extended in
    ``O(a²)`` per atom instead of recomputed. Returns False if a pivot is not
    positive (relative to the largest diagonal entry), i.e. ``G_AA`` singular.
    """
    scale = 0.0
    for p in range(a):
        g = G[act[p], act[p]]
        if g > scale:
            scale = g
    for p in range(start, a):
        jp = act[p]
        for q in range(p + 1):
            s = G[jp, act[q]]
            for m in range(q):
                s -= L[p, m] * L[q, m]
            if p == q:
                if s <= 1e-12 * scale:
                    return False
                L[p, p] = np.sqrt(s)
            else:
                L[p, q] = s / L[q, q]
    return True


@njit()
def _chol_solve(L, a, rhs, out):
    """Solve ``L Lᵀ out = rhs`` with the leading ``a × a`` block of ``L``."""
    for p in range(a):  # forward: L y = rhs
        s = rhs[p]
        for m in range(p):
            s -= L[p, m] * out[m]
        out[p] = s / L[p, p]
    for p in range(a - 1, -1, -1):  # backward: Lᵀ out = y
        s = out[p]
        for m in range(p + 1, a):
            s -= L[m, p] * out[m]
        out[p] = s / L[p, p]


@njit()
def _line_search(hA, xA, cA, dGd, a, alpha, positive):
    """Best step ``t`` in ``(0, 1]`` from ``hA`` towards ``xA``; returns (t, index).

    The objective along the segment, up to a constant, is
    ``−t cA·d + ½ t² dᵀG d + α‖hA + t d‖₁`` with ``d = xA − hA``. Candidates
    are ``t = 1`` and the points where a coefficient crosses zero (Lee et al.
    2007). For non-negative codes the objective is a convex quadratic inside
    the orthant, so the first crossing (or 1) is the best feasible step.
    ``index`` is the coefficient that reaches zero at ``t`` (-1 for t = 1).
    """
    cd = 0.0
    for p in range(a):
        cd += cA[p] * (xA[p] - hA[p])
    best_t = 1.0
    best_p = -1
    if positive:
        for p in range(a):
            if xA[p] < 0.0 and hA[p] > 0.0:
                t = hA[p] / (hA[p] - xA[p])
                if t < best_t:
                    best_t = t
                    best_p = p
        return best_t, best_p
    best_f = np.inf
    for cand in range(-1, a):
        if cand == -1:
            t = 1.0
        else:
            if hA[cand] == 0.0 or hA[cand] * xA[cand] >= 0.0:
                continue
            t = hA[cand] / (hA[cand] - xA[cand])
        l1 = 0.0
        for p in range(a):
            if p == cand:
                continue
            l1 += abs(hA[p] + t * (xA[p] - hA[p]))
        f = -t * cd + 0.5 * t * t * dGd + alpha * l1
        if f < best_f:
            best_f = f
            best_t = t
            best_p = cand
    return best_t, best_p


@njit()
def _workspace(k, max_active):
    """Scratch arrays of one feature-sign solve (reused across samples)."""
    return (
        np.empty(k, dtype=np.int64),
        np.empty(k),
        np.empty(k),
        np.empty(k),
        np.empty(k),
        np.empty(k),
        np.empty((max_active, max_active)),
    )


@njit()
def fs_one(h, c, b, G, xx, alpha, positive, tol, max_iter, max_active):
    """Feature-sign search for one sample; ``h`` and ``c = b − G h`` in place.

    Returns the number of feature-sign steps, negated if a Gram block on the
    active set was singular or the active set outgrew ``max_active`` (at most
    ``n_features`` atoms can have a nonsingular Gram block); the caller then
    finishes with coordinate descent.
    """
    ws = _workspace(h.shape[0], max_active)
    return _fs_solve(h, c, b, G, xx, alpha, positive, tol, max_iter, max_active, ws)


@njit()
def _fs_solve(h, c, b, G, xx, alpha, positive, tol, max_iter, max_active, ws):
    """:func:`fs_one` with its scratch arrays ``ws`` given (see ``_workspace``)."""
    k = h.shape[0]
    act, theta, rhs, xA, hA, cA, L = ws
    a = 0
    for j in range(k):
        if h[j] != 0.0:
            if a == max_active:
                return -1
            act[a] = j
            theta[a] = 1.0 if h[j] > 0.0 else -1.0
            a += 1
    solved = a == 0
    n_fact = 0  # rows of L valid for the current active set
    for step in range(max_iter):
        # the duality gap (h is zero outside the active set) and, in one pass
        # over c, c_max and the best violator among the zeros
        l1 = 0.0
        hc = 0.0
        hb = 0.0
        for p in range(a):
            j = act[p]
            l1 += abs(h[j])
            hc += h[j] * c[j]
            hb += h[j] * b[j]
        cmax = 0.0
        best, best_v = -1, alpha
        for j in range(k):
            v = c[j] if positive else abs(c[j])
            if v > cmax:
                cmax = v
            if v > best_v and h[j] == 0.0 and G[j, j] > 0.0:
                best, best_v = j, v
        gap, primal = gap_and_primal(xx - hb - hc, l1, hc, cmax, alpha)
        if gap <= tol * max(primal, TINY):
            return step
        if solved:  # the active set is optimal: let the best violator in
            if best < 0:
                return step  # optimal up to rounding
            if a == max_active:
                return -(step + 1)
            act[a] = best
            theta[a] = 1.0 if c[best] > 0.0 else -1.0
            a += 1
        for p in range(a):
            rhs[p] = b[act[p]] - alpha * theta[p]
            hA[p] = h[act[p]]
            cA[p] = c[act[p]]
        if n_fact < a:
            if not _chol_factor(G, act, n_fact, a, L):
                return -(step + 1)
            n_fact = a
        _chol_solve(L, a, rhs, xA)
        # G_AA d = (b_A − αθ_A) − (b_A − c_A) = c_A − αθ_A, as h = 0 outside A
        dGd = 0.0
        for p in range(a):
            dGd += (xA[p] - hA[p]) * (cA[p] - alpha * theta[p])
        t, zero_p = _line_search(hA, xA, cA, dGd, a, alpha, positive)
        solved = zero_p < 0
        for p in range(a):
            j = act[p]
            new = 0.0 if p == zero_p else hA[p] + t * (xA[p] - hA[p])
            d = new - h[j]
            if d != 0.0:
                h[j] = new
                for m in range(k):
                    c[m] -= d * G[j, m]
        n_keep = 0  # drop zeros, refresh signs (a flip means not yet solved)
        for p in range(a):
            j = act[p]
            if h[j] == 0.0:
                if p < n_fact:  # rows after a dropped atom must be redone
                    n_fact = p
            else:
                sign = 1.0 if h[j] > 0.0 else -1.0
                if sign != theta[p]:
                    solved = False
                act[n_keep] = j
                theta[n_keep] = sign
                n_keep += 1
        a = n_keep
    return max_iter


@njit()
def fs_rows(H, C, B, G, xx, alpha, positive, tol, max_iter, max_active):
    """Feature-sign search on every row of ``H`` (in place), one after the other.

    Compiled with ``nogil``: the driver runs row blocks in threads. The
    scratch arrays are allocated once per call.
    """
    n, k = H.shape
    n_iter = np.zeros(n, dtype=np.int64)
    ws = _workspace(k, max_active)
    for i in range(n):
        n_iter[i] = _fs_solve(
            H[i], C[i], B[i], G, xx[i], alpha, positive, tol, max_iter, max_active, ws
        )
    return n_iter


def fs_numba(problem, H, C, *, tol: float, max_iter: int) -> np.ndarray:
    """Compiled twin of :func:`._feature_sign.fs_numpy` (same arguments)."""
    args = (float(tol), int(max_iter), problem.max_active)
    return fs_rows(H, C, *problem.kernel_args(), *args)
