"""Newton's route for missing values: derivatives, the maximum, the E-step count."""

import numpy as np
import pytest
from _helpers import assert_monotone

import latentmodels._missing as missing
import latentmodels._missing_hessian as hessian
import latentmodels._missing_newton as newton_module
from latentmodels._gaussian_observed import group_patterns
from latentmodels._missing import fit_missing
from latentmodels._profile import fit_profile, starting_points
from latentmodels.datasets import make_factor_data


def _observed(Xm):
    obs = ~np.isnan(Xm)
    return missing._ObservedData(Xm, obs, group_patterns(obs))


def _blocks(n, d, seed=1):
    """The benchmark's block missingness: a fifth complete, four blocks missing."""
    mask = np.zeros((n, d), dtype=bool)
    size, width = n // 5, d // 5
    for p in range(1, 5):
        mask[p * size : (p + 1) * size, (p - 1) * width : p * width] = True
    return mask


def _mcar(n, d, frac, seed):
    mask = np.random.RandomState(seed).rand(n, d) < frac
    mask[mask.all(axis=1), 0] = False
    return mask


def _theta_vector(W, psi, mu, isotropic):
    return np.concatenate([W.ravel(), np.log(psi[:1] if isotropic else psi), mu])


def _theta(t, d, k, isotropic):
    m = 1 if isotropic else d
    psi = np.exp(np.broadcast_to(t[d * k : d * k + m], (d,))).copy()
    return t[: d * k].reshape(d, k), psi, t[d * k + m :]


@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("threshold", [1, 10**9])  # statistics path / row path
def test_gradient_and_hessian_are_the_finite_differences(
    isotropic, threshold, monkeypatch
):
    monkeypatch.setattr(missing, "_MIN_ROWS_FOR_STATS", threshold)
    n, d, k = 200, 6, 2
    X, _ = make_factor_data(n, d, k, noise="heteroscedastic", random_state=0)
    Xm = np.where(_mcar(n, d, 0.2, 1), np.nan, X + np.linspace(-2, 3, d))
    Xm[:80, :2] = np.nan  # a big pattern for the statistics path
    data = _observed(Xm)
    rng = np.random.RandomState(0)
    W = rng.standard_normal((d, k))
    psi = np.full(d, 0.8) if isotropic else rng.uniform(0.5, 1.5, d)
    mu = 0.1 * rng.standard_normal(d)
    t0 = _theta_vector(W, psi, mu, isotropic)

    def loglike(t):
        return missing._e_step(data, *_theta(t, d, k, isotropic))[2]

    def grad(t):
        W, psi, mu = _theta(t, d, k, isotropic)
        A, b, _, _ = missing._e_step(data, W, psi, mu)
        return hessian.gradient_from_moments(data, A, b, W, psi, mu, isotropic)

    eye = np.eye(t0.size)
    g_fd = np.array([(loglike(t0 + 1e-6 * e) - loglike(t0 - 1e-6 * e)) / 2e-6
                     for e in eye])
    g = grad(t0)
    np.testing.assert_allclose(g, g_fd, atol=1e-7 * np.abs(g).max())
    H_fd = np.array([(grad(t0 + 1e-4 * e) - grad(t0 - 1e-4 * e)) / 2e-4 for e in eye])
    H = hessian.observed_hessian(data, W, psi, mu, isotropic)
    np.testing.assert_allclose(H, H.T, atol=0)
    np.testing.assert_allclose(H, H_fd, atol=1e-7 * np.abs(H_fd).max())
    # the single-precision sums of many rows agree to ~1e-6
    monkeypatch.setattr(hessian, "_SINGLE_WORK", 0)
    H32 = hessian.observed_hessian(data, W, psi, mu, isotropic)
    np.testing.assert_allclose(H32, H, atol=1e-5 * np.abs(H).max())


@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("pattern", ["blocks", "mcar"])
def test_newton_reaches_the_em_maximum_in_fewer_e_steps(isotropic, pattern):
    """The benchmark's cases at a small size (n=1000, d=20, k=3, 20% missing)."""
    n, d, k = 1000, 20, 3
    X, _ = make_factor_data(n, d, k, noise="heteroscedastic", random_state=0)
    mask = _blocks(n, d) if pattern == "blocks" else _mcar(n, d, 0.2, 1)
    Xm = np.where(mask, np.nan, X)
    kw = dict(isotropic=isotropic, noise_floor_rtol=1e-12 if isotropic else 1e-6)
    # (at random, 1000 rows of 20 features: EM is the faster default)
    new = fit_missing(Xm, k, tol=1e-10, max_iter=5000, newton=True, **kw)
    squarem = fit_missing(Xm, k, tol=1e-10, max_iter=5000, newton=False, **kw)
    plain = fit_missing(Xm, k, tol=1e-13, max_iter=20000, accelerate=False, **kw)
    for r in (new, squarem, plain):
        assert r.converged
        assert_monotone(r.loglike)
    # the same maximum: the likelihood to rounding, the model to 1e-6
    assert new.loglike[-1] >= plain.loglike[-1] - 1e-10
    assert new.loglike[-1] >= squarem.loglike[-1] - 1e-10
    C = [r.components.T @ r.components + np.diag(r.noise_variance)
         for r in (new, plain)]
    np.testing.assert_allclose(C[0], C[1], rtol=1e-6, atol=1e-8 * np.abs(C[1]).max())
    np.testing.assert_allclose(new.mean, plain.mean, atol=1e-7 * np.abs(X).max())
    # Newton (measured: 5-6 E-steps) against EM with SQUAREM (10-34) and plain
    # EM (13-89, at its own tolerance)
    assert 2 * new.n_iter <= squarem.n_iter
    assert 2 * new.n_iter <= plain.n_iter
    assert new.n_iter <= 8


