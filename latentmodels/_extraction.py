r"""Least-squares factor extraction: minres (ULS) and iterated principal axis.

Both work on a correlation matrix ``R`` and return loadings ``Λ`` (d × k) and
uniquenesses ``ψ = 1 − diag(Λ Λᵀ)`` on the correlation scale; the estimator
maps them back to the data's units. Neither is a likelihood method: the
likelihood-based outputs (``goodness_of_fit``, ``standard_errors``) need
``extraction='ml'``.

* **minres** (Harman & Jones 1966; ``psych::fa(fm="minres")``): minimise the
  sum of squared off-diagonal residuals

  .. math::

      f(Λ) = \sum_{i \ne j} \bigl(R_{ij} − (Λ Λᵀ)_{ij}\bigr)^2,

  with gradient ``−4 (R − Λ Λᵀ)_{off} Λ``, by L-BFGS from the principal-axis
  solution; then ``Λ`` is put in principal axes (the leading eigenvectors of
  ``R`` with ``1 − ψ`` on its diagonal, scaled by the square roots of the
  eigenvalues, as psych reports it).
* **principal axis** (Thurstone 1931; statsmodels' default ``Factor``
  method): start from the squared multiple correlations ``h² = 1 − 1/(R⁻¹)_jj``,
  then repeat ``Λ = V_k Λ_k^{1/2}`` of ``R`` with ``h²`` on its diagonal and
  ``h² = diag(Λ Λᵀ)`` until ``‖Δh²‖ < tol``. Its fixed points are those of
  minres; it converges slowly and is stopped after ``max_iter`` iterations, as
  statsmodels does (50 by default).

Column signs: each column of the loadings has a positive sum (psych's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from ._docstrings import fill_doc
from ._gaussian import LinearGaussian
from ._threads import blas_threads


def smc_from_correlation(R: np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 − 1/(R⁻¹)_jj`` (pseudo-inverse if singular)."""
    try:
        inv = linalg.inv(R)
    except linalg.LinAlgError:
        inv = linalg.pinvh(R)
    return 1.0 - 1.0 / np.diag(inv)


def _principal_axes(R: np.ndarray, h2: np.ndarray, k: int):
    """Leading ``k`` axes of ``R`` with ``h2`` on the diagonal (positive part)."""
    Rh = R.copy()
    np.fill_diagonal(Rh, h2)
    lam, V = linalg.eigh(Rh)
    lam, V = lam[::-1][:k], V[:, ::-1][:, :k]
    return V * np.sqrt(np.clip(lam, 0.0, None)), lam


def _positive_columns(L: np.ndarray) -> np.ndarray:
    signs = np.where(L.sum(axis=0) < 0, -1.0, 1.0)
    return L * signs


@fill_doc
def principal_axis(R, k: int, *, max_iter: int = 50, tol: float = 1e-8, smc=True):
    """Iterated principal-axis factoring of a correlation matrix.

    Parameters
    ----------
    R : ndarray of shape (d, d)
    k : int
    max_iter : int, default=50
    tol : float, default=1e-8
        Stop when the Euclidean norm of the change in communalities is below.
    smc : bool, default=True
        Start from the squared multiple correlations (else from 1).

    %(extraction_returns)s
    """
    R = np.asarray(R, dtype=np.float64)
    h2 = smc_from_correlation(R) if smc else np.ones(R.shape[0])
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        L, _ = _principal_axes(R, h2, k)
        h2_new = np.sum(L * L, axis=1)
        done = np.linalg.norm(h2_new - h2) < tol
        h2 = h2_new
        if done:
            break
    return _positive_columns(L), 1.0 - h2, n_iter


@fill_doc
def minres(R, k: int, *, tol: float = 1e-12, max_iter: int = 5000, bounds=(0.005, 1.0)):
    """Minimum-residual (unweighted least squares) factoring of ``R``.

    Minimises over the uniquenesses ``ψ`` (within ``bounds``, psych's
    ``[0.005, 1]``) the squared residual of the best rank-``k`` fit of
    ``R* = R − diag(ψ)`` (``R`` with the communalities ``1 − ψ`` on its
    diagonal), ``F(ψ) = Σ_{j>k} λ_j(R*)²`` with gradient
    ``∂F/∂ψ_i = −2 Σ_{j>k} λ_j v_{ij}²``, by L-BFGS-B from ``ψ = 1 − SMC``. At
    an interior minimum the diagonal residual vanishes, so this is the
    off-diagonal least-squares criterion above.

    Parameters
    ----------
    R : ndarray of shape (d, d)
    k : int
    tol : float, default=1e-12
        Projected-gradient tolerance of L-BFGS-B.
    max_iter : int, default=5000
    bounds : tuple of float, default=(0.005, 1.0)

    %(extraction_returns)s
    """
    R = np.asarray(R, dtype=np.float64)
    d = R.shape[0]
    diag = np.diag(R).copy()

    def f(psi):
        Rs = R.copy()
        np.fill_diagonal(Rs, diag - psi)
        lam, V = linalg.eigh(Rs)  # ascending: the trailing d − k come first
        lam, V = lam[: d - k], V[:, : d - k]
        return float(np.sum(lam * lam)), -2.0 * (V * V) @ lam

    lo, hi = bounds
    psi0 = np.clip(diag - diag * smc_from_correlation(R), lo, hi)
    with blas_threads(1):  # small problem: threads only add overhead
        res = optimize.minimize(
            f,
            psi0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(lo, hi)] * d,
            options={"gtol": tol, "ftol": 1e-15, "maxiter": max_iter},
        )
    L, _ = _principal_axes(R, diag - res.x, k)
    # ψ = diag(R) − h² of the loadings (they differ from res.x where a bound
    # is active, a Heywood case), as psych reports them
    return _positive_columns(L), diag - np.sum(L * L, axis=1), int(res.nit)


EXTRACTIONS = ("ml", "minres", "principal_axis")


@dataclass
class LeastSquaresResult:
    """A least-squares extraction in the shape of the EM result the estimator
    consumes (``W``, ``psi``, ``loglike``, ``n_iter``, ``converged``)."""

    W: np.ndarray
    psi: np.ndarray
    loglike: list
    n_iter: int
    converged: bool


def least_squares_fit(method, R, W=None, psi=None, *, floor, tol=None, max_iter=None):
    """Fit ``R`` by ``'minres'`` or ``'principal_axis'`` (``W``, ``psi`` unused).

    Uniquenesses are held at or above ``floor`` (Heywood cases), and the
    mean log-likelihood of the solution is reported (one value: these are not
    likelihood methods). The signature is that of the EM drivers, so the
    estimator calls either the same way.
    """
    k = W.shape[1]
    if method == "minres":
        L, u, n_iter = minres(R, k)
        converged = True
    else:
        L, u, n_iter = principal_axis(R, k)
        converged = True  # statsmodels' capped iteration is the definition
    u = np.maximum(u, floor)
    loglike = LinearGaussian(L.T, u, np.zeros(R.shape[0])).em_moments(R)[0]
    return LeastSquaresResult(L, u, [float(loglike)], int(n_iter), converged)
