r"""Goodness of fit of a Gaussian covariance structure: χ², RMSEA, CFI, TLI, SRMR.

Shared by exploratory factor analysis (:meth:`FactorAnalysis.goodness_of_fit`)
and any model whose maximum likelihood estimate gives a model-implied
covariance ``C`` for the sample covariance ``S`` (confirmatory factor analysis,
PPCA). Everything follows from the maximum likelihood discrepancy

.. math::

    F_{ML}(S, C) = \log\det C − \log\det S + \operatorname{tr}(C^{-1} S) − d,

which is ``2/n`` times the log-likelihood ratio of the model against the
saturated (unstructured) covariance. The caller chooses the multiplier ``m``
of the test statistic ``T = m F_{ML}``: R's ``factanal`` and psych's ``fa``
use Bartlett's correction ``m = n − 1 − (2d + 5)/6 − 2k/3`` (Bartlett 1950),
lavaan uses ``m = n``. See the user guide page "Assessing a factor model"
(``docs/user_guide/assessment.rst``).

The indices, with ``T₀`` the statistic of the independence (baseline) model
``C₀ = diag(S)`` on ``df₀ = d(d − 1)/2`` degrees of freedom and computed with the
same multiplier:

* RMSEA (Steiger & Lind 1980): ``sqrt(max(T/(n·df) − 1/N', 0))``; lavaan takes
  ``N' = n`` (with ``m = n`` this is ``sqrt(max(T − df, 0)/(n·df))``), psych
  2.2.9 ``N' = n − 1`` with the Bartlett ``m``. Its 90%
  interval inverts the noncentral χ² distribution function in its
  noncentrality λ (``P(χ²_df(λ) ≤ T) = 0.95`` and ``0.05``) and reports
  ``sqrt(λ/(N'·df))`` (Browne & Cudeck 1993), as lavaan and psych do.
* CFI (Bentler 1990): ``1 − max(T − df, 0) / max(T₀ − df₀, T − df, 0)``.
* TLI (Tucker & Lewis 1973): ``(T₀/df₀ − T/df)/(T₀/df₀ − 1)``. With the
  Bartlett multiplier this is psych's ``TLI``.
* SRMR (Bentler 1995; lavaan's ``srmr``): the root mean square of
  ``(S_ij − C_ij)/sqrt(S_ii S_jj)`` over the ``d(d + 1)/2`` entries of the
  lower triangle, diagonal included.
* ``loglike``: the maximised log-likelihood
  ``−n/2 [d log 2π + log det C + tr(C⁻¹S)]`` (the mean at the sample mean);
  ``aic = −2 loglike + 2q`` and ``bic = −2 loglike + q log n`` with
  ``q = n_free_params + n_mean_params``.

References
----------
Bartlett, M. S. (1950). Tests of significance in factor analysis. British
Journal of Statistical Psychology 3(2):77–85.
Bentler, P. M. (1990). Comparative fit indexes in structural models.
Psychological Bulletin 107(2):238–246.
Browne, M. W. & Cudeck, R. (1993). Alternative ways of assessing model fit.
In Bollen & Long (eds.), Testing Structural Equation Models, 136–162. Sage.
Steiger, J. H. & Lind, J. C. (1980). Statistically based tests for the number
of common factors. Annual meeting of the Psychometric Society, Iowa City.
Tucker, L. R. & Lewis, C. (1973). A reliability coefficient for maximum
likelihood factor analysis. Psychometrika 38(1):1–10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, stats

from ._gaussian import _LOG_2PI


@dataclass(frozen=True)
class GoodnessOfFit:
    """Fit statistics of a covariance structure (see :func:`goodness_of_fit`).

    Attributes
    ----------
    statistic : float
        Likelihood-ratio χ² ``T = chi2_multiplier · F_ML`` against the saturated
        model.
    dof : int
        Degrees of freedom ``d(d + 1)/2 − n_free_params``.
    pvalue : float
        ``P(χ²_dof > T)``; NaN when ``dof ≤ 0``.
    rmsea : float
        Root mean square error of approximation; NaN when ``dof ≤ 0``.
    rmsea_ci90 : tuple of float
        Its 90% confidence interval ``(lower, upper)``.
    rmsea_pvalue : float
        Test of close fit, ``P(χ²_dof(λ₀) ≥ T)`` with ``λ₀ = 0.05² N' dof``
        (lavaan's ``rmsea.pvalue``).
    tli, cfi : float
        Tucker–Lewis and comparative fit indices against the baseline.
    srmr : float
        Standardised root mean square residual.
    aic, bic : float
        Information criteria of the maximised log-likelihood.
    loglike : float
        Maximised log-likelihood ``−n/2 [d log 2π + log det C + tr(C⁻¹S)]``.
    fmin : float
        The discrepancy ``F_ML(S, C)``.
    n_samples : int
    n_params : int
        Parameters counted by ``aic`` and ``bic``.
    baseline_statistic : float
        χ² of the independence model ``diag(S)`` with the same multiplier.
    baseline_dof : int
        ``d(d − 1)/2``.
    chi2_multiplier : float
        ``m`` in ``T = m F_ML``.
    """

    statistic: float
    dof: int
    pvalue: float
    rmsea: float
    rmsea_ci90: tuple
    rmsea_pvalue: float
    tli: float
    cfi: float
    srmr: float
    aic: float
    bic: float
    loglike: float
    fmin: float
    n_samples: int
    n_params: int
    baseline_statistic: float
    baseline_dof: int
    chi2_multiplier: float

    def as_dict(self) -> dict:
        """The statistics as a JSON-friendly dict of floats and ints."""
        out = {}
        for key, value in self.__dict__.items():
            if isinstance(value, tuple):
                out[key] = [float(v) for v in value]
            elif isinstance(value, (int, np.integer)):
                out[key] = int(value)
            else:
                out[key] = float(value)
        return out


def bartlett_multiplier(n_samples: int, n_features: int, n_components: int) -> float:
    """Bartlett's correction ``n − 1 − (2d + 5)/6 − 2k/3`` (factanal, psych)."""
    return n_samples - 1.0 - (2.0 * n_features + 5.0) / 6.0 - 2.0 * n_components / 3.0


def _logdet(A: np.ndarray, name: str) -> float:
    """``log det A`` of a covariance matrix, or a ValueError when it is singular
    to working precision (fewer samples than features, constant or linearly
    dependent features): its eigenvalues, on the correlation scale, must all
    exceed ``d · eps`` times the largest."""
    diag = np.diag(A)
    if np.all(diag > 0):
        scale = 1.0 / np.sqrt(diag)
        lam = np.linalg.eigvalsh(A * scale[:, None] * scale[None, :])
        if lam[0] > A.shape[0] * np.finfo(np.float64).eps * lam[-1]:
            return float(np.linalg.slogdet(A)[1])
    raise ValueError(
        f"The {name} covariance matrix is singular (fewer samples than "
        "features, or constant or linearly dependent features), so the "
        "likelihood-ratio statistics are undefined; fit more samples than "
        "features, or remove constant or linearly dependent features."
    )


def ml_discrepancy(S: np.ndarray, C: np.ndarray) -> float:
    """``F_ML = log det C − log det S + tr(C⁻¹ S) − d`` (≥ 0, 0 iff ``C = S``)."""
    d = S.shape[0]
    cho = linalg.cho_factor(C, lower=True)
    tr = float(np.trace(linalg.cho_solve(cho, S)))
    logdet_c = 2.0 * float(np.sum(np.log(np.diag(cho[0]))))
    return max(logdet_c - _logdet(S, "sample") + tr - d, 0.0)


def rmsea_interval(statistic, dof, n_eff, level=0.90):
    """Confidence interval of the RMSEA by the noncentral χ² (Browne & Cudeck).

    The bounds are ``sqrt(λ/(n_eff · dof))`` with ``λ`` solving
    ``P(χ²_dof(λ) ≤ T) = (1 ± level)/2``; a bound is 0 when ``T`` is below
    the corresponding quantile of the central χ².
    """
    if dof <= 0 or not np.isfinite(statistic):
        return (np.nan, np.nan)
    bounds = []
    for p in ((1.0 + level) / 2.0, (1.0 - level) / 2.0):  # lower, upper
        if stats.chi2.cdf(statistic, dof) <= p:
            bounds.append(0.0)
            continue

        def f(lam, p=p):
            return stats.ncx2.cdf(statistic, dof, lam) - p

        hi = max(statistic, 1.0)
        while f(hi) > 0:
            hi *= 2.0
        lam = optimize.brentq(f, 1e-12, hi, xtol=1e-12, rtol=1e-12)
        bounds.append(float(np.sqrt(lam / (n_eff * dof))))
    return tuple(bounds)


def rmsea(statistic, dof, n_samples, n_eff):
    """``sqrt(max(T/(n·dof) − 1/N', 0))``; NaN when ``dof ≤ 0``."""
    if dof <= 0:
        return np.nan
    return float(np.sqrt(max(statistic / (n_samples * dof) - 1.0 / n_eff, 0.0)))


def cfi(statistic, dof, baseline_statistic, baseline_dof):
    """Bentler's CFI, ``1 − max(T − df, 0)/max(T₀ − df₀, T − df, 0)``."""
    denom = max(baseline_statistic - baseline_dof, statistic - dof, 0.0)
    return 1.0 - max(statistic - dof, 0.0) / denom if denom > 0 else 1.0


def tli(statistic, dof, baseline_statistic, baseline_dof):
    """Tucker–Lewis index ``(T₀/df₀ − T/df)/(T₀/df₀ − 1)``; NaN if undefined."""
    if dof <= 0 or baseline_dof <= 0 or baseline_statistic == baseline_dof:
        return np.nan
    r0 = baseline_statistic / baseline_dof
    return float((r0 - statistic / dof) / (r0 - 1.0))


def srmr(S: np.ndarray, C: np.ndarray) -> float:
    """lavaan's SRMR: RMS of ``(S_ij − C_ij)/√(S_ii S_jj)``, lower triangle + diag."""
    sd = np.sqrt(np.diag(S))
    resid = (S - C) / np.outer(sd, sd)
    il = np.tril_indices(S.shape[0])
    return float(np.sqrt(np.mean(resid[il] ** 2)))


def goodness_of_fit(
    S,
    C,
    *,
    n_samples,
    n_free_params,
    chi2_multiplier=None,
    n_mean_params=None,
    rmsea_n=None,
    statistic=None,
    baseline_statistic=None,
    loglike=None,
) -> GoodnessOfFit:
    r"""Fit statistics of a model-implied covariance ``C`` for the data's ``S``.

    Parameters
    ----------
    S : array-like of shape (d, d)
        Maximum likelihood sample covariance (divisor ``n``).
    C : array-like of shape (d, d)
        Model-implied covariance at the maximum likelihood estimate.
    n_samples : int
        Number of observations ``n``.
    n_free_params : int
        Free parameters of the covariance structure; the degrees of freedom are
        ``d(d + 1)/2 − n_free_params``. Factor analysis with ``k`` factors:
        ``d k − k(k − 1)/2 + d``.
    chi2_multiplier : float, default=None
        ``m`` in ``T = m F_ML``; None means ``n`` (lavaan). Exploratory factor
        analysis passes :func:`bartlett_multiplier` (factanal, psych).
    n_mean_params : int, default=None
        Mean parameters added to ``n_free_params`` in AIC and BIC; None means
        ``d`` (the means are estimated). lavaan counts none for a model
        without a mean structure: pass 0 to match it.
    rmsea_n : float, default=None
        ``N'`` of the RMSEA and its interval; None means ``n`` (lavaan).
        psych uses ``n − 1``.
    statistic, baseline_statistic, loglike : float, default=None
        The χ² of the model and of the independence model, and the maximised
        log-likelihood, when they do not follow from ``(S, C)`` alone — as
        with missing data, where full-information ML gives likelihood ratios
        against the saturated and independence models fitted by FIML (``S``
        is then the saturated estimate, used by the SRMR). None computes them
        from ``S`` and ``C``.

    Returns
    -------
    GoodnessOfFit

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels._fit_statistics import goodness_of_fit
    >>> S = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> gof = goodness_of_fit(S, S, n_samples=100, n_free_params=3)
    >>> gof.statistic, gof.dof, gof.srmr
    (0.0, 0, 0.0)
    """
    S = np.asarray(S, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape != C.shape:
        raise ValueError(
            f"S and C must be square matrices of the same shape, got {S.shape} "
            f"and {C.shape}."
        )
    d = S.shape[0]
    n = int(n_samples)
    m = float(n if chi2_multiplier is None else chi2_multiplier)
    n_eff = float(n if rmsea_n is None else rmsea_n)
    n_mean = d if n_mean_params is None else int(n_mean_params)
    dof = d * (d + 1) // 2 - int(n_free_params)

    if statistic is None:
        fmin = ml_discrepancy(S, C)
        T = m * fmin
    else:
        T = float(statistic)
        fmin = T / m
    dof0 = d * (d - 1) // 2
    if baseline_statistic is None:
        logdet_s = _logdet(S, "sample")
        T0 = m * max(float(np.sum(np.log(np.diag(S)))) - logdet_s, 0.0)
    else:
        T0 = float(baseline_statistic)

    if dof > 0:
        pvalue = float(stats.chi2.sf(T, dof))
        ci = rmsea_interval(T, dof, n_eff)
        rmsea_p = float(stats.ncx2.sf(T, dof, 0.05**2 * n_eff * dof))
    else:
        pvalue = rmsea_p = np.nan
        ci = (np.nan, np.nan)
    if loglike is None:  # at the MLE, the mean at the sample mean
        logdet_s = _logdet(S, "sample")
        loglike = -0.5 * n * (d * _LOG_2PI + fmin + logdet_s + d)
    q = int(n_free_params) + n_mean
    return GoodnessOfFit(
        statistic=float(T),
        dof=int(dof),
        pvalue=pvalue,
        rmsea=rmsea(T, dof, n, n_eff),
        rmsea_ci90=ci,
        rmsea_pvalue=rmsea_p,
        tli=tli(T, dof, T0, dof0),
        cfi=float(cfi(T, dof, T0, dof0)),
        srmr=srmr(S, C),
        aic=float(-2.0 * loglike + 2.0 * q),
        bic=float(-2.0 * loglike + q * np.log(n)),
        loglike=float(loglike),
        fmin=float(fmin),
        n_samples=n,
        n_params=q,
        baseline_statistic=float(T0),
        baseline_dof=int(dof0),
        chi2_multiplier=m,
    )
