r"""Factor score weights: regression, Bartlett, Anderson–Rubin, ten Berge.

Every method gives a weight matrix ``B`` (d × k) applied to standardised data,
``scores = z B`` with ``z = (x − μ) / s`` (``s`` the features' maximum
likelihood standard deviations), for loadings ``Λ`` (the pattern, on the
correlation scale), uniquenesses ``ψ``, factor correlation ``Φ`` and the
sample correlation ``R`` of the training data (Grice 2001 reviews them):

* regression (Thurstone 1935): ``B = R⁻¹ Λ Φ``. At an interior maximum
  likelihood solution ``R⁻¹ Λ = C⁻¹ Λ`` (``C = ΛΦΛᵀ + Ψ``; the likelihood
  equations give ``R C⁻¹ Λ = Λ``), so these are the posterior means
  ``E[f | x]`` that ``transform`` returns.
* Bartlett (1937): ``B = Ψ⁻¹ Λ (Λᵀ Ψ⁻¹ Λ)⁻¹``, the generalised least-squares
  estimate of ``f``, conditionally unbiased.
* Anderson & Rubin (1956): ``B = Ψ⁻¹ Λ (Λᵀ Ψ⁻¹ R Ψ⁻¹ Λ)^{-1/2}``: scores with
  identity covariance on the training data (psych's ``"Anderson"``).
* ten Berge et al. (1999): with ``L = Λ Φ^{1/2}``,
  ``B = R^{-1/2} [R^{-1/2} L (Lᵀ R⁻¹ L)^{-1/2}] Φ^{1/2}``: scores whose
  covariance on the training data is exactly ``Φ`` (psych's ``"tenBerge"``).

References
----------
Anderson, T. W. & Rubin, H. (1956). Statistical inference in factor analysis.
Proc. Third Berkeley Symposium 5:111–150.
Bartlett, M. S. (1937). The statistical conception of mental factors. British
Journal of Psychology 28(1):97–104.
Grice, J. W. (2001). Computing and evaluating factor scores. Psychological
Methods 6(4):430–450.
ten Berge, J. M. F., Krijnen, W. P., Wansbeek, T. & Shapiro, A. (1999). Some
new results on correlation-preserving factor scores prediction methods.
Linear Algebra and its Applications 289:311–318.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

SCORE_METHODS = ("regression", "bartlett", "anderson_rubin", "ten_berge")


def _sym_power(A: np.ndarray, power: float) -> np.ndarray:
    """``A^power`` of a symmetric positive definite matrix (eigendecomposition)."""
    lam, V = linalg.eigh(A)
    if lam[0] <= 0:
        raise np.linalg.LinAlgError(
            "A matrix needed for the factor score weights is not positive "
            "definite; the fit is degenerate (fewer factors may help)."
        )
    return (V * lam**power) @ V.T


def score_weights(method: str, L, psi, phi, R) -> np.ndarray:
    """Weights ``B`` (d × k) of a scoring method on the correlation scale."""
    k = L.shape[1]
    phi = np.eye(k) if phi is None else phi
    if method == "regression":
        return linalg.solve(R, L @ phi, assume_a="pos")
    Lp = L / psi[:, None]
    if method == "bartlett":
        return linalg.solve(L.T @ Lp, Lp.T, assume_a="pos").T
    if method == "anderson_rubin":
        return Lp @ _sym_power(Lp.T @ R @ Lp, -0.5)
    if method == "ten_berge":
        phi_half = _sym_power(phi, 0.5)
        Lh = L @ phi_half
        R_mhalf = _sym_power(R, -0.5)
        inner = _sym_power(Lh.T @ linalg.solve(R, Lh, assume_a="pos"), -0.5)
        return R_mhalf @ (R_mhalf @ Lh @ inner) @ phi_half
    raise ValueError(f"method must be one of {SCORE_METHODS}, got {method!r}.")
