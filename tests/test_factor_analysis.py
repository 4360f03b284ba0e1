"""Factor analysis: the profile likelihood and EM, starts, Heywood cases, rotations."""

import warnings

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy import optimize
from sklearn.datasets import load_wine
from sklearn.decomposition import FactorAnalysis as SkFactorAnalysis
from sklearn.exceptions import ConvergenceWarning

from latentmodels import FactorAnalysis
from latentmodels._factor_analysis import fa_em_step, fa_n_parameters
from latentmodels._gaussian import LinearGaussian
from latentmodels._threads import blas_threads
from latentmodels.datasets import make_factor_data
from latentmodels.identifiability import random_rotation
from latentmodels.rotations import (
    ALL_METHODS,
    MORE_OBLIQUE_METHODS,
    OBLIQUE_METHODS,
    TARGET_METHODS,
)


def _data(n=600, d=8, k=2, seed=0):
    X, truth = make_factor_data(n, d, k, noise_level=0.4, random_state=seed)
    return X + 3.0, truth


def _dense_loglike(C, S, d):
    """Mean log-likelihood from a dense C (numpy's slogdet and solve)."""
    return -0.5 * (
        d * np.log(2 * np.pi)
        + np.linalg.slogdet(C)[1]
        + np.trace(np.linalg.solve(C, S))
    )


# --- the likelihood and the EM fixed point -------------------------------------


def test_em_step_loglike_is_the_gaussian_core():
    X, _ = _data()
    S = np.cov(X.T, bias=True)
    rng = np.random.RandomState(1)
    W = rng.standard_normal((8, 2))
    psi = rng.uniform(0.2, 2.0, 8)
    ll, _, _ = fa_em_step(S, W, psi)
    ref = LinearGaussian(W.T, psi, np.zeros(8)).mean_log_likelihood(np.zeros(8), S)
    assert ll == pytest.approx(ref, rel=1e-13)


def _profile_objective(S, k):
    """Independent ML objective over log ψ with W profiled out (Jöreskog 1967).

    For fixed Ψ the best W is Ψ^{1/2} U_k (Λ_k − I)_+^{1/2} with U Λ Uᵀ the
    eigen-decomposition of Ψ^{-1/2} S Ψ^{-1/2}; the gradient in ψ is
    −½ diag(C⁻¹ − C⁻¹ S C⁻¹) at that W (envelope theorem), from dense inverses
    (independent of the package's eigen-form). Returns ``(f, best_C)``: the
    negative log-likelihood with its gradient in log ψ, and ``C`` at log ψ.
    """
    d = S.shape[0]

    def best_C(log_psi):
        psi = np.exp(log_psi)
        isd = 1.0 / np.sqrt(psi)
        lam, U = np.linalg.eigh(S * np.outer(isd, isd))
        lam, U = lam[::-1][:k], U[:, ::-1][:, :k]
        W = (U * np.sqrt(np.maximum(lam - 1.0, 0.0))) * np.sqrt(psi)[:, None]
        return W @ W.T + np.diag(psi), psi

    def f(log_psi):
        C, psi = best_C(log_psi)
        P = np.linalg.inv(C)
        grad_psi = -0.5 * np.diag(P - P @ S @ P)
        return -_dense_loglike(C, S, d), -grad_psi * psi

    return f, best_C


def _profile_maximiser(S, k):
    """scipy L-BFGS-B on :func:`_profile_objective` from ψ = diag(S)/2."""
    f, best_C = _profile_objective(S, k)
    x0 = np.log(0.5 * np.diag(S))
    res = optimize.minimize(
        f,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 5000},
    )
    C, _ = best_C(res.x)
    return -res.fun, C


