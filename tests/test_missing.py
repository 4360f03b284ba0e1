"""Exact EM with missing values (issue 7): likelihood, stationarity, imputation."""

import importlib.util
import warnings

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy.stats import multivariate_normal
from sklearn.decomposition import FactorAnalysis as SkFactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

import latentmodels._gaussian_observed as observed
import latentmodels._missing as missing
from latentmodels import ProbabilisticPCA
from latentmodels._gaussian import LinearGaussian
from latentmodels._gaussian_observed import impute_observed
from latentmodels._missing import fit_missing
from latentmodels.datasets import make_factor_data

HAS_FA = importlib.util.find_spec("latentmodels._factor_analysis") is not None


def _fa_with_missing():
    """FactorAnalysis if it exists and takes ``missing_values``, else skip."""
    if not HAS_FA:
        pytest.skip("latentmodels/_factor_analysis.py does not exist yet")
    from latentmodels import FactorAnalysis

    if "missing_values" not in FactorAnalysis().get_params():
        pytest.skip("FactorAnalysis has no missing_values parameter yet")
    return FactorAnalysis


def _mcar(X, frac, seed):
    rng = np.random.RandomState(seed)
    Xm = X.copy()
    Xm[rng.rand(*X.shape) < frac] = np.nan
    # keep at least one entry per row
    empty = np.isnan(Xm).all(axis=1)
    Xm[empty, 0] = X[empty, 0]
    return Xm


def _data(n=300, d=8, k=2, noise="heteroscedastic", frac=0.2, seed=0):
    X, truth = make_factor_data(
        n, d, k, noise=noise, mean=np.linspace(-2, 3, d), random_state=seed
    )
    return X, _mcar(X, frac, seed + 1), truth


def _dense_observed_loglike(Xm, W_t, psi, mu):
    """Mean observed-data log-likelihood with scipy, pattern by pattern."""
    C = W_t.T @ W_t + np.diag(psi)
    obs = ~np.isnan(Xm)
    total = 0.0
    patterns, inverse = np.unique(obs, axis=0, return_inverse=True)
    for p, o in enumerate(patterns):
        rows = Xm[inverse.reshape(-1) == p][:, o]
        total += multivariate_normal(mu[o], C[np.ix_(o, o)]).logpdf(rows).sum()
    return total / Xm.shape[0]


FIT = dict(noise_floor_rtol=1e-12, random_state=0)


# --- the observed-data likelihood ---------------------------------------------
# Factor analysis here approaches a Heywood boundary slowly (one noise variance
# falls like 1/t): 500 E-steps do not settle its parameters, and the fit says
# so; what is checked is the log-likelihood of whatever parameters it returns.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("threshold", [1, 10**9])  # statistics path / row path
def test_loglike_is_scipy_on_observed_subvector(isotropic, threshold, monkeypatch):
    monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", threshold)
    _, Xm, _ = _data(n=200, frac=0.25)
    Xm[:60, :3] = np.nan  # a big pattern for the statistics path
    r = fit_missing(Xm, 2, isotropic=isotropic, tol=1e-9, max_iter=500, **FIT)
    ref = _dense_observed_loglike(Xm, r.components, r.noise_variance, r.mean)
    assert r.loglike[-1] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("max_patterns", [0, 10**9])  # batched / one by one
def test_score_samples_and_transform_per_row_match_scipy(max_patterns, monkeypatch):
    monkeypatch.setattr(observed, "_MAX_PATTERNS_ONE_BY_ONE", max_patterns)
    _, Xm, _ = _data(n=120)
    m = ProbabilisticPCA(2, missing_values="em", tol=1e-9).fit(Xm)
    C = m.get_covariance()
    W, psi, mu = m.components_.T, m.noise_variance_, m.mean_
    ll = m.score_samples(Xm)
    H = m.transform(Xm)
    for i, x in enumerate(Xm):
        o = ~np.isnan(x)
        ref = multivariate_normal(mu[o], C[np.ix_(o, o)]).logpdf(x[o])
        assert ll[i] == pytest.approx(ref, rel=1e-12)
        # posterior mean M_o⁻¹ W_oᵀ Ψ_o⁻¹ (x_o − μ_o), dense
        Wo = W[o]
        M = np.eye(2) + Wo.T @ (Wo / psi[o, None])
        h = np.linalg.solve(M, Wo.T @ ((x[o] - mu[o]) / psi[o]))
        np.testing.assert_allclose(H[i], h, rtol=1e-10, atol=1e-12)
    assert m.loglike_[-1] == pytest.approx(ll.mean(), rel=1e-12)
    assert m.score(Xm) == pytest.approx(ll.mean(), rel=1e-12)


