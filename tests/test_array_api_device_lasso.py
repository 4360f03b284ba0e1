"""The device lasso solver (latentmodels.sparse._device) on array-API arrays.

References: the numpy feature-sign solver at a 1e-12 gap and cvxpy (exact
reference solver), and the relative duality gap recomputed in float64 from
the residual (``latentmodels.sparse.relative_gap``), independent of the
solver's Gram-form bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest
from _array_api_helpers import assert_lives, lasso_problem, to_np, to_xp

from latentmodels.sparse import lasso_objective, relative_gap, sparse_encode
from latentmodels.sparse._device import FLOAT32_TOL, solve_device

ALPHA = 0.1


def _problem(seed=0, n=240, positive=False):
    return lasso_problem(seed, n, 32, 64, positive=positive, active=5, zero_rows=3)


def _gram_args(X, D, xp, device, dtype):
    Xr = to_np(to_xp(X, xp, device, dtype))  # the values the device sees
    Dr = to_np(to_xp(D, xp, device, dtype))
    return (to_xp(Xr @ Dr.T, xp, device, dtype), to_xp(Dr @ Dr.T, xp, device, dtype),
            to_xp(np.sum(Xr * Xr, axis=1), xp, device, dtype))


@pytest.mark.parametrize("positive", [False, True])
def test_certified_codes_equal_reference(array_namespace, positive):
    xp, device, dtype = array_namespace
    X, D = _problem(positive=positive)
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", positive=positive,
                        tol=1e-12)
    f64 = dtype == xp.float64
    tol = 1e-12 if f64 else 1e-6
    res = solve_device(*_gram_args(X, D, xp, device, dtype), ALPHA,
                       positive=positive, tol=tol, max_iter=400)
    for out in (res.codes, res.gaps):
        assert_lives(out, xp, device, dtype)
    assert_lives(res.certified, xp, device)
    cert = to_np(res.certified)
    H = to_np(res.codes).astype(np.float64)
    assert cert.mean() >= 0.99
    if f64:
        np.testing.assert_allclose(H[cert], ref[cert], rtol=0, atol=1e-8)
    else:
        assert res.tol == FLOAT32_TOL
        err = np.linalg.norm(H - ref, axis=1) / np.maximum(
            np.linalg.norm(ref, axis=1), 1e-12)
        assert err[cert].max() <= 1e-4
    if positive:
        assert H.min() >= 0
    # the solver's own gaps are the residual-form gaps (float64 recomputation)
    true_gap = relative_gap(X, D, H, ALPHA, positive)
    np.testing.assert_allclose(to_np(res.gaps), true_gap, rtol=0,
                               atol=1e-9 if f64 else 1e-4)
    np.testing.assert_array_equal(H[:3], 0.0)


def test_default_tol_objective_within_gap_of_cvxpy():
    xps = pytest.importorskip("array_api_strict")
    X, D = _problem(1, n=40)
    res = solve_device(*_gram_args(X, D, xps, xps.Device("device1"), xps.float64),
                       ALPHA)
    cert = to_np(res.certified)
    H = to_np(res.codes)
    ref = sparse_encode(X, D, ALPHA, solver="cvxpy")
    P, Pref = lasso_objective(X, D, H, ALPHA), lasso_objective(X, D, ref, ALPHA)
    # certified: P(h) − P* ≤ gap ≤ 1e-6 P(h); cvxpy is exact to ~1e-8 here
    assert cert.all() and res.tol == 1e-6
    assert np.all(P - Pref <= 1e-6 * P + 1e-8 * np.abs(Pref))
    assert np.all(relative_gap(X, D, H, ALPHA) <= 1e-6 * (1 + 1e-6))


def test_uncertified_rows_are_flagged():
    """With too few iterations some rows stay uncertified: flagged, best kept."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(2)
    D = rng.standard_normal((64, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((60, 16))  # dense codes: hard for 2 iterations
    res = solve_device(*_gram_args(X, D, xps, xps.Device("CPU_DEVICE"), xps.float64),
                       ALPHA, max_iter=2, first_check=1, n_polish=0)
    cert, gaps = to_np(res.certified), to_np(res.gaps)
    assert not cert.all()
    np.testing.assert_array_equal(cert, gaps <= res.tol)
    np.testing.assert_allclose(gaps, relative_gap(X, D, to_np(res.codes), ALPHA),
                               rtol=1e-8, atol=1e-12)
    assert res.n_iter == 2


def test_numpy_namespace():
    """The same code runs on numpy arrays (array_api_compat's numpy)."""
    X, D = _problem(3, n=60)
    res = solve_device(X @ D.T, D @ D.T, np.sum(X * X, axis=1), ALPHA, tol=1e-12)
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-12)
    assert isinstance(res.codes, np.ndarray) and res.certified.all()
    np.testing.assert_allclose(res.codes, ref, rtol=0, atol=1e-8)


def test_polish_in_chunks_equals_one_chunk():
    """Chunking the batched active-set solves does not change them."""
    xps = pytest.importorskip("array_api_strict")
    from latentmodels.sparse._device import _Lasso, _polish

    X, D = _problem(4, n=50)
    C, G, _ = _gram_args(X, D, xps, xps.Device("device1"), xps.float64)
    lasso = _Lasso(xps, G, ALPHA, False, xps.float64)
    H0 = lasso.soft(C, ALPHA, False)  # a rough start: many wrong supports
    whole = to_np(_polish(lasso, H0, C, 32, 3))
    chunked = to_np(_polish(lasso, H0, C, 32, 3, budget=5000))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)
    assert np.any(whole != to_np(H0))


