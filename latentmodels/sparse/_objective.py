"""The lasso objective of sparse coding: one scaling for every solver.

For a signal ``x`` (a row of ``X``, length ``n_features``) and a dictionary
``D`` of shape ``(n_components, n_features)`` whose rows are the atoms, the
code ``h`` (length ``n_components``) minimises

.. math::

    P(h) = \\tfrac12 \\lVert x - h D \\rVert_2^2 + \\alpha \\lVert h \\rVert_1 ,

optionally with ``h >= 0``. The penalty ``alpha`` is *not* divided by
``n_features`` (scikit-learn's :func:`sklearn.decomposition.sparse_encode` uses
the same scale; it divides by ``n_features`` only when it hands the problem to
:class:`sklearn.linear_model.Lasso`, whose loss is itself divided by the
number of rows). Every solver in :mod:`latentmodels.sparse` is stopped and
checked with the functions of this module.

The duality gap (the certificate every solver stops on) is the formula of
:mod:`._formulas`; here it is evaluated from the residual ``r = x − hD``
itself, independently of the Gram-form quantities the solvers keep. The
*relative* gap is ``gap / max(P(h), tiny)`` with ``tiny`` the smallest
positive normal float, so a sample with ``x = 0`` (``P = gap = 0``) counts as
solved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._formulas import TINY, gap_and_primal, gap_and_primal_np, max_correlation
from ._numba_jit import njit, use_numba


def residual(X: np.ndarray, D: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``X − H D``.

    Compiled, it skips the zero codes (``nnz·d`` per row instead of ``k·d``);
    with numpy, one dense product (with BLAS it beats building a sparse ``H``).
    """
    if use_numba() and X.dtype == D.dtype == H.dtype == np.float64:
        R = np.empty(X.shape)
        _sparse_residual(X, np.ascontiguousarray(D), H, R)
        return R
    R = H @ D
    np.subtract(X, R, out=R)
    return R


@njit()
def _sparse_residual(X, D, H, R):
    """``R = X − H D`` row by row, over the nonzero codes only."""
    n, k = H.shape
    d = X.shape[1]
    for i in range(n):
        for f in range(d):
            R[i, f] = X[i, f]
        for j in range(k):
            hij = H[i, j]
            if hij != 0.0:
                for f in range(d):
                    R[i, f] -= hij * D[j, f]


def lasso_objective(
    X: np.ndarray, D: np.ndarray, H: np.ndarray, alpha: float
) -> np.ndarray:
    """Per-sample lasso objective ``½‖x − hD‖² + α‖h‖₁``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Signals.
    D : ndarray of shape (n_components, n_features)
        Dictionary (atoms as rows).
    H : ndarray of shape (n_samples, n_components)
        Codes.
    alpha : float
        Penalty, not scaled by ``n_features``.

    Returns
    -------
    objective : ndarray of shape (n_samples,)
    """
    R = residual(X, D, H)
    return 0.5 * np.einsum("ij,ij->i", R, R) + alpha * np.abs(H).sum(axis=1)


def duality_gap(X, D, H, alpha: float, positive: bool = False) -> np.ndarray:
    """Per-sample duality gap of the lasso (non-negative; zero at the optimum).

    The dual point is the residual rescaled into the feasible set,
    ``θ = s (x − hD)`` with ``s = min(1, α / ‖(x − hD) Dᵀ‖_∞)``
    (:mod:`._formulas`). For ``positive=True`` the codes must be non-negative and the
    constraint is one-sided.

    Parameters
    ----------
    X, D, H, alpha :
        As in :func:`lasso_objective`.
    positive : bool, default=False
        Whether the problem constrains ``h >= 0``.

    Returns
    -------
    gap : ndarray of shape (n_samples,)
    """
    return objective_and_gap(X, D, H, alpha, positive)[1]


