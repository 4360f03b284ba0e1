"""Per-example sparse-coding inference (latentmodels.sparse).

Every solver is checked against the exact cvxpy reference, scikit-learn's
``sparse_encode`` and the optimality conditions; the objective functions are
checked against direct numpy computations.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from latentmodels.sparse import (
    SOLVERS,
    _numba_jit,
    alpha_max,
    duality_gap,
    encode,
    kkt_violation,
    lasso_objective,
    relative_gap,
    sparse_encode,
)

ITERATIVE = [s for s in SOLVERS if s not in ("auto", "cvxpy")]


def _problem(seed, n=12, d=10, k=24, active=3, noise=0.05):
    """Signals made of a few unit-norm atoms plus noise."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((k, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    H = np.zeros((n, k))
    for i in range(n):
        idx = rng.choice(k, active, replace=False)
        H[i, idx] = rng.laplace(size=active) * 2
    X = H @ D + noise * rng.standard_normal((n, d))
    return X, D


@pytest.fixture(scope="module")
def reference():
    """cvxpy solutions of a few problems (computed once; cvxpy is slow)."""
    out = {}
    for seed in (0, 1):
        X, D = _problem(seed)
        alpha = 0.2 * float(np.median(alpha_max(X, D)))
        for positive in (False, True):
            res = encode(X, D, alpha, solver="cvxpy", positive=positive)
            out[seed, positive] = (X, D, alpha, res)
    return out


# --------------------------------------------------------------------- objective
def test_objective_matches_direct_numpy():
    X, D = _problem(3)
    H = np.random.default_rng(4).standard_normal((X.shape[0], D.shape[0]))
    alpha = 0.37
    direct = [
        0.5 * np.sum((X[i] - D.T @ H[i]) ** 2) + alpha * np.sum(np.abs(H[i]))
        for i in range(X.shape[0])
    ]
    np.testing.assert_allclose(lasso_objective(X, D, H, alpha), direct, rtol=1e-13)


def test_duality_gap_is_primal_minus_a_feasible_dual_value():
    X, D = _problem(5)
    rng = np.random.default_rng(6)
    alpha = 0.3
    for positive in (False, True):
        H = rng.standard_normal((X.shape[0], D.shape[0]))
        if positive:
            H = np.abs(H)
        gap = duality_gap(X, D, H, alpha, positive)
        for i in range(X.shape[0]):
            r = X[i] - D.T @ H[i]
            c = D @ r
            cmax = max(c.max(), 0) if positive else np.abs(c).max()
            theta = r * min(1.0, alpha / cmax)
            corr = D @ theta
            assert (corr.max() if positive else np.abs(corr).max()) <= alpha * (
                1 + 1e-12
            )
            dual = 0.5 * X[i] @ X[i] - 0.5 * np.sum((X[i] - theta) ** 2)
            primal = 0.5 * r @ r + alpha * np.abs(H[i]).sum()
            assert gap[i] >= 0
            np.testing.assert_allclose(gap[i], primal - dual, rtol=1e-10)


@pytest.mark.parametrize("positive", [False, True])
def test_gap_vanishes_at_optimum(reference, positive):
    X, D, alpha, res = reference[0, positive]
    gap = duality_gap(X, D, res.codes, alpha, positive)
    assert np.all(gap >= 0)
    assert np.all(gap <= 1e-9 * lasso_objective(X, D, res.codes, alpha))
    assert np.all(kkt_violation(X, D, res.codes, alpha, positive) <= 1e-8)
    # the gap bounds the suboptimality of any (feasible) code
    rng = np.random.default_rng(2)
    for scale in (1e-3, 1e-1, 1.0):
        H = res.codes + scale * rng.standard_normal(res.codes.shape)
        if positive:
            H = np.abs(H)
        excess = lasso_objective(X, D, H, alpha) - res.objective
        assert np.all(duality_gap(X, D, H, alpha, positive) >= excess - 1e-12)
    # and the gap is large away from the optimum
    H_bad = res.codes + 0.1
    assert np.all(relative_gap(X, D, H_bad, alpha, positive) > 1e-4)
    assert np.all(kkt_violation(X, D, H_bad, alpha, positive) > 1e-3)