@pytest.mark.parametrize("max_patterns", [0, 10**9])  # batched / one by one
def test_impute_is_conditional_expectation_and_leaves_observed(
    max_patterns, monkeypatch
):
    monkeypatch.setattr(observed, "_MAX_PATTERNS_ONE_BY_ONE", max_patterns)
    X, Xm, _ = _data(n=150)
    m = ProbabilisticPCA(2, missing_values="em", tol=1e-9).fit(Xm)
    before = Xm.copy()
    out = m.impute(Xm)
    np.testing.assert_array_equal(Xm, before)  # input not modified
    obs = ~np.isnan(Xm)
    np.testing.assert_array_equal(out[obs], Xm[obs])
    assert not np.isnan(out).any()
    C, mu = m.get_covariance(), m.mean_
    for i in np.flatnonzero((~obs).any(axis=1))[:40]:
        o, mis = obs[i], ~obs[i]
        ref = mu[mis] + C[np.ix_(mis, o)] @ np.linalg.solve(
            C[np.ix_(o, o)], Xm[i, o] - mu[o]
        )
        np.testing.assert_allclose(out[i, mis], ref, rtol=1e-9, atol=1e-10)
    # float32 in, float32 out; a row with nothing observed gets the mean
    row = np.full((1, Xm.shape[1]), np.nan, dtype=np.float32)
    filled = m.impute(row)
    assert filled.dtype == np.float32
    np.testing.assert_allclose(filled[0], mu, rtol=1e-6)


# --- EM: monotone, stationary, and the complete-data fit -------------------------
@pytest.mark.parametrize("isotropic", [True, False])
def test_loglike_never_decreases(isotropic, monkeypatch):
    _, Xm, _ = _data(n=250, frac=0.3, seed=4)
    calls = []
    e_step = missing._e_step
    monkeypatch.setattr(
        missing, "_e_step", lambda *a: calls.append(1) or e_step(*a)
    )
    # factor analysis with k=3 here sits on a flat ridge (EM settles the
    # parameters to 1e-10 only after ~5000 E-steps): a looser parameter test
    r = fit_missing(
        Xm, 3, isotropic=isotropic, tol=1e-12, max_iter=3000, param_tol=1e-7, **FIT
    )
    ll = np.array(r.loglike)
    assert r.converged and r.stop_reason in ("converged", "no_progress")
    assert ll.size > 5
    assert_monotone(ll, name="observed-data log-likelihood")
    # n_iter counts E-steps (evaluations of the EM map), each recorded value
    # is one of them, and the last is the returned parameters' log-likelihood
    assert r.n_iter == len(calls) >= len(ll)
    ref = _dense_observed_loglike(Xm, r.components, r.noise_variance, r.mean)
    assert ll[-1] == pytest.approx(ref, rel=1e-12)


def _dense_observed_loglike_numpy(Xm, W_t, psi, mu):
    """The same with dense numpy (slogdet, solve): fast enough for differences."""
    C = W_t.T @ W_t + np.diag(psi)
    obs = ~np.isnan(Xm)
    total = 0.0
    patterns, inverse = np.unique(obs, axis=0, return_inverse=True)
    for p, o in enumerate(patterns):
        R = Xm[inverse.reshape(-1) == p][:, o] - mu[o]
        Coo = C[np.ix_(o, o)]
        quad = np.sum(R * np.linalg.solve(Coo, R.T).T)
        logdet = np.linalg.slogdet(Coo)[1]
        total -= 0.5 * (R.size * np.log(2 * np.pi) + R.shape[0] * logdet + quad)
    return total / Xm.shape[0]


def _observed_loglike_params(Xm, theta, d, k, isotropic):
    W_t = theta[: d * k].reshape(k, d)
    log_psi = theta[d * k : d * k + (1 if isotropic else d)]
    mu = theta[-d:]
    psi = np.exp(np.broadcast_to(log_psi, (d,)))
    return _dense_observed_loglike_numpy(Xm, W_t, psi, mu)


