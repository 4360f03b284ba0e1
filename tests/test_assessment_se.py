"""Standard errors of factor loadings: information, delta method, bootstrap."""

import warnings

import numpy as np
import pytest

from latentmodels import FactorAnalysis
from latentmodels._standard_errors import (
    canonical_constraint,
    constrained_covariance,
    discrepancy_gradient,
    expected_information,
    numerical_jacobian,
    pack,
    unpack,
)
from latentmodels.identifiability import matched_congruence


def _truth(d=12, k=3):
    W = np.zeros((d, k))
    for j in range(d):
        W[j, j % k] = 0.7
        W[j, (j + 1) % k] = 0.2
    return W, 1.0 - np.sum(W**2, axis=1)


def _sample(W, psi, n, rng):
    k = W.shape[1]
    return rng.standard_normal((n, k)) @ W.T + rng.standard_normal((n, len(psi))) * (
        np.sqrt(psi)
    )


def test_expected_equals_observed_information_at_exact_fit():
    """Where S = C the observed information (the Hessian of n F_ML / 2) equals
    the expected one; the constrained inverses must agree."""
    W, psi = _truth(8, 2)
    C = W @ W.T + np.diag(psi)
    n = 500
    fa = FactorAnalysis(2, tol=1e-14).fit_covariance(C, n)
    se = fa.standard_errors()
    Wf, psif = fa.components_.T, fa.noise_variance_
    d, k = Wf.shape

    def objective(theta):
        Wt, pt, _ = unpack(theta, d, k, False)
        Ct = Wt @ Wt.T + np.diag(pt)
        return 0.5 * (np.linalg.slogdet(Ct)[1] + np.trace(np.linalg.solve(Ct, C)))

    theta = pack(Wf, psif)
    H = numerical_jacobian(lambda t: numerical_jacobian(objective, t)[0], theta)
    D = numerical_jacobian(canonical_constraint(d, k), theta)
    cov = constrained_covariance(0.5 * (H + H.T), D, n)
    # (nested finite differences: ~1e-3 noise; the profile fit reproduces C to
    # 3e-15, where the numerical Hessian lands 2.04e-3 off in one entry)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(se.covariance)),
                               rtol=3e-3)


@pytest.mark.parametrize("rotation", ["varimax", "oblimin"])
def test_rotated_intervals_cover(rotation):
    """95% Wald intervals of rotated loadings cover the population rotated
    loadings (small version of benchmarks/bench_se_coverage.py)."""
    W, psi = _truth()
    rng = np.random.RandomState(0)
    C = W @ W.T + np.diag(psi)
    ref = FactorAnalysis(3, rotation=rotation).fit_covariance(C, 500).components_
    cover = []
    for _ in range(40):
        fa = FactorAnalysis(3, rotation=rotation).fit(_sample(W, psi, 500, rng))
        se = fa.standard_errors().components
        m = matched_congruence(ref, fa.components_)
        cover.append(np.abs(m.aligned_components - ref) < 1.96 * se[m.permutation])
    # 40 x 36 intervals, strongly dependent within a data set
    assert 0.90 <= np.mean(cover) <= 0.985


def test_standard_errors_scale_with_features():
    W, psi = _truth(9, 3)
    X = _sample(W, psi, 400, np.random.RandomState(1))
    c = np.linspace(0.5, 20.0, 9)
    a = FactorAnalysis(3, rotation="varimax").fit(X).standard_errors()
    b = FactorAnalysis(3, rotation="varimax").fit(X * c).standard_errors()
    np.testing.assert_allclose(b.components, a.components * c, rtol=1e-4)
    np.testing.assert_allclose(b.noise_variance, a.noise_variance * c**2, rtol=1e-4)


def test_oblique_has_factor_correlation_errors():
    W, psi = _truth()
    fa = FactorAnalysis(3, rotation="oblimin").fit(
        _sample(W, psi, 500, np.random.RandomState(2))
    )
    se = fa.standard_errors()
    assert se.factor_correlation.shape == (3, 3)
    assert np.all(np.diag(se.factor_correlation) == 0)
    off = se.factor_correlation[~np.eye(3, dtype=bool)]
    assert np.all((off > 0.005) & (off < 0.2))


