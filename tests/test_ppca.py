"""Probabilistic PCA: closed form, EM, and the shared Gaussian surface."""

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy.linalg import subspace_angles
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from latentmodels import PCA, ProbabilisticPCA


def _data(n=500, d=8, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, 3)) * np.array([4.0, 3.0, 2.0])
    return rng.standard_normal((n, 3)) @ W.T + rng.standard_normal((n, d)) + 2.0


def test_closed_form_is_tipping_bishop():
    X = _data()
    model = ProbabilisticPCA(3).fit(X)
    S = np.cov(X.T, bias=True)
    lam, U = np.linalg.eigh(S)
    lam, U = lam[::-1], U[:, ::-1]
    sigma2 = lam[3:].mean()
    np.testing.assert_allclose(model.noise_variance_, sigma2, rtol=1e-12)
    W = U[:, :3] * np.sqrt(lam[:3] - sigma2)
    np.testing.assert_allclose(
        model.components_.T @ model.components_, W @ W.T, atol=1e-10
    )


def test_em_reaches_closed_form():
    X = _data()
    cf = ProbabilisticPCA(3).fit(X)
    em = ProbabilisticPCA(3, method="em", tol=1e-14, random_state=0).fit(X)
    assert subspace_angles(cf.components_.T, em.components_.T).max() < 1e-6
    np.testing.assert_allclose(em.score(X), cf.score(X), rtol=1e-9)
    np.testing.assert_allclose(em.noise_variance_, cf.noise_variance_, rtol=1e-7)


def test_em_log_likelihood_never_decreases():
    X = _data(seed=3)
    ll = np.array(
        ProbabilisticPCA(3, method="em", tol=1e-13, random_state=1).fit(X).loglike_
    )
    assert ll.size > 10
    assert_monotone(ll)
    # and without acceleration the PX-EM step alone never lowers it either
    from latentmodels._ppca import ppca_em_step

    S = np.cov(X.T, bias=True)
    W, s2 = np.random.RandomState(0).standard_normal((8, 3)), 1.0
    trace = []
    for _ in range(50):
        ll_t, W, s2 = ppca_em_step(S, W, s2)
        trace.append(ll_t)
    assert_monotone(trace)


def test_em_fixed_point_is_stationary():
    X = _data()
    S = np.cov(X.T, bias=True)
    cf = ProbabilisticPCA(3).fit(X)
    from latentmodels._ppca import ppca_em_step

    for expanded in (True, False):  # PX-EM and Tipping & Bishop's step
        ll, W, s2 = ppca_em_step(
            S, cf.components_.T, cf.noise_variance_[0], expanded=expanded
        )
        np.testing.assert_allclose(ll, cf.loglike_[-1], rtol=1e-12)
        np.testing.assert_allclose(
            W @ W.T, cf.components_.T @ cf.components_, atol=1e-10
        )
        assert s2 == pytest.approx(cf.noise_variance_[0], rel=1e-10)


def test_loglik_equals_scipy_and_precision_identity():
    X = _data()
    m = ProbabilisticPCA(3).fit(X)
    C = m.get_covariance()
    np.testing.assert_allclose(
        m.score_samples(X), multivariate_normal(m.mean_, C).logpdf(X), rtol=1e-12
    )
    np.testing.assert_allclose(C @ m.get_precision(), np.eye(8), atol=1e-10)
    # the mean log-likelihood recorded at the fit is the score on the data
    np.testing.assert_allclose(m.loglike_[-1], m.score(X), rtol=1e-12)


def test_posterior_mean_matches_dense_formula():
    X = _data(n=50)
    m = ProbabilisticPCA(3).fit(X)
    W = m.components_.T
    s2 = m.noise_variance_[0]
    M = W.T @ W + s2 * np.eye(3)
    ref = np.linalg.solve(M, W.T @ (X - m.mean_).T).T
    np.testing.assert_allclose(m.transform(X), ref, atol=1e-10)


def test_same_model_as_pca_up_to_divisor():
    # PCA uses the unbiased covariance (n − 1); PPCA the ML one (n)
    X = _data(n=300)
    n = X.shape[0]
    p = PCA(3).fit(X)
    q = ProbabilisticPCA(3).fit(X)
    np.testing.assert_allclose(
        q.get_covariance(), p.get_covariance() * (n - 1) / n, rtol=1e-10
    )


def test_sample_reproducible_and_from_model():
    m = ProbabilisticPCA(2).fit(_data(d=4))
    a = m.sample(50_000, random_state=0)
    np.testing.assert_array_equal(a, m.sample(50_000, random_state=0))
    np.testing.assert_allclose(np.cov(a.T), m.get_covariance(), rtol=0.05, atol=0.3)