def test_em_fixed_point_is_the_profile_likelihood_maximum():
    X, _ = _data(d=7)
    S = np.cov(X.T, bias=True)
    fa = FactorAnalysis(2, tol=1e-13).fit(X)
    ll_ref, C_ref = _profile_maximiser(S, 2)
    assert fa.score(X) == pytest.approx(ll_ref, rel=1e-8)
    assert fa.loglike_[-1] == pytest.approx(fa.score(X), rel=1e-12)
    np.testing.assert_allclose(fa.get_covariance(), C_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loglike_not_below_sklearn(seed):
    X, _ = _data(n=400, d=10, k=3, seed=seed)
    ours = FactorAnalysis(3).fit(X).score(X)
    for method in ("lapack", "randomized"):
        sk = SkFactorAnalysis(3, svd_method=method, random_state=0).fit(X)
        theirs = sk.score(X)
        assert ours >= theirs - 1e-6 * abs(theirs)


def test_loglike_is_invariant_to_orthogonal_rotation():
    X, _ = _data(d=9, k=3)
    fa = FactorAnalysis(3, random_state=0).fit(X)
    base = fa.score_samples(X)
    for seed in range(3):
        R = random_rotation(3, random_state=seed)
        fa_rot = FactorAnalysis(3, random_state=0).fit(X)
        fa_rot.components_ = R.T @ fa.components_
        np.testing.assert_allclose(fa_rot.score_samples(X), base, rtol=1e-10)


# --- acceleration and monotonicity ------------------------------------------------


@pytest.mark.parametrize("init", ["pca", "random"])
def test_squarem_reaches_em_optimum_in_fewer_iterations(init):
    X, _ = _data(n=800, d=12, k=3, seed=4)
    kw = dict(solver="em", tol=1e-12, init=init, n_init=1, random_state=0)
    plain = FactorAnalysis(3, acceleration=None, **kw).fit(X)
    fast = FactorAnalysis(3, **kw).fit(X)
    assert fast.n_iter_ < plain.n_iter_
    assert fast.score(X) == pytest.approx(plain.score(X), rel=1e-9)
    np.testing.assert_allclose(
        fast.get_covariance(), plain.get_covariance(), rtol=1e-4, atol=1e-6
    )
    assert_monotone(plain.loglike_)
    assert_monotone(fast.loglike_)
    assert len(fast.loglike_) > 3


def test_loglike_never_decreases_from_a_poor_start():
    X, _ = _data(n=300, d=15, k=4, seed=5)
    for solver, acc in (("em", "squarem"), ("em", None), ("profile", None)):
        fa = FactorAnalysis(
            4, solver=solver, init="random", acceleration=acc, tol=1e-12,
            random_state=3,
        ).fit(X)
        assert len(fa.loglike_) > (10 if solver == "em" else 3)
        assert_monotone(fa.loglike_)
        assert fa.loglike_[-1] == pytest.approx(fa.score(X), rel=1e-12)


@pytest.mark.parametrize(
    "solver, acceleration", [("em", "squarem"), ("em", None), ("profile", None)]
)
@pytest.mark.parametrize("max_iter", [1, 3])
def test_convergence_warning_when_max_iter_is_too_small(
    max_iter, solver, acceleration
):
    X, _ = _data()
    fa = FactorAnalysis(
        2, solver=solver, max_iter=max_iter, acceleration=acceleration,
        init="random", random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match=f"max_iter={max_iter} ") as rec:
        fa.fit(X)
    assert rec[0].filename == __file__  # names the user's line
    assert fa.n_iter_ == max_iter
    assert not fa.converged_ and fa.stop_reason_ == "max_iter"
    assert fa.loglike_[-1] == pytest.approx(fa.score(X), rel=1e-12)


# --- scale equivariance ------------------------------------------------------------


def test_scale_equivariance():
    X, _ = _data(d=6)
    c = np.array([1.0, 1e-3, 5.0, 1e4, 0.2, 1.0])
    fa = FactorAnalysis(2).fit(X)
    fa_c = FactorAnalysis(2).fit(X * c)
    np.testing.assert_allclose(
        fa_c.components_,
        fa.components_ * c,
        rtol=1e-8,
        atol=1e-12 * np.abs(fa_c.components_).max(),
    )
    np.testing.assert_allclose(
        fa_c.noise_variance_, fa.noise_variance_ * c**2, rtol=1e-8
    )
    np.testing.assert_allclose(fa_c.transform(X * c), fa.transform(X), atol=1e-8)
    # the log-likelihood changes only by the Jacobian of the rescaling
    assert fa_c.score(X * c) == pytest.approx(fa.score(X) - np.log(c).sum(), rel=1e-10)


@pytest.mark.parametrize(
    "solver, acceleration", [("em", None), ("em", "squarem"), ("profile", None)]
)
def test_raw_wine_converges_like_standardised_wine(solver, acceleration):
    X = load_wine().data
    sd = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / sd
    assert sd.max() ** 2 / sd.min() ** 2 > 6e6  # variances differ by ~6.4e6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        kw = dict(tol=1e-12, solver=solver, acceleration=acceleration, n_init=1)
        raw = FactorAnalysis(3, **kw).fit(X)
        std = FactorAnalysis(3, **kw).fit(Z)
    assert raw.score(X) + np.log(sd).sum() == pytest.approx(std.score(Z), rel=1e-10)
    # Both runs stop on the flat top, within what tol=1e-12 nats resolves (a
    # slow run can stop one step apart on the two scales).
    atol = 5e-5 if solver == "em" else 1e-9  # Newton converges to rounding
    np.testing.assert_allclose(raw.components_ / sd, std.components_, atol=atol)
    np.testing.assert_allclose(
        raw.noise_variance_ / sd**2, std.noise_variance_, atol=atol
    )
    if solver == "em" and acceleration is None:
        # Plain EM follows the same path on both scales, to rounding: after the
        # same number of steps the two fits agree entry by entry.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            kw = dict(tol=0.0, max_iter=300, solver="em", acceleration=None, n_init=1)
            raw = FactorAnalysis(3, **kw).fit(X)
            std = FactorAnalysis(3, **kw).fit(Z)
        np.testing.assert_allclose(raw.components_ / sd, std.components_, atol=1e-10)
        np.testing.assert_allclose(
            raw.noise_variance_ / sd**2, std.noise_variance_, atol=1e-10
        )
    if acceleration is None and solver == "em":
        return
    # and reaches at least scikit-learn's likelihood on the raw data
    sk = SkFactorAnalysis(3, svd_method="lapack", tol=1e-8, max_iter=5000).fit(X)
    assert raw.score(X) >= sk.score(X) - 1e-6 * abs(sk.score(X))


# --- Heywood cases -------------------------------------------------------------------


def test_heywood_feature_is_held_at_floor_and_reported():
    import pandas as pd

    X, _ = _data(n=500, d=6)
    rng = np.random.RandomState(0)
    X = np.column_stack([X, X[:, 2] + 1e-5 * rng.standard_normal(500)])
    names = [f"f{j}" for j in range(7)]
    with pytest.warns(UserWarning, match="Heywood case") as rec:
        df = pd.DataFrame(X, columns=names)
        fa = FactorAnalysis(2, noise_floor=1e-4).fit(df)
    msg = str([w.message for w in rec if "Heywood" in str(w.message)][0])
    reported = set(fa.heywood_features_)
    assert reported & {2, 6}
    assert reported <= {2, 6}
    for j in reported:
        assert f"'f{j}'" in msg
    var = X.var(axis=0)
    np.testing.assert_allclose(
        fa.noise_variance_[list(reported)], 1e-4 * var[list(reported)], rtol=1e-8
    )
    assert np.all(fa.noise_variance_ >= 1e-4 * var * (1 - 1e-12))
    assert np.all(np.isfinite(fa.components_)) and np.isfinite(fa.score(df))
    assert_monotone(fa.loglike_)


def _bounded_profile_maximum(S, k, floor):
    """Independent bounded ML (L-BFGS-B over log ψ ≥ log(floor · S_jj))."""
    d = S.shape[0]

    def f(log_psi):
        psi = np.exp(log_psi)
        isd = 1.0 / np.sqrt(psi)
        lam, U = np.linalg.eigh(S * np.outer(isd, isd))
        lam, U = lam[::-1][:k], U[:, ::-1][:, :k]
        W = (U * np.sqrt(np.maximum(lam - 1.0, 0.0))) * np.sqrt(psi)[:, None]
        return -_dense_loglike(W @ W.T + np.diag(psi), S, d)

    bounds = [(np.log(floor * S[j, j]), None) for j in range(d)]
    best = min(
        optimize.minimize(
            f,
            np.log(c * np.diag(S)),
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000},
        ).fun
        for c in (0.5, 0.05)
    )
    return -best


