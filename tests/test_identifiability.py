"""Tests for latentmodels.identifiability.

Haar tests are z-tests with a fixed seed at a stated two-sided level; recovery
measures are checked on constructed cases and against independent
computations (SVD of orthonormal bases, brute-force matching, the explicit
Amari formula); rotated Gaussian models against scipy's multivariate normal.
"""

import itertools
import runpy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.linalg import hadamard
from sklearn.decomposition import PCA as SkPCA
from sklearn.decomposition import FactorAnalysis as SkFA
from sklearn.exceptions import NotFittedError

from latentmodels import PCA, FactorAnalysis, ProbabilisticPCA
from latentmodels.datasets import make_factor_data
from latentmodels.identifiability import (
    amari_distance,
    congruence_matrix,
    likelihood_invariance,
    matched_congruence,
    max_principal_angle,
    principal_angles,
    procrustes_alignment,
    random_rotation,
    recovery_report,
    rotate_model,
)

LEVEL = 1e-4  # two-sided level of each Haar z-test (seeded, so deterministic)
Z_CRIT = stats.norm.isf(LEVEL / 2)  # 3.89


# --------------------------------------------------------------------------
# Haar rotations
# --------------------------------------------------------------------------
def _haar_z_statistics(draws: np.ndarray) -> dict:
    """z-statistics of the Haar moments, with exact null variances.

    For R Haar on O(k): each column is uniform on the sphere, so
    E R_ij = 0, Var R_ij = 1/k, E R_ij² = 1/k, E R_ij⁴ = 3/(k(k+2));
    tr R has mean 0 and variance 1 (k >= 2); det R = ±1 with probability ½.
    For tr², we studentise (sample variance of tr²).
    """
    N, k, _ = draws.shape
    mean_entry = draws.mean(axis=0)
    z_mean = mean_entry / np.sqrt(1.0 / k / N)
    var_sq = 3.0 / (k * (k + 2)) - 1.0 / k**2
    z_sq = ((draws**2).mean(axis=0) - 1.0 / k) / np.sqrt(var_sq / N)
    tr = np.trace(draws, axis1=1, axis2=2)
    z_tr = tr.mean() / np.sqrt(1.0 / N)
    z_tr2 = ((tr**2).mean() - 1.0) / ((tr**2).std(ddof=1) / np.sqrt(N))
    plus = np.mean(np.linalg.det(draws) > 0)
    z_det = (plus - 0.5) / np.sqrt(0.25 / N)
    return {
        "entry_mean": np.abs(z_mean).max(),
        "entry_square": np.abs(z_sq).max(),
        "trace_mean": abs(z_tr),
        "trace_var": abs(z_tr2),
        "det": abs(z_det),
    }


@pytest.mark.parametrize("k", [2, 3, 5])
def test_random_rotation_is_haar(k):
    rng = np.random.RandomState(2024 + k)
    draws = np.stack([random_rotation(k, rng) for _ in range(4000)])
    np.testing.assert_allclose(
        np.einsum("nji,njk->nik", draws, draws),
        np.broadcast_to(np.eye(k), draws.shape),
        atol=1e-12,
    )
    z = _haar_z_statistics(draws)
    # Entrywise tests: Bonferroni over the k² entries, each at LEVEL / k².
    crit_entries = stats.norm.isf(LEVEL / (2 * k * k))
    assert z["entry_mean"] < crit_entries, z
    assert z["entry_square"] < crit_entries, z
    assert z["trace_mean"] < Z_CRIT, z
    assert z["trace_var"] < Z_CRIT, z
    assert z["det"] < Z_CRIT, z


def test_haar_test_rejects_unsigned_qr():
    """Power: the same test rejects the raw Householder Q (no sign fix)."""
    rng = np.random.RandomState(0)
    draws = np.stack(
        [np.linalg.qr(rng.standard_normal((3, 3)))[0] for _ in range(4000)]
    )
    z = _haar_z_statistics(draws)
    assert z["det"] > 10 * Z_CRIT  # det is the same for every unsigned draw
    assert max(z["entry_mean"], z["trace_mean"]) > Z_CRIT


def test_random_rotation_reproducible_and_errors():
    np.testing.assert_array_equal(random_rotation(4, 7), random_rotation(4, 7))
    assert not np.allclose(random_rotation(4, 7), random_rotation(4, 8))
    assert random_rotation(1, 0).shape == (1, 1)
    assert abs(random_rotation(1, 0)[0, 0]) == 1.0
    for bad in (0, -2):
        with pytest.raises(ValueError, match="k must be at least 1"):
            random_rotation(bad)
    for bad in (2.5, True, "3"):
        with pytest.raises(TypeError, match="k must be an integer"):
            random_rotation(bad)