def test_promax_refers_to_bootstrap():
    W, psi = _truth(6, 2)
    X = _sample(W, psi, 200, np.random.RandomState(3))
    with pytest.raises(ValueError, match="bootstrap_loadings"):
        FactorAnalysis(2, rotation="promax").fit(X).standard_errors()


def test_uniqueness_errors_approach_statsmodels_for_many_features():
    """statsmodels' uniq_stderr is Bai & Li's (2012) large-d approximation
    ψ √(2/n); the fixed-d information errors converge to it as d grows."""
    sm = pytest.importorskip("statsmodels.multivariate.factor")
    rng = np.random.RandomState(4)
    d, k, n = 120, 2, 1000
    # distinct columns: the unrotated orientation is well determined
    W = rng.uniform(0.3, 0.6, (d, k)) * rng.choice([-1, 1], (d, k)) * [1.3, 0.6]
    X = _sample(W, 1 - np.sum(W**2, 1), n, rng)
    fa = FactorAnalysis(k).fit(X)
    ours = fa.standard_errors().noise_variance / np.diag(fa.get_covariance())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = (fa.components_.T / X.std(0)[:, None], fa.noise_variance_ / X.var(0))
        res = sm.Factor(X, k, method="ml").fit(start=start)
    np.testing.assert_allclose(res.uniqueness, fa.noise_variance_ / np.var(X, 0),
                               atol=1e-3)
    np.testing.assert_allclose(ours, res.uniq_stderr(), rtol=0.08)
    # loadings: Bai & Li's sqrt(ψ/n) ignores the O(1/d) estimation error of the
    # other loadings and of the orientation, so ours are somewhat larger
    se = fa.standard_errors().components.T / X.std(0)[:, None]
    ratio = se / res.load_stderr
    assert np.all(ratio > 0.99) and 1.0 < np.median(ratio) < 1.3


def test_bootstrap_is_reproducible_and_brackets_estimate():
    W, psi = _truth(8, 2)
    X = _sample(W, psi, 300, np.random.RandomState(5))
    fa = FactorAnalysis(2, rotation="varimax").fit(X)
    a = fa.bootstrap_loadings(X, n_boot=30, random_state=0)
    b = fa.bootstrap_loadings(X, n_boot=30, random_state=0)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.replicates.shape == (30, 2, 8)
    assert np.all(a.lower <= a.upper)
    inside = (a.lower <= fa.components_) & (fa.components_ <= a.upper)
    assert inside.mean() > 0.9
    se = fa.standard_errors().components
    # bootstrap and information standard errors agree roughly
    assert 0.6 < np.median(a.standard_errors / se) < 1.6
    # Procrustes alignment of an unrotated fit: each replicate is the best
    # orthogonal rotation of its fit towards the reference
    fu = FactorAnalysis(2).fit(X)
    p = fu.bootstrap_loadings(X, n_boot=10, random_state=1, align="procrustes")
    est = FactorAnalysis(2).fit(X[np.random.RandomState(1).randint(0, 300, 300)])
    assert p.replicates.shape == (10, 2, 8)
    # the first replicate is that resample's fit, rotated: W Wᵀ is unchanged
    first = p.replicates[0]
    np.testing.assert_allclose(first.T @ first, est.components_.T @ est.components_,
                               atol=1e-8)
    for rep in p.replicates:
        assert np.linalg.norm(rep - fu.components_) < np.linalg.norm(fu.components_)
    with pytest.raises(ValueError, match="align"):
        fu.bootstrap_loadings(X, n_boot=2, align="hungarian")


@pytest.mark.parametrize("oblique", [False, True])
def test_information_closed_form_equals_trace_formula(oblique):
    """½ tr(C⁻¹ ∂aC C⁻¹ ∂bC) with ∂C by central differences of C(θ)."""
    rng = np.random.RandomState(6)
    d, k = 6, 3
    W = rng.standard_normal((d, k))
    psi = rng.uniform(0.5, 1.5, d)
    phi = None
    if oblique:
        T = rng.standard_normal((k, k))
        T /= np.linalg.norm(T, axis=0)
        phi = T.T @ T
    theta = pack(W, psi, phi)

    def cov(t):
        Wt, pt, ft = unpack(t, d, k, oblique)
        return ((Wt if ft is None else Wt @ ft) @ Wt.T + np.diag(pt)).ravel()

    J = numerical_jacobian(cov, theta).T.reshape(-1, d, d)
    Cinv = np.linalg.inv(cov(theta).reshape(d, d))
    ref = 0.5 * np.einsum("aij,jk,bkl,li->ab", J, Cinv, J, Cinv)
    np.testing.assert_allclose(expected_information(W, psi, phi), ref, atol=1e-7)