@pytest.mark.parametrize("isotropic", [True, False])
def test_fit_is_a_stationary_point(isotropic):
    """Finite-difference gradient of the observed-data log-likelihood is ~0."""
    d, k = 6, 2
    _, Xm, _ = _data(n=150, d=d, k=k, frac=0.2, seed=2)
    r = fit_missing(Xm, k, isotropic=isotropic, tol=1e-15, max_iter=3000, **FIT)
    assert r.converged
    log_psi = np.log(r.noise_variance[:1] if isotropic else r.noise_variance)
    theta = np.concatenate([r.components.ravel(), log_psi, r.mean])
    step = 1e-5

    def grad(th):
        g = np.empty_like(th)
        for i in range(th.size):
            e = np.zeros_like(th)
            e[i] = step
            fp = _observed_loglike_params(Xm, th + e, d, k, isotropic)
            fm = _observed_loglike_params(Xm, th - e, d, k, isotropic)
            g[i] = (fp - fm) / (2 * step)
        return g

    g = grad(theta)
    # the scale: the gradient a small move away from the fit
    rng = np.random.RandomState(0)
    g_off = grad(theta + 1e-2 * rng.standard_normal(theta.size))
    assert np.max(np.abs(g)) < 1e-7
    assert np.max(np.abs(g)) < 1e-5 * np.max(np.abs(g_off))


def test_complete_data_fit_missing_is_closed_form_ppca():
    X, _, _ = _data(n=300, noise="isotropic")
    cf = ProbabilisticPCA(2).fit(X)
    r = fit_missing(X, 2, isotropic=True, tol=1e-13, max_iter=1000, **FIT)
    WWt = r.components.T @ r.components
    np.testing.assert_allclose(WWt, cf.components_.T @ cf.components_, atol=1e-8)
    np.testing.assert_allclose(r.noise_variance, cf.noise_variance_, rtol=1e-8)
    np.testing.assert_allclose(r.mean, cf.mean_, rtol=1e-8, atol=1e-10)
    # and the estimator with missing_values='em' takes the ordinary path
    em = ProbabilisticPCA(2, missing_values="em").fit(X)
    np.testing.assert_allclose(em.components_, cf.components_, atol=1e-12)
    np.testing.assert_allclose(em.noise_variance_, cf.noise_variance_, rtol=1e-12)


def test_complete_data_fit_missing_factor_analysis():
    X, _, _ = _data(n=400, d=8, k=2)
    r = fit_missing(X, 2, isotropic=False, tol=1e-14, max_iter=20000, **FIT)
    C = r.components.T @ r.components + np.diag(r.noise_variance)
    ours = multivariate_normal(r.mean, C).logpdf(X).mean()
    assert r.loglike[-1] == pytest.approx(ours, rel=1e-12)
    sk = SkFactorAnalysis(2, tol=1e-12, max_iter=100000).fit(X)
    assert ours >= sk.score(X) - 1e-10
    assert ours == pytest.approx(sk.score(X), rel=1e-7)
    np.testing.assert_allclose(C, sk.get_covariance(), rtol=1e-3, atol=1e-4)


def test_complete_data_matches_our_factor_analysis():
    FactorAnalysis = _fa_with_missing()
    X, _, _ = _data(n=400, d=8, k=2)
    fa = FactorAnalysis(2, tol=1e-14, max_iter=20000).fit(X)
    r = fit_missing(X, 2, isotropic=False, tol=1e-14, max_iter=20000, **FIT)
    C = r.components.T @ r.components + np.diag(r.noise_variance)
    np.testing.assert_allclose(C, fa.get_covariance(), rtol=1e-6, atol=1e-8)
    assert r.loglike[-1] == pytest.approx(fa.score(X), rel=1e-8)