def test_parameters_declared_once_and_stop_reason(monkeypatch):
    # every constructor argument has its constraint, and only those
    assert set(ProbabilisticPCA._parameter_constraints) == set(
        ProbabilisticPCA().get_params()
    )
    X = _data()
    calls = []
    real = ProbabilisticPCA._validate_params
    monkeypatch.setattr(
        ProbabilisticPCA,
        "_validate_params",
        lambda self: calls.append(1) or real(self),
    )
    ProbabilisticPCA(3).fit(X)
    ProbabilisticPCA(3, method="em").partial_fit(X)
    ProbabilisticPCA(3, missing_values="em").fit(X)
    assert len(calls) == 3  # once per fit / partial_fit
    assert ProbabilisticPCA(3).fit(X).stop_reason_ == "closed_form"
    em = ProbabilisticPCA(3, method="em", random_state=0)
    for chunk in np.array_split(X, 3):  # partial_fit refits from the statistics
        em.partial_fit(chunk)
    assert em.stop_reason_ in ("converged", "no_progress")
    ref = ProbabilisticPCA(3).fit(X)
    assert em.score(X) == pytest.approx(ref.score(X), rel=1e-10)


def test_em_convergence_warning_and_n_iter():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = ProbabilisticPCA(3, method="em", max_iter=2, tol=0, random_state=0)
        m.fit(_data())
    assert m.n_iter_ == 2 and len(m.loglike_) == 2


def test_bic_counts_ppca_parameters():
    X = _data(n=200, d=6)
    m = ProbabilisticPCA(2).fit(X)
    p = 6 * 2 - 1 + 1 + 6
    assert m.bic(X) == pytest.approx(-2 * 200 * m.score(X) + p * np.log(200))


def test_feature_names_out_and_set_output():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_data(n=30, d=4), columns=list("abcd"))
    m = ProbabilisticPCA(2).set_output(transform="pandas").fit(X)
    out = m.transform(X)
    assert list(out.columns) == ["probabilisticpca0", "probabilisticpca1"]


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"'method' parameter of ProbabilisticPCA.*'closed_form'"
    ):
        ProbabilisticPCA(2, method="svd").fit(_data())
    with pytest.raises(ValueError, match="n_components=9 is too large"):
        ProbabilisticPCA(9).fit(_data())
    with pytest.raises(TypeError, match="positive integer"):
        ProbabilisticPCA(2.0).fit(_data())
    # declared once, checked by fit and partial_fit alike
    for bad in (dict(tol=-1.0), dict(max_iter=0), dict(missing_values="drop")):
        for method in ("fit", "partial_fit"):
            with pytest.raises(ValueError, match=f"'{next(iter(bad))}' parameter"):
                getattr(ProbabilisticPCA(2, **bad), method)(_data())
    with pytest.raises(ValueError, match="shape"):
        ProbabilisticPCA(2).fit(_data()).inverse_transform(np.ones((3, 5)))


def test_inverse_transform_rejects_bad_factors_clearly():
    m = ProbabilisticPCA(2).fit(_data())
    with pytest.raises(ValueError, match="[Cc]omplex"):
        m.inverse_transform(np.ones((3, 2)) * 1j)
    with pytest.raises(ValueError, match="NaN"):
        m.inverse_transform(np.full((3, 2), np.nan))
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense"):
        m.inverse_transform(sparse.csr_matrix(np.ones((3, 2))))


def test_wide_data_closed_form_equals_covariance_route():
    from latentmodels._stats import SufficientStats

    rng = np.random.RandomState(5)
    X = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 80)) * 2
    X += rng.standard_normal((30, 80))
    wide = ProbabilisticPCA(4).fit(X)  # Gram route (n < d)
    ref = ProbabilisticPCA(4)
    ref.n_features_in_ = 80
    ref._fit_stats(SufficientStats.from_array(X))  # covariance route
    np.testing.assert_allclose(
        wide.get_covariance(), ref.get_covariance(), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(wide.loglike_[-1], ref.loglike_[-1], rtol=1e-11)
    np.testing.assert_allclose(wide.score(X), wide.loglike_[-1], rtol=1e-12)


@pytest.mark.parametrize("method", ["closed_form", "em"])
def test_recorded_loglike_is_the_score_when_sigma2_sits_at_its_floor(method):
    # k = d: σ² goes to its floor (1e-12 of the mean variance) in the closed
    # form; the recorded log-likelihood (from S) must still be the rows' score.
    # The difference of traces was off by 5e-4 nats here; the root form is not.
    X = np.random.RandomState(0).standard_normal((50, 5))
    m = ProbabilisticPCA(5, method=method, random_state=0).fit(X)
    assert m.loglike_[-1] == pytest.approx(m.score(X), rel=1e-12)
    assert m.score(X) == pytest.approx(
        ProbabilisticPCA(5).fit(X).score(X), rel=1e-12
    )
