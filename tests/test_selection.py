"""latentmodels.selection: parallel analysis, MAP, KMO, sphericity, SMC."""

import numpy as np
import pytest

from latentmodels.selection import (
    bartlett_sphericity,
    kmo,
    parallel_analysis,
    smc,
    velicer_map,
)


def _simple_structure(k, n=500, d=24, loading=0.6, seed=0):
    rng = np.random.RandomState(seed)
    W = np.zeros((d, k))
    W[np.arange(d), np.arange(d) % k] = loading
    noise = np.sqrt(1.0 - loading**2)
    return rng.standard_normal((n, k)) @ W.T + noise * rng.standard_normal((n, d))


def test_smc_is_regression_r2():
    X = _simple_structure(2, n=200, d=6)
    ref = []
    for j in range(6):
        A = np.column_stack([np.ones(200), np.delete(X, j, axis=1)])
        coef, *_ = np.linalg.lstsq(A, X[:, j], rcond=None)
        resid = X[:, j] - A @ coef
        ref.append(1 - resid.var() / X[:, j].var())
    np.testing.assert_allclose(smc(X), ref, rtol=1e-10)


def test_kmo_from_residual_partial_correlations():
    """Partial correlations computed by regressing out the other features."""
    X = _simple_structure(2, n=300, d=6, seed=1)
    d = X.shape[1]
    R = np.corrcoef(X.T)
    Q = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            rest = np.column_stack([np.ones(300), np.delete(X, [i, j], axis=1)])
            ri = X[:, i] - rest @ np.linalg.lstsq(rest, X[:, i], rcond=None)[0]
            rj = X[:, j] - rest @ np.linalg.lstsq(rest, X[:, j], rcond=None)[0]
            Q[i, j] = Q[j, i] = np.corrcoef(ri, rj)[0, 1]
    off = ~np.eye(d, dtype=bool)
    r2, q2 = np.where(off, R**2, 0), Q**2
    res = kmo(X)
    np.testing.assert_allclose(res.overall, r2.sum() / (r2.sum() + q2.sum()))
    np.testing.assert_allclose(res.per_feature, r2.sum(0) / (r2.sum(0) + q2.sum(0)))
    assert 0.5 < res.overall < 1


def test_bartlett_sphericity_level_under_null():
    rng = np.random.RandomState(2)
    p = [bartlett_sphericity(rng.standard_normal((100, 5))).pvalue for _ in range(400)]
    assert 0.025 <= np.mean(np.array(p) < 0.05) <= 0.08
    res = bartlett_sphericity(_simple_structure(2, n=200, d=6))
    assert res.dof == 15 and res.pvalue < 1e-10


def test_velicer_map_finds_structure():
    X = _simple_structure(3, n=500, d=15, seed=3)
    res = velicer_map(X)
    assert res.n_components == 3
    R = np.corrcoef(X.T)
    off = ~np.eye(15, dtype=bool)
    np.testing.assert_allclose(res.average_partial[0], np.mean(R[off] ** 2))
    assert res.average_partial.shape == (14,)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_parallel_analysis_finds_k(k):
    res = parallel_analysis(_simple_structure(k, seed=k), random_state=0)
    assert res.n_factors == k and res.n_components == k


def test_parallel_analysis_bit_identical_under_seed():
    X = _simple_structure(3, n=200, d=10, seed=4)
    a = parallel_analysis(X, n_iter=5, random_state=7)
    b = parallel_analysis(X, n_iter=5, random_state=7)
    np.testing.assert_array_equal(a.fa_simulated, b.fa_simulated)
    np.testing.assert_array_equal(a.pc_simulated, b.pc_simulated)
    c = parallel_analysis(X, n_iter=5, random_state=8)
    assert not np.array_equal(a.pc_simulated, c.pc_simulated)


def test_parallel_analysis_null_and_random_eigenvalues():
    """Pure noise keeps nothing; the simulated first eigenvalue is near the
    Marchenko-Pastur edge (1 + sqrt(d/n))²."""
    rng = np.random.RandomState(5)
    X = rng.standard_normal((400, 16))
    res = parallel_analysis(X, n_iter=10, random_state=0)
    assert res.n_components <= 1 and res.n_factors <= 1
    edge = (1 + np.sqrt(16 / 400)) ** 2
    assert abs(res.pc_simulated[0] - edge) < 0.15


def test_parameter_validation():
    X = _simple_structure(2, n=50, d=5)
    with pytest.raises(ValueError, match="quantile"):
        parallel_analysis(X, quantile=1.5)
    with pytest.raises(ValueError, match="n_iter"):
        parallel_analysis(X, n_iter=0)
    X[:, 2] = 1.0
    with pytest.raises(ValueError, match="constant"):
        kmo(X)
