"""Rotations: starts, sorting, warnings, input handling.
"""

import warnings

import numpy as np
import pytest
from _rotation_helpers import (
    BOX26_EQUAMAX,
    _maxdiff,
    _simple_structure,
)
from sklearn.exceptions import ConvergenceWarning

from latentmodels import rotations as rot
from latentmodels.rotations import (
    METHODS,
    rotate,
    rotation_criterion,
)

# ----------------------------------------------------------------------------
# Starts, sorting, warnings


def test_n_starts_is_reproducible_and_never_worse():
    A = BOX26_EQUAMAX @ rot._haar_orthogonal(3, np.random.RandomState(5))
    one = rotate(A, "geomin_q")
    r1 = rotate(A, "geomin_q", n_starts=6, random_state=42)
    r2 = rotate(A, "geomin_q", n_starts=6, random_state=42)
    np.testing.assert_array_equal(r1.loadings, r2.loadings)
    np.testing.assert_array_equal(r1.rotation, r2.rotation)
    assert r1.criterion <= one.criterion
    r3 = rotate(A, "geomin_q", n_starts=6, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(r1.loadings, r3.loadings)


def test_haar_starts_are_uniform():
    # Sign-corrected QR of a Gaussian is Haar: E[tr Q] = 0 and E[tr Q²] = 1.
    rng = np.random.RandomState(0)
    Qs = [rot._haar_orthogonal(4, rng) for _ in range(4000)]
    tr = np.array([np.trace(Q) for Q in Qs])
    tr2 = np.array([np.trace(Q @ Q) for Q in Qs])
    assert abs(tr.mean()) < 4 * tr.std() / np.sqrt(4000)
    assert abs(tr2.mean() - 1) < 4 * tr2.std() / np.sqrt(4000)


@pytest.mark.parametrize("method", ["varimax", "oblimin", "promax"])
def test_sort_flips_and_orders_columns(method):
    A = -_simple_structure(seed=12)
    res = rotate(A, method, sort=True)
    L, T = res.loadings, res.rotation
    assert np.all(L.sum(axis=0) > 0)
    ss = (L**2).sum(axis=0)
    assert np.all(np.diff(ss) <= 0)
    np.testing.assert_allclose(L, A @ np.linalg.inv(T).T, atol=1e-12)
    np.testing.assert_allclose(res.phi, T.T @ T, atol=1e-14)
    assert _maxdiff(L, rotate(A, method).loadings) < 1e-12


def test_convergence_warning():
    A = _simple_structure(seed=13)
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iter"):
        res = rotate(A, "oblimin", max_iter=2)
    assert not res.converged and res.n_iter == 2 and res.gradient_norm > 1e-8


def test_one_factor_is_returned_unchanged():
    a = np.array([[0.5], [-0.7], [0.2]])
    for method in METHODS:
        res = rotate(a, method)
        np.testing.assert_array_equal(res.loadings, a)
        np.testing.assert_array_equal(res.rotation, np.eye(1))
        np.testing.assert_array_equal(res.phi, np.eye(1))
        assert res.converged and res.n_iter == 0
        assert not np.shares_memory(res.loadings, a)


@pytest.mark.parametrize("method", METHODS)
def test_input_is_not_modified(method):
    A = _simple_structure(seed=14)
    A_copy = A.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = rotate(A, method, normalize=True, n_starts=2, random_state=0, sort=True)
    np.testing.assert_array_equal(A, A_copy)
    assert not np.shares_memory(res.loadings, A)


def test_accepts_lists_integers_and_float32():
    A = _simple_structure(seed=15)
    ref = rotate(A, "varimax").loadings
    np.testing.assert_allclose(rotate(A.tolist(), "varimax").loadings, ref)
    res32 = rotate(A.astype(np.float32), "varimax")
    assert res32.loadings.dtype == np.float64
    assert _maxdiff(res32.loadings, ref) < 1e-6
    assert rotate(np.array([[2, 0], [0, 1], [1, 1]]), "quartimax").converged


def test_convenience_functions():
    A = _simple_structure(seed=16)
    np.testing.assert_array_equal(
        rot.varimax(A).loadings, rotate(A, "varimax").loadings
    )
    np.testing.assert_array_equal(
        rot.quartimax(A, normalize=True).loadings,
        rotate(A, "quartimax", normalize=True).loadings,
    )
    np.testing.assert_array_equal(
        rot.oblimin(A, gamma=0.5).loadings, rotate(A, "oblimin", gamma=0.5).loadings
    )
    np.testing.assert_array_equal(
        rot.promax(A).loadings, rotate(A, "promax", normalize="varimax").loadings
    )


# ----------------------------------------------------------------------------
# Bad input


INT1 = r" of rotate must be an int in the range \[1, inf\)"
POWER = r"'power' parameter of rotate must be a float in the range \[1.0, inf\)"


@pytest.mark.parametrize(
    "loadings, kwargs, error, match",
    [
        (np.ones(5), {}, ValueError, r"2-D array .*reshape\(-1, 1\)"),
        (np.ones((2, 3, 4)), {}, ValueError, "2-D array"),
        (np.ones((0, 2)), {}, ValueError, "empty"),
        (np.ones((2, 5)), {}, ValueError, "more factors than features.*components_.T"),
        (
            np.array([[1, 2], [np.nan, 1], [0, 1]]),
            {},
            ValueError,
            r"loadings contains NaN in 1 row \(first: row 1\)",
        ),
        (
            np.array([[1, 2], [0, 1], [np.inf, 1]]),
            {},
            ValueError,
            r"loadings contains inf in 1 row \(first: row 2\)",
        ),
        (np.array([["a", "b"], ["c", "d"]]), {}, TypeError, "real numeric"),
        (np.ones((3, 2)) * 1j, {}, TypeError, "real numeric"),
        (
            np.array([[1.0, 2, 3], [0, 1, 1], [2, 0, 2], [1, 1, 2]]),
            {"method": "promax"},
            ValueError,
            "full column rank",
        ),
        (
            np.array([[1.0, 0], [2, 0], [0, 0]]),
            {"method": "oblimin"},
            ValueError,
            "full column rank",
        ),
        (
            np.eye(3),
            {"method": "varimx"},
            ValueError,
            r"'method' parameter of rotate must be a str among .*Got 'varimx'",
        ),
        (np.eye(3), {"method": "promax", "power": 0}, ValueError, POWER),
        (np.eye(3), {"method": "promax", "power": -2}, ValueError, POWER),
        (
            np.eye(3),
            {"method": "promax", "power": 0.5},
            ValueError,
            POWER,
        ),
        (np.eye(3), {"tol": 0}, ValueError, r"'tol' parameter .* range \(0.0, inf\)"),
        (np.eye(3), {"max_iter": 0}, ValueError, "'max_iter' parameter" + INT1),
        (
            np.eye(3),
            {"max_iter": 2.5},
            TypeError,
            r"'max_iter' parameter of rotate must be an int.*Got 2.5",
        ),
        (np.eye(3), {"n_starts": 0}, ValueError, "'n_starts' parameter" + INT1),
        (np.eye(3), {"gamma": np.nan, "method": "oblimin"}, ValueError, "gamma"),
        (np.eye(3), {"delta": -1.0, "method": "geomin_q"}, ValueError, "delta"),
        (
            np.eye(3),
            {"normalize": "yes"},
            ValueError,
            r"'normalize' parameter of rotate must be .*bool.*'varimax'",
        ),
        (
            np.eye(3),
            {"normalize": "varimax", "method": "varimax"},
            ValueError,
            "'varimax' for promax",
        ),
    ],
)
def test_bad_input(loadings, kwargs, error, match):
    kwargs = dict(kwargs)
    method = kwargs.pop("method", "varimax")
    with pytest.raises(error, match=match):
        rotate(loadings, method, **kwargs)


def test_rotation_criterion_rejects_promax():
    with pytest.raises(ValueError, match="method must be one of"):
        rotation_criterion(np.eye(3), "promax")


def test_convergence_warning_names_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rotate(_simple_structure(), "varimax", max_iter=1)
    assert caught and caught[0].filename == __file__