def test_a_poor_hessian_falls_back_on_em_steps(monkeypatch):
    # A Hessian a tenth of the true one makes Newton overshoot; the EM point
    # taken instead keeps the likelihood rising, and the run still ends at the
    # maximum (the test of the stopping rule uses the same poor model).
    n, d, k = 300, 8, 2
    X, _ = make_factor_data(n, d, k, noise="heteroscedastic", random_state=3)
    Xm = np.where(_mcar(n, d, 0.2, 4), np.nan, X)
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, max_iter=3000,
              newton=True)
    good = fit_missing(Xm, k, **kw)
    true_hessian = newton_module.observed_hessian
    calls = []
    monkeypatch.setattr(
        newton_module, "observed_hessian",
        lambda *a, **kw: calls.append(1) or 0.1 * true_hessian(*a, **kw),
    )
    poor = fit_missing(Xm, k, **kw)
    assert calls and poor.converged
    assert_monotone(poor.loglike)
    assert poor.n_iter > len(poor.loglike) - 1  # some Newton points refused
    assert poor.loglike[-1] == pytest.approx(good.loglike[-1], abs=1e-9)
    np.testing.assert_allclose(poor.noise_variance, good.noise_variance, rtol=1e-5)


def test_route_choice_em_first_then_newton(monkeypatch):
    # The default runs EM with SQUAREM: where it converges within
    # _EM_BEFORE_NEWTON E-steps it is exactly the EM fit asked for (no
    # Hessian); where it does not, Newton goes on from EM's point; plain EM
    # is never Newton.
    n, d, k = 200, 8, 2
    X, _ = make_factor_data(n, d, k, random_state=0)
    Xm = np.where(_mcar(n, d, 0.2, 1), np.nan, X)
    kw = dict(isotropic=True, noise_floor_rtol=1e-12, tol=1e-10, max_iter=2000)
    calls = []
    true_hessian = newton_module.observed_hessian
    monkeypatch.setattr(
        newton_module, "observed_hessian",
        lambda *a, **kw: calls.append(1) or true_hessian(*a, **kw),
    )
    em = fit_missing(Xm, k, newton=False, **kw)
    assert not calls and em.converged
    assert em.n_iter < missing._EM_BEFORE_NEWTON
    auto = fit_missing(Xm, k, **kw)
    assert not calls
    assert auto.n_iter == em.n_iter and auto.loglike == em.loglike
    fit_missing(Xm, k, accelerate=False, **kw)
    assert not calls
    # EM stopped early: Newton takes over from its point, the trace goes on
    monkeypatch.setattr(missing, "_EM_BEFORE_NEWTON", 3)
    handed = fit_missing(Xm, k, **kw)
    assert calls and handed.converged
    assert handed.loglike[:3] == em.loglike[:3]
    assert_monotone(handed.loglike)
    assert handed.loglike[-1] == pytest.approx(em.loglike[-1], abs=1e-9)


def test_newton_far_from_its_region_damps_its_steps():
    # Standardised wine, 30% missing at random, three factors: from the PPCA
    # start the Hessian is indefinite and full Newton points are refused; the
    # Levenberg damping after each refusal (and the EM point meanwhile) brings
    # Newton to EM's maximum in 27 E-steps where EM with SQUAREM takes 167
    # (measured; without damping Newton stalled and EM finished in 354). The
    # default (EM for 30 E-steps, then Newton) gets there in at most a third
    # of EM's E-steps too.
    from sklearn.datasets import load_wine

    X = load_wine().data
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xm = np.where(_mcar(*X.shape, 0.3, 0), np.nan, X)
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, max_iter=5000)
    em = fit_missing(Xm, 3, newton=False, **kw)
    assert em.converged
    for new in (fit_missing(Xm, 3, newton=True, **kw), fit_missing(Xm, 3, **kw)):
        assert new.converged
        assert_monotone(new.loglike)
        assert new.loglike[-1] >= em.loglike[-1] - 1e-9
        assert 3 * new.n_iter <= em.n_iter
        np.testing.assert_allclose(
            new.noise_variance, em.noise_variance, rtol=1e-5
        )