def test_gap_formula_in_namespace_equals_numpy(array_namespace):
    """The one gap formula, rebound to a namespace, gives numpy's values."""
    from latentmodels._array_api import in_namespace
    from latentmodels.sparse._formulas import gap_and_primal_np

    xp, device, dtype = array_namespace
    rng = np.random.default_rng(5)
    r2, l1, hc = rng.random(7) - 0.01, rng.random(7), rng.random(7) - 0.5
    cmax = rng.random(7) * 0.2
    ref = gap_and_primal_np(r2, l1, hc, cmax, ALPHA)
    args = [to_xp(a, xp, device, dtype) for a in (r2, l1, hc, cmax)]
    got = in_namespace(gap_and_primal_np, xp)(*args, ALPHA)
    for g, r in zip(got, ref):
        assert_lives(g, xp, device, dtype)
        np.testing.assert_allclose(to_np(g), r, rtol=1e-12 if dtype == xp.float64
                                   else 1e-5, atol=1e-7)
    assert in_namespace(gap_and_primal_np, np) is gap_and_primal_np


def test_warm_start(array_namespace):
    """``init``: rows certified there come back unchanged; the rest are solved."""
    xp, device, dtype = array_namespace
    X, D = _problem(6, n=60)
    exact = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-13)
    init = exact.copy()
    init[30:] = 0.5  # far from optimal (and negative entries for positive=False)
    C, G, xx = _gram_args(X, D, xp, device, dtype)
    f64 = dtype == xp.float64
    res = solve_device(C, G, xx, ALPHA, tol=1e-12 if f64 else 1e-6,
                       init=to_xp(init, xp, device, dtype))
    H = to_np(res.codes).astype(np.float64)
    assert to_np(res.certified).all()
    start = to_np(to_xp(init, xp, device, dtype)).astype(np.float64)
    if f64:  # certified at the start: returned as given
        np.testing.assert_array_equal(H[:30], start[:30])
    err = np.linalg.norm(H - exact, axis=1) / np.maximum(
        np.linalg.norm(exact, axis=1), 1e-12)
    assert err.max() <= (1e-8 if f64 else 1e-4)
