"""Feature-sign search (Lee, Battle, Raina & Ng 2007, NIPS 19:801–808).

An active-set method that guesses the signs ``θ`` of the nonzero codes. With
the signs fixed the lasso on the active set ``A`` is an unconstrained
quadratic whose minimiser is

.. math::

    h_A^{new} = G_{AA}^{-1} (b_A - \\alpha\\, \\theta_A),
    \\qquad G = D D^\\top,\\ b = D x .

A discrete line search from the current ``h_A`` to ``h_A^{new}`` keeps the
best of the end point and the points where a coefficient crosses zero; those
coefficients leave ``A``. When the active set is optimal (a full step with
no sign change), the zero coefficient with the largest violation
``|c_j| > α`` of ``c = b − G h`` enters with sign ``θ_j = sign(c_j)``; when
none violates, ``h`` is optimal. Each step strictly lowers the objective, so
the search ends after finitely many steps with the exact solution (Lee et
al. 2007, §2); the relative duality gap (:mod:`._objective`) is checked at
every step so it also stops at ``tol``. For non-negative codes only
``c_j > α`` enters, ``θ = +1``, and the line search stops at the first zero
crossing (the objective is a convex quadratic inside the orthant).

Should a Gram block ``G_AA`` be singular (more active atoms than features,
or repeated atoms), the sample is finished by coordinate descent from where
the search stopped (the registry names it as this solver's fallback). The numba
kernel (:mod:`._numba_feature_sign`) and this numpy twin take the same steps,
one sample at a time.
"""

from __future__ import annotations

import numpy as np

from ._formulas import TINY, gap_and_primal_np, max_correlation


def fs_numpy(problem, H, C, *, tol: float, max_iter: int) -> np.ndarray:
    """Feature-sign search on every row of ``H`` (in place, ``C = B − HG``).

    Returns the steps per row, negated for rows whose Gram block on the
    active set was singular or whose active set outgrew ``n_features``: the
    driver finishes those with the registry's fallback (coordinate descent).
    """
    args = (
        problem.alpha,
        problem.positive,
        float(tol),
        int(max_iter),
        problem.max_active,
    )
    B, G, xx = problem.B, problem.G, problem.xx
    return np.array(
        [_fs_one_numpy(H[i], C[i], B[i], G, xx[i], *args) for i in range(H.shape[0])],
        dtype=np.int64,
    )


def _fs_one_numpy(h, c, b, G, xx, alpha, positive, tol, max_iter, max_active):
    """The kernel's steps for one sample with numpy (``h``, ``c`` in place)."""
    act = np.flatnonzero(h)
    if act.size > max_active:
        return -1
    theta = np.sign(h[act])
    solved = act.size == 0
    diag = np.diag(G)
    for step in range(max_iter):
        hc = h @ c
        cmax = max_correlation(c[None], positive)[0]
        l1 = np.abs(h).sum()
        gap, primal = gap_and_primal_np(xx - h @ b - hc, l1, hc, cmax, alpha)
        if gap <= tol * max(primal, TINY):
            return step
        if solved:
            v = c.copy() if positive else np.abs(c)
            v[(h != 0.0) | (diag <= 0.0)] = -np.inf
            best = int(np.argmax(v))
            if not v[best] > alpha:
                return step
            if act.size == max_active:
                return -(step + 1)
            act = np.append(act, best)
            theta = np.append(theta, 1.0 if c[best] > 0.0 else -1.0)
        if act.size == 0:  # the last coefficient left: zero is the new point
            solved = True
            continue
        GAA = G[np.ix_(act, act)]
        try:
            Lc = np.linalg.cholesky(GAA)
        except np.linalg.LinAlgError:
            return -(step + 1)
        if np.min(np.diag(Lc)) ** 2 <= 1e-12 * np.max(np.diag(GAA)):
            return -(step + 1)
        hA, cA = h[act], c[act]
        xA = np.linalg.solve(GAA, b[act] - alpha * theta)
        d = xA - hA
        dGd = d @ (cA - alpha * theta)  # G_AA d = c_A − αθ_A
        t, zero_p = _line_search_numpy(hA, xA, cA, dGd, alpha, positive)
        solved = zero_p < 0
        new = hA + t * d
        if zero_p >= 0:
            new[zero_p] = 0.0
        delta = new - hA
        h[act] = new
        c -= delta @ G[act]
        keep = new != 0.0
        signs = np.sign(new[keep])
        if np.any(signs != theta[keep]):
            solved = False
        act, theta = act[keep], signs
    return max_iter


def _line_search_numpy(hA, xA, cA, dGd, alpha, positive):
    """Vectorised twin of the kernel's line search; returns (t, index or -1)."""
    d = xA - hA
    if positive:
        cross = np.flatnonzero((xA < 0.0) & (hA > 0.0))
        if cross.size == 0:
            return 1.0, -1
        ts = hA[cross] / (hA[cross] - xA[cross])
        p = int(np.argmin(ts))
        return (float(ts[p]), int(cross[p])) if ts[p] < 1.0 else (1.0, -1)
    cross = np.flatnonzero((hA != 0.0) & (hA * xA < 0.0))
    ts = np.concatenate(([1.0], hA[cross] / (hA[cross] - xA[cross])))
    idx = np.concatenate(([-1], cross))
    pts = hA[None, :] + ts[:, None] * d[None, :]
    pts[np.arange(1, ts.size), cross] = 0.0
    f = -ts * (cA @ d) + 0.5 * ts**2 * dGd + alpha * np.abs(pts).sum(axis=1)
    best = int(np.argmin(f))
    return float(ts[best]), int(idx[best])
