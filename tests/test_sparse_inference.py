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
    SOLVER_NAMES,
    SOLVERS,
    Gram,
    LassoProblem,
    _numba_jit,
    alpha_max,
    duality_gap,
    encode,
    kkt_violation,
    lasso_objective,
    objective_and_gap,
    relative_gap,
    sparse_encode,
)

ITERATIVE = [s for s in SOLVER_NAMES if s not in ("auto", "cvxpy")]


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
    assert conv[0].filename == __file__  # the caller's line
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


OF = "parameter of sparse_encode"


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            {"dictionary": np.ones((4, 3))},
            ValueError,
            "X has 5 features but dictionary",
        ),
        ({"alpha": -1.0}, ValueError, f"'alpha' {OF} must be a float in the range"),
        ({"alpha": 0.0}, ValueError, r"'alpha' .* range \(0.0, inf\)\. Got 0.0"),
        ({"alpha": np.nan}, ValueError, f"'alpha' {OF} must be a float"),
        ({"solver": "lars"}, ValueError, f"'solver' {OF} must be a str among"),
        ({"tol": 0.0}, ValueError, f"'tol' {OF} must be a float in the range"),
        ({"max_iter": 0}, ValueError, r"'max_iter' .* int in the range \[1, inf\)"),
        ({"init": np.zeros((2, 2))}, ValueError, r"init has shape \(2, 2\)"),
        ({"n_jobs": 0}, ValueError, f"'n_jobs' {OF} must be"),
        ({"positive": "yes"}, ValueError, f"'positive' {OF} must be"),
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
@pytest.mark.parametrize(
    "kernel, alpha, tol, extra",
    [("cd_rows", 0.1, 1e-10, (500,)), ("fs_rows", 0.3, 1e-12, (100, 6))],
)
def test_kernel_pure_python_matches_compiled(kernel, alpha, tol, extra, positive,
                                             monkeypatch):  # fmt: skip
    """The compiled kernels and their pure-Python bodies take the same steps."""
    from latentmodels.sparse import _formulas, _numba_cd, _numba_feature_sign

    module = _numba_cd if kernel == "cd_rows" else _numba_feature_sign
    X, D = _problem(14 if kernel == "cd_rows" else 16, n=3, d=6, k=10)
    problem = LassoProblem.from_data(X, D, alpha, positive)
    args = (*problem.kernel_args(), tol, *extra)
    H1, C1 = problem.warm_start()
    it1 = getattr(module, kernel)(H1, C1, *args)
    for mod in (_formulas, _numba_cd, _numba_feature_sign):
        _pure_python(monkeypatch, mod)
    H2, C2 = problem.warm_start()
    it2 = getattr(module, kernel)(H2, C2, *args)
    assert np.all(it1 > 0)
    np.testing.assert_array_equal(it1, it2)
    np.testing.assert_allclose(H2, H1, atol=1e-13)
    assert np.all(relative_gap(X, D, H2, alpha, positive) <= tol)


@pytest.mark.parametrize("positive", [False, True])
def test_feature_sign_hands_over_to_cd_when_active_set_too_large(positive, monkeypatch):
    """Beyond max_active atoms (G_AA singular), the registry's fallback finishes."""
    from latentmodels.sparse import _registry

    X, D = _problem(17, n=6)
    alpha = 0.05
    ref = encode(X, D, alpha, solver="cvxpy", positive=positive)
    assert _registry.SOLVERS["feature_sign"].fallback == "cd"
    monkeypatch.setattr(LassoProblem, "max_active", property(lambda self: 2))
    problem = LassoProblem.from_data(X, D, alpha, positive)
    H, C = problem.warm_start()
    n_iter = _registry.run("feature_sign", problem, H, C, tol=1e-12, max_iter=100)
    assert np.all(np.count_nonzero(ref.codes, axis=1) > 2)  # every row hands over
    assert np.all(n_iter > 2)
    np.testing.assert_allclose(
        lasso_objective(X, D, H, alpha), ref.objective, rtol=1e-10
    )
    np.testing.assert_allclose(C, problem.correlations(H), atol=1e-12)


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


def test_auto_resolves_to_the_measured_fastest():
    X, D = _problem(18)
    res = encode(X, D, 0.1, solver="auto", tol=1e-10)
    assert res.solver == ("feature_sign" if _numba_jit.use_numba() else "cd")


