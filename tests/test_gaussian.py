"""The linear-Gaussian core against dense formulas and scipy."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from latentmodels._gaussian import LinearGaussian, floor_noise
from latentmodels._stats import SufficientStats


def _model(d=9, k=3, seed=0, noise_scale=1.0):
    rng = np.random.default_rng(seed)
    W_t = rng.standard_normal((k, d))
    psi = rng.uniform(0.1, 1.0, d) * noise_scale
    mu = rng.standard_normal(d)
    return LinearGaussian(W_t, psi, mu), W_t, psi, mu, rng


def test_log_likelihood_rows_equals_scipy():
    g, W_t, psi, mu, rng = _model()
    C = W_t.T @ W_t + np.diag(psi)
    X = rng.standard_normal((40, 9)) * 2
    ref = multivariate_normal(mu, C).logpdf(X)
    np.testing.assert_allclose(g.log_likelihood_rows(X), ref, rtol=1e-12)


def test_mean_log_likelihood_from_statistics_equals_rows():
    g, _, _, _, rng = _model()
    X = rng.standard_normal((100, 9)) + 0.5
    stats = SufficientStats.from_array(X)
    ll = g.mean_log_likelihood(stats.mean, stats.covariance)
    np.testing.assert_allclose(ll, g.log_likelihood_rows(X).mean(), rtol=1e-12)


def test_covariance_times_precision_is_identity():
    g, W_t, psi, *_ = _model()
    np.testing.assert_allclose(g.covariance(), W_t.T @ W_t + np.diag(psi))
    np.testing.assert_allclose(g.covariance() @ g.precision(), np.eye(9), atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 12])
def test_posterior_matches_dense_formula(k):
    g, W_t, psi, mu, rng = _model(d=9, k=k)
    X = rng.standard_normal((20, 9))
    M = np.eye(k) + (W_t / psi) @ W_t.T
    mean = np.linalg.solve(M, (W_t / psi) @ (X - mu).T).T
    np.testing.assert_allclose(g.posterior_mean(X), mean, atol=1e-12)
    np.testing.assert_allclose(g.posterior_covariance(), np.linalg.inv(M), atol=1e-12)


def _exact_solve_and_det(W_t, psi, r):
    """Solve ``C y = r`` and ``det C``, ``C = W Wᵀ + Ψ``, in rational arithmetic."""
    from fractions import Fraction

    n = len(r)
    Wf = [[Fraction(float(v)) for v in row] for row in W_t]
    A = [
        [
            sum(row[i] * row[j] for row in Wf)
            + (Fraction(float(psi[i])) if i == j else 0)
            for j in range(n)
        ]
        + [Fraction(float(r[i]))]
        for i in range(n)
    ]
    det = Fraction(1)
    for c in range(n):
        p = max(range(c, n), key=lambda i: abs(A[i][c]))
        if p != c:
            A[c], A[p] = A[p], A[c]
            det = -det
        det *= A[c][c]
        for i in range(c + 1, n):
            f = A[i][c] / A[c][c]
            A[i] = [a - f * b for a, b in zip(A[i], A[c])]
    y = [Fraction(0)] * n
    for i in reversed(range(n)):
        y[i] = (A[i][n] - sum(A[i][j] * y[j] for j in range(i + 1, n))) / A[i][i]
    return y, det


def test_log_likelihood_accurate_when_noise_is_tiny():
    # ψ ~ 1e-9 beside loadings of order 1: the sum-of-squares form keeps
    # relative accuracy where C⁻¹ = Ψ⁻¹ − … would cancel catastrophically.
    # Reference: exact rational arithmetic on the same (float) C and x.
    g, W_t, psi, mu, rng = _model(noise_scale=1e-9)
    X = mu + rng.standard_normal((2, 3)) @ W_t + rng.standard_normal((2, 9)) * 3e-5
    for x, ll in zip(X, g.log_likelihood_rows(X)):
        r = x - mu
        y, det = _exact_solve_and_det(W_t, psi, r)
        maha = float(sum(a * b for a, b in zip(y, [type(y[0])(float(v)) for v in r])))
        ref = -0.5 * (9 * np.log(2 * np.pi) + np.log(float(det)) + maha)
        np.testing.assert_allclose(ll, ref, rtol=1e-9)


def test_sampling_has_model_covariance():
    g, W_t, psi, mu, _ = _model(d=5, k=2)
    X, H = g.sample(200_000, np.random.RandomState(0))
    assert H.shape == (200_000, 2)
    # standard error of a covariance entry ~ sqrt(C_ii C_jj / n) ≈ 0.01 here
    np.testing.assert_allclose(np.cov(X.T), g.covariance(), atol=0.05)
    np.testing.assert_allclose(X.mean(0), mu, atol=0.02)


def test_rejects_non_positive_noise():
    with pytest.raises(ValueError, match="noise_variance must be finite and positive"):
        LinearGaussian(np.ones((1, 3)), np.array([1.0, 0.0, 1.0]), np.zeros(3))
    with pytest.raises(ValueError, match="same number of features"):
        LinearGaussian(np.ones((1, 3)), np.ones(2), np.zeros(3))


def test_floor_noise_does_not_modify_input():
    psi = np.array([1e-20, 0.5])
    out = floor_noise(psi, np.array([1.0, 1.0]), 1e-6)
    np.testing.assert_array_equal(out, [1e-6, 0.5])
    assert psi[0] == 1e-20


def test_em_moments_match_dense_e_step():
    g, W_t, psi, _, rng = _model(d=8, k=3)
    X = rng.standard_normal((60, 8)) @ rng.standard_normal((8, 8))
    S = np.cov(X.T, bias=True)
    model = LinearGaussian(W_t, psi, np.zeros(8))
    ll, SB, E, Qt = model.em_moments(S)
    W = W_t.T
    C = W @ W.T + np.diag(psi)
    beta = W.T @ np.linalg.inv(C)  # dense reference
    Ehh = np.eye(3) - beta @ W + beta @ S @ beta.T
    np.testing.assert_allclose(SB @ Qt, S @ beta.T, atol=1e-12)
    np.testing.assert_allclose(Qt.T @ E @ Qt, Ehh, atol=1e-12)
    np.testing.assert_allclose(
        ll, model.mean_log_likelihood(np.zeros(8), S), rtol=1e-13
    )


@pytest.mark.parametrize("expanded", [True, False])
def test_em_update_is_the_dense_m_step(expanded):
    """W_new = S βᵀ E[hhᵀ]⁻¹; PX-EM: W_new E[hhᵀ]^{1/2} (symmetric root)."""
    g, W_t, psi, _, rng = _model(d=8, k=3)
    X = rng.standard_normal((60, 8)) @ rng.standard_normal((8, 8))
    S = np.cov(X.T, bias=True)
    model = LinearGaussian(W_t, psi, np.zeros(8))
    ll, W_new, explained = model.em_update(S, expanded=expanded)
    W = W_t.T
    beta = W.T @ np.linalg.inv(W @ W.T + np.diag(psi))
    Ehh = np.eye(3) - beta @ W + beta @ S @ beta.T
    W_ref = S @ beta.T @ np.linalg.inv(Ehh)
    if expanded:
        lam, V = np.linalg.eigh(Ehh)
        W_ref = W_ref @ (V * np.sqrt(lam)) @ V.T
    np.testing.assert_allclose(W_new, W_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        explained, np.diag(S @ beta.T @ np.linalg.inv(Ehh) @ beta @ S), rtol=1e-10
    )
    assert ll == model.em_moments(S)[0]


def test_one_sign_convention_and_canonical_orientation():
    from latentmodels._base import canonical_orientation, sign_flip

    rng = np.random.RandomState(3)
    W = rng.standard_normal((7, 3))
    psi = rng.uniform(0.2, 2.0, 7)
    R = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    for noise in (None, psi):
        A = canonical_orientation(W, noise)
        # the same model (W Wᵀ), from any rotation of W
        np.testing.assert_allclose(A @ A.T, W @ W.T, atol=1e-12)
        np.testing.assert_allclose(canonical_orientation(W @ R, noise), A, atol=1e-10)
        # Wᵀ Ψ⁻¹ W diagonal and decreasing (Ψ = I for PPCA)
        Wt = A / np.sqrt(np.ones(7) if noise is None else noise)[:, None]
        G = Wt.T @ Wt
        np.testing.assert_allclose(G, np.diag(np.diag(G)), atol=1e-12)
        assert np.all(np.diff(np.diag(G)) < 0)
        # signs by sign_flip on the whitened columns
        np.testing.assert_array_equal(sign_flip(Wt.T), Wt.T)
    # with a reference, the reference's largest entry decides
    comp = np.array([[1.0, -5.0], [2.0, 3.0]])
    ref = np.array([[9.0, 1.0], [0.0, -4.0]])
    np.testing.assert_array_equal(sign_flip(comp, ref), [[1.0, -5.0], [-2.0, -3.0]])
    np.testing.assert_array_equal(sign_flip(comp), [[-1.0, 5.0], [2.0, 3.0]])


@pytest.mark.parametrize("tiny", [1e-2, 1e-9, 1e-12])
def test_observed_scoring_stays_accurate_when_a_noise_variance_is_tiny(
    tiny, monkeypatch
):
    """Many patterns (batched route) agree with each row's own sub-model.

    The reference scores each row with the ``LinearGaussian`` of its observed
    entries (the SVD route, accurate for tiny noise, see
    test_log_likelihood_accurate_when_noise_is_tiny). With a noise variance
    1e-12 of the loadings' scale the normal-equation route of the batch would
    be wrong in the first digit; the core then scores pattern by pattern.
    """
    import latentmodels._gaussian_observed as observed

    monkeypatch.setattr(observed, "_MAX_PATTERNS_ONE_BY_ONE", 0)  # batch
    rng = np.random.RandomState(0)
    d, k = 8, 2
    W = rng.standard_normal((d, k))
    mu = rng.standard_normal(d)
    X = rng.standard_normal((150, k)) @ W.T + mu + 0.5 * rng.standard_normal((150, d))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    psi = np.full(d, 0.3)
    psi[1] = tiny
    model = LinearGaussian(W.T, psi, mu)
    ll = observed.score_rows_observed(model, X)
    H = observed.posterior_mean_observed(model, X)
    for i, x in enumerate(X[:40]):
        o = ~np.isnan(x)
        sub = observed.observed_submodel(model, o)
        ref = sub.log_likelihood_rows(x[None, o])[0]
        assert ll[i] == pytest.approx(ref, rel=1e-10)
        np.testing.assert_allclose(
            H[i], sub.posterior_mean(x[None, o])[0], rtol=1e-8, atol=1e-10
        )


def test_em_moments_trace_from_a_root_is_accurate_at_a_heywood_floor():
    """With ``S = L Lᵀ`` the E-step's log-likelihood is the rows' mean.

    The reference is :meth:`log_likelihood_rows` averaged over centred rows
    ``X`` (``S = XᵀX/n``, ``L = Xᵀ/√n``): its quadratic form is a sum of
    non-negative parts. At a noise variance 1e-10 beside loadings of order 1
    the difference-of-traces form is off by far more than the root form.
    """
    from latentmodels._gaussian import covariance_root

    rng = np.random.RandomState(1)
    d, k, n = 7, 2, 400
    W = rng.standard_normal((d, k))
    psi = np.full(d, 0.4)
    psi[0] = 1e-10
    X = rng.standard_normal((n, k)) @ W.T + rng.standard_normal((n, d)) * np.sqrt(
        psi
    )
    X -= X.mean(axis=0)
    S = X.T @ X / n
    model = LinearGaussian(W.T, psi, np.zeros(d))
    ref = model.log_likelihood_rows(X).mean()
    err_root = abs(model.em_moments(S, X.T / np.sqrt(n))[0] - ref)
    err_eig = abs(model.em_moments(S, covariance_root(S))[0] - ref)
    err_plain = abs(model.em_moments(S)[0] - ref)
    assert err_root < 1e-12 * abs(ref) and err_eig < 1e-9 * abs(ref)
    assert err_plain > 100 * err_root  # what the root is for