def test_alpha_max_is_the_zero_threshold():
    X, D = _problem(7)
    for positive in (False, True):
        amax = alpha_max(X, D, positive)
        B = X @ D.T
        expected = np.maximum(B.max(axis=1), 0) if positive else np.abs(B).max(axis=1)
        np.testing.assert_allclose(amax, expected, rtol=1e-14)
        Z = np.zeros((X.shape[0], D.shape[0]))
        # h = 0 satisfies KKT exactly at alpha_max, and violates it just below
        for i in range(X.shape[0]):
            xi, zi = X[i : i + 1], Z[i : i + 1]
            assert kkt_violation(xi, D, zi, amax[i] * (1 + 1e-12), positive)[0] == 0
            assert kkt_violation(xi, D, zi, amax[i] * 0.99, positive)[0] > 0


# ----------------------------------------------------------------------- solvers
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("solver", ITERATIVE)
def test_solver_agrees_with_cvxpy(reference, solver, seed, positive):
    X, D, alpha, ref = reference[seed, positive]
    res = encode(X, D, alpha, solver=solver, positive=positive, tol=1e-10)
    assert res.converged.all(), res.message
    np.testing.assert_allclose(res.objective, ref.objective, rtol=1e-6)
    assert np.all(kkt_violation(X, D, res.codes, alpha, positive) <= 1e-5 * alpha)
    np.testing.assert_allclose(res.codes, ref.codes, atol=1e-5)
    if positive:
        assert np.all(res.codes >= 0)
    # the cvxpy reference itself is optimal to tight tolerance
    assert np.all(ref.relative_gap <= 1e-9)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("solver", [*ITERATIVE, "cvxpy"])
def test_zero_code_above_alpha_max(solver, positive):
    X, D = _problem(8, n=6)
    amax = alpha_max(X, D, positive)
    alpha = float(np.median(amax))
    H = sparse_encode(X, D, alpha, solver=solver, positive=positive)
    above = amax <= alpha
    assert above.any() and (~above).any()
    assert np.all(H[above] == 0.0)
    assert np.all(np.abs(H[~above]).sum(axis=1) > 0)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("solver", ITERATIVE)
def test_agrees_with_sklearn_lasso_cd(solver, positive):
    # sklearn's sparse_encode takes alpha on our scale: it divides it by
    # n_features itself before calling Lasso, whose loss is divided by n_features.
    X, D = _problem(9)
    alpha = 0.1
    ours = sparse_encode(
        X, D, alpha, solver=solver, positive=positive, tol=1e-11, max_iter=20000
    )
    theirs = sk_sparse_encode(
        X, D, algorithm="lasso_cd", alpha=alpha, positive=positive, max_iter=100000
    )
    # sparse_encode runs Lasso at its default tol=1e-4 (relative gap ~1e-7 here)
    assert np.all(relative_gap(X, D, theirs, alpha, positive) < 1e-6)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    obj_ours = lasso_objective(X, D, ours, alpha)
    obj_theirs = lasso_objective(X, D, theirs, alpha)
    assert np.all(obj_ours <= obj_theirs * (1 + 1e-12))
    np.testing.assert_allclose(obj_ours, obj_theirs, rtol=1e-6)
    # at a tight tolerance, Lasso with alpha / n_features gives our codes
    lasso = Lasso(
        alpha=alpha / X.shape[1],
        fit_intercept=False,
        positive=positive,
        tol=1e-14,
        max_iter=1000000,
    )
    tight = np.array([lasso.fit(D.T, x).coef_ for x in X])
    np.testing.assert_allclose(ours, tight, atol=1e-7)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_warm_start(solver):
    X, D = _problem(10)
    alpha = 0.1
    cold = encode(X, D, alpha, solver=solver, tol=1e-10)
    warm = encode(X, D, alpha, solver=solver, tol=1e-10, init=cold.codes)
    np.testing.assert_allclose(warm.codes, cold.codes, atol=1e-8)
    assert warm.n_iter.sum() < cold.n_iter.sum()
    # a warm start from a wrong point still converges to the optimum
    bad = encode(X, D, alpha, solver=solver, tol=1e-10, init=cold.codes + 1.0)
    np.testing.assert_allclose(bad.objective, cold.objective, rtol=1e-8)


@pytest.mark.parametrize("solver", [*ITERATIVE, "cvxpy"])
def test_zero_signal_is_solved_by_zero_code(solver):
    X, D = _problem(19, n=4)
    X[1] = 0.0
    res = encode(X, D, 0.1, solver=solver, tol=1e-10)
    assert np.all(res.codes[1] == 0.0)
    assert res.objective[1] == 0.0 and res.relative_gap[1] == 0.0
    assert res.converged.all() and res.n_iter[1] == 0


