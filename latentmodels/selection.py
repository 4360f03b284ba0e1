r"""How many factors, and is the data fit for factor analysis at all.

* :func:`parallel_analysis` — Horn (1965): keep the factors whose eigenvalues
  exceed those of random data of the same size (psych's ``fa.parallel``).
* :func:`velicer_map` — Velicer's (1976) minimum average partial test.
* :func:`kmo` — Kaiser–Meyer–Olkin measure of sampling adequacy.
* :func:`bartlett_sphericity` — Bartlett's (1951) test that the correlation
  matrix is the identity.
* :func:`smc` — squared multiple correlations, the classical communality
  estimates.

Every function takes a data matrix ``X`` (n_samples, n_features) and works on
its Pearson correlation matrix ``R``. See the user guide page "Assessing a
factor model" (``docs/user_guide/assessment.rst``).

References
----------
Bartlett, M. S. (1951). The effect of standardization on a χ² approximation in
factor analysis. Biometrika 38(3/4):337–344.
Horn, J. L. (1965). A rationale and test for the number of factors in factor
analysis. Psychometrika 30(2):179–185.
Kaiser, H. F. (1970). A second generation little jiffy. Psychometrika
35(4):401–415.
Velicer, W. F. (1976). Determining the number of components from the matrix of
partial correlations. Psychometrika 41(3):321–327.
Revelle, W. psych: Procedures for Psychological, Psychometric, and Personality
Research (``fa.parallel``, ``VSS``, ``KMO``, ``cortest.bartlett``).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import linalg, stats
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._docstrings import fill_doc
from ._extraction import minres, smc_from_correlation
from ._threads import blas_threads
from ._validation import check_data

__all__ = [
    "ParallelAnalysisResult",
    "MAPResult",
    "KMOResult",
    "SphericityResult",
    "parallel_analysis",
    "velicer_map",
    "kmo",
    "bartlett_sphericity",
    "smc",
]


def _correlation(X, min_features=2) -> tuple[np.ndarray, int]:
    X = check_data(X, name="X", dtype=np.float64)
    n, d = X.shape
    if d < min_features or n < 3:
        raise ValueError(
            f"X must have at least 3 samples and {min_features} features, got "
            f"shape {X.shape}."
        )
    sd = X.std(axis=0)
    if np.any(sd == 0):
        raise ValueError(
            f"feature(s) {np.flatnonzero(sd == 0).tolist()} are constant: their "
            "correlations are undefined; remove them."
        )
    return np.corrcoef(X, rowvar=False), n


def _fa_eigenvalues(R: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``R`` with the communalities of a 1-factor minres fit on
    its diagonal (psych's ``fa.parallel(fm="minres", SMC=FALSE)``)."""
    _, psi, _ = minres(R, 1, tol=1e-8)
    Rh = R - np.diag(psi)
    return np.sort(linalg.eigvalsh(Rh))[::-1]


def _n_above(observed: np.ndarray, reference: np.ndarray) -> int:
    """Number of leading observed eigenvalues above the reference ones."""
    below = np.flatnonzero(~(observed > reference))
    return int(below[0]) if below.size else observed.size


@dataclass(frozen=True)
class ParallelAnalysisResult:
    """Outcome of :func:`parallel_analysis`.

    Attributes
    ----------
    n_factors : int
        Leading factor-analysis eigenvalues above the simulated quantile.
    n_components : int
        Leading principal-component eigenvalues above the simulated quantile.
    fa_eigenvalues, pc_eigenvalues : ndarray of shape (n_features,)
        Of the data (decreasing).
    fa_simulated, pc_simulated : ndarray of shape (n_features,)
        The ``quantile`` of each ordered eigenvalue over the random data sets.
    """

    n_factors: int
    n_components: int
    fa_eigenvalues: np.ndarray
    pc_eigenvalues: np.ndarray
    fa_simulated: np.ndarray
    pc_simulated: np.ndarray