@pytest.mark.parametrize("solver", ITERATIVE)
def test_threads_give_the_same_codes_bit_for_bit(solver):
    """Row blocks depend on n_samples only: n_jobs changes nothing."""
    X, D = _problem(18, n=300)  # five blocks of 64 rows
    init = np.where(np.arange(300)[:, None] % 3 == 0, 0.1, 0.0) * np.ones((1, 24))
    kw = dict(solver=solver, tol=1e-8, max_iter=5000, init=init)
    one = encode(X, D, 0.3, n_jobs=1, **kw)
    two = encode(X, D, 0.3, n_jobs=2, **kw)
    four = encode(X, D, 0.3, n_jobs=4, **kw)
    assert one.converged.all()
    for other in (two, four):
        np.testing.assert_array_equal(other.codes, one.codes)
        np.testing.assert_array_equal(other.gap, one.gap)
        np.testing.assert_array_equal(other.n_iter, one.n_iter)


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


# ------------------------------------------------------------ the problem object
@pytest.mark.parametrize("positive", [False, True])
def test_problem_gap_is_primal_minus_dual_computed_directly(positive):
    """LassoProblem's Gram-form gap equals P(h) − D(θ) written out per sample."""
    X, D = _problem(21, n=8)
    alpha = 0.25
    rng = np.random.default_rng(22)
    H = rng.standard_normal((X.shape[0], D.shape[0])) * (rng.random((8, 24)) < 0.3)
    if positive:
        H = np.abs(H)
    problem = LassoProblem.from_data(X, D, alpha, positive)
    gap = problem.gap(H)
    obj = problem.objective(H)
    for i, (x, h) in enumerate(zip(X, H)):
        r = x - h @ D
        c = D @ r
        cmax = max(c.max(), 0.0) if positive else np.abs(c).max()
        theta = r * min(1.0, alpha / cmax)  # dual feasible
        primal = 0.5 * r @ r + alpha * np.abs(h).sum()
        dual = 0.5 * x @ x - 0.5 * (x - theta) @ (x - theta)
        np.testing.assert_allclose(obj[i], primal, rtol=1e-12)
        np.testing.assert_allclose(gap[i], primal - dual, rtol=1e-9, atol=1e-12)
    # the same through the correlations the solvers keep, and relative
    C = problem.correlations(H)
    np.testing.assert_allclose(problem.gap(H, C), gap, rtol=1e-12)
    np.testing.assert_allclose(problem.relative_gap(H), gap / obj, rtol=1e-12)
    np.testing.assert_allclose(problem.alpha_max(), alpha_max(X, D, positive))


@pytest.mark.parametrize("positive", [False, True])
def test_prox_is_the_soft_threshold_minimiser(positive):
    """prox(z) minimises ½(h − z)² + τ|h| (h ≥ 0): checked on a fine grid."""
    X, D = _problem(23, n=2)
    problem = LassoProblem.from_data(X, D, 0.4, positive)
    z = np.linspace(-2, 2, 41)[None, :]
    step = 0.5
    h = problem.prox(z, step)[0]
    grid = np.linspace(0 if positive else -3, 3, 60001)
    f = 0.5 * (grid[:, None] - z) ** 2 + step * 0.4 * np.abs(grid[:, None])
    np.testing.assert_allclose(h, grid[np.argmin(f, axis=0)], atol=1e-4)


def test_warm_start_projects_and_screens():
    X, D = _problem(24, n=5)
    problem = LassoProblem.from_data(X, D, 0.3, True)
    H0 = np.random.default_rng(0).standard_normal(problem.shape)
    screened = np.array([True, False, False, True, False])
    H, C = problem.warm_start(H0, screened)
    assert np.all(H >= 0) and np.all(H[screened] == 0)
    np.testing.assert_allclose(C, X @ D.T - H @ D @ D.T, atol=1e-12)
    assert not np.shares_memory(H, H0)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("name", ["cd", "feature_sign"])
def test_registry_twins_agree(name, positive):
    """The compiled and numpy twins of one registry entry, on one problem."""
    if not _numba_jit.use_numba():
        pytest.skip("numba not available")
    X, D = _problem(25, n=10)
    problem = LassoProblem.from_data(X, D, 0.15, positive)
    entry = SOLVERS[name]
    out = []
    for twin in (entry.numba, entry.numpy):
        H, C = problem.warm_start()
        it = twin(problem, H, C, tol=1e-11, max_iter=10000)
        assert np.all(it >= 0)
        out.append((H, C))
        assert np.all(problem.relative_gap(H, C) <= 1e-11)
    np.testing.assert_allclose(out[0][0], out[1][0], atol=1e-9)
    np.testing.assert_allclose(out[0][1], out[1][1], atol=1e-9)