@pytest.mark.parametrize("oblique", [False, True])
def test_discrepancy_gradient_matches_finite_differences(oblique):
    rng = np.random.RandomState(7)
    d, k = 6, 2
    W = rng.standard_normal((d, k))
    psi = rng.uniform(0.5, 1.5, d)
    phi = np.array([[1.0, 0.3], [0.3, 1.0]]) if oblique else None
    A = rng.standard_normal((50, d))
    S = A.T @ A / 50
    theta = pack(W, psi, phi)

    def f(t):
        Wt, pt, ft = unpack(t, d, k, oblique)
        C = (Wt if ft is None else Wt @ ft) @ Wt.T + np.diag(pt)
        return [0.5 * (np.linalg.slogdet(C)[1] + np.trace(np.linalg.solve(C, S)))]

    np.testing.assert_allclose(
        discrepancy_gradient(theta, d, k, oblique, S),
        numerical_jacobian(f, theta)[0],
        rtol=1e-6,
        atol=1e-9,
    )


def test_observed_differs_from_expected_under_misfit():
    W, psi = _truth(8, 2)
    X = _sample(W, psi, 300, np.random.RandomState(8)) ** 3  # non-Gaussian, misfit
    fa = FactorAnalysis(2, rotation="varimax").fit(X)
    a, b = fa.standard_errors("expected"), fa.standard_errors("observed")
    assert np.all(np.isfinite(b.components))
    assert 1e-3 < np.max(np.abs(a.components / b.components - 1)) < 1.0
    with pytest.raises(ValueError, match="information"):
        fa.standard_errors("sandwich")


@pytest.mark.parametrize("rotation", ["varimax", "oblimin"])
def test_bordered_equals_delta_method_through_the_algorithm(rotation):
    """Independent route: the Jacobian of 'unrotated θ -> rotated loadings'
    by differences of the rotation algorithm itself (standardised by the
    model's SDs, warm-started and matched), times the unrotated covariance."""
    from latentmodels.rotations import rotate

    W, psi = _truth(9, 3)
    X = _sample(W, psi, 500, np.random.RandomState(9)) * np.arange(1, 10)
    fa0 = FactorAnalysis(3, tol=1e-14).fit(X)
    W0, psi0 = fa0.components_.T, fa0.noise_variance_
    cov0 = fa0.standard_errors().covariance
    fa = FactorAnalysis(3, rotation=rotation, tol=1e-14).fit(X)
    ref = fa.components_.T

    def rotated(theta):
        Wt, pt, _ = unpack(theta, 9, 3, False)
        sd = np.sqrt(np.sum(Wt * Wt, axis=1) + pt)
        res = rotate(Wt / sd[:, None], rotation, tol=1e-13, max_iter=10000)
        L = res.loadings * sd[:, None]
        m = matched_congruence(ref.T, L.T)
        return m.aligned_components.T.ravel()

    theta0 = pack(W0, psi0)
    np.testing.assert_allclose(rotated(theta0), ref.ravel(), atol=1e-7)
    J = numerical_jacobian(rotated, theta0)
    se_delta = np.sqrt(np.diag(J @ cov0 @ J.T)).reshape(9, 3)
    np.testing.assert_allclose(fa.standard_errors().components.T, se_delta,
                               rtol=1e-5)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_heywood_case_warns():
    from sklearn.datasets import load_wine

    X = load_wine().data
    with pytest.warns(UserWarning, match="Heywood"):
        fa = FactorAnalysis(4).fit(X)
    with pytest.warns(UserWarning, match="bootstrap_loadings"):
        fa.standard_errors()