def test_convergence_warning_once():
    X, D = _problem(11)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sparse_encode(X, D, 0.05, solver="fista", tol=1e-14, max_iter=2)
    conv = [w for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert len(conv) == 1
    assert "relative duality gap" in str(conv[0].message)
    assert "max_iter" in str(conv[0].message)


# ------------------------------------------------------------------- validation
def test_input_not_modified():
    X, D = _problem(12)
    X.flags.writeable = False
    D.flags.writeable = False
    init = np.ones((X.shape[0], D.shape[0]))
    init_copy = init.copy()
    for solver in [*ITERATIVE, "auto"]:
        sparse_encode(X, D, 0.1, solver=solver, positive=True, init=init)
    np.testing.assert_array_equal(init, init_copy)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            {"dictionary": np.ones((4, 3))},
            ValueError,
            "X has 5 features but dictionary",
        ),
        ({"alpha": -1.0}, ValueError, "alpha must be finite and > 0"),
        ({"alpha": 0.0}, ValueError, "alpha must be > 0: with alpha = 0"),
        ({"alpha": np.nan}, ValueError, "alpha must be finite"),
        ({"solver": "lars"}, ValueError, "solver must be one of"),
        ({"tol": 0.0}, ValueError, "tol must be finite and > 0"),
        ({"max_iter": 0}, ValueError, "max_iter must be at least 1"),
        ({"init": np.zeros((2, 2))}, ValueError, r"init has shape \(2, 2\)"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be a non-zero integer or None"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    rng = np.random.default_rng(0)
    args = {"X": rng.standard_normal((3, 5)), "dictionary": np.eye(5), "alpha": 0.1}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        sparse_encode(args.pop("X"), args.pop("dictionary"), args.pop("alpha"), **args)


def test_non_finite_input_named():
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN in 1 row \(first: row 2\)"):
        sparse_encode(X, np.eye(3), 0.1)
    D = np.eye(3)
    D[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"dictionary contains inf in 1 row"):
        sparse_encode(np.ones((4, 3)), D, 0.1)


# ------------------------------------------------------------- optional numba
COMPILED = [s for s in ("cd", "feature_sign") if s in SOLVERS]


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("solver", COMPILED)
def test_numpy_path_gives_the_same_codes(solver, positive, monkeypatch):
    X, D = _problem(13)
    alpha = 0.15
    fast = encode(X, D, alpha, solver=solver, positive=positive, tol=1e-12)
    monkeypatch.setattr(_numba_jit, "ENABLED", False)
    assert not _numba_jit.use_numba()
    slow = encode(X, D, alpha, solver=solver, positive=positive, tol=1e-12)
    assert fast.converged.all() and slow.converged.all()
    np.testing.assert_allclose(slow.codes, fast.codes, atol=1e-8)
    np.testing.assert_allclose(slow.objective, fast.objective, rtol=1e-12)


def test_environment_variable_disables_numba(monkeypatch):
    monkeypatch.setenv("LATENTMODELS_DISABLE_NUMBA", "1")
    assert not _numba_jit.use_numba()
    monkeypatch.setenv("LATENTMODELS_DISABLE_NUMBA", "0")
    assert _numba_jit.use_numba() == _numba_jit.HAVE_NUMBA


def _pure_python(monkeypatch, module):
    """Make a kernel module's compiled helpers call their pure-Python bodies."""
    for name, obj in list(vars(module).items()):
        if hasattr(obj, "py_func") and name != "njit":
            monkeypatch.setattr(module, name, obj.py_func)


@pytest.mark.parametrize("positive", [False, True])
def test_cd_kernel_pure_python_matches_compiled(positive, monkeypatch):
    from latentmodels.sparse import _numba_cd

    X, D = _problem(14, n=3, d=6, k=10)
    alpha = 0.1
    G, B = D @ D.T, X @ D.T
    xx = np.einsum("ij,ij->i", X, X)
    args = (G, xx, alpha, positive, 1e-10, 500)
    H1, C1 = np.zeros_like(B), B.copy()
    it1 = _numba_cd.cd_batch(H1, C1, B, *args)
    _pure_python(monkeypatch, _numba_cd)
    H2, C2 = np.zeros_like(B), B.copy()
    it2 = _numba_cd.cd_batch(H2, C2, B, *args)
    np.testing.assert_array_equal(it1, it2)
    np.testing.assert_allclose(H2, H1, atol=1e-13)
    assert np.all(relative_gap(X, D, H2, alpha, positive) <= 1e-10)


@pytest.mark.parametrize("positive", [False, True])
def test_feature_sign_kernel_pure_python_matches_compiled(positive, monkeypatch):
    from latentmodels.sparse import _numba_cd, _numba_feature_sign

    X, D = _problem(16, n=3, d=6, k=10)
    alpha = 0.3
    G, B = D @ D.T, X @ D.T
    xx = np.einsum("ij,ij->i", X, X)
    args = (G, xx, alpha, positive, 1e-12, 100, 6)
    H1, C1 = np.zeros_like(B), B.copy()
    it1 = _numba_feature_sign.fs_batch(H1, C1, B, *args)
    _pure_python(monkeypatch, _numba_cd)
    _pure_python(monkeypatch, _numba_feature_sign)
    H2, C2 = np.zeros_like(B), B.copy()
    it2 = _numba_feature_sign.fs_batch(H2, C2, B, *args)
    assert np.all(it1 > 0)
    np.testing.assert_array_equal(it1, it2)
    np.testing.assert_allclose(H2, H1, atol=1e-13)
    assert np.all(relative_gap(X, D, H2, alpha, positive) <= 1e-12)


@pytest.mark.parametrize("positive", [False, True])
def test_feature_sign_hands_over_to_cd_when_active_set_too_large(positive):
    """Beyond max_active atoms (G_AA singular), coordinate descent finishes."""
    from latentmodels.sparse._feature_sign import solve_feature_sign

    X, D = _problem(17, n=6)
    alpha = 0.05
    ref = encode(X, D, alpha, solver="cvxpy", positive=positive)
    G, B = D @ D.T, X @ D.T
    xx = np.einsum("ij,ij->i", X, X)
    H, n_iter = solve_feature_sign(
        B, G, xx, alpha, positive=positive, tol=1e-12, max_iter=100, max_active=2
    )
    assert np.all(np.count_nonzero(ref.codes, axis=1) > 2)  # every row hands over
    assert np.all(n_iter > 2)
    np.testing.assert_allclose(
        lasso_objective(X, D, H, alpha), ref.objective, rtol=1e-10
    )


def test_without_numba_installed(tmp_path):
    """The package imports and gives the same codes when numba is missing."""
    import subprocess
    import sys

    X, D = _problem(15, n=5)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "D.npy", D)
    script = (
        "import sys, numpy as np\n"
        "sys.modules['numba'] = None\n"
        "from latentmodels.sparse import sparse_encode, _numba_jit\n"
        "assert not _numba_jit.HAVE_NUMBA\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"D = np.load({str(tmp_path / 'D.npy')!r})\n"
        f"for s in {COMPILED + ['auto']!r}:\n"
        "    H = sparse_encode(X, D, 0.1, solver=s, tol=1e-12)\n"
        f"    np.save({str(tmp_path)!r} + '/H_' + s + '.npy', H)\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", script], check=True, cwd=root)
    for s in [*COMPILED, "auto"]:
        ours = sparse_encode(X, D, 0.1, solver=s, tol=1e-12)
        np.testing.assert_allclose(np.load(tmp_path / f"H_{s}.npy"), ours, atol=1e-8)


def test_auto_and_threads():
    X, D = _problem(18)
    res = encode(X, D, 0.1, solver="auto", tol=1e-10)
    assert res.solver == ("feature_sign" if _numba_jit.use_numba() else "cd")
    one = encode(X, D, 0.1, solver=res.solver, tol=1e-10, n_jobs=1)
    np.testing.assert_array_equal(one.codes, res.codes)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("solver", ITERATIVE)
def test_zero_atom_gets_zero_code(solver, positive):
    """An all-zero atom never enters; the other codes are those without it."""
    X, D = _problem(20, n=5)
    D0 = np.vstack([D[:3], np.zeros((1, D.shape[1])), D[3:]])
    alpha = 0.2
    ref = encode(X, D, alpha, solver=solver, positive=positive, tol=1e-12)
    res = encode(X, D0, alpha, solver=solver, positive=positive, tol=1e-12)
    assert res.converged.all()
    assert np.all(res.codes[:, 3] == 0.0)
    np.testing.assert_allclose(np.delete(res.codes, 3, axis=1), ref.codes, atol=1e-7)