def objective_and_gap(
    X, D, H, alpha: float, positive: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample objective and duality gap, sharing one residual."""
    R = residual(X, D, H)
    C = R @ D.T
    if use_numba() and H.dtype == np.float64 and R.flags.c_contiguous:
        primal, gap = np.empty(H.shape[0]), np.empty(H.shape[0])
        _certificate_rows(R, C, np.ascontiguousarray(H), alpha, positive, primal, gap)
        return primal, gap
    r2 = np.einsum("ij,ij->i", R, R)
    hc = np.einsum("ij,ij->i", H, C)
    l1 = np.abs(H).sum(axis=1)
    cmax = max_correlation(C, positive)
    gap, primal = gap_and_primal_np(r2, l1, hc, cmax, alpha)
    return primal, gap


@njit()
def _certificate_rows(R, C, H, alpha, positive, primal, gap):
    """:func:`objective_and_gap`'s reductions, one pass per row (compiled twin)."""
    for i in range(R.shape[0]):
        r2 = 0.0
        for f in range(R.shape[1]):
            r2 += R[i, f] * R[i, f]
        l1 = 0.0
        hc = 0.0
        cmax = 0.0
        for j in range(H.shape[1]):
            l1 += abs(H[i, j])
            hc += H[i, j] * C[i, j]
            cj = C[i, j] if positive else abs(C[i, j])
            if cj > cmax:
                cmax = cj
        gap[i], primal[i] = gap_and_primal(r2, l1, hc, cmax, alpha)


def relative_gap(X, D, H, alpha: float, positive: bool = False) -> np.ndarray:
    """Per-sample relative duality gap ``gap / max(P(h), tiny)``.

    This is the quantity every solver's ``tol`` bounds.
    """
    primal, gap = objective_and_gap(X, D, H, alpha, positive)
    return gap / np.maximum(primal, TINY)


def kkt_violation(X, D, H, alpha: float, positive: bool = False) -> np.ndarray:
    """Per-sample largest violation of the lasso optimality (KKT) conditions.

    With ``c = (x − hD) Dᵀ``, the conditions are ``c_j = α sign(h_j)`` where
    ``h_j ≠ 0`` and ``|c_j| ≤ α`` where ``h_j = 0``. For ``h >= 0`` they are
    ``c_j = α`` where ``h_j > 0`` and ``c_j ≤ α`` where ``h_j = 0`` (negative
    entries of ``H`` count as a violation of size ``|h_j|``).

    Returns
    -------
    violation : ndarray of shape (n_samples,)
        Absolute violation, in the units of ``α``.
    """
    C = residual(X, D, H) @ D.T
    nz = H != 0
    if positive:
        on = np.where(nz, np.abs(C - alpha), np.maximum(C - alpha, 0.0))
        on = np.maximum(on, np.maximum(-H, 0.0))
    else:
        on = np.where(
            nz, np.abs(C - alpha * np.sign(H)), np.maximum(np.abs(C) - alpha, 0.0)
        )
    return on.max(axis=1) if on.shape[1] else np.zeros(on.shape[0])


def alpha_max(X: np.ndarray, D: np.ndarray, positive: bool = False) -> np.ndarray:
    """Per-sample smallest penalty with ``h = 0`` optimal: ``‖D xᵀ‖_∞``.

    For ``positive=True`` it is ``max(max_j d_j·x, 0)``. For ``α ≥ alpha_max``
    the code is exactly zero, and every solver returns it without iterating.
    """
    return max_correlation(X @ D.T, positive)


@dataclass
class EncodeResult:
    """What a sparse-coding solver did, returned by :func:`~latentmodels.sparse.encode`.

    Attributes
    ----------
    codes : ndarray of shape (n_samples, n_components)
        The codes ``H``.
    objective : ndarray of shape (n_samples,)
        ``½‖x − hD‖² + α‖h‖₁`` per sample, computed from the residual.
    gap : ndarray of shape (n_samples,)
        Duality gap per sample (:func:`duality_gap`).
    relative_gap : ndarray of shape (n_samples,)
        ``gap / max(objective, tiny)``; the quantity ``tol`` bounds.
    n_iter : ndarray of shape (n_samples,)
        Iterations spent on each sample (FISTA iterations, coordinate-descent
        sweeps, feature-sign steps or interior-point iterations; 0 for samples
        solved by the ``α ≥ alpha_max`` shortcut).
    converged : ndarray of bool, shape (n_samples,)
        Whether ``relative_gap <= tol``.
    solver : str
        The solver that ran (``'auto'`` resolved).
    message : str
        Why the solver stopped, in words.
    tol : float
        The relative-gap target.
    init_objective : ndarray of shape (n_samples,) or None
        Objective of the warm start ``init`` (from the residual), when asked
        for with ``encode(..., init_objective=True)``.
    """

    codes: np.ndarray
    objective: np.ndarray
    gap: np.ndarray
    relative_gap: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    solver: str
    message: str = ""
    tol: float = field(default=0.0, repr=False)
    init_objective: np.ndarray | None = field(default=None, repr=False)
