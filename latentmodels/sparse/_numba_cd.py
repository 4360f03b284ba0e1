"""Compiled coordinate-descent kernel (numba; runs as plain Python without it).

Rows one after the other, compiled without the GIL: the driver
(:mod:`._encode`) runs blocks of rows in a thread pool. For one sample the
kernel keeps the correlations ``c = b − G h`` and sweeps the coordinates of a
working set; see :mod:`latentmodels.sparse._cd` for the update.
"""

from __future__ import annotations

import numpy as np

from ._formulas import relative_gap_row, soft_threshold
from ._numba_jit import njit


@njit()
def _update(h, j, cj, gjj, alpha, positive):
    """Exact minimiser along coordinate ``j``; returns the step ``h_j^new − h_j``."""
    new = soft_threshold(cj + gjj * h[j], alpha, positive) / gjj
    d = new - h[j]
    h[j] = new
    return d


@njit()
def _restricted_cd(h, cw, bw, work, a, G, xx, alpha, positive, tol, max_sweeps):
    """Sweeps over the working set ``work[:a]`` until its relative gap ``<= tol``.

    ``cw`` holds the correlations of the working-set coordinates only, so a
    sweep costs ``O(a²)``. Returns the number of sweeps.
    """
    hw = np.empty(a)
    for sweep in range(max_sweeps):
        for p in range(a):
            hw[p] = h[work[p]]
        if relative_gap_row(hw, cw[:a], bw[:a], xx, alpha, positive) <= tol:
            return sweep
        for p in range(a):
            j = work[p]
            d = _update(h, j, cw[p], G[j, j], alpha, positive)
            if d != 0.0:
                for q in range(a):
                    cw[q] -= d * G[j, work[q]]
    return max_sweeps


@njit()
def cd_one(h, c, b, G, xx, alpha, positive, tol, max_iter):
    """Coordinate descent with a growing working set, for one sample.

    ``h`` and ``c = b − G h`` are updated in place. The working set is the
    current support plus the ``max(8, support size)`` coordinates whose
    optimality condition ``|c_j| <= α`` is most violated (Johnson & Guestrin
    2015, "Blitz"; Massias et al. 2018, "Celer"). Coordinate descent on the
    working set runs until its own relative gap is ``<= tol`` (cost ``O(a²)``
    per sweep), then ``c`` is brought up to date (``O(a k)``). Outside
    coordinates that satisfy the condition do not change the gap, so the
    sample is done when no coordinate outside violates it. Returns the number
    of sweeps over working sets.
    """
    k = h.shape[0]
    work = np.empty(k, dtype=np.int64)
    cw = np.empty(k)
    bw = np.empty(k)
    h_start = np.empty(k)
    score = np.empty(k)
    inner_tol = tol
    sweeps = 0
    while sweeps < max_iter:
        if relative_gap_row(h, c, b, xx, alpha, positive) <= tol:
            return sweeps
        a = 0
        n_viol = 0
        for j in range(k):
            cj = c[j] if positive else abs(c[j])
            if G[j, j] <= 0.0:
                score[j] = -1.0
            elif h[j] != 0.0:
                work[a] = j
                a += 1
                score[j] = -1.0
            else:
                score[j] = cj - alpha
                if score[j] > 0.0:
                    n_viol += 1
        if n_viol == 0:
            inner_tol *= 0.1  # the working set was solved too loosely
        else:
            for _ in range(min(max(8, a), n_viol)):  # partial selection
                best = 0
                for j in range(1, k):
                    if score[j] > score[best]:
                        best = j
                work[a] = best
                a += 1
                score[best] = -1.0
        for p in range(a):
            cw[p] = c[work[p]]
            bw[p] = b[work[p]]
            h_start[p] = h[work[p]]
        sweeps += _restricted_cd(
            h, cw, bw, work, a, G, xx, alpha, positive, inner_tol, max_iter - sweeps
        )
        for p in range(a):  # bring the full correlations up to date
            j = work[p]
            d = h[j] - h_start[p]
            if d != 0.0:
                for m in range(k):
                    c[m] -= d * G[j, m]
    return sweeps


@njit()
def cd_rows(H, C, B, G, xx, alpha, positive, tol, max_iter):
    """Coordinate descent on every row of ``H`` (in place), one after the other.

    ``C`` must hold ``B − H G`` on entry. Returns the sweeps per row. Compiled
    with ``nogil``: the caller runs row blocks in threads.
    """
    n = H.shape[0]
    n_iter = np.zeros(n, dtype=np.int64)
    for i in range(n):
        n_iter[i] = cd_one(H[i], C[i], B[i], G, xx[i], alpha, positive, tol, max_iter)
    return n_iter


def cd_numba(problem, H, C, *, tol: float, max_iter: int) -> np.ndarray:
    """The compiled twin of :func:`._cd.cd_numpy` (same arguments)."""
    return cd_rows(H, C, *problem.kernel_args(), float(tol), int(max_iter))
