"""Factor score methods and the summary table (issue 16)."""

import warnings

import numpy as np
import pytest

from latentmodels import FactorAnalysis
from latentmodels.datasets import make_factor_data


def _fit(rotation=None, seed=0, tol=1e-10):
    X, _ = make_factor_data(400, 9, 3, noise_level=0.5, random_state=seed)
    X = X * np.linspace(1, 5, 9) + 2.0
    return X, FactorAnalysis(3, rotation=rotation, tol=tol).fit(X)


@pytest.mark.parametrize("rotation", [None, "varimax", "oblimin"])
def test_regression_scores_are_transform(rotation):
    """Thurstone's R⁻¹ΛΦ equals the posterior mean C⁻¹ΛΦ at the MLE (to the
    accuracy of the fit)."""
    X, fa = _fit(rotation, tol=1e-15)
    np.testing.assert_allclose(
        fa.factor_scores(X, "regression"), fa.transform(X), atol=1e-6
    )


def test_bartlett_is_conditionally_unbiased():
    """Bartlett weights B satisfy Bᵀ Λ = I: E[scores | f] = f."""
    X, fa = _fit("varimax")
    s = np.sqrt(np.diag(fa._sufficient_stats.covariance))
    H = fa.factor_scores(X, "bartlett")
    # scores of the noiseless point mean + W f recover f exactly
    f = np.random.RandomState(0).standard_normal((5, 3))
    np.testing.assert_allclose(
        fa.factor_scores(f @ fa.components_ + fa.mean_, "bartlett"), f, atol=1e-10
    )
    assert H.shape == (400, 3) and np.all(s > 0)


def test_anderson_rubin_identity_covariance():
    X, fa = _fit("varimax")
    H = fa.factor_scores(X, "anderson_rubin")
    np.testing.assert_allclose(np.cov(H.T, bias=True), np.eye(3), atol=1e-10)


@pytest.mark.parametrize("rotation", ["varimax", "oblimin"])
def test_ten_berge_reproduces_phi(rotation):
    X, fa = _fit(rotation)
    H = fa.factor_scores(X, "ten_berge")
    phi = getattr(fa, "factor_correlation_", np.eye(3))
    np.testing.assert_allclose(np.cov(H.T, bias=True), phi, atol=1e-10)


@pytest.mark.parametrize("method", ["regression", "bartlett"])
def test_equal_to_statsmodels_factor_scoring(method):
    """statsmodels' factor_score_params with our loadings and uniquenesses."""
    sm = pytest.importorskip("statsmodels.multivariate.factor")
    X, fa = _fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Factor(X, 3, method="ml").fit()
    sd = X.std(axis=0)  # our scale: the maximum likelihood variances
    res.loadings = fa.components_.T / sd[:, None]
    res.communality = 1.0 - fa.noise_variance_ / sd**2
    res.rotation_matrix = np.eye(3)
    ref = res.factor_scoring((X - X.mean(0)) / sd, method=method, transform=False)
    np.testing.assert_allclose(fa.factor_scores(X, method), ref, atol=1e-8)


def test_statsmodels_ml_fit_agrees():
    """statsmodels' own ML fit lands on the same solution (up to sign/order)."""
    sm = pytest.importorskip("statsmodels.multivariate.factor")
    X, fa = _fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Factor(X, 3, method="ml").fit()
    np.testing.assert_allclose(
        res.uniqueness, fa.noise_variance_ / X.var(axis=0), atol=1e-4
    )


def test_bad_method():
    X, fa = _fit()
    with pytest.raises(ValueError, match="method must be one of"):
        fa.factor_scores(X, "thomson")


def test_summary_table():
    pd = pytest.importorskip("pandas")
    X, fa = _fit("varimax")
    t = fa.summary()
    assert isinstance(t, pd.DataFrame)
    L = fa.components_.T / X.std(0)[:, None]
    np.testing.assert_allclose(t.iloc[:9, :3].to_numpy(), L)
    np.testing.assert_allclose(
        t["communality"].iloc[:9] + t["uniqueness"].iloc[:9], 1.0, atol=1e-6
    )
    ss = t.loc["SS loadings"].iloc[:3].to_numpy(dtype=float)
    np.testing.assert_allclose(ss, np.sum(L**2, axis=0))
    np.testing.assert_allclose(t.loc["Cumulative Var"].iloc[2], ss.sum() / 9)
    ts = fa.summary(standard_errors=True)
    se = fa.standard_errors().components.T / X.std(0)[:, None]
    np.testing.assert_allclose(ts["se factoranalysis1"].iloc[:9], se[:, 1])
