"""Tests for latentmodels.datasets: the generators have the stated distribution.

Statistical tests use a fixed seed and a stated level: a z-statistic computed
from the exact sampling variance of the estimate is compared with the two-sided
normal quantile for that level (Bonferroni-corrected over the entries tested).
"""

import numpy as np
import pytest
from scipy import stats

from latentmodels.datasets import make_factor_data, make_sparse_coding_data

LEVEL = 1e-4  # family-wise two-sided level of every statistical test here


def _z_crit(n_tests: int) -> float:
    return stats.norm.isf(LEVEL / (2 * n_tests))


def _cov_sampling_sd(W, psi, kurtosis, n):
    """Exact sd of the (known-mean) sample covariance entries.

    For x = W h + ε with independent zero-mean h_l (unit variance, excess
    kurtosis κ) and Gaussian ε, Var(x_i x_j) = C_ii C_jj + C_ij² +
    κ Σ_l W_il² W_jl² (the fourth cumulant of a linear combination).
    """
    C = W @ W.T + np.diag(psi)
    d = np.diag(C)
    var = np.outer(d, d) + C**2 + kurtosis * (W**2) @ (W**2).T
    return np.sqrt(var / n)


@pytest.mark.parametrize("prior, kurtosis", [("gaussian", 0.0), ("laplace", 3.0)])
@pytest.mark.parametrize("noise", ["heteroscedastic", "isotropic"])
def test_factor_data_covariance(prior, kurtosis, noise):
    n, d, k = 20000, 8, 3
    X, truth = make_factor_data(
        n, d, k, prior=prior, noise=noise, noise_level=0.3, mean=2.0, random_state=1
    )
    W, psi = truth.components.T, truth.noise_variance
    np.testing.assert_allclose(truth.covariance, W @ W.T + np.diag(psi))
    Xc = X - truth.mean
    S = Xc.T @ Xc / n
    z = (S - truth.covariance) / _cov_sampling_sd(W, psi, kurtosis, n)
    iu = np.triu_indices(d)
    assert np.max(np.abs(z[iu])) < _z_crit(iu[0].size)
    # Same seed, other prior: same W and Ψ (the prior only changes H).
    _, other = make_factor_data(
        n,
        d,
        k,
        prior="laplace" if prior == "gaussian" else "gaussian",
        noise=noise,
        noise_level=0.3,
        mean=2.0,
        random_state=1,
    )
    np.testing.assert_array_equal(other.components, truth.components)
    np.testing.assert_array_equal(other.noise_variance, truth.noise_variance)


def test_factor_data_structure():
    n, d, k = 50, 7, 3
    X, truth = make_factor_data(n, d, k, noise_level=0.2, random_state=0)
    assert X.shape == (n, d) and truth.H.shape == (n, k)
    assert truth.components.shape == (k, d)
    # Signal normalisation: mean signal variance per feature is exactly 1.
    assert np.linalg.norm(truth.components) ** 2 / d == pytest.approx(1.0, rel=1e-12)
    assert np.all((truth.noise_variance >= 0.1) & (truth.noise_variance <= 0.3))
    _, iso = make_factor_data(
        n, d, k, noise="isotropic", noise_level=0.2, random_state=0
    )
    np.testing.assert_array_equal(iso.noise_variance, np.full(d, 0.2))
    # Noiseless: X is exactly μ + H W (the factors are what generated the rows).
    mu = np.arange(d, dtype=float)
    X0, t0 = make_factor_data(n, d, k, noise_level=0.0, mean=mu, random_state=3)
    np.testing.assert_allclose(X0, mu + t0.H @ t0.components, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(t0.mean, mu)


@pytest.mark.parametrize(
    "prior, excess, var_n",
    [
        # n·Var of the sample excess kurtosis (known zero mean, delta method):
        # Gaussian 24; unit Laplace with moments μ4=6, μ6=90, μ8=2520:
        # (μ8 − μ4²) + 144 (μ4 − 1) − 24 (μ6 − μ4) = 2484 + 720 − 2016 = 1188.
        ("gaussian", 0.0, 24.0),
        ("laplace", 3.0, 1188.0),
    ],
)
def test_factor_moments(prior, excess, var_n):
    n, k = 50000, 4
    _, truth = make_factor_data(n, 4, k, prior=prior, random_state=7)
    h = truth.H.ravel()
    m = h.size
    m2, m4 = np.mean(h**2), np.mean(h**4)
    # Unit variance: Var(h²) = μ4 − 1.
    z_var = (m2 - 1.0) / np.sqrt((3.0 + excess - 1.0) / m)
    z_kurt = (m4 / m2**2 - 3.0 - excess) / np.sqrt(var_n / m)
    crit = _z_crit(2)
    assert abs(z_var) < crit and abs(z_kurt) < crit
    # Power: the other prior's kurtosis is rejected by the same test.
    other = 3.0 - excess
    assert abs((m4 / m2**2 - 3.0 - other) / np.sqrt(var_n / m)) > crit


def test_factor_data_reproducible_and_no_global_state():
    a = make_factor_data(30, 5, 2, prior="laplace", random_state=11)
    np.random.seed(0)
    b = make_factor_data(30, 5, 2, prior="laplace", random_state=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1].H, b[1].H)
    rng = np.random.RandomState(5)
    c = make_factor_data(30, 5, 2, random_state=rng)
    d = make_factor_data(30, 5, 2, random_state=rng)
    assert not np.array_equal(c[0], d[0])
    assert not np.array_equal(a[0], make_factor_data(30, 5, 2, random_state=12)[0])


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"n_components": 6}, ValueError, "at most n_features = 5"),
        ({"n_components": 0}, ValueError, "at least 1"),
        ({"n_components": 2.0}, TypeError, "positive integer"),
        ({"n_samples": 0}, ValueError, "n_samples must be at least 1"),
        ({"n_features": "5"}, TypeError, "n_features must be an integer"),
        ({"prior": "cauchy"}, ValueError, "prior must be one of"),
        ({"noise": "diag"}, ValueError, "noise must be one of"),
        ({"noise_level": -0.1}, ValueError, "noise_level must be finite and >= 0"),
        ({"noise_level": np.nan}, ValueError, "noise_level must be finite"),
        ({"mean": [0.0, 1.0]}, ValueError, r"shape \(n_features,\) = \(5,\)"),
        ({"mean": [0, 0, np.inf, 0, 0]}, ValueError, "mean contains inf"),
    ],
)
def test_factor_data_bad_arguments(kwargs, err, match):
    args = {"n_samples": 10, "n_features": 5, "n_components": 2}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        make_factor_data(
            args.pop("n_samples"),
            args.pop("n_features"),
            args.pop("n_components"),
            **args,
        )