@pytest.mark.parametrize(
    "solver, acceleration", [("em", "squarem"), ("em", None), ("profile", None)]
)
def test_boundary_maximum_is_reached(solver, acceleration):
    # three features, one factor: the maximum has ψ_3 = 0, which EM alone
    # approaches only like 1/t; the Heywood jump lands on the floor
    X = 3 * np.random.RandomState(0).uniform(size=(20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.warns(UserWarning, match=r"Heywood case.*\[2\]"):
            fa = FactorAnalysis(
                1, solver=solver, acceleration=acceleration, max_iter=2000,
                random_state=0,
            ).fit(X)
    assert list(fa.heywood_features_) == [2]
    assert_monotone(fa.loglike_)
    S = np.cov(X.T, bias=True)
    ref = _bounded_profile_maximum(S, 1, fa.noise_floor)
    assert fa.score(X) >= ref - 1e-9 * abs(ref)
    C = fa.get_covariance()
    assert C[2, 2] == pytest.approx(S[2, 2], rel=1e-6)  # to the floor


def test_no_heywood_on_regular_data():
    X, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fa = FactorAnalysis(2).fit(X)
    assert fa.heywood_features_.size == 0


# --- rotations ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)  # every rotation rotations offers
def test_rotation_keeps_model_and_transform_consistent(method):
    X, _ = _data(n=500, d=9, k=3, seed=2)
    base = FactorAnalysis(3, random_state=0).fit(X)
    kwargs = None
    if method in TARGET_METHODS:  # a simple-structure target, one entry left free
        target = np.kron(np.eye(3), np.ones((3, 1)))
        if method.startswith("partial"):
            target[0, 1] = np.nan
        kwargs = {"target": target}
    rot = FactorAnalysis(3, rotation=method, rotation_kwargs=kwargs, random_state=0)
    if method == "oblimax":  # on these data oblimax merges two factors (Φ singular)
        with pytest.raises(ValueError, match="made two or more factors identical"):
            rot.fit(X)
        return
    rot.fit(X)
    np.testing.assert_allclose(rot.get_covariance(), base.get_covariance(), atol=1e-10)
    np.testing.assert_allclose(rot.score_samples(X), base.score_samples(X), rtol=1e-10)
    T = rot.rotation_matrix_
    np.testing.assert_allclose(rot.transform(X), base.transform(X) @ T, atol=1e-9)
    oblique = method in OBLIQUE_METHODS + MORE_OBLIQUE_METHODS
    assert hasattr(rot, "factor_correlation_") == oblique
    if oblique:
        np.testing.assert_allclose(rot.factor_correlation_, T.T @ T, atol=1e-12)
        np.testing.assert_allclose(
            rot.components_.T, np.linalg.solve(T, base.components_).T, atol=1e-10
        )
    else:
        np.testing.assert_allclose(T.T @ T, np.eye(3), atol=1e-10)
        np.testing.assert_allclose(
            rot.components_.T, base.components_.T @ T, atol=1e-10
        )


def test_refit_orthogonal_after_oblique_drops_factor_correlation():
    X, _ = _data(d=9, k=3)
    fa = FactorAnalysis(3, rotation="oblimin").fit(X)
    assert hasattr(fa, "factor_correlation_")
    fa.set_params(rotation="varimax").fit(X)
    assert not hasattr(fa, "factor_correlation_")


def test_varimax_matches_sklearn_up_to_sign_and_order():
    # well-separated simple structure; features standardised, so the rotation
    # of the standardised loadings is the rotation of the raw ones
    rng = np.random.RandomState(0)
    L = np.zeros((12, 3))
    for j in range(3):
        L[4 * j : 4 * j + 4, j] = rng.uniform(0.6, 0.9, 4)
    L += 0.1 * rng.standard_normal(L.shape)
    X = rng.standard_normal((1000, 3)) @ L.T + 0.5 * rng.standard_normal((1000, 12))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    ours = FactorAnalysis(3, rotation="varimax").fit(X).components_
    sk = (
        SkFactorAnalysis(
            3, rotation="varimax", svd_method="lapack", tol=1e-6, max_iter=10000
        )
        .fit(X)
        .components_
    )
    corr = (
        ours @ sk.T / np.outer(np.linalg.norm(ours, axis=1), np.linalg.norm(sk, axis=1))
    )
    order = np.argmax(np.abs(corr), axis=1)
    assert sorted(order) == [0, 1, 2]
    signs = np.sign(corr[np.arange(3), order])
    np.testing.assert_allclose(ours, sk[order] * signs[:, None], atol=2e-4)


# --- model selection ------------------------------------------------------------------


def test_bic_aic_parameter_count():
    X, _ = _data(d=8, k=3)
    fa = FactorAnalysis(3).fit(X)
    d, k, n = 8, 3, X.shape[0]
    p = d * k - k * (k - 1) // 2 + 2 * d
    assert fa._n_parameters() == p == fa_n_parameters(d, k)
    ll = n * fa.score(X)
    assert fa.bic(X) == pytest.approx(-2 * ll + p * np.log(n), rel=1e-12)
    assert fa.aic(X) == pytest.approx(-2 * ll + 2 * p, rel=1e-12)


def test_bic_picks_true_number_of_factors():
    X, _ = make_factor_data(1000, 12, 3, noise_level=0.3, random_state=0)
    bic = [FactorAnalysis(k, tol=1e-6).fit(X).bic(X) for k in range(1, 6)]
    assert int(np.argmin(bic)) + 1 == 3


# --- input handling ------------------------------------------------------------------


def test_nan_error_points_at_missing_values_em():
    X, _ = _data()
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="missing_values='em'"):
        FactorAnalysis(2).fit(X)


@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"noise_floor": 0.0}, ValueError, "noise_floor"),
        ({"noise_floor": 1.5}, ValueError, "noise_floor"),
        ({"acceleration": "pxem"}, ValueError, "acceleration"),
        ({"solver": "newton"}, ValueError, "solver"),
        ({"n_init": 0}, ValueError, "n_init"),
        ({"rotation": "spin"}, ValueError, "rotation"),
        ({"init": "svd"}, ValueError, "init"),
        ({"missing_values": "drop"}, ValueError, "missing_values"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"rotation_kwargs": [1]}, TypeError, "rotation_kwargs"),
        ({"n_components": 9}, ValueError, "n_components"),
    ],
)
def test_bad_parameters(params, err, match):
    X, _ = _data()
    with pytest.raises(err, match=match):
        FactorAnalysis(**{"n_components": 2, **params}).fit(X)


