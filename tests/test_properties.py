"""Invariants of the models, checked on random problems with hypothesis.

* the likelihood is unchanged when the factors are rotated (THEORY.md §1);
* ``transform`` is affine in x for the Gaussian models and the linear
  autoencoder;
* ``sparse_encode`` returns lasso solutions: the KKT conditions hold;
* scaling a feature rescales factor analysis exactly (loadings by c, noise
  variance by c², log-likelihood by −log c); probabilistic PCA has this
  property only for a common scale of all features, not for one feature.

Each property is checked against an independent reference (a dense Gaussian
log-density from scipy, the KKT conditions written out here), with few
examples (``max_examples=25``) so that the suite stays fast.
"""

import copy
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
)
from latentmodels.datasets import make_factor_data
from latentmodels.sparse import sparse_encode

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Heywood case:UserWarning",
    "ignore::sklearn.exceptions.ConvergenceWarning",
)

seeds = st.integers(0, 2**31 - 1)


def _haar(k, seed):
    """A Haar-distributed orthogonal matrix: QR of a Gaussian, signs fixed."""
    Q, R = np.linalg.qr(np.random.RandomState(seed).standard_normal((k, k)))
    return Q * np.sign(np.diag(R))


def _factor_data(seed, d, k, n=120, noise_level=0.5):
    X, _ = make_factor_data(
        n, d, k, noise_level=noise_level, mean=1.5, random_state=seed
    )
    return X


def _dense_log_density(X, est):
    """log N(x; μ, W Wᵀ + Ψ) from a dense covariance, by scipy."""
    W = est.components_.T
    C = W @ W.T + np.diag(est.noise_variance_)
    return multivariate_normal(mean=est.mean_, cov=C).logpdf(X)


# ----------------------------------------------------------------------------
# Rotation of the factors


@SETTINGS
@given(
    seed=seeds,
    rot_seed=seeds,
    d=st.integers(3, 8),
    k=st.integers(1, 3),
    model=st.sampled_from(["ProbabilisticPCA", "FactorAnalysis"]),
)
def test_likelihood_unchanged_under_rotation(seed, rot_seed, d, k, model):
    """W → W R (R orthogonal) keeps C = W Wᵀ + Ψ, so every log-density, and
    turns the posterior mean into Rᵀ E[h | x] (rows: H R)."""
    assume(k < d)
    X = _factor_data(seed, d, k)
    est = (
        ProbabilisticPCA(n_components=k)
        if model == "ProbabilisticPCA"
        else FactorAnalysis(n_components=k)
    ).fit(X)
    R = _haar(k, rot_seed)
    rotated = copy.deepcopy(est)
    rotated.components_ = R.T @ est.components_  # loadings W R
    ll = est.score_samples(X)
    np.testing.assert_allclose(rotated.score_samples(X), ll, rtol=1e-11, atol=0)
    np.testing.assert_allclose(ll, _dense_log_density(X, est), rtol=1e-9)
    H = est.transform(X)
    np.testing.assert_allclose(
        rotated.transform(X), H @ R, atol=1e-10 * np.abs(H).max()
    )


# ----------------------------------------------------------------------------
# transform is affine in x


@SETTINGS
@given(
    seed=seeds,
    a=st.floats(-10, 10),
    b=st.floats(-10, 10),
    model=st.sampled_from(
        ["PCA", "PCA whiten", "ProbabilisticPCA", "FactorAnalysis", "Autoencoder"]
    ),
)
def test_transform_is_affine(seed, a, b, model):
    """T(x) = A (x − μ): T(a x + b y) − T(0) = a (T(x) − T(0)) + b (T(y) − T(0))."""
    X = _factor_data(seed, 6, 2, n=60)
    est = {
        "PCA": lambda: PCA(n_components=2),
        "PCA whiten": lambda: PCA(n_components=2, whiten=True),
        "ProbabilisticPCA": lambda: ProbabilisticPCA(n_components=2),
        "FactorAnalysis": lambda: FactorAnalysis(n_components=2),
        "Autoencoder": lambda: LinearAutoencoder(n_components=2, random_state=0),
    }[model]().fit(X)
    x, y, zero = X[:5], X[5:10], np.zeros((1, 6))
    T0 = est.transform(zero)
    lhs = est.transform(a * x + b * y) - T0
    rhs = a * (est.transform(x) - T0) + b * (est.transform(y) - T0)
    scale = (abs(a) + abs(b) + 1) * (np.abs(est.transform(X)).max() + np.abs(T0).max())
    np.testing.assert_allclose(lhs, rhs, atol=1e-12 * scale)


