"""Rotations: invariants (model kept, orientation, Kaiser normalisation).
"""


import numpy as np
import pytest
from _rotation_helpers import (
    _maxdiff,
    _simple_structure,
)

from latentmodels import rotations as rot
from latentmodels.rotations import (
    METHODS,
    OBLIQUE_METHODS,
    ORTHOGONAL_METHODS,
    rotate,
)

# ----------------------------------------------------------------------------
# Invariants


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("method", ORTHOGONAL_METHODS)
def test_orthogonal_rotation_keeps_model(method, normalize):
    A = _simple_structure()
    res = rotate(A, method, normalize=normalize)
    T = res.rotation
    assert res.orthogonal and res.converged
    np.testing.assert_allclose(T.T @ T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(res.loadings, A @ T, atol=1e-12)
    np.testing.assert_allclose(res.loadings @ res.loadings.T, A @ A.T, atol=1e-10)
    np.testing.assert_array_equal(res.phi, np.eye(3))


@pytest.mark.parametrize(
    "method, normalize",
    [(m, n) for m in OBLIQUE_METHODS for n in (False, True)]
    + [("promax", "varimax"), ("oblimin", False)],
)
def test_oblique_rotation_keeps_model(method, normalize):
    A = _simple_structure(seed=1)
    res = rotate(A, method, normalize=normalize, gamma=0.3 if normalize else 0)
    L, T, phi = res.loadings, res.rotation, res.phi
    assert not res.orthogonal
    np.testing.assert_allclose(L @ phi @ L.T, A @ A.T, atol=1e-10)
    np.testing.assert_allclose(L, A @ np.linalg.inv(T).T, atol=1e-10)
    np.testing.assert_allclose(phi, T.T @ T, atol=1e-14)
    np.testing.assert_allclose(np.diag(phi), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(phi).min() > 1e-3
    assert np.abs(phi - np.eye(3)).max() > 1e-3  # genuinely oblique
    np.testing.assert_allclose(res.structure, L @ phi)
    # Factor scores z of the unrotated model become z @ T: x = A z = L (Tᵀ z).
    z = np.random.RandomState(0).randn(5, 3)
    np.testing.assert_allclose(A @ z.T, L @ (z @ T).T, atol=1e-12)
    # So posterior means agree: Φ Λ̃ᵀ C⁻¹ x (rotated model) = Tᵀ Λᵀ C⁻¹ x.
    np.testing.assert_allclose(phi @ L.T, T.T @ A.T, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_solution_does_not_depend_on_the_starting_orientation(method):
    # Rotating A R for an orthogonal R reaches the same loadings (up to column
    # sign and order): rotations see only the model, not the orientation.
    A = _simple_structure(seed=2)
    R = rot._haar_orthogonal(3, np.random.RandomState(3))
    L1 = rotate(A, method).loadings
    L2 = rotate(A @ R, method).loadings
    assert _maxdiff(L2, L1) < 1e-7


@pytest.mark.parametrize("method", METHODS)
def test_kaiser_normalisation_is_rotating_unit_rows(method):
    A = _simple_structure(seed=4) * np.linspace(0.5, 3.0, 12)[:, None]
    h = np.linalg.norm(A, axis=1, keepdims=True)
    res = rotate(A, method, normalize=True)
    ref = rotate(A / h, method, normalize=False)
    np.testing.assert_allclose(res.loadings, h * ref.loadings, atol=1e-12)
    np.testing.assert_allclose(res.rotation, ref.rotation, atol=1e-12)
    # ...and it matters: without it the heavy rows dominate.
    assert _maxdiff(rotate(A, method).loadings, res.loadings) > 1e-3


def test_zero_row_is_kept_under_normalisation():
    A = _simple_structure(seed=5)
    A[3] = 0.0
    for method in ("varimax", "oblimin", "promax"):
        res = rotate(A, method, normalize=True)
        assert np.all(np.isfinite(res.loadings))
        np.testing.assert_array_equal(res.loadings[3], 0.0)