def test_statistics_and_row_paths_agree(monkeypatch):
    X, _, _ = _data(n=300, d=8)
    Xb = X.copy()
    Xb[:100, :3] = np.nan
    Xb[100:200, 5:] = np.nan
    Xb[200:210, [0, 7]] = np.nan
    fits, data = [], []
    for threshold in (1, 10**9):
        monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", threshold)
        fits.append(
            fit_missing(Xb, 2, isotropic=False, tol=1e-12, max_iter=5000, **FIT)
        )
        obs = ~np.isnan(Xb)
        data.append(
            missing._ObservedData(Xb, obs, observed.group_patterns(obs))
        )
    a, b = fits
    assert data[0].block_n.size == 4 and data[1].block_n.size == 0  # two routes
    # one E-step gives the same moments and log-likelihood by either route
    # (offsets differ only by rounding, so compare at the data's own scale)
    rng = np.random.RandomState(0)
    theta = (rng.standard_normal((8, 2)), rng.uniform(0.5, 1.5, 8), np.zeros(8))
    A0, b0, ll0, H0 = missing._e_step(data[0], *theta)
    A1, b1, ll1, H1 = missing._e_step(data[1], *theta)
    assert ll0 == pytest.approx(ll1, rel=1e-12)
    np.testing.assert_allclose(A0, A1, rtol=1e-11, atol=1e-11 * np.abs(A1).max())
    np.testing.assert_allclose(b0, b1, rtol=1e-11, atol=1e-11 * np.abs(b1).max())
    np.testing.assert_allclose(H0, H1, rtol=1e-11, atol=1e-11 * np.abs(H1).max())
    # the runs follow the same path while the steps are far above rounding
    # (later, SQUAREM's accept/reject of points equal to rounding can differ)
    np.testing.assert_allclose(a.loglike[:6], b.loglike[:6], rtol=1e-12)
    assert a.converged and b.converged
    assert a.loglike[-1] == pytest.approx(b.loglike[-1], rel=1e-12)
    np.testing.assert_allclose(
        a.components.T @ a.components, b.components.T @ b.components, atol=1e-9
    )
    np.testing.assert_allclose(a.noise_variance, b.noise_variance, rtol=1e-9)


# --- imputation against the baselines ----------------------------------------
@pytest.mark.parametrize("noise", ["isotropic", "heteroscedastic"])
def test_imputation_beats_column_mean_and_iterative_imputer(noise):
    """30% MCAR, n=120, d=20, k=2 (numbers in /tmp/notes/missing_values.md)."""
    X, truth = make_factor_data(120, 20, 2, noise=noise, random_state=7)
    Xm = _mcar(X, 0.3, 8)
    miss = np.isnan(Xm)
    r = fit_missing(
        Xm, 2, isotropic=noise == "isotropic", tol=1e-8, max_iter=2000, **FIT
    )
    ours = impute_observed(
        LinearGaussian(r.components, r.noise_variance, r.mean), Xm
    )
    if noise == "isotropic":  # the estimator gives the same imputation
        est = ProbabilisticPCA(2, missing_values="em", tol=1e-8).fit(Xm)
        np.testing.assert_allclose(est.impute(Xm), ours, rtol=1e-6, atol=1e-8)
    # E[x_m | x_o] under the true parameters: the best any imputer can do
    oracle = impute_observed(
        LinearGaussian(truth.components, truth.noise_variance, truth.mean), Xm
    )
    colmean = np.where(miss, np.nanmean(Xm, axis=0), Xm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        iterative = IterativeImputer(random_state=0).fit_transform(Xm)

    def rmse(Z):
        return np.sqrt(np.mean((Z[miss] - X[miss]) ** 2))

    e_ours, e_mean, e_iter = rmse(ours), rmse(colmean), rmse(iterative)
    assert e_ours < 1.05 * rmse(oracle)
    assert e_ours < 0.6 * e_mean
    assert e_ours < 0.9 * e_iter


# --- errors, tags, reproducibility ------------------------------------------
def test_clear_errors():
    X, Xm, _ = _data(n=50)
    with pytest.raises(ValueError, match=r"NaN in \d+ rows.*missing_values='em'"):
        ProbabilisticPCA(2).fit(Xm)
    fitted = ProbabilisticPCA(2).fit(X)
    for method in ("transform", "score_samples", "score"):
        with pytest.raises(ValueError, match="missing_values='em'"):
            getattr(fitted, method)(Xm)
    bad = Xm.copy()
    bad[3] = np.nan
    bad[7] = np.nan
    with pytest.raises(
        ValueError, match=r"2 rows with every entry missing \(rows 3, 7\)"
    ):
        ProbabilisticPCA(2, missing_values="em").fit(bad)
    bad = Xm.copy()
    bad[:, 4] = np.nan
    with pytest.raises(ValueError, match=r"never observed \(columns 4\).*drop"):
        fit_missing(bad, 2, isotropic=False, tol=1e-8, max_iter=10, **FIT)
    bad = Xm.copy()
    bad[5, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        ProbabilisticPCA(2, missing_values="em").fit(bad)
    with pytest.raises(ValueError, match=r"'missing_values' parameter .*'raise'"):
        ProbabilisticPCA(2, missing_values="drop").fit(X)


def test_convergence_warning_names_the_change():
    _, Xm, _ = _data(n=100, frac=0.3)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3 .* raised .* by \S+"):
        m = ProbabilisticPCA(2, missing_values="em", max_iter=3).fit(Xm)
    assert m.n_iter_ == 3 and len(m.loglike_) == 3


def test_tags_reproducibility_and_input_untouched():
    _, Xm, _ = _data(n=100)
    assert ProbabilisticPCA(missing_values="em").__sklearn_tags__().input_tags.allow_nan
    assert not ProbabilisticPCA().__sklearn_tags__().input_tags.allow_nan
    before = Xm.copy()
    a = ProbabilisticPCA(3, missing_values="em", random_state=1).fit(Xm)
    b = ProbabilisticPCA(3, missing_values="em", random_state=1).fit(Xm)
    a.transform(Xm), a.score(Xm), a.impute(Xm)
    np.testing.assert_array_equal(Xm, before)
    np.testing.assert_array_equal(a.components_, b.components_)
    # canonical orientation: orthogonal rows sorted by norm
    G = a.components_ @ a.components_.T
    np.testing.assert_allclose(G, np.diag(np.diag(G)), atol=1e-10 * G.max())
    assert np.all(np.diff(np.diag(G)) <= 0)


def test_factor_analysis_with_missing_values():
    FactorAnalysis = _fa_with_missing()
    _, Xm, _ = _data(n=200, frac=0.2)
    fa = FactorAnalysis(2, missing_values="em").fit(Xm)
    assert fa.__sklearn_tags__().input_tags.allow_nan
    ref = _dense_observed_loglike(Xm, fa.components_, fa.noise_variance_, fa.mean_)
    assert fa.score(Xm) == pytest.approx(ref, rel=1e-10)
    assert_monotone(fa.loglike_)
    assert not np.isnan(fa.impute(Xm)).any()


def test_constant_column_gets_the_complete_data_floor():
    # A constant feature has no variance of its own; its floor borrows the
    # mean variance, as the complete-data fit does, so its density stays finite.
    from latentmodels import FactorAnalysis

    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6))
    X += 0.3 * rng.standard_normal((200, 6))
    X = np.hstack([X, np.zeros((200, 1))])
    Xm = X.copy()
    Xm[rng.rand(*X.shape) < 0.1] = np.nan
    full = FactorAnalysis(2, tol=1e-8).fit(X)
    em = FactorAnalysis(2, tol=1e-8, missing_values="em").fit(Xm)
    np.testing.assert_allclose(
        em.noise_variance_[-1], full.noise_variance_[-1], rtol=0.05
    )
    assert em.noise_variance_[-1] > 1e-8


