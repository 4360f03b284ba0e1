"""ConfirmatoryFactorAnalysis: likelihood, derivatives, syntax, scores, identification.

References here are independent of the fitting code: scipy's multivariate
normal density, finite differences, the sample moments (the saturated model),
closed-form scores and the rank of constructed models. lavaan and semopy are
compared in test_cfa_lavaan.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from latentmodels import ConfirmatoryFactorAnalysis, FactorAnalysis
from latentmodels._cfa_fit import (
    PatternData,
    complete_objective,
    fiml_objective,
    fisher_scoring,
    saturated_em,
)
from latentmodels._cfa_syntax import parse_model
from latentmodels._covariance_structure import CovarianceStructure, SaturatedStructure
from latentmodels._identification import fa_identification, structure_identification
from latentmodels.datasets import make_factor_data

TWO_FACTORS = "f =~ x0 + x1 + x2\ng =~ x3 + x4 + x5"


def _two_factor_data(n=400, seed=0, missing=0.0):
    rng = np.random.RandomState(seed)
    L = np.array([[1.0, 0], [0.8, 0], [0.6, 0], [0, 1.0], [0, 0.7], [0, 0.9]])
    Phi = np.array([[1.0, 0.4], [0.4, 0.8]])
    H = rng.multivariate_normal(np.zeros(2), Phi, size=n)
    X = H @ L.T + rng.standard_normal((n, 6)) * np.sqrt([0.5, 0.6, 0.4, 0.3, 0.5, 0.6])
    X += np.arange(6)
    if missing:
        X[rng.uniform(size=X.shape) < missing] = np.nan
    return X


def _structure(std_lv=False, orthogonal=False, model=TWO_FACTORS, d=6):
    mm = parse_model(model, [f"x{i}" for i in range(d)])
    free, fixed = mm.loading_pattern(std_lv)
    return CovarianceStructure(free, fixed, std_lv=std_lv, orthogonal=orthogonal,
                               feature_names=[f"x{i}" for i in range(d)],
                               factor_names=mm.factors)


def _fd_gradient(f, theta, h=1e-6):
    g = np.zeros_like(theta)
    for a in range(theta.size):
        e = np.zeros_like(theta)
        e[a] = h
        g[a] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


# --- the likelihood and its derivatives --------------------------------------------
@pytest.mark.parametrize("std_lv, orthogonal", [(False, False), (True, False),
                                                (False, True)])
def test_complete_loglike_gradient_and_information(std_lv, orthogonal):
    X = _two_factor_data()
    st = _structure(std_lv, orthogonal)
    rng = np.random.RandomState(1)
    theta = st.random_point(rng)
    C = st.implied(theta)
    S = np.cov(X.T, bias=True)
    obj = complete_objective(st, S)
    ll, g, info = obj(theta)
    # value: scipy's density at the sample mean, averaged over the rows
    ref = stats.multivariate_normal(X.mean(0), C).logpdf(X).mean()
    assert ll == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(g, _fd_gradient(lambda t: obj(t)[0], theta),
                               rtol=1e-6, atol=1e-8)
    # the analytic observed information is minus the Hessian
    hess = np.array([_fd_gradient(lambda t, a=a: obj(t)[1][a], theta)
                     for a in range(theta.size)])
    observed = complete_objective(st, S, observed=True)(theta)[3]
    np.testing.assert_allclose(observed, -hess, rtol=1e-5, atol=1e-7)
    # at S = C the observed information equals the expected one
    obj_exact = complete_objective(st, C)
    hess = np.array([_fd_gradient(lambda t, a=a: obj_exact(t)[1][a], theta)
                     for a in range(theta.size)])
    np.testing.assert_allclose(-hess, info, rtol=1e-5, atol=1e-7)


def test_fiml_loglike_and_gradient():
    X = _two_factor_data(n=120, missing=0.15)
    data = PatternData.from_array(X)
    st = _structure()
    rng = np.random.RandomState(3)
    full = np.concatenate([st.random_point(rng), np.nanmean(X, axis=0)])
    obj = fiml_objective(st, data)
    ll, g, _ = obj(full)
    C, mu = st.implied(full[: st.n_params]), full[st.n_params:]
    ref = 0.0
    for row in X:
        o = ~np.isnan(row)
        ref += stats.multivariate_normal(mu[o], C[np.ix_(o, o)]).logpdf(row[o])
    assert ll * X.shape[0] == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(g, _fd_gradient(lambda t: obj(t)[0], full),
                               rtol=1e-6, atol=1e-8)
    # the analytic observed information (means included) is minus the Hessian
    hess = np.array([_fd_gradient(lambda t, a=a: obj(t)[1][a], full)
                     for a in range(full.size)])
    observed = fiml_objective(st, data, observed=True)(full)[3]
    np.testing.assert_allclose(observed, -hess, rtol=1e-5, atol=1e-7)


def test_fiml_information_on_complete_data_is_the_complete_data_one():
    # one pattern, the mean at the sample mean: the θ blocks coincide with the
    # dense complete-data formulas (independent code: whitened derivatives)
    X = _two_factor_data(n=150)
    st = _structure()
    theta = st.random_point(np.random.RandomState(5))
    full = np.concatenate([theta, X.mean(0)])
    S = np.cov(X.T, bias=True)
    ll, g, info, obs = fiml_objective(st, PatternData.from_array(X),
                                      observed=True)(full)
    ll_c, g_c, info_c, obs_c = complete_objective(st, S, observed=True)(theta)
    q = st.n_params
    assert ll == pytest.approx(ll_c, rel=1e-12)
    np.testing.assert_allclose(g[:q], g_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(info[:q, :q], info_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(obs[:q, :q], obs_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(obs[:q, q:], 0.0, atol=1e-12)  # δ = 0


def test_saturated_em_is_the_fiml_maximum():
    X = _two_factor_data(n=150, missing=0.2)
    data = PatternData.from_array(X)
    mu, C, ll, n_iter, converged = saturated_em(
        data, np.nanmean(X, 0), np.diag(np.nanvar(X, 0)), tol=1e-13, max_iter=5000)
    assert converged
    sat = SaturatedStructure(6)
    val = fiml_objective(sat, data)(np.concatenate([sat.pack(C), mu]))
    assert val[0] == pytest.approx(ll, rel=1e-12)
    assert np.max(np.abs(val[1])) < 1e-5  # a stationary point of the FIML loglik


def test_saturated_fiml_on_complete_data_gives_sample_moments():
    X = _two_factor_data(n=150)
    sat = SaturatedStructure(6)
    start = np.concatenate([sat.pack(np.diag(X.var(0))), np.zeros(6)])
    res = fisher_scoring(fiml_objective(sat, PatternData.from_array(X)), start,
                         np.full(start.size, -np.inf), tol=1e-14, max_iter=100)
    assert res.converged
    np.testing.assert_allclose(sat.implied(res.theta[:21]), np.cov(X.T, bias=True),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.theta[21:], X.mean(0), rtol=1e-10)


# --- the estimator -------------------------------------------------------------
def test_fit_is_a_maximum_and_monotone():
    X = _two_factor_data()
    cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    assert_monotone(cfa.loglike_, name="loglike_")
    # the estimate is a stationary point: the analytic gradient vanishes
    S = np.cov(X.T, bias=True)
    _, g, _ = complete_objective(cfa._structure, S)(cfa._theta)
    assert np.max(np.abs(g)) < 1e-7
    # and no random nearby point is better
    obj = complete_objective(cfa._structure, S)
    best = obj(cfa._theta)[0]
    rng = np.random.RandomState(0)
    for _ in range(20):
        cand = obj(cfa._theta + 1e-3 * rng.standard_normal(cfa._theta.size))
        assert cand is None or cand[0] <= best
    assert cfa.score(X) == pytest.approx(best, rel=1e-12)
    assert cfa.loadings_[0, 0] == 1.0 and cfa.loadings_[3, 1] == 1.0
    assert np.all(cfa.loadings_[3:, 0] == 0) and np.all(cfa.loadings_[:3, 1] == 0)


def test_model_spellings_agree():
    X = _two_factor_data()
    a = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    b = ConfirmatoryFactorAnalysis({"f": ["x0", "x1", "x2"],
                                    "g": ["x3", "x4", "x5"]}).fit(X)
    pattern = np.zeros((6, 2), dtype=bool)
    pattern[:3, 0] = pattern[3:, 1] = True
    c = ConfirmatoryFactorAnalysis(pattern).fit(X)
    for other in (b, c):
        np.testing.assert_allclose(other.get_covariance(), a.get_covariance(),
                                   rtol=1e-10)
    # lavaan's syntax: comments, ';', continuation lines, fixed and freed loadings
    text = "f =~ x0 + x1 +  # first\n x2; g =~ x3 + x4 + x5"
    d = ConfirmatoryFactorAnalysis(text).fit(X)
    np.testing.assert_allclose(d.loadings_, a.loadings_, rtol=1e-10)
    e = ConfirmatoryFactorAnalysis("f =~ x0 + 0.5*x1 + x2\ng =~ x3 + x4 + x5").fit(X)
    assert e.loadings_[1, 0] == 0.5
    f = ConfirmatoryFactorAnalysis("f =~ NA*x0 + x1 + x2\ng =~ NA*x3 + x4 + x5",
                                   std_lv=True).fit(X)
    g = ConfirmatoryFactorAnalysis(TWO_FACTORS, std_lv=True).fit(X)
    np.testing.assert_allclose(f.loadings_, g.loadings_, rtol=1e-10)
    np.testing.assert_allclose(np.diag(g.factor_covariance_), 1.0)
    # the same model, scaled two ways: the same covariance
    np.testing.assert_allclose(g.get_covariance(), a.get_covariance(), rtol=1e-7)


def test_dataframe_column_names():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_two_factor_data(), columns=list("abcdef"))
    cfa = ConfirmatoryFactorAnalysis("v =~ a + b + c\nw =~ d + e + f").fit(X)
    assert cfa.factor_names_ == ("v", "w")
    out = cfa.set_output(transform="pandas").transform(X)
    assert list(out.columns) == ["v", "w"]  # the factors, by name


@pytest.mark.parametrize("model, message", [
    ("f =~ x0 + x1 + x9\ng =~ x3 + x4 + x5", "not in the data"),
    ("f =~ x0 + x1 + x2\ng =~ x3 + x4", "in no factor"),
    ("f =~ x0 + x1 + x2\ng =~ x3 + x4 + x5\nf ~~ 0*g", "orthogonal=True"),
    ("f =~ x0 + a*x1 + x2\ng =~ x3 + x4 + x5", "not supported"),
    ("f =~ NA*x0 + x1 + x2\ng =~ x3 + x4 + x5", "std_lv=True"),
    ("f =~ x0 + x1 + x2\nf =~ x3 + x4 + x5", "defined twice"),
])
def test_model_errors_say_what_to_do(model, message):
    with pytest.raises(ValueError, match=message):
        ConfirmatoryFactorAnalysis(model).fit(_two_factor_data(n=50))


def test_nan_needs_fiml():
    X = _two_factor_data(n=50, missing=0.1)
    with pytest.raises(ValueError, match="missing_values='fiml'"):
        ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)


def test_transform_score_and_covariance_closed_forms():
    X = _two_factor_data()
    cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    L, Phi, psi = cfa.loadings_, cfa.factor_covariance_, cfa.noise_variance_
    C = L @ Phi @ L.T + np.diag(psi)
    np.testing.assert_allclose(cfa.get_covariance(), C, rtol=1e-12)
    # regression (Thurstone) scores: Φ Λᵀ C⁻¹ (x − μ)
    H = (X - cfa.mean_) @ np.linalg.solve(C, L @ Phi)
    np.testing.assert_allclose(cfa.transform(X), H, rtol=1e-9, atol=1e-12)
    ref = stats.multivariate_normal(cfa.mean_, C).logpdf(X)
    np.testing.assert_allclose(cfa.score_samples(X), ref, rtol=1e-12)
    Xs = cfa.sample(20000, random_state=0)
    np.testing.assert_allclose(np.cov(Xs.T), C, atol=0.08)


def test_fiml_without_missing_equals_complete_fit():
    X = _two_factor_data(n=200)
    a = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    b = ConfirmatoryFactorAnalysis(TWO_FACTORS, missing_values="fiml")
    X1 = X.copy()
    X1[0, 0] = np.nan  # one missing entry: the FIML path
    b.fit(X1)
    assert b._fiml is not None
    c = ConfirmatoryFactorAnalysis(TWO_FACTORS, missing_values="fiml").fit(X)
    np.testing.assert_allclose(c.loadings_, a.loadings_, rtol=1e-12)
    # one missing entry moves the estimates only a little
    np.testing.assert_allclose(b.loadings_, a.loadings_, rtol=2e-2)
    gof = b.goodness_of_fit()
    assert gof.dof == a.goodness_of_fit().dof and gof.n_params == 13 + 6
    assert_monotone(b.loglike_, name="FIML loglike_")


def test_fiml_scores_use_observed_entries():
    X = _two_factor_data(n=300, missing=0.1)
    cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS, missing_values="fiml").fit(X)
    C = cfa.get_covariance()
    row = X[np.flatnonzero(np.isnan(X).any(axis=1))[0]]
    o = ~np.isnan(row)
    ref = stats.multivariate_normal(cfa.mean_[o], C[np.ix_(o, o)]).logpdf(row[o])
    assert cfa.score_samples(row[None])[0] == pytest.approx(ref, rel=1e-12)
    h = cfa.factor_covariance_ @ cfa.loadings_[o].T @ np.linalg.solve(
        C[np.ix_(o, o)], row[o] - cfa.mean_[o])
    np.testing.assert_allclose(cfa.transform(row[None])[0], h, rtol=1e-9)
    assert cfa.loglike_[-1] * X.shape[0] == pytest.approx(
        cfa.goodness_of_fit().loglike, rel=1e-12)


def test_z_values_of_the_true_parameters_are_standard_normal():
    # the z-values of the true parameters are standard normal in repeated samples
    st_truth = None
    zs = []
    for seed in range(40):
        X = _two_factor_data(n=300, seed=seed) - np.arange(6)
        cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
        table = cfa.standard_errors()
        if st_truth is None:
            L = np.array([[1.0, 0], [0.8, 0], [0.6, 0], [0, 1.0], [0, 0.7], [0, 0.9]])
            Phi = np.array([[1.0, 0.4], [0.4, 0.8]])
            st_truth = cfa._structure.pack(L, Phi, np.array([0.5, 0.6, 0.4, 0.3,
                                                              0.5, 0.6]))
        zs.append((table["est"].to_numpy() - st_truth) / table["se"].to_numpy())
    zs = np.asarray(zs)
    # 40 × 13 z-values: mean near 0, spread near 1 (loose bounds for n = 300)
    assert abs(zs.mean()) < 0.15
    assert 0.85 < zs.std() < 1.15


def test_convergence_warning():
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        ConfirmatoryFactorAnalysis(TWO_FACTORS, max_iter=1).fit(_two_factor_data())


def test_default_model_is_one_factor_on_all_columns():
    X = _two_factor_data()[:, :3]
    cfa = ConfirmatoryFactorAnalysis().fit(X)
    # one factor, three indicators: saturated (0 dof), C reproduces S exactly
    np.testing.assert_allclose(cfa.get_covariance(), np.cov(X.T, bias=True),
                               rtol=1e-8)
    assert cfa.goodness_of_fit().dof == 0


# --- identification ----------------------------------------------------------------
def test_identification_of_an_identified_cfa():
    cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(_two_factor_data())
    ident = cfa.identification(random_state=0)
    assert ident.identified and ident.n_unidentified == 0
    assert ident.rank == ident.generic_rank == ident.n_parameters == 13
    assert ident.moved == () and ident.null_directions.shape == (13, 0)


def test_identification_one_factor_two_indicators_is_unidentified():
    st = _structure(model="f =~ x0 + x1", d=2)
    ident = structure_identification(st, st.random_point(np.random.RandomState(0)),
                                     random_state=0)
    # 4 parameters, 3 moments
    assert ident.n_parameters == 4 and ident.n_moments == 3
    assert ident.n_unidentified == 1 and ident.generic_rank == 3
    # the null direction is orthogonal to every row of the Jacobian
    J = st.jacobian_vech(st.random_point(np.random.RandomState(0)))
    assert np.abs(J @ ident.null_directions).max() < 1e-10


def test_identification_empirical_underidentification():
    # two factors with two indicators each: identified through φ₁₂ ≠ 0 only
    st = _structure(model="f =~ x0 + x1\ng =~ x2 + x3", d=4)
    L = np.array([[1.0, 0], [0.8, 0], [0, 1.0], [0, 0.6]])
    psi = np.full(4, 0.5)
    good = structure_identification(
        st, st.pack(L, np.array([[1.0, 0.3], [0.3, 1.0]]), psi), random_state=0)
    assert good.n_unidentified == 0 and good.generic_rank == 9
    bad = structure_identification(st, st.pack(L, np.eye(2), psi), random_state=0)
    # at φ₁₂ = 0 each factor is a one-factor model with two indicators
    assert bad.rank == 7 and bad.n_unidentified == 2 and bad.generic_rank == 9
    assert "f~~g" not in bad.moved and {"f=~x1", "g=~x3"} <= set(bad.moved)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_fa_identification_counts_rotations(k):
    rng = np.random.RandomState(k)
    d = 12
    ident = fa_identification(rng.standard_normal((k, d)), rng.uniform(0.5, 1, d),
                              random_state=0)
    assert ident.n_unidentified == k * (k - 1) // 2
    assert ident.generic_rank == ident.n_parameters - k * (k - 1) // 2
    # rotations move loadings only, never the noise variances
    assert all("=~" in name for name in ident.moved)
    assert len(ident.moved) == (d * k if k > 1 else 0)
    # oblique factors: k(k − 1) directions (T with unit-variance factors)
    if k > 1:
        phi = np.eye(k) * 0.7 + 0.3
        ident = fa_identification(rng.standard_normal((k, d)), np.ones(d),
                                  factor_correlation=phi, random_state=0)
        assert ident.n_unidentified == k * (k - 1)


def test_fa_identification_of_a_fitted_factor_analysis():
    X = _two_factor_data(n=300)
    fa = FactorAnalysis(n_components=2).fit(X)
    ident = fa_identification(fa.components_, fa.noise_variance_, random_state=0)
    assert ident.n_unidentified == 1
    # the null direction is the infinitesimal rotation W ↦ W A, A = −Aᵀ
    W = fa.components_.T
    A = np.array([[0.0, 1.0], [-1.0, 0.0]])
    direction = np.concatenate([(W @ A).T.ravel(), np.zeros(6)])
    v = ident.null_directions[:, 0]
    assert abs(abs(v @ direction) / np.linalg.norm(direction) - 1) < 1e-8
    # the estimator's method is the same computation
    meth = fa.identification(random_state=0)
    assert meth.rank == ident.rank and meth.n_unidentified == 1


@pytest.mark.parametrize("rotation, expected", [("varimax", 3), ("oblimin", 6)])
def test_fa_identification_method_counts_rotations(rotation, expected):
    """k = 3: k(k−1)/2 = 3 rotational directions, k(k−1) = 6 when oblique."""
    X, _ = make_factor_data(600, 12, 3, random_state=1)
    fa = FactorAnalysis(3, rotation=rotation, random_state=0).fit(X)
    assert fa.identification(random_state=0).n_unidentified == expected


def test_observed_equals_expected_information_when_the_model_fits_exactly():
    # one factor, three indicators: saturated, C = S at the estimate, where the
    # observed information equals the expected one
    cfa = ConfirmatoryFactorAnalysis().fit(_two_factor_data()[:, :3])
    expected = cfa.standard_errors(information="expected")["se"].to_numpy()
    observed = cfa.standard_errors(information="observed")["se"].to_numpy()
    np.testing.assert_allclose(observed, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'expected', 'observed'"):
        cfa.standard_errors(information="sandwich")


def test_fiml_standard_errors_cover_the_means():
    X = _two_factor_data(n=200, missing=0.1)
    cfa = ConfirmatoryFactorAnalysis(TWO_FACTORS, missing_values="fiml").fit(X)
    table = cfa.standard_errors()
    means = table[table["op"] == "~1"]
    assert len(table) == 13 + 6 and len(means) == 6
    np.testing.assert_allclose(means["est"], cfa.mean_)
    # a mean's standard error is close to sd / sqrt(n observed)
    n_obs = (~np.isnan(X)).sum(axis=0)
    ref = np.sqrt(np.diag(cfa.get_covariance()) / n_obs)
    np.testing.assert_allclose(means["se"], ref, rtol=0.1)


def test_heywood_case_is_held_at_the_floor_and_reported():
    # one factor, three indicators with r12 = r13 = 0.8, r23 = 0.5: the
    # saturated solution has λ₁² = r12 r13 / r23 = 1.28 > 1, so ψ₁ < 0
    R = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])
    Z = np.random.RandomState(0).standard_normal((300, 3))
    Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True)).T)
    X = Z @ np.linalg.cholesky(R).T
    cfa = ConfirmatoryFactorAnalysis()
    with pytest.warns(UserWarning, match=r"Heywood case.*\['x0'\]"):
        cfa.fit(X)
    assert cfa.noise_variance_[0] == pytest.approx(cfa.noise_floor, rel=1e-6)
    assert np.all(cfa.noise_variance_[1:] > 0.1)
    se = cfa.standard_errors().set_index(["lhs", "op", "rhs"])["se"]
    assert np.isnan(se[("x0", "~~", "x0")]) and np.isfinite(se[("x1", "~~", "x1")])


def test_unidentified_model_gets_no_standard_errors():
    # an uncorrelated factor with two indicators: one null direction
    X = _two_factor_data()[:, :5]
    cfa = ConfirmatoryFactorAnalysis("f =~ x0 + x1 + x2\ng =~ x3 + x4",
                                     orthogonal=True).fit(X)
    ident = cfa.identification(random_state=0)
    assert ident.n_unidentified == ident.n_parameters - ident.generic_rank == 1
    assert set(ident.moved) == {"g=~x4", "x3~~x3", "x4~~x4", "g~~g"}
    with pytest.warns(UserWarning, match="not identified"):
        se = cfa.standard_errors().set_index(["lhs", "op", "rhs"])["se"]
    assert np.isnan(se[("g", "=~", "x4")]) and np.isfinite(se[("f", "=~", "x1")])


def test_dask_array_gives_the_same_fit():
    da = pytest.importorskip("dask.array")
    X = _two_factor_data()
    a = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    b = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(da.from_array(X, chunks=(100, 6)))
    np.testing.assert_allclose(b.get_covariance(), a.get_covariance(), rtol=1e-9)
    assert b.goodness_of_fit().statistic == pytest.approx(
        a.goodness_of_fit().statistic, rel=1e-7)


def test_dict_columns_by_position():
    X = _two_factor_data()
    a = ConfirmatoryFactorAnalysis({"f": [0, 1, 2], "g": [3, 4, 5]}).fit(X)
    b = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    np.testing.assert_allclose(a.loadings_, b.loadings_, rtol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        ConfirmatoryFactorAnalysis({"f": [0, 1, 9]}).fit(X)


def test_fa_identification_checks_its_input():
    with pytest.raises(ValueError, match="do not describe the same number of features"):
        fa_identification(np.ones((2, 5)), np.ones(4))
    with pytest.raises(ValueError, match="n_random"):
        fa_identification(np.ones((2, 5)), np.ones(5), n_random=-1)


def test_one_factor_cfa_is_factor_analysis():
    # one factor with every loading free is exploratory FA with k = 1: the
    # same maximum, found by independent code (Newton here, EM there)
    X = _two_factor_data(n=500)
    cfa = ConfirmatoryFactorAnalysis(std_lv=True).fit(X)
    fa = FactorAnalysis(n_components=1, tol=1e-14).fit(X)
    np.testing.assert_allclose(cfa.get_covariance(), fa.get_covariance(),
                               rtol=1e-6, atol=1e-8)
    assert cfa.score(X) == pytest.approx(fa.score(X), rel=1e-10)


def test_unconstrained_two_factor_cfa_reaches_the_fa_maximum():
    # every loading free, Φ = I: exploratory FA, unidentified by rotation — the
    # fit still reaches the maximum (steps use a pseudo-inverse on the flat
    # direction) and identification() finds the one rotation
    X = _two_factor_data(n=500)
    cfa = ConfirmatoryFactorAnalysis(np.ones((6, 2), dtype=bool), std_lv=True,
                                     orthogonal=True).fit(X)
    fa = FactorAnalysis(n_components=2, tol=1e-14).fit(X)
    assert cfa.score(X) == pytest.approx(fa.score(X), rel=1e-9)
    assert cfa.identification(random_state=0).n_unidentified == 1
