"""Dictionary steps, online statistics and parametric encoders of sparse coding."""

import cvxpy as cp
import numpy as np
import pytest
from _helpers import assert_monotone
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime

import latentmodels.sparse._numba_jit as numba_jit
from latentmodels.sparse._dictionary import (
    accumulate_statistics,
    dictionary_objective,
    project_atoms,
    reseed_unused_atoms,
    update_dictionary,
)
from latentmodels.sparse._encoder import (
    _loss_and_grad,
    _pack,
    _unpack,
    fit_encoder,
    ista_parameters,
)

_TIGHT = dict(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)


def _problem(seed, n=40, k=5, d=7, scale=3.0):
    """Least squares whose unconstrained solution has atoms outside the ball."""
    rng = np.random.RandomState(seed)
    H = rng.standard_normal((n, k)) * (rng.rand(n, k) < 0.6)
    D_true = rng.standard_normal((k, d))
    D_true *= scale / np.linalg.norm(D_true, axis=1)[:, None]
    D_true[0] *= 0.1 / scale  # one atom strictly inside the ball
    X = H @ D_true + 0.1 * rng.standard_normal((n, d))
    return X, H


def _cvxpy_dictionary(X, H, positive):
    k, d = H.shape[1], X.shape[1]
    D = cp.Variable((k, d))
    cons = [cp.norm(D, 2, axis=1) <= 1]
    if positive:
        cons.append(D >= 0)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(X - H @ D)), cons)
    prob.solve(**_TIGHT)
    return D.value, prob.value


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("use_numba", [True, False])
def test_dictionary_step_matches_cvxpy(positive, use_numba, monkeypatch):
    monkeypatch.setattr(numba_jit, "ENABLED", use_numba)
    X, H = _problem(0)
    D_ref, f_ref = _cvxpy_dictionary(X, H, positive)
    D0 = np.zeros((H.shape[1], X.shape[1]))
    D, n_sweeps = update_dictionary(
        D0, H.T @ H, H.T @ X, positive=positive, max_sweeps=5000, tol=1e-13
    )
    assert n_sweeps < 5000
    f = 0.5 * np.sum((X - H @ D) ** 2)
    assert_allclose(f, f_ref, rtol=1e-9)
    # A = HᵀH is positive definite, so the minimiser is unique.
    assert_allclose(D, D_ref, atol=1e-5)
    norms = np.linalg.norm(D, axis=1)
    assert np.all(norms <= 1 + 1e-12)
    if positive:
        assert D.min() >= 0
    else:  # the constraint is active where the unconstrained atom lies outside
        assert norms[1:].min() > 1 - 1e-9


def test_dictionary_sweeps_never_increase_surrogate():
    X, H = _problem(1, k=8)
    A, B, c = H.T @ H, H.T @ X, 0.5 * np.sum(X**2)
    D = project_atoms(np.random.RandomState(2).standard_normal((8, X.shape[1])))
    values = [dictionary_objective(D, A, B, c)]
    for _ in range(15):
        D, _ = update_dictionary(D, A, B, max_sweeps=1)
        values.append(dictionary_objective(D, A, B, c))
    values = np.array(values)
    assert_monotone(values, increasing=False, rtol=1e-12, name="surrogate")
    assert values[-1] < values[0]
    assert_allclose(values[-1], 0.5 * np.sum((X - H @ D) ** 2), rtol=1e-12)


@pytest.mark.parametrize("positive", [False, True])
def test_projection_matches_cvxpy(positive):
    rng = np.random.RandomState(3)
    U = rng.standard_normal((6, 5)) * np.array([0.1, 0.5, 1, 2, 3, 4])[:, None]
    P = project_atoms(U, positive)
    V = cp.Variable(U.shape)
    cons = [cp.norm(V, 2, axis=1) <= 1] + ([V >= 0] if positive else [])
    cp.Problem(cp.Minimize(cp.sum_squares(V - U)), cons).solve(**_TIGHT)
    # The interior-point point is accurate to ~1e-6; the distance much better.
    assert np.sum((P - U) ** 2) <= np.sum((V.value - U) ** 2) * (1 + 1e-9)
    assert_allclose(P, V.value, atol=1e-5)
    assert np.all(np.linalg.norm(P, axis=1) <= 1 + 1e-12)
    assert_allclose(project_atoms(P, positive), P, atol=1e-15)  # idempotent


def test_statistics_unequal_batches_equal_one_go():
    rng = np.random.RandomState(4)
    X, H = rng.standard_normal((37, 6)), rng.standard_normal((37, 4))
    A, B, n = np.zeros((4, 4)), np.zeros((4, 6)), 0
    for lo, hi in [(0, 5), (5, 25), (25, 26), (26, 37)]:
        A, B, n = accumulate_statistics(A, B, n, X[lo:hi], H[lo:hi])
    assert n == 37
    assert_allclose(A, H.T @ H, rtol=1e-13)
    assert_allclose(B, H.T @ X, rtol=1e-13)