def test_factor_analysis_heywood_jump_with_missing_values(monkeypatch):
    # The boundary case of the complete-data tests (3 features, 1 factor, the
    # maximum at ψ₃ = 0) with entries missing. EM route: the Heywood jump of
    # the engine lands on the floor where plain EM is still on its way after
    # 2000 steps. Newton route: projected Newton straight to the floor: the
    # same maximum, fewer E-steps.
    from latentmodels._em import HeywoodJump

    rng = np.random.RandomState(0)
    X = 3 * rng.uniform(size=(60, 3))
    X[:, 2] = X[:, 0] + X[:, 1] + 0.01 * rng.standard_normal(60)
    Xm = X.copy()
    Xm[rng.rand(*X.shape) < 0.1] = np.nan
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, max_iter=2000)
    newton = fit_missing(Xm, 1, newton=True, **kw)
    jump = fit_missing(Xm, 1, newton=False, **kw)
    monkeypatch.setattr(HeywoodJump, "WINDOW", 10**9)  # never tried
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        crawl = fit_missing(Xm, 1, newton=False, **kw)
    var = np.nanvar(Xm, axis=0)
    for r in (jump, newton):
        assert r.noise_variance[2] == pytest.approx(1e-6 * var[2], rel=1e-6)
        assert r.converged
        assert_monotone(r.loglike)
        ref = _dense_observed_loglike(Xm, r.components, r.noise_variance, r.mean)
        assert r.loglike[-1] == pytest.approx(ref, rel=1e-9)
    assert crawl.noise_variance[2] > 10 * 1e-6 * var[2]
    assert jump.n_iter < crawl.n_iter
    assert jump.loglike[-1] >= crawl.loglike[-1] - 1e-9
    assert newton.n_iter < jump.n_iter
    assert newton.loglike[-1] >= jump.loglike[-1] - 1e-9
    np.testing.assert_allclose(newton.noise_variance, jump.noise_variance, rtol=1e-5)