def test_input_not_modified_and_reproducible():
    X, _ = _data()
    X_copy = X.copy()
    a = FactorAnalysis(2, init="random", rotation="promax", random_state=7).fit(X)
    b = FactorAnalysis(2, init="random", rotation="promax", random_state=7).fit(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.noise_variance_, b.noise_variance_)
    assert a.loglike_ == b.loglike_


def test_partial_fit_and_dask_equal_fit():
    X, _ = _data(n=900, d=8, k=2)
    ref = FactorAnalysis(2, random_state=0).fit(X)
    inc = FactorAnalysis(2, random_state=0)
    for lo, hi in [(0, 100), (100, 137), (137, 600), (600, 900)]:
        inc.partial_fit(X[lo:hi])
    assert inc.n_samples_seen_ == 900
    # same statistics to rounding, same path: same model
    np.testing.assert_allclose(inc.get_covariance(), ref.get_covariance(), rtol=1e-8)
    np.testing.assert_allclose(inc.mean_, ref.mean_, rtol=1e-12)
    da = pytest.importorskip("dask.array")
    lazy = FactorAnalysis(2, random_state=0).fit(da.from_array(X, chunks=250))
    np.testing.assert_allclose(lazy.get_covariance(), ref.get_covariance(), rtol=1e-8)


