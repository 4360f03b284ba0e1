"""The EM engine (latentmodels._em): SQUAREM, the stopping rule, the warning."""

import warnings

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy.linalg import subspace_angles
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import ConvergenceWarning

import latentmodels._missing as missing
from latentmodels import FactorAnalysis, ProbabilisticPCA
from latentmodels._em import PARAM_TOL, run_em
from latentmodels._factor_analysis import em_squarem
from latentmodels._gaussian import LinearGaussian
from latentmodels._ppca import ppca_em_step
from latentmodels.datasets import make_factor_data


def init_pca(R, k, floor):
    """PPCA start on a correlation matrix: W = U_k (Λ_k − σ²)^½, ψ = diag(R − WWᵀ)."""
    d = R.shape[0]
    lam, U = np.linalg.eigh(R)
    lam, U = lam[::-1][:k], U[:, ::-1][:, :k]
    sigma2 = max((np.trace(R) - lam.sum()) / (d - k), 0.0) if k < d else 0.0
    W = U * np.sqrt(np.maximum(lam - sigma2, 0.0))
    return W, np.maximum(np.diag(R) - np.sum(W * W, axis=1), floor)


def _flat(theta):
    return np.concatenate([np.ravel(t) for t in theta])


# --- a linear map: SQUAREM is exact on one slow mode ----------------------------
def _linear_map(rho, target):
    """θ ↦ target + ρ (θ − target) with ℓ(θ) = −‖θ − target‖²: EM-like."""

    def em_map(theta):
        (t,) = theta
        return -float(np.sum((t - target) ** 2)), (target + rho * (t - target),)

    return em_map


def test_squarem_solves_a_slow_linear_map_where_plain_iteration_crawls():
    target = np.array([3.0, -1.0, 2.0])
    em_map = _linear_map(1.0 - 1e-3, target)  # plain rate 1 − 1e-3
    kw = dict(pack=_flat, unpack=lambda t: (t,), tol=1e-14, max_iter=400)
    fast = run_em(em_map, (np.zeros(3),), **kw)
    slow = run_em(em_map, (np.zeros(3),), accelerate=False, **kw)
    assert fast.stop_reason == "converged" and fast.converged
    assert fast.n_iter < 100
    # the stopping rule bounds the last step, 1e-10 relative; the distance to
    # the fixed point is that over (1 − rate): here ≤ 1e-7 relative
    np.testing.assert_allclose(fast.params[0], target, rtol=1e-7)
    assert slow.stop_reason == "max_iter" and not slow.converged
    assert slow.n_iter == 400
    # after 400 plain steps the error has shrunk by only (1 − 1e-3)^400
    err = np.linalg.norm(slow.params[0] - target) / np.linalg.norm(target)
    assert err == pytest.approx((1 - 1e-3) ** 399, rel=1e-6)
    assert_monotone(fast.loglike)
    assert_monotone(slow.loglike)


def test_both_criteria_must_hold():
    # ℓ is flat (change 0 ≤ tol from the first step) while θ halves each step:
    # the run goes on until the relative parameter change is below param_tol.
    def em_map(theta):
        return 0.0, (0.5 * theta[0],)

    res = run_em(
        em_map,
        (np.ones(4),),
        pack=_flat,
        unpack=lambda t: (t,),
        tol=1e-8,
        param_tol=1e-6,
        max_iter=1000,
        accelerate=False,
    )
    assert res.stop_reason == "converged"
    assert 1e-6 / 2.5 < res.param_change <= 1e-6  # the first step below it
    assert res.loglike_change == 0.0
    # param_tol=None means max(tol, PARAM_TOL)
    loose = run_em(
        em_map, (np.ones(4),), pack=_flat, unpack=lambda t: (t,), tol=1e-3,
        max_iter=1000, accelerate=False,
    )
    strict = run_em(
        em_map, (np.ones(4),), pack=_flat, unpack=lambda t: (t,), tol=0.0,
        max_iter=1000, accelerate=False,
    )
    assert 5e-4 < loose.param_change <= 1e-3
    assert PARAM_TOL / 2 < strict.param_change <= PARAM_TOL