# --------------------------------------------------------------------------
# Rotated models: likelihood unchanged, posterior means turn
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def factor_data():
    return make_factor_data(300, 8, 3, noise_level=0.3, mean=1.0, random_state=0)


def _mvn_loglik(components, psi, mean, X):
    C = components.T @ components + np.diag(psi)
    return stats.multivariate_normal(mean, C).logpdf(X)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: SkFA(n_components=3, random_state=0),
        lambda: ProbabilisticPCA(n_components=3),
        lambda: FactorAnalysis(n_components=3),
        lambda: FactorAnalysis(n_components=3, rotation="varimax"),
        lambda: FactorAnalysis(n_components=3, rotation="oblimin"),
    ],
    ids=["sklearn-FA", "PPCA", "FA", "FA-varimax", "FA-oblimin"],
)
def test_rotate_model_invariance(factor_data, make_model):
    X, _ = factor_data
    model = make_model().fit(X)
    R = random_rotation(3, 1)
    R[:, 0] *= -1  # include a reflection
    rotated = rotate_model(model, R)
    assert rotated is not model
    np.testing.assert_allclose(rotated.components_, R.T @ model.components_)
    # the original is untouched
    assert not np.allclose(model.components_, rotated.components_)
    ll0, ll1 = model.score_samples(X), rotated.score_samples(X)
    np.testing.assert_allclose(ll1, ll0, rtol=0, atol=1e-10 * np.abs(ll0).max())
    assert abs(rotated.score(X) - model.score(X)) <= 1e-10 * abs(model.score(X))
    np.testing.assert_allclose(
        rotated.get_covariance(), model.get_covariance(), rtol=1e-12, atol=1e-13
    )
    if hasattr(model, "rotation_matrix_"):  # latentmodels FA records the basis
        np.testing.assert_allclose(rotated.rotation_matrix_, model.rotation_matrix_ @ R)
    if getattr(model, "factor_correlation_", None) is not None:
        phi = model.factor_correlation_
        np.testing.assert_allclose(rotated.factor_correlation_, R.T @ phi @ R)
    # Posterior means turn: E'[h|x] = Rᵀ E[h|x], i.e. rows H @ R.
    np.testing.assert_allclose(
        rotated.transform(X), model.transform(X) @ R, rtol=1e-10, atol=1e-12
    )


def test_rotate_model_matches_scipy_density(factor_data):
    X, _ = factor_data
    model = FactorAnalysis(n_components=3).fit(X)
    rotated = rotate_model(model, random_rotation(3, 5))
    ref = _mvn_loglik(rotated.components_, rotated.noise_variance_, rotated.mean_, X)
    np.testing.assert_allclose(rotated.score_samples(X), ref, rtol=1e-10)


def test_rotate_model_errors(factor_data):
    X, _ = factor_data
    model = SkFA(n_components=3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="R is not orthogonal"):
        rotate_model(model, 2 * np.eye(3))
    with pytest.raises(ValueError, match=r"shape \(n_components, n_components\)"):
        rotate_model(model, np.eye(2))
    with pytest.raises(ValueError, match="R contains NaN"):
        rotate_model(model, np.full((3, 3), np.nan))
    with pytest.raises(NotFittedError, match="not fitted"):
        rotate_model(SkFA(n_components=3), np.eye(3))
    with pytest.raises(TypeError, match="lacks noise_variance_"):
        rotate_model(
            type("Fake", (), {"components_": np.eye(3), "mean_": 0})(), np.eye(3)
        )
    # Estimators whose likelihood reads rotation-sensitive state are refused.
    for pca in (SkPCA(n_components=3).fit(X), PCA(n_components=3).fit(X)):
        with pytest.raises(TypeError, match="rotation-sensitive"):
            rotate_model(pca, random_rotation(3, 0))