def test_float32_input_matches_float64():
    X, _ = _data()
    fa64 = FactorAnalysis(2).fit(X)
    fa32 = FactorAnalysis(2).fit(X.astype(np.float32))
    np.testing.assert_allclose(fa32.get_covariance(), fa64.get_covariance(), rtol=1e-4)
    assert fa32.transform(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("acceleration", ["squarem", None])
def test_missing_values_em_path(acceleration):
    pytest.importorskip("latentmodels._missing")
    from scipy.stats import multivariate_normal

    X, _ = _data(n=400, d=6)
    rng = np.random.RandomState(0)
    X_nan = X.copy()
    X_nan[rng.uniform(size=X.shape) < 0.05] = np.nan
    fa = FactorAnalysis(
        2, missing_values="em", rotation="varimax", acceleration=acceleration
    ).fit(X_nan)
    assert np.all(np.isfinite(fa.components_)) and np.all(fa.noise_variance_ > 0)
    assert fa.solver_ == "em"
    assert_monotone(fa.loglike_)
    # loglike_ is the observed-data log-likelihood of the fitted (rotated)
    # model, computed here row by row with scipy on the observed entries
    C, mu = fa.get_covariance(), fa.mean_
    ref = np.mean(
        [
            multivariate_normal(mu[o], C[np.ix_(o, o)]).logpdf(x[o])
            for x in X_nan
            for o in [~np.isnan(x)]
        ]
    )
    assert fa.loglike_[-1] == pytest.approx(ref, rel=1e-10)
    # the rotation matrix relates the rotated loadings to the unrotated ones
    plain = FactorAnalysis(2, missing_values="em", acceleration=acceleration)
    plain.fit(X_nan)
    np.testing.assert_allclose(
        fa.components_.T, plain.components_.T @ fa.rotation_matrix_, atol=1e-10
    )
    # 5% missing entries: the model stays close to the complete-data fit
    C_full = FactorAnalysis(2).fit(X).get_covariance()
    assert np.linalg.norm(C - C_full) < 0.2 * np.linalg.norm(C_full)


def test_constant_feature_is_not_a_heywood_case():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 2)) @ rng.standard_normal((2, 6))
    X += 0.5 * rng.standard_normal((300, 6))
    X = np.hstack([X, np.full((300, 1), 3.0)])  # constant, like digits' pixel 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fa = FactorAnalysis(2).fit(X)
    assert fa.heywood_features_.size == 0
    assert np.all(np.isfinite(fa.score_samples(X)))