def _standardised_with_missing(load, frac, seed=0):
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load().data)
    rng = np.random.RandomState(seed)
    return np.where(rng.rand(*X.shape) < frac, np.nan, X)


def test_statistics_loglike_accurate_at_a_heywood_boundary(monkeypatch):
    # Standardised wine, 10% missing, k = 3: the maximum has one noise
    # variance at the floor (1e-6 of its variance). The E-step's
    # log-likelihood of the patterns known by their statistics must match
    # scipy's dense density there (the trace identity was 4e-7 off).
    from sklearn.datasets import load_wine

    Xm = _standardised_with_missing(load_wine, 0.1)
    r = fit_missing(Xm, 3, isotropic=False, noise_floor_rtol=1e-6, tol=1e-10,
                    max_iter=500, newton=True)
    W, psi, mu = r.params
    assert np.min(psi / np.nanvar(Xm, axis=0)) < 1.01e-6  # the boundary
    obs = ~np.isnan(Xm)
    monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", 1)
    data = missing._ObservedData(Xm, obs, missing.group_patterns(obs))
    assert data.block_n.size >= 1 and data.block_n.sum() >= 40
    for scale in (1.0, 10.0, 1e4):
        p = psi.copy()
        p[np.argmin(psi)] *= scale
        ll = missing._e_step(data, W, p, mu - data.offset)[2]
        ref = _dense_observed_loglike(Xm, W.T, p, mu)
        assert abs(ll - ref) <= 1e-10