def test_damping_is_released_gradually_along_a_ridge():
    # Standardised wine, 10% missing, five factors, from the best of three
    # factor analyses of the pairwise correlation (profile likelihood from
    # the SMC start and two random ones): the maximum, 0.019 nats per sample
    # above the one the default starts find, is reached along a curved ridge
    # where the undamped Newton step is long and refused. Dropping the damping
    # to zero after one kept (damped) point made Newton alternate refused and
    # damped steps, ~3e-8 nats per pair, for its 500 E-steps. Released
    # fourfold per kept point, Newton gets there in 58 E-steps: converged, at
    # a point no EM step improves.
    from sklearn.datasets import load_wine

    X = load_wine().data
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xm = np.where(np.random.RandomState(0).rand(*X.shape) < 0.1, np.nan, X)
    data = missing.observed_data(Xm)
    S = missing._pairwise_psd(data)
    sd = np.sqrt(np.diag(S))
    R = S / np.outer(sd, sd)
    floor = np.full(R.shape[0], 1e-6)
    fits = [fit_profile(R, psi0, 5, floor=floor, tol=1e-8, max_iter=200)
            for _, psi0 in starting_points(R, 5, floor, n_init=3, init="smc",
                                           rng=np.random.RandomState(0))]
    best = max(fits, key=lambda f: f.loglike[-1])
    start = (best.W * sd[:, None], best.psi * sd**2, data.offset)
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, init=start)
    new = fit_missing(Xm, 5, newton=True, max_iter=500, **kw)
    assert new.converged and new.n_iter <= 150
    assert_monotone(new.loglike)
    # EM with SQUAREM creeps along the ridge until its steps are within
    # tolerance, 3.4e-5 nats per sample short
    em = fit_missing(Xm, 5, newton=False, max_iter=3000, **kw)
    assert new.loglike[-1] >= em.loglike[-1] + 1e-5
    W, psi, mu = new.params
    F = missing._MissingEMMap(data, False, 1e-6 * data.var, 5)
    ll0, nxt = F((W, psi, mu - data.offset))
    assert F(nxt)[0] - ll0 <= 1e-10


def _raw_breast_cancer_ppca():
    """Breast cancer on its raw scales with its target column, 10% missing.

    The first 427 rows (what ``python -m latentmodels compare`` trains on),
    the target complete; and the PPCA fit's settings.
    """
    from sklearn.datasets import load_breast_cancer

    bc = load_breast_cancer()
    X = np.column_stack([bc.data, bc.target])
    rng = np.random.RandomState(0)
    Xm = np.where(rng.rand(*X.shape) < 0.1, np.nan, X)[:427]
    Xm[:, -1] = X[:427, -1]
    kw = dict(isotropic=True, noise_floor_rtol=1e-12, tol=1e-10, max_iter=3000,
              random_state=0)
    return Xm, kw


def test_a_single_precision_hessian_cannot_end_the_run(monkeypatch):
    # Breast cancer on its raw scales (variances spanning 5e7) with its target
    # column, 10% missing, PPCA k = 15, the default route (Newton after EM's
    # 30 E-steps): Newton's Hessian summed in float32 (forced here; the default
    # for many rows) predicted a converged first step 3.2 nats per row below
    # the maximum. Its steps are checked with a float64 Hessian before the run
    # ends (and float64 is kept once a float32 step is refused): the same
    # maximum as the float64 route.
    import latentmodels._missing_hessian as hessian

    Xm, kw = _raw_breast_cancer_ppca()
    monkeypatch.setattr(hessian, "_SINGLE_WORK", np.inf)
    exact = fit_missing(Xm, 15, **kw)
    monkeypatch.setattr(hessian, "_SINGLE_WORK", 0.0)
    single = fit_missing(Xm, 15, **kw)
    assert exact.converged and single.converged
    assert single.loglike[-1] == pytest.approx(exact.loglike[-1], abs=1e-8)


def test_em_goes_on_while_it_climbs_fast(monkeypatch):
    # PPCA on raw breast cancer with its target column (10% missing, k = 15):
    # after 30 E-steps EM is still climbing by nats per row, far from the top,
    # where Newton's steps are mostly damped. EM goes on until it slows down
    # (measured: 1 Hessian and 68 E-steps, against 11 and 80 with Newton from
    # E-step 30) and reaches the maximum the Newton route reaches.
    Xm, kw = _raw_breast_cancer_ppca()
    calls = []
    true_hessian = newton_module.observed_hessian
    monkeypatch.setattr(
        newton_module, "observed_hessian",
        lambda *a, **k: calls.append(1) or true_hessian(*a, **k),
    )
    auto = fit_missing(Xm, 15, **kw)
    auto_hessians = len(calls)
    monkeypatch.setattr(missing, "_FAR_GAIN", np.inf)  # Newton after 30
    newton = fit_missing(Xm, 15, **kw)
    assert auto.converged and newton.converged
    assert auto_hessians < len(calls) - auto_hessians
    assert auto.loglike[-1] >= newton.loglike[-1] - 1e-8