def test_sparse_coding_data_structure():
    n, d, k, s = 400, 10, 15, 3  # overcomplete dictionary
    X, truth = make_sparse_coding_data(
        n, d, k, n_nonzero=s, noise_level=0.0, random_state=0
    )
    assert X.shape == (n, d)
    assert truth.dictionary.shape == (k, d) and truth.codes.shape == (n, k)
    np.testing.assert_allclose(
        np.linalg.norm(truth.dictionary, axis=1), 1.0, rtol=1e-12
    )
    np.testing.assert_array_equal(truth.support.sum(axis=1), s)
    assert truth.noise_variance == 0.0
    np.testing.assert_allclose(X, truth.codes @ truth.dictionary, atol=1e-12)
    # Every atom is used: positions are uniform, each atom is active in a
    # fraction s/k of rows (binomial, level LEVEL over k atoms).
    counts = truth.support.sum(axis=0)
    p = s / k
    z = (counts - n * p) / np.sqrt(n * p * (1 - p))
    assert np.max(np.abs(z)) < _z_crit(k)


def test_sparse_coding_noise_variance():
    n, d, k, s = 20000, 6, 8, 2
    X, truth = make_sparse_coding_data(
        n, d, k, n_nonzero=s, noise_level=0.5, random_state=2
    )
    assert truth.noise_variance == pytest.approx(0.5 * s / d)
    resid = (X - truth.codes @ truth.dictionary).ravel()
    m = resid.size
    # Sample variance of Gaussian noise with known zero mean: sd = σ² √(2/m).
    z = (np.mean(resid**2) - truth.noise_variance) / (
        truth.noise_variance * np.sqrt(2.0 / m)
    )
    assert abs(z) < _z_crit(1)


def test_sparse_coding_reproducible():
    a = make_sparse_coding_data(20, 4, 6, n_nonzero=2, random_state=3)
    b = make_sparse_coding_data(20, 4, 6, n_nonzero=2, random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1].codes, b[1].codes)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"n_nonzero": 7}, ValueError, "n_nonzero=7 is too large"),
        ({"n_nonzero": 0}, ValueError, "n_nonzero must be at least 1"),
        ({"n_components": 0}, ValueError, "n_components must be at least 1"),
        ({"noise_level": -1.0}, ValueError, "noise_level"),
        ({"n_samples": 1.5}, TypeError, "n_samples must be an integer"),
    ],
)
def test_sparse_coding_bad_arguments(kwargs, err, match):
    args = {"n_samples": 10, "n_features": 4, "n_components": 6, "n_nonzero": 2}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        make_sparse_coding_data(
            args.pop("n_samples"),
            args.pop("n_features"),
            args.pop("n_components"),
            **args,
        )


@pytest.mark.parametrize("noise", ["heteroscedastic", "isotropic"])
def test_factor_data_noise_variance(noise):
    """The residual X − μ − H W is N(0, Ψ): per-feature variance z-tests."""
    n, d, k = 20000, 6, 2
    X, truth = make_factor_data(
        n, d, k, noise=noise, noise_level=0.4, mean=-1.0, random_state=4
    )
    resid = X - truth.mean - truth.H @ truth.components
    psi = truth.noise_variance
    # Known zero mean, Gaussian: Var(mean r²) = 2 ψ² / n.
    z = (np.mean(resid**2, axis=0) - psi) / (psi * np.sqrt(2.0 / n))
    assert np.max(np.abs(z)) < _z_crit(d)
    # Noise independent of the factors: correlations are N(0, 1/n).
    corr = (truth.H.T @ resid) / n / np.sqrt(psi)
    assert np.max(np.abs(corr)) * np.sqrt(n) < _z_crit(d * k)