# ----------------------------------------------------------------------------
# Lasso optimality of sparse_encode


def _kkt_violation(X, D, H, alpha, positive):
    """Largest violation of the lasso KKT conditions, written out directly.

    With c = (x − h D) Dᵀ: c_j = α sign(h_j) where h_j ≠ 0 and |c_j| ≤ α
    where h_j = 0; for h ≥ 0, c_j = α where h_j > 0 and c_j ≤ α where h_j = 0.
    """
    C = (X - H @ D) @ D.T
    if positive:
        assert np.all(H >= 0)
        on = np.abs(C - alpha)
        off = np.maximum(C - alpha, 0.0)
    else:
        on = np.abs(C - alpha * np.sign(H))
        off = np.maximum(np.abs(C) - alpha, 0.0)
    return np.where(H != 0, on, off).max()


@SETTINGS
@given(
    seed=seeds,
    n=st.integers(1, 12),
    d=st.integers(2, 10),
    k=st.integers(1, 16),
    frac=st.floats(0.01, 1.5),
    positive=st.booleans(),
    solver=st.sampled_from(["cd", "feature_sign", "fista"]),
)
def test_sparse_encode_satisfies_kkt(seed, n, d, k, frac, positive, solver):
    """KKT at the returned codes, for over- and undercomplete dictionaries;
    h = 0 exactly for the rows with α ≥ α_max(x) = ‖D x‖_∞."""
    rng = np.random.RandomState(seed)
    D = rng.standard_normal((k, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n, d))
    amax = np.abs(X @ D.T).max()
    if positive:
        amax = max((X @ D.T).max(), 1e-3)
    alpha = frac * amax
    X_before = X.copy()
    H = sparse_encode(
        X, D, alpha, solver=solver, positive=positive, tol=1e-12, max_iter=20000
    )
    np.testing.assert_array_equal(X, X_before)
    assert _kkt_violation(X, D, H, alpha, positive) <= 1e-5 * alpha
    row_max = (X @ D.T).max(1) if positive else np.abs(X @ D.T).max(1)
    assert np.all(H[alpha >= row_max] == 0)


# ----------------------------------------------------------------------------
# Scaling a feature


@settings(max_examples=10, deadline=None, derandomize=True)  # 4 EM fits each
@given(
    seed=seeds,
    log_c=st.lists(st.floats(-3, 3), min_size=6, max_size=6),
)
def test_factor_analysis_is_equivariant_to_feature_scales(seed, log_c):
    """x_j → c_j x_j: loadings row j times c_j, ψ_j times c_j², the mean
    log-likelihood shifted by −Σ_j log c_j (the Jacobian), codes unchanged.

    Plain EM runs on the correlation matrix, which the rescaling changes only
    by rounding, so its whole path is equivariant: checked to 1e-8. With
    SQUAREM (the default) the path has discrete decisions (step lengths,
    accepted or rejected extrapolations) that rounding can flip, and the fit
    then stops at another point within its convergence tolerance: measured
    up to 6e-4 relative in ψ at tol=1e-10 (the fits are 1e-8 nats below the
    maximum, where ψ is still 3e-3 from its limit); the log-likelihood agrees
    to 1e-7 nats. Those are the stated tolerances for the default. Data with
    a Heywood case are left out.
    """
    c = 10.0 ** np.asarray(log_c)
    X = _factor_data(seed, 6, 2, n=200, noise_level=1.0)
    s = 1.0 / np.sqrt(np.var(X, axis=0) * c**2)
    norm = np.outer(s, s)  # compare covariances on the correlation scale
    for acceleration, rtol, ll_tol in ((None, 1e-8, 1e-10), ("squarem", 1e-2, 1e-7)):
        ref = FactorAnalysis(n_components=2, acceleration=acceleration).fit(X)
        # a Heywood case adds a discrete decision to plain EM too (the jump
        # of a noise variance to its floor); see test_reliability
        assume(ref.heywood_features_.size == 0)
        est = FactorAnalysis(n_components=2, acceleration=acceleration).fit(X * c)
        np.testing.assert_allclose(
            est.get_covariance() * norm,
            ref.get_covariance() * np.outer(c, c) * norm,
            atol=rtol,
        )
        np.testing.assert_allclose(
            est.noise_variance_, c**2 * ref.noise_variance_, rtol=rtol
        )
        WWt = est.components_.T @ est.components_
        WWt_ref = ref.components_.T @ ref.components_ * np.outer(c, c)
        np.testing.assert_allclose(WWt * norm, WWt_ref * norm, atol=rtol)
        shift = est.score(X * c) - (ref.score(X) - np.log(c).sum())
        assert abs(shift) < ll_tol
        H = ref.transform(X)
        np.testing.assert_allclose(est.transform(X * c), H, atol=rtol * np.abs(H).max())