def test_no_progress_when_an_em_step_lowers_the_likelihood():
    # a broken "EM" map whose step lowers ℓ by far more than rounding
    def em_map(theta):
        (t,) = theta
        return -float(t[0]), (t + 1.0,)

    res = run_em(
        em_map, (np.zeros(1),), pack=_flat, unpack=lambda t: (t,), tol=1e-10,
        max_iter=50,
    )
    assert res.stop_reason == "no_progress"
    assert res.n_iter == 2 and res.loglike == [0.0]
    np.testing.assert_array_equal(res.params[0], [0.0])  # the last good point
    with pytest.raises(ValueError, match="starting point of EM"):
        run_em(
            lambda theta: (np.nan, None), (np.zeros(1),), pack=_flat,
            unpack=lambda t: (t,), tol=1e-10, max_iter=5,
        )


# --- SQUAREM never lowers the likelihood on the models' own maps -------------------
def test_squarem_never_lowers_loglike_on_ppca_map():
    X = load_wine().data  # raw: variances differ by 6e6, the hard case
    S = np.cov(X.T, bias=True)
    d, k = S.shape[0], 3
    var = np.trace(S) / d

    def em_map(theta):
        ll, W, s2 = ppca_em_step(S, *theta)
        return ll, (W, max(s2, 1e-12 * var))

    W0 = np.random.RandomState(0).standard_normal((d, k)) * np.sqrt(var)
    res = run_em(
        em_map,
        (W0, var),
        pack=lambda th: np.append(th[0].ravel(), np.log(th[1])),
        unpack=lambda t: (t[:-1].reshape(d, k), float(np.exp(t[-1]))),
        tol=1e-10,
        max_iter=2000,
    )
    assert res.converged
    assert_monotone(res.loglike, name="PPCA SQUAREM log-likelihood")
    cf = ProbabilisticPCA(k).fit(X)
    assert res.loglike[-1] == pytest.approx(cf.loglike_[-1], rel=1e-10)


def test_squarem_never_lowers_loglike_on_fa_map_and_beats_plain_em():
    X = load_breast_cancer().data
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    R = np.cov(Z.T, bias=True)
    floor = np.full(R.shape[0], 1e-6)
    W, psi = init_pca(R, 3, floor)
    kw = dict(floor=floor, tol=1e-10, max_iter=3000)
    fast = em_squarem(R, W, psi, **kw)
    plain = em_squarem(R, W, psi, accelerate=False, **kw)
    for res in (fast, plain):
        assert_monotone(res.loglike, name="FA log-likelihood")
        # the recorded value is the returned parameters' log-likelihood, by
        # the Gaussian core's other route and by dense numpy; both lose digits
        # to the conditioning of C here (uniquenesses near the floor 1e-6
        # make tr(C⁻¹S) a difference of terms ~1e6)
        zero = np.zeros(R.shape[0])
        model = LinearGaussian(res.W.T, res.psi, zero)
        assert res.loglike[-1] == pytest.approx(
            model.mean_log_likelihood(zero, R), rel=1e-10
        )
        assert res.loglike[-1] == pytest.approx(
            _fa_loglike(R, res.W, res.psi), rel=1e-8
        )
    assert fast.converged
    assert fast.n_iter < plain.n_iter
    assert fast.loglike[-1] >= plain.loglike[-1] - 1e-9


def _fa_loglike(S, W, psi):
    C = W @ W.T + np.diag(psi)
    d = S.shape[0]
    _, logdet = np.linalg.slogdet(C)
    return -0.5 * (d * np.log(2 * np.pi) + logdet + np.trace(np.linalg.solve(C, S)))


@pytest.mark.parametrize("isotropic", [True, False])
def test_squarem_never_lowers_loglike_on_missing_value_map(isotropic):
    X, _ = make_factor_data(400, 10, 2, noise="heteroscedastic", random_state=3)
    Xm = X.copy()
    Xm[np.random.RandomState(4).rand(*X.shape) < 0.25] = np.nan
    kw = dict(isotropic=isotropic, noise_floor_rtol=1e-8, tol=1e-10, max_iter=3000)
    fast = missing.fit_missing(Xm, 2, **kw)
    plain = missing.fit_missing(Xm, 2, accelerate=False, **kw)
    for res in (fast, plain):
        assert res.converged
        assert_monotone(res.loglike, name="observed-data log-likelihood")
    assert fast.n_iter <= plain.n_iter
    assert fast.loglike[-1] == pytest.approx(plain.loglike[-1], abs=1e-8)


