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

Duality gap
-----------
With the residual ``r = x - h D`` and its correlations ``c = r Dᵀ``, the dual
problem is ``max_θ ½‖x‖² − ½‖x − θ‖²`` subject to ``‖θ Dᵀ‖_∞ ≤ α`` (for
``h >= 0``: ``θ Dᵀ ≤ α``). The rescaled residual ``θ = s r`` with
``s = min(1, α / ‖c‖_∞)`` (for ``h >= 0``: ``α / max(max(c), 0)``) is dual
feasible, and the gap ``P(h) − D(θ)`` simplifies to

.. math::

    \\mathrm{gap}(h) = \\tfrac12 (1 - s)^2 \\lVert r \\rVert^2
        + \\alpha \\lVert h \\rVert_1 - s\\, h \\cdot c \\;\\ge\\; 0,

which is zero exactly at the optimum (Kim et al. 2007; El Ghaoui et al. 2012;
Massias et al. 2018, "Celer"). The *relative* gap used as the stopping rule of
every solver is ``gap / max(P(h), tiny)`` with ``tiny`` the smallest positive
normal float, so a sample with ``x = 0`` (``P = gap = 0``) counts as solved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TINY = np.finfo(np.float64).tiny


def residual(X: np.ndarray, D: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``X − H D`` (a dense product: with BLAS it beats building a sparse ``H``)."""
    R = H @ D
    np.subtract(X, R, out=R)
    return R


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


def _dual_scaling(C: np.ndarray, alpha: float, positive: bool) -> np.ndarray:
    """Largest ``s`` in ``[0, 1]`` with ``s·c`` dual feasible, per row of ``C``."""
    cmax = np.maximum(C.max(axis=1), 0.0) if positive else np.abs(C).max(axis=1)
    s = np.ones_like(cmax)
    big = cmax > alpha
    s[big] = alpha / cmax[big]
    return s


def gap_from_parts(
    r2: np.ndarray,
    l1: np.ndarray,
    hc: np.ndarray,
    C: np.ndarray,
    alpha: float,
    positive: bool,
) -> np.ndarray:
    """Duality gap from ``‖r‖²``, ``‖h‖₁``, ``h·c`` and the correlations ``C``.

    Solvers that keep ``C = X Dᵀ − H G`` (``G = D Dᵀ``) call this to avoid
    forming the residual; see the module docstring for the formula.
    """
    s = _dual_scaling(C, alpha, positive)
    gap = 0.5 * (1.0 - s) ** 2 * r2 + alpha * l1 - s * hc
    return np.maximum(gap, 0.0)


def duality_gap(
    X: np.ndarray,
    D: np.ndarray,
    H: np.ndarray,
    alpha: float,
    positive: bool = False,
) -> np.ndarray:
    """Per-sample duality gap of the lasso (non-negative; zero at the optimum).

    The dual point is the residual rescaled into the feasible set,
    ``θ = s (x − hD)`` with ``s = min(1, α / ‖(x − hD) Dᵀ‖_∞)`` (module
    docstring). For ``positive=True`` the codes must be non-negative and the
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
    X: np.ndarray,
    D: np.ndarray,
    H: np.ndarray,
    alpha: float,
    positive: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample objective and duality gap, sharing one residual."""
    R = residual(X, D, H)
    C = R @ D.T
    r2 = np.einsum("ij,ij->i", R, R)
    hc = np.einsum("ij,ij->i", H, C)
    l1 = np.abs(H).sum(axis=1)
    return 0.5 * r2 + alpha * l1, gap_from_parts(r2, l1, hc, C, alpha, positive)


def relative_gap(
    X: np.ndarray,
    D: np.ndarray,
    H: np.ndarray,
    alpha: float,
    positive: bool = False,
) -> np.ndarray:
    """Per-sample relative duality gap ``gap / max(P(h), tiny)``.

    This is the quantity every solver's ``tol`` bounds.
    """
    primal = lasso_objective(X, D, H, alpha)
    return duality_gap(X, D, H, alpha, positive) / np.maximum(primal, TINY)


def kkt_violation(
    X: np.ndarray,
    D: np.ndarray,
    H: np.ndarray,
    alpha: float,
    positive: bool = False,
) -> np.ndarray:
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
    B = X @ D.T
    if positive:
        return np.maximum(B.max(axis=1), 0.0)
    return np.abs(B).max(axis=1)


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