def test_likelihood_invariance(factor_data):
    X, _ = factor_data
    model = FactorAnalysis(n_components=3).fit(X)
    res = likelihood_invariance(model, X, n_rotations=8, random_state=3)
    assert res.log_likelihoods.shape == (9,) and res.rotations.shape == (8, 3, 3)
    assert res.log_likelihoods[0] == model.score(X)
    assert res.log_likelihood_spread <= 1e-10 * abs(model.score(X))
    # Each entry is the score of the rotated model (independent check).
    for R, ll in zip(res.rotations, res.log_likelihoods[1:]):
        comp = R.T @ model.components_
        ref = _mvn_loglik(comp, model.noise_variance_, model.mean_, X).mean()
        assert ll == pytest.approx(ref, rel=1e-10)
    # The Laplace criterion: √2 mean Σ|h| + (k/2) log 2 of the posterior means.
    H = rotate_model(model, res.rotations[2]).transform(X)
    ref = np.sqrt(2) * np.abs(H).sum(axis=1).mean() + 1.5 * np.log(2)
    assert res.laplace_criteria[3] == pytest.approx(ref, rel=1e-12)
    assert res.laplace_criterion_spread > 1e-3  # clearly not rotation-invariant
    res2 = likelihood_invariance(model, X, n_rotations=8, random_state=3)
    np.testing.assert_array_equal(res.rotations, res2.rotations)
    with pytest.raises(ValueError, match="n_rotations must be at least 1"):
        likelihood_invariance(model, X, n_rotations=0)


# --------------------------------------------------------------------------
# Recovery measures
# --------------------------------------------------------------------------
@pytest.fixture
def W():
    return np.random.RandomState(1).standard_normal((4, 12))


def _signed_permutation(k, seed):
    rng = np.random.RandomState(seed)
    P = np.eye(k)[rng.permutation(k)]
    return P * rng.choice([-1.0, 1.0], size=k)[:, None]


def test_principal_angles(W):
    k = W.shape[0]
    # All angles small: scipy computes them from sines, exact to rounding.
    np.testing.assert_allclose(principal_angles(W, W), 0.0, atol=1e-12)
    # Invariant to any invertible mixing (rotation, scaling, sign, order).
    A = random_rotation(k, 0) @ np.diag([1.0, 2.0, -3.0, 0.5]) @ W
    assert max_principal_angle(W, A) < 1e-12
    # Independent computation: SVD of Q1ᵀQ2 for orthonormal bases; the angles
    # are arccos of the singular values (well conditioned away from 0).
    B = np.random.RandomState(2).standard_normal((3, 12))
    Q1, Q2 = np.linalg.qr(W.T)[0], np.linalg.qr(B.T)[0]
    cos = np.linalg.svd(Q1.T @ Q2, compute_uv=False)
    np.testing.assert_allclose(
        np.sort(principal_angles(W, B)),
        np.sort(np.arccos(np.clip(cos, -1, 1))),
        atol=1e-10,
    )
    # Different k: a superset of the true subspace has all angles 0.
    sup = np.vstack([W @ np.eye(12)[:, :12], B[:1]])
    assert principal_angles(W, sup).shape == (4,)
    assert max_principal_angle(W, sup) < 1e-12
    # Orthogonal subspaces: π/2.
    E = np.eye(12)
    assert max_principal_angle(E[:3], E[3:6]) == pytest.approx(np.pi / 2)


def test_procrustes(W):
    k = W.shape[0]
    res = procrustes_alignment(W, W)
    np.testing.assert_allclose(res.rotation, np.eye(k), atol=1e-12)
    assert res.relative_residual < 1e-12
    R = random_rotation(k, 4)
    res = procrustes_alignment(W, R.T @ W)  # estimated loadings W R
    np.testing.assert_allclose(res.rotation, R.T, atol=1e-10)
    np.testing.assert_allclose(res.aligned_components, W, atol=1e-10)
    assert res.relative_residual < 1e-12
    # Independent closed form: Q = U Vᵀ from the SVD of W_estᵀ W_true.
    E = W + 0.3 * np.random.RandomState(5).standard_normal(W.shape)
    U, _, Vt = np.linalg.svd(E @ W.T)
    Q = U @ Vt
    res = procrustes_alignment(W, E)
    np.testing.assert_allclose(res.rotation, Q, atol=1e-10)
    ref = np.linalg.norm(E.T @ Q - W.T) / np.linalg.norm(W)
    assert res.relative_residual == pytest.approx(ref, rel=1e-12)
    assert res.residual == pytest.approx(ref * np.linalg.norm(W), rel=1e-12)
    # Sensitive to scale (unlike angles and congruence).
    assert procrustes_alignment(W, 2 * W).relative_residual == pytest.approx(1.0)