# --- the profile likelihood: derivatives, optimum, starts --------------------------


def _central_differences(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])


def test_profile_gradient_and_hessian_match_finite_differences():
    from latentmodels._profile import ProfileLikelihood

    X, _ = _data(n=300, d=7, k=2, seed=3)
    R = np.corrcoef(X.T)
    prof = ProfileLikelihood(R, 2)
    x = np.log(np.random.RandomState(0).uniform(0.2, 0.8, 7))
    ll, lam, U = prof.evaluate(x)
    # the profile value is the full likelihood at W(ψ): scored independently
    W = prof.loadings(x, lam, U)
    C = W @ W.T + np.diag(np.exp(x))
    assert ll == pytest.approx(_dense_loglike(C, R, 7), rel=1e-12)

    def grad(z):
        _, la, u = prof.evaluate(z)
        return prof.gradient(z, la, u)

    g_fd = _central_differences(lambda z: -prof.evaluate(z)[0], x)
    np.testing.assert_allclose(grad(x), g_fd, atol=1e-8)
    H_fd = _central_differences(grad, x)
    np.testing.assert_allclose(prof.hessian(x, lam, U), H_fd, atol=1e-7)
    # at an exactly factor-structured matrix the Hessian is the Fisher information
    W0 = np.random.RandomState(1).standard_normal((7, 2))
    psi0 = np.linspace(0.3, 1.0, 7)
    exact = ProfileLikelihood(W0 @ W0.T + np.diag(psi0), 2)
    _, lam, U = exact.evaluate(np.log(psi0))
    np.testing.assert_allclose(
        exact.fisher(U), exact.hessian(np.log(psi0), lam, U), atol=1e-10
    )


def _brute_force_maximum(S, k, floor, n_starts, seed=0):
    """Best of scipy L-BFGS-B runs on :func:`_profile_objective` (W profiled
    out) from many starts, with the noise floor as bound."""
    rng = np.random.RandomState(seed)
    starts = [np.log(0.5 * np.diag(S))] + [
        np.log(np.diag(S) * rng.uniform(0.02, 1.0, S.shape[0]))
        for _ in range(n_starts - 1)
    ]
    d = S.shape[0]
    f, _ = _profile_objective(S, k)
    bounds = [(np.log(floor * S[j, j]), None) for j in range(d)]
    with blas_threads(1):  # tiny matrices: threads only contend
        return -min(
            optimize.minimize(
                f, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 3000},
            ).fun
            for x0 in starts
        )