# --- PPCA EM: the closed form, fast, at default settings ---------------------------
@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer])
@pytest.mark.parametrize("k", [3, 4])
def test_ppca_em_reaches_closed_form_on_raw_data_at_defaults(loader, k):
    X = loader().data  # raw, unstandardised
    cf = ProbabilisticPCA(k).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        em = ProbabilisticPCA(k, method="em", random_state=0).fit(X)
    assert em.stop_reason_ in ("converged", "no_progress")
    assert em.n_iter_ < 200  # plain EM needed > 30 000 on raw wine
    rel = abs(em.loglike_[-1] - cf.loglike_[-1]) / abs(cf.loglike_[-1])
    assert rel < 1e-9  # the target is 1e-6
    assert em.score(X) == pytest.approx(cf.score(X), rel=1e-9)
    assert subspace_angles(em.components_.T, cf.components_.T).max() < 1e-5
    assert_monotone(em.loglike_)


# --- the results do not depend on memory layout or row order -------------------------
def _layouts(X):
    big = np.zeros((2 * X.shape[0], 3 * X.shape[1]))
    big[::2, ::3] = X
    return {"F": np.asfortranarray(X), "strided": big[::2, ::3]}


@pytest.mark.parametrize(
    "make, with_nan",
    [
        (lambda: FactorAnalysis(2), False),
        (lambda: ProbabilisticPCA(3, method="em", random_state=0), False),
        (lambda: ProbabilisticPCA(2, missing_values="em"), True),
        (lambda: FactorAnalysis(2, missing_values="em"), True),
    ],
    ids=["fa", "ppca-em", "ppca-missing", "fa-missing"],
)
def test_memory_layout_does_not_change_the_fit(make, with_nan):
    X, _ = make_factor_data(60, 8, 2, noise_level=0.4, random_state=0)
    X = np.ascontiguousarray(X)
    if with_nan:
        X[np.random.RandomState(0).rand(*X.shape) < 0.1] = np.nan
    ref = make().fit(X)
    for name, Xl in _layouts(X).items():
        fit = make().fit(Xl)
        for a, b in [
            (fit.transform(X), ref.transform(X)),
            (fit.get_covariance(), ref.get_covariance()),
            (fit.noise_variance_, ref.noise_variance_),
        ]:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())


@pytest.mark.parametrize("standardise", [False, True])
@pytest.mark.parametrize(
    "make",
    [lambda: FactorAnalysis(2), lambda: ProbabilisticPCA(3, method="em")],
    ids=["fa", "ppca-em"],
)
def test_row_order_changes_the_fit_only_by_the_parameter_tolerance(
    make, standardise
):
    # Reordering rows changes S by rounding; the run may then stop a step or two
    # apart. With the parameter test both stop within ~1e-10 relative of the
    # same point, so the fits agree to 1e-8 (ℓ alone would leave ~√tol).
    X = load_wine().data
    if standardise:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xp = X[np.random.RandomState(1).permutation(X.shape[0])]
    a, b = make().set_params(random_state=0), make().set_params(random_state=0)
    a.fit(X), b.fit(Xp)
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(b.noise_variance_, a.noise_variance_, rtol=1e-8)


