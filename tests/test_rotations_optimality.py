"""Rotations: stationarity, criteria by their definitions, gradients.
"""


import itertools

import numpy as np
import pytest
from _rotation_helpers import (
    ITERATIVE,
    _random_unit_columns,
    _simple_structure,
)
from scipy.linalg import expm

from latentmodels import rotations as rot
from latentmodels.rotations import (
    ORTHOGONAL_METHODS,
    rotate,
    rotation_criterion,
)

# ----------------------------------------------------------------------------
# Optimality


def _criterion_of_rotation(A, method, T):
    L = A @ T if method in ORTHOGONAL_METHODS else A @ np.linalg.inv(T).T
    return rotation_criterion(L, method, gamma=0.2 if method == "oblimin" else 0)


def _directional_derivatives(A, method, T, rng, n_dir=6, eps=1e-5):
    """Central differences of Q along curves that stay on the constraint set."""
    k = T.shape[0]
    out = []
    for _ in range(n_dir):
        if method in ORTHOGONAL_METHODS:
            S = rng.randn(k, k)
            S = (S - S.T) / 2
            curve = lambda t: T @ expm(t * S)  # noqa: E731
        else:
            E = rng.randn(k, k)
            curve = lambda t: (T + t * E) / np.linalg.norm(T + t * E, axis=0)  # noqa: E731
        fp = _criterion_of_rotation(A, method, curve(eps))
        fm = _criterion_of_rotation(A, method, curve(-eps))
        out.append((fp - fm) / (2 * eps))
    return np.abs(out)


@pytest.mark.parametrize("method", ITERATIVE)
def test_result_is_a_stationary_point_and_beats_random_rotations(method):
    A = _simple_structure(d=15, k=3, seed=6)
    rng = np.random.RandomState(7)
    gamma = 0.2 if method == "oblimin" else 0
    res = rotate(A, method, gamma=gamma, tol=1e-10)
    assert res.converged and res.gradient_norm < 1e-10
    at_random = []
    for _ in range(5):
        T = (
            rot._haar_orthogonal(3, rng)
            if method in ORTHOGONAL_METHODS
            else _random_unit_columns(3, rng)
        )
        at_random.append(_directional_derivatives(A, method, T, rng).max())
    slope = _directional_derivatives(A, method, res.rotation, rng).max()
    assert slope < 1e-7 * min(at_random)
    # Lower criterion than 200 random rotations.
    f = rotation_criterion(res.loadings, method, gamma=gamma)
    assert res.criterion == pytest.approx(f, rel=1e-12, abs=1e-14)
    for _ in range(200):
        T = (
            rot._haar_orthogonal(3, rng)
            if method in ORTHOGONAL_METHODS
            else _random_unit_columns(3, rng)
        )
        assert f < _criterion_of_rotation(A, method, T)


def _criterion_by_definition(L, method, gamma=0.0, delta=0.01):
    """The published criteria, written as explicit sums (slow, independent)."""
    d, k = L.shape
    sq = L**2
    if method in ("varimax", "quartimax", "equamax"):
        # Orthomax (Harman 1976): maximise Σ_j [Σ_i λ⁴ − (γ/d)(Σ_i λ²)²].
        g = {"varimax": 1.0, "quartimax": 0.0, "equamax": k / 2}[method]
        total = sum(
            sum(sq[i, j] ** 2 for i in range(d)) - g / d * sum(sq[:, j]) ** 2
            for j in range(k)
        )
        return -total / 4
    if method == "oblimin":
        # Jennrich & Sampson (1966): Σ_{j<l} [Σ_i λ²_ij λ²_il − (γ/d) Σ_i λ²_ij
        # Σ_i λ²_il]; GPArotation's scale is half the sum over j ≠ l.
        total = 0.0
        for j, m in itertools.permutations(range(k), 2):
            total += sum(sq[i, j] * sq[i, m] for i in range(d))
            total -= gamma / d * sum(sq[:, j]) * sum(sq[:, m])
        return total / 4
    # Geomin (Yates 1987): Σ_i (Π_j (λ²_ij + δ))^(1/k).
    return sum(np.prod(sq[i] + delta) ** (1 / k) for i in range(d))


@pytest.mark.parametrize("method", ITERATIVE)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0])
def test_criterion_matches_its_definition(method, gamma):
    L = np.random.RandomState(17).randn(9, 4)
    expected = _criterion_by_definition(L, method.split("_")[0], gamma=gamma)
    got = rotation_criterion(L, method, gamma=gamma)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ITERATIVE)
def test_criterion_gradient_matches_finite_differences(method):
    A = _simple_structure(d=7, k=3, seed=8)
    crit = rot._make_criterion(method, 3, gamma=0.4, delta=0.01)
    _, G = crit(A)
    eps = 1e-6
    G_fd = np.empty_like(A)
    for i, j in itertools.product(range(7), range(3)):
        E = np.zeros_like(A)
        E[i, j] = eps
        G_fd[i, j] = (crit(A + E)[0] - crit(A - E)[0]) / (2 * eps)
    np.testing.assert_allclose(G, G_fd, rtol=1e-7, atol=1e-9)
