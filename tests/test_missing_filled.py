"""EM over the missing entries only (latentmodels._missing_filled)."""

import warnings

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

import latentmodels._missing as missing
from latentmodels._em import run_em
from latentmodels._missing_filled import FilledEMMap, expected_statistics
from latentmodels.datasets import make_factor_data


def _dense_expected(Xm, W, psi, mu):
    """Σ E[x | x_o] and Σ E[x xᵀ | x_o] by the Gaussian conditional, row by row."""
    C = W @ W.T + np.diag(psi)
    d = Xm.shape[1]
    total, second = np.zeros(d), np.zeros((d, d))
    for x in Xm:
        o = ~np.isnan(x)
        m = ~o
        xh = np.where(o, x, 0.0)
        cov = np.zeros((d, d))
        if m.any():
            K = np.linalg.solve(C[np.ix_(o, o)], C[np.ix_(o, m)])
            xh[m] = mu[m] + K.T @ (x[o] - mu[o])
            cov[np.ix_(m, m)] = C[np.ix_(m, m)] - C[np.ix_(m, o)] @ K
        total += xh
        second += np.outer(xh, xh) + cov
    return total, second


@pytest.mark.parametrize("threshold", [1, 10**9])  # statistics path / row path
def test_expected_statistics_are_the_gaussian_conditional(threshold, monkeypatch):
    rng = np.random.RandomState(0)
    X, _ = make_factor_data(300, 7, 2, random_state=0)
    Xm = X.copy()
    Xm[:100, 2] = np.nan  # a block pattern
    Xm[100:150, [0, 5]] = np.nan
    Xm[rng.rand(*X.shape) < 0.05] = np.nan  # and scattered ones
    Xm = Xm[~np.isnan(Xm).all(axis=1)]
    monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", threshold)
    data = missing.observed_data(Xm)
    assert (data.block_n.size > 0) == (threshold == 1)
    W = rng.standard_normal((7, 2))
    psi = rng.uniform(0.3, 1.2, 7)
    mu = rng.standard_normal(7)
    total, second, ll_rows = expected_statistics(data, W, psi, mu - data.offset)
    # the package works on data centred at data.offset
    ref_total, ref_second = _dense_expected(Xm - data.offset, W, psi,
                                            mu - data.offset)
    np.testing.assert_allclose(total, ref_total, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(second, ref_second, rtol=1e-10, atol=1e-9)
    # the log-likelihood, rows' and blocks' parts, is scipy's
    ll = ll_rows
    if data.block_n.size:
        ll += missing._loglike_blocks(data, W, psi, mu - data.offset)
    C = W @ W.T + np.diag(psi)
    ref_ll = sum(
        multivariate_normal(mu[o], C[np.ix_(o, o)]).logpdf(x[o])
        for x, o in zip(Xm, ~np.isnan(Xm))
    )
    assert ll == pytest.approx(ref_ll, rel=1e-12)


def test_filled_em_reaches_the_observed_data_maximum():
    # The EM over the missing entries climbs the observed-data likelihood
    # monotonically to the maximum that EM with SQUAREM and Newton reach.
    X, _ = make_factor_data(400, 8, 2, noise="heteroscedastic", random_state=1)
    Xm = X.copy()
    Xm[np.random.RandomState(1).rand(*X.shape) < 0.2] = np.nan
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-12, max_iter=3000)
    ref = missing.fit_missing(Xm, 2, newton=True, **kw)
    data = missing.observed_data(Xm)
    floor = 1e-6 * data.var
    F = missing._MissingEMMap(data, False, floor, 2)
    theta0 = missing._initial_parameters(data, 2, np.random.RandomState(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = run_em(FilledEMMap(data, F, missing._loglike_blocks, 2), theta0,
                     tol=1e-12, max_iter=500)
    assert res.converged
    assert_monotone(res.loglike)
    assert res.loglike[-1] == pytest.approx(ref.loglike[-1], abs=1e-9)
    W, psi, _ = res.params
    np.testing.assert_allclose(W @ W.T + np.diag(psi),
                               ref.components.T @ ref.components
                               + np.diag(ref.noise_variance), atol=1e-5)


def test_factor_analysis_beyond_newtons_size_takes_the_filled_route(monkeypatch):
    # With more parameters than Newton's Hessian is allowed (here the limit is
    # lowered), factor analysis is fitted by the EM over the missing entries:
    # converged, and at the maximum Newton's route reaches.
    X, _ = make_factor_data(400, 8, 2, noise="heteroscedastic", random_state=2)
    Xm = X.copy()
    Xm[np.random.RandomState(2).rand(*X.shape) < 0.15] = np.nan
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, max_iter=2000)
    ref = missing.fit_missing(Xm, 2, newton=True, **kw)
    calls = []
    orig = FilledEMMap.__call__

    def spy(self, theta):
        calls.append(1)
        return orig(self, theta)

    monkeypatch.setattr(FilledEMMap, "__call__", spy)
    monkeypatch.setattr(missing, "_NEWTON_MAX_PARAMS", 10)
    res = missing.fit_missing(Xm, 2, **kw)
    assert calls and len(calls) == res.n_iter
    assert res.converged
    assert_monotone(res.loglike)
    assert res.loglike[-1] == pytest.approx(ref.loglike[-1], abs=1e-8)