@fill_doc
@validate_params(
    {
        "X": ["array-like"],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def parallel_analysis(X, n_iter=20, quantile=0.95, random_state=None):
    r"""Horn's parallel analysis for the number of factors and components.

    The eigenvalues of the data's correlation matrix ``R`` (principal
    components) and of ``R`` with the communalities of a one-factor minres
    fit on its diagonal (factors) are compared with the ``quantile`` of the
    same eigenvalues of ``n_iter`` standard normal data sets of the same
    shape. The number retained is the count of leading eigenvalues above
    their simulated quantile (psych's ``fa.parallel`` defaults: 20
    iterations, the 95th percentile, minres, normal simulated data).

    Parameters
    ----------
    %(X_correlation)s
    n_iter : int, default=20
        Number of random data sets.
    quantile : float, default=0.95
        Quantile of the simulated eigenvalues to beat (psych's ``quant``).
    random_state : int, RandomState instance or None, default=None
        Seeds the random data: results are bit-identical for a fixed seed.

    Returns
    -------
    ParallelAnalysisResult

    Examples
    --------
    >>> from latentmodels.datasets import make_factor_data
    >>> from latentmodels.selection import parallel_analysis
    >>> X, _ = make_factor_data(500, 12, 2, noise_level=0.5, random_state=0)
    >>> parallel_analysis(X, random_state=0).n_factors
    2
    """
    R, n = _correlation(X)
    d = R.shape[0]
    rng = check_random_state(random_state)
    fa_sim = np.empty((n_iter, d))
    pc_sim = np.empty((n_iter, d))
    with blas_threads(1):  # many small eigenproblems
        fa_obs = _fa_eigenvalues(R)
        pc_obs = np.sort(linalg.eigvalsh(R))[::-1]
        for i in range(n_iter):
            Rs = np.corrcoef(rng.standard_normal((n, d)), rowvar=False)
            fa_sim[i] = _fa_eigenvalues(Rs)
            pc_sim[i] = np.sort(linalg.eigvalsh(Rs))[::-1]
    fa_q = np.quantile(fa_sim, quantile, axis=0)
    pc_q = np.quantile(pc_sim, quantile, axis=0)
    return ParallelAnalysisResult(
        n_factors=_n_above(fa_obs, fa_q),
        n_components=_n_above(pc_obs, pc_q),
        fa_eigenvalues=fa_obs,
        pc_eigenvalues=pc_obs,
        fa_simulated=fa_q,
        pc_simulated=pc_q,
    )


@dataclass(frozen=True)
class MAPResult:
    """Outcome of :func:`velicer_map`.

    Attributes
    ----------
    n_components : int
        The number of components minimising the average squared partial
        correlation.
    average_partial : ndarray of shape (n_features - 1,)
        Entry ``m``: the average squared off-diagonal partial correlation after
        removing the first ``m`` principal components (``m = 0`` is ``R``).
    average_partial4 : ndarray of shape (n_features - 1,)
        The same with fourth powers (Velicer, Eaton & Fava 2000).
    """

    n_components: int
    average_partial: np.ndarray
    average_partial4: np.ndarray


@fill_doc
@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def velicer_map(X):
    r"""Velicer's minimum average partial (MAP) test.

    With ``A_m`` the loadings of the first ``m`` principal components of ``R``
    (eigenvectors times root eigenvalues), the partial covariance is
    ``R − A_m A_mᵀ``; scaled to a correlation matrix, the mean of its squared
    off-diagonal entries is minimal at the number of components to keep
    (psych's ``VSS`` ``map`` column, with ``m = 0`` added).

    Parameters
    ----------
    %(X_correlation)s

    Returns
    -------
    MAPResult
    """
    R, _ = _correlation(X, min_features=3)
    d = R.shape[0]
    lam, V = linalg.eigh(R)
    A = V[:, ::-1] * np.sqrt(np.clip(lam[::-1], 0.0, None))
    off = ~np.eye(d, dtype=bool)
    avg2, avg4 = np.empty(d - 1), np.empty(d - 1)
    for m in range(d - 1):
        P = R - A[:, :m] @ A[:, :m].T
        s = np.sqrt(np.diag(P))
        Pc = P / np.outer(s, s)
        avg2[m] = np.mean(Pc[off] ** 2)
        avg4[m] = np.mean(Pc[off] ** 4)
    return MAPResult(int(np.argmin(avg2)), avg2, avg4)


@dataclass(frozen=True)
class KMOResult:
    """Kaiser–Meyer–Olkin measure of sampling adequacy.

    Attributes
    ----------
    overall : float
    per_feature : ndarray of shape (n_features,)
    """

    overall: float
    per_feature: np.ndarray


@fill_doc
@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def kmo(X):
    r"""Kaiser–Meyer–Olkin measure of sampling adequacy (Kaiser 1970).

    With ``r_ij`` the correlations and ``q_ij = −P_ij/√(P_ii P_jj)`` the
    partial correlations (``P = R⁻¹``), over ``i ≠ j``:

    .. math::

        \mathrm{KMO} = \frac{\sum r_{ij}^2}{\sum r_{ij}^2 + \sum q_{ij}^2},

    and per feature the same sums over ``i`` for fixed ``j``. Values above
    0.8 are "meritorious", below 0.5 "unacceptable" (Kaiser 1974).

    Parameters
    ----------
    %(X_correlation)s

    Returns
    -------
    KMOResult
    """
    R, _ = _correlation(X)
    P = linalg.inv(R)
    s = np.sqrt(np.diag(P))
    Q = -P / np.outer(s, s)
    off = ~np.eye(R.shape[0], dtype=bool)
    r2 = np.where(off, R * R, 0.0)
    q2 = np.where(off, Q * Q, 0.0)
    per = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    overall = r2.sum() / (r2.sum() + q2.sum())
    return KMOResult(float(overall), per)


@dataclass(frozen=True)
class SphericityResult:
    """Bartlett's test of sphericity.

    Attributes
    ----------
    statistic : float
    dof : int
    pvalue : float
    """

    statistic: float
    dof: int
    pvalue: float


@fill_doc
@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def bartlett_sphericity(X):
    r"""Bartlett's (1951) test that the population correlation is the identity.

    .. math::

        χ^2 = −\bigl(n − 1 − \tfrac{2d + 5}{6}\bigr) \log\det R,
        \qquad \mathrm{dof} = d(d − 1)/2

    (psych's ``cortest.bartlett``).

    Parameters
    ----------
    %(X_correlation)s

    Returns
    -------
    SphericityResult
    """
    R, n = _correlation(X)
    d = R.shape[0]
    stat = -(n - 1 - (2 * d + 5) / 6) * np.linalg.slogdet(R)[1]
    dof = d * (d - 1) // 2
    return SphericityResult(float(stat), dof, float(stats.chi2.sf(stat, dof)))


@fill_doc
@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def smc(X):
    r"""Squared multiple correlation of each feature with all the others.

    ``1 − 1/(R⁻¹)_jj`` (the pseudo-inverse when ``R`` is singular): the
    lower bound of the communality used to start principal-axis factoring.

    Parameters
    ----------
    %(X_correlation)s

    Returns
    -------
    ndarray of shape (n_features,)
    """
    R, _ = _correlation(X)
    return smc_from_correlation(R)