def test_solvers_do_not_import_one_another():
    """Solver modules import only the shared modules, never another solver."""
    import ast

    import latentmodels.sparse as pkg

    shared = {"_formulas", "_numba_jit", "_objective", "_problem"}
    solver_modules = {
        "_cd", "_numba_cd", "_feature_sign", "_numba_feature_sign", "_fista",
        "_cvxpy",
    }  # fmt: skip
    root = Path(pkg.__file__).parent
    for name in solver_modules:
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
        }
        assert imported <= shared, (name, imported - shared)
    assert set(SOLVERS) == set(SOLVER_NAMES) - {"auto"}


def test_gram_lipschitz_is_largest_eigenvalue():
    _, D = _problem(26)
    gram = Gram(D)
    np.testing.assert_allclose(gram.lipschitz, np.linalg.norm(D, 2) ** 2, rtol=1e-12)


def test_threads_bit_for_bit_with_a_larger_dictionary():
    """Products large enough for threaded BLAS (the Gram matrix) change nothing."""
    X, D = _problem(27, n=700, d=32, k=128, active=4)
    one = encode(X, D, 0.1, n_jobs=1)
    two = encode(X, D, 0.1, n_jobs=2)
    assert one.converged.all()
    np.testing.assert_array_equal(two.codes, one.codes)
    np.testing.assert_array_equal(two.relative_gap, one.relative_gap)


@pytest.mark.parametrize("positive", [False, True])
def test_certificate_twins_agree(positive, monkeypatch):
    """The compiled residual and reductions of the certificate equal numpy's."""
    X, D = _problem(28, n=40)
    H = sparse_encode(X, D, 0.2, positive=positive)
    H[::3] += 0.05  # off the optimum too
    fast = objective_and_gap(X, D, H, 0.2, positive)
    monkeypatch.setattr(_numba_jit, "ENABLED", False)
    slow = objective_and_gap(X, D, H, 0.2, positive)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-13)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-9, atol=1e-12 * fast[0].max())


# ------------------------------------------- the compiled pipeline of a block
def _block_paths(monkeypatch, solver, X, D, alpha, positive, init):
    """Results of the compiled block pipeline and of the numpy-block pipeline
    (LassoProblem, the registry and its compiled solver twins)."""
    from latentmodels.sparse import _encode

    kw = dict(solver=solver, positive=positive, tol=1e-10, max_iter=10000, init=init,
              init_objective=True)  # fmt: skip
    fused = encode(X, D, alpha, **kw)
    with monkeypatch.context() as m:
        m.setattr(_encode, "COMPILED_BLOCKS", {})
        plain = encode(X, D, alpha, **kw)
    return fused, plain


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("solver", COMPILED)
def test_compiled_block_equals_the_numpy_block_pipeline(solver, positive,
                                                        monkeypatch):  # fmt: skip
    """Screening, warm start, solve, fallback and certificate in one kernel give
    the codes of the step-by-step pipeline (warm-start correlations are summed
    over the nonzero entries instead of by BLAS: equal to rounding)."""
    if not _numba_jit.use_numba():
        pytest.skip("numba not available")
    X, D = _problem(29, n=150)
    X[::7] *= 1e-3  # some rows below alpha_max: screened
    rng = np.random.default_rng(29)
    init = np.where(rng.random((150, 24)) < 0.2, rng.standard_normal((150, 24)), 0)
    alpha = 0.2
    assert np.sum(alpha_max(X, D, positive) <= alpha) >= 10
    for start in (None, init):
        fused, plain = _block_paths(monkeypatch, solver, X, D, alpha, positive, start)
        assert fused.converged.all() and plain.converged.all()
        assert fused.message == plain.message
        np.testing.assert_allclose(fused.codes, plain.codes, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fused.objective, plain.objective, rtol=1e-13)
        np.testing.assert_array_equal(fused.n_iter, plain.n_iter)
        if start is None:  # same arithmetic throughout: bit for bit
            np.testing.assert_array_equal(fused.codes, plain.codes)
            np.testing.assert_array_equal(fused.gap, plain.gap)
        else:
            np.testing.assert_allclose(
                fused.init_objective, lasso_objective(X, D, init, alpha), rtol=1e-13
            )
            np.testing.assert_allclose(fused.init_objective, plain.init_objective,
                                       rtol=1e-13)  # fmt: skip