# --- one warning, naming the user's line ------------------------------------------
def test_convergence_warning_names_the_callers_file_and_the_estimator():
    X, _ = make_factor_data(200, 8, 2, random_state=0)
    Xm = X.copy()
    Xm[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan
    cases = [
        (ProbabilisticPCA(2, method="em", max_iter=2, tol=0), X, "ProbabilisticPCA"),
        (
            ProbabilisticPCA(2, missing_values="em", max_iter=3),
            Xm,
            "ProbabilisticPCA(missing_values='em')",
        ),
    ]
    for est, data, name in cases:
        with pytest.warns(ConvergenceWarning) as record:
            est.fit(data)
        (w,) = [w for w in record if w.category is ConvergenceWarning]
        assert w.filename == __file__
        message = str(w.message)
        assert message.startswith(name) and f"max_iter={est.max_iter} " in message
        assert "changed the parameters by" in message
        assert est.stop_reason_ == "max_iter" and est.n_iter_ == est.max_iter


def test_heywood_jump_still_runs_through_the_engine(monkeypatch):
    # Three features, one factor: the maximum has ψ₃ on the boundary, which EM
    # approaches only like 1/t; the Heywood jump of the FA map (a move the
    # engine takes only when it does not lower ℓ) lands on the floor.
    from latentmodels._em import HeywoodJump

    X = 3 * np.random.RandomState(0).uniform(size=(20, 3))
    S = np.cov(X.T, bias=True)
    D = np.sqrt(np.diag(S))
    R = S / np.outer(D, D)
    floor = np.full(3, 1e-6)
    W0, psi0 = init_pca(R, 1, floor)
    kw = dict(floor=floor, tol=1e-10, max_iter=2000)
    jump = em_squarem(R, W0, psi0, **kw)
    monkeypatch.setattr(HeywoodJump, "WINDOW", 10**9)  # never tried
    crawl = em_squarem(R, W0, psi0, **kw)
    assert jump.psi[2] == pytest.approx(floor[2], rel=1e-6) and jump.converged
    assert crawl.psi[2] > 10 * floor[2]  # still on its way after 2000 steps
    assert jump.n_iter < crawl.n_iter
    assert jump.loglike[-1] >= crawl.loglike[-1]
    assert_monotone(jump.loglike, name="FA with Heywood jumps")


def test_joined_test_ends_the_run_at_the_first_point_that_passes_it():
    # The engine asks the caller's test after every accepted update and stops
    # there, "joined" (not converged); the point returned passes the test and
    # every point recorded before it failed it.
    target = np.array([3.0, -1.0, 2.0])
    em_map = _linear_map(0.5, target)
    seen = []

    def near(theta, ll):
        seen.append(ll)
        return np.linalg.norm(theta[0] - target) <= 1e-3

    kw = dict(pack=_flat, unpack=lambda t: (t,), tol=1e-14, max_iter=400)
    for accelerate in (True, False):
        seen.clear()
        res = run_em(em_map, (np.zeros(3),), accelerate=accelerate, joined=near,
                     **kw)
        assert res.stop_reason == "joined" and not res.converged
        assert np.linalg.norm(res.params[0] - target) <= 1e-3
        assert res.loglike[-1] == seen[-1]
        full = run_em(em_map, (np.zeros(3),), accelerate=accelerate, **kw)
        assert res.n_iter < full.n_iter
        assert_monotone(res.loglike)


def test_later_missing_value_starts_stop_once_they_join_the_best():
    # Synthetic factor data with 20% missing: one maximum. The later (random)
    # starts of FactorAnalysis stop once their noise variances are within 1%
    # of the first start's maximum, crediting it; the fit kept is the first
    # start's, the same as with n_init=1, and the screened starts cost fewer
    # E-steps than the first.
    X, _ = make_factor_data(600, 12, 3, noise="heteroscedastic", random_state=0)
    Xm = X.copy()
    Xm[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan
    calls = []
    orig = missing.fit_missing

    def counted(*args, **kwargs):
        res = orig(*args, **kwargs)
        calls.append(res)
        return res

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(missing, "fit_missing", counted)
        three = FactorAnalysis(3, missing_values="em", n_init=3,
                               random_state=0).fit(Xm)
    one = FactorAnalysis(3, missing_values="em", n_init=1, random_state=0).fit(Xm)
    assert [r.stop_reason for r in calls[1:]] == ["joined", "joined"]
    assert all(r.n_iter < calls[0].n_iter for r in calls[1:])
    np.testing.assert_array_equal(three.start_loglikes_,
                                  np.full(3, one.start_loglikes_[0]))
    np.testing.assert_allclose(three.components_, one.components_, rtol=0,
                               atol=0)