@pytest.mark.parametrize("k", [2, 3])
def test_factor_analysis_heywood_with_missing_values_converges(k):
    # Standardised diabetes with 30% missing: the maximum has two noise
    # variances at the floor. The default fit reaches it (Newton after EM's
    # 30 E-steps, projected at the floor) without a ConvergenceWarning, above
    # what 2000 E-steps of EM with SQUAREM reach, and no feasible nearby point
    # is higher.
    from sklearn.datasets import load_diabetes

    FactorAnalysis = _fa_with_missing()
    Xm = _standardised_with_missing(load_diabetes, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # the Heywood note
        fa = FactorAnalysis(k, missing_values="em").fit(Xm)
    assert fa.n_iter_ < 200
    var = np.nanvar(Xm, axis=0)
    floor = 1e-6 * var
    at_floor = fa.noise_variance_ <= floor * (1 + 1e-9)
    assert at_floor.sum() >= 2
    ll = _dense_observed_loglike(Xm, fa.components_, fa.noise_variance_, fa.mean_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        em = fit_missing(Xm, k, isotropic=False, noise_floor_rtol=1e-6, tol=1e-10,
                         max_iter=2000, newton=False)
    assert ll >= _dense_observed_loglike(Xm, em.components, em.noise_variance,
                                         em.mean) + 1e-7
    rng = np.random.RandomState(1)
    for _ in range(10):
        W = fa.components_ + 1e-4 * rng.standard_normal(fa.components_.shape)
        psi = np.maximum(fa.noise_variance_ * np.exp(1e-3 * rng.randn(var.size)),
                         floor)
        mu = fa.mean_ + 1e-4 * rng.standard_normal(var.size)
        assert _dense_observed_loglike(Xm, W, psi, mu) <= ll + 1e-12


def test_factor_analysis_missing_values_keeps_the_best_of_its_starts():
    # Standardised breast cancer, 10% missing, k = 3: the observed-data
    # likelihood has several maxima and the PPCA start (init='pca') stops
    # 0.71 nats per sample below the best, which the second start (the factor
    # analysis of the pairwise covariance) reaches; the fit keeps it and says
    # so.
    from sklearn.datasets import load_breast_cancer

    FactorAnalysis = _fa_with_missing()
    Xm = _standardised_with_missing(load_breast_cancer, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = FactorAnalysis(3, missing_values="em", n_init=1, init="pca").fit(Xm)
    with pytest.warns(UserWarning, match="several maxima"):
        three = FactorAnalysis(3, missing_values="em", n_init=2, init="pca",
                               random_state=0).fit(Xm)
    assert three.start_loglikes_.shape == (2,)
    ll1 = _dense_observed_loglike(Xm, one.components_, one.noise_variance_,
                                  one.mean_)
    ll3 = _dense_observed_loglike(Xm, three.components_, three.noise_variance_,
                                  three.mean_)
    assert ll3 >= ll1 + 0.5
    assert ll3 == pytest.approx(three.start_loglikes_.max(), abs=1e-9)
    assert three.start_loglikes_[0] == pytest.approx(ll1, abs=1e-9)


@pytest.mark.parametrize("frac", [0.1, 0.3])
def test_factor_analysis_missing_values_default_beats_a_wide_search(frac):
    # Standardised breast cancer, k = 5: ten random starts (as the PPCA of the
    # pairwise covariance) all stop on maxima at least 0.11 nats per sample
    # below the one EM reaches from the complete-data factor analysis of the
    # pairwise covariance, the default first start. The
    # default fit (3 starts) is above that search, at a maximum of the
    # observed-data likelihood (scipy's, pattern by pattern: no nearby point
    # is higher).
    from sklearn.datasets import load_breast_cancer

    FactorAnalysis = _fa_with_missing()
    Xm = _standardised_with_missing(load_breast_cancer, frac)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fa = FactorAnalysis(5, missing_values="em", random_state=0).fit(Xm)
        wide = FactorAnalysis(5, missing_values="em", init="random", n_init=10,
                              random_state=0).fit(Xm)
    assert fa.converged_
    ll = _dense_observed_loglike_numpy(Xm, fa.components_, fa.noise_variance_,
                                       fa.mean_)
    ll_wide = _dense_observed_loglike_numpy(
        Xm, wide.components_, wide.noise_variance_, wide.mean_)
    assert ll >= ll_wide + 0.1
    assert ll == pytest.approx(fa.start_loglikes_.max(), abs=1e-9)
    rng = np.random.RandomState(1)
    var = np.nanvar(Xm, axis=0)
    for _ in range(5):
        W = fa.components_ + 1e-4 * rng.standard_normal(fa.components_.shape)
        psi = np.maximum(fa.noise_variance_ * np.exp(1e-3 * rng.randn(var.size)),
                         1e-6 * var)
        mu = fa.mean_ + 1e-4 * rng.standard_normal(var.size)
        assert _dense_observed_loglike_numpy(Xm, W, psi, mu) <= ll + 1e-12


def test_statistics_path_with_a_singular_scatter(monkeypatch):
    # A duplicated feature makes the patterns' scatter singular (no Cholesky):
    # the pseudo-rows come from its eigendecomposition, and the E-step's
    # log-likelihood is still scipy's.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 5))
    X = np.hstack([X, X[:, :1]])
    Xm = X.copy()
    Xm[:100, 3] = np.nan
    monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", 1)
    data = missing.observed_data(Xm)
    assert data.block_n.size == 2 and data.rows.shape[0] == 0
    W = rng.standard_normal((6, 2))
    psi = rng.uniform(0.5, 1.5, 6)
    mu = rng.standard_normal(6)
    ll = missing._e_step(data, W, psi, mu - data.offset)[2]
    assert ll == pytest.approx(_dense_observed_loglike(Xm, W.T, psi, mu), abs=1e-12)


def test_factor_analysis_missing_values_starts_depend_only_on_random_state():
    # The random later starts come from random_state: the same seed gives the
    # same fit, bit for bit, and its start_loglikes_; the data are not changed.
    from sklearn.datasets import load_wine

    FactorAnalysis = _fa_with_missing()
    Xm = _standardised_with_missing(load_wine, 0.1)
    before = Xm.copy()
    fits = [FactorAnalysis(3, missing_values="em", n_init=3, random_state=s).fit(Xm)
            for s in (7, 7)]
    np.testing.assert_array_equal(Xm, before)
    np.testing.assert_array_equal(fits[0].components_, fits[1].components_)
    np.testing.assert_array_equal(fits[0].start_loglikes_, fits[1].start_loglikes_)


def test_factor_analysis_missing_values_warns_once_at_the_callers_line():
    # Several starts, one ConvergenceWarning (for the start kept), naming the
    # estimator and attributed to the caller's line.
    FactorAnalysis = _fa_with_missing()
    X, _ = make_factor_data(300, 8, 2, random_state=0)
    X[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FactorAnalysis(2, missing_values="em", max_iter=3, random_state=0).fit(X)
    conv = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(conv) == 1
    assert conv[0].filename == __file__
    assert "FactorAnalysis did not converge in max_iter=3" in str(conv[0].message)