@pytest.mark.parametrize("d, k, seed", [(6, 2, 0), (8, 3, 1), (9, 4, 2), (5, 2, 3)])
def test_brute_force_finds_no_better_maximum(d, k, seed):
    # small samples from a model with fewer factors than fitted: awkward,
    # often multimodal likelihoods
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((40, 1)) @ rng.standard_normal((1, d))
    X += rng.standard_normal((40, d)) * rng.uniform(0.3, 1.5, d)
    S = np.cov(X.T, bias=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fa = FactorAnalysis(k, random_state=0).fit(X)
    assert fa.converged_
    ref = _brute_force_maximum(S, k, fa.noise_floor, n_starts=25)
    assert fa.score(X) >= ref - 1e-9 * abs(ref)
    # (a Heywood case puts R_jj/ψ_j ≈ 1e6 into the sums: rounding ~1e-10)
    assert fa.loglike_[-1] == pytest.approx(fa.score(X), rel=1e-10)


def test_starts_are_deterministic_and_reported():
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    X = (X - X.mean(0)) / X.std(0)
    # k = 6: the first (SMC) start stops 0.25 nats/sample below the best
    kw = dict(n_components=6, n_init=3, random_state=0)
    with pytest.warns(UserWarning, match="several maxima") as rec:
        a = FactorAnalysis(**kw).fit(X)
    assert rec[0].filename == __file__
    b = FactorAnalysis(**kw).fit(X)
    np.testing.assert_array_equal(a.start_loglikes_, b.start_loglikes_)
    np.testing.assert_array_equal(a.noise_variance_, b.noise_variance_)
    assert a.start_loglikes_.shape == (3,)
    assert a.loglike_[-1] == pytest.approx(a.start_loglikes_.max(), rel=1e-14)
    assert a.score(X) == pytest.approx(a.start_loglikes_.max(), rel=1e-10)
    # the starts really disagree: breast cancer k = 6 is multimodal
    assert np.ptp(a.start_loglikes_) > 1e-3
    assert a.start_loglikes_[0] < a.start_loglikes_.max() - 1e-3
    one = FactorAnalysis(6, n_init=1).fit(X)
    assert one.start_loglikes_[0] == pytest.approx(a.start_loglikes_[0], rel=1e-12)


def test_no_warning_when_the_first_start_finds_the_best_maximum():
    """Lower maxima from random starts are listed, not warned about."""
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    X = (X - X.mean(0)) / X.std(0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fa = FactorAnalysis(8, n_init=3, random_state=0).fit(X)
    assert not [w for w in rec if "several maxima" in str(w.message)]
    # the SMC start reached the best; another start stopped lower
    assert fa.start_loglikes_[0] == pytest.approx(fa.start_loglikes_.max(), abs=1e-8)
    assert np.ptp(fa.start_loglikes_) > 1e-3


def test_solver_auto_and_em_reach_the_same_maximum():
    X, _ = _data(n=500, d=10, k=3, seed=6)
    auto = FactorAnalysis(3, random_state=0).fit(X)
    em = FactorAnalysis(3, solver="em", random_state=0).fit(X)
    assert auto.solver_ == "profile" and em.solver_ == "em"
    assert auto.converged_ and auto.stop_reason_ == "converged"
    assert auto.score(X) >= em.score(X) - 1e-10 * abs(em.score(X))
    np.testing.assert_allclose(
        auto.get_covariance(), em.get_covariance(), rtol=1e-4, atol=1e-6
    )
    assert auto.n_iter_ < em.n_iter_


def test_memory_layout_does_not_change_the_fit():
    X, _ = _data(n=60, d=8, k=2, seed=7)
    fits = [
        FactorAnalysis(2, random_state=0).fit(A)
        for A in (X, np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2])
    ]
    for other in fits[1:]:
        np.testing.assert_allclose(
            other.transform(X), fits[0].transform(X), rtol=1e-9, atol=1e-12
        )


# --- real data: never below scikit-learn, converged at default settings -------------


def _standardised(name):
    from sklearn import datasets

    X = getattr(datasets, f"load_{name}")().data
    X = X[:, X.std(axis=0) > 0]  # digits has constant pixels
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.mark.parametrize(
    "name, k",
    # a sample of the benchmark's panel (k from 1 to d/2 in
    # benchmarks/bench_factor_analysis.py); breast cancer k = 10 is where EM
    # from one start stopped 0.13 nats per sample below scikit-learn
    [("iris", 2), ("wine", 5), ("breast_cancer", 10), ("diabetes", 4),
     ("digits", 8)],
)
def test_real_data_not_below_sklearn_and_converged(name, k):
    X = _standardised(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # Heywood, several maxima
        fa = FactorAnalysis(k, random_state=0).fit(X)
    assert fa.converged_ and fa.stop_reason_ == "converged"
    with warnings.catch_warnings(), blas_threads(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        best = max(
            SkFactorAnalysis(k, random_state=0, **kw).fit(X).score(X)
            for kw in ({}, {"tol": 1e-9, "max_iter": 2000})
        )
    assert fa.score(X) >= best - 1e-6


def test_solver_auto_switches_to_em_for_many_features():
    from latentmodels._factor_analysis import _PROFILE_MAX_FEATURES as D_MAX

    rng = np.random.RandomState(0)
    for d, expected in ((D_MAX, "profile"), (D_MAX + 1, "em")):
        X = rng.standard_normal((300, 1)) @ rng.standard_normal((1, d))
        X += rng.standard_normal((300, d))
        fa = FactorAnalysis(1, n_init=1, tol=1e-8).fit(X)
        assert fa.solver_ == expected and fa.converged_


def test_wide_data_em_from_the_rows_equals_the_covariance_route():
    """n < d: the centred rows serve as S's square root and give the PCA start
    (SMC is 1 everywhere for a singular S); the fit equals the one from the
    statistics alone (``partial_fit``), where the root comes from eigh(S)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 300))
    X += rng.standard_normal((40, 300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        rows = FactorAnalysis(4, init="pca", random_state=0).fit(X)
        stats = FactorAnalysis(4, init="pca", random_state=0).partial_fit(X)
    assert rows.solver_ == "em"
    assert rows.score(X) == pytest.approx(stats.score(X), rel=1e-9)
    np.testing.assert_allclose(
        rows.get_covariance(), stats.get_covariance(), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("how", ["fit", "partial_fit", "fit_covariance"])
def test_parameters_checked_once_per_public_call(how, monkeypatch):
    """The constraint table is checked once per fit (not again inside)."""
    from sklearn.utils._param_validation import InvalidParameterError

    X = make_factor_data(200, 6, 2, random_state=0)[0]
    calls = []
    original = FactorAnalysis._validate_params

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(FactorAnalysis, "_validate_params", counted)

    def run(fa):
        if how == "fit_covariance":
            return fa.fit_covariance(np.cov(X.T), 200)
        return getattr(fa, how)(X)

    run(FactorAnalysis(2, n_init=1))
    assert len(calls) == 1
    with pytest.raises(InvalidParameterError, match="tol"):
        run(FactorAnalysis(2, tol=-1.0))


def test_screened_starts_stop_only_where_the_full_run_converges():
    """A later start screened against a known maximum (basin test with the
    exact Hessian there, or the Newton point test) is 'joined' only when the
    same start run unscreened converges to that maximum."""
    from latentmodels._profile import fit_profile, start_random, start_smc

    X = make_factor_data(2000, 30, 4, random_state=3)[0]
    R = np.corrcoef(X.T)
    floor = np.full(30, 1e-6)
    kw = dict(floor=floor, tol=1e-10, max_iter=200)
    first = fit_profile(R, start_smc(R, 4, floor), 4, curvature=True, **kw)
    assert first.converged and first.information is not None
    # the exact Hessian of −ℓ at the maximum: positive definite
    assert np.all(np.linalg.eigvalsh(first.information) > 0)
    known = [(np.log(first.psi), first.loglike[-1], first.information)]
    rng = np.random.default_rng(0)
    n_joined = 0
    for _ in range(6):
        psi0 = start_random(R, floor, rng)
        screened = fit_profile(R, psi0, 4, known=known, **kw)
        full = fit_profile(R, psi0, 4, **kw)
        assert full.converged
        if screened.stop_reason == "joined":
            n_joined += 1
            assert screened.n_iter < full.n_iter
            np.testing.assert_allclose(full.psi, first.psi, rtol=1e-5)
            assert full.loglike[-1] == pytest.approx(first.loglike[-1], abs=1e-9)
    assert n_joined >= 3  # a single-maximum case: screening does its job


@pytest.mark.parametrize("k", [8, 12, 13])
def test_screening_loses_no_maximum_on_digits(k):
    """digits (constant pixels dropped, standardised), where the starts reach
    several maxima: the screened fit keeps the best of the three starts run
    to convergence without screening (a 'below' test trusted too early once
    cut off the start that reached the best maximum, k = 8)."""
    from sklearn.datasets import load_digits
    from sklearn.utils import check_random_state

    from latentmodels._profile import fit_profile, starting_points

    X = load_digits().data
    X = X[:, X.std(axis=0) > 0]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    fa = FactorAnalysis(k, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fa.fit(X)
    R = np.cov(X.T, bias=True)
    floor = fa.noise_floor * np.diag(R)
    starts = starting_points(
        R, k, floor, n_init=3, init="smc", rng=check_random_state(0)
    )
    unscreened = [
        fit_profile(R, psi0, k, floor=floor, tol=fa.tol, max_iter=fa.max_iter)
        for _, psi0 in starts
    ]
    best = max(r.loglike[-1] for r in unscreened)
    assert fa.start_loglikes_.max() >= best - 1e-9