def test_matched_congruence(W):
    k = W.shape[0]
    res = matched_congruence(W, W)
    np.testing.assert_allclose(res.congruences, 1.0, rtol=1e-12)
    np.testing.assert_array_equal(res.permutation, np.arange(k))
    assert res.mean_congruence == pytest.approx(1.0, rel=1e-12)
    # Sign flips, order and scale: still 1, and the match is recovered.
    P = _signed_permutation(k, 3)
    E = np.diag([2.0, 0.5, 1.0, 3.0]) @ P @ W
    res = matched_congruence(W, E)
    assert res.mean_congruence == pytest.approx(1.0, rel=1e-12)
    perm = np.abs(P).argmax(axis=0)  # E[perm[i]] = ±W[i]
    np.testing.assert_array_equal(res.permutation, perm)
    np.testing.assert_array_equal(res.signs, P[perm, np.arange(k)])
    np.testing.assert_allclose(
        res.aligned_components
        / np.linalg.norm(res.aligned_components, axis=1)[:, None],
        W / np.linalg.norm(W, axis=1)[:, None],
        atol=1e-12,
    )
    # A rotation changes it (only the subspace is kept).
    rot = random_rotation(k, 6) @ W
    assert matched_congruence(W, rot).mean_congruence < 0.95
    assert max_principal_angle(W, rot) < 1e-12
    # Brute force over all permutations agrees with the Hungarian match.
    phi = congruence_matrix(W, rot)
    best = max(
        np.abs(phi[np.arange(k), list(p)]).sum()
        for p in itertools.permutations(range(k))
    )
    assert matched_congruence(W, rot).mean_congruence == pytest.approx(best / k)
    # Explicit congruence definition.
    i, j = 1, 2
    ref = W[i] @ rot[j] / (np.linalg.norm(W[i]) * np.linalg.norm(rot[j]))
    assert phi[i, j] == pytest.approx(ref, rel=1e-12)


def test_matched_congruence_different_k(W):
    # More estimated components: the true ones are found among them.
    E = np.vstack([W[::-1], np.random.RandomState(0).standard_normal((2, 12))])
    res = matched_congruence(W, E)
    assert res.mean_congruence == pytest.approx(1.0)
    np.testing.assert_array_equal(res.permutation, [3, 2, 1, 0])
    # Fewer: unmatched true components count 0.
    res = matched_congruence(W, W[:2])
    np.testing.assert_allclose(res.congruences, [1, 1, 0, 0], atol=1e-12)
    np.testing.assert_array_equal(res.permutation, [0, 1, -1, -1])
    # A zero estimated component (unused atom) has congruence 0.
    Z = W.copy()
    Z[1] = 0
    np.testing.assert_allclose(
        matched_congruence(W, Z).congruences, [1, 0, 1, 1], atol=1e-12
    )
    assert np.all(np.isfinite(congruence_matrix(W, Z)))


def _amari_reference(P):
    """Amari index written out with loops (normalised to [0, 1])."""
    k = P.shape[0]
    A = np.abs(P)
    total = 0.0
    for i in range(k):
        total += sum(A[i, j] / max(A[i]) for j in range(k)) - 1
    for j in range(k):
        total += sum(A[i, j] / max(A[:, j]) for i in range(k)) - 1
    return total / (2 * k * (k - 1))


def test_amari_distance(W):
    k = W.shape[0]
    assert amari_distance(W, W) == pytest.approx(0.0, abs=1e-12)
    # Permutation, sign and scale: 0.
    E = np.diag([2.0, -0.5, 1.0, 3.0]) @ _signed_permutation(k, 9) @ W
    assert amari_distance(W, E) == pytest.approx(0.0, abs=1e-12)
    # Rotation: positive, and equal to the explicit formula on P = pinv(Wtᵀ) Weᵀ.
    rot = random_rotation(k, 2) @ W
    P = np.linalg.pinv(W.T) @ rot.T
    assert amari_distance(W, rot) == pytest.approx(_amari_reference(P), rel=1e-12)
    assert amari_distance(W, rot) > 0.1
    # Worst case: |p_ij| all equal (a Hadamard mixing) gives exactly 1.
    assert amari_distance(W, hadamard(4) @ W) == pytest.approx(1.0, rel=1e-12)
    assert amari_distance(W[:1], 5 * W[:1]) == 0.0  # k = 1
    with pytest.raises(ValueError, match="as many estimated components"):
        amari_distance(W, W[:3])


def test_recovery_report(W):
    rot = random_rotation(4, 2) @ W
    rep = recovery_report(W, rot)
    np.testing.assert_allclose(rep.principal_angles, principal_angles(W, rot))
    assert rep.max_principal_angle < 1e-12
    assert rep.procrustes_relative_residual < 1e-12
    assert rep.mean_congruence == matched_congruence(W, rot).mean_congruence
    assert rep.amari_distance == amari_distance(W, rot)
    d = rep.as_dict()
    assert isinstance(d["principal_angles"], list) and len(d["principal_angles"]) == 4
    rep = recovery_report(W, W[:3])
    assert rep.procrustes_relative_residual is None and rep.amari_distance is None
    assert rep.principal_angles.shape == (3,)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones(5), np.ones((1, 5))), "2-D array"),
        ((np.ones((2, 5)), np.ones((2, 4))), "5 features but estimated"),
        ((np.zeros((2, 5)), np.ones((2, 5))), "all zero"),
        ((np.ones((2, 5)), np.full((2, 5), np.nan)), "estimated_components contains"),
    ],
)
def test_measure_errors(args, match):
    for f in (principal_angles, matched_congruence, recovery_report):
        with pytest.raises(ValueError, match=match):
            f(*args)


