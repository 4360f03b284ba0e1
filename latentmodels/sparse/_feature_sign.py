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
the search stopped. The numba kernel (:mod:`._numba_feature_sign`) runs in
parallel over samples; without numba the same steps run with numpy, one
sample at a time.
"""

from __future__ import annotations

import numpy as np

from ._cd import solve_cd
from ._fista import relative_gap_gram
from ._numba_jit import set_threads, use_numba


def solve_feature_sign(
    B: np.ndarray,
    G: np.ndarray,
    xx: np.ndarray,
    alpha: float,
    *,
    positive: bool,
    tol: float,
    max_iter: int,
    H0: np.ndarray | None = None,
    n_threads: int = 1,
    max_active: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature-sign search for every row until its relative gap is ``<= tol``.

    Parameters are those of :func:`latentmodels.sparse._fista.solve_fista`;
    ``max_active`` (default ``n_components``; pass ``n_features``) bounds the
    active set, beyond which ``G_AA`` is singular.

    Returns
    -------
    H : ndarray of shape (n_samples, n_components)
    n_iter : ndarray of int, shape (n_samples,)
        Feature-sign steps (plus coordinate-descent sweeps for samples that
        needed them).
    """
    n, k = B.shape
    if H0 is None:
        H, C = np.zeros((n, k)), np.array(B, dtype=np.float64)
    else:
        H = np.array(H0, dtype=np.float64)
        if positive:
            np.maximum(H, 0.0, out=H)
        C = B - H @ G
    max_active = k if max_active is None else max(1, min(int(max_active), k))
    args = (float(alpha), bool(positive), float(tol), int(max_iter), max_active)
    if use_numba():
        from ._numba_feature_sign import fs_batch

        old = set_threads(n_threads)
        try:
            n_iter = fs_batch(
                H, C, np.ascontiguousarray(B), np.ascontiguousarray(G), xx, *args
            )
        finally:
            set_threads(old)
    else:
        n_iter = np.array(
            [_fs_one_numpy(H[i], C[i], B[i], G, xx[i], *args) for i in range(n)],
            dtype=np.int64,
        )
    failed = np.flatnonzero(n_iter < 0)
    n_iter = np.abs(n_iter)
    if failed.size:
        Hf, it = solve_cd(
            B[failed],
            G,
            xx[failed],
            alpha,
            positive=positive,
            tol=tol,
            max_iter=max(100 * int(max_iter), 10000),
            H0=H[failed],
            n_threads=n_threads,
        )
        H[failed] = Hf
        n_iter[failed] += it
    return H, n_iter


def _fs_one_numpy(h, c, b, G, xx, alpha, positive, tol, max_iter, max_active):
    """The kernel's steps for one sample with numpy (``h``, ``c`` in place)."""
    act = np.flatnonzero(h)
    if act.size > max_active:
        return -1
    theta = np.sign(h[act])
    solved = act.size == 0
    diag = np.diag(G)
    for step in range(max_iter):
        gap = relative_gap_gram(
            h[None], b[None], G, np.array([xx]), alpha, positive, c[None]
        )[0]
        if gap <= tol:
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