@pytest.mark.parametrize("positive", [False, True])
def test_compiled_block_hands_feature_sign_over_to_cd(positive, monkeypatch):
    """More active atoms than features: the kernel's fallback is the registry's."""
    if not _numba_jit.use_numba():
        pytest.skip("numba not available")
    X, D = _problem(30, n=12, d=3, k=8, active=4)
    alpha = 0.3
    args = ("feature_sign", X, D, alpha, positive, None)
    fused, plain = _block_paths(monkeypatch, *args)
    ref = encode(X, D, alpha, solver="cvxpy", positive=positive)
    assert fused.converged.all()
    assert np.any(fused.n_iter > 100)  # rows finished by coordinate descent
    np.testing.assert_array_equal(fused.codes, plain.codes)
    np.testing.assert_array_equal(fused.n_iter, plain.n_iter)
    np.testing.assert_allclose(fused.objective, ref.objective, rtol=1e-6)


def test_block_kernel_pure_python_matches_compiled(monkeypatch):
    """The block kernel's pure-Python body takes the same steps as the compiled."""
    from latentmodels.sparse import (
        _encode,
        _formulas,
        _numba_block,
        _numba_cd,
        _numba_feature_sign,
        _objective,
    )

    if not _numba_jit.use_numba():
        pytest.skip("numba not available")
    X, D = _problem(31, n=4, d=6, k=10)
    init = np.zeros((4, 10))
    init[:, 0] = 0.3
    kw = dict(solver="feature_sign", tol=1e-12, init=init, init_objective=True)
    compiled = encode(X, D, 0.2, **kw)
    for mod in (_formulas, _numba_cd, _numba_feature_sign, _numba_block, _objective):
        _pure_python(monkeypatch, mod)
    monkeypatch.setattr(_encode, "solve_block_rows", _numba_block.solve_block_rows)
    monkeypatch.setattr(_encode, "_certificate_rows", _objective._certificate_rows)
    python = encode(X, D, 0.2, **kw)
    assert np.all(python.n_iter > 0)
    np.testing.assert_array_equal(python.n_iter, compiled.n_iter)
    np.testing.assert_allclose(python.codes, compiled.codes, atol=1e-13)
    np.testing.assert_allclose(python.gap, compiled.gap, atol=1e-13)


def test_block_kernels_release_the_gil():
    """What the pool's threads run between the BLAS products is compiled nogil."""
    from latentmodels.sparse import _encode

    if not _numba_jit.use_numba():
        pytest.skip("numba not available")
    for kernel in (_encode.solve_block_rows, _encode._certificate_rows):
        assert kernel.targetoptions["nogil"]


def test_map_row_blocks_order_threads_and_errors():
    """Results in block order from several threads; a block's error is raised."""
    import threading

    from latentmodels._threads import map_row_blocks, row_blocks

    seen = set()
    barrier = threading.Barrier(3, timeout=30)  # each thread's first block waits

    def fn(blk):
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            barrier.wait()
        return (blk.start, blk.stop)

    blocks = row_blocks(1000, n_blocks=16, min_rows=8)
    assert map_row_blocks(fn, 1000, 3, n_blocks=16, min_rows=8) == [
        (b.start, b.stop) for b in blocks
    ]
    assert len(seen) == 3 and threading.get_ident() in seen  # the caller works too

    def bad(blk):
        if blk.start >= 500:
            raise ZeroDivisionError(f"block at {blk.start}")
        return blk.start

    with pytest.raises(ZeroDivisionError, match="block at"):
        map_row_blocks(bad, 1000, 3, n_blocks=16, min_rows=8)


def test_small_products_keep_blas_on_one_thread():
    """Small products stay on one BLAS thread (no spinning workers after them)."""
    from latentmodels._threads import (
        THREADED_BLAS_FLOPS,
        blas_thread_count,
        blas_threads,
        blas_threads_for,
    )

    with blas_threads(2):
        two = blas_thread_count()
        with blas_threads_for(THREADED_BLAS_FLOPS / 2, 2):
            assert blas_thread_count() == 1
        with blas_threads_for(THREADED_BLAS_FLOPS, 2):
            assert blas_thread_count() == two