def test_inputs_not_modified(W):
    E = random_rotation(4, 0) @ W
    W0, E0 = W.copy(), E.copy()
    recovery_report(W, E)
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(E, E0)


# --------------------------------------------------------------------------
# The demo and the examples (quick sizes)
# --------------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AXES_MODELS = ("SparseCoding", "FastICA")  # non-Gaussian: recover the axes
SUBSPACE_MODELS = ("FactorAnalysis", "ProbabilisticPCA", "LinearAutoencoder")


def _run_example(name, monkeypatch):
    monkeypatch.setenv("LATENTMODELS_EXAMPLE_QUICK", "1")
    return runpy.run_path(str(EXAMPLES / name), run_name="__example__")


def test_example_rotation_identifiability(monkeypatch):
    s = _run_example("plot_rotation_identifiability.py", monkeypatch)["summary"]
    tol = 1e-10 * abs(s["mean_log_likelihood"])
    assert abs(s["log_likelihood_change"]) <= tol
    assert s["log_likelihood_spread"] <= tol
    assert s["path_log_likelihood_spread"] <= tol
    assert s["loading_change"] > 0.1  # the loadings did move
    assert s["laplace_criterion_spread"] > 1e-2
    assert s["path_laplace_spread"] > 1e-2


def test_example_gaussian_vs_laplace(monkeypatch):
    results = _run_example("plot_gaussian_vs_laplace.py", monkeypatch)["results"]
    for prior, reports in results.items():
        for name, rep in reports.items():
            # every model finds the subspace
            assert np.degrees(rep.max_principal_angle) < 10, (prior, name)
            if prior == "gaussian" or name in SUBSPACE_MODELS:
                # ... but not the axes, unless the prior is non-Gaussian and
                # the model uses it
                assert rep.mean_congruence < 0.95, (prior, name)
    for name in AXES_MODELS:
        rep = results["laplace"][name]
        assert rep.mean_congruence > 0.97 and rep.amari_distance < 0.1, name


# --------------------------------------------------------------------------
# Optimality and invariance on random matrices (hypothesis)
# --------------------------------------------------------------------------
_shapes = st.tuples(st.integers(1, 5), st.integers(0, 3), st.integers(0, 2**31 - 1))


@settings(max_examples=40, deadline=None)
@given(_shapes)
def test_measures_properties(shape):
    k, extra, seed = shape
    d = k + extra + 1
    rng = np.random.RandomState(seed)
    T = rng.standard_normal((k, d))
    E = rng.standard_normal((k, d))
    # Procrustes is optimal over orthogonal matrices: no worse than the
    # identity or a random rotation.
    res = procrustes_alignment(T, E)
    for Q in (np.eye(k), random_rotation(k, rng)):
        alt = np.linalg.norm(E.T @ Q - T.T) / np.linalg.norm(T)
        assert res.relative_residual <= alt + 1e-12
    # Matched congruence is optimal over matchings: at least the identity's.
    cong = matched_congruence(T, E)
    ident = np.abs(np.diag(congruence_matrix(T, E))).mean()
    assert ident <= cong.mean_congruence + 1e-12
    assert 0.0 <= cong.mean_congruence <= 1.0 + 1e-12
    assert sorted(cong.permutation) == list(range(k))
    # Amari in [0, 1]; 0 for a scaled signed permutation of the truth.
    assert 0.0 <= amari_distance(T, E) <= 1.0 + 1e-12
    D = np.diag(rng.uniform(0.5, 2.0, k)) @ _signed_permutation(k, seed % 1000)
    assert amari_distance(T, D @ T) < 1e-9
    # Principal angles: invariant to a well-conditioned invertible mixing.
    A = random_rotation(k, rng) @ np.diag(rng.uniform(0.5, 2.0, k))
    # (atol √(2ε)-sized: when small and large angles mix, scipy computes the
    # small ones by arccos, accurate to about 1.5e-8 rad.)
    np.testing.assert_allclose(
        principal_angles(T, A @ E), principal_angles(T, E), atol=1e-7
    )