def test_statistics_forgetting_weights_examples_not_batches():
    rng = np.random.RandomState(5)
    X, H = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    rho = 0.7
    bounds = [(0, 4), (4, 19), (19, 21), (21, 30)]
    A, B, n = np.zeros((2, 2)), np.zeros((2, 3)), 0
    for lo, hi in bounds:
        A, B, n = accumulate_statistics(A, B, n, X[lo:hi], H[lo:hi], forget_rate=rho)
    # Example in a batch ending at n_i carries the weight (n_i / N)^rho.
    w = np.concatenate([np.full(hi - lo, (hi / 30) ** rho) for lo, hi in bounds])
    assert_allclose(A, (H * w[:, None]).T @ H, rtol=1e-13)
    assert_allclose(B, (H * w[:, None]).T @ X, rtol=1e-13)
    # Equal batches: Mairal's beta_t = (1 - 1/t)^rho at step t.
    A2, B2, n2 = np.zeros((2, 2)), np.zeros((2, 3)), 0
    A3 = np.zeros((2, 2))
    for t, lo in enumerate(range(0, 30, 6), start=1):
        Hb = H[lo : lo + 6]
        A2, B2, n2 = accumulate_statistics(
            A2, B2, n2, X[lo : lo + 6], Hb, forget_rate=rho
        )
        A3 = (1 - 1 / t) ** rho * A3 + Hb.T @ Hb
    assert_allclose(A2, A3, rtol=1e-13)


def test_reseed_unused_atom_from_worst_residual():
    rng = np.random.RandomState(6)
    X = rng.standard_normal((10, 4))
    D = project_atoms(rng.standard_normal((3, 4)))
    H = rng.standard_normal((10, 3))
    H[:, 1] = 0.0
    A = H.T @ H
    D2, reseeded = reseed_unused_atoms(D, A, X, H)
    assert_allclose(reseeded, [1])
    R = X - H @ D
    worst = np.argmax(np.linalg.norm(R, axis=1))
    assert_allclose(D2[1], R[worst] / np.linalg.norm(R[worst]), rtol=1e-13)
    assert_allclose(np.delete(D2, 1, 0), np.delete(D, 1, 0))
    # The objective at the current codes does not change.
    assert_allclose(np.sum((X - H @ D2) ** 2), np.sum((X - H @ D) ** 2), rtol=1e-13)
    # Non-negative atoms are re-seeded non-negative and with unit norm.
    D3, _ = reseed_unused_atoms(D, A, X, H, positive=True)
    assert D3[1].min() >= 0 and abs(np.linalg.norm(D3[1]) - 1) < 1e-12


@pytest.mark.parametrize("kind", ["linear", "lista"])
@pytest.mark.parametrize("positive", [False, True])
def test_encoder_gradient_matches_finite_differences(kind, positive):
    rng = np.random.RandomState(7)
    X = rng.standard_normal((12, 5))
    D = project_atoms(rng.standard_normal((4, 5)))
    H = rng.standard_normal((12, 4)) * (rng.rand(12, 4) < 0.5)
    H = np.abs(H) if positive else H
    params = list(ista_parameters(D, 0.3, kind))
    params[0] = params[0] + 0.3 * rng.standard_normal(params[0].shape)
    params[1] = params[1] + (0.1 * rng.standard_normal(4) if kind == "linear" else 0)
    params[3] = params[3] + 0.05 * rng.rand(4)
    shapes = [None if p is None else p.shape for p in params]
    theta = _pack(params)

    def loss(th):
        return _loss_and_grad(_unpack(th, shapes), X, H, kind, 2, positive)[0]

    grad = _pack(_loss_and_grad(_unpack(theta, shapes), X, H, kind, 2, positive)[1])
    num = approx_fprime(theta, loss, 1e-7)
    if kind == "lista":  # the bias is not a LISTA parameter
        k = 4
        b_at = params[0].size
        num[b_at : b_at + k] = 0.0
    assert_allclose(grad, num, atol=1e-5)


def test_lista_training_improves_on_ista_start():
    rng = np.random.RandomState(8)
    D = project_atoms(rng.standard_normal((6, 8)))
    X = rng.standard_normal((80, 8))
    from latentmodels.sparse import sparse_encode

    H = sparse_encode(X, D, 0.2, solver="cd", tol=1e-8)
    start = ista_parameters(D, 0.2, "lista")
    loss0 = _loss_and_grad(start, X, H, "lista", 3, False)[0]
    enc = fit_encoder(X, H, D, 0.2, kind="lista", n_layers=3, max_iter=100)
    assert enc.loss < 0.5 * loss0
    assert_allclose(enc.loss, 0.5 * np.mean(np.sum((enc(X) - H) ** 2, axis=1)))
    # Deterministic: the same fit twice gives the same encoder.
    enc2 = fit_encoder(X, H, D, 0.2, kind="lista", n_layers=3, max_iter=100)
    assert_allclose(enc2.W, enc.W, rtol=0, atol=0)