@SETTINGS
@given(seed=seeds, log_c=st.floats(-6, 6))
def test_ppca_is_equivariant_to_a_common_scale(seed, log_c):
    """PPCA under x → c x (the same c for every feature): W → c W, σ² → c² σ²,
    ℓ → ℓ − d log c. (This is where the property holds for PPCA.)"""
    c = 10.0**log_c
    X = _factor_data(seed, 6, 2)
    ref = ProbabilisticPCA(n_components=2).fit(X)
    est = ProbabilisticPCA(n_components=2).fit(c * X)
    np.testing.assert_allclose(est.components_, c * ref.components_, atol=1e-9 * c)
    np.testing.assert_allclose(
        est.noise_variance_, c**2 * ref.noise_variance_, rtol=1e-9
    )
    assert est.score(c * X) == pytest.approx(ref.score(X) - 6 * np.log(c), abs=1e-9)


def test_ppca_is_not_equivariant_to_one_feature_scale():
    """PPCA's isotropic noise σ² I is not preserved when one feature is
    rescaled, so PPCA — unlike factor analysis — does NOT rescale its
    loadings and noise by that feature's factor: the model covariance of
    the rescaled data differs from the rescaled model covariance, and the
    likelihood shift is not −log c. Factor analysis on the same data does
    satisfy both (to 1e-7)."""
    X = _factor_data(0, 6, 2, n=500)
    c = np.ones(6)
    c[0] = 10.0
    for model, equivariant in ((ProbabilisticPCA, False), (FactorAnalysis, True)):
        ref = model(n_components=2).fit(X)
        est = model(n_components=2).fit(X * c)
        C_expected = ref.get_covariance() * np.outer(c, c)
        rel = np.abs(est.get_covariance() - C_expected).max() / np.abs(C_expected).max()
        shift = est.score(X * c) - (ref.score(X) - np.log(10.0))
        if equivariant:
            assert rel < 1e-7 and abs(shift) < 1e-8
        else:
            assert rel > 1e-2 and abs(shift) > 1e-2


# ----------------------------------------------------------------------------
# The noise floor and warnings inside hypothesis runs stay quiet and finite


@SETTINGS
@given(seed=seeds, n=st.integers(2, 8), d=st.integers(2, 8))
def test_gaussian_models_finite_on_tiny_samples(seed, n, d):
    """Fewer rows than features, any sizes: log-likelihoods and posteriors
    stay finite (the noise floor keeps C positive definite)."""
    X = np.random.RandomState(seed).standard_normal((n, d))
    k = min(n, d) - 1 or 1
    for est in (
        PCA(n_components=k),
        ProbabilisticPCA(n_components=k),
        FactorAnalysis(n_components=k),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            est.fit(X)
        assert np.all(np.isfinite(est.score_samples(X)))
        assert np.all(np.isfinite(est.transform(X)))
        assert np.all(est.noise_variance_ > 0)
